"""The DF-ping binary search against a model path: it must find the exact threshold in few probes."""

from __future__ import annotations

import math

import pytest

from bgpdoctor.parsers.ping import parse_ping
from bgpdoctor.probes.mtu import MIN_SIZE, SweepBudget, probe_wait, run_sweep, sweep


def model_path(local_mtu: int, router_mtu: int, l2_mtu: int, icmp: bool):  # type: ignore[no-untyped-def]
    """A sender with `local_mtu`, a router hop of `router_mtu` (sends frag-needed if `icmp`), and a
    layer-2 hop that silently drops above `l2_mtu`. Outputs are iputils' real wording."""
    learned = {"pmtu": local_mtu}

    def send(size: int):  # type: ignore[no-untyped-def]
        payload = size - 28
        head = f"PING 10.42.3.1 (10.42.3.1) from 10.42.0.1 : {payload}({size}) bytes of data.\n"
        if size > learned["pmtu"]:
            text = head + (
                f"ping: local error: message too long, mtu={learned['pmtu']}\n\n"
                "--- 10.42.3.1 ping statistics ---\n1 packets transmitted, 0 received, +1 errors, "
                "100% packet loss, time 0ms\n"
            )
        elif size > router_mtu and icmp:
            learned["pmtu"] = router_mtu
            text = head + (
                f"From 192.168.6.1 icmp_seq=1 Frag needed and DF set (mtu = {router_mtu})\n\n"
                "--- 10.42.3.1 ping statistics ---\n1 packets transmitted, 0 received, +1 errors, "
                "100% packet loss, time 0ms\n"
            )
        elif size > min(router_mtu, l2_mtu):
            text = head + (
                "\n--- 10.42.3.1 ping statistics ---\n1 packets transmitted, 0 received, "
                "100% packet loss, time 0ms\n"
            )
        else:
            text = head + (
                f"{payload + 8} bytes from 10.42.3.1: icmp_seq=1 ttl=62 time=0.2 ms\n\n"
                "--- 10.42.3.1 ping statistics ---\n1 packets transmitted, 1 received, 0% packet loss, "
                "time 0ms\nrtt min/avg/max/mdev = 0.2/0.2/0.2/0.0 ms\n"
            )
        return parse_ping(text), text

    return send


def test_pmtud_working_takes_two_probes() -> None:
    result = sweep(model_path(1500, 1420, 1500, icmp=True), 1500)
    assert result.path_mtu == 1420
    assert result.frag_needed_mtu == 1420
    assert result.frag_needed_from == "192.168.6.1"
    assert not result.blackhole
    assert len(result.probes) == 2


def test_silent_l2_drop_is_a_blackhole_found_by_bisection() -> None:
    result = sweep(model_path(1500, 1420, 1380, icmp=True), 1500)
    assert result.path_mtu == 1380
    assert result.silent_above == 1381
    assert result.blackhole
    # frag-needed shrinks 1500 -> 1420, then bisection between 576 and 1420
    assert len(result.probes) <= 3 + math.ceil(math.log2(1420 - MIN_SIZE))


def test_icmp_filtered_router_is_a_blackhole() -> None:
    result = sweep(model_path(1500, 1380, 1500, icmp=False), 1500)
    assert (result.path_mtu, result.silent_above, result.blackhole) == (1380, 1381, True)
    assert result.frag_needed_mtu is None


def test_local_mtu_is_followed() -> None:
    result = sweep(model_path(1420, 1500, 1500, icmp=True), 1500)
    assert result.path_mtu == 1420 and result.local_mtu == 1420 and not result.blackhole


@pytest.mark.parametrize("threshold", [577, 900, 1279, 1499])
def test_exact_threshold(threshold: int) -> None:
    result = sweep(model_path(1500, 1500, threshold, icmp=True), 1500)
    assert result.path_mtu == threshold and result.silent_above == threshold + 1


def _silent(result) -> int:  # type: ignore[no-untyped-def]
    return sum(p.outcome == "silent-loss" for p in result.probes)


def test_interface_mtu_on_the_path_finds_the_black_hole_in_four_probes() -> None:
    # the lab's overlay: 1500 at the sender, a link of 1380 that drops silently; the path's
    # interface MTUs are known from the facts, so 1380 and 1381 are tried before any bisection
    result = sweep(
        model_path(1500, 1500, 1380, icmp=True),
        1500,
        candidates=[1500, 1420, 1380],
        budget=SweepBudget.for_range(1500),
    )
    assert (result.path_mtu, result.silent_above, result.blackhole) == (1380, 1381, True)
    assert [p.size for p in result.probes] == [1500, MIN_SIZE, 1380, 1381]
    assert _silent(result) == 2


@pytest.mark.parametrize("threshold", [577, 700, 900, 1279, 1380, 1419, 1499])
@pytest.mark.parametrize("candidates", [[], [1420], [1380, 1420]])
def test_budgeted_sweep_keeps_its_limits_and_never_overstates(threshold: int, candidates: list[int]) -> None:
    budget = SweepBudget.for_range(1500)
    result = sweep(model_path(1500, 1500, threshold, icmp=True), 1500, candidates, budget)
    assert len(result.probes) <= math.log2(1500 - MIN_SIZE) + 2
    assert _silent(result) <= 2
    # what it reports is proven: path_mtu got a reply, silent_above did not, the threshold is between
    assert result.path_mtu is not None and result.silent_above is not None
    assert result.path_mtu <= threshold < result.silent_above
    replied = {p.size for p in result.probes if p.outcome == "reply"}
    assert result.path_mtu in replied
    if threshold in candidates:
        assert result.silent_above == threshold + 1


def test_unbudgeted_sweep_is_the_old_search_so_recordings_replay_the_same() -> None:
    result = sweep(model_path(1500, 1500, 1380, icmp=True), 1500)
    assert [p.size for p in result.probes][:3] == [1500, 576, 1038]
    assert (result.path_mtu, result.silent_above) == (1380, 1381)
    assert not result.budgeted


def test_probe_wait_follows_the_round_trip_time() -> None:
    assert probe_wait(0.1) == 0.2  # LAN: the floor
    assert probe_wait(150.0) == 0.75  # five round trips
    assert probe_wait(900.0) == 1.0  # never above the configured wait
    assert probe_wait(None) == 1.0


def test_run_sweep_sends_adapted_waits_and_stays_in_budget() -> None:
    send = model_path(1500, 1500, 1380, icmp=True)
    commands: list[str] = []

    def run(command: str) -> tuple[str, int | None]:
        commands.append(command)
        size = int(command.split(" -s ")[1].split()[0]) + 28
        return send(size)[1], 0

    result = run_sweep(run, "10.42.0.1", "10.42.3.1", 1500, wait=1.0, candidates=[1420], rtt_ms=0.3)
    assert all(" -W 0.2 " in c for c in commands)
    assert result.budgeted and len(commands) <= math.log2(1500 - MIN_SIZE) + 2
    assert _silent(result) <= 2


def test_a_live_sweep_without_the_paths_mtus_finds_the_exact_mtu_the_fix_is_written_with() -> None:
    """A budget without candidates stopped at bounds ("up to 1367, 1393+ lost") and the lab's
    mtu-blackhole fix was then written with 1367; the search must run to the exact 1380."""
    send = model_path(1420, 1500, 1380, icmp=False)

    def run(command: str) -> tuple[str, int | None]:
        size = int(command.split(" -s ")[1].split()[0]) + 28
        return send(size)[1], 0

    result = run_sweep(run, "192.168.191.10", "192.168.191.12", 1420)
    assert (result.path_mtu, result.budgeted, result.blackhole) == (1380, False, True)
