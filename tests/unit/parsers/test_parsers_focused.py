"""Focused parser tests: the tricky corners (long names, BIRD 1.6 vs 2, -v codes, error text,
malformed input -> ParseError). Real fixtures come from captures/; the short inline samples are
quoted from public bug reports cited in shared/reference/root-causes-and-anchors.md §4."""

from __future__ import annotations

from pathlib import Path

import pytest

from bgpdoctor.errors import BgpDoctorError
from bgpdoctor.parsers import ParseError, bird, gobgp, iproute, nft, pcap, ping, ss, sysctl

REPO = Path(__file__).resolve().parents[3]
OUT = REPO / "captures" / "outputs"


def fixture(rel: str) -> str:
    return (OUT / rel).read_text()


def by_name(protocols: list[bird.BirdProtocol]) -> dict[str, bird.BirdProtocol]:
    return {p.name: p for p in protocols}


def test_parse_error_is_a_bgpdoctor_error() -> None:
    err = ParseError("bird", "boom")
    assert isinstance(err, BgpDoctorError)
    assert (err.parser, err.message, str(err)) == ("bird", "boom", "bird: boom")


# --- BIRD -----------------------------------------------------------------------------------------


def test_bird_long_names_push_columns() -> None:
    p = by_name(bird.parse_show_protocols(fixture("bird/bird16_show_protocols.txt")))
    long = p["rmine_multihop_peer"]
    assert (long.proto, long.table, long.state, long.bgp_state) == ("BGP", "master", "up", "Established")
    refused = p["g1_refused"]
    assert refused.info == "Active        Socket: Connection refused"
    assert (refused.bgp_state, refused.last_error) == ("Active", "Socket: Connection refused")


def test_bird2_and_bird16_differences() -> None:
    b2 = by_name(bird.parse_show_protocols_all(fixture("bird/bird2_show_protocols_all.txt")))
    b16 = by_name(bird.parse_show_protocols_all(fixture("bird/bird16_show_protocols_all.txt")))
    assert b2["r16_multihop"].table == "---" and b16["rmine_multihop_peer"].table == "master"
    assert b2["r16_multihop"].channels == ["ipv4"] and b16["rmine_multihop_peer"].channels == []
    assert b2["r16_multihop"].local_as == 64512 and b16["rmine_multihop_peer"].local_as is None
    assert b2["r16_multihop"].since == "21:22:04.046" and b16["rmine_multihop_peer"].since == "21:22:03"
    for p in (b2["r16_multihop"], b16["rmine_multihop_peer"]):
        assert p.session == "external multihop AS4"
    assert b16["rmine_multihop_peer"].routes_imported == 3
    assert b16["rmine_multihop_peer"].import_filter == "ACCEPT"


def test_bird_bad_peer_as_both_directions() -> None:
    sent = by_name(bird.parse_show_protocols_all(fixture("bird/bird2_show_protocols_all.txt")))["g2_badas"]
    got = by_name(bird.parse_show_protocols_all(fixture("bird/bird16_show_protocols_all.txt")))["g2_badas"]
    assert sent.last_error == "BGP Error: Bad peer AS" and sent.error_wait
    assert got.last_error == "Received: Bad peer AS" and got.error_wait


def test_bird_passive_and_hold_timer_expired() -> None:
    p = by_name(bird.parse_show_protocols_all(fixture("bird/bird2_hold_expired_show_protocols_all.txt")))
    assert (p["passive_wait"].bgp_state, p["passive_wait"].last_error) == ("Passive", None)
    hold = p["r16_multihop"]
    assert (hold.state, hold.bgp_state, hold.last_error, hold.error_wait) == (
        "start",
        "Idle",
        "BGP Error: Hold timer expired",
        True,
    )


