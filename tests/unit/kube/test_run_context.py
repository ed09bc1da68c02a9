"""`bgpdoctor run -i INV --context C`: configuration findings from the (fake, loopback) API server
reach the report as cluster check results and as diagnoses with rendered fixes.

The inventory is one local host without peers or pod addresses, so the run sends no packet
anywhere: it only reads local facts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from bgpdoctor.cli import main
from tests.fakeapi import clusters as c


def local_inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "pod_cidr": "10.42.0.0/16",
                "hosts": {"here": {"role": "vantage", "connect": {"local": True}}},
            }
        )
    )
    return path


def run_with_cluster(kubeconfig: str, tmp_path: Path) -> Result:
    args = [
        "run",
        "-i",
        str(local_inventory(tmp_path)),
        "--kubeconfig",
        kubeconfig,
        "--ssh-config",
        str(tmp_path / "none"),
        "-o",
        "json",
        "--no-mtu",
    ]
    return CliRunner().invoke(main, args)


def test_run_with_context_reports_cluster_root_causes(fake_api: Any, kubeconfig: Any, tmp_path: Path) -> None:
    api = fake_api(*c.seed000_broken())
    result = run_with_cluster(kubeconfig(api), tmp_path)
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    cluster = [r for r in report["results"] if r["check"] == "cluster-config"]
    assert {r["status"] for r in cluster} == {"fail"}
    causes = {d["root_cause"]: d for d in report["diagnoses"]}
    assert {"auto-direct-routes-across-l3", "podcidr-not-advertised"} <= set(causes)
    fix = causes["auto-direct-routes-across-l3"]["fixes"][0]["text"]
    assert "autoDirectNodeRoutes: false" in fix and "ipv4NativeRoutingCIDR: 10.42.0.0/16" in fix
    assert "yuuko-k8s" in causes["auto-direct-routes-across-l3"]["summary"]
    assert all(r["explained_by"] for r in cluster if r["reason"].startswith("[auto-direct"))


def test_run_with_context_of_a_healthy_cluster(fake_api: Any, kubeconfig: Any, tmp_path: Path) -> None:
    api = fake_api(*c.seed001())
    result = run_with_cluster(kubeconfig(api), tmp_path)
    report = json.loads(result.stdout)
    assert [r for r in report["results"] if r["check"] == "cluster-config"] == []
    assert report["diagnoses"] == [], report["diagnoses"]
    assert result.exit_code == 0, [r for r in report["results"] if r["status"] not in ("pass", "skip")]


def test_run_needs_an_inventory_or_a_context(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 2
    assert "give --inventory FILE, or --context/--kubeconfig" in result.stderr
