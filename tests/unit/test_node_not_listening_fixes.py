"""node-not-listening's fix is written in the dialing end's own syntax: an FRR router that keeps
dialling a node which never listens gets `neighbor ADDRESS passive` under its `router bgp`, with the
run's own AS and address, not BIRD's `passive on`.

Replayed from a run recorded on the real namespaces of generated scenario 4, where FRR on
zvxi-jasper dials pn79 (GoBGP, not listening); the fix is checked against the FRR configuration that
scenario ran (bgpdoctor/lab/scenario_configs.py) and by FRR's own checker (`bgpd --dryrun`).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

import bgpdoctor.engine.judge as judge_module
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.rules import PlaybookDef, load_playbooks
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.lab.frr import FRR_DAEMON_DIR, check_config
from bgpdoctor.lab.scenario import generate, plan_fault
from bgpdoctor.lab.scenario_configs import Knobs, frr_config, knobs_for
from bgpdoctor.report.model import Diagnosis, FixSnippet

ROOT = Path(__file__).resolve().parents[2]
FRR_RUN = ROOT / "tests" / "fixtures" / "recordings" / "scenarios"
FRR_RUN_NAME = "seed4_ip_forward_disabled+node_not_listening_frr"
BIRD_RUN = ROOT / "captures" / "runs" / "node-not-listening.json"  # the seed lab: BIRD dials a GoBGP node
CAUSE = "node-not-listening"


def _recorded(tmp: Path) -> tuple[Path, dict[str, Any]]:
    data = json.loads(gzip.decompress((FRR_RUN / f"{FRR_RUN_NAME}.json.gz").read_bytes()))
    path = tmp / f"{FRR_RUN_NAME}.json"
    path.write_text(json.dumps(data))
    return path, data


def _diagnosis_and_facts(path: Path) -> tuple[Diagnosis, dict[str, Any]]:
    """The run's node-not-listening diagnosis and the facts its fixes were rendered with."""
    seen: dict[str, Any] = {}
    real_rendered_fixes = judge_module._rendered_fixes

    def keep_facts(
        pb: PlaybookDef, facts: dict[str, Any], complete_only: bool = False
    ) -> list[tuple[int, FixSnippet]]:
        if pb.id == CAUSE and not seen:  # the diagnosis's own subject is rendered first
            seen.update(facts)
        return real_rendered_fixes(pb, facts, complete_only)

    inv, inv_path, nodes, collected = load_recording(path)
    with mock.patch.object(judge_module, "_rendered_fixes", keep_facts):
        report = evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))
    [diagnosis] = [d for d in report.diagnoses if d.root_cause == CAUSE]
    return diagnosis, seen


@pytest.fixture(scope="module")
def frr_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Diagnosis, dict[str, Any], dict[str, Any]]:
    path, data = _recorded(tmp_path_factory.mktemp("frr-dialer"))
    diagnosis, facts = _diagnosis_and_facts(path)
    return diagnosis, facts, data


def test_an_frr_dialer_gets_the_passive_fix_in_frr_syntax_with_the_runs_own_values(
    frr_run: tuple[Diagnosis, dict[str, Any], dict[str, Any]],
) -> None:
    diagnosis, _facts, data = frr_run
    hosts = data["inventory"]["hosts"]
    # read from the recorded inventory, independently of the engine: the FRR end's AS and the
    # address it dials the node at
    [node_address] = [p["address"] for p in hosts["zvxi-jasper"]["peers"] if p["host"] == "pn79"]
    assert [f.platform for f in diagnosis.fixes] == ["frr", "gobgp", "cilium"]
    frr = diagnosis.fixes[0]
    assert frr.host == "zvxi-jasper"
    assert frr.text == f"router bgp {hosts['zvxi-jasper']['asn']}\n neighbor {node_address} passive\nexit"
    assert frr.text == "router bgp 4239631426\n neighbor 192.168.197.159 passive\nexit"
    assert "tcpdump" in diagnosis.next_steps[0] and "BIRD log" not in diagnosis.next_steps[0]


def test_the_frr_fix_is_the_line_the_healthy_scenario_has_and_frr_accepts_it(
    frr_run: tuple[Diagnosis, dict[str, Any], dict[str, Any]],
) -> None:
    diagnosis, _facts, _data = frr_run
    [frr] = [f for f in diagnosis.fixes if f.platform == "frr"]
    sc = generate(4)
    fault = plan_fault(sc, CAUSE, on_frr=True)
    assert fault is not None and sc.hosts[fault.target].name == "zvxi-jasper"
    broken = frr_config(sc, fault.target, knobs_for([fault]))
    healthy = frr_config(sc, fault.target, Knobs())
    # the fault took exactly the line the fix puts back, in the router bgp block the fix names
    missing = {line.strip() for line in healthy.splitlines()} - {line.strip() for line in broken.splitlines()}
    fix_lines = frr.text.splitlines()
    assert missing == set(line.strip() for line in fix_lines[1:-1])
    assert fix_lines[0] in broken.splitlines()
    if not (FRR_DAEMON_DIR / "bgpd").exists():
        pytest.skip("FRR not installed (apt-get install frr)")
    valid, output = check_config(broken + frr.text + "\n")
    assert valid, output


def test_the_playbook_example_holds_the_real_runs_facts(
    frr_run: tuple[Diagnosis, dict[str, Any], dict[str, Any]],
) -> None:
    _diagnosis, facts, _data = frr_run
    [pb] = [p for p in load_playbooks() if p.id == CAUSE]
    assert pb.example == {name: facts[name] for name in pb.example}


def test_a_bird_dialer_keeps_the_bird_fix_and_gets_no_frr_one() -> None:
    diagnosis, facts = _diagnosis_and_facts(BIRD_RUN)
    assert facts["dialer_speaker"] == "bird2"
    assert [f.platform for f in diagnosis.fixes] == ["bird2", "gobgp", "cilium"]
    assert "passive on;" in diagnosis.fixes[0].text
    assert "look for 'Connection refused' in the BIRD log" in diagnosis.next_steps[0]
