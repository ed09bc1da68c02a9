"""The fixes of one diagnosis: one for every subject it groups, each in its host's own syntax.

One diagnosis groups every subject with the same root cause and culprit. Two receivers of one
sender each need their own change, so the fixes are rendered for every subject, not only for the
one the summary speaks for; fixes that change the same thing are listed once. A fix in a daemon's
syntax goes only to a host that runs that daemon (the inventory's `speaker`): BIRD on an FRR router
is no fix. Replayed from recorded runs on real daemons (tests/fixtures/recordings).
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bgpdoctor.engine.judge import group_fixes
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.rules import PlaybookDef, load_playbooks
from bgpdoctor.engine.run import RunOptions, _fixes_for_what_runs_there, evaluate
from bgpdoctor.engine.subject import Subject
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.report.model import Diagnosis, FixSnippet, Report

ROOT = Path(__file__).resolve().parents[1].parent
RECORDINGS = ROOT / "tests" / "fixtures" / "recordings"
BIRD16 = Path("/opt/bgpdoctor/bird16/usr/sbin/bird")


def _replay(path: Path, tmp_path: Path | None = None) -> tuple[Report, Inventory]:
    if path.suffix == ".gz":
        assert tmp_path is not None
        plain = tmp_path / path.stem
        plain.write_bytes(gzip.decompress(path.read_bytes()))
        path = plain
    inv, inv_path, nodes, collected = load_recording(path)
    return evaluate(inv, inv_path, collected, RunOptions(nodes=nodes)), inv


def _one(report: Report, cause: str) -> Diagnosis:
    [d] = [d for d in report.diagnoses if d.root_cause == cause]
    return d


def _where(d: Diagnosis) -> list[tuple[str, str | None]]:
    return [(f.platform, f.host) for f in d.fixes]


def test_two_receivers_of_one_sender_each_get_their_own_fix_in_their_own_syntax() -> None:
    """node1 sends IPv6 over its IPv4 sessions to BIRD 2 on bird1 and FRR on frr1. Before, the
    diagnosis gave bird1's fix only (and an FRR one for bird1): frr1 stayed broken after it."""
    report, _ = _replay(RECORDINGS / "ipv6_over_ipv4_receivers.json")
    d = _one(report, "afi-capability-mismatch")
    assert d.hosts == ["node1"]
    assert _where(d) == [("bird2", "bird1"), ("frr", "frr1"), ("gobgp", "node1"), ("gobgp", "node1")]
    bird, frr, *gobgp = d.fixes
    # node1's change goes into each of its two neighbors (before: a target naming an undefined value)
    assert [f.target for f in gobgp] == ["neighbor 10.213.77.1", "neighbor 10.213.78.1"]
    # each receiver's own neighbor address, as its session in the recording has it
    assert "neighbor is 10.213.77.2" in bird.text
    assert "no neighbor 10.213.78.2 activate" in frr.text
    assert "10.213.77.2" not in frr.text


def test_a_check_on_every_receiver_is_asked_of_each() -> None:
    report, _ = _replay(RECORDINGS / "ipv6_link_local_next_hop_receivers.json")
    d = _one(report, "ipv6-link-local")
    assert sorted(f.host or "" for f in d.fixes) == ["bird1", "frr1"]


def test_fixes_that_differ_only_in_comments_or_need_one_place_are_given_once() -> None:
    """The lab's black hole, seen from both directions: the same segment repair (its comment says
    which way the packets went) and one MSS clamp, where each direction offered one on its own router."""
    report, _ = _replay(ROOT / "captures" / "runs" / "mtu-blackhole.json")
    d = _one(report, "mtu-blackhole")
    linux = [f for f in d.fixes if f.platform == "linux"]
    assert [(f.host, f.text.splitlines()[-1]) for f in linux] == [
        ("router-home", "ip link set dev zt0 mtu 1380")
    ]
    assert len([f for f in d.fixes if "maxseg" in f.text]) == 1


