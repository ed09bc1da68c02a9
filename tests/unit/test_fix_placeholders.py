"""A fix never fills a value the run did not see with an invented one: an address or AS number
written as a template default would read as the user's own and be pasted as such. A missing value
shows as a bracketed marker in a run, and lint leaves such a fix out."""

from __future__ import annotations

import re

import pytest

from bgpdoctor.engine.judge import fix_snippets
from bgpdoctor.engine.rules import load_playbooks

# `default(65000, true)`, `default('192.0.2.2', true)`, `default("fe80::1")`: a number or an address
_INVENTED = re.compile(r"default\(\s*(?:\d+|['\"][0-9a-fA-F.:/]*[.:][0-9a-fA-F.:/]*['\"])\s*[,)]")

TEMPLATES = [
    (pb.id, fix.platform, part, text)
    for pb in load_playbooks()
    for fix in pb.fixes
    for part, text in (
        ("title", fix.title),
        ("host", fix.host),
        ("template", fix.template),
        ("target", fix.target),
    )
    if text
]


@pytest.mark.parametrize(("pb_id", "platform", "part", "text"), TEMPLATES, ids=lambda v: str(v)[:40])
def test_no_fix_invents_an_address_or_asn(pb_id: str, platform: str, part: str, text: str) -> None:
    invented = _INVENTED.findall(text)
    assert not invented, f"{pb_id} {platform} {part}: {invented}"


def test_a_fix_missing_its_neighbor_shows_the_gap_instead_of_a_made_up_address() -> None:
    pb = next(p for p in load_playbooks() if p.id == "ttl-security-gtsm")
    facts = dict(pb.example or {})
    del facts["ttl_sender_neighbor"], facts["ttl_sender_asn"]
    frr = next(f for f in fix_snippets(pb, facts) if f.platform == "frr")
    assert "192.0.2" not in frr.text and "65000" not in frr.text
    assert "[" in frr.text and "ttl_sender_asn" in frr.text
    assert "frr" not in {f.platform for f in fix_snippets(pb, facts, complete_only=True)}
