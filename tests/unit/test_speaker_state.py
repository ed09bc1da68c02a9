"""Causes the speakers say themselves, diagnosed from real BIRD 2.0.12, FRR 8.4 and gobgpd 3.10 outputs.

The outputs (captures/outputs/speaker_state, README there) come from frr1 (AS 65001, 10.213.19.1)
peering with bird1 (AS 65002, 10.213.19.2 / 10.213.20.2), which peers with gobgp1 (AS 65003,
10.213.20.1): a protocol disabled at one end, a neighbor shut down, GoBGP started with router id
0.0.0.0, BIRD whose setsockopt(TCP_MD5SIG) fails as on a kernel without CONFIG_TCP_MD5SIG.
Expected values below were read by hand from those files, not from the parsers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.drivers import driver_for
from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.collect import KERNEL_MD5_COMMAND, SPEAKER_LOG_COMMAND, HostFacts
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.engine.speaker_state import reserved_range
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers import ParseError
from bgpdoctor.parsers.kernelconf import KernelMd5, parse_kernel_md5
from bgpdoctor.report.model import CheckResult, Report
from bgpdoctor.transport.base import CommandResult

OUTPUTS = Path(__file__).resolve().parents[2] / "captures" / "outputs" / "speaker_state"
TAKEN = datetime(2026, 12, 6, 1, 45, tzinfo=UTC)
EXTRA = {
    "kernel.md5sig": KERNEL_MD5_COMMAND,
    "speaker.log": SPEAKER_LOG_COMMAND,
    "ip.route": "ip -j route show table main",
}

FRR1: dict[str, Any] = {
    "role": "router",
    "speaker": "frr",
    "asn": 65001,
    "addresses": ["10.213.19.1"],
    "peers": [{"host": "bird1", "address": "10.213.19.2", "asn": 65002}],
}
BIRD1: dict[str, Any] = {
    "role": "router",
    "speaker": "bird2",
    "asn": 65002,
    "addresses": ["10.213.19.2", "10.213.20.2"],
    "peers": [
        {"host": "frr1", "address": "10.213.19.1", "asn": 65001, "name": "frr1"},
        {"host": "gobgp1", "address": "10.213.20.1", "asn": 65003, "name": "gobgp1"},
    ],
}
GOBGP1: dict[str, Any] = {
    "role": "router",
    "speaker": "gobgp",
    "asn": 65003,
    "addresses": ["10.213.20.1"],
    "peers": [{"host": "bird1", "address": "10.213.20.2", "asn": 65002}],
}


def _result(command: str, file: str) -> CommandResult:
    """`text:...` is a line quoted from a public report, `fail:...` a command that failed with that
    stderr, anything else a file of OUTPUTS."""
    if file.startswith("fail:"):
        return CommandResult(command, 1, b"", file[5:])
    return CommandResult(
        command, 0, file[5:].encode() if file.startswith("text:") else (OUTPUTS / file).read_bytes()
    )


def _report(hosts: dict[str, dict[str, Any]], outputs: dict[str, dict[str, str]]) -> Report:
    """A run over `hosts` whose commands answered with `outputs` (host -> fact -> _result's file)."""
    inv = Inventory.model_validate(
        {"hosts": {n: {**h, "connect": {"netns": "bdh"}} for n, h in hosts.items()}}
    )
    facts = {}
    for name, files in outputs.items():
        driver = driver_for(inv.hosts[name].speaker)
        assert driver is not None
        commands = {**driver.commands(inv.hosts[name]), **EXTRA}
        results = {fact: _result(commands[fact], file) for fact, file in files.items()}
        facts[name] = HostFacts(name, inv.hosts[name], outputs=results, contacted=True)
    collected = Collected(
        scope=list(outputs), facts=facts, active=ActiveResults(), started=TAKEN, wall_seconds=1
    )
    return evaluate(inv, "inventory.yaml", collected, RunOptions(nodes=[]))


def _checks(report: Report, check: str) -> list[CheckResult]:
    return [r for r in report.results if r.check == check]


def _causes(report: Report) -> list[str]:
    return [d.root_cause for d in report.diagnoses]


HEALTHY_FRR = {"frr.neighbors": "frr_healthy_neighbors.json", "frr.summary": "frr_healthy_summary.json"}
HEALTHY_BIRD = {
    "bird.protocols": "bird2_healthy_show_protocols_all.txt",
    "bird.status": "bird2_healthy_show_status.txt",
}
HEALTHY_GOBGP = {
    "gobgp.neighbors": "gobgp_healthy_neighbor.json",
    "gobgp.global": "gobgp_healthy_global.json",
}


# -- the fixtures, read by hand -----------------------------------------------------------------


def test_the_fixtures_say_what_the_cases_rest_on() -> None:
    text = (OUTPUTS / "bird2_disabled_frr_show_protocols_all.txt").read_text()
    assert "frr1       BGP        ---        down   01:37:45.835  \n" in text
    assert "Last error" not in text
    frr = (OUTPUTS / "frr_peer_disabled_neighbors.json").read_text()
    assert '"lastErrorCodeSubcode":"0602"' in frr and '"bgpState":"Active"' in frr
    assert '"adminShutDown":true' in (OUTPUTS / "frr_neighbor_shutdown_neighbors.json").read_text()
    assert '"admin_state":1' in (OUTPUTS / "gobgp_admin_down_neighbor.json").read_text()
    assert '"router_id":"0.0.0.0"' in (OUTPUTS / "gobgp_router_id_zero_global.json").read_text()
    assert "Router ID is 240.0.0.1" in (OUTPUTS / "bird2_router_id_240_show_status.txt").read_text()
    assert (
        "Last error:       Error: Kernel MD5 auth failed"
        in (OUTPUTS / "bird2_md5_kernel_show_protocols_all.txt").read_text()
    )


@pytest.mark.parametrize(
    ("router_id", "expected"),
    [
        ("0.0.0.0", '0.0.0.0/8 ("this network", not a host address)'),
        ("0.255.1.1", '0.0.0.0/8 ("this network", not a host address)'),
        ("224.0.0.5", "224.0.0.0/4 (multicast)"),
        ("239.255.255.255", "224.0.0.0/4 (multicast)"),
        ("249.183.186.85", "240.0.0.0/4 (reserved)"),  # calico#5146
        ("255.255.255.255", "240.0.0.0/4 (reserved)"),
        ("1.0.0.0", None),
        ("223.255.255.255", None),
        ("10.213.20.1", None),
        (None, None),
        ("not an address", None),
    ],
)
def test_reserved_router_id_ranges(router_id: str | None, expected: str | None) -> None:
    assert reserved_range(router_id) == expected


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        (
            "kernel_md5sig_proc_config.txt",
            KernelMd5("6.18.44-fc-v1272", "/proc/config.gz", True, "CONFIG_TCP_MD5SIG=y"),
        ),
        (
            "kernel_md5sig_not_set.txt",
            KernelMd5("6.18.44-fc-v1272", "/proc/config.gz", False, "# CONFIG_TCP_MD5SIG is not set"),
        ),
        ("kernel_md5sig_unreadable.txt", KernelMd5("6.18.44-fc-v1272", None, None)),
    ],
)
def test_kernel_md5_option_is_read(file: str, expected: KernelMd5) -> None:
    assert parse_kernel_md5((OUTPUTS / file).read_text()) == expected


