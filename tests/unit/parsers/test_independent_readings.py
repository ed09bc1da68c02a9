"""Check the frozen parser cases against readings that do not go through the parser under test.

``make_cases.py`` writes each case's ``expected`` from the parser itself, so a parser bug would be
frozen into its expectation. Here every covered raw output is read a second time with plain
``str.split``/regexes/``json.loads`` written in this file, where two commands captured the same state
the two parsers must agree, and a table of values read by hand from the raw files pins the tricky
formats.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import re
import shutil
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
CASES = Path(__file__).parent / "cases"
OUTPUTS = REPO / "captures" / "outputs"


def _cases(target: str) -> list[Path]:
    return sorted((CASES / target).glob("*.json"))


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def _load(case_file: Path) -> tuple[str, Any]:
    case = json.loads(case_file.read_text())
    return (REPO / case["output_file"]).read_text(), case["expected"]


def _expected(target: str, stem: str) -> Any:
    return json.loads((CASES / target / f"{stem}.json").read_text())["expected"]


def _bird_lines(text: str) -> list[str]:
    """Raw lines of a birdc reply, with the ``-v`` reply codes (``1002-``, five-space continuation) cut."""
    lines = text.splitlines()
    verbose = bool(lines) and lines[0].startswith("0001 ")
    if not verbose:
        return lines
    return [line[5:] for line in lines]


# --- BIRD show protocols [all] -------------------------------------------------------------------


def _bird_protocol_rows(text: str) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for line in _bird_lines(text):
        if not line.strip() or line.startswith(("BIRD ", "Access restricted")):
            continue
        if line.split()[0] in ("name", "Name"):
            continue
        if not line[0].isspace():
            words = line.split()
            since_words = 2 if re.fullmatch(r"\d{4}-\d\d-\d\d", words[4]) else 1
            current = {
                "name": words[0],
                "proto": words[1],
                "table": words[2],
                "state": words[3],
                "since": " ".join(words[4 : 4 + since_words]),
                "info": " ".join(words[4 + since_words :]),
                "detail": {},
            }
            rows[words[0]] = current
        elif current is not None and ":" in line:
            key, _, value = line.strip().partition(":")
            current["detail"].setdefault(key, value.strip())
    return rows


PROTOCOL_CASES = _cases("bird.parse_show_protocols") + _cases("bird.parse_show_protocols_all")


@pytest.mark.parametrize("case_file", PROTOCOL_CASES, ids=_ids(PROTOCOL_CASES))
def test_bird_protocol_table_matches_split(case_file: Path) -> None:
    text, expected = _load(case_file)
    rows = _bird_protocol_rows(text)
    assert [p["name"] for p in expected] == list(rows)
    for parsed in expected:
        row = rows[parsed["name"]]
        assert (parsed["proto"], parsed["table"], parsed["state"], parsed["since"]) == (
            row["proto"],
            row["table"],
            row["state"],
            row["since"],
        )
        assert " ".join(parsed["info"].split()) == row["info"]
    bgp_rows = [r for r in rows.values() if r["proto"] == "BGP"]
    assert len([p for p in expected if p["proto"] == "BGP"]) == len(bgp_rows)


ALL_CASES = _cases("bird.parse_show_protocols_all")


@pytest.mark.parametrize("case_file", ALL_CASES, ids=_ids(ALL_CASES))
def test_bird_protocol_details_match_split(case_file: Path) -> None:
    text, expected = _load(case_file)
    rows = _bird_protocol_rows(text)
    for parsed in expected:
        detail: dict[str, str] = rows[parsed["name"]]["detail"]
        raw = detail.get

        def raw_int(key: str, detail: dict[str, str] = detail) -> int | None:
            value = detail.get(key)
            return None if value is None else int(value)

        assert parsed["bgp_state"] == raw("BGP state")
        assert parsed["neighbor_address"] == raw("Neighbor address")
        assert parsed["neighbor_as"] == raw_int("Neighbor AS")
        assert parsed["local_as"] == raw_int("Local AS")
        assert parsed["neighbor_id"] == raw("Neighbor ID")
        assert parsed["source_address"] == raw("Source address")
        assert parsed["session"] == raw("Session")
        assert parsed["hold_timer"] == raw("Hold timer")
        assert parsed["last_error"] == raw("Last error")
        assert parsed["description"] == raw("Description")
        assert parsed["error_wait"] == ("Error wait" in detail)
        assert parsed["import_filter"] == raw("Input filter")
        assert parsed["export_filter"] == raw("Output filter")
        routes = raw("Routes")
        if routes is None:
            assert parsed["routes_imported"] is None and parsed["routes_exported"] is None
        else:
            numbers = {word.strip(","): int(count) for count, word in re.findall(r"(\d+) (\w+)", routes)}
            assert parsed["routes_imported"] == numbers["imported"]
            assert parsed["routes_exported"] == numbers["exported"]
            assert parsed["routes_filtered"] == numbers.get("filtered")


# `show protocols` and `show protocols all` captured on the same daemon at the same moment
SAME_STATE_PROTOCOLS = [
    ("bird2_show_protocols", "bird2_show_protocols_all"),
    ("bird2_show_protocols_v", "bird2_show_protocols_all_v"),
    ("bird2_show_protocols", "bird2_show_protocols_v"),
    ("bird2_hold_expired_show_protocols", "bird2_hold_expired_show_protocols_all"),
    ("bird16_show_protocols", "bird16_show_protocols_all"),
    ("bird16_show_protocols_v", "bird16_show_protocols_all_v"),
    ("bird16_show_protocols", "bird16_show_protocols_v"),
    ("bird16_hold_expired_show_protocols", "bird16_hold_expired_show_protocols_all"),
]
_SUMMARY_FIELDS = ("name", "proto", "table", "state", "since", "info")


def _protocols(stem: str) -> list[dict[str, Any]]:
    target = "bird.parse_show_protocols_all" if "_all" in stem else "bird.parse_show_protocols"
    result: list[dict[str, Any]] = _expected(target, stem)
    return result


@pytest.mark.parametrize(("short", "full"), SAME_STATE_PROTOCOLS)
def test_show_protocols_and_show_protocols_all_agree(short: str, full: str) -> None:
    def summary(stem: str) -> list[tuple[Any, ...]]:
        return [tuple(p[f] for f in _SUMMARY_FIELDS) for p in _protocols(stem)]

    assert summary(short) == summary(full)


@pytest.mark.parametrize(
    ("one", "full", "name"),
    [
        ("bird2_show_protocols_all_one", "bird2_show_protocols_all", "cilium_refused"),
        ("bird16_show_protocols_all_one", "bird16_show_protocols_all", "g2_badas"),
    ],
)
def test_show_protocols_all_for_one_protocol_agrees_with_the_full_list(
    one: str, full: str, name: str
) -> None:
    (single,) = _protocols(one)
    (same,) = [p for p in _protocols(full) if p["name"] == name]
    stable = ("name", "proto", "state", "bgp_state", "neighbor_address", "neighbor_as", "last_error")
    assert {k: single[k] for k in stable} == {k: same[k] for k in stable}


# --- BIRD show route ----------------------------------------------------------------------------

_ROUTE_HEAD = re.compile(
    r"^(?P<prefix>\d+\.\d+\.\d+\.\d+/\d+)?\s+(?P<what>.*?)\s*"
    r"\[(?P<proto>\S+) (?P<since>.+?)(?: from (?P<src>[\d.]+))?\](?P<mark> [*!])?"
)


def _bird_routes(text: str) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = []
    table: str | None = None
    prefix = ""
    for line in _bird_lines(text):
        if line.startswith("Table "):
            table = line.split()[1].rstrip(":")
            continue
        head = _ROUTE_HEAD.match(line)
        if head and "[" in line and not line.startswith("\t"):
            prefix = head["prefix"] or prefix
            what = head["what"].split()
            route: dict[str, Any] = {
                "prefix": prefix,
                "protocol": head["proto"],
                "since": head["since"],
                "from_address": head["src"],
                "primary": head["mark"] is not None,
                "sync_error": head["mark"] == " !",
                "table": table,
                "gateway": None,
                "interface": None,
                "bgp_next_hop": None,
                "as_path": None,
                "local_pref": None,
                "med": None,
                "origin": None,
            }
            if what[:1] == ["via"]:  # BIRD 1.6 puts the next hop on the route line
                route.update(kind="unicast", gateway=what[1], interface=what[3])
            elif what[:1] == ["dev"]:
                route.update(kind="unicast", interface=what[1])
            else:
                route["kind"] = what[0]
            routes.append(route)
            continue
        words = line.split()
        if not routes or not words:
            continue
        if words[0] == "via":
            routes[-1].update(gateway=words[1], interface=words[3])
        elif words[0] == "dev":
            routes[-1]["interface"] = words[1]
        elif words[0] == "BGP.next_hop:":
            routes[-1]["bgp_next_hop"] = words[1]
        elif words[0] == "BGP.as_path:":
            routes[-1]["as_path"] = " ".join(words[1:])
        elif words[0] in ("BGP.local_pref:", "BGP.med:"):
            routes[-1][words[0][4:-1]] = int(words[1])
        elif words[0] == "BGP.origin:":
            routes[-1]["origin"] = words[1]
    return routes


ROUTE_CASES = _cases("bird.parse_show_route")


@pytest.mark.parametrize("case_file", ROUTE_CASES, ids=_ids(ROUTE_CASES))
def test_bird_routes_match_regex_reading(case_file: Path) -> None:
    text, expected = _load(case_file)
    readings = _bird_routes(text)
    assert len(expected) == len(readings)
    for parsed, reading in zip(expected, readings, strict=True):
        assert {k: parsed[k] for k in reading} == reading


@pytest.mark.parametrize(
    ("short", "full"),
    [
        ("bird2_show_route", "bird2_show_route_all"),
        ("bird2_show_route_v", "bird2_show_route_all_v"),
        ("bird2_show_route", "bird2_show_route_v"),
        ("bird16_show_route", "bird16_show_route_all"),
        ("bird16_show_route_v", "bird16_show_route_all_v"),
        ("bird2_unreachable_show_route", "bird2_unreachable_show_route_bgp_all"),
        ("bird16_calico_show_route", "bird16_calico_show_route_bgp_all"),
    ],
)
def test_show_route_and_show_route_all_agree(short: str, full: str) -> None:
    fields = ("prefix", "protocol", "kind", "gateway", "interface", "primary", "from_address", "since")
    detailed = {r["prefix"]: tuple(r[f] for f in fields) for r in _expected("bird.parse_show_route", full)}
    brief = {r["prefix"]: tuple(r[f] for f in fields) for r in _expected("bird.parse_show_route", short)}
    assert detailed and all(brief[prefix] == row for prefix, row in detailed.items())


# --- BIRD show status ---------------------------------------------------------------------------

STATUS_CASES = _cases("bird.parse_show_status")


@pytest.mark.parametrize("case_file", STATUS_CASES, ids=_ids(STATUS_CASES))
def test_bird_status_matches_split(case_file: Path) -> None:
    text, expected = _load(case_file)
    lines = [line.strip() for line in _bird_lines(text)]
    assert expected["version"] == lines[0].split()[1]
    assert f"Router ID is {expected['router_id']}" in lines
    assert f"Current server time is {expected['server_time']}" in lines
    assert f"Last reboot on {expected['last_reboot']}" in lines
    assert f"Last reconfiguration on {expected['last_reconfiguration']}" in lines
    hostnames = [line.removeprefix("Hostname is ") for line in lines if line.startswith("Hostname is ")]
    assert expected["hostname"] == (hostnames[0] if hostnames else None)
    assert expected["message"] == lines[-1]


# --- GoBGP -j -----------------------------------------------------------------------------------

_SESSION_STATE_NAMES = ["unknown", "idle", "connect", "active", "opensent", "openconfirm", "established"]
NEIGHBOR_CASES = _cases("gobgp.parse_neighbors")


@pytest.mark.parametrize("case_file", NEIGHBOR_CASES, ids=_ids(NEIGHBOR_CASES))
def test_gobgp_neighbors_match_json(case_file: Path) -> None:
    text, expected = _load(case_file)
    raw = json.loads(text)
    peers = raw if isinstance(raw, list) else [raw]
    assert len(expected) == len(peers)
    for parsed, peer in zip(expected, peers, strict=True):
        assert parsed["address"] == peer["conf"]["neighbor_address"]
        assert parsed["peer_as"] == peer["conf"]["peer_asn"]
        assert parsed["local_as"] == peer["conf"]["local_asn"]
        assert parsed["state"] == _SESSION_STATE_NAMES[peer["state"]["session_state"]]
        assert parsed["passive"] == peer["transport"].get("passive_mode", False)
        assert parsed["admin_down"] == (peer["state"].get("admin_state", 0) == 1)
        assert parsed["multihop_ttl"] == peer["ebgp_multihop"].get("multihop_ttl")
        assert parsed["hold_time"] == peer["timers"]["state"].get("negotiated_hold_time")
        afi = peer["afi_safis"][0]["state"]
        assert (parsed["received"], parsed["accepted"]) == (afi.get("received", 0), afi.get("accepted", 0))
        assert parsed["advertised"] == afi.get("advertised")
        assert parsed["router_id"] == peer["state"].get("router_id")
        assert parsed["local_address"] == peer["transport"].get("local_address")
        assert parsed["description"] == peer["conf"].get("description")
        timers = peer["timers"]["state"]
        assert parsed["uptime_epoch"] == timers.get("uptime", {}).get("seconds")
        assert parsed["downtime_epoch"] == timers.get("downtime", {}).get("seconds")


def _gobgp_text_table(stem: str) -> dict[str, tuple[int, str, int, int]]:
    """``gobgp neighbor`` (no -j): address -> (AS, state word, received, accepted)."""
    rows: dict[str, tuple[int, str, int, int]] = {}
    for line in (OUTPUTS / "gobgp" / f"{stem}.txt").read_text().splitlines()[1:]:
        left, _, right = line.partition("|")
        words = left.split()
        counts = right.split()
        rows[words[0]] = (int(words[1]), words[3], int(counts[0]), int(counts[1]))
    return rows


@pytest.mark.parametrize("host", ["g1", "g2"])
def test_gobgp_json_and_text_neighbor_tables_agree(host: str) -> None:
    text_rows = _gobgp_text_table(f"{host}_neighbor_text")
    parsed = _expected("gobgp.parse_neighbors", f"{host}_neighbor")
    assert {p["address"] for p in parsed} == set(text_rows)
    for p in parsed:
        asn, state, received, accepted = text_rows[p["address"]]
        assert (p["peer_as"], p["received"], p["accepted"]) == (asn, received, accepted)
        assert p["state"].startswith(state.lower())


def test_gobgp_neighbor_one_agrees_with_the_neighbor_list() -> None:
    (one,) = _expected("gobgp.parse_neighbors", "g1_neighbor_one")
    (same,) = [p for p in _expected("gobgp.parse_neighbors", "g1_neighbor") if p["address"] == one["address"]]
    assert {k: v for k, v in one.items() if k != "advertised"} == {
        k: v for k, v in same.items() if k != "advertised"
    }


GLOBAL_CASES = _cases("gobgp.parse_global")


@pytest.mark.parametrize("case_file", GLOBAL_CASES, ids=_ids(GLOBAL_CASES))
def test_gobgp_global_matches_json(case_file: Path) -> None:
    text, expected = _load(case_file)
    raw = json.loads(text)
    assert (expected["asn"], expected["router_id"], expected["listen_port"]) == (
        raw["asn"],
        raw["router_id"],
        raw["listen_port"],
    )
    assert expected["listen_addresses"] == raw["listen_addresses"]


RIB_CASES = _cases("gobgp.parse_rib")


@pytest.mark.parametrize("case_file", RIB_CASES, ids=_ids(RIB_CASES))
def test_gobgp_rib_matches_json(case_file: Path) -> None:
    text, expected = _load(case_file)
    raw = json.loads(text)
    paths = [(prefix, path) for prefix, paths in raw.items() for path in paths]
    assert [p["prefix"] for p in expected] == [prefix for prefix, _ in paths]
    for parsed, (_, path) in zip(expected, paths, strict=True):
        attrs = {a["type"]: a for a in path["attrs"]}
        asns = [str(n) for seg in attrs.get(2, {}).get("as_paths", []) for n in seg["asns"]]
        assert parsed["as_path"] == " ".join(asns)
        assert parsed["next_hop"] == attrs[3]["nexthop"]
        assert parsed["best"] == path.get("best", False)
        assert parsed["neighbor_ip"] == path.get("neighbor-ip")


def test_bird_and_gobgp_see_the_same_session_from_both_ends() -> None:
    """r2 (BIRD 2) peers with g1 (GoBGP) on 10.0.1.1 <-> 10.0.1.2: each end names the other."""
    (bird_end,) = [
        p
        for p in _expected("bird.parse_show_protocols_all", "bird2_show_protocols_all")
        if p["neighbor_address"] == "10.0.1.2"
    ]
    (gobgp_end,) = [
        p for p in _expected("gobgp.parse_neighbors", "g1_neighbor") if p["address"] == "10.0.1.1"
    ]
    g1 = _expected("gobgp.parse_global", "g1_global")
    assert bird_end["neighbor_as"] == gobgp_end["local_as"] == g1["asn"]
    assert bird_end["local_as"] == gobgp_end["peer_as"]
    assert bird_end["bgp_state"] == "Established" and gobgp_end["state"] == "established"
    assert bird_end["source_address"] == gobgp_end["address"]


# --- ip -j --------------------------------------------------------------------------------------


def _dst(raw_dst: str) -> str:
    return str(ipaddress.ip_network("0.0.0.0/0" if raw_dst == "default" else raw_dst))


ROUTES_CASES = _cases("iproute.parse_routes")


@pytest.mark.parametrize("case_file", ROUTES_CASES, ids=_ids(ROUTES_CASES))
def test_ip_routes_match_json(case_file: Path) -> None:
    text, expected = _load(case_file)
    raw = json.loads(text)
    assert len(expected) == len(raw)
    for parsed, route in zip(expected, raw, strict=True):
        assert parsed["dst"] == _dst(route["dst"])
        assert parsed["dev"] == route.get("dev")
        assert parsed["gateway"] == route.get("gateway")
        assert parsed["prefsrc"] == route.get("prefsrc")
        assert parsed["type"] == route.get("type", "unicast")
        assert parsed["protocol"] == route.get("protocol")
        assert parsed["metric"] == route.get("metric")
        assert parsed["table"] == route.get("table", "main")
        assert parsed["nexthops"] == [[h["gateway"], h["dev"]] for h in route.get("nexthops", [])]
        assert parsed["scope"] == route.get("scope")
        assert parsed["mtu"] == next((m["mtu"] for m in route.get("metrics", []) if "mtu" in m), None)


def test_ip_rules_match_the_text_form_of_the_same_rules() -> None:
    """`ip rule show` printed the same rules as text: priority, `not`, table or action per line."""
    text = (OUTPUTS / "ip" / "tailscale_wgquick_rule_text.txt").read_text()
    _, expected = _load(CASES / "iprule.parse_rules" / "tailscale_wgquick_rule.json")
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == len(expected)
    for line, rule in zip(lines, expected, strict=True):
        priority, _, rest = line.partition(":")
        words = rest.split()
        assert rule["priority"] == int(priority)
        assert rule["invert"] == (words[0] == "not")
        if "lookup" in words:
            assert (rule["action"], rule["table"]) == ("lookup", words[words.index("lookup") + 1])
        elif "goto" in words:
            assert (rule["action"], rule["goto"]) == ("goto", int(words[words.index("goto") + 1]))
        else:
            assert rule["action"] == words[-1]
        if "to" in words:
            assert rule["dst"] == words[words.index("to") + 1]
        source = words[words.index("from") + 1]
        assert rule["src"] == (None if source == "all" else source)
        if "fwmark" in words:
            mark, _, mask = words[words.index("fwmark") + 1].partition("/")
            assert (rule["fwmark"], rule["fwmask"]) == (int(mark, 16), int(mask, 16) if mask else None)
        if "suppress_prefixlength" in words:
            assert rule["suppress_prefixlen"] == int(words[words.index("suppress_prefixlength") + 1])


def test_ip_rule_tables_match_each_tables_json() -> None:
    text, expected = _load(CASES / "iprule.parse_rule_tables" / "tailscale_wgquick_rule_tables.json")
    chunks = re.findall(r"^table (\S+)\n(.*?)(?=^table |\Z)", text, flags=re.M | re.S)
    assert [name for name, _ in chunks] == list(expected)
    for name, body in chunks:
        raw = [] if body.strip() in ("", "[") else json.loads(body)
        assert [(_dst(r["dst"]), r.get("dev"), name) for r in raw] == [
            (r["dst"], r["dev"], r["table"]) for r in expected[name]
        ]


def test_ip_addresses_match_json() -> None:
    text, expected = _load(CASES / "iproute.parse_addresses" / "r2_addr.json")
    raw = [
        (link["ifname"], a["local"], a["prefixlen"], a["family"], link["mtu"], link["operstate"])
        for link in json.loads(text)
        for a in link["addr_info"]
    ]
    assert [
        (e["ifname"], e["address"], e["prefixlen"], e["family"], e["mtu"], e["state"]) for e in expected
    ] == raw


ROUTE_GET_CASES = _cases("iproute.parse_route_get")


@pytest.mark.parametrize("case_file", ROUTE_GET_CASES, ids=_ids(ROUTE_GET_CASES))
def test_ip_route_get_matches_json_or_error_line(case_file: Path) -> None:
    text, expected = _load(case_file)
    if text.startswith("RTNETLINK answers: "):
        assert expected["error"] == text.strip().removeprefix("RTNETLINK answers: ")
        assert (expected["dst"], expected["gateway"], expected["dev"]) == (None, None, None)
        return
    (raw,) = json.loads(text)
    assert (expected["dst"], expected["gateway"], expected["dev"], expected["prefsrc"]) == (
        raw["dst"],
        raw.get("gateway"),
        raw["dev"],
        raw["prefsrc"],
    )
    assert expected["mtu"] == next((m["mtu"] for m in raw.get("metrics", []) if "mtu" in m), None)
    assert expected["expires"] == raw.get("expires")


def _covering(routes: list[dict[str, Any]], address: str) -> dict[str, Any]:
    matches = [r for r in routes if ipaddress.ip_address(address) in ipaddress.ip_network(r["dst"])]
    return max(matches, key=lambda r: ipaddress.ip_network(r["dst"]).prefixlen)


def test_route_get_agrees_with_the_route_table_of_the_same_host() -> None:
    table = _expected("iproute.parse_routes", "r2_route")
    got = _expected("iproute.parse_route_get", "r2_route_get_bgp")
    route = _covering(table, got["dst"])
    assert (route["gateway"], route["dev"]) == (got["gateway"], got["dev"])
    assert _covering(table, "203.0.113.5")["type"] == "blackhole"
    assert _expected("iproute.parse_route_get", "r2_route_get_blackhole")["error"] == "Invalid argument"
    assert not [r for r in table if ipaddress.ip_address("10.99.0.1") in ipaddress.ip_network(r["dst"])]
    assert (
        _expected("iproute.parse_route_get", "r2_route_get_unreachable")["error"] == "Network is unreachable"
    )


def test_route_table_all_holds_the_main_table() -> None:
    main = _expected("iproute.parse_routes", "r2_route")
    every = _expected("iproute.parse_routes", "r2_route_table_all")
    ipv4_main = [r for r in every if r["table"] == "main" and ipaddress.ip_network(r["dst"]).version == 4]
    assert ipv4_main == main  # `ip route show` is IPv4 only; `table all` lists both families


@pytest.mark.parametrize(
    ("bird_stem", "kernel_stem", "in_both"),
    [
        (
            "bird2_show_route",
            "r2_route",
            ["10.0.5.0/24", "10.42.0.0/24", "10.42.3.0/24", "198.51.100.0/24", "203.0.113.0/24"],
        ),
        ("bird16_show_route", "r16_route", ["10.42.0.0/24", "203.0.113.0/24"]),
        ("bird2_unreachable_show_route", "lab_cn_unreachable_route", ["10.42.141.0/26", "10.42.64.64/26"]),
        ("bird2_ecmp_show_route_bgp_all", "lab_tor_ecmp_route", ["10.0.6.1/32"]),
    ],
)
def test_bird_routes_are_the_kernel_routes_of_the_same_host(
    bird_stem: str, kernel_stem: str, in_both: list[str]
) -> None:
    """A BIRD route (not direct, no sync error) found in the kernel has the same type and next hops.

    BIRD's kernel export filter may keep a route out of the kernel, so presence is pinned by
    ``in_both`` (read by hand from both files), not assumed.
    """
    kernel = {r["dst"]: r for r in _expected("iproute.parse_routes", kernel_stem)}
    bird = _expected("bird.parse_show_route", bird_stem)
    hops: dict[str, set[tuple[str | None, str | None]]] = {}
    kinds: dict[str, str] = {}
    for r in bird:
        if r["protocol"].startswith("direct") or r["sync_error"]:
            continue
        hops.setdefault(r["prefix"], set()).add((r["gateway"], r["interface"]))
        kinds[r["prefix"]] = r["kind"]
    assert sorted(set(hops) & set(kernel)) == in_both
    for prefix in in_both:
        k = kernel[prefix]
        assert k["type"] == kinds[prefix]
        kernel_hops = {(h[0], h[1]) for h in k["nexthops"]} or {(k["gateway"], k["dev"])}
        assert hops[prefix] == kernel_hops
    with_sync_error = [r["prefix"] for r in bird if r["sync_error"]]
    assert all(kernel.get(p, {}).get("protocol") != "bird" for p in with_sync_error)


# --- ping ---------------------------------------------------------------------------------------

_STATS = re.compile(r"(\d+) packets transmitted, (\d+) received(?:, \+(\d+) errors)?, ([\d.]+)% packet loss")
PING_CASES = _cases("ping.parse_ping")


@pytest.mark.parametrize("case_file", PING_CASES, ids=_ids(PING_CASES))
def test_ping_statistics_match_regex(case_file: Path) -> None:
    text, expected = _load(case_file)
    stats = _STATS.search(text)
    if stats is None:
        assert expected["outcome"] == "error"
        assert expected["error"] == text.strip().removeprefix("ping: ")
        assert (expected["transmitted"], expected["received"]) == (0, 0)
        return
    assert expected["transmitted"] == int(stats[1])
    assert expected["received"] == int(stats[2])
    assert expected["errors"] == int(stats[3] or 0)
    assert expected["loss_percent"] == float(stats[4])
    rtt = re.search(r"= [\d.]+/([\d.]+)/", text)
    assert expected["rtt_avg_ms"] == (float(rtt[1]) if rtt else None)
    mtu = re.search(r"local error: message too long, mtu=(\d+)", text)
    assert expected["local_error_mtu"] == (int(mtu[1]) if mtu else None)
    assert expected["local_too_big"] == (mtu is not None)
    frag = re.search(r"From (\S+) icmp_seq=\d+ Frag needed and DF set \(mtu = (\d+)\)", text)
    assert (expected["frag_needed_from"], expected["frag_needed_mtu"]) == (
        (frag[1], int(frag[2])) if frag else (None, None)
    )
    ttl = re.search(r"From (\S+) icmp_seq=\d+ Time to live exceeded", text)
    assert expected["time_exceeded_from"] == (ttl[1] if ttl else None)
    unreachable = re.search(r"From (\S+) icmp_seq=\d+ (Destination \w+ Unreachable)", text)
    assert (expected["unreachable_from"], expected["unreachable"]) == (
        (unreachable[1], unreachable[2]) if unreachable else (None, None)
    )


# --- ss, sysctl, nft ----------------------------------------------------------------------------

SS_CASES = _cases("ss.parse_ss")


def _host_port(word: str) -> tuple[str, int | None]:
    host, _, port = word.rpartition(":")
    return host.split("%")[0], (None if port == "*" else int(port))


@pytest.mark.parametrize("case_file", SS_CASES, ids=_ids(SS_CASES))
def test_ss_sockets_match_split(case_file: Path) -> None:
    text, expected = _load(case_file)
    sockets = [line.split() for line in text.splitlines() if line and not line[0].isspace()]
    assert len(expected) == len(sockets)
    for parsed, words in zip(expected, sockets, strict=True):
        assert parsed["state"] == words[0]
        assert (parsed["local_address"], parsed["local_port"]) == _host_port(words[3])
        assert (parsed["peer_address"], parsed["peer_port"]) == _host_port(words[4])
        users = re.search(r'users:\(\("([^"]+)",pid=(\d+)', " ".join(words[5:]))
        assert (parsed["process"], parsed["pid"]) == ((users[1], int(users[2])) if users else (None, None))
    infos = [line for line in text.splitlines() if "\tmss:" in line or " mss:" in line]
    for parsed, info in zip([p for p in expected if p["state"] != "LISTEN"], infos, strict=False):
        assert parsed["mss"] == int(re.findall(r"\bmss:(\d+)", info)[0])
        assert parsed["pmtu"] == int(re.findall(r"\bpmtu:(\d+)", info)[0])


def test_both_ends_of_the_r2_r16_tcp_session_agree() -> None:
    r2 = _expected("ss.parse_ss", "r2_tanp")
    r16 = _expected("ss.parse_ss", "r16_tanpi")
    r2_ends = {(s["local_address"], s["local_port"], s["peer_address"], s["peer_port"]) for s in r2}
    (r16_estab,) = [s for s in r16 if s["state"] == "ESTAB"]
    assert (
        r16_estab["peer_address"],
        r16_estab["peer_port"],
        r16_estab["local_address"],
        r16_estab["local_port"],
    ) in r2_ends


SYSCTL_CASES = _cases("sysctl.parse_sysctl")


@pytest.mark.parametrize("case_file", SYSCTL_CASES, ids=_ids(SYSCTL_CASES))
def test_sysctl_matches_split(case_file: Path) -> None:
    text, expected = _load(case_file)
    pairs = [line.split(" = ", 1) for line in text.splitlines() if " = " in line]
    assert expected == {key: value for key, value in pairs}


def _nft_text_rules(text: str) -> list[tuple[str, int, int, str, str | None, str]]:
    """``nft list ruleset``: (chain, packets, bytes, verdict, comment, rule without counter and
    comment) per rule line, in order."""
    rules: list[tuple[str, int, int, str, str | None, str]] = []
    chain = ""
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["chain"]:
            chain = words[1]
        counter = re.search(r"counter packets (\d+) bytes (\d+) (\w+)", line)
        if counter:
            comment = re.search(r' comment "([^"]*)"', line)
            bare = line.strip().replace(counter[0], counter[3])
            if comment:
                bare = bare.replace(comment[0], "")
            rules.append(
                (chain, int(counter[1]), int(counter[2]), counter[3], comment[1] if comment else None, bare)
            )
    return rules


def test_nft_json_and_text_rulesets_agree() -> None:
    expected = _expected("nft.parse_ruleset", "mid_ruleset")
    text_rules = _nft_text_rules((OUTPUTS / "nft" / "mid_ruleset_text.txt").read_text())
    parsed = [
        (r["chain"], r["counter_packets"], r["counter_bytes"], r["verdict"], r["comment"], r["matches"])
        for r in expected["rules"]
    ]
    assert parsed == text_rules
    chains = [
        line.split()
        for line in (OUTPUTS / "nft" / "mid_ruleset_text.txt").read_text().splitlines()
        if "hook" in line
    ]
    assert [(c["hook"], c["policy"]) for c in expected["chains"]] == [
        (w[3], w[-1].rstrip(";")) for w in chains
    ]


def test_nft_empty_ruleset_has_only_metainfo() -> None:
    raw = json.loads((OUTPUTS / "nft" / "r2_empty_ruleset.txt").read_text())
    assert [list(item) for item in raw["nftables"]] == [["metainfo"]]
    assert _expected("nft.parse_ruleset", "r2_empty_ruleset") == {"tables": [], "chains": [], "rules": []}


READ_INDEPENDENTLY = {
    # capabilities.*: each end's view against the other daemon's, in tests/unit/test_capabilities.py
    "capabilities.parse_bird_gr_recovery",
    "capabilities.parse_bird_protocols",
    "capabilities.parse_frr_neighbors",
    "capabilities.parse_gobgp_neighbors",
    "bird.parse_show_protocols",
    "bird.parse_show_protocols_all",
    "bird.parse_show_route",
    "bird.parse_show_status",
    "gobgp.parse_neighbors",
    "gobgp.parse_global",
    "gobgp.parse_rib",
    "iproute.parse_routes",
    "iproute.parse_addresses",
    "iproute.parse_route_get",
    "iprule.parse_rules",
    "iprule.parse_rule_tables",
    "nft.parse_ruleset",
    "pcap.syn_sources",
    "ping.parse_ping",
    "ss.parse_ss",
    "sysctl.parse_sysctl",
}


def test_every_parser_with_frozen_cases_has_an_independent_reading_here() -> None:
    assert {case_dir.name for case_dir in CASES.iterdir() if case_dir.is_dir()} == READ_INDEPENDENTLY


def test_the_nft_text_reading_covers_every_case() -> None:
    assert _ids(_cases("nft.parse_ruleset")) == ["mid_ruleset", "r2_empty_ruleset"]


# --- pcap: SYNs read with struct, not scapy -----------------------------------------------------

_LINKTYPE_ETHERNET, _LINKTYPE_LINUX_SLL2 = 1, 276


def _syns(pcap: bytes) -> list[dict[str, Any]]:
    _magic, _major, _minor, _zone, _sigfigs, _snaplen, linktype = struct.unpack("<IHHiIII", pcap[:24])
    syns: list[dict[str, Any]] = []
    offset = 24
    while offset < len(pcap):
        seconds, micros, captured, _length = struct.unpack("<IIII", pcap[offset : offset + 16])
        frame = pcap[offset + 16 : offset + 16 + captured]
        offset += 16 + captured
        if linktype == _LINKTYPE_LINUX_SLL2:
            ifindex: int | None = struct.unpack(">I", frame[4:8])[0]
            ip = frame[20:]
        else:
            assert linktype == _LINKTYPE_ETHERNET
            ifindex, ip = None, frame[14:]
        tcp = ip[(ip[0] & 0x0F) * 4 :]
        if ip[9] != 6 or tcp[13] & 0x12 != 0x02:  # TCP, SYN without ACK
            continue
        syns.append(
            {
                "src": str(ipaddress.ip_address(ip[12:16])),
                "sport": struct.unpack(">H", tcp[0:2])[0],
                "dst": str(ipaddress.ip_address(ip[16:20])),
                "dport": struct.unpack(">H", tcp[2:4])[0],
                "ttl": ip[8],
                "time": seconds + micros / 1e6,
                "ifindex": ifindex,
            }
        )
    return syns


PCAP_CASES = _cases("pcap.syn_sources")


@pytest.mark.parametrize("case_file", PCAP_CASES, ids=_ids(PCAP_CASES))
def test_pcap_syns_match_struct_reading(case_file: Path) -> None:
    case = json.loads(case_file.read_text())
    syns = _syns((REPO / case["output_file"]).read_bytes())
    assert len(case["expected"]) == len(syns) > 0
    for parsed, syn in zip(case["expected"], syns, strict=True):
        assert parsed["time"] == pytest.approx(syn.pop("time"), abs=1e-5)
        assert {k: parsed[k] for k in syn} == syn


def test_syns_seen_on_r2_mid_are_among_those_seen_on_any_interface() -> None:
    def key(s: dict[str, Any]) -> tuple[Any, ...]:
        return (s["src"], s["sport"], s["dst"], s["dport"], s["ttl"])

    on_any = [key(s) for s in _expected("pcap.syn_sources", "bgp_syn_any")]
    on_mid = [key(s) for s in _expected("pcap.syn_sources", "bgp_syn_iface")]
    assert all(on_any.count(k) >= on_mid.count(k) for k in on_mid)


# --- values read by hand from the raw files -----------------------------------------------------


def _pick(value: Any, locator: str) -> Any:
    """Steps split by ``|``: ``name=g2_badas`` picks the one list item with that field, ``#2`` an index,
    anything else a dict key."""
    for step in filter(None, locator.split("|")):
        if step.startswith("#"):
            value = value[int(step[1:])]
        elif "=" in step and isinstance(value, list):
            field, _, wanted = step.partition("=")
            (value,) = [item for item in value if str(item[field]) == wanted]
        else:
            value = value[step]
    return value


HAND_VERIFIED: list[tuple[str, str, str, Any]] = [
    # (case, item locator, field, value read from the raw output)
    # bird16_show_protocols.txt line 8: "g2_badas BGP master start 21:22:03 Idle Received: Bad peer AS"
    ("bird.parse_show_protocols/bird16_show_protocols", "name=g2_badas", "state", "start"),
    # bird16_show_protocols.txt line 6: rmine_multihop_peer, state column "up"
    ("bird.parse_show_protocols/bird16_show_protocols", "name=rmine_multihop_peer", "state", "up"),
    # bird2_isolong_show_protocols.txt line 9: Since column is two words "2026-11-22 21:22:31"
    (
        "bird.parse_show_protocols/bird2_isolong_show_protocols",
        "name=r16_multihop",
        "since",
        "2026-11-22 21:22:31",
    ),
    # bird16_show_protocols_all.txt (1.6: no Channel block) "Routes: 3 imported, 1 exported, 3 preferred"
    (
        "bird.parse_show_protocols_all/bird16_show_protocols_all",
        "name=rmine_multihop_peer",
        "routes_imported",
        3,
    ),
    # bird16_show_protocols_all.txt g2_badas block: "Neighbor AS: 64515"; 1.6 prints no "Local AS:"
    ("bird.parse_show_protocols_all/bird16_show_protocols_all", "name=g2_badas", "neighbor_as", 64515),
    ("bird.parse_show_protocols_all/bird16_show_protocols_all", "name=g2_badas", "local_as", None),
    # bird2_show_protocols_all.txt node_sakamoto_1, inside "Channel ipv4": "Routes: 1 imported, 4 exported"
    ("bird.parse_show_protocols_all/bird2_show_protocols_all", "name=node_sakamoto_1", "routes_exported", 4),
    # bird2_show_protocols_all.txt node_sakamoto_1: "Local AS: 64512"
    ("bird.parse_show_protocols_all/bird2_show_protocols_all", "name=node_sakamoto_1", "local_as", 64512),
    # bird2_show_protocols_all.txt g2_badas: "Error wait: 14.789/30"
    ("bird.parse_show_protocols_all/bird2_show_protocols_all", "name=g2_badas", "error_wait", True),
    # bird2_hold_expired_show_protocols_all.txt line 120: "Last error: BGP Error: Hold timer expired"
    (
        "bird.parse_show_protocols_all/bird2_hold_expired_show_protocols_all",
        "name=r16_multihop",
        "last_error",
        "BGP Error: Hold timer expired",
    ),
    # bird16_calico_show_protocols_all.txt: "Output filter: calico_export_to_bgp_peers" for the BGP peer
    (
        "bird.parse_show_protocols_all/bird16_calico_show_protocols_all",
        "name=Node_192_168_100_1",
        "export_filter",
        "calico_export_to_bgp_peers",
    ),
    # bird2_unreachable_show_route.txt line 6:
    # "10.42.64.64/26 unreachable [k3s_backbone_gw_v4 ... from 10.255.100.1]"
    ("bird.parse_show_route/bird2_unreachable_show_route", "prefix=10.42.64.64/26", "kind", "unreachable"),
    ("bird.parse_show_route/bird2_unreachable_show_route", "prefix=10.42.64.64/26", "gateway", None),
    (
        "bird.parse_show_route/bird2_unreachable_show_route",
        "prefix=10.42.64.64/26",
        "from_address",
        "10.255.100.1",
    ),
    # bird2_unreachable_show_route_bgp_all.txt: second route "BGP.next_hop: 192.168.100.251"
    ("bird.parse_show_route/bird2_unreachable_show_route_bgp_all", "#1", "bgp_next_hop", "192.168.100.251"),
    # bird2_ecmp_show_route_bgp_all.txt line 11: the second path of 10.0.6.1/32 has no "*", via 10.0.4.110
    ("bird.parse_show_route/bird2_ecmp_show_route_bgp_all", "#1", "primary", False),
    ("bird.parse_show_route/bird2_ecmp_show_route_bgp_all", "#1", "gateway", "10.0.4.110"),
    ("bird.parse_show_route/bird2_ecmp_show_route_bgp_all", "#1", "protocol", "node_01"),
    ("bird.parse_show_route/bird2_ecmp_show_route_bgp_all", "#0", "primary", True),
    # bird16_show_route.txt line 3: "10.0.5.0/24 via 10.0.5.1 on r16-mid [...] ! (100/?)";
    # BIRD 1.6 prints "!" instead of "*" for a primary route the kernel sync failed on
    ("bird.parse_show_route/bird16_show_route", "prefix=10.0.5.0/24", "sync_error", True),
    # bird16_show_route.txt line 4: "10.42.3.0/24 blackhole [pod_block 21:21:59] * (200)"
    ("bird.parse_show_route/bird16_show_route", "prefix=10.42.3.0/24", "kind", "blackhole"),
    # bird16_show_route_all.txt: 10.42.0.0/24 "BGP.as_path: 64512 64514"
    ("bird.parse_show_route/bird16_show_route_all", "prefix=10.42.0.0/24", "as_path", "64512 64514"),
    # bird16_calico_show_route.txt line 3: "0.0.0.0/0 via 192.168.100.1 on eth0 [kernel1 00:21:53] * (10)"
    ("bird.parse_show_route/bird16_calico_show_route", "prefix=0.0.0.0/0", "gateway", "192.168.100.1"),
    # bird16_calico_show_route.txt line 4: "192.168.100.0/24 dev eth0 [direct1 ...]"
    ("bird.parse_show_route/bird16_calico_show_route", "prefix=192.168.100.0/24", "interface", "eth0"),
    # bird2_show_route_not_found.txt: "Network not found" - no routes
    ("bird.parse_show_route/bird2_show_route_not_found", "", "", []),
    # bird16_show_status.txt: BIRD 1.6 prints no "Hostname is" line;
    # bird2_show_status.txt line 4: "Hostname is vm"
    ("bird.parse_show_status/bird16_show_status", "", "hostname", None),
    ("bird.parse_show_status/bird2_show_status", "", "hostname", "vm"),
    ("bird.parse_show_status/bird16_show_status_v", "", "router_id", "10.0.5.2"),
    # g2_neighbor.txt first peer: "transport":{"local_address":"0.0.0.0","passive_mode":true}, session_state 3
    ("gobgp.parse_neighbors/g2_neighbor", "address=10.0.5.2", "passive", True),
    ("gobgp.parse_neighbors/g2_neighbor", "address=10.0.5.2", "state", "active"),
    ("gobgp.parse_neighbors/g2_neighbor", "address=10.0.5.2", "multihop_ttl", 4),
    # g2_neighbor.txt: no timers.state.negotiated_hold_time for 10.0.5.2, 9 for 10.0.3.1
    ("gobgp.parse_neighbors/g2_neighbor", "address=10.0.5.2", "hold_time", None),
    ("gobgp.parse_neighbors/g2_neighbor", "address=10.0.3.1", "hold_time", 9),
    # g2_neighbor.txt 10.0.3.1: no "admin_state" key (GoBGP omits it while the peer is administratively up)
    ("gobgp.parse_neighbors/g2_neighbor", "address=10.0.3.1", "admin_down", False),
    # g1_neighbor_one.txt afi_safis[0].state: "received":4,"accepted":4,"advertised":1
    ("gobgp.parse_neighbors/g1_neighbor_one", "#0", "advertised", 1),
    # g1_neighbor.txt (the list) has no "advertised" key: unknown, not 0
    ("gobgp.parse_neighbors/g1_neighbor", "address=10.0.1.1", "advertised", None),
    # g1_global.txt: "listen_port":-1 (Cilium's GoBGP never listens)
    ("gobgp.parse_global/g1_global", "", "listen_port", -1),
    # g1_rib.txt "10.42.3.0/24": as_paths asns [64512,64513];
    # "10.42.0.0/24" is local: nexthop 0.0.0.0 and no "neighbor-ip" key
    ("gobgp.parse_rib/g1_rib", "prefix=10.42.3.0/24", "as_path", "64512 64513"),
    ("gobgp.parse_rib/g1_rib", "prefix=10.42.0.0/24", "neighbor_ip", None),
    # frag_needed.txt line 2: "From 10.0.4.2 icmp_seq=1 Frag needed and DF set (mtu = 1400)"
    ("ping.parse_ping/frag_needed", "", "frag_needed_from", "10.0.4.2"),
    ("ping.parse_ping/frag_needed", "", "outcome", "frag-needed"),
    # frag_needed.txt last line: "3 packets transmitted, 0 received, +3 errors, 100% packet loss"
    ("ping.parse_ping/frag_needed", "", "errors", 3),
    # ttl_exceeded.txt: "From 10.0.1.1 icmp_seq=1 Time to live exceeded", "+1 errors"
    ("ping.parse_ping/ttl_exceeded", "", "time_exceeded_from", "10.0.1.1"),
    ("ping.parse_ping/ttl_exceeded", "", "errors", 1),
    ("ping.parse_ping/ttl_exceeded", "", "outcome", "time-exceeded"),
    # local_too_big.txt: only "ping: local error: message too long, mtu=1400", no ICMP from the path
    ("ping.parse_ping/local_too_big", "", "local_error_mtu", 1400),
    ("ping.parse_ping/local_too_big", "", "outcome", "local-too-big"),
    # net_unreachable.txt: "From 10.0.1.1 icmp_seq=1 Destination Net Unreachable"
    ("ping.parse_ping/net_unreachable", "", "unreachable_from", "10.0.1.1"),
    # silent_loss.txt: "3 packets transmitted, 0 received, 100% packet loss" and nothing else
    ("ping.parse_ping/silent_loss", "", "outcome", "silent-loss"),
    # ok.txt: "rtt min/avg/max/mdev = 0.092/0.303/0.725/0.298 ms"
    ("ping.parse_ping/ok", "", "rtt_avg_ms", 0.303),
    # local_net_unreachable.txt: "ping: connect: Network is unreachable" (ping never sent)
    ("ping.parse_ping/local_net_unreachable", "", "error", "connect: Network is unreachable"),
    # r16_tanpi.txt line 4: "... mss:1348 pmtu:1400 ..." for the ESTAB socket 10.0.5.2:50367
    ("ss.parse_ss/r16_tanpi", "local_port=50367", "pmtu", 1400),
    ("ss.parse_ss/r16_tanpi", "local_port=50367", "mss", 1348),
    # r2_tanp.txt line 3: "TIME-WAIT 0 0 10.0.3.1%r2-g2:44727 10.0.3.2:179" (no users:)
    ("ss.parse_ss/r2_tanp", "local_port=44727", "local_address", "10.0.3.1"),
    ("ss.parse_ss/r2_tanp", "local_port=44727", "process", None),
    # g2_tlnp.txt line 2: "LISTEN 0 4096 10.0.3.2:179 ... gobgpd"
    ("ss.parse_ss/g2_tlnp", "local_port=179", "local_address", "10.0.3.2"),
    # r2_keys.txt line 3: "net.ipv4.conf.r2-mid.rp_filter = 2" (line 4 is sysctl's error for nosuch0)
    ("sysctl.parse_sysctl/r2_keys", "", "net.ipv4.conf.r2-mid.rp_filter", "2"),
    # mid_pattern.txt: "net.ipv4.conf.all.rp_filter = 1"
    ("sysctl.parse_sysctl/mid_pattern", "", "net.ipv4.conf.all.rp_filter", "1"),
    # lab_tor_ecmp_route.txt: "dst":"10.0.6.1" with two "nexthops" on vlanif4
    (
        "iproute.parse_routes/lab_tor_ecmp_route",
        "dst=10.0.6.1/32",
        "nexthops",
        [["10.0.4.109", "vlanif4"], ["10.0.4.110", "vlanif4"]],
    ),
    # lab_cn_unreachable_route.txt: {"type":"unreachable","dst":"10.42.64.64/26",...} with no dev
    ("iproute.parse_routes/lab_cn_unreachable_route", "dst=10.42.64.64/26", "type", "unreachable"),
    ("iproute.parse_routes/lab_cn_unreachable_route", "dst=10.42.64.64/26", "dev", None),
    # r16_route.txt: {"dst":"default","gateway":"10.0.5.1","dev":"r16-mid"}
    ("iproute.parse_routes/r16_route", "dst=0.0.0.0/0", "gateway", "10.0.5.1"),
    # r2_route.txt: {"type":"blackhole","dst":"203.0.113.0/24",...}
    ("iproute.parse_routes/r2_route", "dst=203.0.113.0/24", "type", "blackhole"),
    # r2_addr.txt r2-g1: {"family":"inet","local":"10.0.1.1","prefixlen":24}
    ("iproute.parse_addresses/r2_addr", "address=10.0.1.1", "ifname", "r2-g1"),
    # g1_route_get_pmtu.txt: "expires":599,"metrics":[{"mtu":1400}]
    ("iproute.parse_route_get/g1_route_get_pmtu", "", "mtu", 1400),
    # r2_route_get_unreachable.txt: "RTNETLINK answers: Network is unreachable"
    ("iproute.parse_route_get/r2_route_get_unreachable", "", "error", "Network is unreachable"),
    # tailscale_wgquick_rule.txt: {"priority":32764,"not":null,"src":"all","fwmark":"0xca6c","table":"51820"}
    ("iprule.parse_rules/tailscale_wgquick_rule", "priority=32764", "fwmark", 0xCA6C),
    ("iprule.parse_rules/tailscale_wgquick_rule", "priority=32764", "invert", True),
    # tailscale_wgquick_rule.txt: {"priority":101,"src":"all","ipproto":"tcp","dport":179,"table":"101"}
    ("iprule.parse_rules/tailscale_wgquick_rule", "priority=101", "opaque", ["ipproto tcp", "dport 179"]),
    # tailscale_wgquick_rule_tables.txt: "table 52" then {"dst":"10.42.0.0/16","dev":"tailscale0",...}
    ("iprule.parse_rule_tables/tailscale_wgquick_rule_tables", "52|#0", "dev", "tailscale0"),
    # tailscale_wgquick_rule_tables.txt: "table 101" then a lone "[" (the table does not exist)
    ("iprule.parse_rule_tables/tailscale_wgquick_rule_tables", "", "101", []),
    # mid_ruleset_text.txt line 5:
    # 'ip saddr 10.0.3.2 icmp type echo-request counter packets 3 ... drop comment "silent drop"'
    ("nft.parse_ruleset/mid_ruleset", "rules|comment=silent drop", "counter_packets", 3),
    ("nft.parse_ruleset/mid_ruleset", "rules|comment=silent drop", "verdict", "drop"),
    # mid_ruleset_text.txt: "type filter hook forward priority filter; policy drop;"
    ("nft.parse_ruleset/mid_ruleset", "chains|name=forward", "policy", "drop"),
    # bgp_syn_iface.pcap (tcpdump -r): first SYN 10.0.5.2.50367 > 10.0.4.1.179, ttl 3
    ("pcap.syn_sources/bgp_syn_iface", "#0", "ttl", 3),
    # capabilities/gr_off_bird_protocols_all.txt: "Local capabilities" has no "Graceful restart";
    # under "Neighbor capabilities": "Graceful restart" / "Restart time: 120" / "AF supported: ipv4"
    ("capabilities.parse_bird_protocols/gr_off_bird_protocols_all", "#0|local", "graceful_restart", False),
    ("capabilities.parse_bird_protocols/gr_off_bird_protocols_all", "#0|remote", "gr_restart_time", 120),
    # capabilities/recovery16_bird_protocols_all.txt peer_dead: "GR recovery:    pending"
    (
        "capabilities.parse_bird_protocols/recovery16_bird_protocols_all",
        "name=peer_dead",
        "gr_recovery_pending",
        True,
    ),
    # capabilities/recovery_bird_status.txt: "Wait timer is 234.917/240"
    ("capabilities.parse_bird_gr_recovery/recovery_bird_status", "", "wait_s", 240),
    # capabilities/v6_frr_only_frr_neighbors.txt: multiprotocolExtensions
    # "ipv6Unicast": {"advertised": true}
    (
        "capabilities.parse_frr_neighbors/v6_frr_only_frr_neighbors",
        "#0|local",
        "families",
        ["ipv4-unicast", "ipv6-unicast"],
    ),
    # capabilities/cease_frr_neighbors.txt: "lastNotificationReason": "Cease/Peer De-configured"
    (
        "capabilities.parse_frr_neighbors/cease_frr_neighbors",
        "#0",
        "cease_received",
        "Cease/Peer De-configured",
    ),
    # capabilities/gobgp_gr_v4v6_gobgp_neighbor.txt: local GracefulRestartCapability
    # "EHgaBgoECAEQARoGCgQIAhAB" = time 120 (10 78), tuples afi 1 safi 1 and afi 2 safi 1
    (
        "capabilities.parse_gobgp_neighbors/gobgp_gr_v4v6_gobgp_neighbor",
        "#0|local",
        "gr_families",
        ["ipv4-unicast", "ipv6-unicast"],
    ),
]


@pytest.mark.parametrize(
    ("case", "locator", "field", "value"),
    HAND_VERIFIED,
    ids=[f"{c.split('/')[1]}:{loc}:{f}" for c, loc, f, _ in HAND_VERIFIED],
)
def test_hand_verified_value(case: str, locator: str, field: str, value: Any) -> None:
    target, stem = case.split("/")
    picked = _pick(_expected(target, stem), locator)
    assert (picked[field] if field else picked) == value


def test_hand_verified_table_covers_every_parser_family() -> None:
    families = {case.split("/")[0] for case, *_ in HAND_VERIFIED}
    assert families == {case_dir.name for case_dir in CASES.iterdir() if case_dir.is_dir()}
    assert len({case for case, *_ in HAND_VERIFIED}) >= 15


# --- make_cases must not silently re-freeze a changed expectation ------------------------------


def _make_cases_module() -> Any:
    spec = importlib.util.spec_from_file_location("make_cases", Path(__file__).parent / "make_cases.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_cases_refuses_to_overwrite_a_changed_case_without_accept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_cases = _make_cases_module()
    shutil.copytree(CASES / "sysctl.parse_sysctl", tmp_path / "sysctl.parse_sysctl")
    case_file = tmp_path / "sysctl.parse_sysctl" / "r2_keys.json"
    case = json.loads(case_file.read_text())
    case["expected"]["net.ipv4.ip_forward"] = "0"
    tampered = json.dumps(case, indent=1) + "\n"
    case_file.write_text(tampered)
    monkeypatch.setattr(make_cases, "CASES", tmp_path)
    monkeypatch.setattr(sys, "argv", ["make_cases.py", "--only", "sysctl.parse_sysctl/*"])

    with pytest.raises(SystemExit) as exit_info:
        make_cases.main()

    assert exit_info.value.code == 1
    assert case_file.read_text() == tampered
    captured = capsys.readouterr()
    diff_lines = captured.out.splitlines()
    assert any(line.startswith("-") and '"net.ipv4.ip_forward": "0"' in line for line in diff_lines)
    assert any(line.startswith("+") and '"net.ipv4.ip_forward": "1"' in line for line in diff_lines)
    assert "sysctl.parse_sysctl/r2_keys" in captured.err and "--accept" in captured.err
    untouched = (tmp_path / "sysctl.parse_sysctl" / "mid_pattern.json").read_text()
    assert untouched == (CASES / "sysctl.parse_sysctl" / "mid_pattern.json").read_text()

    assert make_cases.write_cases("sysctl.parse_sysctl/r2_keys", accept=True) == []
    assert json.loads(case_file.read_text())["expected"]["net.ipv4.ip_forward"] == "1"


def test_make_cases_writes_a_new_case_and_leaves_unchanged_ones_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_cases = _make_cases_module()
    monkeypatch.setattr(make_cases, "CASES", tmp_path)
    assert make_cases.write_cases("sysctl.parse_sysctl/r2_keys", accept=False) == []
    written = tmp_path / "sysctl.parse_sysctl" / "r2_keys.json"
    assert json.loads(written.read_text()) == json.loads(
        (CASES / "sysctl.parse_sysctl" / "r2_keys.json").read_text()
    )
    mtime = written.stat().st_mtime_ns
    assert make_cases.write_cases("sysctl.parse_sysctl/r2_keys", accept=False) == []
    assert written.stat().st_mtime_ns == mtime
