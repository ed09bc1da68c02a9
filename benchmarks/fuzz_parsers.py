"""Fuzz every parser of host output and every config reader; print inputs tried and crash sites.

Usage (from the repository root, no root needed, no network):

    python3 benchmarks/fuzz_parsers.py [--inputs N] [--seed S] [--only NAME ...] [--timeout SECONDS]

Each target is seeded with the real fixtures (tests/unit/parsers/cases, captures/outputs,
captures/runs recordings, the lint and inventory fixtures, /work/shared/reference/outputs when it
exists) and fed random and mutated inputs: character and byte flips, truncation, line splicing
across fixtures, number swaps ('', '.', '1e309', '²', ...), and for JSON seeds structure mutations
(wrong types, 1e309, NaN, deep nesting, empty and duplicated keys, deleted and swapped subtrees).

The contract checked: a parser of host output raises nothing but ``ParseError``; a config reader
(lint, inventory) records problems or raises the project's own errors. Anything else is a crash,
counted once per *site*: exception type plus file:line of the innermost frame in ``bgpdoctor/``;
an input still running after --timeout, and again after five times that, is a ``Hang`` site.
A value returned with a field of the wrong type (``mtu`` a dict, ``gateway`` a list...) breaks the
engine later; it is counted separately as a type-contract violation (target and field).

``--inputs`` is per target; the default makes the total about 125,000.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import dataclasses
import functools
import glob
import json
import math
import os
import random
import re
import resource
import signal
import sys
import tempfile
import time
import traceback
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bgpdoctor.errors import BgpDoctorError  # noqa: E402
from bgpdoctor.parsers import ParseError  # noqa: E402

REFERENCE = Path("/work/shared/reference/outputs")
TOTAL_INPUTS = 125_000

# -- inputs --------------------------------------------------------------------------------------

ODD_NUMBERS = [
    "",
    ".",
    "-",
    "-1",
    "0",
    "00",
    "1e309",
    "-1e309",
    "1e-309",
    "NaN",
    "nan",
    "inf",
    "Infinity",
    "99999999999999999999999999",
    str(2**64),
    "4294967296",
    "65536",
    "²",
    "١٢",
    "٣",
    "１",
    "1_0",
    "0x10",
    " 1",
    "1.",
    "./.",
    "1.2.3",
    "+1",
]
ODD_TOKENS = [
    *ODD_NUMBERS,
    "\t",
    "  ",
    "\x00",
    "\x1b[2J",
    "\r",
    "\u2028",
    "\x85",
    "\x0c",
    "é",
    "µ",
    "(none)",
    "*",
    "!",
    ":",
    "::",
    "%",
    "/",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    '"',
    "'",
    "=",
    " = ",
    "via",
    "dev",
    "from",
    "on",
    "BIRD",
    "ready.",
    "0000",
    "1002-",
    "9001",
    "     ",
    "Name Proto Table State Since Info",
    "BGP state:",
    "Neighbor AS:",
    "Routes:",
    "Channel ipv4",
    'users:(("x",pid=1,fd=2))',
    "mtu=",
    "icmp_seq=1",
    "Frag needed and DF set (mtu = )",
    "packets transmitted,",
    "% packet loss",
    "rtt min/avg/max/mdev = ",
    "From 1.2.3.4 icmp_seq=1 ",
    "config",
    "option",
    "list",
    "protocol bgp",
    "neighbor",
    "include",
    "---",
    "&a",
    "*a",
    "!!python/object",
    "!!binary",
    "? ",
    "- ",
]
ODD_JSON: list[Any] = []  # filled below, after the Raw/Deep helpers
ALPHABET = [chr(c) for c in range(32, 127)] + ["\t", "\n", "\x00", "\x7f", "²", "é", "\u00a0", "\u2028", "中"]


@dataclass
class Raw:
    """JSON text emitted verbatim (numbers json.dumps cannot write, broken fragments)."""

    text: str


@dataclass
class Deep:
    """A value nested ``depth`` levels deep: [[[...]]] or {"a":{"a":...}}."""

    depth: int
    brace: bool = False


@dataclass
class Pairs:
    """An object written with duplicated (or empty) keys."""

    items: list[tuple[str, Any]]


ODD_JSON.extend(
    [
        None,
        True,
        False,
        0,
        -1,
        1.5,
        2**64,
        10**30,
        "",
        "x",
        "²",
        "١٢",
        "1e309",
        "-",
        [],
        {},
        [None],
        {"": None},
        [[]],
        Raw("1e309"),
        Raw("-1e309"),
        Raw("NaN"),
        Raw("Infinity"),
        Raw("1E400"),
        Raw("123456789012345678901234567890"),
        Deep(100_000),
        Deep(100_000, brace=True),
        Deep(1_000),
        Deep(30),
    ]
)


def emit(value: Any) -> str:
    """JSON text for a mutated document (understands Raw, Deep and Pairs)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Deep):
        if value.brace:
            return '{"a":' * value.depth + "1" + "}" * value.depth
        return "[" * value.depth + "]" * value.depth
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{json.dumps(k)}:{emit(v)}" for k, v in value.items) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{emit(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(emit(v) for v in value) + "]"
    return json.dumps(value)