def test_kernel_configuration_without_the_option_means_it_is_not_built_in() -> None:
    assert parse_kernel_md5("release 5.15.0\nsource /boot/config-5.15.0\n").enabled is False


@pytest.mark.parametrize("text", ["", "CONFIG_TCP_MD5SIG=y\n", "release 6.1\nsource x\nzcat: not found\n"])
def test_kernel_md5_read_that_is_not_ours_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_kernel_md5(text)


# -- peer-admin-shutdown ----------------------------------------------------------------------------


def test_healthy_speakers_give_no_finding() -> None:
    report = _report(
        {"frr1": FRR1, "bird1": BIRD1, "gobgp1": GOBGP1},
        {
            "frr1": {**HEALTHY_FRR, "kernel.md5sig": "kernel_md5sig_proc_config.txt"},
            "bird1": {**HEALTHY_BIRD, "kernel.md5sig": "kernel_md5sig_proc_config.txt"},
            "gobgp1": {**HEALTHY_GOBGP, "kernel.md5sig": "kernel_md5sig_proc_config.txt"},
        },
    )
    assert report.diagnoses == []
    for check in ("bgp-not-admin-down", "bgp-router-id-valid", "md5-kernel-support"):
        results = _checks(report, check)
        assert results and {r.status for r in results} == {"pass"}, [(r.host, r.reason) for r in results]
    assert [r.reason for r in _checks(report, "md5-kernel-support") if r.host == "bird1"] == [
        "CONFIG_TCP_MD5SIG=y (/proc/config.gz, kernel 6.18.44-fc-v1272)"
    ]


