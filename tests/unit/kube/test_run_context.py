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
    return CliRunner().invoke(main, run_args(kubeconfig, tmp_path))


def run_args(kubeconfig: str, tmp_path: Path) -> list[str]:
    return [
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


def test_a_recorded_run_keeps_the_api_objects_and_replay_judges_them_again(
    fake_api: Any, kubeconfig: Any, tmp_path: Path
) -> None:
    """The recording holds the objects read (secrets redacted), not only the findings drawn from
    them, so a replay by a newer bgpdoctor draws the cluster's findings again with its own code."""
    api = fake_api(*c.seed000_broken())
    recording = tmp_path / "rec.json"
    live = CliRunner().invoke(main, [*run_args(kubeconfig(api), tmp_path), "--record", str(recording)])
    assert live.exit_code == 1, live.stderr
    data = json.loads(recording.read_text())
    assert data["cluster_raw"]["objects"]["nodes"], "the Node objects are recorded"
    # the findings the recording version drew are dropped: replay must find them in the objects
    data["cluster"] = []
    recording.write_text(json.dumps(data))
    replayed = CliRunner().invoke(main, ["replay", str(recording), "-o", "json"])
    assert replayed.exit_code == 1, replayed.stderr
    causes = {d["root_cause"] for d in json.loads(replayed.stdout)["diagnoses"]}
    assert causes == {d["root_cause"] for d in json.loads(live.stdout)["diagnoses"]}
    assert {"auto-direct-routes-across-l3", "podcidr-not-advertised"} <= causes


def test_recorded_api_objects_that_cannot_be_read_are_one_line_naming_the_file(
    fake_api: Any, kubeconfig: Any, tmp_path: Path
) -> None:
    api = fake_api(*c.seed000_broken())
    recording = tmp_path / "rec.json"
    CliRunner().invoke(main, [*run_args(kubeconfig(api), tmp_path), "--record", str(recording)])
    data = json.loads(recording.read_text())
    data["cluster_raw"]["objects"]["nodes"] = "not a list"
    recording.write_text(json.dumps(data))
    replayed = CliRunner().invoke(main, ["replay", str(recording), "-o", "json"])
    assert replayed.exit_code == 2, replayed.output
    assert str(recording) in replayed.stderr and len(replayed.stderr.strip().splitlines()) == 1