def test_a_bird_16_transit_gets_a_bird_16_fix_that_bird_16_accepts(tmp_path: Path) -> None:
    """Scenario 1027's transit ez19 runs BIRD 1.6 and expects the wrong AS. Before, its fix was a
    BIRD 2 block (`ipv4 { ... }` is no BIRD 1.6 syntax)."""
    report, inv = _replay(RECORDINGS / "scenarios" / "seed1027_asn_mismatch_on_transit.json.gz", tmp_path)
    assert inv.hosts["ez19"].speaker == "bird1"
    d = _one(report, "asn-mismatch")
    assert [w for w in _where(d) if w[1] == "ez19"] == [("bird1", "ez19")]
    [fix] = [f for f in d.fixes if f.host == "ez19"]
    assert "neighbor 172.28.100.18 as 4273258971;" in fix.text and "ipv4 {" not in fix.text
    if not BIRD16.exists() or not shutil.which("true"):
        pytest.skip("BIRD 1.6 not installed (scripts/install-deps.sh)")
    conf = tmp_path / "bird.conf"
    conf.write_text("router id 192.0.2.1;\nprotocol device {}\n" + fix.text + "\n")
    proc = subprocess.run([str(BIRD16), "-p", "-c", str(conf)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def _playbook(fixes: list[dict[str, object]]) -> PlaybookDef:
    return PlaybookDef.model_validate(
        {
            "id": "test-cause",
            "title": "t",
            "subject": "session",
            "match": [{"fact": "broken", "op": "eq", "value": True}],
            "culprit": "{{ culprit }}",
            "summary": "s",
            "explanation": "e",
            "fixes": fixes,
        }
    )


def _subject(label: str, **facts: object) -> Subject:
    s = Subject(kind="session", label=label, hosts=[str(facts["culprit"])], related=[])
    for name, value in facts.items():
        s.add(name, value)
    return s


def test_group_fixes_keeps_each_change_once_and_a_once_fix_from_the_first_subject() -> None:
    pb = _playbook(
        [
            {
                "platform": "frr",
                "title": "neighbor {{ neighbor }}",
                "host": "{{ culprit }}",
                "template": (
                    "# seen on {{ seen }}\nrouter bgp 65001\n neighbor {{ neighbor }} remote-as 65002\nexit"
                ),
            },
            {
                "platform": "nftables",
                "title": "clamp",
                "host": "{{ router }}",
                "once": True,
                "template": "clamp on {{ router }}",
            },
        ]
    )
    subjects = [
        _subject("r<->a", culprit="r", neighbor="10.0.0.1", seen="a", router="gw1"),
        _subject("r<->b", culprit="r", neighbor="10.0.0.2", seen="b", router="gw2"),
        _subject("r<->a again", culprit="r", neighbor="10.0.0.1", seen="c", router="gw3"),
    ]
    fixes = group_fixes(pb, subjects)
    assert [(f.platform, f.title, f.host) for f in fixes] == [
        ("frr", "neighbor 10.0.0.1", "r"),
        ("frr", "neighbor 10.0.0.2", "r"),
        ("nftables", "clamp", "gw1"),
    ]
    # the first subject's words stand for a change listed once
    assert fixes[0].text.startswith("# seen on a\n")
    # a value the first subject lacks shows in brackets; another subject lacking one adds nothing
    lacking = _subject("r<->c", culprit="r", seen="d", router="gw4")
    texts = [f.text for f in group_fixes(pb, [lacking, *subjects]) if f.platform == "frr"]
    assert len(texts) == 3 and "is undefined" in texts[0]
    texts = [f.text for f in group_fixes(pb, [*subjects, lacking]) if f.platform == "frr"]
    assert len(texts) == 2 and not [t for t in texts if "is undefined" in t]


def test_frr_comments_with_a_bang_are_comments_too() -> None:
    pb = _playbook(
        [
            {
                "platform": "frr",
                "title": "t",
                "host": "r",
                "template": "! seen on {{ seen }}\nrouter bgp 1\nexit",
            }
        ]
    )
    subjects = [_subject("a", culprit="r", seen="a"), _subject("b", culprit="r", seen="b")]
    assert [f.text for f in group_fixes(pb, subjects)] == ["! seen on a\nrouter bgp 1\nexit"]


def _inventory(speakers: dict[str, str]) -> Inventory:
    return Inventory.model_validate(
        {
            "hosts": {
                name: {"role": "router", "speaker": speaker, "asn": 65000 + i, "connect": {"local": True}}
                for i, (name, speaker) in enumerate(speakers.items())
            }
        }
    )


def _fix(platform: str, host: str | None) -> FixSnippet:
    return FixSnippet(platform=platform, title=f"{platform} on {host}", host=host, text="x")


def _kept(fixes: list[FixSnippet], inv: Inventory) -> list[tuple[str, str | None]]:
    d = Diagnosis(
        root_cause="c", title="t", rank=1, summary="s", explanation="e", hosts=[], evidence=[],
        proven_by=[], symptoms=[], fixes=fixes,
    )  # fmt: skip
    _fixes_for_what_runs_there([d], inv)
    return _where(d)


def test_a_fix_goes_to_a_host_that_runs_its_daemon() -> None:
    inv = _inventory({"b2": "bird2", "b1": "bird1", "f": "frr", "g": "gobgp", "plain": "none"})
    given = [
        _fix("bird2", "b2"), _fix("frr", "b2"), _fix("gobgp", "b2"),
        _fix("bird2", "f"), _fix("frr", "f"),
        _fix("bird2", "plain"), _fix("frr", "plain"),
        _fix("sysctl", "f"), _fix("cilium", None), _fix("bird2", None),
        _fix("bird2", "g"), _fix("gobgp", "g"),
        _fix("routeros", "f"),
    ]  # fmt: skip
    assert _kept(given, inv) == [
        ("bird2", "b2"),
        ("frr", "f"),
        ("bird2", "plain"),  # the inventory does not say what it runs: every alternative stays
        ("frr", "plain"),
        ("sysctl", "f"),
        ("cilium", None),
        ("bird2", None),
        ("gobgp", "g"),
    ]


def test_bird_16_takes_a_bird_2_fix_only_when_the_playbook_has_none_of_its_own() -> None:
    inv = _inventory({"old": "bird1"})
    assert _kept([_fix("bird2", "old"), _fix("frr", "old")], inv) == [("bird2", "old")]
    assert _kept([_fix("bird2", "old"), _fix("bird1", "old")], inv) == [("bird1", "old")]


def test_every_bgp_playbook_with_a_bird_2_fix_offers_frr_and_gobgp_where_a_session_end_is_at_fault() -> None:
    """The causes of a session's own configuration (the AS, the neighbor, the password) can sit on
    any daemon's end: each has a fix for BIRD, FRR and GoBGP, so no end is left without one."""
    by_id = {pb.id: pb for pb in load_playbooks()}
    for cause in ("asn-mismatch", "peer-not-configured", "md5-mismatch"):
        platforms = {f.platform for f in by_id[cause].fixes}
        assert {"bird2", "frr", "gobgp"} <= platforms, (cause, platforms)


def _as_speaker(path: Path, host: str, speaker: str, tmp_path: Path) -> Path:
    """The same recorded run with `host` declared another daemon in the inventory."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data["inventory"]["hosts"][host]["speaker"] = speaker
    data["inventory"]["hosts"][host].pop("control_socket", None)
    changed = tmp_path / f"{path.stem}-{host}-{speaker}.json"
    changed.write_text(json.dumps(data), encoding="utf-8")
    return changed


def test_an_frr_router_passing_on_unresolvable_next_hops_gets_next_hop_self_for_its_neighbor(
    tmp_path: Path,
) -> None:
    """cn-ns (BIRD) cannot resolve the next hops gateway passes on. With BIRD on gateway the fix is
    its `next hop self`; with FRR there, FRR's own, for the neighbor that is cn-ns, in gateway's AS,
    both as cn-ns's BIRD shows the session (before: the BIRD line only, dropped for an FRR host)."""
    recorded = ROOT / "captures" / "runs" / "bgp-next-hop-unreachable.json"
    report, _ = _replay(recorded)
    assert _where(_one(report, "bgp-next-hop-unreachable")) == [("bird2", "gateway")]
    report, _ = _replay(_as_speaker(recorded, "gateway", "frr", tmp_path))
    d = _one(report, "bgp-next-hop-unreachable")
    assert _where(d) == [("frr", "gateway")]
    lines = [line.strip() for line in d.fixes[0].text.splitlines()]
    assert lines[1:] == [
        "router bgp 64512",
        "address-family ipv4 unicast",
        "neighbor 10.255.100.2 next-hop-self force",  # cn-ns's address on its session with gateway
        "exit-address-family",
        "exit",
    ]


ALL_RECORDED = [
    *sorted((ROOT / "captures" / "runs").rglob("*.json")),
    *sorted(RECORDINGS.glob("*.json")),
    *sorted((RECORDINGS / "scenarios").glob("*.json.gz")),
]


@pytest.mark.parametrize("path", ALL_RECORDED, ids=lambda p: p.name)
def test_no_diagnosis_of_a_recorded_run_prints_a_value_it_lacks(path: Path, tmp_path: Path) -> None:
    """Every text of every diagnosis, rendered for every subject it groups, has its values: no
    "[... is undefined]" in a summary, a next step, or a fix's title, host, place or text."""
    report, _ = _replay(path, tmp_path)
    for d in report.diagnoses:
        texts = [d.summary, *d.next_steps]
        texts += [t for f in d.fixes for t in (f.title, f.host or "", f.target or "", f.text)]
        assert not [t for t in texts if "is undefined" in t], (d.root_cause, texts)


def _peer_not_configured_on(role: str, tmp_path: Path) -> Diagnosis:
    data = json.loads((ROOT / "captures" / "runs" / "peer-not-configured.json").read_text())
    data["inventory"]["hosts"]["router-home"]["role"] = role
    path = tmp_path / "peer-not-configured.json"
    path.write_text(json.dumps(data))
    report, _ = _replay(path)
    return _one(report, "peer-not-configured")


def test_a_node_lacking_the_peer_gets_it_in_its_cnis_objects(tmp_path: Path) -> None:
    """The lab's run, with router-home (BIRD, lacking yuuko-k8s) declared a node: its BIRD is then
    Calico's, and the peer it lacks is a BGPPeer for it. As the router it is, no CNI object."""
    d = _peer_not_configured_on("node", tmp_path)
    assert _where(d) == [("bird2", "router-home"), ("calico", "router-home")]
    assert d.fixes[1].text.splitlines()[-3:] == [
        "  node: router-home",
        "  peerIP: 192.168.0.81",
        "  asNumber: 64514",
    ]
    assert _where(_peer_not_configured_on("router", tmp_path)) == [("bird2", "router-home")]


def test_lint_gives_a_cilium_node_lacking_the_peer_the_cilium_peer_not_a_bird_block() -> None:
    """seed001's files: router-home (BIRD 2) peers with yuuko-k8s, whose Cilium config has no peer
    for it. Before, lint offered a BIRD 2 protocol block "on yuuko-k8s"."""
    from bgpdoctor.lint import lint_paths

    result = lint_paths([str(ROOT / "tests" / "fixtures" / "lint" / "seed001" / "broken")])
    [finding] = [
        f for f in result.findings if f.root_cause == "peer-not-configured" and "router-home" in f.file
    ]
    [fix] = finding.fixes
    assert (fix["platform"], fix["host"]) == ("cilium", "yuuko-k8s")
    assert "peerAddress: 192.168.191.10" in fix["text"] and "peerASN: 64515" in fix["text"]
