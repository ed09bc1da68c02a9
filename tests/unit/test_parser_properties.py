"""Property tests: every parser of host output returns a well-typed result or raises ParseError.

Inputs are the real fixtures (captures/outputs, the recordings in captures/runs) mutated by
hypothesis: spans of odd text inserted or cut, numbers swapped for '', '.', '1e309', '²', lines
dropped or repeated, and for JSON outputs one value swapped for a wrong type, a huge or non-finite
number, deep nesting, or an object with a duplicated key. A returned value must match the parser's
annotated return type (a dict where a str belongs breaks the engine later, outside the parser).
The runs are derandomized and bounded so the suite stays fast; benchmarks/fuzz_parsers.py is the
long run. The crash examples of issue 8 follow, one test each.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import functools
import json
import math
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bgpdoctor.engine import world
from bgpdoctor.kube import ciliumdbg
from bgpdoctor.parsers import (
    ParseError,
    bird,
    fortigate,
    frr,
    gobgp,
    huawei,
    iproute,
    netstat,
    nft,
    pcap,
    ping,
    routeros,
    ss,
    sysctl,
)
from bgpdoctor.probes import kubelet, mtu

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "captures" / "outputs"
EXAMPLES = 120

# -- seeds: real outputs -------------------------------------------------------------------------


def _files(*patterns: str) -> list[str]:
    return [p.read_text(encoding="utf-8") for pattern in patterns for p in sorted(OUT.glob(pattern))]


def _vendor(*patterns: str) -> list[str]:
    """Router outputs quoted from public sources (tests/fixtures/parsers/<vendor>/SOURCE.md)."""
    base = REPO / "tests" / "fixtures" / "parsers"
    return [p.read_text(encoding="utf-8") for pattern in patterns for p in sorted(base.glob(pattern))]


@functools.cache
def _recorded() -> dict[str, list[str]]:
    """Outputs kept in the recordings of captures/runs, by fact (route.get.X as route.get)."""
    found: dict[str, list[str]] = {}
    for path in sorted((REPO / "captures" / "runs").glob("*.json")):
        run = json.loads(path.read_text())
        for host in run["hosts"].values():
            for key, out in (host.get("outputs") or {}).items():
                fact = "route.get" if key.startswith("route.get.") else key
                text = base64.b64decode(out.get("stdout_b64", "")).decode("utf-8", errors="replace")
                bucket = found.setdefault(fact, [])
                if text.strip() and text not in bucket and len(bucket) < 12:
                    bucket.append(text)
        for probe in (run.get("active") or {}).get("kubelets", {}).values():
            found.setdefault("kubelet", []).append(probe["raw"])
    return found


def recorded(fact: str) -> list[str]:
    return _recorded().get(fact, [])


# -- the type contract of a result ---------------------------------------------------------------


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def type_problem(value: Any, hint: Any, where: str = "result") -> str | None:
    """Where value does not match the annotation hint, or None."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return None
    if hint is type(None):
        return None if value is None else f"{where} is {value!r:.60}, not None"
    if origin in (typing.Union, types.UnionType):
        fits = any(type_problem(value, a, where) is None for a in args)
        return None if fits else f"{where} is {type(value).__name__} {value!r:.60}, not {hint}"
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):
            return f"{where} is {type(value).__name__}, not {hint.__name__}"
        problems = (
            type_problem(getattr(value, f.name), _hints(hint)[f.name], f"{where}.{f.name}")
            for f in dataclasses.fields(hint)
        )
        return next((p for p in problems if p), None)
    if origin is list:
        if not isinstance(value, list):
            return f"{where} is {type(value).__name__}, not a list"
        return next((p for v in value if (p := type_problem(v, args[0], f"{where}[]"))), None)
    if origin is tuple:
        if not isinstance(value, tuple) or len(value) != len(args):
            return f"{where} is {value!r:.60}, not {hint}"
        return next((p for v, a in zip(value, args, strict=True) if (p := type_problem(v, a, where))), None)
    if origin is dict:
        if not isinstance(value, dict):
            return f"{where} is {type(value).__name__}, not a dict"
        pairs = (
            (type_problem(k, args[0], where), type_problem(v, args[1], f"{where}[{k!r}]"))
            for k, v in value.items()
        )
        return next((a or b for a, b in pairs if a or b), None)
    if hint is float:
        fits = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return None if fits else f"{where} is {value!r:.60}, not a finite float"
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else f"{where} is {value!r:.60}"
    return None if isinstance(value, hint) else f"{where} is {type(value).__name__}, not {hint.__name__}"