def _json_paths(value: Any, path: tuple[Any, ...] = (), limit: int = 4000) -> Iterator[tuple[Any, ...]]:
    stack = [(path, value)]
    count = 0
    while stack and count < limit:
        p, v = stack.pop()
        yield p
        count += 1
        if isinstance(v, dict):
            stack.extend(((*p, k), x) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend(((*p, i), x) for i, x in enumerate(v))


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


class Mutator:
    """Random and mutated inputs from a target's seeds (and, now and then, another target's)."""

    def __init__(self, rng: random.Random, seeds: list[Any], others: list[Any], binary: bool) -> None:
        self.rng = rng
        self.seeds = seeds or ([b""] if binary else [""])
        self.others = others
        self.binary = binary
        words: set[str] = set()
        if not binary:
            for s in self.seeds:
                words.update(s.split()[:2000])
        self.words = sorted(words) or ["x"]
        self.parsed: dict[int, Any] = {}
        for i, s in enumerate(self.seeds):
            if not binary:
                with contextlib.suppress(ValueError, RecursionError):
                    self.parsed[i] = json.loads(s)

    def next(self) -> Any:
        rng = self.rng
        if self.binary:
            return self._bytes()
        roll = rng.random()
        if roll < 0.04:
            return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 200)))
        if roll < 0.08 and self.others:
            base = rng.choice(self.others)
            return self._text(base if isinstance(base, str) else base.decode("latin-1"))
        index = rng.randrange(len(self.seeds))
        if index in self.parsed and rng.random() < 0.6:
            return self._json(self.parsed[index])
        return self._text(self.seeds[index])

    # text
    def _text(self, text: str) -> str:
        rng = self.rng
        for _ in range(1 + int(rng.expovariate(0.8))):
            text = rng.choice(self._text_ops)(self, text)
        return text

    def _flip(self, t: str) -> str:
        if not t:
            return self.rng.choice(ALPHABET)
        i = self.rng.randrange(len(t))
        return t[:i] + self.rng.choice(ALPHABET) + t[i + 1 :]

    def _insert(self, t: str) -> str:
        i = self.rng.randint(0, len(t))
        piece = self.rng.choice(ODD_TOKENS) if self.rng.random() < 0.7 else self.rng.choice(self.words)
        return t[:i] + piece + t[i:]

    def _delete(self, t: str) -> str:
        if not t:
            return t
        i = self.rng.randrange(len(t))
        return t[:i] + t[i + self.rng.randint(1, 40) :]

    def _truncate(self, t: str) -> str:
        return t[: self.rng.randint(0, len(t))]

    def _lines(self, t: str) -> str:
        rng = self.rng
        lines = t.split("\n")
        op = rng.randrange(5)
        i = rng.randrange(len(lines))
        if op == 0:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 1:
            del lines[i]
        elif op == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3:
            donor = rng.choice(self.seeds + self.others)
            donor_text = donor if isinstance(donor, str) else donor.decode("latin-1")
            donor_lines = donor_text.split("\n") or [""]
            lines.insert(i, rng.choice(donor_lines))
        else:
            lines[i] = lines[i].lstrip() if rng.random() < 0.5 else "     " + lines[i]
        return "\n".join(lines)

    def _number(self, t: str) -> str:
        spans = [m.span() for m in re.finditer(r"\d+(?:\.\d+)?", t[:200_000])]
        if not spans:
            return self._insert(t)
        a, b = self.rng.choice(spans)
        return t[:a] + self.rng.choice(ODD_NUMBERS) + t[b:]

    def _word(self, t: str) -> str:
        spans = [m.span() for m in re.finditer(r"\S+", t[:200_000])]
        if not spans:
            return self._insert(t)
        a, b = self.rng.choice(spans)
        piece = self.rng.choice(self.words) if self.rng.random() < 0.5 else self.rng.choice(ODD_TOKENS)
        return t[:a] + piece + t[b:]

    def _space(self, t: str) -> str:
        spans = [m.span() for m in re.finditer(r"[ \t]+", t[:200_000])]
        if not spans:
            return t
        a, b = self.rng.choice(spans)
        return t[:a] + self.rng.choice(["", " ", "\t", "  ", "\u00a0"]) + t[b:]

    def _repeat(self, t: str) -> str:
        if not t:
            return t
        a = self.rng.randrange(len(t))
        b = min(len(t), a + self.rng.randint(1, 200))
        return t[:b] + t[a:b] * self.rng.choice([2, 10, 500]) + t[b:]

    _text_ops: typing.ClassVar[list[Callable[[Mutator, str], str]]] = [
        _flip,
        _insert,
        _delete,
        _truncate,
        _lines,
        _lines,
        _number,
        _number,
        _word,
        _space,
        _repeat,
    ]

    # JSON
    def _json(self, doc: Any) -> str:
        rng = self.rng
        doc = json.loads(json.dumps(doc))
        for _ in range(1 + int(rng.expovariate(1.0))):
            doc = self._json_once(doc)
        text = emit(doc)
        return self._text(text) if rng.random() < 0.15 else text

    def _json_once(self, doc: Any) -> Any:
        rng = self.rng
        paths = list(_json_paths(doc))
        path = rng.choice(paths)
        op = rng.randrange(7)
        if op <= 2:
            replacement: Any = copy.deepcopy(rng.choice(ODD_JSON))
        elif op == 3:
            replacement = copy.deepcopy(_get(doc, rng.choice(paths)))
        elif op == 4:
            node = _get(doc, path)
            replacement = [node] if rng.random() < 0.5 else {"x": node}
            if isinstance(node, Raw | Deep | Pairs):
                replacement = node
        elif op == 5 and path:
            parent = _get(doc, path[:-1])
            if isinstance(parent, dict | list):
                del parent[path[-1]]
            return doc
        else:
            node = _get(doc, path)
            if isinstance(node, dict) and node:
                items = list(node.items())
                key = rng.choice(items)[0]
                extra = (rng.choice([key, "", key.upper()]), copy.deepcopy(rng.choice(ODD_JSON)))
                replacement = Pairs([*items, extra] if rng.random() < 0.5 else [extra, *items])
            else:
                replacement = copy.deepcopy(rng.choice(ODD_JSON))
        if not path:
            return replacement
        parent = _get(doc, path[:-1])
        parent[path[-1]] = replacement
        return doc

    # bytes
    def _bytes(self) -> bytes:
        rng = self.rng
        if rng.random() < 0.03:
            return bytes(rng.randrange(256) for _ in range(rng.randint(0, 120)))
        data = bytearray(rng.choice(self.seeds))
        for _ in range(1 + int(rng.expovariate(0.7))):
            op = rng.randrange(7)
            n = len(data)
            if op == 0 and n:
                data[rng.randrange(n)] = rng.randrange(256)
            elif op == 1 and n >= 4:
                i = rng.randrange(n - 3)
                word = rng.choice([0, 1, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 65535, 113, 276, 101, 1500, 2**31])
                data[i : i + 4] = (word & 0xFFFFFFFF).to_bytes(4, rng.choice(["little", "big"]))
            elif op == 2:
                del data[rng.randint(0, n) :]
            elif op == 3 and n:
                i = rng.randrange(n)
                del data[i : i + rng.randint(1, 64)]
            elif op == 4:
                i = rng.randint(0, n)
                data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
            elif op == 5:
                donor = rng.choice(self.seeds)
                i = rng.randint(0, len(donor))
                data += donor[i : i + rng.randint(1, 400)]
            elif n >= 24:
                # pcap global header: magic, version, snaplen, link type
                field_at = rng.choice([0, 4, 6, 16, 20])
                data[field_at] = rng.randrange(256)
        return bytes(data)


