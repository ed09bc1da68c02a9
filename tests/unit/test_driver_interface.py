"""One driver per daemon: the engine asks the driver of a host's speaker and never its name.

A new daemon is one module under bgpdoctor/drivers/; these tests hold the engine modules that were
moved onto the driver interface to that (a comparison with a daemon's name there fails), and show
that what a driver answers is what the diagnosis says.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from bgpdoctor import drivers
from bgpdoctor.drivers import CALICO, CILIUM, BfdReading, Driver, DriverBase, agent_for, driver_for
from bgpdoctor.drivers.frr import FrrDriver
from tests.unit.test_liveness import HEALTHY, _diagnosis, _report

PACKAGE = Path(drivers.__file__).resolve().parents[1]
SPEAKERS = ("bird2", "bird1", "gobgp", "frr", "routeros", "fortigate", "huawei")
# the modules that ask drivers; engine/subjects.py, host_facts.py, ipv6.py, routing.py follow
ON_DRIVERS = (
    "engine/liveness.py",
    "engine/timers.py",
    "engine/limits.py",
    "engine/speaker_state.py",
    "engine/cluster_intent.py",
    "kube/cluster_intent.py",
    "kube/discover.py",
)


def _daemon_branches(source: str) -> list[str]:
    """`x == "gobgp"`, `x in ("bird1", "bird2")`, `x.startswith("bird")`: each with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[object] = []
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                items = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
                names += [i.value for i in items if isinstance(i, ast.Constant)]
            hit = any(n in SPEAKERS for n in names)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            prefix = node.args[0] if node.args else None
            hit = (
                node.func.attr == "startswith"
                and isinstance(prefix, ast.Constant)
                and isinstance(prefix.value, str)
                and any(s.startswith(prefix.value) for s in SPEAKERS)
            )
        else:
            continue
        if hit:
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("module", ON_DRIVERS)
def test_the_engine_does_not_branch_on_a_daemons_name(module: str) -> None:
    assert _daemon_branches((PACKAGE / module).read_text()) == []


def test_the_branch_finder_finds_what_the_engine_had() -> None:
    old = (
        'if speaker == "gobgp":\n    pass\n'
        'if host.speaker in ("bird1", "bird2"):\n    pass\n'
        'speaker.startswith("bird")\n'
    )
    assert len(_daemon_branches(old)) == 3
    assert _daemon_branches('if f.evidence.get("speaker") == "metallb":\n    pass\n') == []


@pytest.mark.parametrize("speaker", SPEAKERS)
def test_every_driver_answers_every_question(speaker: str) -> None:
    driver = driver_for(speaker)
    assert driver is not None and driver.speaker == speaker
    members = [name for name in vars(Driver) if not name.startswith("_")]
    assert "bfd" in members and "process" in members
    assert [name for name in members if not hasattr(driver, name)] == []


def test_the_daemons_process_names_and_agents() -> None:
    assert {s: driver_for(s).process for s in ("bird2", "bird1", "gobgp", "frr")} == {  # type: ignore[union-attr]
        "bird2": "bird",
        "bird1": "bird",
        "gobgp": "gobgpd",
        "frr": "bgpd",
    }
    assert driver_for("routeros").process is None  # type: ignore[union-attr]
    assert (agent_for("bird1"), agent_for("gobgp"), agent_for("frr"), agent_for("none")) == (
        CALICO,
        CILIUM,
        None,
        None,
    )
    assert CALICO.protocol_name("10.0.0.1", "BGPPeer/rr", "rr") == "Node_10_0_0_1"
    assert CALICO.protocol_name("10.0.0.2", "node-to-node mesh", "Mesh_10_0_0_2") == "Mesh_10_0_0_2"
    assert CILIUM.protocol_name("10.0.0.1", "CiliumBGPClusterConfig/x", "x") is None


def test_a_daemon_that_does_not_say_is_not_asked() -> None:
    base = DriverBase()
    assert base.bfd(None, "h", "10.0.0.1") == BfdReading(asked=False)  # type: ignore[arg-type]
    assert base.limit_state(None, "h", "10.0.0.1") == (False, None)  # type: ignore[arg-type]
    assert base.md5_configured(None, "h") is False  # type: ignore[arg-type]


@dataclass(frozen=True)
class _FrrWithBfdDown(FrrDriver):
    """FRR as a future driver might read it: a BFD session down towards every neighbor."""

    daemon: str = "FRR 11"

    def bfd(self, world: object, name: str, address: str | None) -> BfdReading:
        return BfdReading(state="down")

    def bfd_expects(self, address: str | None, state: str) -> str:
        return f"FRR 11 has `bfd profile fast` for {address}, BFD state {state}"


def test_the_diagnosis_says_what_the_driver_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same outputs, another FRR driver: the engine takes its BFD reading and its words."""
    real = drivers._drivers()
    monkeypatch.setattr(drivers, "_drivers", lambda: {**real, "frr": _FrrWithBfdDown()})
    top = _diagnosis(_report(HEALTHY), "session-liveness")
    assert top.hosts == ["frr1"]
    assert top.summary.startswith(
        "frr1 expects BFD (FRR 11 has `bfd profile fast` for 10.213.61.2, BFD state down) but BIRD 2 "
        "runs no BFD session to 10.213.61.1 (no `bfd on` in frr1)"
    )
