"""Generated lab scenarios: topologies of other shapes, names, addresses and AS numbers from a seed.

The seed lab (bgpdoctor/lab/topology.py) has one shape and fixed names. A scenario is drawn at
random: 2-3 sites, each a router running BIRD 2, BIRD 1.6 or FRR with 1-2 nodes (GoBGP configured
like Cilium, or BIRD 1.6 configured like calico-node), the routers joined by veths, through an L2
switch namespace or through a transit router. From seed 1000 on (EXTENDED_FROM) a site may also
have two subnets, its router may reflect for its nodes over iBGP, and the GoBGP nodes may announce
LoadBalancer VIPs. Two random streams keep shape and naming apart:

    generate(7)                 # shape from seed 7, names and addresses from seed 7
    generate(7, names_seed=99)  # the same network, every name, address, ASN and ifname redrawn

so a diagnosis that changes between the two depends on names, not on the network. Faults are
planned by role (a node's router, a transit hop, a backbone uplink), never by name.

Building, faults and health live in bgpdoctor.lab.scenario_net; running bgpdoctor on a scenario
and judging its answer in bgpdoctor.lab.scenario_eval. This module is pure (no root needed).
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bgpdoctor.errors import LabError
from bgpdoctor.lab.topology import BIRD16, HOSTS, NAMESPACES

Speaker = Literal["bird2", "bird1", "gobgp", "frr"]
Backbone = Literal["direct", "switch", "transit"]

DEFAULT_BASE_DIR = "/var/lib/bgpdoctor/scenarios"
# never the seed lab's "bdl-" nor its tests' "bdr-"/"bdt-"; BGPDOCTOR_SCENARIO_PREFIX gives a run
# its own (e.g. "bdf-"), so a benchmark never collides with the CI sample's namespaces
NS_PREFIX = "bds-"
# seeds from here on also draw the shapes added later (sites with two subnets, site routers reflecting
# for their nodes over iBGP, LoadBalancer VIPs); every seed below keeps the scenario it always
# generated (benchmarks, recorded runs and the CI sample refer to them)
EXTENDED_FROM = 1000
# seeds from here on also draw FRR site routers reflecting for their nodes (`neighbor X
# route-reflector-client`); seeds below keep the scenarios their benchmark runs were recorded on
FRR_REFLECTORS_FROM = 1050
FRR_SHARE = 0.3  # the chance that a router (site or transit) runs FRR instead of its BIRD
KERNEL_PROTO_FAULT = 99  # `ip route ... proto 99`: routes a fault added, flushed when healing
FAULTS = (
    "ip-forward-disabled",
    "rp-filter-strict",
    "firewall-blocks-pod-cidr",
    "bgp-port-filtered",
    "asn-mismatch",
    "node-not-listening",
    "mtu-blackhole",
    "lb-pool-in-node-subnet",
    "bird-ebgp-no-policy",
    "ibgp-no-route-reflection",  # last: placed only on the later shapes (a site router reflecting)
)
CLASSIC_FAULTS = FAULTS[:9]  # what faults_for_seed rotates through below EXTENDED_FROM, as it always did
# Which faults an FRR router takes, and why the others do not (plan_fault follows this).
FRR_FAULTS: dict[str, str] = {
    "ip-forward-disabled": "applies: a kernel sysctl, whatever the daemon",
    "rp-filter-strict": "applies: a kernel sysctl and route, whatever the daemon",
    "firewall-blocks-pod-cidr": "applies: nft on the router",
    "bgp-port-filtered": "applies: nft on the router of a GoBGP node",
    "asn-mismatch": "applies: a wrong `neighbor ... remote-as` on the FRR end",
    "node-not-listening": (
        "applies: the FRR router loses `neighbor ... passive` towards a GoBGP node; bgpdoctor misses"
        " it today, as FRR keeps no 'Connection refused' (lastResetDueTo 'Waiting for peer OPEN')"
    ),
    "mtu-blackhole": "applies: the router's backbone interface, whatever the daemon",
    "bird-ebgp-no-policy": "FRR only: RFC 8212, one eBGP neighbor without its route-maps",
    "lb-pool-in-node-subnet": (
        "not on FRR: the VIP learned from a node is read from BIRD's `show route` "
        "(engine/vips.py reads bird.bgp_routes only); planned where the node's router is BIRD"
    ),
    "ibgp-no-route-reflection": (
        "not on FRR: the fault needs a BIRD reflector (engine/routing.py reads iBGP and"
        " `route-reflector` from BIRD's `show protocols all` only); an FRR reflector (seeds from"
        " FRR_REFLECTORS_FROM) never takes it"
    ),
}
# Faults of the seed lab the generator does not place on any router yet, FRR or BIRD:
# peer-not-configured, md5-mismatch (no MD5 in generated sessions).

# Networks the seed lab and its tests use, never drawn here (a diagnosis must not lean on them).
SEED_LAB_NETWORKS = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "192.168.6.0/24",
        "192.168.0.0/24",
        "192.168.191.0/24",
        "10.255.255.0/30",
        "10.42.0.0/16",
        "192.168.100.0/24",
        "10.255.100.0/30",
        "10.0.4.0/24",
        "10.0.6.0/24",
        "10.254.42.0/30",
        "172.31.0.0/16",  # management nets of the lab and its test copies
    )
)
_WORDS = (
    "alder", "basalt", "cobalt", "dune", "ember", "fjord", "garnet", "heron", "iris", "juniper",
    "kelp", "lumen", "marl", "nimbus", "onyx", "pylon", "quartz", "rook", "slate", "tarn", "umber",
    "vale", "wren", "yarrow", "zinc", "birch", "cedar", "delta", "ferro", "gneiss", "holm", "ingot",
    "jasper", "karst", "loess", "mica", "nacre", "ochre", "pumice", "rime", "sorrel", "tamar",
    "vetch", "willow", "azure", "brisk", "coral", "drift", "flint", "gale",
)  # fmt: skip
_ASCII = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Addr:
    """An IPv4 address on one interface. Example: Addr("xe-3", "10.77.4.1/24")"""

    ifname: str
    cidr: str

    @property
    def ip(self) -> str:
        return self.cidr.split("/")[0]


@dataclass
class HostSpec:
    """One namespace of the scenario.

    `key` is structural ("r0", "n1.0", "t", "sw") and stays the same when names are redrawn;
    `name` is the drawn inventory name. Example: HostSpec(key="r0", name="heron-4", role="router",
    speaker="bird1", site=0, asn=4200013312, router_id="10.77.4.1", addrs=[Addr("xe-3", ...)])
    """

    key: str
    name: str
    role: Literal["router", "node", "switch"]
    speaker: Speaker | None
    site: int | None = None
    asn: int | None = None
    router_id: str | None = None
    addrs: list[Addr] = field(default_factory=list)
    pod_cidr: str | None = None
    pod_ip: str | None = None
    pod_ifs: tuple[str, str] | None = None  # (interface holding pod_ip, its veth peer)
    lb_vips: list[str] = field(default_factory=list)  # LoadBalancer VIPs a GoBGP node announces (on its lo)
    gateway: Addr | None = None  # a node's default route: via gateway.ip out of gateway.ifname
    mtu: dict[str, int] = field(default_factory=dict)  # interfaces that are not 1500

    @property
    def is_bird(self) -> bool:
        return self.speaker in ("bird2", "bird1")

    @property
    def is_frr(self) -> bool:
        return self.speaker == "frr"

    def addr_on(self, ifname: str) -> Addr:
        return next(a for a in self.addrs if a.ifname == ifname)


@dataclass(frozen=True)
class Veth:
    """A veth pair between two namespaces (or within one). Example: Veth("r0", "xe-3", "n0.0", "enp1s0")"""

    a: str
    a_if: str
    b: str
    b_if: str


@dataclass(frozen=True)
class Bridge:
    """A Linux bridge in one namespace and the ports enslaved to it."""

    host: str
    name: str
    ports: tuple[str, ...]


@dataclass(frozen=True)
class End:
    """One end of a BGP session as configured on `host`: the neighbor it names, the protocol name in
    BIRD (None on GoBGP), whether it only waits for the other end."""

    host: str
    neighbor: str  # the neighbor address configured here
    local: str  # this end's own address on the session
    peer_asn: int
    proto: str | None
    passive: bool
    reflects: bool = False  # a route reflector's end towards its client (`rr client`)


@dataclass(frozen=True)
class SessionSpec:
    """Example: SessionSpec(kind="node", a=End("n0.0", ...), b=End("r0", ...))"""

    kind: Literal["node", "backbone"]
    a: End
    b: End

    @property
    def hosts(self) -> tuple[str, str]:
        return self.a.host, self.b.host

    def end(self, host: str) -> End:
        return self.a if self.a.host == host else self.b

    def other(self, host: str) -> End:
        return self.b if self.a.host == host else self.a


@dataclass(frozen=True)
class Uplink:
    """A site router's interface on the backbone: the segment an MTU fault narrows.

    `far` is the other end of its veth (a router's interface, or a switch port); `across` a router
    whose site the traffic reaches over this uplink.
    """

    router: str
    ifname: str
    far: tuple[str, str]
    across: str


@dataclass
class Scenario:
    """A generated network. Example: generate(3).describe() ->
    'seed 3: 2 sites over a transit router (bird2); site 0: bird1 router heron-4 + gobgp ...'"""

    seed: int
    names_seed: int
    prefix: str  # namespace prefix, e.g. "bds-3-"
    run_dir: Path
    backbone: Backbone
    hosts: dict[str, HostSpec]
    veths: list[Veth]
    bridges: list[Bridge]
    sessions: list[SessionSpec]
    uplinks: list[Uplink]
    backup: Veth  # an idle direct link between the first two site routers (an alternative path)
    sites: list[str]  # site names
    site_lans: list[str]
    cluster_pod_cidr: str
    backbone_mtu: int
    nodes_learn: bool  # routers export what they know to the nodes (else nodes use their default route)
    more_lans: dict[int, list[str]] = field(default_factory=dict)  # site -> its subnets after site_lans[site]
    lb_pools: dict[str, str] = field(default_factory=dict)  # LoadBalancer pool name -> CIDR

    def site_subnets(self, site: int) -> list[str]:
        """Every subnet of a site. Example: ["192.168.77.0/24", "10.31.8.0/26"]"""
        return [self.site_lans[site], *self.more_lans.get(site, [])]

    @property
    def all_site_subnets(self) -> list[str]:
        return [net for i in range(len(self.sites)) for net in self.site_subnets(i)]

    def ns(self, key: str) -> str:
        return self.prefix + self.hosts[key].name

    def name(self, key: str) -> str:
        return self.hosts[key].name

    def host_dir(self, key: str) -> Path:
        return self.run_dir / self.hosts[key].name

    def bird_socket(self, key: str) -> Path:
        return self.host_dir(key) / "bird.ctl"

    def frr_dir(self, key: str) -> Path:
        """FRR's run dir: its configs, pid files, zserv socket and vty sockets (`vtysh --vty_socket`)."""
        return self.host_dir(key) / "frr"

    @property
    def routers(self) -> list[str]:
        return [k for k, h in self.hosts.items() if h.role == "router"]

    @property
    def site_routers(self) -> list[str]:
        return [k for k in self.routers if self.hosts[k].site is not None]

    @property
    def nodes(self) -> list[str]:
        return [k for k, h in self.hosts.items() if h.role == "node"]

    def nodes_of(self, site: int) -> list[str]:
        return [k for k in self.nodes if self.hosts[k].site == site]

    def router_of(self, site: int) -> str:
        return next(k for k in self.site_routers if self.hosts[k].site == site)

    def sessions_of(self, key: str) -> list[SessionSpec]:
        return [s for s in self.sessions if key in s.hosts]

    def reflects(self, key: str) -> bool:
        """`key` is a route reflector for its nodes."""
        return any(s.end(key).reflects for s in self.sessions_of(key))

    @property
    def inventory_path(self) -> Path:
        return self.run_dir / "inventory.yaml"

    @property
    def state_path(self) -> Path:
        return self.run_dir / "state.json"

    @property
    def bin_dir(self) -> Path:
        return self.run_dir / "bin"

    @property
    def namespaces(self) -> list[str]:
        return [self.prefix + h.name for h in self.hosts.values()]

    def describe(self) -> str:
        over = {
            "direct": "veths",
            "switch": "an L2 switch namespace",
            "transit": f"a transit router ({self.hosts['t'].speaker if 't' in self.hosts else '?'})",
        }[self.backbone]
        parts = [f"seed {self.seed} (names {self.names_seed}): {len(self.sites)} sites over {over}"]
        for i in range(len(self.sites)):
            r = self.hosts[self.router_of(i)]
            nodes = ", ".join(f"{self.hosts[n].speaker} node {self.hosts[n].name}" for n in self.nodes_of(i))
            subnets = f" ({len(self.site_subnets(i))} subnets)" if i in self.more_lans else ""
            if self.reflects(r.key):
                subnets += " (route reflector, iBGP)"
            parts.append(f"site {self.sites[i]}: {r.speaker} router {r.name}{subnets} + {nodes}")
        for pool, cidr in self.lb_pools.items():
            announcing = [h.name for h in self.hosts.values() if h.lb_vips]
            parts.append(f"LoadBalancer pool {pool} {cidr}: VIPs announced by {', '.join(announcing)}")
        return "; ".join(parts)


# -- drawing names -------------------------------------------------------------------------------
class _Names:
    """Every name, address and AS number of a scenario, from one random stream."""

    def __init__(self, rng: random.Random, exclude: list[ipaddress.IPv4Network]) -> None:
        self.rng = rng
        self.taken_nets: list[ipaddress.IPv4Network] = list(exclude)
        self.hosts: set[str] = set()
        self.ifnames: dict[str, set[str]] = {}
        self.symbols: set[str] = set()
        self.asns: set[int] = set()

    def host(self) -> str:
        lab = {*HOSTS, *NAMESPACES}
        while True:
            w = self.rng.choice(_WORDS)
            n = self.rng.randint(1, 99)
            letters = "".join(self.rng.choice(_ASCII) for _ in range(self.rng.randint(2, 4)))
            name = self.rng.choice(
                (w, f"{w}-{n}", f"{w}{n}", f"{letters}{n}", f"{w}-{letters}", f"{letters}-{w}")
            )
            if name not in self.hosts and not any(x in name for x in lab):
                self.hosts.add(name)
                return name

    def ifname(self, host: str) -> str:
        """A valid Linux interface name (at most 15 characters, no dots), unique in its namespace."""
        used = self.ifnames.setdefault(host, {"lo"})
        r = self.rng
        while True:
            n, m = r.randint(0, 31), r.randint(0, 9)
            w = r.choice(_WORDS)[: r.randint(3, 6)]
            name = r.choice(
                (
                    f"eth{n}",
                    f"ens{n + 1}",
                    f"enp{n}s{m}",
                    f"eno{n + 1}",
                    f"lan{m}",
                    f"wan{m}",
                    f"br-{w}",
                    f"xe-{m}-{n}",
                    f"ge{m}-{n}",
                    f"{w}{n}",
                    f"vl{r.randint(2, 4094)}",
                    f"p{n}p{m}",
                    f"{w}-{r.choice(_ASCII)}{m}",
                )
            )
            if name not in used and len(name) <= 15 and name not in ("all", "default"):
                used.add(name)
                return name

    def symbol(self) -> str:
        """A BIRD symbol (protocol or filter name) that can never be a keyword: it has a digit."""
        while True:
            name = f"{self.rng.choice(_WORDS)}_{self.rng.randint(1, 999)}"
            if name not in self.symbols:
                self.symbols.add(name)
                return name

    def asn(self) -> int:
        while True:
            value = (
                self.rng.randint(64512, 65534)
                if self.rng.random() < 0.6
                else self.rng.randint(4200000000, 4294967294)
            )
            if value not in self.asns:
                self.asns.add(value)
                return value

    def network(self, prefixlen: int, within: ipaddress.IPv4Network | None = None) -> ipaddress.IPv4Network:
        """A random private network, disjoint from every other one drawn (and the excluded ones)."""
        for _ in range(10000):
            if within is None:
                space = self.rng.choice(("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
                parent = ipaddress.IPv4Network(space)
            else:
                parent = within
            count = 2 ** (prefixlen - parent.prefixlen)
            base = int(parent.network_address) + self.rng.randrange(count) * 2 ** (32 - prefixlen)
            net = ipaddress.IPv4Network((base, prefixlen))
            if not any(net.overlaps(t) for t in self.taken_nets if t != within):
                self.taken_nets.append(net)
                return net
        raise ValueError(f"no free /{prefixlen} left")

    def hosts_in(self, net: ipaddress.IPv4Network, count: int) -> list[str]:
        """`count` distinct random host addresses of `net`."""
        picked = self.rng.sample(range(1, net.num_addresses - 1), count)
        return [str(net.network_address + i) for i in picked]


# -- the generator -------------------------------------------------------------------------------
@dataclass
class _SiteShape:
    router: Speaker
    nodes: list[Speaker]
    lan_bridge: bool
    # two subnets: the router's second LAN (the last node's) is a bridge (True) or a plain veth (False)
    second_lan: bool | None = None
    reflector: bool = False  # the nodes share the router's AS; it reflects between them over iBGP

    def lan_groups(self) -> list[tuple[list[int], bool]]:
        """The site's LANs: the indexes of the nodes on each, and whether it is a bridge."""
        every = list(range(len(self.nodes)))
        if self.second_lan is None:
            return [(every, self.lan_bridge)]
        return [(every[:-1], self.lan_bridge), (every[-1:], self.second_lan)]


@dataclass
class _Shape:
    """Everything about a scenario that is not a name: drawn from the seed alone."""

    backbone: Backbone
    sites: list[_SiteShape]
    transit: Speaker
    backbone_mtu: int
    mtu_fault: int
    node_asn: Literal["shared", "per-site", "per-node"]
    nodes_learn: bool  # routers send the nodes what they know (BIRD nodes install it)
    lb_vips: bool = False  # GoBGP nodes announce a LoadBalancer VIP each, from a pool off every LAN


def _frr_routers(seed: int, sites: list[_SiteShape], transit: Speaker) -> Speaker:
    """Some routers run FRR: drawn from a stream of their own after the rest of the shape, so a seed
    whose routers all stay BIRD keeps the shape it had before FRR was drawn at all. The stream's
    salt (6) is one that leaves the BIRD-only seeds of the CI sample (2, 33, 246) as they were."""
    rng = random.Random(f"bgpdoctor-scenario-frr-6-{seed}")
    for site in sites:
        if rng.random() < FRR_SHARE:
            site.router = "frr"
    return "frr" if rng.random() < FRR_SHARE else transit


def _extended_sites(seed: int, sites: list[_SiteShape]) -> None:
    """The site shapes added after the first ones, from a stream of their own and only on seeds from
    EXTENDED_FROM on, so every seed below keeps exactly the scenario it always had: a site with two
    subnets (the router has a second LAN interface; the site's last node, added when it had one,
    sits on it); a BIRD site router that is a route reflector for its nodes over iBGP; from
    FRR_REFLECTORS_FROM on, an FRR site router that is one too."""
    rng = random.Random(f"bgpdoctor-scenario-extended-{seed}")
    for site in sites:
        if rng.random() < 0.5:
            if len(site.nodes) == 1:
                site.nodes.append(rng.choice(("gobgp", "gobgp", "bird1")))
            site.second_lan = rng.random() < 0.5
        site.reflector = rng.random() < 0.4 and site.router in ("bird2", "bird1")
    if seed >= FRR_REFLECTORS_FROM:  # a stream of its own: the draws above stay as they were
        frr = random.Random(f"bgpdoctor-scenario-frr-reflector-{seed}")
        for site in sites:
            if frr.random() < 0.4 and site.router == "frr":
                site.reflector = True


def _shape(seed: int) -> _Shape:
    rng = random.Random(f"bgpdoctor-scenario-shape-{seed}")
    n_sites = rng.choice((2, 3))
    backbone: Backbone = rng.choice(("direct", "switch", "transit"))
    sites = []
    for _ in range(n_sites):
        router: Speaker = rng.choice(("bird2", "bird2", "bird1"))
        nodes: list[Speaker] = [rng.choice(("gobgp", "gobgp", "bird1")) for _ in range(rng.choice((1, 2)))]
        sites.append(_SiteShape(router, nodes, len(nodes) > 1 or rng.random() < 0.5))
    transit: Speaker = rng.choice(("bird2", "bird1"))
    backbone_mtu = rng.choice((1500, 1500, 1420, 1400))
    mtu_fault = backbone_mtu - rng.choice((40, 80, 120, 160))
    # a node only accepts routes whose AS path lacks its own AS: nodes that learn get their own
    nodes_learn = rng.random() < 0.5
    node_asn: Literal["shared", "per-site", "per-node"] = (
        "per-node" if nodes_learn else rng.choice(("shared", "shared", "per-site"))
    )
    transit = _frr_routers(seed, sites, transit)
    if seed >= EXTENDED_FROM:
        _extended_sites(seed, sites)
    lb_vips = seed >= EXTENDED_FROM and random.Random(f"bgpdoctor-scenario-lb-vips-{seed}").random() < 0.5
    return _Shape(backbone, sites, transit, backbone_mtu, mtu_fault, node_asn, nodes_learn, lb_vips)


def ns_prefix() -> str:
    """The namespaces' common prefix: BGPDOCTOR_SCENARIO_PREFIX (letters, digits and '-', ending in
    '-', never the seed lab's "bdl-") or "bds-". Example: ns_prefix() -> "bds-" """
    value = os.environ.get("BGPDOCTOR_SCENARIO_PREFIX") or NS_PREFIX
    if not re.fullmatch(r"[a-z][a-z0-9]{1,5}-", value) or value in ("bdl-", "bdr-", "bdt-"):
        raise LabError(
            f"BGPDOCTOR_SCENARIO_PREFIX={value!r}: want 2-6 letters or digits and '-', like 'bdf-'"
        )
    return value


def scenario_prefix(seed: int, names_seed: int) -> str:
    """Example: scenario_prefix(7, 7) -> "bds-7-"; scenario_prefix(7, 99) -> "bds-7n99-" """
    base = ns_prefix()
    return f"{base}{seed}-" if seed == names_seed else f"{base}{seed}n{names_seed}-"


def generate(
    seed: int, names_seed: int | None = None, base_dir: str | os.PathLike[str] | None = None
) -> Scenario:
    """The scenario of `seed`; names, addresses, ASNs and interface names from `names_seed`.

    Example: generate(4).describe() -> "seed 4 (names 4): 3 sites over an L2 switch namespace; ..."
    """
    names_seed = seed if names_seed is None else names_seed
    shape = _shape(seed)
    # the same on every machine: a network that this machine also uses is harmless, as no link
    # joins a scenario to the root namespace
    d = _Names(random.Random(f"bgpdoctor-scenario-names-{names_seed}"), list(SEED_LAB_NETWORKS))
    base = Path(base_dir or os.environ.get("BGPDOCTOR_SCENARIO_DIR") or DEFAULT_BASE_DIR)
    prefix = scenario_prefix(seed, names_seed)
    hosts: dict[str, HostSpec] = {}
    veths: list[Veth] = []
    bridges: list[Bridge] = []
    sessions: list[SessionSpec] = []

    space = ipaddress.IPv4Network(d.rng.choice(("10.0.0.0/8", "172.16.0.0/12")))
    cluster = d.network(d.rng.choice((16, 16, 18, 20)), space)
    node_asn_shared = d.asn()
    sites = [d.rng.choice(_WORDS) + str(i) for i in range(len(shape.sites))]
    site_lans: list[str] = []
    more_lans: dict[int, list[str]] = {}
    for i, site in enumerate(shape.sites):
        rkey = f"r{i}"
        router = HostSpec(rkey, d.host(), "router", site.router, site=i, asn=d.asn())
        hosts[rkey] = router
        site_asn = node_asn_shared if shape.node_asn == "shared" else d.asn()
        for g, (members, bridged) in enumerate(site.lan_groups()):
            lan = d.network(d.rng.choice((24, 24, 25, 26, 27)))
            if g == 0:
                site_lans.append(str(lan))
            else:
                more_lans.setdefault(i, []).append(str(lan))
            ips = d.hosts_in(lan, len(members) + 1)
            if bridged:
                lan_if = d.ifname(rkey)
                bridges.append(Bridge(rkey, lan_if, ()))
            else:
                lan_if = ""
            ports: list[str] = []
            for slot, j in enumerate(members):
                speaker = site.nodes[j]
                nkey = f"n{i}.{j}"
                node_asn = d.asn() if shape.node_asn == "per-node" else site_asn
                if site.reflector and router.asn is not None:
                    node_asn = router.asn
                node = HostSpec(nkey, d.host(), "node", speaker, site=i, asn=node_asn)
                hosts[nkey] = node
                port = d.ifname(rkey)
                eth = d.ifname(nkey)
                veths.append(Veth(rkey, port, nkey, eth))
                if bridged:
                    ports.append(port)
                else:
                    lan_if = port
                node.addrs.append(Addr(eth, f"{ips[slot + 1]}/{lan.prefixlen}"))
                node.router_id = ips[slot + 1]
                pod = d.network(24 if speaker == "gobgp" else 26, cluster)
                node.pod_cidr = str(pod)
                node.pod_ip = d.hosts_in(pod, 1)[0]
                node.pod_ifs = (d.ifname(nkey), d.ifname(nkey))
                node.addrs.append(Addr(node.pod_ifs[0], f"{node.pod_ip}/32"))
            if bridged:
                bridges[-1] = Bridge(rkey, lan_if, tuple(ports))
            router.addrs.append(Addr(lan_if, f"{ips[0]}/{lan.prefixlen}"))
            for nkey in (f"n{i}.{j}" for j in members):
                hosts[nkey].gateway = Addr(hosts[nkey].addrs[0].ifname, ips[0])
                node = hosts[nkey]
                gobgp = node.speaker == "gobgp"
                sessions.append(
                    SessionSpec(
                        "node",
                        End(
                            nkey,
                            ips[0],
                            node.addrs[0].ip,
                            router.asn or 0,
                            None if gobgp else d.symbol(),
                            False,
                        ),
                        End(
                            rkey,
                            node.addrs[0].ip,
                            ips[0],
                            node.asn or 0,
                            _proto(d, router),
                            gobgp,
                            reflects=site.reflector,
                        ),
                    )
                )
    uplinks = _backbone(d, shape.backbone, hosts, veths, bridges, sessions, shape.transit, shape.backbone_mtu)
    for h in hosts.values():  # a router id is a LAN address, or an address of no interface at all
        if h.role == "router":
            h.router_id = h.addrs[0].ip if d.rng.random() < 0.6 else d.hosts_in(d.network(30), 1)[0]
    bk = d.network(30)
    bk_ips = d.hosts_in(bk, 2)
    backup = Veth("r0", d.ifname("r0"), "r1", d.ifname("r1"))
    hosts["r0"].addrs.append(Addr(backup.a_if, f"{bk_ips[0]}/30"))
    hosts["r1"].addrs.append(Addr(backup.b_if, f"{bk_ips[1]}/30"))
    lb_pools: dict[str, str] = {}
    announcing = [h for h in hosts.values() if h.speaker == "gobgp"]
    if shape.lb_vips and announcing:
        pool = d.network(d.rng.choice((26, 27, 28)))
        lb_pools[d.symbol().replace("_", "-")] = str(pool)
        for h, vip in zip(announcing, d.hosts_in(pool, len(announcing)), strict=True):
            h.lb_vips.append(vip)
    return Scenario(
        seed=seed,
        names_seed=names_seed,
        prefix=prefix,
        run_dir=base / prefix.rstrip("-"),
        backbone=shape.backbone,
        hosts=hosts,
        veths=veths,
        bridges=bridges,
        sessions=sessions,
        uplinks=uplinks,
        backup=backup,
        sites=sites,
        site_lans=site_lans,
        cluster_pod_cidr=str(cluster),
        backbone_mtu=shape.backbone_mtu,
        nodes_learn=shape.nodes_learn,
        more_lans=more_lans,
        lb_pools=lb_pools,
    )


def _proto(d: _Names, h: HostSpec) -> str | None:
    """The BIRD protocol name of a session end; None on FRR (drawn all the same, so the names of a
    scenario do not depend on which routers run FRR)."""
    name = d.symbol()
    return None if h.is_frr else name


def _backbone(
    d: _Names,
    kind: Backbone,
    hosts: dict[str, HostSpec],
    veths: list[Veth],
    bridges: list[Bridge],
    sessions: list[SessionSpec],
    transit_speaker: Speaker,
    mtu: int,
) -> list[Uplink]:
    """Join the site routers: veths (a chain), one L2 switch namespace (full mesh), or a transit router."""
    routers = [k for k, h in hosts.items() if h.role == "router"]
    uplinks: list[Uplink] = []

    def link(a: str, b: str, net: ipaddress.IPv4Network) -> tuple[Addr, Addr]:
        ips = d.hosts_in(net, 2)
        va, vb = d.ifname(a), d.ifname(b)
        veths.append(Veth(a, va, b, vb))
        x, y = Addr(va, f"{ips[0]}/{net.prefixlen}"), Addr(vb, f"{ips[1]}/{net.prefixlen}")
        hosts[a].addrs.append(x)
        hosts[b].addrs.append(y)
        for h, ifname in ((a, va), (b, vb)):
            if mtu != 1500:
                hosts[h].mtu[ifname] = mtu
        return x, y

    def peer(a: str, x: Addr, b: str, y: Addr) -> None:
        ha, hb = hosts[a], hosts[b]
        sessions.append(
            SessionSpec(
                "backbone",
                End(a, y.ip, x.ip, hb.asn or 0, _proto(d, ha), False),
                End(b, x.ip, y.ip, ha.asn or 0, _proto(d, hb), False),
            )
        )

    if kind == "direct":
        for a, b in itertools.pairwise(routers):
            x, y = link(a, b, d.network(d.rng.choice((29, 30))))
            peer(a, x, b, y)
            uplinks.append(Uplink(a, x.ifname, (b, y.ifname), b))
            uplinks.append(Uplink(b, y.ifname, (a, x.ifname), a))
    elif kind == "switch":
        hosts["sw"] = HostSpec("sw", d.host(), "switch", None)
        net = d.network(d.rng.choice((24, 26, 28)))
        ips = d.hosts_in(net, len(routers))
        bridge, ports, addrs = d.ifname("sw"), [], {}
        for r, ip in zip(routers, ips, strict=True):
            rif, port = d.ifname(r), d.ifname("sw")
            veths.append(Veth(r, rif, "sw", port))
            ports.append(port)
            addrs[r] = Addr(rif, f"{ip}/{net.prefixlen}")
            hosts[r].addrs.append(addrs[r])
            if mtu != 1500:
                hosts[r].mtu[rif] = mtu
                hosts["sw"].mtu[port] = mtu
        if mtu != 1500:
            hosts["sw"].mtu[bridge] = mtu
        bridges.append(Bridge("sw", bridge, tuple(ports)))
        for i, a in enumerate(routers):
            for b in routers[i + 1 :]:
                peer(a, addrs[a], b, addrs[b])
        for r, port in zip(routers, ports, strict=True):
            far = next(x for x in routers if x != r)
            uplinks.append(Uplink(r, addrs[r].ifname, ("sw", port), far))
    else:
        hosts["t"] = HostSpec("t", d.host(), "router", transit_speaker, asn=d.asn())
        for i, r in enumerate(routers):
            x, y = link(r, "t", d.network(d.rng.choice((29, 30))))
            peer(r, x, "t", y)
            uplinks.append(Uplink(r, x.ifname, ("t", y.ifname), routers[(i + 1) % len(routers)]))
    return uplinks


# -- faults by role ------------------------------------------------------------------------------
@dataclass(frozen=True)
class FaultPlan:
    """Where one fault goes, chosen by role from the seed.

    `target` is the host key whose state is changed, `culprit` the host key bgpdoctor should
    name, `session` the index of the BGP session concerned (session faults), `pair` two node keys
    whose pod traffic shows the symptom (data-plane faults), `uplink` the index into
    Scenario.uplinks (mtu-blackhole), `value` a number the fault needs (wrong ASN, MTU).
    Example: FaultPlan("asn-mismatch", target="r1", culprit="r1", session=3, value=65011)
    """

    name: str
    target: str
    culprit: str
    session: int | None = None
    pair: tuple[str, str] | None = None
    uplink: int | None = None
    value: int = 0
    tables: tuple[str, ...] = ()  # drawn names: nft table, chains

    @property
    def hosts(self) -> set[str]:
        return {self.target, self.culprit}


def _node_pair_across(sc: Scenario, a_site: int, b_site: int) -> tuple[str, str]:
    return sc.nodes_of(a_site)[0], sc.nodes_of(b_site)[0]


def _site_of(sc: Scenario, router: str) -> int | None:
    return sc.hosts[router].site


def plan_fault(
    sc: Scenario, name: str, avoid: set[str] | frozenset[str] = frozenset(), on_frr: bool = False
) -> FaultPlan | None:
    """Plan `name` on this scenario, away from the hosts in `avoid`; None when the shape has no
    place for it (e.g. node-not-listening without a GoBGP node). `on_frr` puts a fault that can go
    on a router on an FRR one when the shape has one there (else where it would go anyway)."""
    rng = random.Random(f"bgpdoctor-scenario-fault-{sc.seed}-{name}-{sorted(avoid)}")
    names = random.Random(f"bgpdoctor-scenario-fault-names-{sc.names_seed}-{name}")
    table = (f"{names.choice(_WORDS)}_{names.randint(1, 99)}", f"{names.choice(_WORDS)}{names.randint(1, 9)}")
    n_sites = len(sc.sites)

    def other_site(site: int) -> int:
        return rng.choice([s for s in range(n_sites) if s != site])

    def frr_first(options: list[Any], *hosts_of: Callable[[Any], str]) -> list[Any]:
        """The options whose host (each of `hosts_of` tried) runs FRR, when on_frr and any do."""
        mine = [o for o in options if any(sc.hosts[h(o)].is_frr for h in hosts_of)]
        return mine if on_frr and mine else options

    if name in ("ip-forward-disabled", "firewall-blocks-pod-cidr"):
        frr = [r for r in sc.routers if sc.hosts[r].is_frr and r not in avoid]
        if on_frr and frr:
            candidates = frr
        elif name == "ip-forward-disabled" and "t" in sc.hosts and "t" not in avoid:
            candidates = ["t"]
        elif name == "ip-forward-disabled" and sc.backbone == "direct" and n_sites == 3 and "r1" not in avoid:
            candidates = ["r1"]  # the middle of the chain: transit for sites 0 <-> 2
        else:
            candidates = [r for r in sc.routers if r not in avoid]
        if not candidates:
            return None
        router = rng.choice(candidates)
        site = _site_of(sc, router)
        if site is None or (router == "r1" and sc.backbone == "direct" and n_sites == 3):
            pair = _node_pair_across(sc, 0, n_sites - 1)
        elif site in sc.more_lans:  # the router between the site's own two subnets
            pair = (sc.nodes_of(site)[0], sc.nodes_of(site)[-1])
        else:
            pair = _node_pair_across(sc, other_site(site), site)
        return FaultPlan(name, router, router, pair=pair, tables=table)
    if name == "rp-filter-strict":
        options = [(a, b) for a, b in (("r0", "r1"), ("r1", "r0")) if b not in avoid and a not in avoid]
        options = frr_first(options, lambda o: o[1])
        if not options:
            return None
        source, receiver = rng.choice(options)
        src_site, dst_site = _site_of(sc, source), _site_of(sc, receiver)
        assert src_site is not None and dst_site is not None
        return FaultPlan(name, receiver, receiver, pair=_node_pair_across(sc, src_site, dst_site))
    if name in ("bgp-port-filtered", "node-not-listening"):
        found = [
            i
            for i, s in enumerate(sc.sessions)
            if s.kind == "node" and sc.hosts[s.a.host].speaker == "gobgp" and not set(s.hosts) & avoid
        ]
        found = frr_first(found, lambda i: sc.sessions[i].b.host)
        if not found:
            return None
        i = rng.choice(found)
        node, router = sc.sessions[i].hosts
        culprit = router if name == "bgp-port-filtered" else node
        return FaultPlan(name, router, culprit, session=i, tables=table)
    if name == "asn-mismatch":
        found = [i for i, s in enumerate(sc.sessions) if not set(s.hosts) & avoid]
        found = frr_first(found, lambda i: sc.sessions[i].a.host, lambda i: sc.sessions[i].b.host)
        if not found:
            return None
        i = rng.choice(found)
        ends = frr_first(list(sc.sessions[i].hosts), lambda h: h)
        wrong_end = rng.choice(ends)
        return FaultPlan(name, wrong_end, wrong_end, session=i, value=_unused_asn(sc, names))
    if name == "mtu-blackhole":
        found = [i for i, u in enumerate(sc.uplinks) if u.router not in avoid and u.far[0] not in avoid]
        found = frr_first(found, lambda i: sc.uplinks[i].router)
        if not found:
            return None
        i = rng.choice(found)
        up = sc.uplinks[i]
        a_site, b_site = _site_of(sc, up.router), _site_of(sc, up.across)
        assert a_site is not None and b_site is not None
        mtu = _shape(sc.seed).mtu_fault
        return FaultPlan(
            name, up.router, up.router, uplink=i, pair=_node_pair_across(sc, a_site, b_site), value=mtu,
            tables=table,
        )  # fmt: skip
    if name == "lb-pool-in-node-subnet":
        # a GoBGP node announces a LoadBalancer VIP drawn from its own site LAN, to a BIRD router
        found = [
            i
            for i, s in enumerate(sc.sessions)
            if s.kind == "node"
            and sc.hosts[s.a.host].speaker == "gobgp"
            and sc.hosts[s.b.host].is_bird
            and not set(s.hosts) & avoid
        ]
        if not found:
            return None
        i = rng.choice(found)
        node, router = sc.sessions[i].hosts
        return FaultPlan(name, node, node, session=i, value=int(_free_address(sc, node)))
    if name == "bird-ebgp-no-policy":
        # RFC 8212 on FRR: one eBGP neighbor of an FRR router loses its route-maps (BIRD 2 refuses
        # such a config outright, and BIRD 1.6 has no RFC 8212)
        ends = [
            (i, end.host)
            for i, s in enumerate(sc.sessions)
            for end in (s.a, s.b)
            # a reflector's session to its node is iBGP, which RFC 8212 leaves alone
            if sc.hosts[end.host].is_frr and not end.reflects and not set(s.hosts) & avoid
        ]
        if not ends:
            return None
        i, router = rng.choice(ends)
        return FaultPlan(name, router, router, session=i)
    if name == "ibgp-no-route-reflection":
        # a reflecting site router stops reflecting (`rr client` off on every node session): a BIRD
        # node of its site no longer learns the other nodes' pod CIDRs (its default route still
        # carries the traffic)
        reflecting = []
        for r in sc.site_routers:
            site = sc.hosts[r].site
            assert site is not None
            nodes = sc.nodes_of(site)
            if not sc.reflects(r) or sc.hosts[r].is_frr or len(nodes) < 2 or {r, *nodes} & avoid:
                continue
            reflecting += [
                (r, n, m) for n in nodes if sc.hosts[n].speaker == "bird1" for m in nodes if m != n
            ]
        if not reflecting:
            return None
        router, source, dest = rng.choice(reflecting)
        return FaultPlan(name, router, router, pair=(source, dest))
    raise ValueError(f"unknown scenario fault {name!r} (known: {', '.join(FAULTS)})")


def _free_address(sc: Scenario, node: str) -> ipaddress.IPv4Address:
    """The highest address of the node's LAN that no host holds (a VIP drawn from the node subnet)."""
    lan = ipaddress.IPv4Interface(sc.hosts[node].addrs[0].cidr).network
    used = {ipaddress.IPv4Interface(a.cidr).ip for h in sc.hosts.values() for a in h.addrs}
    return next(ip for ip in reversed(list(lan.hosts())) if ip not in used)


def _unused_asn(sc: Scenario, rng: random.Random) -> int:
    used = {h.asn for h in sc.hosts.values()}
    while True:
        value = rng.choice((rng.randint(64512, 65534), rng.randint(4200000000, 4294967294)))
        if value not in used:
            return value


def applicable_faults(sc: Scenario) -> list[str]:
    """The faults this scenario's shape has a place for, in FAULTS order."""
    return [f for f in FAULTS if plan_fault(sc, f) is not None]


def independent_pair(sc: Scenario) -> tuple[FaultPlan, FaultPlan] | None:
    """Two faults on different hosts and segments, both chosen from the seed.

    Example: independent_pair(generate(5)) -> (FaultPlan("asn-mismatch", ...),
    FaultPlan("firewall-blocks-pod-cidr", ...))
    """
    rng = random.Random(f"bgpdoctor-scenario-pair-{sc.seed}")
    names = applicable_faults(sc)
    rng.shuffle(names)
    for i, first_name in enumerate(names):
        first = plan_fault(sc, first_name)
        assert first is not None
        avoid = set(first.hosts)
        if first.session is not None:
            avoid |= set(sc.sessions[first.session].hosts)
        for second_name in names[i + 1 :]:
            second = plan_fault(sc, second_name, avoid)
            if second is not None:
                return first, second
    return None


def faults_for_seed(sc: Scenario, count: int) -> list[str]:
    """`count` applicable faults, rotating through FAULTS with the seed so a run over many seeds
    covers every fault about equally. Example: faults_for_seed(generate(3), 2) -> ["asn-mismatch", ...]"""
    usable = applicable_faults(sc)
    pool = FAULTS if sc.seed >= EXTENDED_FROM else CLASSIC_FAULTS
    start = (sc.seed * count) % len(pool)
    ordered = [pool[(start + i) % len(pool)] for i in range(len(pool))]
    return [f for f in ordered if f in usable][:count]


# -- the inventory ---------------------------------------------------------------------------------
def build_inventory(sc: Scenario) -> dict[str, Any]:
    """The bgpdoctor inventory of the scenario, as a user would write it (every host over netns).

    Example: build_inventory(generate(3))["hosts"]["heron-4"]["peers"][0] ->
    {"host": "kelp-12", "address": "10.77.4.20", "asn": 64877, "name": "vale_311", "passive": True}
    """
    hosts: dict[str, Any] = {}
    for key, h in sc.hosts.items():
        if h.role == "switch":
            continue  # an L2 device without an address: nothing bgpdoctor could log into
        entry: dict[str, Any] = {
            "role": h.role,
            "site": sc.sites[h.site] if h.site is not None else "transit",
            "speaker": h.speaker,
            "connect": {"netns": sc.ns(key)},
            "asn": h.asn,
            "router_id": h.router_id,
            "addresses": [a.ip for a in h.addrs],
        }
        if h.is_bird:
            entry["control_socket"] = str(sc.bird_socket(key))
        elif h.is_frr:
            entry["control_socket"] = str(sc.frr_dir(key))
        if h.role == "node":
            entry["pod_cidrs"] = [h.pod_cidr]
            entry["pod_probe_ip"] = h.pod_ip
            entry["internal_ip"] = h.addrs[0].ip
            entry["listens"] = h.speaker != "gobgp"
            if h.speaker == "gobgp":
                entry["gobgp_api"] = "127.0.0.1:50051"
            if h.lb_vips:
                entry["lb_vips"] = list(h.lb_vips)
        peers = []
        for s in sc.sessions_of(key):
            mine, other = s.end(key), s.other(key)
            peer: dict[str, Any] = {
                "host": sc.name(other.host),
                "address": mine.neighbor,
                "asn": mine.peer_asn,
            }
            if mine.proto:
                peer["name"] = mine.proto
            peer["passive"] = mine.passive
            if mine.reflects:
                peer["route_reflector_client"] = True
                peer["next_hop_self"] = True
            peers.append(peer)
        entry["peers"] = peers
        hosts[h.name] = entry
    sites: dict[str, Any] = {}
    for i, name in enumerate(sc.sites):
        sites[name] = {"description": f"generated site {i}", "lan": sc.site_lans[i]}
        if i in sc.more_lans:
            sites[name]["lans"] = list(sc.more_lans[i])
    if "t" in sc.hosts:
        sites["transit"] = {"description": "the transit router between the sites"}
    out: dict[str, Any] = {"version": 1, "sites": sites, "hosts": hosts, "pod_cidr": sc.cluster_pod_cidr}
    if sc.lb_pools:
        out["lb_pools"] = {name: {"cidr": cidr} for name, cidr in sc.lb_pools.items()}
    return out


def render_inventory(sc: Scenario) -> str:
    import yaml

    head = f"# bgpdoctor inventory of a generated scenario. {sc.describe()}\n"
    return head + yaml.safe_dump(build_inventory(sc), sort_keys=False, default_flow_style=False, width=110)


def birdcl_wrapper() -> str:
    """`birdcl` for the BIRD 1.6 hosts: Calico ships BIRD 1.6's client under this name."""
    return f'#!/bin/sh\nexec {BIRD16.removesuffix("bird")}birdc "$@"\n'