@pytest.mark.parametrize(
    "plain,verbose",
    [
        ("bird2_show_protocols_all", "bird2_show_protocols_all_v"),
        ("bird16_show_protocols_all", "bird16_show_protocols_all_v"),
    ],
)
def test_bird_reply_codes_give_the_same_result(plain: str, verbose: str) -> None:
    a = bird.parse_show_protocols_all(fixture(f"bird/{plain}.txt"))
    b = bird.parse_show_protocols_all(fixture(f"bird/{verbose}.txt"))

    def key(p: bird.BirdProtocol) -> tuple[object, ...]:
        return (p.name, p.bgp_state, p.last_error, p.neighbor_address, p.routes_imported, p.channels)

    assert [key(p) for p in a] == [key(p) for p in b]


def test_bird_since_date_and_time() -> None:
    p = by_name(bird.parse_show_protocols(fixture("bird/bird2_isolong_show_protocols.txt")))
    assert p["cilium_refused"].since == "2026-11-22 21:22:00"
    assert p["cilium_refused"].last_error == "Socket: Connection refused"
    # cilium#28530 (BIRD 2.14, iso long)
    text = (
        "Name       Proto      Table      State  Since         Info\n"
        "bgp4       BGP        ---        up     2024-03-08 15:13:49  Established\n"
    )
    (row,) = bird.parse_show_protocols(text)
    assert (row.since, row.bgp_state) == ("2024-03-08 15:13:49", "Established")


def test_bird16_raw_control_socket_continuation() -> None:
    # calicoctl status.go comment: one leading space marks a continuation row
    text = (
        "0001 BIRD 1.5.0 ready.\n"
        "2002-name     proto    table    state  since       info\n"
        "1002-kernel1  Kernel   master   up     2016-11-21\n"
        " Mesh_172_17_8_102 BGP      master   up     2016-11-21  Established\n"
        "0000\n"
    )
    rows = bird.parse_show_protocols(text)
    assert [(r.name, r.since, r.bgp_state) for r in rows] == [
        ("kernel1", "2016-11-21", None),
        ("Mesh_172_17_8_102", "2016-11-21", "Established"),
    ]


def test_bird_routes_16_vs_2() -> None:
    r16 = {r.prefix: r for r in bird.parse_show_route(fixture("bird/bird16_show_route_all.txt"))}
    r2 = {r.prefix: r for r in bird.parse_show_route(fixture("bird/bird2_show_route_all.txt"))}
    assert (r16["10.42.0.0/24"].gateway, r16["10.42.0.0/24"].interface) == ("10.0.5.1", "r16-mid")
    assert r16["10.42.0.0/24"].as_path == "64512 64514"
    assert r16["10.42.3.0/24"].kind == "blackhole"
    assert r16["10.0.5.0/24"].primary and r16["10.0.5.0/24"].sync_error  # "!" in BIRD 1.6
    assert (r2["10.42.3.0/24"].gateway, r2["10.42.3.0/24"].bgp_next_hop) == ("10.0.4.2", "10.0.5.2")
    assert r2["198.51.100.0/24"].kind == "unreachable" and r2["198.51.100.0/24"].table == "master4"


def test_bird2_second_route_and_multipath() -> None:
    text = (
        "Table master4:\n"
        "10.42.0.0/24         unicast [peer_a 10:00:00.000] * (100) [AS64514i]\n"
        "\tvia 10.0.1.2 on eth0 weight 1\n"
        "\tvia 10.0.2.2 on eth1 weight 1\n"
        "                     unicast [peer_b 10:00:01.000] (100) [AS64515i]\n"
        "\tvia 10.0.3.2 on eth2\n"
    )
    a, b = bird.parse_show_route(text)
    assert (a.prefix, a.gateway, a.interface, a.primary) == ("10.42.0.0/24", "10.0.1.2", "eth0", True)
    assert (b.prefix, b.protocol, b.gateway, b.primary) == ("10.42.0.0/24", "peer_b", "10.0.3.2", False)


def test_bird_not_found_and_status() -> None:
    assert bird.parse_show_route(fixture("bird/bird2_show_route_not_found.txt")) == []
    assert bird.parse_show_status(fixture("bird/bird16_show_status.txt")).version == "1.6.8"
    assert bird.parse_show_status(fixture("bird/bird2_show_status_v.txt")).router_id == "10.0.4.1"