# -- seeds ---------------------------------------------------------------------------------------

FACT_TARGETS = {
    "ip.addr": "iproute.parse_addresses",
    "ip.route": "iproute.parse_routes",
    "route.get": "iproute.parse_route_get",
    "ip.neigh": "iproute.parse_neighbours",
    "bird.protocols": "bird.parse_show_protocols_all",
    "bird.routes": "bird.parse_show_route",
    "bird.bgp_routes": "bird.parse_show_route",
    "bird.status": "bird.parse_show_status",
    "gobgp.global": "gobgp.parse_global",
    "gobgp.neighbors": "gobgp.parse_neighbors",
    "gobgp.rib": "gobgp.parse_rib",
    "nft.ruleset": "nft.parse_ruleset",
    "ss.bgp": "ss.parse_ss",
    "ss.listen": "ss.parse_ss",
    "sysctl": "world.parse_proc_sysctl",
    "wg.allowed": "world.parse_wg_allowed_ips",
    "wg.dump": "wireguard.parse_dump",
    "netstat": "netstat.parse_proc_netstat",
    "netstat.after": "netstat.parse_proc_netstat",
    "capture.syn": "pcap.syn_sources",
    "ping": "ping.parse_ping",
    "mtu": "ping.parse_ping",
}

NAME_TARGETS = [  # (glob under captures/outputs or the reference dir, target)
    ("bird/*protocols_all*", "bird.parse_show_protocols_all"),
    ("bird/*show_protocols.txt", "bird.parse_show_protocols"),
    ("bird/*show_protocols_v.txt", "bird.parse_show_protocols"),
    ("bird/*route*", "bird.parse_show_route"),
    ("bird/*status*", "bird.parse_show_status"),
    ("bird_protocols.txt", "bird.parse_show_protocols"),
    ("bird_protocols_all*", "bird.parse_show_protocols_all"),
    ("bird_route*", "bird.parse_show_route"),
    ("bird_status.txt", "bird.parse_show_status"),
    ("gobgp/*global*", "gobgp.parse_global"),
    ("gobgp_global.json", "gobgp.parse_global"),
    ("gobgp/*neighbor.txt", "gobgp.parse_neighbors"),
    ("gobgp/*neighbor_one.txt", "gobgp.parse_neighbors"),
    ("gobgp_neighbor*.json", "gobgp.parse_neighbors"),
    ("gobgp/*rib*", "gobgp.parse_rib"),
    ("gobgp_rib.json", "gobgp.parse_rib"),
    ("frr/*_summary.txt", "frr.parse_bgp_summary"),
    ("frr/*_neighbors.txt", "frr.parse_bgp_neighbors"),
    ("frr/*_neighbor_*.txt", "frr.parse_bgp_neighbors"),
    ("frr/*_bgp_ipv4.txt", "frr.parse_bgp_routes"),
    ("frr/*_routes_*.txt", "frr.parse_bgp_routes"),
    ("frr/*_received_*.txt", "frr.parse_neighbor_routes"),
    ("frr/*_filtered_*.txt", "frr.parse_neighbor_routes"),
    ("frr/*_advertised_*.txt", "frr.parse_neighbor_routes"),
    ("frr/*_ip_route.txt", "frr.parse_ip_route"),
    ("fortigate/*summary*.txt", "fortigate.parse_bgp_summary"),
    ("fortigate/*neighbors*.txt", "fortigate.parse_bgp_neighbors"),
    ("huawei/display_bgp_peer.txt", "huawei.parse_bgp_peer"),
    ("huawei/display_bgp_peer_dynamic.txt", "huawei.parse_bgp_peer"),
    ("huawei/*verbose*.txt", "huawei.parse_bgp_peer_verbose"),
    ("routeros/*session*.txt", "routeros.parse_bgp_sessions"),
    ("ip/*addr*", "iproute.parse_addresses"),
    ("ip/*route_get*", "iproute.parse_route_get"),
    ("ip/*neigh*", "iproute.parse_neighbours"),
    ("ip/*route.txt", "iproute.parse_routes"),
    ("ip/*route_table_all*", "iproute.parse_routes"),
    ("ip/lab_*", "iproute.parse_routes"),
    ("iproute.txt", "iproute.parse_routes"),
    ("nft/*ruleset.txt", "nft.parse_ruleset"),
    ("nft.json", "nft.parse_ruleset"),
    ("ss/*.txt", "ss.parse_ss"),
    ("ss_*.txt", "ss.parse_ss"),
    ("ping/*.txt", "ping.parse_ping"),
    ("ping_*.txt", "ping.parse_ping"),
    ("sysctl/*.txt", "sysctl.parse_sysctl"),
    ("sysctl.txt", "sysctl.parse_sysctl"),
    ("netstat/*.txt", "netstat.parse_proc_netstat"),
    ("cilium/*.json", "cilium.parse_bgp_peers_json"),
    ("cilium/*.txt", "cilium.parse_bgp_peers_text"),
    ("bgp.pcap", "pcap.syn_sources"),
]


