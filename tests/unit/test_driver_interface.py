"""One driver per daemon: the engine asks the driver of a host's speaker and never its name.

A new daemon is one module under bgpdoctor/drivers/; these tests hold the engine modules that were
moved onto the driver interface to that (a comparison with a daemon's name there fails), and show
that what a driver answers is what the diagnosis says.
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest

from bgpdoctor import drivers
from bgpdoctor.drivers import CALICO, CILIUM, BfdReading, Driver, DriverBase, agent_for, driver_for
from bgpdoctor.drivers.frr import FrrDriver
from bgpdoctor.engine.world import SessionEnd
from bgpdoctor.parsers import fortigate, frr, huawei, routeros
from tests.unit.test_liveness import HEALTHY, _diagnosis, _report

PACKAGE = Path(drivers.__file__).resolve().parents[1]
SPEAKERS = ("bird2", "bird1", "gobgp", "frr", "routeros", "fortigate", "huawei")
DAEMON_NAMES = (*SPEAKERS, "none")  # "none": a host without a daemon is `driver_for(...) is None`
# every module of the engine, the Kubernetes readers and the reports asks the drivers; lint reads
# configuration files, whose dialects (BIRD 1.x, BIRD 2, FRR, YAML) are its own business
ON_DRIVERS = tuple(
    sorted(
        str(path.relative_to(PACKAGE))
        for folder in ("engine", "kube", "report")
        for path in (PACKAGE / folder).rglob("*.py")
    )
)


def _daemon_branches(source: str) -> list[str]:
    """`x == "gobgp"`, `x in ("bird1", "bird2")`, `x.startswith("bird")`, and tables keyed by
    daemon names (`{"bird2": "bird", "frr": "bgpd"}`): each with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[object] = []
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            hit = sum(k in DAEMON_NAMES for k in keys) > 1
        elif isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                items = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
                names += [i.value for i in items if isinstance(i, ast.Constant)]
            hit = any(n in DAEMON_NAMES for n in names)
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
    # what engine/subjects.py, ipv6.py, collect.py and kube/ipam.py had
    had = (
        'if host.speaker != "none" and linux:\n    pass\n'
        'if speaker == "frr" and world.collected(h, FRR_BGP_IPV6):\n    pass\n'
        'if node is None or nb.speaker != "gobgp":\n    pass\n'
    )
    assert len(_daemon_branches(had)) == 3
    assert len(_daemon_branches('SPEAKER_PROCESS = {"bird2": "bird", "gobgp": "gobgpd"}\n')) == 1
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


def test_a_session_end_copies_no_field_of_the_daemons_reading() -> None:
    """SessionEnd holds `observed` (the NeighborState) beside the inventory's intent; a field of
    both (state, last_error, passive ... as SessionEnd had) would be a second copy to keep in step."""
    observed = {f.name for f in dataclasses.fields(drivers.NeighborState)}
    assert {f.name for f in dataclasses.fields(SessionEnd)} & observed == set()
    assert "observed" in {f.name for f in dataclasses.fields(SessionEnd)}


ROUTER_OUTPUTS = PACKAGE.parent / "captures" / "outputs"
VENDOR = PACKAGE.parent / "tests" / "fixtures" / "parsers"


@pytest.mark.parametrize(
    ("parse", "path"),
    [
        (frr.parse_bgp_neighbors, ROUTER_OUTPUTS / "frr" / "f1_neighbors.txt"),
        (frr.parse_bgp_summary, ROUTER_OUTPUTS / "frr" / "f1_summary.txt"),
        (routeros.parse_bgp_sessions, VENDOR / "routeros" / "routing_bgp_session_print.txt"),
        (fortigate.parse_bgp_neighbors, VENDOR / "fortigate" / "get_router_info_bgp_neighbors.txt"),
        (huawei.parse_bgp_peer_verbose, VENDOR / "huawei" / "display_bgp_peer_verbose.txt"),
    ],
)
def test_every_router_parser_gives_the_one_neighbor_shape(parse: object, path: Path) -> None:
    """The router parsers produce what BIRD's and GoBGP's drivers produce: no second session shape."""
    found = parse(path.read_text())  # type: ignore[operator]
    assert found and all(type(n) is drivers.NeighborState for n in found)
    # the shape's terms: a reason only while down, "admin-down" for a neighbor shut by configuration
    assert all(n.last_error is None for n in found if n.state == "established")
    assert all(n.state == "admin-down" for n in found if n.admin_down)
