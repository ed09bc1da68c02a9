"""The drill-down screens: root cause -> evidence (raw output) -> fix (copy or save)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from bgpdoctor.report.model import CheckResult, Diagnosis, Evidence, FixSnippet
from bgpdoctor.report.safe_text import one_line, printable
from bgpdoctor.tui import view


def _section(text: Text, title: str, lines: list[str]) -> None:
    if lines:
        text.append(f"\n{title}\n", style="bold")
        for line in lines:
            text.append(f"  • {one_line(line)}\n")


class CauseScreen(Screen[None]):
    """One diagnosis: what it means, what proves it, what it explains; `e` evidence, `f` fixes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("e", "evidence", "Evidence"),
        Binding("f", "fixes", "Fixes"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.diagnosis = diagnosis

    def compose(self) -> ComposeResult:
        d = self.diagnosis
        text = Text()
        text.append(f"#{d.rank} {one_line(d.root_cause)}\n", style="bold red")
        text.append(f"{one_line(d.title)}\n\n", style="bold")
        text.append(f"{printable(d.summary)}\n")
        text.append(f"\nhosts: {one_line(', '.join(d.hosts))}\n")
        text.append(f"\n{view.reflow(printable(d.explanation))}\n")
        _section(text, "proven by", d.proven_by)
        _section(text, "symptoms it explains", d.symptoms)
        _section(text, "ruled out", d.ruled_out)
        _section(text, "next steps", d.next_steps)
        text.append(
            f"\n{len(d.evidence)} evidence item(s) (e), {len(d.fixes)} fix snippet(s) (f)\n", style="bold"
        )
        with VerticalScroll(id="cause-body"):
            yield Static(text, id="cause-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#cause-body").focus()

    def action_evidence(self) -> None:
        d = self.diagnosis
        self.app.push_screen(EvidenceScreen(f"evidence for {d.root_cause}", d.summary, d.evidence))

    def action_fixes(self) -> None:
        self.app.push_screen(FixScreen(self.diagnosis))


class EvidenceScreen(Screen[None]):
    """Raw output a verdict rests on: pick an item, scroll its output."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("tab", "focus_next", "Output/list", show=True),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, title: str, about: str, evidence: list[Evidence]) -> None:
        super().__init__()
        self.heading = title
        self.about = about
        self.evidence = evidence

    @classmethod
    def of_result(cls, result: CheckResult) -> EvidenceScreen:
        about = f"{result.status.upper()}: {result.reason}"
        if result.actual is not None or result.expected is not None:
            about += f" (actual {result.actual!r}, expected {result.expected!r})"
        return cls(f"{result.check} @ {result.host}", about, result.evidence)

    def compose(self) -> ComposeResult:
        yield Static(Text(one_line(self.heading), style="bold"), id="evidence-title")
        yield Static(Text(one_line(self.about)), id="evidence-about")
        yield OptionList(
            *[
                Option(
                    Text(
                        f"{one_line(e.host)} $ {one_line(e.command)}"
                        + (f"  ({one_line(e.note)})" if e.note else "")
                    ),
                    id=str(i),
                )
                for i, e in enumerate(self.evidence)
            ],
            id="evidence-list",
        )
        yield TextArea(
            "" if self.evidence else "(no raw output was kept for this verdict)",
            read_only=True,
            show_line_numbers=False,
            soft_wrap=False,
            id="evidence-output",
        )
        yield Footer()

    def on_mount(self) -> None:
        options = self.query_one("#evidence-list", OptionList)
        if self.evidence:
            options.highlighted = 0
        options.focus()

    @on(OptionList.OptionHighlighted, "#evidence-list")
    def _show(self, event: OptionList.OptionHighlighted) -> None:
        e = self.evidence[int(event.option.id or 0)]
        status = "" if e.exit_status in (0, None) else f"  [exit {e.exit_status}]"
        body = f"$ {printable(e.command)}{status}\n{printable(e.output)}"
        self.query_one("#evidence-output", TextArea).load_text(body)

    @on(OptionList.OptionSelected, "#evidence-list")
    def _read(self) -> None:
        self.query_one("#evidence-output", TextArea).focus()


class FixScreen(Screen[None]):
    """The fix snippets of one diagnosis, rendered with the run's real values."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("c", "copy", "Copy (OSC 52)"),
        Binding("s", "save", "Save to file"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.diagnosis = diagnosis

    def compose(self) -> ComposeResult:
        d = self.diagnosis
        yield Static(Text(f"fixes for {one_line(d.root_cause)}", style="bold"), id="fix-title")
        yield OptionList(
            *[Option(Text(one_line(view.fix_heading(f))), id=str(i)) for i, f in enumerate(d.fixes)],
            id="fix-list",
        )
        yield TextArea(
            "" if d.fixes else "(this root cause has no fix snippet)",
            read_only=True,
            show_line_numbers=False,
            soft_wrap=False,
            id="fix-text",
        )
        yield Footer()

    def on_mount(self) -> None:
        options = self.query_one("#fix-list", OptionList)
        if self.diagnosis.fixes:
            options.highlighted = 0
        options.focus()

    @property
    def fix(self) -> FixSnippet | None:
        index = self.query_one("#fix-list", OptionList).highlighted
        return self.diagnosis.fixes[index] if index is not None and self.diagnosis.fixes else None

    @on(OptionList.OptionHighlighted, "#fix-list")
    def _show(self, event: OptionList.OptionHighlighted) -> None:
        fix = self.diagnosis.fixes[int(event.option.id or 0)]
        self.query_one("#fix-text", TextArea).load_text(printable(fix.text))

    def action_copy(self) -> None:
        if (fix := self.fix) is None:
            return
        self.app.copy_to_clipboard(fix.text)
        self.notify(f"copied the {fix.platform} fix (OSC 52: the terminal must allow clipboard writes)")

    def action_save(self) -> None:
        if (fix := self.fix) is None:
            return

        def saved(path: Path | None) -> None:
            if path is not None:
                self.notify(f"saved the {fix.platform} fix to {one_line(str(path))}")

        self.app.push_screen(SaveFixScreen(fix, view.fix_file_name(self.diagnosis, fix)), saved)


class SaveFixScreen(ModalScreen[Path | None]):
    """Ask where to write one fix snippet; Enter writes it, Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, fix: FixSnippet, default_name: str) -> None:
        super().__init__()
        self.fix = fix
        self.default_name = default_name

    def compose(self) -> ComposeResult:
        with Vertical(id="save-dialog"):
            yield Label(Text(f"save the {one_line(self.fix.platform)} fix to (Enter saves, Esc cancels):"))
            yield Input(self.default_name, id="save-path")
            yield Label("", id="save-error")

    @on(Input.Submitted, "#save-path")
    def _save(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        try:
            path.write_text(self.fix.text.rstrip("\n") + "\n", encoding="utf-8")
        except OSError as exc:
            self.query_one("#save-error", Label).update(
                Text(one_line(f"cannot write: {exc.strerror or exc}"))
            )
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
