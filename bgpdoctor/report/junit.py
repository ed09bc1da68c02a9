"""JUnit XML rendering of a report, for CI test-report views (GitLab, Jenkins, GitHub actions).

One `<testsuite>` per check family (the subject kind of the check: hosts, sessions, paths,
kubelet, cluster) plus one for the root causes found; one `<testcase>` per check result, named
`check@subject`. fail becomes `<failure>`, error `<error>`, skip and unknown `<skipped>` with the
reason (unknown is never shown as a pass); warn passes with the warning in `<system-out>`. Each
diagnosis is a failed testcase in the `bgpdoctor.root-causes` suite, its fixes in the body.
Validated in the tests against the JUnit schema of Jenkins' xUnit plugin (junit-10.xsd).

Example (shortened)::

    <testsuites name="bgpdoctor" tests="146" failures="3" errors="0" time="13.700">
      <testsuite name="bgpdoctor.sessions" tests="40" failures="2" errors="0" skipped="12" ...>
        <testcase classname="bgpdoctor.sessions.router-mine&lt;-&gt;yuuko-k8s"
                  name="bgp-session-established@router-mine&lt;-&gt;yuuko-k8s" time="0">
          <failure type="fail" message="router-mine: passive; yuuko-k8s: idle (symptom of ...)">...
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from xml.etree import ElementTree as ET

from bgpdoctor.redact import redact
from bgpdoctor.report.model import CheckResult, Diagnosis, Report
from bgpdoctor.report.safe_text import one_line, printable

DIAGNOSES_SUITE = "bgpdoctor.root-causes"
EVIDENCE_CHARS = 4000  # of each output quoted in a failure body; CI views choke on megabytes
# XML 1.0 cannot carry most C0 controls even escaped; printable() removes them, this is the net
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", printable(redact(text)))


def _attr(text: str) -> str:
    return _NOT_XML.sub("", one_line(redact(text)))


def check_families(extra_checks: list[str] | None = None) -> dict[str, str]:
    """check id -> its subject kind, from the check definitions (checks/ and --checks folders).

    Example: {"bgp-session-established": "session", "ip-forward": "host", ...}
    """
    from bgpdoctor.engine.rules import load_checks

    return {c.id: c.subject for c in load_checks(extra_checks or [])}


def _family(result: CheckResult, families: Mapping[str, str]) -> str:
    return f"bgpdoctor.{families.get(result.check, 'other')}"


def _value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _body(result: CheckResult) -> str:
    lines = [f"reason: {result.reason}"]
    if result.status in ("fail", "warn", "error"):
        lines += [f"actual: {_value(result.actual)}", f"expected: {_value(result.expected)}"]
    if result.explained_by:
        lines.append(f"symptom of root cause: {result.explained_by}")
    if result.unknown_kind:
        lines.append(f"unknown because: {result.unknown_kind}")
    for ev in result.evidence:
        output = ev.output if len(ev.output) <= EVIDENCE_CHARS else ev.output[:EVIDENCE_CHARS] + "\n..."
        lines += ["", f"$ {ev.command}   (on {ev.host})", output]
    return _xml_text("\n".join(lines))


def _testcase(parent: ET.Element, suite: str, result: CheckResult) -> None:
    case = ET.SubElement(
        parent,
        "testcase",
        classname=_attr(f"{suite}.{result.host}"),
        name=_attr(f"{result.check}@{result.host}"),
        time="0",
    )
    message = result.reason + (f" (symptom of {result.explained_by})" if result.explained_by else "")
    if result.status == "fail":
        ET.SubElement(case, "failure", type="fail", message=_attr(message)).text = _body(result)
    elif result.status == "error":
        ET.SubElement(case, "error", type="error", message=_attr(message)).text = _body(result)
    elif result.status == "unknown":
        kind = result.unknown_kind or "unknown"
        skipped = ET.SubElement(
            case, "skipped", type="unknown", message=_attr(f"unknown ({kind}): {message}")
        )
        skipped.text = _body(result)
    elif result.status == "skip":
        ET.SubElement(case, "skipped", type="skip", message=_attr(message))
    elif result.status == "warn":
        ET.SubElement(case, "system-out").text = _xml_text(f"WARNING: {message}\n{_body(result)}")


def _diagnosis_case(parent: ET.Element, d: Diagnosis) -> None:
    case = ET.SubElement(
        parent, "testcase", classname=DIAGNOSES_SUITE, name=_attr(f"#{d.rank} {d.root_cause}"), time="0"
    )
    parts = [d.title, "", d.summary, "", d.explanation.strip()]
    if d.symptoms:
        parts += ["", "symptoms explained: " + ", ".join(d.symptoms)]
    parts += [f"next: {step}" for step in d.next_steps]
    for fix in d.fixes:
        where = f" on {fix.host}" if fix.host else ""
        where += f", inside {fix.target}" if fix.target else ""
        parts += ["", f"fix [{fix.platform}]{where}: {fix.title}", fix.text]
    failure = ET.SubElement(case, "failure", type=d.root_cause, message=_attr(f"{d.root_cause}: {d.summary}"))
    failure.text = _xml_text("\n".join(parts))


def _suite(name: str, results: list[CheckResult], timestamp: str) -> ET.Element:
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(results)),
        failures=str(sum(r.status == "fail" for r in results)),
        errors=str(sum(r.status == "error" for r in results)),
        skipped=str(sum(r.status in ("skip", "unknown") for r in results)),
        timestamp=_attr(timestamp),
        time="0",
    )
    for r in results:
        _testcase(suite, name, r)
    return suite


def render_junit(report: Report, families: Mapping[str, str]) -> str:
    """The report as JUnit XML; `families` maps a check id to its suite (see `check_families`)."""
    by_suite: dict[str, list[CheckResult]] = {}
    for r in report.results:
        by_suite.setdefault(_family(r, families), []).append(r)
    s = report.summary
    root = ET.Element(
        "testsuites",
        name="bgpdoctor",
        tests=str(len(report.results) + len(report.diagnoses)),
        failures=str(s.failed + len(report.diagnoses)),
        errors=str(s.errors),
        time=f"{report.timing.wall_seconds:.3f}",
    )
    started = report.timing.started
    if report.diagnoses:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=DIAGNOSES_SUITE,
            tests=str(len(report.diagnoses)),
            failures=str(len(report.diagnoses)),
            errors="0",
            skipped="0",
            timestamp=_attr(started),
            time="0",
        )
        for d in report.diagnoses:
            _diagnosis_case(suite, d)
    for name in sorted(by_suite):
        root.append(_suite(name, by_suite[name], started))
    props = ET.Element("properties")
    for key, value in (
        ("inventory", report.inventory),
        ("scope", ",".join(report.scope)),
        ("tool_version", report.tool_version),
        ("exit_code", str(s.exit_code)),
    ):
        ET.SubElement(props, "property", name=key, value=_attr(value))
    first = root.find("testsuite")
    if first is not None:
        first.insert(0, props)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
