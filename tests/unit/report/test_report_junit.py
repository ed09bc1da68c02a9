"""`-o junit` on every recorded run: valid for Jenkins' xUnit schema, read back by junitparser with
the report's counts, unknown never shown as a pass, hostile host text kept out of the XML."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import junitparser
import pytest
import xmlschema
from click.testing import CliRunner
from report_runs import ALL_RUNS, RUNS, SCHEMAS, replayed

from bgpdoctor.cli import main
from bgpdoctor.report.junit import DIAGNOSES_SUITE, check_families, render_junit
from bgpdoctor.report.model import Evidence

XSD = xmlschema.XMLSchema(SCHEMAS / "junit-10.xsd")


def junit_of(name: str) -> str:
    return render_junit(replayed(name).report, check_families())


@pytest.mark.parametrize("name", ALL_RUNS)
def test_every_recorded_run_is_valid_junit_with_the_report_counts(name: str, tmp_path: Path) -> None:
    text = junit_of(name)
    XSD.validate(text)
    path = tmp_path / "junit.xml"
    path.write_text(text)
    parsed = junitparser.JUnitXml.fromfile(str(path))
    s = replayed(name).report.summary
    assert parsed.tests == s.checks + s.diagnoses
    assert parsed.failures == s.failed + s.diagnoses
    assert parsed.errors == s.errors
    assert parsed.skipped == s.skipped + s.unknown


def test_the_schema_rejects_what_ci_would_reject() -> None:
    assert not XSD.is_valid('<testsuites><testsuite name="s"><testcase/></testsuite></testsuites>')


def test_unknown_results_are_skipped_with_their_reason_never_passed(tmp_path: Path) -> None:
    report = replayed("speaker-down").report
    unknown = [r for r in report.results if r.status == "unknown"]
    assert unknown
    root = ET.fromstring(junit_of("speaker-down"))
    for r in unknown:
        case = root.find(f".//testcase[@name='{r.check}@{r.host}']")
        assert case is not None
        skipped = case.find("skipped")
        assert skipped is not None, f"{r.check}@{r.host} shown as passed"
        assert skipped.get("type") == "unknown"
        assert r.reason[:60] in (skipped.get("message") or "")


def test_failures_carry_the_reason_and_the_root_cause_they_are_a_symptom_of() -> None:
    root = ET.fromstring(junit_of("nat-rewrites-bgp-source"))
    case = root.find(".//testcase[@name='bgp-session-established@router-mine<->yuuko-k8s']")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None
    assert "symptom of nat-rewrites-bgp-source" in (failure.get("message") or "")
    suite = root.find(f"testsuite[@name='{DIAGNOSES_SUITE}']")
    assert suite is not None
    cause = suite.find("testcase/failure")
    assert cause is not None and cause.get("type") == "nat-rewrites-bgp-source"
    assert "nft insert rule ip bdl_fault_nat post ip daddr 192.168.6.1 tcp dport 179 accept" in (
        cause.text or ""
    )


def test_suites_are_the_check_families() -> None:
    root = ET.fromstring(junit_of("healthy"))
    names = [s.get("name") for s in root.findall("testsuite")]
    assert names == ["bgpdoctor.host", "bgpdoctor.kubelet", "bgpdoctor.path", "bgpdoctor.session"]


def test_hostile_output_stays_valid_xml_and_secrets_are_redacted() -> None:
    report = replayed("nat-rewrites-bgp-source").report.model_copy(deep=True)
    failed = next(r for r in report.results if r.status == "fail")
    failed.reason = "bad \x1b[2J\x00 reason ]]> <tag> & \ud800"
    failed.evidence.append(
        Evidence(host="r1", command="cat bird.conf", output='password "hunter2";\n\x07</failure>')
    )
    text = render_junit(report, check_families())
    XSD.validate(text)
    assert "hunter2" not in text
    failure = ET.fromstring(text).find(f".//testcase[@name='{failed.check}@{failed.host}']/failure")
    assert failure is not None and "<redacted>" in (failure.text or "")


def test_cli_replay_writes_junit_to_stdout_and_to_an_xml_report(tmp_path: Path) -> None:
    out = tmp_path / "bgpdoctor.xml"
    result = CliRunner().invoke(
        main, ["replay", str(RUNS / "md5-mismatch.json"), "-o", "junit", "--report", str(out)]
    )
    assert result.exit_code == 1, result.output
    XSD.validate(result.stdout)
    XSD.validate(out.read_text())
    assert 'type="md5-mismatch"' in out.read_text()
