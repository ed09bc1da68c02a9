"""The scenario harness waits for a fault's symptom before bgpdoctor runs (scenario_net.symptom_missing).
No root: these read the files a running scenario leaves in its run directory."""

from __future__ import annotations

from pathlib import Path

from bgpdoctor.lab.scenario import generate, independent_pair
from bgpdoctor.lab.scenario_net import ScenarioState, _gobgp_open_failure

# seed 1036's pair puts asn-mismatch on the GoBGP node tb58 (a wrong peer-as towards its FRR router,
# which is passive and so keeps no NOTIFICATION): only gobgpd's log says it refused the OPEN
BEFORE = 'time="2026-12-06T19:29:42Z" level=info msg="Peer Up" Key=10.60.37.103 Topic=Peer\n'
REFUSED = (
    'time="2026-12-06T19:29:48Z" level=warning msg="sent notification" Data="as number mismatch'
    ' expected 4256878028, received 65012" Key=10.60.37.103 Topic=Peer\n'
)


def test_a_gobgp_end_that_refused_the_open_since_the_fault_shows_the_asn_mismatch(tmp_path: Path) -> None:
    sc = generate(1036, base_dir=tmp_path)
    pair = independent_pair(sc)
    assert pair is not None and pair[1].name == "asn-mismatch" and sc.hosts[pair[1].target].speaker == "gobgp"
    key = pair[1].target
    log = sc.host_dir(key) / "gobgpd.log"
    log.parent.mkdir(parents=True)
    log.write_text(REFUSED + BEFORE)  # a refusal before the fault is not this fault's
    ScenarioState(marks={f"{key}:gobgpd.log": log.stat().st_size}).save(sc.state_path)
    assert _gobgp_open_failure(sc, key) == ""
    with log.open("a") as f:
        f.write(REFUSED)
    assert _gobgp_open_failure(sc, key) == "Bad peer AS (gobgpd log: as number mismatch)"
