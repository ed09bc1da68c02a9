"""Daemon configurations of a generated scenario: BIRD 2, BIRD 1.6 and FRR routers, calico-node-like
BIRD 1.6 nodes, Cilium-like GoBGP nodes. Pure functions: scenario and knobs in, text out.

Faults that live in a daemon's configuration are Knobs; healing is writing the configs again with
the default Knobs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bgpdoctor.lab.scenario import End, FaultPlan, Scenario, SessionSpec

BIRD_TIMERS = "hold time 9; keepalive time 3; connect retry time 5; error wait time 5, 30;"


@dataclass(frozen=True)
class Knobs:
    """Configuration faults, by session index. Defaults are the healthy baseline.

    Example: Knobs(wrong_asn={(3, "r1"): 65011}) -> r1 expects AS 65011 on session 3
    """

    wrong_asn: dict[tuple[int, str], int] = field(default_factory=dict)  # (session, host) -> AS
    router_dials: frozenset[int] = frozenset()  # node sessions whose router end is not passive
    node_waits: frozenset[int] = frozenset()  # node sessions whose GoBGP end is passive-mode
    no_policy: frozenset[tuple[int, str]] = frozenset()  # (session, FRR host) without route-maps
    no_reflection: frozenset[str] = frozenset()  # reflecting routers without `rr client`


def _peer_asn(sc: Scenario, knobs: Knobs, index: int, end: End) -> int:
    return knobs.wrong_asn.get((index, end.host), end.peer_asn)


def _passive(knobs: Knobs, index: int, s: SessionSpec, end: End) -> bool:
    if s.kind == "node" and end.host == s.b.host and index in knobs.router_dials:
        return False
    if s.kind == "node" and end.host == s.a.host and index in knobs.node_waits:
        return True
    return end.passive


def bird_config(sc: Scenario, key: str, knobs: Knobs) -> str:
    """bird.conf of a BIRD host (router: BIRD 2 or 1.6 syntax; node: calico-node-like BIRD 1.6).

    Example: bird_config(sc, "r0", Knobs()) -> '# heron-4: BIRD 2 router ... protocol bgp vale_311 {...'
    """
    h = sc.hosts[key]
    if h.role == "node":
        return _calico_node(sc, key, knobs)
    v2 = h.speaker == "bird2"
    out = [
        f"# {h.name}: BIRD {'2' if v2 else '1.6'} router of generated scenario {sc.seed}/{sc.names_seed}",
        f'log "{sc.host_dir(key)}/bird.log" all;',
        f"router id {h.router_id};",
        "protocol device { scan time 10; }",
    ]
    if v2:
        out.append("protocol kernel {\n  ipv4 { import none; export where source = RTS_BGP; };\n}")
    else:
        out.append("protocol kernel {\n  scan time 10;\n  import none;\n  export where source = RTS_BGP;\n}")
    for i, s in enumerate(sc.sessions):
        if key not in s.hosts:
            continue
        end, other = s.end(key), s.other(key)
        to_node = s.kind == "node"
        # a reflector sends its clients everything, next hop itself (a backbone next hop is not on
        # their LAN); its iBGP sessions are direct, so next hops resolve without an IGP
        export = "none" if to_node and not sc.nodes_learn and not end.reflects else "where source = RTS_BGP"
        nhs = "" if to_node and not end.reflects else " next hop self;"
        local = f"local {end.local} as {h.asn};" if not to_node else f"local as {h.asn};"
        body = [
            f'description "{sc.name(other.host)}";',
            local,
            f"neighbor {end.neighbor} as {_peer_asn(sc, knobs, i, end)};",
        ]
        if end.reflects:
            body.append("direct;")
            # BIRD refuses `rr client` towards an external AS (asn-mismatch on the session)
            if key not in knobs.no_reflection and _peer_asn(sc, knobs, i, end) == h.asn:
                body.append("rr client;")
        if _passive(knobs, i, s, end):
            body.append("passive on;")
        body.append(BIRD_TIMERS)
        if v2:
            body.append(f"ipv4 {{ import all; export {export};{nhs} }};")
        else:
            body += ["import all;", f"export {export};"] + ([nhs.strip()] if nhs else [])
        out.append(f"protocol bgp {end.proto} {{\n  " + "\n  ".join(body) + "\n}")
    return "\n".join(out) + "\n"


def frr_config(sc: Scenario, key: str, knobs: Knobs) -> str:
    """frr.conf (bgpd's part) of an FRR router, doing what the BIRD routers do: import everything,
    export BGP routes only (nothing to the nodes when they do not learn), next-hop-self towards the
    backbone, passive towards GoBGP nodes. Every eBGP neighbor has a route-map in and out, so RFC
    8212 (`bgp ebgp-requires-policy`, FRR's default) is satisfied; Knobs.no_policy takes them away.

    Example: frr_config(sc, "r1", Knobs()) -> '! pom-drift: FRR router ...\nrouter bgp 64877\n ...'
    """
    h = sc.hosts[key]
    out = [
        f"! {h.name}: FRR router of generated scenario {sc.seed}/{sc.names_seed}",
        f"hostname {h.name}",
        "log stdout informational",
        "route-map BDS-ALL permit 10",
        "exit",
        "route-map BDS-NONE deny 10",
        "exit",
        f"router bgp {h.asn}",
        f" bgp router-id {h.router_id}",
        " timers bgp 3 9",
    ]
    family: list[str] = []
    for i, s in enumerate(sc.sessions):
        if key not in s.hosts:
            continue
        end, other = s.end(key), s.other(key)
        to_node = s.kind == "node"
        n = end.neighbor
        out += [
            f" neighbor {n} remote-as {_peer_asn(sc, knobs, i, end)}",
            f" neighbor {n} description {sc.name(other.host)}",
            f" neighbor {n} timers connect 5",
        ]
        if _passive(knobs, i, s, end):
            out.append(f" neighbor {n} passive")
        if not to_node:
            out.append(f" neighbor {n} update-source {end.local}")
            family.append(f"  neighbor {n} next-hop-self")
        if end.reflects and key not in knobs.no_reflection and _peer_asn(sc, knobs, i, end) == h.asn:
            # FRR refuses a client that is not internal (asn-mismatch on the session); `force`:
            # reflected routes too get the router as next hop (a client on the other subnet)
            family += [f"  neighbor {n} route-reflector-client", f"  neighbor {n} next-hop-self force"]
        if (i, key) not in knobs.no_policy:
            # a reflector sends its clients everything, whatever the seed's nodes_learn
            export = "BDS-NONE" if to_node and not sc.nodes_learn and not end.reflects else "BDS-ALL"
            family += [f"  neighbor {n} route-map BDS-ALL in", f"  neighbor {n} route-map {export} out"]
    out += [" address-family ipv4 unicast", *family, " exit-address-family", "exit"]
    return "\n".join(out) + "\n"


def frr_changes(old: str, new: str) -> list[str]:
    """vtysh configuration lines that turn the running `old` frr_config into `new`: each neighbor
    whose lines differ is removed and added again (only its session resets, as `birdc configure`
    restarts only a changed protocol). Example: frr_changes(healthy, broken) -> ["router bgp 64838",
    "no neighbor 192.168.253.119", " neighbor 192.168.253.119 remote-as 65060", ...]"""

    def blocks(text: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for line in text.splitlines():
            words = line.split()
            if len(words) >= 3 and words[0] == "neighbor":
                out.setdefault(words[1], []).append(line)
        return out

    before, after = blocks(old), blocks(new)
    header = next(line for line in new.splitlines() if line.startswith("router bgp "))
    lines: list[str] = []
    for neighbor in sorted(set(before) | set(after)):
        if before.get(neighbor) == after.get(neighbor):
            continue
        lines.append(f"no neighbor {neighbor}")
        mine = after.get(neighbor, [])
        lines += [line.strip() for line in mine if not line.startswith("  ")]
        family = [line.strip() for line in mine if line.startswith("  ")]
        if family:
            lines += ["address-family ipv4 unicast", *family, "exit-address-family"]
    return [header, *lines, "exit"] if lines else []


def _calico_node(sc: Scenario, key: str, knobs: Knobs) -> str:
    """A node's BIRD 1.6 the way calico-node's confd renders it: its block as a static blackhole,
    exported to the router; no node-to-node mesh (the router is the only peer)."""
    h = sc.hosts[key]
    i, s = next((i, s) for i, s in enumerate(sc.sessions) if key in s.hosts)
    end = s.end(key)
    export = f"export_{end.proto}"
    ibgp = "\n  direct;" if s.other(key).reflects else ""  # iBGP to its reflector, on the same LAN
    return f"""# {h.name}: calico-node-like BIRD 1.6 of generated scenario {sc.seed}/{sc.names_seed}
router id {h.router_id};
log "{sc.host_dir(key)}/bird.log" all;

filter {export} {{
  if ( net = {h.pod_cidr} ) then {{ accept; }}
  reject;
}}

protocol static {{
  route {h.pod_cidr} blackhole;
}}

protocol kernel {{
  scan time 2;
  import none;
  export all;
  merge paths on;
}}

protocol device {{
  scan time 2;
}}

protocol bgp {end.proto} {{
  description "{sc.name(s.other(key).host)}";
  local as {h.asn};
  neighbor {end.neighbor} as {_peer_asn(sc, knobs, i, end)};{ibgp}
  source address {end.local};
  import all;
  export filter {export};
  graceful restart;
  {BIRD_TIMERS}
  connect delay time 2;
}}
"""


def gobgp_config(sc: Scenario, key: str, knobs: Knobs) -> str:
    """gobgpd TOML of a node configured like Cilium's embedded GoBGP (port -1: never listens).

    Example: gobgp_config(sc, "n0.1", Knobs()) -> '[global.config]\\n  as = 64877\\n  ...'
    """
    h = sc.hosts[key]
    text = f"""# {h.name}: GoBGP configured like Cilium's, generated scenario {sc.seed}/{sc.names_seed}
[global.config]
  as = {h.asn}
  router-id = "{h.router_id}"
  port = -1
"""
    for i, s in enumerate(sc.sessions):
        if key not in s.hosts:
            continue
        end = s.end(key)
        text += f"""
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{end.neighbor}"
    peer-as = {_peer_asn(sc, knobs, i, end)}
    description = "{sc.name(s.other(key).host)}"
  [neighbors.timers.config]
    connect-retry = 5
    hold-time = 9
    keepalive-interval = 3
    idle-hold-time-after-reset = 3
  [neighbors.transport.config]
    passive-mode = {str(_passive(knobs, i, s, end)).lower()}
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
"""
    return text


def knobs_for(plans: Iterable[FaultPlan]) -> Knobs:
    """The Knobs that the configuration faults among `plans` need (the others are runtime changes)."""
    wrong: dict[tuple[int, str], int] = {}
    dials: set[int] = set()
    waits: set[int] = set()
    no_policy: set[tuple[int, str]] = set()
    no_reflection: set[str] = set()
    for p in plans:
        if p.name == "asn-mismatch" and p.session is not None:
            wrong[(p.session, p.target)] = p.value
        elif p.name == "node-not-listening" and p.session is not None:
            dials.add(p.session)
            waits.add(p.session)
        elif p.name == "bird-ebgp-no-policy" and p.session is not None:
            no_policy.add((p.session, p.target))
        elif p.name == "ibgp-no-route-reflection":
            no_reflection.add(p.target)
    return Knobs(wrong, frozenset(dials), frozenset(waits), frozenset(no_policy), frozenset(no_reflection))
