"""Routing domains (which nodes are paired for pod paths) and prefix containment, on the lab inventory."""

from __future__ import annotations

from pathlib import Path

from bgpdoctor.engine.active import routing_domains
from bgpdoctor.engine.routing import covers
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.lab.inventory import build_inventory
from bgpdoctor.lab.topology import LabSettings


def test_lab_sites_are_separate_routing_domains() -> None:
    inv = Inventory.model_validate(build_inventory(LabSettings(run_dir=Path("/tmp/x"))))
    d = routing_domains(inv)
    assert d["sakamoto"] == d["yuuko-k8s"] == d["router-mine"] == d["router-home"]
    assert d["kubemaster"] == d["kubenode-wds1"] == d["gateway"] == d["cn-ns"]
    assert d["master-01"] == d["node-01"] == d["tor"]
    assert len({d["sakamoto"], d["kubemaster"], d["tor"], d["metrics-server"]}) == 4


def test_covers() -> None:
    assert covers("10.42.64.64/26", "10.42.64.64/26")
    assert covers("10.42.0.0/16", "10.42.64.64/26")
    assert not covers("10.42.64.64/26", "10.42.0.0/16")
    assert not covers("0.0.0.0/0", "10.42.64.64/26")  # the default route is no learned pod route
    assert not covers("not-a-prefix", "10.0.0.0/8")