def test_bird_protocol_disabled_is_the_cause_of_what_frr_sees() -> None:
    report = _report(
        {"frr1": FRR1, "bird1": {**BIRD1, "peers": BIRD1["peers"][:1]}},
        {
            "frr1": {
                "frr.neighbors": "frr_peer_disabled_neighbors.json",
                "frr.summary": "frr_peer_disabled_summary.json",
            },
            "bird1": {
                "bird.protocols": "bird2_disabled_frr_show_protocols_all.txt",
                "bird.status": "bird2_config_disabled_show_status.txt",
            },
        },
    )
    top = report.diagnoses[0]
    assert top.root_cause == "peer-admin-shutdown", _causes(report)
    assert top.hosts == ["bird1"]
    assert top.summary == (
        "bird1 keeps the session down on purpose: BIRD 2 protocol frr1 is disabled. What frr1 shows is "
        "only the consequence: frr1: active (last error: BGP Notification received: Cease/Administrative "
        "Shutdown)."
    )
    assert "bgp-session-established@frr1<->bird1" in top.symptoms
    [check] = _checks(report, "bgp-not-admin-down")
    assert check.status == "fail"
    bird_fix = next(f for f in top.fixes if f.platform == "bird2")
    assert (bird_fix.host, bird_fix.target, bird_fix.text.splitlines()[-1].strip()) == (
        "bird1",
        "protocol bgp frr1",
        "disabled no;",
    )
    assert any("birdc enable frr1" in step for step in top.next_steps)


def test_bird_protocol_disabled_in_its_configuration() -> None:
    report = _report(
        {"frr1": FRR1, "bird1": {**BIRD1, "peers": BIRD1["peers"][:1]}},
        {
            "frr1": {"frr.neighbors": "frr_peer_config_disabled_neighbors.json"},
            "bird1": {"bird.protocols": "bird2_config_disabled_show_protocols_all.txt"},
        },
    )
    top = report.diagnoses[0]
    assert (top.root_cause, top.hosts) == ("peer-admin-shutdown", ["bird1"])
    assert "frr1: active (last error: BGP Notification received: Cease/Peer De-configured)" in top.summary


def test_frr_neighbor_shutdown_is_named_and_bird_only_sees_resets() -> None:
    report = _report(
        {"frr1": FRR1, "bird1": {**BIRD1, "peers": BIRD1["peers"][:1]}},
        {
            "frr1": {
                "frr.neighbors": "frr_neighbor_shutdown_neighbors.json",
                "frr.summary": "frr_neighbor_shutdown_summary.json",
            },
            "bird1": {
                "bird.protocols": "bird2_peer_frr_shutdown_show_protocols_all.txt",
                "bird.status": "bird2_peer_frr_shutdown_show_status.txt",
            },
        },
    )
    top = report.diagnoses[0]
    assert (top.root_cause, top.hosts) == ("peer-admin-shutdown", ["frr1"]), _causes(report)
    assert top.summary.startswith(
        "frr1 keeps the session down on purpose: FRR neighbor 10.213.19.2 is administratively shut down."
    )
    assert "bird1: active (last error: Socket: Connection reset by peer)" in top.summary
    frr_fix = next(f for f in top.fixes if f.platform == "frr")
    assert frr_fix.text.splitlines() == ["router bgp 65001", " no neighbor 10.213.19.2 shutdown", "exit"]


def test_gobgp_neighbor_disabled_is_named() -> None:
    report = _report(
        {"bird1": {**BIRD1, "peers": BIRD1["peers"][1:]}, "gobgp1": GOBGP1},
        {
            "bird1": {
                "bird.protocols": "bird2_peer_gobgp_disabled_show_protocols_all.txt",
                "bird.status": "bird2_peer_gobgp_disabled_show_status.txt",
            },
            "gobgp1": {
                "gobgp.neighbors": "gobgp_admin_down_neighbor.json",
                "gobgp.global": "gobgp_admin_down_global.json",
            },
        },
    )
    top = report.diagnoses[0]
    assert (top.root_cause, top.hosts) == ("peer-admin-shutdown", ["gobgp1"]), _causes(report)
    assert "GoBGP neighbor 10.213.20.2 is administratively shut down" in top.summary
    gobgp_fix = next(f for f in top.fixes if f.platform == "gobgp")
    assert gobgp_fix.target == "neighbor 10.213.20.2" and "admin-down = false" in gobgp_fix.text


