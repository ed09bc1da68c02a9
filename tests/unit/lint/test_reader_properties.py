"""Property tests: the lint config readers (BIRD, GoBGP, UCI, YAML/Kubernetes) and the bounded YAML
loader, fed the lint fixtures and mutations of them, record problems or raise the project's own
UsageError, and never any other exception. Bounded so the normal suite stays fast; the long run is
benchmarks/fuzz_parsers.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bgpdoctor import safe_yaml
from bgpdoctor.errors import UsageError
from bgpdoctor.intent import Loc
from bgpdoctor.lint import uci
from bgpdoctor.lint.bird import parse_bird
from bgpdoctor.lint.checks import run_checks
from bgpdoctor.lint.gobgp import parse_gobgp
from bgpdoctor.lint.loader import Inputs, _read_yaml, sniff

ROOT = Path(__file__).resolve().parents[2]
SEED_DIRS = [ROOT / "fixtures" / "lint", ROOT / "unit" / "lint"]


def _seeds() -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {"bird": [], "gobgp": [], "uci": [], "yaml": []}
    for d in SEED_DIRS:
        for path in sorted(d.rglob("*")):
            if not path.is_file() or path.suffix == ".py":
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            kind = sniff(text, path.name) or ""
            key = "uci" if kind.startswith("uci-") else "yaml" if kind.startswith("yaml") else kind
            if key in kinds:
                kinds[key].append(text)
    return kinds


SEEDS = _seeds()
# pieces that broke readers before: odd addresses, numbers, tables, YAML aliases and tags
TOKENS = [
    "10.0.0", "2001:db8::1", "fe80::1%eth0", "1e309", "-1", "99999999999", "²", "٣", "true", "yes",
    "[neighbors]", "[[neighbors]]", "[global.config]", "neighbor-interface = \"eth0\"",
    'router-id = "x"', "&a [*a]", "*a", "<<: *a", "!!binary", "!Ref", "{", "}", "[", "]", ";", "\"",
    "'", "\n", "\t", "%", "include \"*\";", "neighbor range 10.0.0.0/24 as 1;", "local 2001:db8::2 as 1;",
    "multihop x;", "define X = y;", "option ipaddr 300.1.1.1", "list network lan", "config zone",
    "kind: Node", "kind: NodeList\nitems: [1, [2]]", "nodeSelector: \"((((\"", "podCIDRs: [x]",
    "start: 10.0.0.9\n  stop: 10.0.0.1", "projectcalico.org/ASNumber: \"²\"", "9" * 4400, "2020-02-30",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> str:
    text = draw(st.sampled_from(SEEDS[kind]))
    for _ in range(draw(st.integers(0, 4))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "token", "duplicate"]))
        if op == "insert":
            text = text[:pos] + draw(st.text(max_size=12)) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 40)) :]
        elif op == "token":
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos:]
        else:
            lines = text.splitlines(keepends=True)
            if lines:
                i = draw(st.integers(0, len(lines) - 1))
                text = "".join(lines[: i + 1] + lines[i:])
    return text


# BGPDOCTOR_PROPERTY_EXAMPLES=5000 for a longer hunt
EXAMPLES = int(os.environ.get("BGPDOCTOR_PROPERTY_EXAMPLES", "150"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_every_reader_has_seeds() -> None:
    assert all(SEEDS[k] for k in SEEDS), {k: len(v) for k, v in SEEDS.items()}


def _judge(inputs: Inputs) -> None:
    """The checks run on whatever the readers accepted, without raising."""
    run_checks(inputs)


@SETTINGS
@given(text=mutated("bird"))
def test_bird_reader_records_problems_only(text: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("bird") / "bird.conf"
    problems: list[tuple[Loc, str]] = []
    cfg = parse_bird(str(path), problems, text)
    assert cfg is not None or problems
    _judge(Inputs(birds=[cfg] if cfg else []))


@SETTINGS
@given(text=st.one_of(mutated("gobgp"), st.text(max_size=200)))
def test_gobgp_reader_records_problems_only(text: str) -> None:
    problems: list[tuple[Loc, str]] = []
    sp = parse_gobgp(text, "n1/gobgpd.toml", problems)
    assert sp is not None or problems
    _judge(Inputs(gobgps=[sp] if sp else []))


@SETTINGS
@given(text=mutated("uci"))
def test_uci_reader_records_problems_only(text: str) -> None:
    sections, _ = uci.parse_uci(text, "network")
    net = uci.network_from(sections, "network", [])
    fw = uci.firewall_from(sections, "firewall")
    _judge(Inputs(networks=[net], firewalls=[fw]))


@SETTINGS
@given(text=mutated("yaml"))
def test_yaml_and_kubernetes_readers_record_problems_only(text: str) -> None:
    inputs = Inputs()
    _read_yaml("values.yaml", text, inputs)
    assert all(p.line >= 0 and "\n" not in p.message for p in inputs.problems)
    _judge(inputs)


@SETTINGS
@given(text=st.one_of(mutated("yaml"), st.text(max_size=300)), core=st.booleans())
def test_safe_yaml_raises_only_usage_errors(text: str, core: bool) -> None:
    try:
        safe_yaml.load_all(text, "f.yaml", core_schema=core)
    except UsageError as exc:
        assert "\n" not in str(exc)
        assert str(exc).startswith("f.yaml")