@pytest.mark.parametrize(
    "text",
    [
        "Unable to connect to server control socket (/run/bird/bird.ctl): No such file or directory\n",
        "BIRD 2.0.12 ready.\nsyntax error, unexpected CF_SYM_UNDEFINED\n",
        "0001 BIRD 2.0.12 ready.\n9001 syntax error, unexpected CF_SYM_UNDEFINED\n",
        "",
        "hello world\n",
    ],
)
def test_bird_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        bird.parse_show_protocols(text)
    with pytest.raises(ParseError):
        bird.parse_show_status(text)


# --- GoBGP ----------------------------------------------------------------------------------------


def test_gobgp_list_and_single_object() -> None:
    many = gobgp.parse_neighbors(fixture("gobgp/g1_neighbor.txt"))
    (one,) = gobgp.parse_neighbors(fixture("gobgp/g1_neighbor_one.txt"))
    assert [n.state for n in many] == ["established", "active"]
    assert one.address == many[0].address and one.advertised == 1 and many[0].advertised is None


def test_gobgp_go_zero_values_default() -> None:
    (n,) = gobgp.parse_neighbors('[{"conf":{"neighbor_address":"192.0.2.1"},"state":{"admin_state":1}}]')
    assert (n.state, n.peer_as, n.local_as, n.admin_down, n.received) == ("unknown", 0, 0, True, None)
    assert gobgp.parse_global(fixture("gobgp/g1_global.txt")).listen_port == -1
    assert gobgp.parse_rib("{}") == []


@pytest.mark.parametrize("text", ["", "not json", '[{"conf":{}}]', "[1]", '{"asn": "x"}'])
def test_gobgp_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        gobgp.parse_neighbors(text)


def test_gobgp_global_malformed() -> None:
    with pytest.raises(ParseError):
        gobgp.parse_global('{"router_id": "1.1.1.1"}')
    with pytest.raises(ParseError):
        gobgp.parse_rib('{"10.0.0.0/8": 3}')


# --- ping -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case,outcome",
    [
        ("ok", "reply"),
        ("local_too_big", "local-too-big"),
        ("frag_needed", "frag-needed"),
        ("silent_loss", "silent-loss"),
        ("net_unreachable", "unreachable"),
        ("ttl_exceeded", "time-exceeded"),
        ("local_net_unreachable", "error"),
        ("unknown_host", "error"),
    ],
)
def test_ping_outcomes(case: str, outcome: str) -> None:
    assert ping.parse_ping(fixture(f"ping/{case}.txt")).outcome == outcome


def test_ping_sendmsg_message_too_long() -> None:
    text = (
        "PING 10.0.0.2 (10.0.0.2) 1472(1500) bytes of data.\nping: sendmsg: Message too long\n\n"
        "--- 10.0.0.2 ping statistics ---\n"
        "1 packets transmitted, 0 received, +1 errors, 100% packet loss\n"
    )
    r = ping.parse_ping(text)
    assert (r.outcome, r.local_too_big, r.local_error_mtu, r.errors) == ("local-too-big", True, None, 1)


def test_ping_malformed() -> None:
    with pytest.raises(ParseError):
        ping.parse_ping("PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n")


# --- ss / sysctl ----------------------------------------------------------------------------------


def test_ss_listening_and_pmtu() -> None:
    assert [s.process for s in ss.listening_on(ss.parse_ss(fixture("ss/g2_tlnp.txt")), 179)] == ["gobgpd"]
    assert ss.listening_on(ss.parse_ss(fixture("ss/g1_tlnp.txt")), 179) == []  # Cilium-like: port -1
    est = [s for s in ss.parse_ss(fixture("ss/r16_tanpi.txt")) if s.state == "ESTAB"]
    assert [(s.mss, s.pmtu) for s in est] == [(1348, 1400)]


def test_ss_ipv6_and_header() -> None:
    text = (
        "State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
        "LISTEN 0      8      [::]:179           [::]:*\n"
        "LISTEN 0      8      *:179              *:*\n"
        "ESTAB  0      0      [fd00::1]:179      [fd00::2]:40000\n"
    )
    socks = ss.parse_ss(text)
    assert [(s.local_address, s.local_port, s.peer_port) for s in socks] == [
        ("::", 179, None),
        ("*", 179, None),
        ("fd00::1", 179, 40000),
    ]