def test_a_peer_outside_the_inventory_that_sent_cease_6_2_is_the_end_named() -> None:
    """metallb#780's shape: the provider's router shut the neighbor down; only our end is read."""
    outside = {**FRR1, "peers": [{"address": "10.213.19.2", "asn": 65002}]}
    report = _report({"frr1": outside}, {"frr1": {"frr.neighbors": "frr_peer_disabled_neighbors.json"}})
    top = report.diagnoses[0]
    assert (top.root_cause, top.hosts) == ("peer-admin-shutdown", ["10.213.19.2"]), _causes(report)
    assert top.summary.startswith(
        "10.213.19.2 keeps the session down on purpose: 10.213.19.2 sent NOTIFICATION "
        "Cease/Administrative Shutdown (6/2)."
    )


def test_a_session_whose_end_state_is_unknown_is_not_judged_admin_down() -> None:
    report = _report(
        {"frr1": FRR1, "bird1": {**BIRD1, "peers": BIRD1["peers"][:1]}},
        {"frr1": HEALTHY_FRR, "bird1": {"bird.status": "bird2_healthy_show_status.txt"}},
    )
    [check] = _checks(report, "bgp-not-admin-down")
    assert check.status == "unknown", check.reason
    assert "peer-admin-shutdown" not in _causes(report)


# -- invalid-router-id -----------------------------------------------------------------------------


def test_gobgp_with_router_id_zero_is_refused_by_bird_and_named() -> None:
    report = _report(
        {"bird1": {**BIRD1, "peers": BIRD1["peers"][1:]}, "gobgp1": GOBGP1},
        {
            "bird1": {
                "bird.protocols": "bird2_peer_gobgp_rid_zero_show_protocols_all.txt",
                "bird.status": "bird2_peer_gobgp_rid_zero_show_status.txt",
            },
            "gobgp1": {
                "gobgp.neighbors": "gobgp_router_id_zero_neighbor.json",
                "gobgp.global": "gobgp_router_id_zero_global.json",
            },
        },
    )
    top = report.diagnoses[0]
    assert (top.root_cause, top.hosts) == ("invalid-router-id", ["gobgp1"]), _causes(report)
    assert top.summary == (
        'GoBGP on gobgp1 uses router id 0.0.0.0, which is in 0.0.0.0/8 ("this network", not a host '
        "address). Its peers refuse the OPEN: bird1: BGP Error: Bad BGP identifier."
    )
    assert "router-id-conflict" not in _causes(report)
    [unique] = _checks(report, "bgp-router-id-unique")
    assert unique.status == "pass", unique.reason
    assert {r.host: r.status for r in _checks(report, "bgp-router-id-valid")} == {
        "bird1": "pass",
        "gobgp1": "warn",
    }
    gobgp_fix = next(f for f in top.fixes if f.platform == "gobgp")
    assert 'router-id = "10.213.20.1"' in gobgp_fix.text and "as = 65003" in gobgp_fix.text
    assert "bgp-error-backoff@bird1<->gobgp1" in top.symptoms  # BIRD waits after refusing the OPEN


def test_frr_router_id_in_224_with_sessions_up_is_a_warning_not_a_cause() -> None:
    """FRR 8.4 and BIRD accept a multicast id (RFC 6286): Established, so only the check warns."""
    report = _report(
        {"frr1": FRR1, "bird1": {**BIRD1, "peers": BIRD1["peers"][:1]}},
        {
            "frr1": {
                "frr.neighbors": "frr_healthy_neighbors.json",
                "frr.summary": "frr_router_id_224_summary.json",
            },
            "bird1": HEALTHY_BIRD,
        },
    )
    assert "invalid-router-id" not in _causes(report)
    result = next(r for r in _checks(report, "bgp-router-id-valid") if r.host == "frr1")
    assert (result.status, result.reason) == ("warn", "router id 224.0.0.5 is in 224.0.0.0/4 (multicast)")


def test_bird_router_id_in_240_is_read_from_show_status() -> None:
    report = _report(
        {"bird1": {**BIRD1, "peers": BIRD1["peers"][:1]}},
        {
            "bird1": {
                "bird.protocols": "bird2_healthy_show_protocols_all.txt",
                "bird.status": "bird2_router_id_240_show_status.txt",
            }
        },
    )
    result = next(r for r in _checks(report, "bgp-router-id-valid") if r.host == "bird1")
    assert (result.status, result.reason) == ("warn", "router id 240.0.0.1 is in 240.0.0.0/4 (reserved)")


