"""WireGuard read once per host from `wg show all dump`, whose private keys never get past collection.

- The dump (real output of wg v1.0.20210914 over wireguard-go, tests/fixtures/parsers/wireguard/)
  gives the same peers, endpoints and AllowedIPs as `wg show all endpoints` and `wg show all
  allowed-ips` printed for the same state, which the run asked for separately before.
- The interface's private key and the peers' preshared keys it prints are redacted where collected:
  none reaches a stored output, the report, its evidence or the recording; public keys stay.
- Recordings made before hold the older two facts and are judged as before.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.collect import HostFacts, collect_all, frame_batch
from bgpdoctor.engine.recording import load_recording, recording_json
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.engine.tunnels import WG_DUMP, WG_ENDPOINTS
from bgpdoctor.engine.world import parse_wg_allowed_ips
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers import ParseError
from bgpdoctor.parsers.wireguard import parse_dump, parse_endpoints
from bgpdoctor.redact import REDACTED, redact
from bgpdoctor.report.model import Report
from bgpdoctor.transport.base import DEFAULT_MAX_OUTPUT, CommandResult

REPO = Path(__file__).resolve().parents[2]
WG = REPO / "tests" / "fixtures" / "parsers" / "wireguard"
RAW_DUMP = (WG / "show_all_dump.txt").read_text()
DUMP_CMD = "command -v wg >/dev/null 2>&1 || exit 0; wg show all dump"
LOOP = "tunnel-over-cni-loop"


def _secrets(dump: str) -> list[str]:
    """The private keys (interface lines) and preshared keys (peer lines) of a raw dump."""
    found = []
    for line in dump.splitlines():
        fields = line.split("\t")
        if len(fields) == 5:
            found.append(fields[1])
        elif len(fields) == 9 and fields[2] != "(none)":
            found.append(fields[2])
    return found


def _public_keys(dump: str) -> list[str]:
    return [f[2] if len(f) == 5 else f[1] for f in (line.split("\t") for line in dump.splitlines())]


def test_one_dump_gives_what_wg_prints_for_endpoints_and_allowed_ips_of_the_same_state() -> None:
    dump = parse_dump(redact(RAW_DUMP))
    assert dump.endpoints() == parse_endpoints((WG / "show_all_endpoints_same_state.txt").read_text())
    assert dump.allowed_ips() == parse_wg_allowed_ips(
        (WG / "show_all_allowed_ips_same_state.txt").read_text()
    )
    assert [(p.interface, p.endpoint, p.allowed_ips, p.keepalive) for p in dump.peers][-2:] == [
        ("bfwwg0", "10.244.55.193:51820", ["10.254.42.2/32", "10.244.1.0/24"], 25),
        ("bfwwg0", None, ["10.254.42.3/32"], None),
    ]
    assert dump.interfaces["bfwwg1"].listen_port == 51821
    assert parse_dump("") == parse_dump("\n")  # no WireGuard on the host
    assert not parse_dump("").peers


def test_the_real_dumps_private_and_preshared_keys_are_redacted_and_its_public_keys_kept() -> None:
    secrets = _secrets(RAW_DUMP)
    assert len(secrets) == 3  # two interfaces' private keys, one peer's preshared key
    for raw in (RAW_DUMP, (WG / "show_one_dump.txt").read_text()):
        cleaned = redact(raw)
        assert not [s for s in secrets if s in cleaned]
        assert cleaned.count(REDACTED) == len(_secrets(raw)) or raw is not RAW_DUMP
        assert redact(cleaned) == cleaned
    cleaned = redact(RAW_DUMP)
    assert all(key in cleaned for key in _public_keys(RAW_DUMP))
    assert cleaned.count(REDACTED) == 3
    # the endpoints and allowed-ips outputs hold public keys only: unchanged
    for name in ("show_all_endpoints_same_state.txt", "show_all_allowed_ips_same_state.txt"):
        text = (WG / name).read_text()
        assert redact(text) == text


KEYS = st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode())


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(KEYS, min_size=4, max_size=4, unique=True), with_psk=st.booleans())
def test_no_key_shape_survives_redaction_and_the_peers_stay_readable(keys: list[str], with_psk: bool) -> None:
    """Random keys may hold words such as `key` or `psk`, which other redaction rules look for."""
    private, public, peer, psk = keys
    peer_line = f"wg0\t{peer}\t{psk if with_psk else '(none)'}\t192.168.50.3:51820\t10.42.1.0/24"
    dump = f"wg0\t{private}\t{public}\t51820\toff\n{peer_line}\t1733480000\t9\t7\t25\n"
    cleaned = redact(dump)
    assert private not in cleaned and psk not in cleaned
    parsed = parse_dump(cleaned)
    assert parsed.endpoints()[0].endpoint == "192.168.50.3:51820"
    assert parsed.allowed_ips() == {"wg0": [(peer, ["10.42.1.0/24"])]}


@pytest.mark.parametrize(
    "text",
    [
        "wg0 private-key hidden\n",
        "wg0\tnot-a-key\tAAAA\t51820\toff\n",
        "wg0\t(none)\t(none)\t51820\tsometimes\n",
        # a peer before its interface (a spliced output)
        "wg0\tMF5eQ4Z2ERpsUvQqAPRuAdqOSEZIB4Xgo+4OaywVviw=\t(none)\t(none)\t(none)\t0\t0\t0\toff\n",
        RAW_DUMP.replace("\t0\t0\t0\t", "\t0\tmany\t0\t", 1),
    ],
)
def test_what_is_not_a_dump_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_dump(text)


@settings(max_examples=150, deadline=None)
@given(at=st.integers(min_value=0, max_value=len(RAW_DUMP)), junk=st.text(max_size=12))
def test_cut_or_spliced_dumps_raise_only_parse_errors(at: int, junk: str) -> None:
    with contextlib.suppress(ParseError):
        parse_dump(redact(RAW_DUMP)[:at] + junk)


# -- collected from a host that prints its keys -----------------------------------------------------


class _HostWithWireGuard:
    """A Connection answering the collection batch as a node running WireGuard would: the dump with
    its private keys, empty JSON lists for the ip commands, nothing for the others."""

    def __init__(self, dump: str) -> None:
        self.host = "n1"
        self.dump = dump

    def _answer(self, command: str) -> CommandResult:
        if "wg show all dump" in command:
            return CommandResult(command, 0, self.dump.encode())
        if command.startswith("ip -j"):
            return CommandResult(command, 0, b"[]")
        return CommandResult(command, 0, b"")

    def run(self, command: str, timeout: float = 10.0, max_output: int = DEFAULT_MAX_OUTPUT) -> CommandResult:
        marker = re.search(r"(@@bgpdoctor-[0-9a-f]+)", command)
        if marker is None:
            return self._answer(command)
        return frame_batch(command, lambda _fact, cmd: self._answer(cmd))

    def close(self) -> None:
        """Nothing to close."""


def _looping_inventory() -> Inventory:
    return Inventory.model_validate(
        {
            "pod_cidr": "10.244.0.0/16",
            "hosts": {
                "n1": {"role": "node", "connect": {"local": True}},
                "n2": {
                    "role": "node",
                    "connect": {"local": True},
                    "addresses": ["192.168.50.2", "10.244.55.193"],
                },
            },
        }
    )


def test_no_wireguard_key_survives_collection_the_report_or_the_recording() -> None:
    inv = _looping_inventory()
    facts = collect_all(["n1"], inv, lambda _name: _HostWithWireGuard(RAW_DUMP), 5.0, lambda _m: None)
    stored = facts["n1"].outputs[WG_DUMP]
    assert stored.command == DUMP_CMD
    assert not [s for s in _secrets(RAW_DUMP) if s in stored.stdout]
    assert parse_dump(stored.stdout).endpoints()[-2].endpoint == "10.244.55.193:51820"

    collected = Collected(["n1"], facts, ActiveResults(), datetime.now(UTC), 0.0)
    report = evaluate(inv, "inventory.yaml", collected, RunOptions())
    found = next(d for d in report.diagnoses if d.root_cause == LOOP)  # the dump was read and quoted
    assert "10.244.55.193:51820" in found.summary
    dumped = report.model_dump_json()
    recording = recording_json(inv, "inventory.yaml", [], collected)
    decoded = [
        base64.b64decode(b).decode("utf-8", "replace")
        for b in re.findall(r'"stdout_b64": ?"([^"]*)"', recording)
    ]
    for text in (dumped, recording, *decoded):
        assert not [s for s in _secrets(RAW_DUMP) if s in text]
    assert any("MF5eQ4Z2ERpsUvQqAPRuAdqOSEZIB4Xgo+4OaywVviw=" in t for t in decoded)  # the dump was recorded


# -- the same judgement from the dump as from the older two outputs -------------------------------


def _evaluate(inv: Inventory, outputs: dict[str, dict[str, CommandResult]]) -> Report:
    facts = {n: HostFacts(n, inv.hosts[n], outputs=outputs.get(n, {}), contacted=True) for n in inv.hosts}
    return evaluate(
        inv,
        "inventory.yaml",
        Collected(list(inv.hosts), facts, ActiveResults(), datetime.now(UTC), 0.0),
        RunOptions(),
    )


def _judged(report: Report) -> list[tuple[str, list[str], str, list[str]]]:
    return [(d.root_cause, d.hosts, d.summary, [f.text for f in d.fixes]) for d in report.diagnoses]


def test_the_loop_is_found_the_same_from_the_dump_and_from_the_older_endpoints_output() -> None:
    inv = _looping_inventory()
    routes = CommandResult("ip -j route show table main", 0, b"[]")
    from_dump = _evaluate(
        inv, {"n1": {"ip.route": routes, WG_DUMP: CommandResult(DUMP_CMD, 0, redact(RAW_DUMP).encode())}}
    )
    endpoints = (WG / "show_all_endpoints_same_state.txt").read_bytes()
    older = _evaluate(
        inv, {"n1": {"ip.route": routes, WG_ENDPOINTS: CommandResult("wg show all endpoints", 0, endpoints)}}
    )
    assert LOOP in [d.root_cause for d in from_dump.diagnoses]
    assert _judged(from_dump) == _judged(older)
    unreadable = _evaluate(
        inv, {"n1": {"ip.route": routes, WG_DUMP: CommandResult(DUMP_CMD, 0, b"wg0\tgarbage\n")}}
    )
    result = next(r for r in unreadable.results if r.check == "tunnel-not-over-cni" and r.host == "n1")
    assert result.status == "unknown" and "could not read" in result.reason


def _recording_with_dumps(older: dict[str, Any]) -> dict[str, Any]:
    """The recording with each host's `wg show all allowed-ips` replaced by the dump wg prints for
    the same peers (interface line first, its private key already redacted)."""
    data: dict[str, Any] = json.loads(json.dumps(older))
    for h in data["hosts"].values():
        allowed = h["outputs"].pop("wg.allowed", None)
        if allowed is None:
            continue
        lines: list[str] = []
        for interface, peers in parse_wg_allowed_ips(
            base64.b64decode(allowed["stdout_b64"]).decode()
        ).items():
            lines.append(f"{interface}\t{REDACTED}\tpzRotBRoV92RFy8vq9MRKmEP9d8olVYSBKeY2R1WphU=\t51820\toff")
            lines += [
                f"{interface}\t{key}\t(none)\t(none)\t{','.join(ips) or '(none)'}\t0\t0\t0\toff"
                for key, ips in peers
            ]
        h["outputs"].pop(WG_ENDPOINTS, None)
        h["outputs"][WG_DUMP] = {
            **allowed,
            "command": DUMP_CMD,
            "stdout_b64": base64.b64encode(("\n".join(lines) + "\n").encode()).decode(),
        }
    return data


def test_the_recorded_wireguard_drop_is_judged_the_same_from_older_facts_and_from_the_dump(
    tmp_path: Path,
) -> None:
    older = REPO / "captures" / "runs" / "tunnel-drops-pod-cidr.json"
    newer = tmp_path / "with-dump.json"
    newer.write_text(json.dumps(_recording_with_dumps(json.loads(older.read_text()))))
    reports = []
    for path in (older, newer):
        inv, inv_path, nodes, collected = load_recording(path)
        reports.append(evaluate(inv, inv_path, collected, RunOptions(nodes=nodes)))
    assert "tunnel-drops-pod-cidr" in [d.root_cause for d in reports[0].diagnoses]
    assert _judged(reports[0]) == _judged(reports[1])
    found = next(d for d in reports[1].diagnoses if d.root_cause == "tunnel-drops-pod-cidr")
    assert any("wg show all dump" in e.command for e in found.evidence)
