"""FRR as a speaker end to end: a real FRR 8.4 (zebra + bgpd) peers with a real BIRD 2.

FRR runs in namespace bdw-frr-PID, BIRD 2 in bdw-bird-PID, joined by a veth pair created inside the
FRR namespace (no interface ever exists in the root one). bgpdoctor reaches both with
`connect: {netns: ...}` and FRR through `vtysh --vty_socket RUN_DIR` (the inventory's
`control_socket`). Each test starts FRR with its own configuration: healthy, a wrong remote-as, and
no policy on the eBGP neighbor (FRR's default `bgp ebgp-requires-policy`, RFC 8212).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bgpdoctor.lab.procs import ns_run  # noqa: E402
from tests.integration.speakers import (  # noqa: E402
    BIRD_AS,
    FRR_AS,
    Pair,
    bgpdoctor,
    frr_bird_pair,
    needs_bird2,
    needs_frr,
    needs_root,
    run,
)

pytestmark = [needs_root, needs_frr, needs_bird2]

FRR_IP, BIRD_IP = "10.213.9.1", "10.213.9.2"


def frr_conf(remote_as: int = BIRD_AS, policy: bool = True) -> str:
    route_maps = (
        f"  neighbor {BIRD_IP} route-map ALL in\n  neighbor {BIRD_IP} route-map ALL out\n" if policy else ""
    )
    return (
        "hostname frr1\nlog stdout informational\n"
        + ("route-map ALL permit 10\nexit\n" if policy else "")
        + f"router bgp {FRR_AS}\n bgp router-id {FRR_IP}\n timers bgp 3 9\n"
        f" neighbor {BIRD_IP} remote-as {remote_as}\n neighbor {BIRD_IP} timers connect 1\n"
        " address-family ipv4 unicast\n  redistribute connected\n"
        f"{route_maps} exit-address-family\nexit\n"
    )


BIRD_CONF = f"""
router id {BIRD_IP};
protocol device {{ scan time 10; }}
protocol static {{ ipv4; route 10.90.8.0/24 blackhole; }}
protocol bgp frr1 {{
  local {BIRD_IP} as {BIRD_AS};
  neighbor {FRR_IP} as {FRR_AS};
  hold time 9;
  keepalive time 3;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 2;
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"""


@pytest.fixture
def pair() -> Iterator[Pair]:
    with frr_bird_pair("bdw", FRR_IP, BIRD_IP) as p:
        p.start_bird(p.bird_ns, "bird1", BIRD_CONF)
        yield p


def not_passing(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (r["check"], r["host"], r["status"], r["reason"])
        for r in report["results"]
        if r["status"] not in ("pass", "skip")
    ]


def test_healthy_frr_and_bird_established_at_both_ends(pair: Pair, tmp_path: Path) -> None:
    pair.start(frr_conf())
    # its two routes sent too: FRR sends its updates a moment after Established, and a run that
    # reads the counters sooner (a fast one) would see 0 advertised
    pair.wait_for(
        "Established with both routes sent to BIRD",
        lambda n: (
            n.get("bgpState") == "Established"
            and n.get("addressFamilyInfo", {}).get("ipv4Unicast", {}).get("sentPrefixCounter") == 2
        ),
    )
    inventory = pair.inventory(tmp_path / "inventory.yaml")
    code, report, stderr = run(inventory)
    assert all(h["reachable"] for h in report["hosts"]), report["hosts"]
    session = next(r for r in report["results"] if r["check"] == "bgp-session-established")
    assert session["status"] == "pass", session
    assert report["diagnoses"] == [], report["diagnoses"]
    assert code == 0, (not_passing(report), stderr[-2000:])

    status = bgpdoctor("status", "-i", str(inventory), "-o", "json", "--timeout", "8")
    assert status.returncode == 0, status.stdout + status.stderr[-2000:]
    [row] = json.loads(status.stdout)["sessions"]
    frr = row["a"] if row["a"]["host"] == "frr1" else row["b"]
    assert row["verdict"] == "established"
    assert (frr["speaker"], frr["state"], frr["hold_time_s"]) == ("frr", "established", 9)
    # BIRD's static 10.90.8.0/24 accepted; FRR sends its connected 10.213.9.0/30 and, without
    # sender-side loop detection, 10.90.8.0/24 back to BIRD (which drops it: its own AS in the path)
    assert (frr["received"], frr["accepted"], frr["advertised"]) == (None, 1, 2), frr
    assert frr["for_s"] is not None and frr["for_s"] < 120
    text = bgpdoctor("status", "-i", str(inventory), "--timeout", "8").stdout
    print(text)
    assert "frr1   established" in text and "-/1/2" in text, text


def test_wrong_remote_as_on_frr_is_diagnosed_as_asn_mismatch(pair: Pair, tmp_path: Path) -> None:
    pair.start(frr_conf(remote_as=65099))
    pair.wait_for(
        "a Bad Peer AS notification", lambda n: "Bad Peer AS" in str(n.get("lastNotificationReason"))
    )
    code, report, stderr = run(pair.inventory(tmp_path / "inventory.yaml"))
    assert report["diagnoses"], not_passing(report)
    top = report["diagnoses"][0]
    print(top["summary"])
    assert top["root_cause"] == "asn-mismatch", [d["root_cause"] for d in report["diagnoses"]]
    assert top["hosts"] == ["frr1"]
    assert top["summary"].startswith(
        f"frr1 is configured to expect AS 65099 from {BIRD_IP}, but bird1 announces AS {BIRD_AS}"
    )
    assert code == 1, stderr[-2000:]


def test_frr_without_ebgp_policy_is_the_rfc_8212_diagnosis(pair: Pair, tmp_path: Path) -> None:
    pair.start(frr_conf(policy=False))
    pair.wait_for("Established", lambda n: n.get("bgpState") == "Established")
    code, report, stderr = run(pair.inventory(tmp_path / "inventory.yaml"))
    causes = [d["root_cause"] for d in report["diagnoses"]]
    assert causes and causes[0] == "bird-ebgp-no-policy", (causes, not_passing(report))
    top = report["diagnoses"][0]
    print(top["summary"])
    assert top["hosts"] == ["frr1"]
    assert top["summary"].startswith(
        f"FRR on frr1 has no inbound or outbound policy for eBGP neighbor {BIRD_IP}: "
        "the session may be Established, but every route received from"
    )
    fix = next(f for f in top["fixes"] if f["platform"] == "frr")
    print(fix["text"])
    assert f"router bgp {FRR_AS}" in fix["text"]
    assert f"  neighbor {BIRD_IP} route-map BGPDOCTOR-IN in" in fix["text"]
    assert f"  neighbor {BIRD_IP} route-map BGPDOCTOR-OUT out" in fix["text"]
    check = next(r for r in report["results"] if r["check"] == "ebgp-policy-present" and r["host"] == "frr1")
    assert check["status"] == "fail", check
    assert code == 1, stderr[-2000:]

    # the fix, pasted into FRR's configuration as it is, makes FRR accept BIRD's route
    lines = [ln for ln in fix["text"].splitlines() if ln.strip() and not ln.startswith("!")]
    args = [a for ln in ["configure terminal", *lines] for a in ("-c", ln)]
    applied = ns_run(pair.frr_ns, ["vtysh", "--vty_socket", str(pair.run_dir / "frr"), *args], check=False)
    assert applied.returncode == 0 and "%" not in applied.stdout, applied.stdout + applied.stderr
    pair.wait_for(
        "BIRD's route accepted",
        lambda n: n.get("addressFamilyInfo", {}).get("ipv4Unicast", {}).get("acceptedPrefixCounter") == 1,
    )
    code, report, stderr = run(pair.inventory(tmp_path / "inventory.yaml"))
    assert report["diagnoses"] == [] and code == 0, (report["diagnoses"], not_passing(report))