def test_router_id_unknown_when_the_status_command_failed() -> None:
    report = _report({"bird1": {**BIRD1, "peers": BIRD1["peers"][:1]}}, {"bird1": HEALTHY_BIRD})
    report_no_status = _report(
        {"bird1": {**BIRD1, "peers": BIRD1["peers"][:1]}},
        {
            "bird1": {
                "bird.protocols": "bird2_healthy_show_protocols_all.txt",
                "bird.status": "fail:Permission denied\n",
            }
        },
    )
    assert [r.status for r in _checks(report, "bgp-router-id-valid")] == ["pass"]
    [unknown] = _checks(report_no_status, "bgp-router-id-valid")
    assert unknown.status == "unknown" and "failed on bird1: Permission denied" in unknown.reason, (
        unknown.reason
    )


# -- md5-kernel-unsupported ---------------------------------------------------------------------------


def test_bird_refused_by_the_kernel_for_md5_is_named_from_its_state_and_log() -> None:
    """The session to an FRR outside the inventory: BIRD's own state and log are the evidence."""
    bird = {**BIRD1, "peers": [{"address": "10.213.19.1", "asn": 65001, "name": "frr1"}]}
    report = _report(
        {"bird1": bird},
        {
            "bird1": {
                "bird.protocols": "bird2_md5_kernel_show_protocols_all.txt",
                "bird.status": "bird2_healthy_show_status.txt",
                "speaker.log": "bird2_md5_kernel_speaker_log.txt",
                "kernel.md5sig": "kernel_md5sig_proc_config.txt",
            }
        },
    )
    top = report.diagnoses[0]
    assert (top.root_cause, top.hosts) == ("md5-kernel-unsupported", ["bird1"]), _causes(report)
    assert top.summary.startswith(
        "BIRD 2 on bird1 has a TCP MD5 password but the kernel refuses to sign: 2026-12-06 01:39:56.962 "
        "<ERR> frr1: Socket error: Kernel does not support TCP MD5 signatures (kernel configuration: "
        "CONFIG_TCP_MD5SIG=y (/proc/config.gz, kernel 6.18.44-fc-v1272))."
    )
    assert "peer-admin-shutdown" not in _causes(report)  # `down` with BIRD's own error is not disabled
    [admin] = _checks(report, "bgp-not-admin-down")
    assert admin.status == "pass"
    excerpts = [e.output for e in top.evidence if (e.note or "").startswith("excerpt")]
    assert "frr1: Error: Kernel MD5 auth failed" in excerpts


def test_bird_md5_failure_in_state_alone_is_enough() -> None:
    bird = {**BIRD1, "peers": [{"address": "10.213.19.1", "asn": 65001, "name": "frr1"}]}
    report = _report(
        {"bird1": bird}, {"bird1": {"bird.protocols": "bird2_md5_kernel_show_protocols_all.txt"}}
    )
    [result] = _checks(report, "md5-kernel-support")
    assert (result.status, result.reason) == (
        "fail",
        "BIRD 2 cannot use TCP MD5: frr1: Error: Kernel MD5 auth failed",
    )


def test_metallb_style_log_line_on_a_gobgp_host() -> None:
    """The log line metallb#1125 quotes (no SYN left the node); GoBGP's state does not show it."""
    report = _report(
        {"gobgp1": GOBGP1},
        {
            "gobgp1": {
                **HEALTHY_GOBGP,
                "speaker.log": 'text:dial "10.1.2.1:179": setsockopt: protocol not available\n',
            }
        },
    )
    top = report.diagnoses[0]
    assert (top.root_cause, top.hosts) == ("md5-kernel-unsupported", ["gobgp1"])
    assert 'dial "10.1.2.1:179": setsockopt: protocol not available' in top.summary


def test_kernel_without_md5_and_a_password_in_the_inventory() -> None:
    gobgp = {**GOBGP1, "peers": [{**GOBGP1["peers"][0], "md5": {"env": "BGP_MD5_BIRD1"}}]}
    report = _report(
        {"gobgp1": gobgp}, {"gobgp1": {**HEALTHY_GOBGP, "kernel.md5sig": "kernel_md5sig_not_set.txt"}}
    )
    [result] = _checks(report, "md5-kernel-support")
    assert (result.status, result.reason) == (
        "fail",
        "GoBGP cannot use TCP MD5: # CONFIG_TCP_MD5SIG is not set in /proc/config.gz",
    )
    assert _causes(report) == ["md5-kernel-unsupported"]


