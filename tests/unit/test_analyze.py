"""`bgpdoctor analyze` on the reference captures of the lab's faults (captures/pcaps, made by
scripts/make_reference_pcaps.py), on hostile files, and `run/replay --pcap-dir`.

Expected values were read by hand with ``tcpdump -nvr FILE`` (see captures/pcaps/README.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bgpdoctor.cli import main
from bgpdoctor.parsers import ParseError
from bgpdoctor.pcap import analyze as pcap_analyze
from bgpdoctor.pcap.analyze import UNANSWERED_CAUSES, analyze_pcap
from bgpdoctor.pcap.files import split_records

REPO = Path(__file__).resolve().parents[2]
PCAPS = REPO / "captures" / "pcaps"
PLAYBOOKS = REPO / "playbooks"


def _causes(name: str) -> list[str]:
    return [f.root_cause for f in analyze_pcap(PCAPS / name).findings]


def test_rst_to_syn_on_179_is_node_not_listening() -> None:
    a = analyze_pcap(PCAPS / "node-not-listening__yuuko-k8s.pcap")
    # tcpdump: 5 x "In IP 192.168.0.1.X > 192.168.0.81.179: Flags [S]" (ttl 1, mss 1460), each answered
    # by "Out IP 192.168.0.81.179 > 192.168.0.1.X: Flags [R.]"
    [attempt] = a.attempts
    assert (attempt.src, attempt.dst, attempt.syns, attempt.rsts, attempt.syn_acks) == (
        "192.168.0.1",
        "192.168.0.81",
        5,
        5,
        0,
    )
    assert (attempt.ttl, attempt.mss, attempt.md5, attempt.arrived) == ([1], [1460], "none", True)
    assert [(f.root_cause, f.alternatives) for f in a.findings] == [("node-not-listening", ["speaker-down"])]


def test_notification_bad_peer_as_is_asn_mismatch_and_opens_are_decoded() -> None:
    a = analyze_pcap(PCAPS / "asn-mismatch__router-home.pcap")
    # tcpdump -v: "Open Message ... my AS 64514, Holdtime 9s, ID 192.168.0.81 ... 32-Bit AS Number (65)"
    # and "Notification Message (3) ... OPEN Message Error (2), subcode Bad Peer AS (2)"
    opens = {o.src: o for o in a.opens}
    gobgp, bird = opens["192.168.0.81"], opens["192.168.0.1"]
    assert (gobgp.asn, gobgp.hold_time, gobgp.router_id, gobgp.version) == (64514, 9, "192.168.0.81", 4)
    assert gobgp.capabilities == ["route-refresh", "fqdn", "multiprotocol", "4-byte-as", "extended-nexthop"]
    assert (bird.asn, bird.router_id) == (64515, "192.168.191.10")
    assert bird.capabilities == [
        "multiprotocol",
        "route-refresh",
        "graceful-restart",
        "4-byte-as",
        "enhanced-route-refresh",
        "long-lived-graceful-restart",
    ]
    [note] = a.notifications  # the session was tried twice: the same NOTIFICATION twice
    assert (note.src, note.dst, note.code, note.subcode, note.error, note.detail, note.count) == (
        "192.168.0.1",
        "192.168.0.81",
        2,
        2,
        "OPEN Message Error",
        "Bad Peer AS",
        2,
    )
    assert (gobgp.count, a.messages["open"], a.messages["notification"]) == (2, 4, 2)
    [finding] = a.findings
    assert finding.root_cause == "asn-mismatch"
    assert "AS 64514" in finding.reason


def test_a_healthy_session_restart_points_to_no_root_cause() -> None:
    a = analyze_pcap(PCAPS / "healthy__router-home.pcap")
    # `birdc restart router_mine`: Cease/Administrative Reset, a new SYN answered, both OPENs, UPDATEs
    assert a.findings == []
    assert [(n.code, n.subcode, n.detail) for n in a.notifications] == [(6, 4, "Administrative Reset")]
    assert sorted((o.src, o.asn) for o in a.opens) == [("192.168.191.10", 64515), ("192.168.191.12", 64513)]
    [attempt] = a.attempts
    assert (attempt.syns, attempt.syn_acks, attempt.mss) == (1, 1, [1380])
    # tcpdump -S -nv, each message counted once per (src, dst, seq) as -i any shows copies: 2 Open,
    # 4 Update, 1 Notification, 39 Keepalive
    assert a.messages == {"open": 2, "update": 4, "notification": 1, "keepalive": 39, "route-refresh": 0}


def test_syns_that_reach_a_host_which_drops_them_point_to_md5_first() -> None:
    a = analyze_pcap(PCAPS / "md5-mismatch__router-home.pcap")
    # tcpdump: 2 SYNs "In IP 192.168.0.81.X > 192.168.0.1.179: Flags [S]" (ttl 1, no md5 option),
    # retransmitted, no [S.] and no [R.] back
    [attempt] = a.attempts
    assert (attempt.syn_acks, attempt.rsts, attempt.md5, attempt.arrived) == (0, 0, "none", True)
    assert attempt.unanswered == attempt.syns == 2
    [finding] = a.findings
    assert finding.root_cause == "md5-mismatch"
    assert finding.alternatives == ["bgp-port-filtered", "ebgp-multihop-missing"]


def _made(fault: str) -> dict[str, object]:
    """What scripts/make_reference_pcaps.py recorded about one reference capture (made.json)."""
    made: list[dict[str, object]] = json.loads((PCAPS / "made.json").read_text())
    return next(m for m in made if m["fault"] == fault)


def test_syns_never_answered_are_a_filtered_path() -> None:
    a = analyze_pcap(PCAPS / "bgp-filtered-unseen__router-home.pcap")
    # tcpdump: "192.168.191.10.X > 192.168.191.12.179: Flags [S]" (ttl 1), nothing comes back
    [attempt] = a.attempts
    assert (attempt.src, attempt.dst, attempt.syn_acks, attempt.rsts, attempt.arrived) == (
        "192.168.191.10",
        "192.168.191.12",
        0,
        0,
        False,
    )
    assert attempt.unanswered == attempt.syns == 5  # 5 source ports, each SYN retransmitted
    [finding] = a.findings
    assert finding.root_cause == "bgp-filtered-unseen"
    # sent with TTL 1 by its own speaker: from the sender's side the wire cannot tell these apart
    assert finding.alternatives == ["md5-mismatch", "bgp-port-filtered", "ebgp-multihop-missing"]


def test_ttl_1_arriving_at_a_router_on_the_way_is_multihop_missing() -> None:
    path = PCAPS / "ebgp-multihop-missing__router-home.pcap"
    # tcpdump: "In IP 192.168.0.81.X > 192.168.6.1.179: Flags [S]" with ttl 1 on router-home, which
    # is not 192.168.6.1 (router-mine): never forwarded, never answered
    alone = analyze_pcap(path)
    assert alone.findings[0].root_cause == "md5-mismatch"  # the file alone: this host or the next?
    assert "ebgp-multihop-missing" in alone.findings[0].alternatives
    own = frozenset(_made("ebgp-multihop-missing")["host_addresses"])  # type: ignore[arg-type]
    assert "192.168.6.1" not in own
    placed = analyze_pcap(path, addresses=own)
    assert [(e.src, e.dst, e.packets, e.kinds) for e in placed.ttl_expired] == [
        ("192.168.0.81", "192.168.6.1", 3, ["SYN"])
    ]
    assert [f.root_cause for f in placed.findings] == ["ebgp-multihop-missing"]
    done = CliRunner().invoke(main, ["analyze", str(path), *(f"--address={a}" for a in sorted(own))])
    assert "=> ebgp-multihop-missing" in done.stdout and done.exit_code == 1


def test_the_destination_dropping_syns_itself_is_md5_or_a_filter_never_multihop() -> None:
    own = frozenset(_made("md5-mismatch")["host_addresses"])  # type: ignore[arg-type]
    assert "192.168.0.1" in own
    a = analyze_pcap(PCAPS / "md5-mismatch__router-home.pcap", addresses=own)
    assert a.ttl_expired == []
    assert [(f.root_cause, f.alternatives) for f in a.findings] == [("md5-mismatch", ["bgp-port-filtered"])]


def test_every_root_cause_analyze_names_is_a_playbook_and_silent_drops_follow_their_priority() -> None:
    priority = {p.stem: yaml.safe_load(p.read_text())["priority"] for p in PLAYBOOKS.glob("*.yaml")}
    named = pcap_analyze.ROOT_CAUSES | set(pcap_analyze._NOTIFICATION_CAUSES.values())
    assert named <= set(priority), named - set(priority)
    assert sorted(UNANSWERED_CAUSES, key=priority.__getitem__) == UNANSWERED_CAUSES
    for path in sorted(PCAPS.glob("*.pcap")):
        for f in analyze_pcap(path).findings:
            assert {f.root_cause, *f.alternatives} <= named, path.name


def test_analyze_cli_json_and_exit_codes() -> None:
    runner = CliRunner()
    done = runner.invoke(main, ["analyze", str(PCAPS / "asn-mismatch__router-home.pcap"), "-o", "json"])
    assert done.exit_code == 1, done.output
    [result] = json.loads(done.stdout)
    assert result["findings"][0]["root_cause"] == "asn-mismatch"
    assert result["notifications"][0]["detail"] == "Bad Peer AS"
    healthy = runner.invoke(main, ["analyze", str(PCAPS / "healthy__router-home.pcap")])
    assert healthy.exit_code == 0
    assert "nothing on the wire points to a root cause" in healthy.stdout
    assert "OPEN 192.168.191.12 -> 192.168.191.10: AS 64513, hold time 9" in healthy.stdout


def test_max_packets_bounds_the_work() -> None:
    a = analyze_pcap(PCAPS / "healthy__router-home.pcap", max_packets=5)
    assert (a.packets, a.cut_short) == (5, True)


# --- hostile files: one line naming the file, exit 2, never a traceback ---------------------------


def _pcap_with(records: list[bytes], linktype: int = 1) -> bytes:
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    return header + b"".join(struct.pack("<IIII", 0, 0, len(r), len(r)) + r for r in records)


def _hostile() -> dict[str, bytes]:
    good = (PCAPS / "asn-mismatch__router-home.pcap").read_bytes()
    return {
        "garbage.pcap": os.urandom(4096),
        "empty.pcap": b"",
        "magic-only.pcap": good[:4],
        "half-header.pcap": good[:13],
        "pcapng-garbage.pcap": b"\x0a\x0d\x0d\x0a" + os.urandom(200),
    }


def _one_error_line(stderr: str, path: Path) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"bgpdoctor: {path}: "), lines[0]
    assert "Traceback" not in stderr


def test_unreadable_captures_cost_one_line_each_and_the_good_ones_are_still_read(tmp_path: Path) -> None:
    runner = CliRunner()
    for name, data in _hostile().items():
        path = tmp_path / name
        path.write_bytes(data)
        done = runner.invoke(main, ["analyze", str(path), str(PCAPS / "node-not-listening__yuuko-k8s.pcap")])
        assert done.exit_code == 2, (name, done.output)
        _one_error_line(done.stderr, path)
        assert "node-not-listening" in done.stdout, name


def test_damaged_but_readable_captures_never_crash(tmp_path: Path) -> None:
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether

    good = (PCAPS / "asn-mismatch__router-home.pcap").read_bytes()
    header = good[:24]
    cases = {
        "cut-mid-record.pcap": good[: len(good) // 2 + 7],
        "header-only.pcap": header,
        "huge-caplen.pcap": header + struct.pack("<IIII", 0, 0, 0xFFFFFFFF, 60) + good[40:],
        "unknown-linktype.pcap": good[:20] + struct.pack("<I", 147) + good[24:],
        "tcp-header-cut.pcap": _pcap_with(
            [bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2", proto=6) / b"\x00\xb3")]
        ),
    }
    runner = CliRunner()
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        done = runner.invoke(main, ["analyze", str(path)])
        assert done.exit_code in (0, 1, 2), (name, done.output)
        assert "Traceback" not in done.output + done.stderr, name
        if done.exit_code == 2:
            _one_error_line(done.stderr, path)


def test_a_huge_capture_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "huge.pcap"
    with path.open("wb") as f:
        f.truncate(pcap_analyze.MAX_FILE_BYTES + 1)  # sparse: costs no disk
    started = time.monotonic()
    done = CliRunner().invoke(main, ["analyze", str(path)])
    assert time.monotonic() - started < 2
    assert done.exit_code == 2
    _one_error_line(done.stderr, path)
    assert "more than 256 MiB" in done.stderr


def test_malformed_bgp_messages_are_counted_not_fatal(tmp_path: Path) -> None:
    """An OPEN whose optional parameters lie about their length, and a NOTIFICATION cut short."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    marker = b"\xff" * 16
    bad_open = (
        marker + struct.pack("!HB", 29, 1) + bytes([4]) + b"\xfc\x02\x00\x09" + b"\x0a\x00\x00\x01" + b"\xff"
    )
    short_note = marker + struct.pack("!HB", 19, 3)
    packets = [
        Ether()
        / IP(src="10.0.0.1", dst="10.0.0.2", ttl=1)
        / TCP(sport=40000, dport=179, flags="PA")
        / bad_open,
        Ether()
        / IP(src="10.0.0.2", dst="10.0.0.1", ttl=1)
        / TCP(sport=179, dport=40000, flags="PA")
        / short_note,
    ]
    path = tmp_path / "malformed-bgp.pcap"
    wrpcap(str(path), packets)
    a = analyze_pcap(path)
    assert (a.messages["open"], a.messages["notification"]) == (1, 1)
    assert a.notifications == []  # too short to hold a code and subcode


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_reference_captures_give_an_analysis_or_a_parse_error(
    tmp_path: Path, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(p.name for p in PCAPS.glob("*.pcap"))))
    blob = bytearray((PCAPS / name).read_bytes())
    for _ in range(data.draw(st.integers(1, 20))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    blob = blob[: data.draw(st.integers(0, len(blob)))]
    path = tmp_path / "mutated.pcap"
    path.write_bytes(bytes(blob))
    with contextlib.suppress(ParseError):
        analyze_pcap(path, max_packets=500)


# --- run / replay --pcap-dir --------------------------------------------------------------------


def _tcpdump_count(path: Path) -> int:
    done = subprocess.run(["tcpdump", "-nr", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return len(done.stdout.splitlines())


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_replay_pcap_dir_writes_files_tcpdump_reads_and_the_report_links_them(tmp_path: Path) -> None:
    out = tmp_path / "pcaps"
    report_path = tmp_path / "report.json"
    recording = REPO / "captures" / "runs" / "node-not-listening.json"
    done = CliRunner().invoke(
        main, ["replay", str(recording), "--pcap-dir", str(out), "--report", str(report_path)]
    )
    assert done.exit_code == 1, done.output
    captures = json.loads(report_path.read_text())["captures"]
    recorded = json.loads(recording.read_text())["active"]["captures"]
    whole = {c["host"]: c for c in captures if c["session"] is None}
    assert set(whole) == set(recorded)
    for c in captures:
        path = Path(c["path"])
        assert path.parent == out and path.stat().st_size == c["bytes"]
        assert _tcpdump_count(path) == c["packets"]
        assert c["path"] in done.stdout  # the text report shows where they are
    by_session = {(c["host"], c["session"]): c for c in captures if c["session"]}
    # router-home dials yuuko-k8s (192.168.0.81): its session file holds those SYNs
    session = by_session[("router-home", "router-home<->yuuko-k8s")]
    assert 0 < session["packets"] <= whole["router-home"]["packets"]
    assert Path(session["path"]).name == "router-home__router-home--yuuko-k8s.pcap"
    syns = subprocess.run(
        ["tcpdump", "-nr", session["path"], "dst port 179"], capture_output=True, text=True, check=True
    ).stdout
    assert syns and all("> 192.168.0.81.179" in line for line in syns.splitlines())


def test_a_recorded_capture_is_written_byte_for_byte(tmp_path: Path) -> None:
    recording = REPO / "captures" / "runs" / "node-not-listening.json"
    CliRunner().invoke(main, ["replay", str(recording), "--pcap-dir", str(tmp_path), "-o", "json"])
    import base64

    for host, b64 in json.loads(recording.read_text())["active"]["captures"].items():
        assert (tmp_path / f"{host}.pcap").read_bytes() == base64.b64decode(b64)


def test_a_pcap_dir_that_cannot_be_made_costs_the_files_not_the_report(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    recording = REPO / "captures" / "runs" / "node-not-listening.json"
    done = CliRunner().invoke(
        main, ["replay", str(recording), "--pcap-dir", str(blocker / "sub"), "-o", "json"]
    )
    assert done.exit_code == 1
    assert json.loads(done.stdout)["diagnoses"]
    assert "--pcap-dir" in done.stderr and "Traceback" not in done.stderr


def test_split_records_drops_a_record_cut_short() -> None:
    data = (PCAPS / "node-not-listening__yuuko-k8s.pcap").read_bytes()
    whole = split_records(data)
    assert len(whole.records) == 10  # tcpdump -nr lists 10 packets
    cut = split_records(data[:-5])
    assert len(cut.records) == 9 and cut.linktype == whole.linktype == 276
    with pytest.raises(ValueError):
        split_records(b"not a pcap at all, really")


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_the_run_capture_filter_keeps_syns_rsts_and_bgp_messages_not_pure_acks(tmp_path: Path) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    from bgpdoctor.probes.capture import SYN_FILTER

    keepalive = b"\xff" * 16 + struct.pack("!HB", 19, 4)
    flow = Ether() / IP(src="10.0.0.1", dst="10.0.0.2")
    packets = [
        flow / TCP(sport=40000, dport=179, flags="S"),
        flow / TCP(sport=179, dport=40001, flags="RA"),
        flow / TCP(sport=40000, dport=179, flags="PA") / keepalive,
        flow / TCP(sport=40000, dport=179, flags="A"),
        flow / TCP(sport=40000, dport=179, flags="FA"),
        flow / TCP(sport=40000, dport=22, flags="S"),
    ]
    path = tmp_path / "flags.pcap"
    wrpcap(str(path), packets)
    kept = subprocess.run(
        ["tcpdump", "-nr", str(path), SYN_FILTER], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert [line.split("Flags ")[1].split(",")[0] for line in kept] == ["[S]", "[R.]", "[P.]", "[F.]"]


def test_the_markdown_report_lists_the_pcap_files(tmp_path: Path) -> None:
    recording = REPO / "captures" / "runs" / "node-not-listening.json"
    done = CliRunner().invoke(main, ["replay", str(recording), "--pcap-dir", str(tmp_path), "-o", "md"])
    assert "## Packet captures" in done.stdout
    assert f"`{tmp_path / 'router-home__router-home--yuuko-k8s.pcap'}`" in done.stdout


def test_pcapng_and_ipv6_on_ethernet_are_read(tmp_path: Path) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcapng

    packets = [
        Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=4000, dport=179, flags="S", seq=10),
        Ether() / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=179, dport=4000, flags="RA", ack=11),
        Ether() / IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=4001, dport=179, flags="S", seq=20),
        Ether() / IPv6(src="fd00::2", dst="fd00::1") / TCP(sport=179, dport=4001, flags="RA", ack=21),
    ]
    path = tmp_path / "ethernet.pcapng"
    wrpcapng(str(path), packets)
    a = analyze_pcap(path)
    assert [(t.src, t.dst, t.rsts, t.arrived) for t in a.attempts] == [
        ("10.0.0.1", "10.0.0.2", 1, False),
        ("fd00::1", "fd00::2", 1, False),
    ]
    assert [f.root_cause for f in a.findings] == ["node-not-listening", "node-not-listening"]


# --- a middlebox that lets the handshake through and damages BGP's segments (calico#4059) ---------


def _session_with_damaged_opens(opens_acked: bool = False, cut_to: int | None = None) -> list[bytes]:
    """A handshake 10.0.0.1 -> 10.0.0.2:179 that completes, then each end's OPEN three times (an
    RTO apart) with a bad TCP checksum, the one-byte-off damage an old router does; the receiver
    acknowledges them only when `opens_acked` (a checksum left to the NIC: healthy)."""
    from scapy.contrib.bgp import BGPHeader, BGPOpen
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    def open_of(asn: int, router_id: str) -> bytes:
        return bytes(BGPHeader(type=1) / BGPOpen(my_as=asn, hold_time=240, bgp_id=router_id))

    def a(ip_id: int = 1) -> Any:
        return Ether() / IP(src="10.0.0.1", dst="10.0.0.2", id=ip_id)

    def b(ip_id: int = 1) -> Any:
        return Ether() / IP(src="10.0.0.2", dst="10.0.0.1", id=ip_id)

    open_a, open_b = open_of(64512, "10.0.0.1"), open_of(64513, "10.0.0.2")
    packets = [
        a() / TCP(sport=40000, dport=179, flags="S", seq=1000),
        b() / TCP(sport=179, dport=40000, flags="SA", seq=5000, ack=1001),
        a() / TCP(sport=40000, dport=179, flags="A", seq=1001, ack=5001),
    ]
    for attempt in range(3):
        tcp_a = TCP(sport=40000, dport=179, flags="PA", seq=1001, ack=5001, chksum=0xBAD0)
        tcp_b = TCP(sport=179, dport=40000, flags="PA", seq=5001, ack=1001, chksum=0xBAD1)
        packets += [a(10 + attempt) / tcp_a / open_a, b(20 + attempt) / tcp_b / open_b]
    if opens_acked:
        acked = TCP(sport=179, dport=40000, flags="A", seq=5001, ack=1001 + len(open_a))
        packets = [*packets[:4], b() / acked]
    records = [bytes(p) for p in packets]
    return [r[:cut_to] if cut_to and len(r) > 60 else r for r in records]


def test_bgp_segments_damaged_after_a_completed_handshake_are_a_filter_on_the_path(tmp_path: Path) -> None:
    path = tmp_path / "calico-4059.pcap"
    path.write_bytes(_pcap_with(_session_with_damaged_opens()))
    a = analyze_pcap(path)
    [attempt] = a.attempts
    assert (attempt.syns, attempt.syn_acks, attempt.unanswered) == (1, 1, 0)  # the handshake completed
    assert [(c.src, c.dst, c.segments, c.sent, c.messages) for c in a.corrupted] == [
        ("10.0.0.1", "10.0.0.2", 1, 3, ["open"]),
        ("10.0.0.2", "10.0.0.1", 1, 3, ["open"]),
    ]
    assert [(f.root_cause, f.alternatives) for f in a.findings] == [
        ("bgp-filtered-unseen", ["bgp-port-filtered"]),
        ("bgp-filtered-unseen", ["bgp-port-filtered"]),
    ]
    assert a.findings[0].reason == (
        "the TCP handshake between 10.0.0.1 and 10.0.0.2 completed, but 3 BGP segment(s) (OPEN) from "
        "10.0.0.1 arrived with a bad TCP checksum, were sent again and never acknowledged by 10.0.0.2: "
        "a device on the path damages BGP's segments"
    )
    text = pcap_analyze.render_text(a)
    assert "bad TCP checksum, never acknowledged: 3 segment(s) from 10.0.0.1 to 10.0.0.2 (open)" in text
    done = CliRunner().invoke(main, ["analyze", str(path), "-o", "json"])
    assert [f["root_cause"] for f in json.loads(done.stdout)[0]["findings"]] == ["bgp-filtered-unseen"] * 2


def test_a_bad_checksum_the_peer_acknowledges_is_checksum_offload_not_a_fault(tmp_path: Path) -> None:
    # captured on the sender before its NIC filled the checksum in: the peer got the OPEN whole
    path = tmp_path / "offload.pcap"
    path.write_bytes(_pcap_with(_session_with_damaged_opens(opens_acked=True)))
    a = analyze_pcap(path)
    assert (a.corrupted, a.findings) == ([], [])


def test_checksums_of_segments_cut_by_the_snap_length_are_not_judged(tmp_path: Path) -> None:
    path = tmp_path / "snaplen.pcap"
    path.write_bytes(_pcap_with(_session_with_damaged_opens(cut_to=80)))
    a = analyze_pcap(path)
    assert a.messages["open"] == 6  # counted, as a cut message is, and not called damaged
    assert (a.corrupted, a.findings) == ([], [])


def test_damaged_segments_without_the_handshake_in_the_capture_are_not_judged(tmp_path: Path) -> None:
    path = tmp_path / "midstream.pcap"
    path.write_bytes(_pcap_with(_session_with_damaged_opens()[3:]))
    assert analyze_pcap(path).findings == []


def test_the_tcp_checksum_is_verified_as_the_kernel_computes_it() -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6

    from bgpdoctor.pcap.wire import tcp_checksum_ok

    for ip in (IP(src="10.0.0.1", dst="10.0.0.2"), IPv6(src="fd00::1", dst="fd00::2")):
        built = ip / TCP(sport=1, dport=179, flags="PA") / (b"\xff" * 19)
        good = bytes(type(ip)(bytes(built))[TCP])
        src, dst = str(ip.src), str(ip.dst)
        assert tcp_checksum_ok(src, dst, good)
        assert not tcp_checksum_ok(src, dst, good[:-1] + b"\xfe")
        assert not tcp_checksum_ok(dst, src[:-1] + "3", good)