def assert_contract(parse: Callable[[Any], Any], returns: Any, data: Any) -> None:
    """The contract: a result of the annotated type, or ParseError. Anything else fails the test."""
    try:
        result = parse(data)
    except ParseError:
        return
    problem = type_problem(result, returns)
    assert problem is None, problem


# -- mutations -----------------------------------------------------------------------------------

ODD_NUMBERS = [
    "",
    ".",
    "-",
    "-1",
    "1e309",
    "NaN",
    "99999999999999999999999",
    "9" * 5000,
    "²",
    "١٢",
    "0x1f",
    "1_0",
]
ODD_TEXT = [
    *ODD_NUMBERS,
    "\t",
    "\x00",
    "\x1b[2J",
    "\u2028",
    "\x85",
    "é",
    ":",
    "/",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
]
ODD_TEXT += ['"', "=", " = ", "     ", "1002-", "9001 ", "././", "mtu=", "Frag needed and DF set (mtu = )"]


@dataclass(frozen=True)
class Raw:
    """JSON text written as is: numbers json.dumps cannot write, deep nesting."""

    text: str


@dataclass(frozen=True)
class Dup:
    """An object whose last key is written twice."""

    items: tuple[tuple[str, Any], ...]


ODD_JSON_TEXT = ["1e309", "-1e309", "NaN", "Infinity", "1" + "0" * 5000, "[" * 3000 + "]" * 3000]
ODD_JSON_TEXT += ['{"a":' * 100_000 + "1" + "}" * 100_000]
odd_json_values = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 1.5, 2**64, "", "²", "١٢", [], {}, [None], {"": None}]).map(
        copy.deepcopy  # the doc is edited in place: never hand out a shared list
    ),
    st.sampled_from(ODD_JSON_TEXT).map(Raw),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
        max_leaves=6,
    ),
)


def emit(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Dup):
        return "{" + ",".join(f"{json.dumps(k)}:{emit(v)}" for k, v in value.items) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{emit(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(emit(v) for v in value) + "]"
    return json.dumps(value)


def _paths(doc: Any) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), doc)]
    while stack and len(out) < 3000:
        path, node = stack.pop()
        out.append(path)
        children = (
            node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        )
        stack.extend(((*path, k), v) for k, v in children)
    return out