def test_kernel_without_md5_and_no_password_is_fine() -> None:
    report = _report(
        {"gobgp1": GOBGP1}, {"gobgp1": {**HEALTHY_GOBGP, "kernel.md5sig": "kernel_md5sig_not_set.txt"}}
    )
    assert [r.status for r in _checks(report, "md5-kernel-support")] == ["pass"]


def test_unreadable_kernel_configuration_is_unknown_with_its_reason() -> None:
    """FRR's state does not show an MD5 failure: with a password meant, only the kernel can tell."""
    peer = {"address": "10.213.19.2", "asn": 65002, "md5": {"env": "BGP_MD5_BIRD1"}}
    report = _report(
        {"frr1": {**FRR1, "peers": [peer]}},
        {"frr1": {**HEALTHY_FRR, "kernel.md5sig": "kernel_md5sig_unreadable.txt"}},
    )
    [result] = _checks(report, "md5-kernel-support")
    assert result.status == "unknown"
    assert "frr1: neither /proc/config.gz nor /boot/config-6.18.44-fc-v1272 is readable" in result.reason
    never_read = _report({"frr1": {**FRR1, "peers": [peer]}}, {"frr1": HEALTHY_FRR})
    [result] = _checks(never_read, "md5-kernel-support")
    assert result.status == "unknown" and "kernel.md5sig was not collected on frr1" in result.reason


def test_unreadable_kernel_configuration_without_a_password_is_no_md5_problem() -> None:
    report = _report(
        {"frr1": {**FRR1, "peers": [{"address": "10.213.19.2", "asn": 65002}]}},
        {"frr1": {**HEALTHY_FRR, "kernel.md5sig": "kernel_md5sig_unreadable.txt"}},
    )
    assert [r.status for r in _checks(report, "md5-kernel-support")] == ["pass"]


def test_collection_commands_are_read_only_and_bounded() -> None:
    for command in (KERNEL_MD5_COMMAND, SPEAKER_LOG_COMMAND):
        assert ">" not in command.replace(">/dev/null", "").replace("2>&1", "")
        assert not any(w in command for w in ("rm ", "tee", "sed -i", "kill"))
    assert "tail -n 20" in SPEAKER_LOG_COMMAND and "-n 5000" in SPEAKER_LOG_COMMAND


# -- as-path-loop ---------------------------------------------------------------------------------------
# tor (BIRD 2, AS 65001) peers with node-a (10.213.39.2) and node-b (10.213.40.2), both AS 65002, each
# announcing one static /24: the tor passes each node's route to the other with AS 65002 in the path.


def _loop_host(asn: int, peers: list[tuple[str, str, int, str]]) -> dict[str, Any]:
    return {
        "role": "router",
        "speaker": "bird2",
        "asn": asn,
        "peers": [{"host": h, "address": a, "asn": x, "name": n} for h, a, x, n in peers],
    }


LOOP_HOSTS = {
    "tor": _loop_host(
        65001, [("node-a", "10.213.39.2", 65002, "node_a"), ("node-b", "10.213.40.2", 65002, "node_b")]
    ),
    "node-a": _loop_host(65002, [("tor", "10.213.39.1", 65001, "tor")]),
    "node-b": _loop_host(65002, [("tor", "10.213.40.1", 65001, "tor")]),
}


def _bird_files(prefix: str) -> dict[str, str]:
    return {
        "bird.protocols": f"{prefix}_show_protocols_all.txt",
        "bird.routes": f"{prefix}_show_route.txt",
        "bird.bgp_routes": f"{prefix}_show_route_bgp_all.txt",
        "bird.status": f"{prefix}_show_status.txt",
    }


def test_the_loop_fixtures_show_the_path_and_the_missing_route() -> None:
    tor = (OUTPUTS / "bird2_loop_tor_show_route_bgp_all.txt").read_text()
    assert "10.90.31.0/24        unicast [node_a 01:53:35.959] * (100) [AS65002i]" in tor
    assert "BGP.as_path: 65002" in tor
    assert "10.90.31.0/24" not in (OUTPUTS / "bird2_loop_node_b_show_route.txt").read_text()
    assert (
        "10.90.31.0/24        unicast [tor"
        in (OUTPUTS / "bird2_loop_allowed_node_b_show_route.txt").read_text()
    )
    assert (
        "Import withdraws:            1          0        ---          1          0"
        in (OUTPUTS / "bird2_loop_node_b_show_protocols_all.txt").read_text()
    )


