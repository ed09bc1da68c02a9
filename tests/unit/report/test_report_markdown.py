"""`-o md`: a short healthy report (passes counted, never listed), a mermaid diagram of the sessions
coloured by state, every code fence tagged, secrets redacted, host text unable to break the page."""

from __future__ import annotations

import re

from report_runs import replayed

from bgpdoctor.report.markdown import EDGE_STYLE, render_markdown, session_diagram
from bgpdoctor.report.model import Evidence


def markdown_of(name: str) -> str:
    run = replayed(name)
    return render_markdown(run.report, run.extras.status, run.extras.sites)


def fences(text: str) -> list[tuple[str, str]]:
    """(fence, info string) of every opening fence."""
    found, open_fence = [], None
    for line in text.splitlines():
        m = re.match(r"^(`{3,})(.*)$", line)
        if not m:
            continue
        if open_fence is None:
            open_fence = m.group(1)
            found.append((m.group(1), m.group(2)))
        elif m.group(1) == open_fence and not m.group(2):
            open_fence = None
    assert open_fence is None, "a fence is never closed"
    return found


def test_healthy_report_is_short_and_lists_no_passed_result() -> None:
    text = markdown_of("healthy")
    report = replayed("healthy").report
    assert report.summary.passed > 150
    checks = {r.check for r in report.results}
    # one table row per check, not per result (756 results, most of them passes)
    assert len(text.splitlines()) < len(checks) + 60
    assert not [line for line in text.splitlines() if line.startswith("| pass |")]
    assert text.startswith("# bgpdoctor report: healthy: no findings")
    for check in checks:  # each check counted once, in the table
        assert len(re.findall(rf"^\| `{re.escape(check)}` \|", text, re.M)) == 1
    row = next(line for line in text.splitlines() if line.startswith("| `host-reachable` |"))
    assert "| 12 |" in row


def test_diagram_has_one_edge_per_session_coloured_by_its_state() -> None:
    run = replayed("speaker-down")
    assert run.extras.status is not None
    diagram = session_diagram(run.extras.status, run.extras.sites)
    assert diagram.startswith("flowchart LR")
    edges = [line for line in diagram.splitlines() if "---|" in line]
    styles = [line.strip() for line in diagram.splitlines() if line.strip().startswith("linkStyle")]
    assert len(edges) == len(styles) == len(run.extras.status.sessions)
    verdicts = [s.verdict for s in run.extras.status.sessions]
    assert styles == [f"linkStyle {i} {EDGE_STYLE[v]}" for i, v in enumerate(verdicts)]
    down = edges[verdicts.index("down")]
    assert "router-home unknown" in down and "router-mine active" in down
    assert 'subgraph s0["site home"]' in diagram
    assert "```mermaid\n" + diagram + "\n```" in markdown_of("speaker-down")


def test_mermaid_labels_cannot_break_the_diagram() -> None:
    run = replayed("healthy")
    assert run.extras.status is not None
    status = run.extras.status.model_copy(deep=True)
    status.hosts[0] = status.sessions[0].a.host = 'evil"]\n<b>x'
    diagram = session_diagram(status)
    assert '"evil#quot;]\\n#lt;b#gt;x"' in diagram
    assert all(line.startswith("  ") for line in diagram.splitlines()[1:])  # no label broke a line


def test_diagnosis_has_evidence_and_fixes_in_tagged_fences() -> None:
    text = markdown_of("nat-rewrites-bgp-source")
    assert "## 1. `nat-rewrites-bgp-source`: Masquerade on the path rewrites the BGP source address" in text
    assert "### Evidence" in text and "### Fixes" in text
    infos = [info for _fence, info in fences(text)]
    assert infos and all(infos), f"untagged fence in {infos}"
    assert "sh" in infos and "mermaid" in infos and "json" in infos
    assert "nft insert rule ip bdl_fault_nat post ip daddr 192.168.6.1 tcp dport 179 accept" in text


def test_secrets_are_redacted_and_backticks_cannot_close_a_fence() -> None:
    run = replayed("nat-rewrites-bgp-source")
    report = run.report.model_copy(deep=True)
    report.diagnoses[0].evidence.append(
        Evidence(host="router-mine", command="cat bird.conf", output='password "hunter2";\n```\n# injected')
    )
    text = render_markdown(report, run.extras.status)
    assert "hunter2" not in text
    assert 'password "<redacted>";' in text
    assert "````text\npassword" in text  # the fence is longer than the backtick run inside
    fences(text)


def test_unknown_results_are_listed_with_why() -> None:
    text = markdown_of("speaker-down")
    section = text.split("## Could not check", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("- `")]
    assert len(rows) == replayed("speaker-down").report.summary.unknown
    assert "Unable to connect to server control socket" in section