@st.composite
def json_mutants(draw: st.DrawFn, seeds: list[str]) -> str:
    doc = json.loads(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = paths[draw(st.integers(0, len(paths) - 1))]
        op = draw(st.sampled_from(["replace", "replace", "delete", "duplicate"]))
        node: Any = doc
        for step in path[:-1]:
            node = node[step]
        if op == "delete" and path and isinstance(node, dict | list):
            del node[path[-1]]
            continue
        target = node[path[-1]] if path else doc
        if op == "duplicate" and isinstance(target, dict) and target:
            last = list(target.items())[-1][0]
            new: Any = Dup((*target.items(), (last, draw(odd_json_values))))
        else:
            new = draw(odd_json_values)
        if path:
            node[path[-1]] = new
        else:
            doc = new
    return emit(doc)


@st.composite
def text_mutants(draw: st.DrawFn, seeds: list[str]) -> str:
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "truncate", "number", "line", "word"]))
        at = draw(st.integers(0, len(text)))
        if op == "insert":
            piece = draw(st.sampled_from(ODD_TEXT) | st.text(max_size=6))
            text = text[:at] + piece + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 30)) :]
        elif op == "truncate":
            text = text[:at]
        elif op in ("number", "word"):
            spans = [m.span() for m in re.finditer(r"\d+(?:\.\d+)?" if op == "number" else r"\S+", text)]
            if spans:
                a, b = spans[draw(st.integers(0, len(spans) - 1))]
                text = (
                    text[:a] + draw(st.sampled_from(ODD_NUMBERS if op == "number" else ODD_TEXT)) + text[b:]
                )
        else:
            lines = text.split("\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i] = lines[j] if draw(st.booleans()) else "     " + lines[i].lstrip()
            text = "\n".join(lines)
    return text


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def mutants(seeds: list[str]) -> st.SearchStrategy[str]:
    json_seeds = [s for s in seeds if _is_json(s)]
    strategies = [text_mutants(seeds)]
    if json_seeds:
        strategies += [json_mutants(json_seeds), json_mutants(json_seeds)]
    return st.one_of(strategies)


@st.composite
def pcap_mutants(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["byte", "word", "truncate", "insert"]))
        if op == "byte" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "word":
            word = draw(st.sampled_from([0, 1, 113, 276, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
            data[at : at + 4] = word.to_bytes(4, draw(st.sampled_from(["little", "big"])))
        elif op == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(max_size=16))
    return bytes(data)


# -- the parsers ---------------------------------------------------------------------------------


def _nft_and_helpers(text: str) -> nft.Ruleset:
    ruleset = nft.parse_ruleset(text)
    nft.masquerade_rules(ruleset)
    nft.forward_policy_drop(ruleset)
    nft.rules_matching_network(ruleset, "10.42.0.0/16")
    return ruleset


def _rp_filters(values: dict[str, str], effective: Callable[[dict[str, str], str], Any]) -> None:
    for key in values:
        if key.startswith("net.ipv4.conf.") and key.endswith(".rp_filter"):
            effective(values, key.removeprefix("net.ipv4.conf.").removesuffix(".rp_filter"))


def _sysctl_and_rp_filter(text: str) -> dict[str, str]:
    values = sysctl.parse_sysctl(text)
    _rp_filters(values, sysctl.effective_rp_filter)
    return values


def _proc_sysctl_and_rp_filter(text: str) -> dict[str, str]:
    values = world.parse_proc_sysctl(text)
    _rp_filters(values, world.effective_rp_filter)
    return values


def _kubelet(text: str) -> kubelet.KubeletProbe:
    return kubelet.parse_kubelet_probe(text, "10.0.0.1:10250")


def _sweep(text: str) -> mtu.SweepResult:
    return mtu.sweep(lambda size: (ping.parse_ping(text), text), 1500)


def _syns(data: bytes) -> list[pcap.Syn]:
    return pcap.syn_sources(data) + pcap.syn_sources(data, syn_ack=True, ifnames={1: "eth0"})


@dataclass
class Target:
    name: str
    parse: Callable[[Any], Any]
    returns: Any
    seeds: list[Any]

    def inputs(self) -> st.SearchStrategy[Any]:
        if isinstance(self.seeds[0], bytes):
            return pcap_mutants(self.seeds)
        return mutants(self.seeds)


def _target(func: Callable[[str], Any], seeds: list[str]) -> Target:
    return Target(f"{func.__module__}.{func.__name__}", func, typing.get_type_hints(func)["return"], seeds)


PING = _files("ping/*.txt") + recorded("ping.sakamoto")
TARGETS = [
    _target(bird.parse_show_protocols, _files("bird/*show_protocols.txt", "bird/*show_protocols_v.txt")),
    _target(bird.parse_show_protocols_all, _files("bird/*protocols_all*.txt") + recorded("bird.protocols")),
    _target(bird.parse_show_route, _files("bird/*route*.txt") + recorded("bird.routes")),
    _target(bird.parse_show_status, _files("bird/*status*.txt")),
    _target(gobgp.parse_neighbors, _files("gobgp/*_neighbor.txt", "gobgp/*_neighbor_one.txt")),
    _target(gobgp.parse_global, _files("gobgp/*_global.txt") + recorded("gobgp.global")),
    _target(gobgp.parse_rib, _files("gobgp/*_rib.txt") + recorded("gobgp.rib")),
    _target(frr.parse_bgp_summary, _files("frr/*_summary.txt")),
    _target(frr.parse_bgp_neighbors, _files("frr/*_neighbors.txt", "frr/*_neighbor_*.txt")),
    _target(frr.parse_bgp_routes, _files("frr/*_bgp_ipv4.txt", "frr/*_routes_*.txt")),
    _target(
        frr.parse_neighbor_routes,
        _files("frr/*_received_*.txt", "frr/*_filtered_*.txt", "frr/*_advertised_*.txt"),
    ),
    _target(frr.parse_ip_route, _files("frr/*_ip_route.txt")),
    _target(fortigate.parse_bgp_summary, _vendor("fortigate/*summary*.txt")),
    _target(fortigate.parse_bgp_neighbors, _vendor("fortigate/*neighbors*.txt")),
    _target(
        huawei.parse_bgp_peer, _vendor("huawei/display_bgp_peer.txt", "huawei/display_bgp_peer_dynamic.txt")
    ),
    _target(huawei.parse_bgp_peer_verbose, _vendor("huawei/*verbose*.txt")),
    _target(routeros.parse_bgp_sessions, _vendor("routeros/*session*.txt")),
    _target(routeros.parse_ip_routes, _vendor("routeros/ip_route*.txt")),
    _target(iproute.parse_routes, _files("ip/*route.txt", "ip/*table_all.txt", "ip/lab_*.txt")),
    _target(iproute.parse_addresses, _files("ip/*addr.txt") + recorded("ip.addr")),
    _target(iproute.parse_route_get, _files("ip/*route_get*.txt") + recorded("route.get")),
    _target(iproute.parse_neighbours, _files("ip/*neigh*.txt") + recorded("ip.neigh")),
    _target(ss.parse_ss, _files("ss/*.txt") + recorded("ss.bgp")),
    _target(ping.parse_ping, PING),
    _target(netstat.parse_proc_netstat, _files("netstat/*.txt")),
    _target(ciliumdbg.parse_bgp_peers, _files("cilium/*.json", "cilium/*.txt")),
    _target(ciliumdbg.as_gobgp_neighbors, _files("cilium/*.json", "cilium/*.txt")),
    _target(world.parse_wg_allowed_ips, ["wg0\tAbC=\t10.254.42.2/32 192.168.0.0/24\nwg1\tDeF=\t(none)\n"]),
    Target(
        "nft.parse_ruleset",
        _nft_and_helpers,
        nft.Ruleset,
        _files("nft/*ruleset.txt") + recorded("nft.ruleset"),
    ),
    Target("sysctl.parse_sysctl", _sysctl_and_rp_filter, dict[str, str], _files("sysctl/*.txt")),
    Target("world.parse_proc_sysctl", _proc_sysctl_and_rp_filter, dict[str, str], recorded("sysctl")),
    Target("kubelet.parse_kubelet_probe", _kubelet, kubelet.KubeletProbe, recorded("kubelet")),
    Target("mtu.sweep", _sweep, mtu.SweepResult, PING),
    Target(
        "pcap.syn_sources",
        _syns,
        list[pcap.Syn],
        [p.read_bytes() for p in sorted(REPO.glob("captures/pcap/*.pcap"))],
    ),
]
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_real_outputs_keep_the_contract(target: Target) -> None:
    assert target.seeds, f"no fixtures found for {target.name}"
    for seed in target.seeds:
        assert_contract(target.parse, target.returns, seed)


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
@BOUNDED
@given(data=st.data())
def test_mutated_outputs_give_a_result_or_parse_error(target: Target, data: st.DataObject) -> None:
    assert_contract(target.parse, target.returns, data.draw(target.inputs(), label="output"))


# -- the crash examples of issue 8 ---------------------------------------------------------------


def test_ip_route_with_an_infinite_mtu_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="out of range"):
        iproute.parse_routes('[{"dst":"default","mtu":1e309}]')


@pytest.mark.parametrize("text", ['{"nftables":[{"table":1}]}', '{"nftables":[{"rule":[]}]}'])
def test_nft_element_of_the_wrong_type_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError, match="expected an object"):
        nft.parse_ruleset(text)