def test_same_as_nodes_behind_an_ebgp_tor_drop_each_others_routes() -> None:
    report = _report(
        LOOP_HOSTS,
        {
            "tor": _bird_files("bird2_loop_tor"),
            "node-a": _bird_files("bird2_loop_node_a"),
            "node-b": _bird_files("bird2_loop_node_b"),
        },
    )
    loops = {tuple(d.hosts): d for d in report.diagnoses if d.root_cause == "as-path-loop"}
    assert set(loops) == {("node-a",), ("node-b",)}, _causes(report)
    assert loops[("node-b",)].summary == (
        "tor sends node-b routes whose AS path already holds node-b's own AS 65002 (10.90.31.0/24: AS path "
        "65002), so node-b drops them as loops and has no route to 10.90.31.0/24 (its Import withdraws: "
        "received 1, ignored 1)."
    )
    assert "10.90.32.0/24: AS path 65002" in loops[("node-a",)].summary
    fix = next(f for f in loops[("node-b",)].fixes if f.platform == "bird2")
    assert (fix.host, fix.target, fix.text.splitlines()[-1].strip()) == (
        "node-b",
        "protocol bgp tor",
        "allow local as 1;",
    )
    # the tor runs BIRD 2 here: FRR's as-override is no fix for it, and GoBGP's none for node-b
    assert [(f.platform, f.host) for f in loops[("node-b",)].fixes] == [("bird2", "node-b")]
    assert {r.host: r.status for r in _checks(report, "bgp-no-as-path-loop")} == {
        "tor<->node-a": "fail",
        "tor<->node-b": "fail",
    }


def test_allow_local_as_on_the_node_ends_the_loop() -> None:
    """node-b after `allow local as;` (captured after the fix was applied to the real BIRD)."""
    hosts = {
        "tor": {**LOOP_HOSTS["tor"], "peers": LOOP_HOSTS["tor"]["peers"][1:]},
        "node-b": LOOP_HOSTS["node-b"],
    }
    report = _report(
        hosts,
        {"tor": _bird_files("bird2_loop_allowed_tor"), "node-b": _bird_files("bird2_loop_allowed_node_b")},
    )
    assert "as-path-loop" not in _causes(report)
    assert [r.status for r in _checks(report, "bgp-no-as-path-loop")] == ["pass"]


def test_as_path_loop_is_not_judged_without_the_senders_paths() -> None:
    """FRR's BGP table is not collected: the session is not judged (skip), never passed."""
    report = _report(
        {"frr1": FRR1, "bird1": {**BIRD1, "peers": BIRD1["peers"][:1]}},
        {"frr1": HEALTHY_FRR, "bird1": HEALTHY_BIRD},
    )
    assert [r.status for r in _checks(report, "bgp-no-as-path-loop")] == ["skip"]


def test_calico_style_node_with_a_reserved_id_and_its_router_session_down() -> None:
    """calico#5146's shape: the node's own `show status` says 240.0.0.1 and its session to the router
    (outside the inventory) is not Established. Two real BIRD outputs of the same daemon, taken at
    different moments (README)."""
    node = {**BIRD1, "peers": [{"address": "10.213.19.1", "asn": 65001, "name": "frr1"}]}
    report = _report(
        {"bird1": node},
        {
            "bird1": {
                "bird.protocols": "bird2_peer_frr_shutdown_show_protocols_all.txt",
                "bird.status": "bird2_router_id_240_show_status.txt",
            }
        },
    )
    top = report.diagnoses[0]
    assert (top.root_cause, top.hosts) == ("invalid-router-id", ["bird1"]), _causes(report)
    assert top.summary == (
        "BIRD 2 on bird1 uses router id 240.0.0.1, which is in 240.0.0.0/4 (reserved). Its sessions to "
        "10.213.19.1 are not Established."
    )
    bird_fix = next(f for f in top.fixes if f.platform == "bird2")
    assert bird_fix.text == "router id 10.213.19.2;"


@pytest.mark.parametrize(
    "line",
    [
        'level=error msg="failed to set md5" Err="protocol not available"',  # cilium#40478
        'dial "10.1.2.1:179": setsockopt: protocol not available',  # metallb#1125
        "bird: frr1: Socket error: Kernel does not support TCP MD5 signatures",  # openwrt/routing#1084
    ],
)
def test_the_md5_messages_users_reported_are_recognised(line: str) -> None:
    report = _report({"gobgp1": GOBGP1}, {"gobgp1": {**HEALTHY_GOBGP, "speaker.log": f"text:{line}\n"}})
    [result] = _checks(report, "md5-kernel-support")
    assert (result.status, result.reason) == ("fail", f"GoBGP cannot use TCP MD5: {line}")