def _read(path: Path, binary: bool) -> Any:
    return path.read_bytes() if binary else path.read_text(encoding="utf-8", errors="replace")


def collect_seeds() -> dict[str, list[Any]]:
    """Real outputs and files per target name, deduplicated."""
    seeds: dict[str, list[Any]] = {}

    def add(target: str, value: Any) -> None:
        bucket = seeds.setdefault(target, [])
        if value not in bucket and len(value) < 2_000_000:
            bucket.append(value)

    for case in sorted((REPO / "tests/unit/parsers/cases").glob("*.*/*.json")):
        spec = json.loads(case.read_text())
        path = REPO / spec["output_file"]
        add(case.parent.name, _read(path, path.suffix == ".pcap"))
    for base in (REPO / "captures/outputs", REFERENCE, REPO / "tests/fixtures/parsers"):
        if not base.is_dir():
            continue
        for pattern, target in NAME_TARGETS:
            for path in sorted(base.glob(pattern)):
                add(target, _read(path, target == "pcap.syn_sources"))
    for path in sorted((REPO / "captures/pcap").glob("*.pcap")):
        add("pcap.syn_sources", path.read_bytes())
    for path in sorted((REPO / "captures/runs").glob("*.json")):
        run = json.loads(path.read_text())
        for host in run.get("hosts", {}).values():
            for key, out in (host.get("outputs") or {}).items():
                fact = "route.get" if key.startswith("route.get.") else key
                fact = fact.split(".")[0] if fact.startswith(("ping.", "mtu.")) else fact
                recorded_as = FACT_TARGETS.get(fact)
                if recorded_as is None or "stdout_b64" not in out:
                    continue
                data = base64.b64decode(out["stdout_b64"])
                if recorded_as == "pcap.syn_sources":
                    if data:
                        add(recorded_as, data)
                    continue
                add(recorded_as, data.decode("utf-8", errors="replace"))
                if out.get("stderr", "").strip():
                    add(recorded_as, out["stderr"])
        active = run.get("active") or {}
        for ping in (active.get("pings") or {}).values():
            add("ping.parse_ping", ping["raw"])
        for sweep in (active.get("sweeps") or {}).values():
            for probe in sweep.get("probes", []):
                add(
                    "mtu.sweep",
                    probe["raw"].split("\n", 1)[1] if probe["raw"].startswith("$ ") else probe["raw"],
                )
        for kubelet in (active.get("kubelets") or {}).values():
            add("kubelet.parse_kubelet_probe", kubelet["raw"])
        if isinstance(run.get("inventory"), dict):
            import yaml

            add("inventory.load_inventory", yaml.safe_dump(run["inventory"], sort_keys=False))
    seeds.setdefault("mtu.sweep", []).extend(seeds.get("ping.parse_ping", []))
    for name in ("cilium.parse_bgp_peers_json", "cilium.parse_bgp_peers_text"):
        seeds.setdefault(name, [])
    add(
        "world.parse_wg_allowed_ips",
        "wg0\tAbCdEfGh0123456789abcdefghijklmnopqrstuvwx=\t10.254.42.2/32 192.168.0.0/24\n",
    )
    add("world.parse_wg_allowed_ips", "wg0\tKey2=\t(none)\nwg1\tKey3=\t10.0.0.0/8\n")
    for path in sorted((REPO / "tests/unit/inventory_cases").glob("*/*.yaml")):
        add("inventory.load_inventory", path.read_text())
    from bgpdoctor.lint.loader import sniff

    config_files = [
        *glob.glob(str(REPO / "tests/fixtures/lint/**/*"), recursive=True),
        *glob.glob(str(REPO / "tests/fixtures/crds/**/*"), recursive=True),
        *glob.glob(str(REPO / "captures/outputs/_lab_configs/**/*"), recursive=True),
        str(REFERENCE / "bird.conf"),
        str(REFERENCE / "gobgpd.toml"),
    ]
    kinds = {"bird": "lint.bird", "gobgp": "lint.gobgp", "frr": "lint.frr", "yaml": "lint.yaml"}
    for name in sorted(config_files):
        path = Path(name)
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        kind = sniff(text)
        if kind is None:
            continue
        add("lint.uci" if kind.startswith("uci-") else kinds[kind], text)
    return seeds


