"""What the operator states in the inventory changes the verdict: LoadBalancer pools, several subnets
per site, hosts that are not meant to forward. Checked by replaying the lab's healthy recording with
the inventory edited the way a user would edit it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.report.model import Report

HEALTHY = Path(__file__).resolve().parents[2] / "captures" / "runs" / "healthy.json"
IP_FORWARD_OFF = HEALTHY.with_name("ip-forward-disabled.json")


def replay_edited(tmp_path: Path, edit: Any, source: Path = HEALTHY) -> Report:
    data = json.loads(source.read_text())
    edit(data["inventory"])
    path = tmp_path / source.name
    path.write_text(json.dumps(data))
    inv, inv_path, nodes, collected = load_recording(path)
    return evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))


def pool_results(report: Report) -> dict[str, str]:
    return {r.host: r.status for r in report.results if r.host.startswith("inventory lb_pools.")}


def test_a_pool_inside_a_site_lan_is_diagnosed_with_a_pool_outside(tmp_path: Path) -> None:
    report = replay_edited(
        tmp_path, lambda inv: inv.update(lb_pools={"lan-pool": {"cidr": "192.168.0.240/28"}})
    )
    assert pool_results(report) == {"inventory lb_pools.lan-pool": "fail"}
    top = report.diagnoses[0]
    assert top.root_cause == "lb-pool-in-node-subnet" and top.hosts == ["lan-pool"]
    assert "192.168.0.0/24 (site home)" in top.summary
    cilium = next(f for f in top.fixes if f.platform == "cilium")
    assert "name: lan-pool" in cilium.text and "192.168.0.240/28" not in cilium.text
    assert report.summary.exit_code == 1


@pytest.mark.parametrize(
    "pool",
    [{"cidr": "10.0.6.0/24"}, {"cidr": "192.168.0.240/28", "l2": True}],
    ids=["own-range", "l2-announced"],
)
def test_a_pool_by_design_stays_clean(tmp_path: Path, pool: dict[str, Any]) -> None:
    report = replay_edited(tmp_path, lambda inv: inv.update(lb_pools={"p": pool}))
    assert pool_results(report) == {"inventory lb_pools.p": "pass"}
    assert report.diagnoses == [] and report.summary.exit_code == 0


def test_a_second_subnet_of_a_site_counts(tmp_path: Path) -> None:
    def edit(inv: dict[str, Any]) -> None:
        inv["sites"]["mine"]["lans"] = ["172.30.9.0/24"]
        inv["lb_pools"] = {"p": {"cidr": "172.30.9.128/25"}}

    report = replay_edited(tmp_path, edit)
    assert pool_results(report) == {"inventory lb_pools.p": "fail"}
    assert "172.30.9.0/24 (site mine)" in report.diagnoses[0].summary


def test_a_router_meant_not_to_forward_is_not_blamed_for_it(tmp_path: Path) -> None:
    before = replay_edited(tmp_path, lambda inv: None, IP_FORWARD_OFF)
    checked = {r.host: r.status for r in before.results if r.check == "ip-forward"}
    assert checked["router-home"] == "fail"

    report = replay_edited(
        tmp_path, lambda inv: inv["hosts"]["router-home"].update(forwards=False), IP_FORWARD_OFF
    )
    after = {r.host: r.status for r in report.results if r.check == "ip-forward"}
    assert after["router-home"] == "skip" and after["router-mine"] == "pass"