def test_proc_sysctl_value_that_is_not_a_kernel_number_is_a_parse_error() -> None:
    text = "/proc/sys/net/ipv4/ip_forward:1\n/proc/sys/net/ipv4/conf/all/rp_filter:²\n"
    with pytest.raises(ParseError, match="rp_filter"):
        world.parse_proc_sysctl(text)
    assert world.parse_proc_sysctl("/proc/sys/net/ipv4/conf/all/rp_filter:2\n") == {
        "net.ipv4.conf.all.rp_filter": "2"
    }


def test_gobgp_afi_safis_that_is_not_a_list_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="afi_safis: expected a list, got bool"):
        gobgp.parse_neighbors('[{"conf":{"neighbor_address":"1.2.3.4"},"afi_safis":true}]')


def test_cilium_peer_asn_that_is_an_object_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="peer-asn"):
        ciliumdbg.parse_bgp_peers('[{"peer-address":"1.2.3.4","peer-asn":{}}]')


def test_ping_rtt_line_without_numbers_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="rtt"):
        ping.parse_ping("1 packets transmitted, 1 received, 0% packet loss\nrtt min/avg/max/mdev = ././\n")


def test_kubelet_answer_nested_100000_deep_is_an_unreadable_probe() -> None:
    answer = '{"tcp": ' + "[" * 100_000 + "]" * 100_000 + "}"
    probe = kubelet.parse_kubelet_probe(answer, "10.0.0.1:10250")
    assert (probe.tcp, probe.tls, probe.source) == (None, None, None)
    assert probe.error is not None and probe.error.startswith("unreadable probe output")