# -- targets -------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    run: Callable[[Any], Any]
    binary: bool = False
    reader: bool = False  # a config reader: the project's own errors are fine, problems are recorded
    returns: Any = None  # the annotation the result must satisfy


def _targets(scratch: str) -> list[Target]:
    from bgpdoctor.engine import world
    from bgpdoctor.inventory import load_inventory
    from bgpdoctor.kube import ciliumdbg
    from bgpdoctor.lint import uci
    from bgpdoctor.lint.bird import parse_bird
    from bgpdoctor.lint.frr import parse_frr
    from bgpdoctor.lint.gobgp import parse_gobgp
    from bgpdoctor.lint.loader import Inputs, _read_yaml
    from bgpdoctor.parsers import (
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
        wireguard,
    )
    from bgpdoctor.probes import kubelet, mtu

    def plain(func: Callable[..., Any]) -> Target:
        name = f"{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}"
        name = name.replace("ciliumdbg.", "cilium.")
        return Target(name, func, returns=typing.get_type_hints(func).get("return"))

    def nft_with_helpers(text: str) -> Any:
        rs = nft.parse_ruleset(text)
        nft.masquerade_rules(rs)
        nft.forward_policy_drop(rs)
        nft.rules_matching_network(rs, "10.42.0.0/16")
        return rs

    def sysctl_with_rp(text: str) -> Any:
        values = sysctl.parse_sysctl(text)
        for key in values:
            if key.startswith("net.ipv4.conf.") and key.endswith(".rp_filter"):
                sysctl.effective_rp_filter(values, key[len("net.ipv4.conf.") : -len(".rp_filter")])
        return values

    def proc_sysctl_with_rp(text: str) -> Any:
        values = world.parse_proc_sysctl(text)
        for key in values:
            if key.startswith("net.ipv4.conf.") and key.endswith(".rp_filter"):
                world.effective_rp_filter(values, key[len("net.ipv4.conf.") : -len(".rp_filter")])
        return values

    def kubelet_probe(text: str) -> Any:
        return kubelet.parse_kubelet_probe(text, "10.0.0.1:10250")

    def sweep(text: str) -> Any:
        variants = [text, *text.split("\n\n", 1)]

        def send(size: int) -> Any:
            chosen = variants[size % len(variants)]
            return ping.parse_ping(chosen), chosen

        return mtu.sweep(send, 1500)

    def write(name: str, text: str) -> str:
        path = os.path.join(scratch, name)
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        return path

    def lint_bird(text: str) -> Any:
        return parse_bird(write("bird.conf", text), [])

    def lint_gobgp(text: str) -> Any:
        return parse_gobgp(text, "gobgpd.toml", [])

    def lint_frr(text: str) -> Any:
        return parse_frr(text, "frr.conf", [])

    def lint_uci(text: str) -> Any:
        sections, _ = uci.parse_uci(text, "network")
        uci.network_from(sections, "network", [])
        return uci.firewall_from(sections, "firewall")

    def lint_yaml(text: str) -> Any:
        return _read_yaml("values.yaml", text, Inputs())

    def inventory(text: str) -> Any:
        return load_inventory(write("inventory.yaml", text))

    def pcap_syns(data: bytes) -> Any:
        return pcap.syn_sources(data) + pcap.syn_sources(data, syn_ack=True, ifnames={1: "eth0"})

    with_hints = [
        Target("nft.parse_ruleset", nft_with_helpers, returns=nft.Ruleset),
        Target("sysctl.parse_sysctl", sysctl_with_rp, returns=dict[str, str]),
        Target("world.parse_proc_sysctl", proc_sysctl_with_rp, returns=dict[str, str]),
        Target("kubelet.parse_kubelet_probe", kubelet_probe, returns=kubelet.KubeletProbe),
        Target("mtu.sweep", sweep, returns=mtu.SweepResult),
        Target("pcap.syn_sources", pcap_syns, binary=True, returns=list[pcap.Syn]),
    ]
    return [
        plain(bird.parse_show_protocols),
        plain(bird.parse_show_protocols_all),
        plain(bird.parse_show_route),
        plain(bird.parse_show_status),
        plain(gobgp.parse_neighbors),
        plain(gobgp.parse_global),
        plain(gobgp.parse_rib),
        plain(frr.parse_bgp_summary),
        plain(frr.parse_bgp_neighbors),
        plain(frr.parse_bgp_routes),
        plain(frr.parse_neighbor_routes),
        plain(frr.parse_ip_route),
        plain(fortigate.parse_bgp_summary),
        plain(fortigate.parse_bgp_neighbors),
        plain(huawei.parse_bgp_peer),
        plain(huawei.parse_bgp_peer_verbose),
        plain(routeros.parse_bgp_sessions),
        plain(iproute.parse_routes),
        plain(iproute.parse_addresses),
        plain(iproute.parse_route_get),
        plain(ss.parse_ss),
        plain(ping.parse_ping),
        plain(netstat.parse_proc_netstat),
        plain(ciliumdbg.parse_bgp_peers_json),
        plain(ciliumdbg.parse_bgp_peers_text),
        plain(world.parse_wg_allowed_ips),
        plain(wireguard.parse_dump),
        *with_hints,
        Target("lint.bird", lint_bird, reader=True),
        Target("lint.gobgp", lint_gobgp, reader=True),
        Target("lint.frr", lint_frr, reader=True),
        Target("lint.uci", lint_uci, reader=True),
        Target("lint.yaml", lint_yaml, reader=True),
        Target("inventory.load_inventory", inventory, reader=True),
    ]


