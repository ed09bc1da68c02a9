"""Host output nobody in this project wrote: each case is an input the fuzzer (benchmarks/
fuzz_parsers.py) found crashing a parser with something other than ParseError, or slipping a value
of the wrong type into a result; and the JSON and number helpers every parser now reads through.
"""

from __future__ import annotations

import json

import pytest

from bgpdoctor.kube import ciliumdbg
from bgpdoctor.parsers import (
    ParseError,
    bird,
    gobgp,
    iproute,
    json_int,
    load_json,
    netstat,
    nft,
    ping,
    ss,
    to_float,
    to_int,
)
from bgpdoctor.probes import kubelet

BIRD_HEADER = "BIRD 2.0.12 ready.\nName       Proto      Table      State  Since         Info\n"
CILIUM_HEADER = (
    "Local AS   Peer AS   Peer Address   Session       Uptime   Family         Received   Advertised\n"
)

# -- the helpers ---------------------------------------------------------------------------------


def test_load_json_reads_what_json_loads_reads() -> None:
    text = '{"nftables": [{"rule": {"comment": "[[[{ \\" ]]", "expr": [[1, 2.5, -3], {"a": null}]}}]}'
    assert load_json(text, "nft") == json.loads(text)


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_load_json_bounds_nesting_before_it_parses(depth: int) -> None:
    assert load_json("[" * 100 + "]" * 100, "x") is not None
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth, "[" * depth):
        with pytest.raises(ParseError):
            load_json(text, "x")


@pytest.mark.parametrize("number", ["1e309", "-1e309", "NaN", "Infinity", "-Infinity", "1" + "0" * 5000])
def test_load_json_refuses_numbers_no_host_prints(number: str) -> None:
    with pytest.raises(ParseError, match="not JSON"):
        load_json(f'[{{"mtu": {number}}}]', "iproute")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1400", 1400), (" 12\n", 12), ("-1", -1), ("0012", 12), ("18446744073709551615", 2**64 - 1)],
)
def test_to_int_reads_ascii_digits(text: str, expected: int) -> None:
    assert to_int(text, "x", "n") == expected


@pytest.mark.parametrize("text", ["²", "١٢", "1_0", "0x10", "", ".", "1.5", "9" * 5000])
def test_to_int_refuses_what_is_not_ascii_digits(text: str) -> None:
    with pytest.raises(ParseError):  # "²".isdigit() and "١٢".isdigit() are True, int("²") fails
        to_int(text, "x", "n")


@pytest.mark.parametrize("text", [".", "./.", "1e309", "inf", "NaN", "٣.٥", "9" * 400])
def test_to_float_refuses_non_decimals_and_infinity(text: str) -> None:
    with pytest.raises(ParseError):
        to_float(text, "x", "n")
    assert to_float("0.047", "x", "n") == 0.047


def test_json_int_takes_integers_whole_floats_and_protojson_strings() -> None:
    assert [json_int(v, "x", "n") for v in (None, 5, 1500.0, "1795382528")] == [None, 5, 1500, 1795382528]
    bad_values: list[object] = [True, 1.5, "²", {}, [], "1e3"]
    for bad in bad_values:
        with pytest.raises(ParseError):
            json_int(bad, "x", "n")


# -- inputs the fuzzer found -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (ss.parse_ss, "ESTAB 0      0      10.0.0.1:²  10.0.0.2:179\n"),
        (netstat.parse_proc_netstat, "TcpExt: TCPMD5NotFound TCPMD5Unexpected\nTcpExt: 3 ²\n"),
        (ping.parse_ping, "1 packets transmitted, 0 received, +1 errors, 1.2.3% packet loss, time 0ms\n"),
        (
            bird.parse_show_protocols_all,
            BIRD_HEADER + "x          BGP        ---        up     00:00:01      Established\n"
            "  Channel ipv4\n    Routes:         1" + "0" * 5000 + " imported, 0 exported, 0 preferred\n",
        ),
        (
            ciliumdbg.parse_bgp_peers,
            CILIUM_HEADER + "65001      ²         10.0.1.1       active  0s  ipv4/unicast 0 0\n",
        ),
        (ciliumdbg.parse_bgp_peers, '[{"peer-address":"1.2.3.4","uptime-nanoseconds":1' + "0" * 400 + "}]"),
        (gobgp.parse_global, '{"asn":64514,"router_id":"10.0.1.2","listen_port":-1,"listen_addresses":true}'),
        (gobgp.parse_rib, '{"10.0.6.0/24":[{"nlri":{"prefix":"10.0.6.0/24"},"best":true,"attrs":12345}]}'),
        (iproute.parse_addresses, '[{"ifname":"lo","mtu":65536,"addr_info":true}]'),
        (iproute.parse_routes, '[{"dst":"10.0.0.0/24","dev":5}]'),
        (iproute.parse_route_get, '[{"dst":"10.0.5.2","gateway":{"":null},"dev":"g1-r2"}]'),
        (nft.parse_ruleset, '{"nftables":[{"chain":{"family":"ip","table":"t","name":"c","hook":true}}]}'),
    ],
    ids=[
        "ss-port-superscript",
        "netstat-superscript",
        "ping-loss-1.2.3",
        "bird-routes-5001-digits",
        "cilium-text-peer-as-superscript",
        "cilium-json-uptime-overflow",
        "gobgp-listen-addresses-bool",
        "gobgp-attrs-int",
        "ip-addr-info-bool",
        "ip-route-dev-int",
        "ip-route-get-gateway-object",
        "nft-chain-hook-bool",
    ],
)
def test_fuzz_found_output_is_a_parse_error(parse: object, text: str) -> None:
    with pytest.raises(ParseError):
        parse(text)  # type: ignore[operator]


def test_cilium_count_cell_that_only_looks_like_digits_is_not_counted() -> None:
    text = (
        CILIUM_HEADER + "65001      65000     10.0.1.1       active   0s       ipv4/unicast   ²          1\n"
    )
    (peer,) = ciliumdbg.parse_bgp_peers(text)
    assert (peer.peer_as, peer.received, peer.advertised) == (65000, None, 1)


def test_gobgp_null_as_path_segment_is_an_empty_path() -> None:
    text = '{"10.0.0.0/24":[{"nlri":{"prefix":"10.0.0.0/24"},"attrs":[{"type":2,"as_paths":[null]}]}]}'
    assert [(p.prefix, p.as_path) for p in gobgp.parse_rib(text)] == [("10.0.0.0/24", "")]


def test_nft_match_of_an_unknown_shape_is_rendered_and_matches_no_network() -> None:
    rule = {
        "family": "ip",
        "table": "t",
        "chain": "c",
        "expr": [{"match": {"left": {"payload": "x"}, "right": 1}}],
    }
    ruleset = nft.parse_ruleset(json.dumps({"nftables": [{"rule": rule}]}))
    assert ruleset.rules[0].matches == '{"payload": "x"} 1'
    assert nft.rules_matching_network(ruleset, "10.42.0.0/16") == []


def test_kubelet_answer_with_a_field_of_the_wrong_type_is_unreadable() -> None:
    probe = kubelet.parse_kubelet_probe('{"tcp": {"x": "ok"}, "tls": "ok"}', "10.0.0.1:10250")
    assert probe.tcp is None and probe.error is not None and probe.error.startswith("unreadable probe output")
