"""The `bgpdoctor tui` application: one main screen with four tabs, drill-down screens pushed on it.

Run, Topology, Findings and Checks are tabs (keys 1-4); Enter on a finding opens its root cause,
`e` its evidence, `f` its fixes (screens.py). The engine runs in a thread worker and reports
through thread-safe messages, so keys keep working while hosts are probed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Input,
    Log,
    OptionList,
    Select,
    Static,
    TabbedContent,
    TabPane,
)
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from bgpdoctor.engine.progress import HostEvent
from bgpdoctor.report.model import CheckResult, Report
from bgpdoctor.report.safe_text import one_line
from bgpdoctor.report.status import EndStatus, SessionStatus
from bgpdoctor.report.text import summary_counts
from bgpdoctor.tui import view
from bgpdoctor.tui.source import RunResult, Source

TABS = ("run", "topology", "findings", "checks")
# one style per tone; with NO_COLOR textual drops the colours and the words still say it
TONE = {"ok": "bold green", "bad": "bold red", "unknown": "bold yellow", "busy": "cyan", "idle": "dim"}
HOST_TONE = {
    "waiting": "idle",
    "connecting": "busy",
    "collecting": "busy",
    "collected": "busy",
    "probing": "busy",
    "done": "ok",
    "failed": "bad",
}
STATUS_TONE = {
    "pass": "ok",
    "fail": "bad",
    "warn": "unknown",
    "error": "bad",
    "unknown": "unknown",
    "skip": "idle",
}


def toned(text: str, tone: str) -> Text:
    return Text(one_line(text), style=TONE[tone])


@dataclass
class EngineProgress(Message):
    """A free-text progress line from the engine (the same lines `bgpdoctor run` prints)."""

    line: str


@dataclass
class HostChanged(Message):
    event: HostEvent


class BgpDoctorApp(App[int]):
    """Diagnose live or from a recording, and browse the result."""

    CSS_PATH = "bgpdoctor.tcss"
    ENABLE_COMMAND_PALETTE = False
    TITLE = "bgpdoctor"
    BINDINGS: ClassVar[list[BindingType]] = [
        # the tab labels show 1-4; the footer keeps its width for the other keys (80 columns)
        Binding("1", "show_tab('run')", "Run", show=False),
        Binding("2", "show_tab('topology')", "Topology", show=False),
        Binding("3", "show_tab('findings')", "Findings", show=False),
        Binding("4", "show_tab('checks')", "Checks", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("r", "rerun_host", "Re-run host"),
        Binding("R", "rerun_all", "Re-run all", key_display="R"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self.result: RunResult | None = None
        self.runs_shown = 0  # results and failures put on screen; tests wait on it
        self._findings: list[view.Finding] = []
        self._shown_checks: list[CheckResult] = []
        self.sub_title = one_line(source.description)

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="run"):
            with TabPane("1 Run", id="run"):
                yield Static(id="run-summary")
                yield DataTable(id="hosts", cursor_type="row", zebra_stripes=True)
                yield Log(id="log", max_lines=2000)
            with TabPane("2 Topology", id="topology"), VerticalScroll(id="topology-scroll"):
                yield Static(id="sessions-head")
                yield DataTable(id="sessions", cursor_type="row")
                yield Static(id="session-detail")
                yield Static(id="sites")
            with TabPane("3 Findings", id="findings"):
                yield Static(id="findings-head")
                yield OptionList(id="finding-list")
            with TabPane("4 Checks", id="checks"), Vertical():
                with Horizontal(id="filters"):
                    yield Input(placeholder="host contains…", id="filter-host")
                    yield Select(
                        [(s, s) for s in view.STATUSES],
                        prompt="status",
                        id="filter-status",
                    )
                    yield Select([], prompt="root cause", id="filter-cause")
                yield DataTable(id="check-table", cursor_type="row", zebra_stripes=True)
                yield Static(id="check-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        hosts = self.query_one("#hosts", DataTable)
        hosts.add_column("host", key="host")
        hosts.add_column("role", key="role")
        hosts.add_column("site", key="site")
        hosts.add_column("state", key="state", width=10)
        hosts.add_column("detail", key="detail", width=30)  # fixed: the table must not jump as hosts report
        for name in self.source.scope:
            host = self.source.inventory.hosts[name]
            hosts.add_row(name, host.role, host.site or "-", toned("waiting", "idle"), "", key=name)
        sessions = self.query_one("#sessions", DataTable)
        for label in ("session", "first end", "second end", "verdict"):
            sessions.add_column(label, key=label)
        checks = self.query_one("#check-table", DataTable)
        for label in ("status", "check", "subject", "root cause", "reason"):
            checks.add_column(label, key=label)
        self._set_summary("starting…")
        hosts.focus()
        # the engine holds the GIL for long stretches: let the first frame reach the terminal first
        self.call_after_refresh(self.start_run)

    # --- the engine, in a worker -------------------------------------------------------------------

    def start_run(self, host: str | None = None) -> None:
        self._set_summary(f"running: {host or 'all hosts'}…")
        self._engine(host)

    @work(thread=True, exclusive=True, group="engine", exit_on_error=False)
    def _engine(self, host: str | None) -> RunResult:
        def progress(line: str) -> None:
            self.post_message(EngineProgress(line))

        def on_event(event: HostEvent) -> None:
            self.post_message(HostChanged(event))

        if host is None:
            return self.source.run(progress, on_event)
        return self.source.rerun_host(host, self.result, progress, on_event)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "engine":
            return
        if event.state == WorkerState.SUCCESS and isinstance(event.worker.result, RunResult):
            self.show_result(event.worker.result)
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            message = one_line(f"{type(error).__name__}: {error}")[:300]
            self.query_one("#log", Log).write_line(f"run failed: {message}")
            self._set_summary(f"run failed: {message}")
            self.notify(message, title="run failed", severity="error")
            self.runs_shown += 1

    def on_engine_progress(self, message: EngineProgress) -> None:
        self.query_one("#log", Log).write_line(one_line(message.line))

    def on_host_changed(self, message: HostChanged) -> None:
        event = message.event
        hosts = self.query_one("#hosts", DataTable)
        if event.host not in hosts.rows:
            return
        hosts.update_cell(event.host, "state", toned(event.state, HOST_TONE[event.state]))
        hosts.update_cell(event.host, "detail", Text(one_line(event.detail)), update_width=True)

    @property
    def running(self) -> bool:
        active = (WorkerState.PENDING, WorkerState.RUNNING)
        return any(w.group == "engine" and w.state in active for w in self.workers)

    # --- rendering a result ------------------------------------------------------------------------

    def _set_summary(self, text: str) -> None:
        self.query_one("#run-summary", Static).update(Text(text))

    def show_result(self, result: RunResult) -> None:
        self.result = result
        report = result.report
        s = report.summary
        verdict = {0: "no findings", 1: f"{s.findings} finding(s)", 3: "could not judge what matters"}
        self._set_summary(
            f"{verdict.get(s.exit_code, f'exit {s.exit_code}')}: {s.hosts} hosts "
            f"({s.unreachable_hosts} unreachable), {summary_counts(s)}, {s.diagnoses} root cause(s)"
        )
        for h in report.hosts:
            if not h.reachable:
                reason = f"{h.error_kind or '?'}: {h.error or ''}"
                self.on_host_changed(HostChanged(HostEvent(h.name, "failed", reason)))
        self._show_topology(result)
        self._show_findings(report)
        self._show_checks(report)
        self.runs_shown += 1

    def _show_topology(self, result: RunResult) -> None:
        inv = self.source.inventory
        states = {h.name: h for h in result.report.hosts}
        text = Text()
        for site in view.sites(inv, result.collected.scope):
            text.append(f"site {site.name}", style="bold")
            if site.lan:
                text.append(f"  {site.lan}")
            if site.description:
                text.append(f"  {one_line(site.description)}", style="dim")
            text.append("\n")
            for kind, names in (("routers", site.routers), ("nodes", site.nodes), ("vantage", site.vantages)):
                if not names:
                    continue
                text.append(f"  {kind:8}")
                for name in names:
                    host = inv.hosts[name]
                    up = states[name].reachable if name in states else False
                    text.append(
                        f" {name}" + ("" if up else " (unreachable)"), style=TONE["ok" if up else "bad"]
                    )
                    text.append(f"[{host.speaker}{f' AS{host.asn}' if host.asn else ''}]", style="dim")
                text.append("\n")
        for sw in view.switches(inv):
            text.append(f"switch {sw.name}", style="bold")
            text.append(f"  {', '.join(sw.segments)}")
            if sw.description:
                text.append(f"  {one_line(sw.description)}", style="dim")
            text.append("\n")
        sessions = result.status.sessions
        counts = {v: sum(1 for s in sessions if s.verdict == v) for v in ("established", "down", "unknown")}
        head = (
            f"{len(sessions)} BGP sessions: {counts['established']} established, {counts['down']} down, "
            f"{counts['unknown']} unknown (each end as its daemon reports it)"
        )
        self.query_one("#sessions-head", Static).update(Text(head))
        self.query_one("#sites", Static).update(text)
        table = self.query_one("#sessions", DataTable)
        table.clear()
        for s in sessions:
            table.add_row(*self._session_cells(s), key=s.session)

    @staticmethod
    def _session_cells(s: SessionStatus) -> list[Text]:
        def end(status: EndStatus | None) -> Text:
            state = "?" if status is None or status.state is None else status.state
            return toned(state, view.end_tone(status))

        tone = {"established": "ok", "down": "bad", "unknown": "unknown"}[s.verdict]
        return [Text(one_line(s.session)), end(s.a), end(s.b), toned(s.verdict, tone)]

    @on(DataTable.RowHighlighted, "#sessions")
    def _session_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.result is None:
            return
        match = [s for s in self.result.status.sessions if s.session == event.row_key.value]
        text = Text()
        for end in [match[0].a, match[0].b] if match else []:
            if end is None:
                text.append("other end: not in the inventory\n", style=TONE["unknown"])
                continue
            text.append(f"{one_line(end.host)}: ", style="bold")
            text.append_text(toned(view.end_text(end), view.end_tone(end)))
            text.append(f"  {one_line(view.end_numbers(end))}\n")
        self.query_one("#session-detail", Static).update(text)

    def _show_findings(self, report: Report) -> None:
        rows = view.findings(report)
        head = (
            f"{len(report.diagnoses)} root cause(s), {len(rows) - len(report.diagnoses)} other finding(s)"
            " — Enter opens one"
            if rows
            else "no findings in what was checked"
            + (f" ({report.summary.unknown} check(s) could not be judged)" if report.summary.unknown else "")
        )
        self.query_one("#findings-head", Static).update(Text(head))
        options = self.query_one("#finding-list", OptionList)
        options.clear_options()
        options.add_options(
            [
                Option(toned(f.label, "bad" if f.diagnosis else "unknown"), id=str(i))
                for i, f in enumerate(rows)
            ]
        )
        self._findings = rows
        if rows:
            options.highlighted = 0

    def _show_checks(self, report: Report) -> None:
        cause = self.query_one("#filter-cause", Select)
        cause.set_options([(c, c) for c in view.causes(report)])
        self._refresh_checks()

    def _refresh_checks(self) -> None:
        if self.result is None:
            return
        host = self.query_one("#filter-host", Input).value
        status = self.query_one("#filter-status", Select).value
        cause = self.query_one("#filter-cause", Select).value
        shown = view.filter_results(
            self.result.report.results,
            host,
            status if isinstance(status, str) else view.ALL,
            cause if isinstance(cause, str) else view.ALL,
        )
        table = self.query_one("#check-table", DataTable)
        table.clear()
        self._shown_checks = shown
        for i, r in enumerate(shown):
            table.add_row(
                toned(r.status.upper(), STATUS_TONE[r.status]),
                Text(one_line(r.check)),
                Text(one_line(r.host)),
                Text(one_line(r.explained_by or "-")),
                Text(one_line(r.reason)),
                key=str(i),
            )
        self._check_detail(shown[0] if shown else None, len(shown))

    def _check_detail(self, result: CheckResult | None, shown: int | None = None) -> None:
        total = len(self.result.report.results) if self.result else 0
        count = len(self._shown_checks) if shown is None else shown
        text = Text(f"{count} of {total} checks", style="bold")
        if result is not None:
            text.append(f"  {one_line(result.check)} @ {one_line(result.host)}")
            if result.explained_by:
                text.append(f"  [symptom of {one_line(result.explained_by)}]", style="bold")
            text.append(f"\n{one_line(result.reason)}")
        self.query_one("#check-detail", Static).update(text)

    @on(DataTable.RowHighlighted, "#check-table")
    def _check_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None and self._shown_checks:
            self._check_detail(self._shown_checks[int(event.row_key.value)])

    @on(Input.Changed, "#filter-host")
    @on(Select.Changed, "#filter-status")
    @on(Select.Changed, "#filter-cause")
    def _filters_changed(self) -> None:
        self._refresh_checks()

    @on(Input.Submitted, "#filter-host")
    def _host_filter_done(self) -> None:
        self.query_one("#check-table", DataTable).focus()

    # --- drilling down -----------------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#finding-list")
    def _open_finding(self, event: OptionList.OptionSelected) -> None:
        from bgpdoctor.tui.screens import CauseScreen, EvidenceScreen

        finding = self._findings[int(event.option.id or 0)]
        if finding.diagnosis is not None:
            self.push_screen(CauseScreen(finding.diagnosis))
        elif finding.result is not None:
            self.push_screen(EvidenceScreen.of_result(finding.result))

    @on(DataTable.RowSelected, "#check-table")
    def _open_check(self, event: DataTable.RowSelected) -> None:
        from bgpdoctor.tui.screens import EvidenceScreen

        result: CheckResult = self._shown_checks[int(event.row_key.value or 0)]
        self.push_screen(EvidenceScreen.of_result(result))

    # --- actions -----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Filter and re-run belong to the main screen: hidden from the footer of the others."""
        if action in ("filter", "rerun_host", "rerun_all"):
            return self.screen is self.default_screen
        return True

    def action_show_tab(self, tab: str) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.query_one(TabbedContent).active = tab
        target = {
            "run": "#hosts",
            "topology": "#sessions",
            "findings": "#finding-list",
            "checks": "#check-table",
        }
        self.query_one(target[tab]).focus()

    def action_filter(self) -> None:
        self.action_show_tab("checks")
        self.query_one("#filter-host", Input).focus()

    def action_rerun_all(self) -> None:
        if self.running:
            self.notify("a run is in progress", severity="warning")
            return
        self.start_run()

    def action_rerun_host(self) -> None:
        if self.running:
            self.notify("a run is in progress", severity="warning")
            return
        hosts = self.query_one("#hosts", DataTable)
        if not hosts.row_count:
            return
        host = str(hosts.coordinate_to_cell_key(hosts.cursor_coordinate).row_key.value)
        if not self.source.live:
            self.notify(f"replay: {host} cannot be contacted; the recording is evaluated again")
        self.start_run(host)