# -- the type contract of results ----------------------------------------------------------------


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def type_problem(value: Any, hint: Any, where: str = "") -> str | None:
    """Where ``value`` does not match ``hint`` (a dataclass, builtin or typing annotation), else None."""
    if hint is None or hint is Any:
        return None
    if hint is type(None):
        return None if value is None else f"{where or 'result'} is {type(value).__name__}, not None"
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if any(type_problem(value, a, where) is None for a in args):
            return None
        return f"{where or 'result'} is {type(value).__name__}, not {hint}"
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):
            return f"{where or 'result'} is {type(value).__name__}, not {hint.__name__}"
        hints = _hints(hint)
        for f in dataclasses.fields(hint):
            problem = type_problem(getattr(value, f.name), hints[f.name], f"{where}.{f.name}")
            if problem:
                return problem
        return None
    if origin is list:
        if not isinstance(value, list):
            return f"{where or 'result'} is {type(value).__name__}, not a list"
        for item in value:
            problem = type_problem(item, args[0] if args else Any, f"{where}[]")
            if problem:
                return problem
        return None
    if origin is tuple:
        if not isinstance(value, tuple) or (args and len(args) != len(value)):
            return f"{where or 'result'} is not a {hint}"
        for item, arg in zip(value, args, strict=False):
            problem = type_problem(item, arg, f"{where}()")
            if problem:
                return problem
        return None
    if origin is dict:
        if not isinstance(value, dict):
            return f"{where or 'result'} is {type(value).__name__}, not a dict"
        for k, v in value.items():
            problem = type_problem(k, args[0], f"{where}{{key}}") or type_problem(v, args[1], f"{where}{{}}")
            if problem:
                return problem
        return None
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return None if ok else f"{where or 'result'} is {value!r:.40}, not a finite float"
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"{where or 'result'} is {type(value).__name__}, not int"
    if isinstance(hint, type):
        return (
            None
            if isinstance(value, hint)
            else f"{where or 'result'} is {type(value).__name__}, not {hint.__name__}"
        )
    return None


