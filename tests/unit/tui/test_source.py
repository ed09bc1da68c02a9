"""The TUI's engine adapters and the per-host progress events the engine emits for them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.widgets import DataTable

from bgpdoctor.engine.progress import HostEvent
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions
from bgpdoctor.errors import HostError
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.transport.factory import open_connection
from bgpdoctor.tui.app import BgpDoctorApp
from bgpdoctor.tui.source import LiveSource
from bgpdoctor.tui.view import filter_results, fix_file_name, sites
from tests.unit.tui.tui_helpers import RUNS, finished


def _unreachable(name: str) -> Any:
    raise HostError(name, "timeout", "no answer within 5s (test)")


def _recorded_inventory() -> tuple[Inventory, list[str]]:
    inv, _path, _nodes, collected = load_recording(RUNS / "mtu-blackhole.json")
    return inv, collected.scope


def test_live_run_reports_each_unreachable_host_with_its_reason() -> None:
    inv, scope = _recorded_inventory()
    source = LiveSource(inv, "lab.yaml", scope, _unreachable, RunOptions())
    events: list[HostEvent] = []
    result = source.run(lambda _line: None, events.append)
    assert [e for e in events if e.host == "router-mine"] == [
        HostEvent("router-mine", "connecting"),
        HostEvent("router-mine", "failed", "timeout: no answer within 5s (test)"),
    ]
    assert {e.host for e in events if e.state == "failed"} == set(scope)
    assert result.report.summary.unreachable_hosts == len(scope)
    assert result.report.summary.exit_code == 3
    assert all(s.verdict == "unknown" for s in result.status.sessions)


def test_a_reachable_host_goes_through_every_state() -> None:
    inv = Inventory.model_validate(
        {"hosts": {"here": {"role": "vantage", "connect": {"local": True}}}}
    )  # read-only commands on this machine; no peers, so no probe sends a packet
    source = LiveSource(inv, "local.yaml", ["here"], lambda n: open_connection(n, inv), RunOptions())
    events: list[HostEvent] = []
    source.run(lambda _line: None, events.append)
    assert [e.state for e in events] == ["connecting", "collecting", "collected", "probing", "done"]


def test_the_run_tab_shows_a_failed_host_with_its_reason() -> None:
    inv, scope = _recorded_inventory()

    async def go() -> None:
        app = BgpDoctorApp(LiveSource(inv, "lab.yaml", scope, _unreachable, RunOptions()))
        async with app.run_test(size=(80, 24)) as pilot:
            await finished(pilot)
            hosts = app.query_one("#hosts", DataTable)
            assert str(hosts.get_cell("yuuko-k8s", "state")) == "failed"
            assert str(hosts.get_cell("yuuko-k8s", "detail")) == "timeout: no answer within 5s (test)"
            calls: list[str] = []

            def counted(name: str) -> Any:
                calls.append(name)
                return _unreachable(name)

            app.source = LiveSource(inv, "lab.yaml", scope, counted, RunOptions())
            hosts.move_cursor(row=2)
            await pilot.press("r")  # re-runs the highlighted host only
            await finished(pilot, runs=2)
            assert calls == ["sakamoto"]

    asyncio.run(go())


def test_sites_group_hosts_by_role_in_inventory_order() -> None:
    inv, _path, _nodes, collected = load_recording(RUNS / "healthy.json")
    by_name = {s.name: s for s in sites(inv, collected.scope)}
    assert by_name["mine"].routers == ["router-mine"]
    assert by_name["mine"].nodes == ["sakamoto"] and by_name["mine"].vantages == ["metrics-server"]
    assert list(by_name) == [s for s in inv.sites if s in by_name]


def test_filter_results_puts_failures_first_and_matches_any_host_involved() -> None:
    from bgpdoctor.engine.run import evaluate

    inv, path, nodes, collected = load_recording(RUNS / "mtu-blackhole.json")
    report = evaluate(inv, path, collected, RunOptions(nodes=nodes))
    everything = filter_results(report.results)
    assert everything[0].status == "fail" and len(everything) == len(report.results)
    mine = filter_results(report.results, host="ROUTER-MINE")
    assert mine and all("router-mine" in r.hosts or "router-mine" in r.host for r in mine)
    assert any(r.host != "router-mine" for r in mine)  # sessions and paths it is part of
    symptoms = filter_results(report.results, cause="mtu-blackhole")
    assert {r.explained_by for r in symptoms} == {"mtu-blackhole"}
    assert all(r.explained_by is None for r in filter_results(report.results, cause="(none)"))
    d = report.diagnoses[0]
    assert fix_file_name(d, d.fixes[0]) == "fix-mtu-blackhole-cilium.txt"


def test_tui_needs_exactly_one_source_and_rejects_a_bad_recording(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bgpdoctor.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    runner = CliRunner()
    for argv in (["tui"], ["tui", "--replay", str(RUNS / "mtu-blackhole.json"), "-i", "x.yaml"]):
        result = runner.invoke(main, argv)
        assert result.exit_code == 2
        assert "for a live run, or --replay FILE" in result.output
    result = runner.invoke(main, ["tui", "--replay", str(bad)])
    assert result.exit_code == 2 and "not a bgpdoctor recording" in result.output