def test_an_unrelated_protocol_not_available_line_is_not_md5() -> None:
    line = "socket(AF_PACKET): protocol not available for raw sockets"
    report = _report({"gobgp1": GOBGP1}, {"gobgp1": {**HEALTHY_GOBGP, "speaker.log": f"text:{line}\n"}})
    assert [r.status for r in _checks(report, "md5-kernel-support")] == ["pass"]


def test_a_router_id_never_asked_for_is_not_judged() -> None:
    """Cilium's agent is read through `cilium-dbg bgp peers`, which prints no router id: skip."""
    report = _report({"gobgp1": GOBGP1}, {"gobgp1": {"gobgp.neighbors": "gobgp_healthy_neighbor.json"}})
    assert [r.status for r in _checks(report, "bgp-router-id-valid")] == ["skip"]


# -- learned-routes-not-installed -------------------------------------------------------------------------
# gobgp1 (AS 65003) receives 10.90.28.0/24 and 172.16.1.0/24 from BIRD 2 (AS 65002, 10.213.30.2);
# gobgpd installs nothing, the namespace first has only its connected /30, then a default route.

LEARNED = {"gobgp.neighbors": "gobgp_learned_neighbor.json", "gobgp.global": "gobgp_learned_global.json"}
GOBGP_ALONE = {**GOBGP1, "peers": [{"address": "10.213.30.2", "asn": 65002}]}


def test_the_learned_fixtures_hold_routes_the_kernel_lacks() -> None:
    rib = (OUTPUTS / "gobgp_learned_rib.json").read_text()
    assert (
        '"10.90.28.0/24":[{' in rib and '"172.16.1.0/24":[{' in rib and '"neighbor-ip":"10.213.30.2"' in rib
    )
    assert "10.90.28.0/24" not in (OUTPUTS / "ip_learned_route.json").read_text()
    assert (
        '{"dst":"default","gateway":"10.213.30.2"' in (OUTPUTS / "ip_learned_default_route.json").read_text()
    )


def test_received_routes_nothing_reaches_are_the_fault() -> None:
    """cilium#31283 / metallb#251: Established, UPDATEs arrive, the prefix is not in the FIB."""
    report = _report(
        {"gobgp1": GOBGP_ALONE},
        {"gobgp1": {**LEARNED, "gobgp.rib": "gobgp_learned_rib.json", "ip.route": "ip_learned_route.json"}},
    )
    top = report.diagnoses[0]
    assert (top.root_cause, top.hosts) == ("learned-routes-not-installed", ["gobgp1"]), _causes(report)
    assert top.summary.startswith(
        "gobgp1 receives 10.90.28.0/24, 172.16.1.0/24 over BGP, but its kernel has no route to them: GoBGP "
        "(Cilium's agent, MetalLB, a bare gobgpd) never installs received routes in the kernel"
    )
    assert top.fixes[0].text.splitlines() == [
        "ip route add 10.90.28.0/24 via 10.213.30.2",
        "ip route add 172.16.1.0/24 via 10.213.30.2",
    ]
    assert [r.status for r in _checks(report, "bgp-learned-routes-reachable")] == ["fail"]


def test_received_routes_reached_by_the_default_route_are_as_designed() -> None:
    report = _report(
        {"gobgp1": GOBGP_ALONE},
        {
            "gobgp1": {
                **LEARNED,
                "gobgp.rib": "gobgp_learned_rib.json",
                "ip.route": "ip_learned_default_route.json",
            }
        },
    )
    assert "learned-routes-not-installed" not in _causes(report)
    [result] = _checks(report, "bgp-learned-routes-reachable")
    assert (result.status, result.reason) == (
        "pass",
        "2 received route(s) not installed, as designed; the FIB reaches them: 0.0.0.0/0 via 10.213.30.2",
    )


def test_received_routes_are_not_judged_without_the_rib() -> None:
    report = _report({"gobgp1": GOBGP_ALONE}, {"gobgp1": {**LEARNED, "ip.route": "ip_learned_route.json"}})
    assert [r.status for r in _checks(report, "bgp-learned-routes-reachable")] == ["skip"]
    failed = _report(
        {"gobgp1": GOBGP_ALONE},
        {
            "gobgp1": {
                **LEARNED,
                "gobgp.rib": "fail:context deadline exceeded\n",
                "ip.route": "ip_learned_route.json",
            }
        },
    )
    [result] = _checks(failed, "bgp-learned-routes-reachable")
    assert result.status == "unknown" and "context deadline exceeded" in result.reason