# -- running -------------------------------------------------------------------------------------


class Hang(BaseException):
    """One input took longer than --timeout (a BaseException so no parser's except swallows it)."""


def _on_alarm(_signum: int, _frame: Any) -> None:
    raise Hang


def crash_site(exc: BaseException) -> str:
    """``Type at bgpdoctor/x.py:123``: the innermost frame in the project's code."""
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if "/bgpdoctor/" in f.filename and "/benchmarks/" not in f.filename]
    frame = inside[-1] if inside else frames[-1]
    where = os.path.relpath(frame.filename, REPO) if frame.filename.startswith(str(REPO)) else frame.filename
    line = frame.name if isinstance(exc, Hang) else str(frame.lineno)
    name = "Hang" if isinstance(exc, Hang) else type(exc).__name__
    return f"{name} at {where}:{line}"


@dataclass
class Outcome:
    tried: int = 0
    returned: int = 0
    refused: int = 0  # ParseError (or a reader's own error)
    crashes: dict[str, str] = field(default_factory=dict)  # site -> first input that hit it
    bad_values: dict[str, str] = field(default_factory=dict)  # problem -> first input
    seconds: float = 0.0


def _call(target: Target, data: Any, timeout: float) -> Any:
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return target.run(data)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def fuzz(target: Target, mutator: Mutator, inputs: int, timeout: float) -> Outcome:
    out = Outcome()
    allowed: tuple[type[BaseException], ...] = (BgpDoctorError,) if target.reader else (ParseError,)
    started = time.monotonic()
    for _ in range(inputs):
        data = mutator.next()
        out.tried += 1
        try:
            try:
                result = _call(target, data, timeout)
            except Hang:  # a busy machine can stall any input once: it counts when it hangs again
                result = _call(target, data, timeout * 5)
        except allowed:
            out.refused += 1
            continue
        except (Exception, Hang) as exc:  # every other exception is what we are looking for
            out.crashes.setdefault(crash_site(exc), _show(data))
            continue
        out.returned += 1
        if target.returns is not None:
            problem = type_problem(result, target.returns)
            if problem:  # one entry per field, whatever wrong type it held
                out.bad_values.setdefault(problem.split(" is ")[0], f"{problem}: {_show(data)}")
    out.seconds = time.monotonic() - started
    return out


