"""A dual-stack cluster states its pod range in each family (`pod_cidr: [IPv4, IPv6]`), and each
path is judged, and its fixes written, with the range of its own family.

The hosts' outputs are the real dual-stack captures of tests/fixtures/ipv6_paths (nodes a and b
either side of router r), as tests/unit/test_ipv6_paths.py reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bgpdoctor.engine.active import ActiveResults, node_pairs
from bgpdoctor.engine.collect import HostFacts, fact_commands
from bgpdoctor.engine.subject import Subject
from bgpdoctor.engine.subjects import path_subjects
from bgpdoctor.engine.world import World
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.lab.inventory import build_inventory
from bgpdoctor.lab.topology import LabSettings
from bgpdoctor.transport.base import CommandResult
from tests.unit.test_ipv6_paths import FILES, INVENTORY, raw


def _world(pod_cidr: Any) -> World:
    inv = Inventory.model_validate(
        {**INVENTORY.model_dump(mode="json", exclude_none=True), "pod_cidr": pod_cidr}
    )
    facts = {}
    for name, host in inv.hosts.items():
        commands = fact_commands(host)
        outputs = {
            fact: CommandResult(commands.get(fact, fact), 0, raw(f"{name}.{suffix}").encode())
            for fact, suffix in FILES.items()
        }
        facts[name] = HostFacts(name, host, outputs=outputs, contacted=True)
    return World(inv, facts)


def _paths(w: World) -> dict[str, Subject]:
    pairs = node_pairs(w, list(w.inv.hosts), [])
    return {s.label: s for s in path_subjects(w, pairs, ActiveResults())}


def test_each_path_names_the_cluster_pod_range_of_its_own_family() -> None:
    paths = _paths(_world(["10.231.0.0/16", "fd00:bf::/32"]))
    assert {label: s.facts["cluster_pod_cidr"] for label, s in paths.items()} == {
        "a->b": "10.231.0.0/16",
        "b->a": "10.231.0.0/16",
        "a->b/ipv6": "fd00:bf::/32",
        "b->a/ipv6": "fd00:bf::/32",
    }


def test_an_ipv4_only_range_is_never_given_to_an_ipv6_path() -> None:
    # before, the IPv6 path got the IPv4 range, and its fixes (`ip daddr ...`, `ip rule add to ...`)
    # named addresses of the wrong family; now it falls back to the destination's own pod CIDR
    paths = _paths(_world("10.231.0.0/16"))
    assert paths["a->b"].facts["cluster_pod_cidr"] == "10.231.0.0/16"
    assert paths["a->b/ipv6"].facts["cluster_pod_cidr"] == "fd00:bf:b::/64"


def test_the_dual_stack_labs_inventory_states_both_pod_ranges(tmp_path: Path) -> None:
    dual = Inventory.model_validate(build_inventory(LabSettings(run_dir=tmp_path, dual_stack=True)))
    assert [str(n) for n in dual.cluster_pod_cidrs] == ["10.42.0.0/16", "fd00:10:42::/48"]
    # every node's own pod CIDRs lie inside the range of their family
    for host in dual.hosts.values():
        for cidr in host.pod_cidrs:
            cluster = dual.cluster_pod_cidr_of(str(cidr))
            assert cluster is not None and cidr.subnet_of(cluster), cidr  # type: ignore[arg-type]
    ipv4 = build_inventory(LabSettings(run_dir=tmp_path))
    assert ipv4["pod_cidr"] == "10.42.0.0/16"  # the IPv4 lab's inventory is unchanged
