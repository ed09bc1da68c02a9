"""What the TUI's screens list, computed from the engine's output only (no textual, no diagnosis).

Example: sites(inventory, scope) -> [SiteView(name="mine", routers=["router-mine"],
nodes=["sakamoto"], ...), ...]; findings(report) -> diagnoses first, then failures no diagnosis
explains; filter_results(results, host="router", status="fail", cause=None) narrows the checks table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bgpdoctor.inventory_model import Inventory
from bgpdoctor.report.model import CheckResult, Diagnosis, FixSnippet, Report
from bgpdoctor.report.status import EndStatus

NO_SITE = "(no site)"
NO_CAUSE = "(none)"  # the cause filter value for results no diagnosis explains
ALL = "all"
STATUSES = ("fail", "warn", "error", "unknown", "pass", "skip")


@dataclass
class SiteView:
    name: str
    description: str | None
    lan: str | None
    routers: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    vantages: list[str] = field(default_factory=list)


@dataclass
class SwitchView:
    name: str
    description: str | None
    segments: list[str]


def sites(inv: Inventory, scope: list[str]) -> list[SiteView]:
    """The hosts of `scope` by site, in inventory order; hosts without a site come last."""
    views: dict[str, SiteView] = {
        name: SiteView(name, site.description, str(site.lan) if site.lan else None)
        for name, site in inv.sites.items()
    }
    for name in scope:
        host = inv.hosts[name]
        site = host.site or NO_SITE
        view = views.setdefault(site, SiteView(site, None, None))
        {"router": view.routers, "node": view.nodes, "vantage": view.vantages}[host.role].append(name)
    return [v for v in views.values() if v.routers or v.nodes or v.vantages]


def switches(inv: Inventory) -> list[SwitchView]:
    return [
        SwitchView(name, sw.description, [str(s) for s in sw.segments]) for name, sw in inv.switches.items()
    ]


def end_tone(end: EndStatus | None) -> str:
    """ok (established), bad (known not established), unknown (could not be read or no such end)."""
    if end is None or end.state is None:
        return "unknown"
    return "ok" if end.state == "established" else "bad"


def end_text(end: EndStatus | None) -> str:
    """Example: "established", "active (Connection refused)", "? (timeout: no answer)"."""
    if end is None:
        return "? (not in the inventory)"
    if end.state is None:
        return f"? ({end.unknown or 'unknown'})"
    return f"{end.state} ({end.last_error})" if end.last_error else end.state


def end_numbers(end: EndStatus) -> str:
    """Example: "for 6m48s, prefixes rcv/acc/adv 1/1/3, hold 9s, dials: no"."""
    from bgpdoctor.report.status import _duration

    counts = "/".join("-" if v is None else str(v) for v in (end.received, end.accepted, end.advertised))
    hold = "-" if end.hold_time_s is None else f"{end.hold_time_s}s"
    dials = "-" if end.passive is None else ("no" if end.passive else "yes")
    return f"for {_duration(end.for_s)}, prefixes rcv/acc/adv {counts}, hold {hold}, dials: {dials}"


def reflow(text: str) -> str:
    """Paragraphs of a playbook's text as single lines, so the terminal wraps them at its width;
    indented lines and lists keep their breaks."""
    paragraphs = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        keep = any(line.startswith((" ", "-", "*", "$")) for line in lines)
        paragraphs.append("\n".join(lines) if keep else " ".join(line.strip() for line in lines))
    return "\n\n".join(paragraphs)


@dataclass
class Finding:
    """One row of the findings screen: a diagnosis, or a failure no diagnosis explains."""

    label: str
    diagnosis: Diagnosis | None = None
    result: CheckResult | None = None


def findings(report: Report) -> list[Finding]:
    rows = [Finding(f"#{d.rank} {d.root_cause}: {d.title}", diagnosis=d) for d in report.diagnoses]
    rows += [
        Finding(f"{r.status.upper()} {r.check} @ {r.host}: {r.reason}", result=r)
        for r in report.results
        if r.status in ("fail", "warn", "error") and r.explained_by is None
    ]
    return rows


def filter_results(
    results: list[CheckResult], host: str = "", status: str = ALL, cause: str = ALL
) -> list[CheckResult]:
    """Results whose subject or hosts contain `host` (case-insensitive), with `status` and explained
    by `cause` (NO_CAUSE: by none; ALL: any); failures first, in the order of STATUSES."""
    needle = host.strip().lower()
    order = {s: i for i, s in enumerate(STATUSES)}
    return [
        r
        for r in sorted(results, key=lambda r: order.get(r.status, len(order)))
        if (not needle or needle in r.host.lower() or any(needle in h.lower() for h in r.hosts))
        and (status == ALL or r.status == status)
        and (cause == ALL or (r.explained_by or NO_CAUSE) == cause)
    ]


def causes(report: Report) -> list[str]:
    """Every value of the cause filter this report can match, NO_CAUSE last."""
    explained = sorted({r.explained_by for r in report.results if r.explained_by})
    return [*dict.fromkeys([*(d.root_cause for d in report.diagnoses), *explained]), NO_CAUSE]


def fix_file_name(diagnosis: Diagnosis, fix: FixSnippet) -> str:
    """Example: "fix-mtu-blackhole-nftables-router-mine.txt"."""
    parts = [diagnosis.root_cause, fix.platform, *([fix.host] if fix.host else [])]
    return "fix-" + "-".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", p) for p in parts) + ".txt"


def fix_heading(fix: FixSnippet) -> str:
    """Example: "[nftables] on router-mine, inside table inet fw4: Let ICMP frag-needed through"."""
    where = f" on {fix.host}" if fix.host else ""
    where += f", inside {fix.target}" if fix.target else ""
    return f"[{fix.platform}]{where}: {fix.title}"