@pytest.mark.parametrize("text", ["garbage line here\n", "\tmss:1400\n", "ESTAB 0 0 1.2.3.4 5.6.7.8:1\n"])
def test_ss_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        ss.parse_ss(text)


def test_sysctl_rp_filter() -> None:
    values = sysctl.parse_sysctl(fixture("sysctl/r2_keys.txt"))
    assert "net.ipv4.conf.nosuch0.rp_filter" not in values
    assert sysctl.effective_rp_filter(values, "r2-mid") == 2
    dotted = {"net.ipv4.conf.all.rp_filter": "1", "net.ipv4.conf.eth0/100.rp_filter": "0"}
    assert sysctl.effective_rp_filter(dotted, "eth0.100") == 1
    with pytest.raises(ParseError):
        sysctl.effective_rp_filter(values, "r2-g1")
    with pytest.raises(ParseError):
        sysctl.parse_sysctl("this is not sysctl output\n")


# --- iproute / nft / pcap -------------------------------------------------------------------------


def test_iproute_normalisation_and_errors() -> None:
    routes = iproute.parse_routes('[{"dst":"default","gateway":"fe80::1","dev":"eth0"},{"dst":"10.0.0.1"}]')
    assert [r.dst for r in routes] == ["::/0", "10.0.0.1/32"]
    unreachable = iproute.parse_route_get(fixture("ip/r2_route_get_unreachable.txt"))
    assert unreachable.error == "Network is unreachable"
    xdev = iproute.parse_route_get("RTNETLINK answers: Invalid cross-device link\n")
    assert (xdev.dst, xdev.error) == (None, "Invalid cross-device link")
    assert iproute.parse_route_get(fixture("ip/g1_route_get_pmtu.txt")).mtu == 1400
    for bad in ("", "{", '{"dst": "x"}', "[]"):
        with pytest.raises(ParseError):
            iproute.parse_route_get(bad)
    with pytest.raises(ParseError):
        iproute.parse_routes('[{"gateway": "10.0.0.1"}]')


def test_nft_helpers() -> None:
    rs = nft.parse_ruleset(fixture("nft/mid_ruleset.txt"))
    assert nft.forward_policy_drop(rs)
    (masq,) = nft.masquerade_rules(rs)
    assert (masq.oifname, masq.matches) == ("mid-r16", 'ip saddr 10.0.1.0/24 oifname "mid-r16" masquerade')
    assert [r.comment for r in nft.rules_matching_network(rs, "10.42.3.0/24")] == ["pod cidr"]
    drop = next(r for r in rs.rules if r.comment == "silent drop")
    assert (drop.verdict, drop.counter_packets) == ("drop", 3)
    assert not nft.forward_policy_drop(nft.parse_ruleset(fixture("nft/r2_empty_ruleset.txt")))
    for bad in ("", "[]", '{"nftables": [{"rule": {"family": "ip"}}]}'):
        with pytest.raises(ParseError):
            nft.parse_ruleset(bad)


def test_pcap_pure_syns_and_ttl() -> None:
    data = (REPO / "captures/pcap/bgp_syn_iface.pcap").read_bytes()
    syns = pcap.syn_sources(data)
    assert syns and all(s.dport == 179 for s in syns)  # SYN-ACKs (sport 179) are left out
    multihop = [s for s in syns if s.src == "10.0.5.2" and s.dst == "10.0.4.1"]
    assert multihop and multihop[0].ttl == 3  # sent with TTL 4, one router on the way
    any_syns = pcap.syn_sources((REPO / "captures/pcap/bgp_syn_any.pcap").read_bytes(), ifnames={2: "r2-g1"})
    direct = [s for s in any_syns if s.src == "10.0.1.2" and s.dst == "10.0.1.1"]
    assert direct and direct[0].ttl == 1 and direct[0].iface == "r2-g1"


def test_pcap_malformed() -> None:
    with pytest.raises(ParseError):
        pcap.syn_sources(b"not a pcap at all")
