"""Label selectors (Kubernetes) and Calico selector expressions."""

from __future__ import annotations

import pytest

from bgpdoctor.kube.selectors import (
    LabelSelector,
    SelectorError,
    SelectorRequirement,
    calico_selector_matches,
    label_value,
    parse_label_selector,
)

REMOTE = {"node-type": "remote", "kubernetes.io/hostname": "yuuko-k8s"}
LOCAL = {"kubernetes.io/hostname": "sakamoto"}


def test_notin_matches_nodes_without_the_label() -> None:
    sel = parse_label_selector(
        {"matchExpressions": [{"key": "node-type", "operator": "NotIn", "values": ["remote"]}]}
    )
    assert sel is not None
    assert sel.matches(LOCAL) is True
    assert sel.matches(REMOTE) is False


def test_match_labels_and_expressions_are_anded() -> None:
    sel = parse_label_selector(
        {"matchLabels": {"node-type": "remote"}, "matchExpressions": [{"key": "zone", "operator": "Exists"}]}
    )
    assert sel is not None
    assert not sel.matches(REMOTE)
    assert sel.matches({**REMOTE, "zone": "home"})


@pytest.mark.parametrize(
    ("op", "values", "labels", "expected"),
    [
        ("In", ("a", "b"), {"k": "b"}, True),
        ("In", ("a",), {}, False),
        ("NotIn", ("a",), {"k": "b"}, True),
        ("Exists", (), {"k": ""}, True),
        ("DoesNotExist", (), {"k": ""}, False),
        ("DoesNotExist", (), {}, True),
    ],
)
def test_operators(op: str, values: tuple[str, ...], labels: dict[str, str], expected: bool) -> None:
    assert (
        LabelSelector(match_expressions=(SelectorRequirement("k", op, values),)).matches(labels) is expected
    )


def test_empty_selector_matches_all_and_missing_is_none() -> None:
    assert parse_label_selector({}) == LabelSelector()
    assert LabelSelector().matches({}) is True
    assert parse_label_selector(None) is None


def test_unknown_operator_is_an_error() -> None:
    with pytest.raises(SelectorError, match="Gt"):
        LabelSelector(match_expressions=(SelectorRequirement("k", "Gt", ("1",)),)).matches({"k": "2"})


def test_describe() -> None:
    sel = parse_label_selector(
        {"matchExpressions": [{"key": "node-type", "operator": "NotIn", "values": ["remote"]}]}
    )
    assert sel is not None and sel.describe() == "node-type notin (remote)"
    assert LabelSelector().describe() == "<all>"


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("region == 'WDS'", {"region": "WDS"}, True),
        ("region == 'WDS'", {"region": "Global"}, False),
        ("region == 'Domestic'", {}, False),
        ("region != 'WDS'", {}, True),
        ("all()", {}, True),
        ("", {"a": "b"}, True),
        ("has(bgp)", {"bgp": ""}, True),
        ("!has(bgp)", {"bgp": ""}, False),
        ("region in {'WDS', 'Global'}", {"region": "Global"}, True),
        ("region not in {'WDS'}", {"region": "Global"}, True),
        ("region == 'WDS' && has(rr)", {"region": "WDS"}, False),
        ("region == 'WDS' || has(rr)", {"rr": "yes"}, True),
        ("!(region == 'WDS')", {"region": "WDS"}, False),
        ('name starts with "kube"', {"name": "kubemaster"}, True),
        ("name ends with 'hkg04'", {"name": "kubenode-hkg04"}, True),
        ("name contains 'wds'", {"name": "kubenode-wds-1"}, True),
    ],
)
def test_calico_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert calico_selector_matches(selector, labels) is expected


@pytest.mark.parametrize("selector", ["region ==", "region = 'x'", "(region == 'x'", "region == WDS"])
def test_calico_selector_errors_quote_the_selector(selector: str) -> None:
    with pytest.raises(SelectorError, match="cannot parse Calico selector"):
        calico_selector_matches(selector, {})


@pytest.mark.parametrize("selector", ["(" * 3000 + "all()" + ")" * 3000, "!" * 3000 + "all()"])
def test_deep_nesting_is_a_selector_error_not_a_stack_overflow(selector: str) -> None:
    with pytest.raises(SelectorError, match="nested deeper than"):
        calico_selector_matches(selector, {})


def test_nesting_up_to_the_bound_still_evaluates() -> None:
    assert calico_selector_matches("(" * 50 + "has(bgp)" + ")" * 50, {"bgp": ""})


@pytest.mark.parametrize(
    ("value", "text"), [(True, "true"), (False, "false"), ("yes", "yes"), (None, ""), (64512, "64512")]
)
def test_label_values_are_strings_as_kubernetes_stores_them(value: object, text: str) -> None:
    assert label_value(value) == text


def test_a_yaml_boolean_in_match_labels_selects_the_label_true() -> None:
    sel = parse_label_selector(
        {
            "matchLabels": {"bgp": True},
            "matchExpressions": [{"key": "on", "operator": "In", "values": [False]}],
        }
    )
    assert sel is not None
    assert sel.matches({"bgp": "true", "on": "false"})