def _show(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 120 else f"{text[:100]}...({len(data)} long)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=None, help="inputs per target (default: 125000 in all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=[], help="targets whose name contains one of these")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds one input may take")
    parser.add_argument("--memory-gib", type=float, default=6.0, help="address-space limit of this process")
    parser.add_argument("--quiet", action="store_true", help="no example inputs under the sites")
    args = parser.parse_args()

    limit = int(args.memory_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    signal.signal(signal.SIGALRM, _on_alarm)
    import logging

    logging.disable(logging.WARNING)
    seeds = collect_seeds()
    all_seeds = [s for values in seeds.values() for s in values if isinstance(s, str)]
    with tempfile.TemporaryDirectory(prefix="bgpdoctor-fuzz-") as scratch:
        every = _targets(scratch)
        targets = [t for t in every if not args.only or any(o in t.name for o in args.only)]
        per_target = args.inputs or -(-TOTAL_INPUTS // len(every))
        rng = random.Random(args.seed)
        results: list[tuple[Target, Outcome]] = []
        for target in targets:
            own = seeds.get(target.name, [])
            mutator = Mutator(
                random.Random(rng.random()), own, [] if target.binary else all_seeds, target.binary
            )
            outcome = fuzz(target, mutator, per_target, args.timeout)
            results.append((target, outcome))
            print(
                f"[fuzz] {target.name}: {outcome.tried} inputs, {len(outcome.crashes)} crash sites, "
                f"{outcome.seconds:.1f}s",
                file=sys.stderr,
                flush=True,
            )
    _report(results, seeds, args)
    return 0


def _report(results: list[tuple[Target, Outcome]], seeds: dict[str, list[Any]], args: Any) -> None:
    width = max(len(t.name) for t, _ in results)
    print(
        f"{'target':<{width}}  {'seeds':>5}  {'inputs':>7}  {'returned':>8}  {'ParseErr':>8}  "
        f"{'crash sites':>11}  {'bad types':>9}  {'secs':>6}"
    )
    for target, o in results:
        print(
            f"{target.name:<{width}}  {len(seeds.get(target.name, [])):>5}  {o.tried:>7}  {o.returned:>8}  "
            f"{o.refused:>8}  {len(o.crashes):>11}  {len(o.bad_values):>9}  {o.seconds:>6.1f}"
        )
    for group, readers in (("parsers of host output", False), ("config readers (lint, inventory)", True)):
        chosen = [(t, o) for t, o in results if t.reader == readers]
        if not chosen:
            continue
        sites = {s for _, o in chosen for s in o.crashes}
        print(
            f"TOTAL {group}: {len(chosen)} targets, {sum(o.tried for _, o in chosen)} inputs, "
            f"{len(sites)} distinct crash sites, "
            f"{sum(len(o.bad_values) for _, o in chosen)} type-contract violations"
        )
    sites = {s for _, o in results for s in o.crashes}
    print(
        f"TOTAL: {len(results)} targets, {sum(o.tried for _, o in results)} inputs, {len(sites)} distinct "
        f"crash sites, seed {args.seed}"
    )
    for target, o in results:
        for site, example in sorted(o.crashes.items()):
            print(f"  crash  {target.name}: {site}" + ("" if args.quiet else f"\n         input {example}"))
        for _field, example in sorted(o.bad_values.items()):
            shown = example if not args.quiet else example.split(": ", 1)[0]
            print(f"  type   {target.name}: {shown}")


if __name__ == "__main__":
    sys.exit(main())
