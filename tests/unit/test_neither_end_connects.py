"""Both ends of a session only wait for the other (passive on both sides): a run names
neither-end-connects from what each end's daemon shows, and only when both passive flags are shown;
the recorded node-not-listening run, edited to the states the daemons print, is the input."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.report.model import Report

RUN = Path(__file__).resolve().parents[2] / "captures" / "runs" / "node-not-listening.json"
ROUTER, NODE = "router-home", "yuuko-k8s"  # BIRD 2, and GoBGP with passive-mode (its neighbor JSON)


def _edit_bird(data: dict[str, Any], old: str, new: str) -> None:
    out = data["hosts"][ROUTER]["outputs"]["bird.protocols"]
    text = base64.b64decode(out["stdout_b64"]).decode()
    assert old in text
    out["stdout_b64"] = base64.b64encode(text.replace(old, new).encode()).decode()


REFUSED = (
    "start  12:41:06.647  Active        Socket: Connection refused\n"
    "  Description:    yuuko-k8s (LAN, Cilium)\n  BGP state:          Active\n"
    "    Neighbor address: 192.168.0.81\n    Neighbor AS:      64514\n    Local AS:         64515\n"
    "    Connect delay:    1.656/5\n    Last error:       Socket: Connection refused\n"
)


def _bird_state(state: str) -> str:
    """router-home's protocol for yuuko-k8s as BIRD 2 prints it in `state`, with no error."""
    return (
        f"start  12:41:06.647  {state:<14}\n"
        f"  Description:    yuuko-k8s (LAN, Cilium)\n  BGP state:          {state}\n"
        "    Neighbor address: 192.168.0.81\n    Neighbor AS:      64514\n    Local AS:         64515\n"
    )


def _run(tmp_path: Path, router_state: str, captures: bool = False, intent: bool | None = True) -> Report:
    data: dict[str, Any] = json.loads(RUN.read_text())
    data = copy.deepcopy(data)
    _edit_bird(data, REFUSED, _bird_state(router_state))
    if not captures:
        data["active"]["captures"] = {}  # a run without SYN captures
    for peer in data["inventory"]["hosts"][ROUTER]["peers"]:
        if peer["host"] == NODE:
            peer.pop("passive", None)
            if intent is not None:
                peer["passive"] = intent
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))
    inv, inventory_path, nodes, collected = load_recording(path)
    return evaluate(inv, inventory_path, collected, RunOptions(nodes=nodes))


def test_both_daemons_showing_passive_is_neither_end_connects_with_the_fix_for_the_end_that_can_dial(
    tmp_path: Path,
) -> None:
    report = _run(tmp_path, "Passive")  # BIRD's own word for a passive protocol left idle
    causes = [d.root_cause for d in report.diagnoses]
    assert causes == ["neither-end-connects"]
    [diag] = report.diagnoses
    assert diag.hosts == [ROUTER, NODE]
    assert "router-home and yuuko-k8s are both set to wait for the other" in diag.summary
    # yuuko-k8s never listens, router-home does: the end to make dial is the node
    assert [(f.platform, f.host, f.target, f.text) for f in diag.fixes] == [
        ("gobgp", NODE, "neighbor 192.168.0.1", "[neighbors.transport.config]\n  passive-mode = false")
    ]


def test_a_passive_flag_the_daemon_does_not_show_is_unknown_and_concludes_nothing(tmp_path: Path) -> None:
    """BIRD in Active without an error does not say whether it is passive; the inventory's intent
    (passive: true) is not what the daemon runs, so neither-end-connects is not concluded."""
    report = _run(tmp_path, "Active")
    assert "neither-end-connects" not in [d.root_cause for d in report.diagnoses]
    for intent in (None, False):
        report = _run(tmp_path, "Active", intent=intent)
        assert "neither-end-connects" not in [d.root_cause for d in report.diagnoses]


def test_a_syn_in_the_captures_means_someone_dials(tmp_path: Path) -> None:
    """The recorded captures show router-home's SYNs answered by a reset: whatever the states say,
    an end dials, so this is no neither-end-connects."""
    report = _run(tmp_path, "Passive", captures=True)
    assert "neither-end-connects" not in [d.root_cause for d in report.diagnoses]


def test_run_and_lint_choose_the_end_to_dial_by_one_rule() -> None:
    """A router before a node, else the first end given; none when no end can dial. engine/dialing.py
    and lint/checks.py both ask intent.end_to_dial, so a run and lint print the same end's fix."""
    from bgpdoctor.intent import end_to_dial

    assert end_to_dial([("yuuko-k8s", False), ("router-home", True)]) == "router-home"
    assert end_to_dial([("router-home", True), ("router-mine", True)]) == "router-home"
    assert end_to_dial([("node-a", False), ("node-b", False)]) == "node-a"
    assert end_to_dial([]) is None
