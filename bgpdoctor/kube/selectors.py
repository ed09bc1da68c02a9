"""Selector evaluation: Kubernetes label selectors and Calico's selector expressions.

Kubernetes semantics: a missing selector (``None``) selects nothing, an empty one (``{}``) selects
everything; callers decide what a missing selector means for their resource (Cilium treats a
missing ``nodeSelector`` on a CiliumBGPClusterConfig as "all nodes").

Calico selectors (``region == 'WDS' && has(bgp)``) are parsed by a small recursive-descent parser
covering ``all()``, ``has(k)``, ``==``, ``!=``, ``in {..}``, ``not in {..}``, ``contains``,
``starts with``, ``ends with``, ``!``, ``&&``, ``||`` and parentheses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "MAX_SELECTOR_NESTING",
    "LabelSelector",
    "SelectorError",
    "SelectorRequirement",
    "calico_selector_matches",
    "label_value",
    "parse_label_selector",
]

MAX_SELECTOR_NESTING = 50  # parentheses and `!`: a hostile selector must not exhaust the stack


class SelectorError(ValueError):
    """A selector that cannot be understood; the message quotes it."""


@dataclass(frozen=True)
class SelectorRequirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelSelector:
    """A metav1.LabelSelector. Example: LabelSelector({"node-type": "remote"}, ())."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[SelectorRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy every term (an empty selector matches everything).

        Example: LabelSelector(match_expressions=(SelectorRequirement("node-type", "NotIn",
        ("remote",)),)).matches({"node-type": "remote"}) -> False
        """
        for key, value in self.match_labels.items():
            if labels.get(key) != value:
                return False
        for req in self.match_expressions:
            present = req.key in labels
            if req.operator == "In":
                ok = present and labels[req.key] in req.values
            elif req.operator == "NotIn":
                ok = not present or labels[req.key] not in req.values
            elif req.operator == "Exists":
                ok = present
            elif req.operator == "DoesNotExist":
                ok = not present
            else:
                raise SelectorError(f"unknown selector operator {req.operator!r} for key {req.key!r}")
            if not ok:
                return False
        return True

    def describe(self) -> str:
        """A kubectl-like rendering, e.g. ``node-type notin (remote)`` or ``<all>``."""
        parts = [f"{k}={v}" for k, v in self.match_labels.items()]
        for req in self.match_expressions:
            vals = ",".join(req.values)
            parts.append(
                {
                    "In": f"{req.key} in ({vals})",
                    "NotIn": f"{req.key} notin ({vals})",
                    "Exists": req.key,
                    "DoesNotExist": f"!{req.key}",
                }.get(req.operator, f"{req.key} {req.operator} ({vals})")
            )
        return ",".join(parts) or "<all>"


def label_value(value: object) -> str:
    """A label value (or selector value) as Kubernetes stores it: always a string, read as YAML 1.2
    and JSON do. A YAML boolean is "true"/"false" (never Python's "True"), null is "", and ``yes``
    reaches here as the string "yes" (the readers use YAML 1.2's core schema).

    Example: label_value(True) -> "true"; label_value("yes") -> "yes"; label_value(None) -> ""
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def parse_label_selector(raw: object) -> LabelSelector | None:
    """A LabelSelector from its API dict, or None when absent.

    Example: parse_label_selector({"matchLabels": {"node-type": "remote"}})
    -> LabelSelector(match_labels={"node-type": "remote"}, match_expressions=())
    """
    if not isinstance(raw, Mapping):
        return None
    labels = raw.get("matchLabels") or {}
    exprs = []
    for expr in _list(raw.get("matchExpressions")):
        if isinstance(expr, Mapping):
            exprs.append(
                SelectorRequirement(
                    key=label_value(expr.get("key", "")),
                    operator=label_value(expr.get("operator", "")),
                    values=tuple(label_value(v) for v in _list(expr.get("values"))),
                )
            )
    pairs = labels.items() if isinstance(labels, Mapping) else ()
    return LabelSelector({label_value(k): label_value(v) for k, v in pairs}, tuple(exprs))


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


# --- Calico selectors -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"[^"]*"|'[^']*')
      | (?P<op>==|!=|&&|\|\||!|\(|\)|\{|\}|,)
      | (?P<word>[A-Za-z0-9_./\-]+(?:\(\))?)
    )""",
    re.VERBOSE,
)

Labels = Mapping[str, str]
Pred = Callable[[Labels], bool]


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SelectorError(f"cannot parse Calico selector {text!r} at {text[pos:]!r}")
        out.append(m.group(m.lastgroup or "word"))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    def _deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_SELECTOR_NESTING:
            raise SelectorError(
                f"cannot parse Calico selector {self.text[:80]!r}: "
                f"nested deeper than {MAX_SELECTOR_NESTING} levels"
            )

    def _peek(self, ahead: int = 0) -> str | None:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def _take(self, expected: str | None = None) -> str:
        tok = self._peek()
        if tok is None or (expected is not None and tok != expected):
            raise SelectorError(f"cannot parse Calico selector {self.text!r}: expected {expected or 'more'}")
        self.i += 1
        return tok

    def parse(self) -> Pred:
        if not self.toks:
            return lambda _labels: True
        pred = self._or()
        if self._peek() is not None:
            raise SelectorError(f"cannot parse Calico selector {self.text!r}: unexpected {self._peek()!r}")
        return pred

    def _or(self) -> Pred:
        left = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            left = (lambda a, b: lambda lb: a(lb) or b(lb))(left, right)
        return left

    def _and(self) -> Pred:
        left = self._not()
        while self._peek() == "&&":
            self._take()
            right = self._not()
            left = (lambda a, b: lambda lb: a(lb) and b(lb))(left, right)
        return left

    def _not(self) -> Pred:
        if self._peek() == "!":
            self._take()
            self._deeper()
            inner = self._not()
            self.depth -= 1
            return lambda lb: not inner(lb)
        return self._atom()

    def _string(self) -> str:
        tok = self._take()
        if len(tok) >= 2 and tok[0] in "'\"" and tok[-1] == tok[0]:
            return tok[1:-1]
        raise SelectorError(
            f"cannot parse Calico selector {self.text!r}: expected a quoted value, got {tok!r}"
        )

    def _set(self) -> frozenset[str]:
        self._take("{")
        values: set[str] = set()
        while self._peek() != "}":
            values.add(self._string())
            if self._peek() == ",":
                self._take()
        self._take("}")
        return frozenset(values)

    def _atom(self) -> Pred:
        tok = self._take()
        if tok == "(":
            self._deeper()
            inner = self._or()
            self._take(")")
            self.depth -= 1
            return inner
        if tok in ("all()", "global()"):
            return lambda _lb: True
        key = tok
        nxt = self._peek()
        if nxt == "==":
            self._take()
            value = self._string()
            return lambda lb: lb.get(key) == value
        if nxt == "!=":
            self._take()
            value = self._string()
            return lambda lb: lb.get(key) != value
        if nxt == "in":
            self._take()
            values = self._set()
            return lambda lb: lb.get(key) in values
        if nxt == "not" and self._peek(1) == "in":
            self.i += 2
            values = self._set()
            return lambda lb: lb.get(key) not in values
        if nxt == "contains":
            self._take()
            value = self._string()
            return lambda lb: value in lb.get(key, "")
        if nxt == "starts" and self._peek(1) == "with":
            self.i += 2
            value = self._string()
            return lambda lb: key in lb and lb[key].startswith(value)
        if nxt == "ends" and self._peek(1) == "with":
            self.i += 2
            value = self._string()
            return lambda lb: key in lb and lb[key].endswith(value)
        raise SelectorError(f"cannot parse Calico selector {self.text!r} near {key!r}")


def _preprocess(text: str) -> str:
    # has(key) is rewritten to a sentinel comparison the tokenizer handles uniformly.
    return re.sub(r"has\(\s*([A-Za-z0-9_./\-]+)\s*\)", r"\1 __has__ ''", text)


def calico_selector_matches(selector: str, labels: Labels) -> bool:
    """Evaluate a Calico selector against labels; raises SelectorError when it does not parse.

    Example: calico_selector_matches("region == 'WDS'", {"region": "WDS"}) -> True;
    calico_selector_matches("has(bgp) && !all()", {"bgp": ""}) -> False
    """
    parser = _HasParser(_preprocess(selector), selector)
    return parser.parse()(labels)


class _HasParser(_Parser):
    def __init__(self, text: str, original: str) -> None:
        super().__init__(text)
        self.text = original

    def _atom(self) -> Pred:
        if self._peek(1) == "__has__":
            key = self._take()
            self._take()
            self._string()
            return lambda lb: key in lb
        return super()._atom()
