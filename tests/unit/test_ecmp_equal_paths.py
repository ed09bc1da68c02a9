"""ecmp-single-path counts only paths BIRD's `merge paths` would merge: the same local preference,
AS path length, origin and MED. A path the operator made worse on purpose is no missing ECMP."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate

RUNS = Path(__file__).resolve().parents[2] / "captures" / "runs"


def _replayed_with(tmp_path: Path, edit: str) -> list[str]:
    data = json.loads((RUNS / "ecmp-single-path.json").read_text())
    out = data["hosts"]["tor"]["outputs"]["bird.bgp_routes"]
    text = base64.b64decode(out["stdout_b64"]).decode()
    second = text.index("[node_01 ")  # the second path to 10.0.6.1/32 (via node-01)
    changed = text[:second] + text[second:].replace("BGP.local_pref: 100", edit, 1)
    out["stdout_b64"] = base64.b64encode(changed.encode()).decode()
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))
    inv, inv_path, nodes, collected = load_recording(path)
    report = evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))
    return [d.root_cause for d in report.diagnoses]


def test_two_equal_paths_with_one_next_hop_installed_are_ecmp_single_path(tmp_path: Path) -> None:
    assert _replayed_with(tmp_path, "BGP.local_pref: 100")[:1] == ["ecmp-single-path"]


def test_a_path_with_a_lower_local_preference_is_not_an_equal_path(tmp_path: Path) -> None:
    assert "ecmp-single-path" not in _replayed_with(tmp_path, "BGP.local_pref: 50")
