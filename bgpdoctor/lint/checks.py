"""The checks: every BGP session from both ends (like Batfish's session compatibility), then the
per-platform mistakes (RFC 8212, kernel export, advertisements, selectors, LB pools, firewall).

Where the files tell a fact a playbook matches on (asn_mismatch, md5_rejecting_host,
unconfigured_end, refused_by_non_listener, ttl_security_mismatch, ebgp_policy_missing,
lb_pool_overlaps, auto_direct_routes_across_l3, mesh_with_reflectors, unselected_nodes,
nat_culprit, source_matches, multihop_ok, bird_routes_in_fib, ibgp_not_reflected), the finding is
the judge's conclusion on a subject carrying it (ConfiguredNetwork.conclude,
bgpdoctor.lint.judging). A fact is stated only with the value a live run would observe on these
files, where the files decide it: a session they keep down is `established: false` (KEPT_DOWN),
a kernel protocol exporting nothing is `bird_routes_in_fib: false`; what they leave open stays
unknown. No finding is decided here: the firewall zones that accept no pod CIDR are a path whose
ping the files drop (DROPPED), two passive ends are `neither_end_dials`, a design needing pod routes
that advertises none is `advertises_pod_cidrs: false`, an unadvertised LB pool is
`lb_advert_missing`, and a selector matching no node is judged by `unselected_nodes`."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, collapse_addresses
from typing import Any

from bgpdoctor.drivers import driver_for
from bgpdoctor.engine.rules import PlaybookDef, load_playbooks, subject_kinds
from bgpdoctor.engine.subject import Subject
from bgpdoctor.engine.vips import suggest_pool
from bgpdoctor.intent import Loc, PeerIntent, end_to_dial, located
from bgpdoctor.kube.selectors import LabelSelector, SelectorError, calico_selector_matches
from bgpdoctor.kube.view import CiliumClusterConfig, CiliumPeeringPolicy, KubeNode
from bgpdoctor.lint.bird import AS_TRANS, UNKNOWN, BirdConfig, BirdProto
from bgpdoctor.lint.cluster_intent import check_calico_mesh_reflectors
from bgpdoctor.lint.frr import FrrConfig, ebgp_without_policy
from bgpdoctor.lint.judging import Saying, conclude, lint_subject
from bgpdoctor.lint.k8s import CiliumBgpConfig, K8sInputs, node_ips, node_subnets, src_at, src_loc
from bgpdoctor.lint.loader import Inputs
from bgpdoctor.lint.model import InputProblem, LintFinding, Severity, Speaker, UnknownRootCause
from bgpdoctor.lint.uci import UciFirewall, UciNetwork

ASSUMED_PREFIX = 24
MISSING_END = "one end missing"
AMBIGUOUS = "address claimed by more than one config"


@dataclass
class ConfiguredNetwork:
    """The network as the configuration files describe it: the BGP speakers, their addresses,
    interfaces, routes and firewalls, and the findings and input problems lint collects on it.

    Addresses and subnets are indexed on first use (lookups are then O(1), so lint time grows
    linearly with the number of configs); addresses learned later go through claim().
    """

    speakers: list[Speaker] = field(default_factory=list)
    routes: dict[int, list[tuple[IPv4Network, IPv4Address | None, str | None]]] = field(default_factory=dict)
    firewall: dict[int, tuple[UciFirewall, UciNetwork]] = field(default_factory=dict)
    bird: dict[int, BirdConfig] = field(default_factory=dict)
    unselected: dict[IPv4Address, KubeNode] = field(default_factory=dict)
    findings: list[LintFinding] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    sessions_checked: int = 0
    unchecked: dict[str, int] = field(default_factory=dict)  # reason -> peers lint could not pair
    _owners: dict[IPv4Address, Speaker] | None = None
    ambiguous: dict[IPv4Address, list[Speaker]] = field(default_factory=dict)
    _subnets: dict[int, dict[IPv4Network, int]] | None = None  # prefixlen -> subnet -> first position
    _seen: set[tuple[str, str, int, str]] = field(default_factory=set)
    _peer_index: dict[int, dict[IPv4Address, list[tuple[int, PeerIntent]]]] = field(default_factory=dict)
    # the root causes; empty: the installed playbooks, read on first use
    playbooks: list[PlaybookDef] = field(default_factory=list)
    _by_kind: dict[str, list[PlaybookDef]] | None = None  # subject kind -> playbooks, judge's order
    _ids: set[str] = field(default_factory=set)

    def catalogue(self) -> dict[str, list[PlaybookDef]]:
        if self._by_kind is None:
            self.playbooks = self.playbooks or load_playbooks()
            self._by_kind = {}
            self._ids = {pb.id for pb in self.playbooks}
            for pb in sorted(self.playbooks, key=lambda pb: (pb.priority, pb.id)):
                for kind in subject_kinds(pb):
                    self._by_kind.setdefault(kind, []).append(pb)
        return self._by_kind

    def conclude(self, subject: Subject, at: Loc | None, said: dict[str, Saying]) -> None:
        """A finding for every playbook whose `match` holds on what the files say (the subject),
        worded by lint where it knows the cause (said), else by the playbook's summary at `at`."""
        for c in conclude(self.catalogue().get(subject.kind, []), subject, at, said):
            s = c.saying
            self.add(c.root_cause, s.severity, s.loc, s.message, s.other, s.facts)

    def owner(self, addr: IPv4Address | None) -> Speaker | None:
        """The speaker that owns addr; None when no config or more than one claims it (ambiguous:
        which of them is live cannot be told from the files)."""
        if self._owners is None:
            self._owners = {}
            for s in self.speakers:
                for a in s.addresses:
                    first = self._owners.setdefault(a, s)
                    if first is not s and not _same_host(first, s, a):
                        claims = self.ambiguous.setdefault(a, [first])
                        if s not in claims:
                            claims.append(s)
            for a in self.ambiguous:
                del self._owners[a]
        return self._owners.get(addr) if addr is not None else None

    def claim(self, s: Speaker, addr: IPv4Address) -> None:
        """Give s an address learned from the other ends (infer_addresses)."""
        if addr in self.ambiguous:
            return
        s.addresses[addr] = None
        if self._owners is not None:
            self._owners.setdefault(addr, s)

    def subnets_of(self, a: IPv4Address) -> list[IPv4Network]:
        """Known interface subnets holding a, in input order."""
        if self._subnets is None:
            self._subnets = {}
            pos = 0
            for s in self.speakers:
                for n, _, _ in s.subnets:
                    self._subnets.setdefault(n.prefixlen, {}).setdefault(n, pos)
                    pos += 1
        found = []
        for length, nets in self._subnets.items():
            n = IPv4Network((a, length), strict=False)
            if n in nets:
                found.append((nets[n], n))
        return [n for _, n in sorted(found)]

    def _peers_at(self, r: Speaker, addrs: Iterable[IPv4Address]) -> list[tuple[int, PeerIntent]]:
        index = self._peer_index.get(id(r))
        if index is None:
            index = self._peer_index[id(r)] = {}
            for i, q in enumerate(r.peers):
                if q.address_v4 is not None:
                    index.setdefault(q.address_v4, []).append((i, q))
        return sorted((iq for a in addrs for iq in index.get(a, ())), key=lambda iq: iq[0])

    def resolve(self, addr: IPv4Address, asker: Speaker) -> Speaker | None:
        """The owner of addr as seen from asker: of several configs claiming it, the only one with
        a peer for asker; None when that is not exactly one (the address stays ambiguous)."""
        owner = self.owner(addr)
        if owner is not None or addr not in self.ambiguous:
            return owner

        def faces(c: Speaker) -> bool:
            ranged = (q.peer_range for q in c.peers if q.peer_range is not None)
            return bool(self._peers_at(c, asker.addresses)) or any(
                a in n for n in ranged for a in asker.addresses
            )

        facing = [c for c in self.ambiguous[addr] if c is not asker and faces(c)]
        return facing[0] if len(facing) == 1 else None

    def peers_toward(self, r: Speaker, e: Speaker) -> list[PeerIntent]:
        """r's peers whose address e owns, in r's order; then r's dynamic peers (`neighbor range`)
        whose range holds one of e's addresses."""
        mine = [a for a in e.addresses if a not in self.ambiguous or self.resolve(a, r) is e]
        found = self._peers_at(r, mine)
        if found:  # a configured neighbor takes precedence over a range holding it
            return [q for _, q in found]
        return [q for q in r.peers if q.peer_range is not None and any(a in q.peer_range for a in mine)]

    def add(
        self,
        cause: str,
        sev: Severity,
        loc: Loc | None,
        msg: str,
        other: Iterable[Loc | None] = (),
        facts: dict[str, Any] | None = None,
    ) -> None:
        """A finding; ``facts`` are what the files say under the run's fact names (the playbook's
        fixes are rendered with them)."""
        self.catalogue()
        if cause not in self._ids:
            raise UnknownRootCause(f"lint names root cause {cause!r}, which is not a playbook")
        at = loc or Loc("?", 0)
        others = [(o.file, o.line) for o in other if o is not None and o != at]
        f = LintFinding(cause, sev, at.file, at.line, msg, list(dict.fromkeys(others)), dict(facts or {}))
        key = (f.root_cause, f.file, f.line, f.message)
        if key not in self._seen:
            self._seen.add(key)
            self.findings.append(f)

    def selects(self, selector: LabelSelector | None, labels: dict[str, str], where: Loc | None) -> bool:
        """Whether a Kubernetes label selector (None: all) selects labels; one it cannot evaluate
        selects nothing and is an input problem (the API server would have refused it)."""
        try:
            return selector is None or selector.matches(labels)
        except SelectorError as exc:
            self.problem_once(where, f"label selector: {exc}")
            return False

    def problem_once(self, where: Loc | None, message: str) -> None:
        """An input problem (error) about one object, however many nodes it is judged for."""
        here = where or Loc("?", 0)
        problem = InputProblem(here.file, here.line, message)
        if problem not in self.problems:
            self.problems.append(problem)


def _same_host(a: Speaker, b: Speaker, addr: IPv4Address) -> bool:
    """Two claims of addr that are one host: one Node object read as both a Cilium and a Calico
    speaker, or BIRD 1.x's bird.conf and bird6.conf side by side."""
    if a.addresses.get(addr) == b.addresses.get(addr):
        return True
    return (
        a.kind.startswith("bird") and b.kind.startswith("bird")
        and os.path.dirname(a.loc.file) == os.path.dirname(b.loc.file)
    )  # fmt: skip


def same_l2(w: ConfiguredNetwork, a: IPv4Address, b: IPv4Address) -> tuple[bool, bool]:
    """(on one subnet, assumed): known interface subnets decide; else a /24 is assumed."""
    having_a = w.subnets_of(a)
    if having_a:
        return any(b in n for n in having_a), False
    if w.subnets_of(b):
        return False, False
    return IPv4Network(f"{a}/{ASSUMED_PREFIX}", strict=False) == IPv4Network(
        f"{b}/{ASSUMED_PREFIX}", strict=False
    ), True


def _l2_key(w: ConfiguredNetwork, a: IPv4Address) -> tuple[IPv4Network, bool]:
    nets = w.subnets_of(a)
    if nets:
        return nets[0], False
    return IPv4Network(f"{a}/{ASSUMED_PREFIX}", strict=False), True


def source_toward(w: ConfiguredNetwork, s: Speaker, p: PeerIntent) -> tuple[IPv4Address | None, str | None]:
    """The address (and interface) s uses toward p.address_v4: explicit, connected, routed, only one."""
    d = p.address_v4
    if d is None:
        return None, None
    iface = egress_iface(w, s, d)
    if isinstance(p.local_address, IPv4Address):
        return p.local_address, iface
    for addr in s.addresses:
        for n, name, _ in s.subnets:
            if addr in n and d in n:
                return addr, name
    if not s.subnets:
        for addr in s.addresses:
            if same_l2(w, addr, d) == (True, True):
                return addr, iface
    owner = w.owner(d)
    if owner is not None and owner is not s:
        # a peer whose router shares a known subnet with us is reached over that link
        shared = [a for a in s.addresses if any(same_l2(w, a, b) == (True, False) for b in owner.addresses)]
        if len(shared) == 1:
            return shared[0], iface
    if iface is not None:
        for addr in s.addresses:
            if any(addr in n and name == iface for n, name, _ in s.subnets):
                return addr, iface
    if len(s.addresses) == 1:
        return next(iter(s.addresses)), iface
    return None, iface


def egress_iface(w: ConfiguredNetwork, s: Speaker, d: IPv4Address) -> str | None:
    for n, name, _ in s.subnets:
        if d in n:
            return name
    best: tuple[int, IPv4Address | None, str | None] | None = None
    for net, via, iface in w.routes.get(id(s), []):
        if d in net and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, via, iface)
    if best is None:
        return None
    if best[2]:
        return best[2]
    via = best[1]
    for n, name, _ in s.subnets:
        if via is not None and via in n:
            return name
    return None


# -- building speakers -----------------------------------------------------------------------------
def _bird_name(cfg: BirdConfig) -> str:
    base = os.path.basename(cfg.file)
    parent = os.path.basename(os.path.dirname(os.path.abspath(cfg.file)))
    name = parent if base.startswith("bird") and parent not in ("etc", "bird", "config", "") else base
    return f"{name} (BIRD {'1.x or 2' if cfg.version == UNKNOWN else cfg.version})"


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.split(".")[0]) if "." not in text else None
    except ValueError:
        return None


def _v4(text: str | None) -> IPv4Address | None:
    try:
        return IPv4Address(text) if text else None
    except ValueError:
        return None


def _bird_peer(p: BirdProto) -> PeerIntent:
    st = p.settings
    nb = st.get("neighbor")
    local_as = _int(st["local_as"][0]) if "local_as" in st else None
    nas = st.get("neighbor_as")
    peer_as = local_as if nas and nas[0] == "internal" else _int(nas[0]) if nas else None
    src = st.get("source_address") or st.get("local_addr")
    mh = st.get("multihop")
    peer_addr = _v4(nb[0]) if nb else None
    unpaired, detail = None, ""
    peer_range: IPv4Network | None = None
    rng = st.get("neighbor_range")
    if nb and peer_addr is None:
        unpaired, detail = "IPv6", f"neighbor {nb[0]}"
    elif rng is not None:
        try:
            peer_range = IPv4Network(rng[0], strict=False)
        except ValueError:
            unpaired, detail = "IPv6", f"neighbor range {rng[0]}"

    def said(key: str) -> Loc | None:
        return st[key][1] if key in st else None

    def switch(key: str) -> bool | None:  # a BIRD on/off option: None when the file does not say
        return st[key][0] == "1" if key in st else None

    return PeerIntent(
        name=p.name, loc=nb[1] if nb else rng[1] if rng else p.loc, address=peer_addr, asn=peer_as,
        local_asn=local_as, local_address=_v4(src[0]) if src else None,
        multihop=(_int(mh[0]) or 64) if mh else None, passive=True if rng is not None else switch("passive"),
        md5=True if "password" in st else None, route_reflector_client=switch("rr_client"),
        ttl_security_hops=_bird_gtsm_hops(st), peer_range=peer_range, as4=switch("as4"),
        unpaired=unpaired, unpaired_detail=detail,
        origins=located(
            address=nb[1] if nb else None, name=p.loc, peer_range=rng[1] if rng else None,
            asn=nas[1] if nas else None, local_asn=said("local_as"), local_address=src[1] if src else None,
            multihop=mh[1] if mh else None, passive=said("passive"), md5=said("password"),
            ttl_security_hops=said("ttl_security"), route_reflector_client=said("rr_client"),
            as4=said("as4"), config=p.loc,
        ),
    )  # fmt: skip


def _bird_gtsm_hops(st: dict[str, tuple[str, Loc]]) -> int | None:
    """BIRD's `ttl security on` accepts TTL 255 from a direct peer, 256 - N with `multihop N`."""
    if st.get("ttl_security", ("0", None))[0] != "1":
        return None
    mh = st.get("multihop")
    return (_int(mh[0]) or 64) if mh else 1


class _Firewalls:
    """The firewall file for a network file: one with a zone on its interfaces, nearest in the
    directory tree (the first of equals). Indexed by directory so the common case, both in one
    folder, costs O(1) however many routers there are."""

    def __init__(self, firewalls: list[UciFirewall]) -> None:
        self.firewalls = firewalls
        self.names = [{n for z in f.zones.values() for n in z.networks} for f in firewalls]
        self.under: dict[str, list[int]] = {}
        for i, f in enumerate(firewalls):
            for d in _ancestors(f.file):
                self.under.setdefault(d, []).append(i)

    def nearest(self, net: UciNetwork) -> UciFirewall | None:
        names = {i.name for i in net.interfaces}
        seen = 0
        for d in _ancestors(net.file):
            candidates = self.under.get(d, [])
            if len(candidates) == seen:
                continue
            seen = len(candidates)
            matching = [i for i in candidates if self.names[i] & names]
            if matching:
                return self.firewalls[min(matching)]
        return None


def _ancestors(path: str) -> list[str]:
    """Directories holding path, deepest first. Example: "/a/b/f" -> ["/a/b", "/a", "/"]"""
    out = []
    d = os.path.dirname(os.path.abspath(path))
    while True:
        out.append(d)
        parent = os.path.dirname(d)
        if parent == d:
            return out
        d = parent


def build_network(inp: Inputs, playbooks: list[PlaybookDef] | None = None) -> ConfiguredNetwork:
    w = ConfiguredNetwork(playbooks=list(playbooks or []))
    k = inp.k8s
    networks: dict[IPv4Address, int] = {}
    for n, uci_net in enumerate(inp.networks):
        for iface in uci_net.interfaces:
            for a, _ in iface.addresses:
                networks.setdefault(a.ip, n)
    firewalls = _Firewalls(inp.firewalls)
    for cfg in inp.birds:
        kind = "bird" if cfg.version == UNKNOWN else f"bird{cfg.version.replace('.', '')}"
        sp = Speaker(kind, _bird_name(cfg), Loc(cfg.file, 1))
        if cfg.router_id is not None:
            sp.addresses[cfg.router_id] = cfg.router_id_loc
        for p in cfg.bgp():
            peer = _bird_peer(p)
            sp.peers.append(peer)
            if isinstance(peer.local_address, IPv4Address):
                sp.addresses.setdefault(peer.local_address, peer.origin("local_address"))
        routes = w.routes.setdefault(id(sp), [])
        for proto in cfg.protocols:
            routes += [(net, via, None) for net, via, _ in proto.static_routes]
        hits = [networks[a] for a in sp.addresses if a in networks]
        net = inp.networks[min(hits)] if hits else None
        if net is not None:
            for i in net.interfaces:
                for a, loc in i.addresses:
                    sp.addresses.setdefault(a.ip, loc)
                    if a.network.prefixlen < 32:
                        sp.subnets.append((a.network, i.name, loc))
            routes += [(dst, gw, iface or None) for dst, iface, gw, _ in net.routes]
            fw = firewalls.nearest(net)
            if fw is not None:
                w.firewall[id(sp)] = (fw, net)
        w.bird[id(sp)] = cfg
        w.speakers.append(sp)
    w.speakers += inp.gobgps
    w.speakers += [c.speaker for c in inp.frrs]
    _cilium_speakers(w, k)
    _calico_speakers(w, k)
    return w


def _host_ip(text: str | None) -> IPv4Address | None:
    """An IPv4 address written alone or with a prefix length ("10.0.0.1/32"); None otherwise."""
    try:
        return IPv4Interface(text).ip if text else None
    except ValueError:
        return None


def _kind_of(c: CiliumBgpConfig) -> str:
    return "CiliumBGPClusterConfig" if isinstance(c, CiliumClusterConfig) else "CiliumBGPPeeringPolicy"


def _documents(configs: list[CiliumBgpConfig]) -> list[list[CiliumBgpConfig]]:
    """The configs grouped by the object that states them (a policy has one per virtual router)."""
    groups: dict[tuple[str, str, Loc], list[CiliumBgpConfig]] = {}
    for c in configs:
        groups.setdefault((_kind_of(c), c.name, src_loc(c.source)), []).append(c)
    return list(groups.values())


def _cilium_peers(k: K8sInputs, c: CiliumBgpConfig, node: KubeNode | None) -> list[PeerIntent]:
    """The sessions a Cilium config gives a node, with its CiliumBGPPeerConfig and override applied."""
    if isinstance(c, CiliumPeeringPolicy):
        return [
            PeerIntent(
                name=n.address or "?", loc=src_loc(n.source), address=_host_ip(n.address), asn=n.asn,
                local_asn=c.local_asn, multihop=n.multihop if n.multihop and n.multihop > 1 else None,
                md5=True if n.auth_secret is not None else None,
                origins=located(asn=src_loc(n.source, "asn"), local_asn=src_at(c.source, "local_asn")),
            )
            for n in c.neighbors
        ]  # fmt: skip
    override = k.overrides.get(node.name) if node is not None else None
    peers = []
    for inst in c.instances:
        for cp in inst.peers:
            pc = k.peer_configs.get(cp.peer_config or "")
            local_addr = override.local_addresses.get((inst.name, cp.name)) if override else None
            local_asn = override.local_asns.get(inst.name) if override else None
            local_addr_loc = (
                src_at(override.source, f"local_address.{inst.name}.{cp.name}") if override else None
            )
            mh = pc.ebgp_multihop if pc else None
            peers.append(
                PeerIntent(
                    name=cp.name or "?", loc=src_loc(cp.source), address=_host_ip(cp.address),
                    asn=cp.asn, local_asn=local_asn or inst.local_asn, local_address=_host_ip(local_addr),
                    multihop=mh if mh and mh > 1 else None,
                    md5=True if pc is not None and pc.auth_secret is not None else None,
                    origins=located(
                        asn=src_loc(cp.source, "asn"), local_asn=src_at(inst.source, "local_asn"),
                        local_address=local_addr_loc,
                        multihop=src_at(pc.source, "ebgp_multihop") if pc else None,
                        md5=src_at(pc.source, "auth_secret") if pc else None,
                        config=src_loc(pc.source) if pc else None,
                    ),
                )
            )  # fmt: skip
    return peers


def _cilium_speakers(w: ConfiguredNetwork, k: K8sInputs) -> None:
    configs = k.bgp_configs()
    if not configs:
        return
    targets: list[tuple[str, Loc, KubeNode | None, list[CiliumBgpConfig]]] = []
    if k.nodes:
        for n in k.nodes:
            ccs = [
                c for c in configs if w.selects(c.node_selector, n.labels, src_at(c.source, "node_selector"))
            ]
            if ccs:
                targets.append((n.name, src_loc(n.source, "name"), n, ccs))
            else:
                for a, _ in node_ips(n):
                    w.unselected[a] = n
    else:
        targets = [
            (f"nodes selected by {doc[0].name}", src_loc(doc[0].source), None, doc)
            for doc in _documents(configs)
        ]
    for name, where, node, ccs in targets:
        sp = Speaker("cilium", f"{name} (Cilium)", where, listens=False, is_node=True)
        if node is not None:
            sp.addresses.update(node_ips(node))
            sp.subnets += [(n, "node", nloc) for n, nloc in node_subnets(node)]
        for cc in ccs:
            sp.peers += _cilium_peers(k, cc, node)
        w.speakers.append(sp)


def _calico_speakers(w: ConfiguredNetwork, k: K8sInputs) -> None:
    if not (k.calico_present and k.nodes):
        return
    calico_asn = k.calico_asn()
    default_asn = calico_asn[0] if calico_asn else 64512
    selected: dict[str, list[KubeNode]] = {}
    for n in k.nodes:
        sp = Speaker(
            "calico",
            f"{n.name} (Calico)",
            src_loc(n.source, "name"),
            is_node=True,
            asn=n.calico_asn or default_asn,
        )
        sp.addresses.update(node_ips(n))
        sp.subnets += [(net, "node", nloc) for net, nloc in node_subnets(n)]
        for bp in k.calico_peers:
            if bp.node is not None:
                ok = bp.node == n.name
            elif bp.node_selector is not None:
                try:
                    ok = calico_selector_matches(bp.node_selector, n.labels)
                except SelectorError as exc:
                    w.problem_once(src_loc(bp.source, "node_selector"), f"Calico selector: {exc}")
                    ok = False
            else:
                ok = True
            if not ok:
                continue
            selected.setdefault(bp.name, []).append(n)
            sp.peers.append(
                PeerIntent(
                    name=bp.name, loc=src_loc(bp.source), address=_host_ip(bp.peer_address),
                    asn=bp.asn or sp.asn, local_asn=sp.asn, multihop=255,
                    md5=True if bp.has_password else None, ttl_security_hops=bp.ttl_security or None,
                    origins=located(
                        asn=src_loc(bp.source, "asn"), local_asn=calico_asn[1] if calico_asn else None,
                        md5=src_at(bp.source, "password"),
                        ttl_security_hops=src_at(bp.source, "ttl_security") or src_loc(bp.source),
                    ),
                )
            )  # fmt: skip
        w.speakers.append(sp)
    # with the node-to-node mesh off, a node no BGPPeer selects has no BGP at all (a live run's fact)
    mesh = k.calico_mesh()
    mesh_off = mesh is not None and not mesh[0]
    peered = {n.name for ns in selected.values() for n in ns}
    alone = sorted(n.name for n in k.nodes if n.name not in peered) if mesh_off else []
    selectors = "; ".join(f"{bp.name}: {bp.node_selector or f'node == {bp.node}'}" for bp in k.calico_peers
                          if bp.node_selector is not None or bp.node is not None)  # fmt: skip
    for bp in k.calico_peers:
        if bp.name not in selected and (bp.node_selector is not None or bp.node is not None):
            what = f"node {bp.node!r}" if bp.node else f"nodeSelector {bp.node_selector!r}"
            _selects_no_node(w, src_at(bp.source, "node_selector") or src_loc(bp.source),
                  f"Calico BGPPeer {bp.name}: {what} matches none of the {len(k.nodes)} nodes, so "
                  f"no node peers "
                  f"with {_host_ip(bp.peer_address)}", [], alone, selectors,
                  "every node has another BGPPeer" if mesh_off
                  else "the node-to-node mesh peers every node")  # fmt: skip


# -- session checks --------------------------------------------------------------------------------
def _kind(s: Speaker) -> str:
    return {"cilium": "Cilium", "calico": "Calico", "gobgp": "GoBGP"}.get(s.kind, "BIRD")


def _where(loc: Loc | None) -> str:
    return f"{loc}" if loc else "?"


def _nat(
    w: ConfiguredNetwork, s: Speaker, p: PeerIntent, src: IPv4Address | None
) -> tuple[IPv4Address, Loc] | None:
    """(address after masquerade, masq line) if s's firewall rewrites src on the way to p."""
    fwnet = w.firewall.get(id(s))
    if fwnet is None or src is None or p.address_v4 is None:
        return None
    fw, net = fwnet
    iface = egress_iface(w, s, p.address_v4)
    if iface is None:
        return None
    ui = next((i for i in net.interfaces if i.name == iface), None)
    if ui is None or not ui.addresses:
        return None
    for z in fw.zones.values():
        if z.masq and (iface in z.networks or (ui.device and ui.device in z.devices)):
            out = ui.addresses[0][0].ip
            if out != src:
                return out, z.masq_loc or z.loc
    return None


def _known(facts: dict[str, Any]) -> dict[str, Any]:
    """Only what the files state: a value they leave open stays out, so no fix renders with a guess."""
    return {k: str(v) if isinstance(v, IPv4Address) else v for k, v in facts.items() if v is not None}


FIX_PLATFORMS = "fix_platforms"  # a finding's facts may limit its fixes to these platforms


def _platforms(s: Speaker) -> list[str]:
    """The fix platforms for a speaker's own configuration, closest first: its daemon's
    `fix_syntaxes`, as a live run has them. A BIRD file whose version is unknown: BIRD 2's, then 1's.
    Example: a BIRD 1.6 file -> ["bird1", "bird2"] (1.6 takes BIRD 2's lines when it has none of its own)."""
    if s.kind == "bird":
        return ["bird2", "bird1"]
    driver = driver_for({"bird16": "bird1"}.get(s.kind, s.kind))
    return list(driver.fix_syntaxes) if driver is not None else [s.kind]


def _host(s: Speaker) -> str:
    """The host a fix is for: "router-home (BIRD 2)" -> "router-home"."""
    return s.name.split(" (")[0]


def _bird_protocol(s: Speaker, p: PeerIntent) -> str | None:
    return p.name if s.kind.startswith("bird") else None


def _asn_facts(a: Speaker, pa: PeerIntent, b: Speaker, qb: PeerIntent) -> dict[str, Any]:
    """a expects b under the wrong AS (asn-mismatch's facts)."""
    return _known(
        {
            "asn_wrong_end": _host(a),
            "asn_other_end": _host(b),
            "asn_configured": pa.asn,
            "asn_actual": qb.local_asn,
            "asn_local": pa.local_asn,
            "asn_peer_address": pa.address_v4,
        }
    ) | {
        "asn_wrong_protocol": _bird_protocol(a, pa),  # None: the fix names a placeholder
        FIX_PLATFORMS: _platforms(a),  # the fix goes where the wrong expectation is
    }


# A session the files keep from coming up (a masquerade or source the other end rejects, TTL 1 across
# subnets) is stated as a live run would observe it: down. The fault's own fact says why, so the
# playbooks decide as on a live run; a session whose state the files leave open stays unknown.
KEPT_DOWN: dict[str, Any] = {"established": False}


# A pod's packet the files drop (a firewall zone forwarding that accepts no pod CIDR) is stated as a
# live run would observe it: the ping across gets no answer.
DROPPED: dict[str, Any] = {"pod_ping_ok": False}


def _ends(a: Speaker, pa: PeerIntent, b: Speaker) -> dict[str, Any]:
    """a dials b at pa.address_v4."""
    return _known({"dialer": _host(a), "listener": _host(b), "listener_address": pa.address_v4})


def _nat_facts(a: Speaker, iface: str | None, pa: PeerIntent) -> dict[str, Any]:
    return _known({"nat_culprit": _host(a), "nat_interface": iface, "listener_address": pa.address_v4})


def _source_facts(
    a: Speaker, pa: PeerIntent, b: Speaker, qb: PeerIntent, src: IPv4Address | None, iface: str | None
) -> dict[str, Any]:
    """a dials b from src, where b expects qb.address_v4 (unexpected-source-address's facts)."""
    return _known(
        {
            "dialer": _host(a),
            "dialer_asn": pa.local_asn,
            "dialer_source": src,
            "dialer_source_interface": iface,
            "expected_source": qb.address_v4,
            "listener": _host(b),
            "listener_address": pa.address_v4,
            "listener_asn": qb.local_asn,
        }
    ) | {"listener_protocol": _bird_protocol(b, qb), "dialer_route_gateway": None}


def _unconfigured_facts(e: Speaker, p: PeerIntent, r: Speaker) -> dict[str, Any]:
    """e peers with r, r has no peer for e (peer-not-configured's facts)."""
    address = next(iter(e.addresses), None) if p.local_address is None else p.local_address
    return _known(
        {
            "configured_end": _host(e),
            "configured_asn": p.local_asn,
            "unconfigured_end": _host(r),
            "unconfigured_asn": p.asn,
            "unconfigured_peer_address": address,
            "unconfigured_cni": r.kind if r.kind in ("cilium", "calico") else None,
        }
    ) | {FIX_PLATFORMS: _platforms(r)}  # the fix goes into the unconfigured end's own configuration


def _session(a: Speaker, b: Speaker, facts: dict[str, Any]) -> Subject:
    """A session as a's configuration and b's state it: the run's session facts lint can tell."""
    return lint_subject("session", f"{a.name} -> {b.name}", [_host(a), _host(b)], facts)


def _check_pair(w: ConfiguredNetwork, e: Speaker, p: PeerIntent, r: Speaker, q: PeerIntent) -> None:
    # ASNs, both directions
    for a, pa, b, qb in ((e, p, r, q), (r, q, e, p)):
        # a 4-byte ASN without the AS4 capability (`enable as4 off` on either end) is AS_TRANS
        as_trans = (
            pa.asn == AS_TRANS
            and (qb.local_asn or 0) > 0xFFFF
            and not (pa.as4 is not False and qb.as4 is not False)
        )
        known = pa.asn is not None and qb.local_asn is not None
        asn_at = pa.origin("asn") or pa.loc
        facts = _asn_facts(a, pa, b, qb)
        said = {
            "asn-mismatch": Saying("error", asn_at,
                f"{a.name} peers with {b.name} ({pa.address_v4}) as AS {pa.asn}, but {b.name} is AS "
                f"{qb.local_asn} ({_where(qb.origin('local_asn'))})", [qb.origin('local_asn'), qb.loc], facts)
        } if known else {}  # fmt: skip
        mismatch = pa.asn != qb.local_asn and not as_trans if known else None
        w.conclude(_session(a, b, {"asn_mismatch": mismatch} | (facts if mismatch else {})), asn_at, said)
    # addresses each side really uses
    for a, pa, b, qb in ((e, p, r, q), (r, q, e, p)):
        src, iface = source_toward(w, a, pa)
        nat = _nat(w, a, pa, src)
        if nat is not None and qb.address_v4 == src:
            facts = _nat_facts(a, iface, pa)
            rewritten = Saying("error", nat[1],
                  f"{a.name} masquerades traffic leaving {iface}: its BGP packets to {pa.address_v4} "
                  f"leave from "
                  f"{src} but arrive from {nat[0]}, while {b.name} expects {qb.address_v4} "
                  f"({_where(qb.loc)})", [pa.origin('local_address') or pa.loc, qb.loc], facts)  # fmt: skip
            w.conclude(_session(a, b, KEPT_DOWN | facts), nat[1], {"nat-rewrites-bgp-source": rewritten})
        elif src is not None and qb.address_v4 is not None and qb.address_v4 != src:
            how = (
                "its source address"
                if pa.local_address is not None
                else f"the address of its interface toward {pa.address_v4}"
            )
            facts = _source_facts(a, pa, b, qb, src, iface)
            wrong_source = Saying("error", qb.loc,
                  f"{b.name} expects {a.name} at {qb.address_v4}, but {a.name} connects from {src} ({how}, "
                  f"{_where(pa.origin('local_address') or pa.loc)})", [pa.origin('local_address') or pa.loc],
                  facts)  # fmt: skip
            stated = KEPT_DOWN | {"source_matches": False} | facts
            w.conclude(_session(a, b, stated), qb.loc, {"unexpected-source-address": wrong_source})
    # multihop for eBGP peers without a shared subnet
    if p.asn is not None and p.local_asn is not None and p.asn != p.local_asn:
        for a, pa, b in ((e, p, r), (r, q, e)):
            if pa.address_v4 is None or (pa.multihop is not None and pa.multihop > 1) or not a.addresses:
                continue
            # BIRD wants the neighbor on a connected subnet; a TTL-1 sender only needs the peer's router
            # to own an address on a subnet it shares
            pairs = (
                [(x, pa.address_v4) for x in a.addresses]
                if a.kind.startswith("bird")
                else [(x, y) for x in a.addresses for y in b.addresses]
            )
            results = [same_l2(w, x, y) for x, y in pairs]
            if any(ok for ok, _ in results):
                continue
            assumed = " (assuming /24: no interface file covers them)" if all(x for _, x in results) else ""
            fix = {"Cilium": "ebgpMultihop in its CiliumBGPPeerConfig", "GoBGP": "ebgp-multihop"}.get(
                _kind(a), "multihop"
            )
            ttl_at = pa.origin("multihop") or pa.loc
            one_hop = Saying("error", ttl_at,
                  f"{a.name} -> {b.name} ({pa.address_v4}) is eBGP between different subnets{assumed}, "
                  f"but {a.name} sends TTL 1 / wants a directly connected peer: set {fix}",
                  pa.origins_of('config'))  # fmt: skip
            stated = KEPT_DOWN | {"ebgp": True, "peer_hops_away": True, "multihop_ok": False}
            w.conclude(_session(a, b, stated | _ends(a, pa, b)), ttl_at, {"ebgp-multihop-missing": one_hop})
    _check_gtsm(w, e, p, r, q)
    # who connects, who listens
    e_ok = not p.passive and r.listens
    r_ok = not q.passive and e.listens
    if not e_ok and not r_ok:
        why = []
        for a, pa in ((e, p), (r, q)):
            if pa.passive:
                why.append(f"{a.name} is passive ({_where(pa.origin('passive'))})")
            if not a.listens:
                why.append(f"{a.name} never listens on 179")
        at = next((pa.origin("passive") for pa in (p, q) if pa.passive and pa.origin("passive")), None)
        unopened = Saying("error", at or q.loc,
              f"neither end opens the session {e.name} <-> {r.name}: " + "; ".join(why),
              [p.loc, q.loc, e.listens_loc, r.listens_loc])  # fmt: skip
        # an end that dials reaches only a non-listener, and the other end never dials a listener:
        # its connections are refused and the session stays down, as a live run sees it
        dialing = [(a, pa, b) for a, pa, b in ((e, p, r), (r, q, e)) if not pa.passive]
        if dialing:
            a, pa, b = dialing[0]
            facts = {"refused_by_non_listener": True, "dialer": _host(a), "listener": _host(b),
                     "listener_address": pa.address_v4 and str(pa.address_v4)}  # fmt: skip
            w.conclude(_session(a, b, facts), unopened.loc, {"node-not-listening": unopened})
        else:  # both ends only wait: nothing is refused and no one dials (neither-end-connects)
            _both_wait(w, e, p, r, q)
    else:
        # BIRD's default: it dials a node that never listens, gets "Connection refused", while the
        # node dials out and the session comes up. A live run finds nothing wrong there; neither does lint.
        for a, pa, b in ((e, p, r), (r, q, e)):
            if not pa.passive and not b.listens and a.kind.startswith("bird") and pa.loc is not None:
                note = (
                    f"{a.name} also dials {b.name} ({pa.address_v4}), which never listens: harmless, the "
                    f"session is opened by {b.name} (`passive on` stops the refused attempts)"
                )
                w.problems.append(InputProblem(pa.loc.file, pa.loc.line, note, "note"))
    # MD5 on one end only: that end's kernel rejects every unsigned segment (the live run sees its
    # MD5 counters rise); on both or neither, the files cannot tell (the secrets may differ)
    if bool(p.md5) != bool(q.md5):
        has, hp, lacks, lp = (e, p, r, q) if p.md5 else (r, q, e, p)
        md5 = {"md5_rejecting_host": _host(has), "md5_other_host": _host(lacks)}
        if lp.address_v4 is not None:
            md5["md5_neighbor_address"] = str(lp.address_v4)
        w.conclude(_session(has, lacks, md5), lp.loc, {"md5-mismatch": Saying("error", lp.loc,
              f"TCP MD5 password set on {has.name} ({_where(hp.origin('md5'))}), missing on {lacks.name}",
              [hp.origin('md5')], md5)})  # fmt: skip


def _both_wait(w: ConfiguredNetwork, e: Speaker, p: PeerIntent, r: Speaker, q: PeerIntent) -> None:
    """Both ends are passive (or accept only, a `neighbor range`): as a live run sees it, the session
    is down and neither end dials (neither_end_dials), whatever either listens on."""
    waits = [(a, pa, pa.origin("passive") or pa.loc) for a, pa in ((e, p), (r, q))]
    # the end to make dial: one whose peer listens and which can dial (not a range), a router first
    chosen = end_to_dial(
        ((a, pa), not a.is_node)
        for a, pa, b, qb in ((e, p, r, q), (r, q, e, p))
        if b.listens and pa.peer_range is None and qb.address_v4 is not None
    )
    facts: dict[str, Any] = {"neither_end_dials": True, "waiting_ends": [_host(e), _host(r)]}
    if chosen is not None:
        a, pa = chosen
        dialled = pa.address_v4
        facts |= _known({
            "dial_candidate": _host(a),
            "dial_candidate_protocol": pa.name if a.kind.startswith("bird") else "",
            "dial_candidate_neighbor": dialled,
            "dial_candidate_asn": pa.local_asn,
            "dial_candidate_peer_asn": pa.asn,
            "dial_candidate_speaker": _platforms(a)[0],  # its own dialect: bird1, bird2, frr, gobgp
        }) | {FIX_PLATFORMS: _platforms(a)}  # fmt: skip
    how = "; ".join(f"{a.name} only waits ({_where(at)})" for a, _, at in waits)
    said = Saying("error", waits[0][2],
          f"neither end opens the session {e.name} <-> {r.name}: {how}",
          [waits[1][2], p.loc, q.loc], facts)  # fmt: skip
    w.conclude(_session(e, r, KEPT_DOWN | facts), said.loc, {"neither-end-connects": said})


def _sent_ttl(p: PeerIntent) -> int:
    """The TTL this end's BGP packets leave with: 255 under GTSM, the multihop TTL, else eBGP's 1."""
    if p.ttl_security_hops is not None:
        return 255
    return p.multihop if p.multihop is not None else 1


def _check_gtsm(w: ConfiguredNetwork, e: Speaker, p: PeerIntent, r: Speaker, q: PeerIntent) -> None:
    """One end requires TTL >= 256 - hops (GTSM), the other sends less: its kernel drops every segment."""
    if p.asn is None or p.local_asn is None:
        return
    for a, pa, b, qb in ((e, p, r, q), (r, q, e, p)):
        at = pa.origin("ttl_security_hops") or pa.loc
        # iBGP leaves with TTL 255 on every speaker lint reads; without GTSM no TTL is dropped
        if pa.ttl_security_hops is None or p.asn == p.local_asn:
            w.conclude(_session(a, b, {"ttl_security_mismatch": False}), at, {})
            continue
        needed, sent = 256 - pa.ttl_security_hops, _sent_ttl(qb)
        problem = (
            f"{a.name} requires TTL >= {needed} from {b.name} "
            f"(GTSM, {_where(pa.origin('ttl_security_hops'))}), "
            f"but {b.name} sends TTL {sent}"
        )
        facts = _known({
            "ttl_security_mismatch": True,
            "ttl_enforcing_end": _host(a),
            "ttl_sender": _host(b),
            "ttl_problem": problem,
            "ttl_sender_neighbor": qb.address_v4,
            "ttl_sender_asn": qb.local_asn,
            "ttl_sender_protocol": _bird_protocol(b, qb),
            FIX_PLATFORMS: _platforms(b),
        })  # fmt: skip
        stated = facts if sent < needed else {"ttl_security_mismatch": False}
        w.conclude(_session(a, b, stated), at, {"ttl-security-gtsm": Saying("error", at,
              f"{problem}: {a.name}'s kernel drops every segment and the session never comes up",
              [qb.loc, qb.origin('multihop')], facts)})  # fmt: skip


def infer_addresses(w: ConfiguredNetwork) -> None:
    """A router's address that no file lists (e.g. its LAN IP when only bird.conf was given) is
    learned from the other end: a peer with the router's ASN pointing into the neighbor's subnet.
    Of several configs claiming the neighbor's address, only one that has such a peer counts."""
    for e in w.speakers:
        for p in e.peers:
            if p.address_v4 is None:
                continue
            owner = w.owner(p.address_v4)
            claims = [owner] if owner is not None else w.ambiguous.get(p.address_v4, [])
            learned: list[IPv4Address] = []
            for r in claims:
                if r is e or w.peers_toward(r, e):
                    continue
                for q in r.peers:
                    if q.address_v4 is None or w.owner(q.address_v4) is not None:
                        continue
                    if q.asn == p.local_asn and same_l2(w, q.address_v4, p.address_v4)[0]:
                        learned.append(q.address_v4)
                        break
            if len(learned) == 1:
                w.claim(e, learned[0])


def _count(w: ConfiguredNetwork, reason: str, n: int = 1) -> None:
    w.unchecked[reason] = w.unchecked.get(reason, 0) + n


def _note_ambiguous(w: ConfiguredNetwork) -> None:
    for addr, claims in w.ambiguous.items():
        where = ", ".join(f"{s.name} ({_where(s.addresses.get(addr) or s.loc)})" for s in claims)
        at = claims[0].addresses.get(addr) or claims[0].loc
        msg = (
            f"address {addr} is claimed by {len(claims)} configs: {where}; a session to it is "
            "checked only where exactly one of them has a peer for the other end"
        )
        w.problems.append(InputProblem(at.file, at.line, msg, "note"))


def _at_range(w: ConfiguredNetwork, e: Speaker, p: PeerIntent, q: PeerIntent) -> PeerIntent:
    """A dynamic peer (`neighbor range`) seen from e: the address e connects from when it lies in
    the range, else one of e's addresses in it (so a source outside the range is a finding)."""
    if q.peer_range is None:
        return q
    src, _ = source_toward(w, e, p)
    inside = [a for a in e.addresses if a in q.peer_range]
    addr = src if src is not None and src in q.peer_range else (inside[0] if inside else None)
    return replace(q, address=addr)


def _neighbor_text(q: PeerIntent) -> str:
    asn = q.asn if q.asn is not None else "?"
    return f"range {q.peer_range} as {asn}" if q.peer_range is not None else f"{q.address_v4} as {asn}"


def check_sessions(w: ConfiguredNetwork) -> None:
    infer_addresses(w)
    w.owner(None)  # index the owners, so w.ambiguous is known
    _note_ambiguous(w)
    done: set[tuple[int, int]] = set()
    ranges_used: set[int] = set()
    for e in w.speakers:
        by_remote: dict[int, tuple[Speaker, list[PeerIntent]]] = {}
        for p in e.peers:
            if p.peer_range is not None:
                continue  # a dynamic peer is paired from the other end, which connects to it
            r = w.owner(p.address_v4)
            if p.address_v4 is not None and p.address_v4 in w.ambiguous:
                r = w.resolve(p.address_v4, e)
                if r is None:
                    _count(w, AMBIGUOUS)
                    continue
            if r is None or r is e:
                if p.address_v4 in w.unselected and e.kind.startswith("bird"):
                    n = w.unselected[p.address_v4]
                    unselected = lint_subject(
                        "cluster", f"node/{n.name}", [n.name], {"unselected_nodes": [n.name]}
                    )
                    w.conclude(unselected, p.loc, {"node-not-selected": Saying("error", p.loc,
                          f"{e.name} peers with node {n.name} ({p.address_v4}), but no "
                          f"CiliumBGPClusterConfig selects it (labels: {n.labels or '{}'})",
                          [src_loc(n.source, "name")])})  # fmt: skip
                    w.sessions_checked += 1
                elif p.unpaired:
                    w.unchecked[p.unpaired] = w.unchecked.get(p.unpaired, 0) + 1
                    why = (
                        f"{e.name}: {p.unpaired} {p.unpaired_detail} not checked (pairing is by IPv4 address)"
                    )
                    w.problems.append(InputProblem(p.loc.file, p.loc.line, why, "note"))
                else:
                    _count(w, MISSING_END)
                continue
            by_remote.setdefault(id(r), (r, []))[1].append(p)
        for rid, (r, ps) in by_remote.items():
            key = (min(id(e), rid), max(id(e), rid))
            if key in done:
                continue
            done.add(key)
            qs = w.peers_toward(r, e)
            if not qs and any(q.address_v4 in w.ambiguous and q.address_v4 in e.addresses for q in r.peers):
                # r's peer for e points at an address another config claims too
                _count(w, AMBIGUOUS, len(ps))
                continue
            if not qs:
                p = ps[0]
                hint = [
                    _neighbor_text(q)
                    for q in r.peers
                    if q.peer_range is not None
                    or (q.address_v4 is not None and w.owner(q.address_v4) is None)
                ]
                extra = f" (its unmatched neighbors: {', '.join(hint)})" if hint else ""
                wait = " and it is passive: nobody opens the session" if p.passive else ""
                facts = _unconfigured_facts(e, p, r)
                w.conclude(_session(e, r, facts), p.loc, {"peer-not-configured": Saying("error", p.loc,
                      f"{e.name} peers with {r.name} at {p.address_v4}, but {r.name} has no peer for "
                      f"{e.name} ({', '.join(map(str, e.addresses)) or 'no known address'}){extra}{wait}",
                      [r.loc], facts)})  # fmt: skip
                w.sessions_checked += 1
                continue
            # pair the ends that really meet: score by how many directions agree on the address
            scored = []
            ranges_used.update(id(q) for q in qs if q.peer_range is not None)
            for pi, p in enumerate(ps):
                src_e, _ = source_toward(w, e, p)
                for qi, q in enumerate(_at_range(w, e, p, q0) for q0 in qs):
                    src_r, _ = source_toward(w, r, q)
                    score = (p.address_v4 == src_r) + (q.address_v4 == src_e) + (p.asn == q.local_asn)
                    scored.append((-score, pi, qi, p, q))
            used_p: set[int] = set()
            used_q: set[int] = set()
            for _, pi, qi, p, q in sorted(scored, key=lambda x: x[:3]):
                if pi in used_p or qi in used_q:
                    continue
                used_p.add(pi)
                used_q.add(qi)
                _check_pair(w, e, p, r, q)
                w.sessions_checked += 1
            unmatched = len(ps) + len(qs) - 2 * len(used_p)
            if unmatched:
                _count(w, MISSING_END, unmatched)
    ranges = [q for s in w.speakers for q in s.peers if q.peer_range is not None]
    unused = sum(1 for q in ranges if id(q) not in ranges_used)
    if unused:
        _count(w, MISSING_END, unused)


# -- platform checks --------------------------------------------------------------------------------
def _ebgp(p: BirdProto, peer: PeerIntent) -> bool:
    internal = peer.asn is None or peer.local_asn is None or peer.asn == peer.local_asn
    return not internal or p.settings.get("neighbor_as", ("", p.loc))[0] == "external"


def _host_subject(sp: Speaker, ebgp_policy_missing: bool) -> Subject:
    """A BGP speaker's eBGP session (BIRD protocol or channel, FRR neighbor) as the run's host facts:
    whether it lacks an explicit import or export policy (RFC 8212)."""
    return lint_subject(
        "host", _host(sp), [_host(sp)], {"host": _host(sp), "ebgp_policy_missing": ebgp_policy_missing}
    )


def _fib_subject(sp: Speaker) -> Subject:
    """A BIRD router whose config exports no BGP route to the kernel, as a live run sees it once it
    has learned routes: they are in BIRD's table and not in the FIB."""
    return lint_subject("host", _host(sp), [_host(sp)], {"host": _host(sp), "bird_routes_in_fib": False})


def check_bird(w: ConfiguredNetwork) -> None:
    for sp in w.speakers:
        cfg = w.bird.get(id(sp))
        if cfg is None:
            continue
        bgps = cfg.bgp()
        # a protocol built on a template from another file may get its channels from there
        ebgp = [p for p, peer in zip(bgps, sp.peers, strict=True) if _ebgp(p, peer) and not p.missing_parent]
        unjudged = [p.name for p in ebgp if not any(k for k in p.channels)]
        if cfg.version == UNKNOWN and unjudged:
            msg = (
                "BIRD 1.x or 2 cannot be told from the syntax (no channel blocks, no protocol-level "
                f"import/export): eBGP protocol {', '.join(unjudged)} not judged against BIRD 2's "
                "RFC 8212 policies (BIRD 1.x imports all and exports nothing by default)"
            )
            w.problems.append(InputProblem(cfg.file, ebgp[0].loc.line, msg, "note"))
        host = {"host": _host(sp)}
        for p in ebgp if cfg.version == "2" else []:
            chans = {k: c for k, c in p.channels.items() if k}
            if not chans:
                said = Saying("error", p.loc,
                      f"eBGP protocol {p.name} has no channel: BIRD 2 gives it an ipv4 channel "
                      f"that imports and "
                      "exports nothing (RFC 8212); add `ipv4 { import ...; export ...; };`",
                      facts=host)  # fmt: skip
                w.conclude(_host_subject(sp, True), p.loc, {"bird-ebgp-no-policy": said})
            for c in chans.values():
                missing = [x for x, m in (("import", c.import_mode), ("export", c.export_mode)) if m is None]
                said = Saying("error", c.loc,
                      f"eBGP protocol {p.name}, channel {c.name}: no explicit "
                      f"{' and '.join(missing)} "
                      f"policy; BIRD 2 refuses this (RFC 8212: EBGP requires explicit policies)",
                      [p.loc], host)  # fmt: skip
                w.conclude(_host_subject(sp, bool(missing)), c.loc, {"bird-ebgp-no-policy": said})
        if not bgps:
            continue
        kernels = [p for p in cfg.protocols if p.ptype == "kernel"]
        if not kernels and (cfg.fragment or cfg.partial):
            why = "an include not read here" if cfg.partial else "no router id and no kernel protocol"
            w.problems.append(InputProblem(cfg.file, (cfg.router_id_loc or bgps[0].loc).line,
                f"{sp.name}: {why}, read as a fragment of a larger config: not judged for a missing "
                "kernel protocol", "note"))  # fmt: skip
        elif not kernels:
            at = cfg.router_id_loc or sp.loc
            said = Saying("warning", at,
                  f"{sp.name} has BGP sessions but no `protocol kernel`: learned routes never reach the FIB",
                  facts=host)  # fmt: skip
            w.conclude(_fib_subject(sp), at, {"bird-kernel-export-none": said})
        for kp in kernels:
            kch = [c for k, c in kp.channels.items() if k in ("", "ipv4")]
            if not kch and kp.channels:
                continue  # an IPv6-only kernel protocol; lint judges the IPv4 one
            mode = kch[0].export_mode if kch else None
            if mode in (None, "none"):
                at = kch[0].export_loc if kch and kch[0].export_loc else kp.loc
                how = "export none" if mode == "none" else "no export (default: none)"
                said = Saying("error", at,
                      f"protocol kernel {kp.name} has {how}: BGP routes stay in BIRD and never "
                      f"reach the kernel "
                      "FIB; use `export where source = RTS_BGP;` (or export all)", [kp.loc],
                      host)  # fmt: skip
                w.conclude(_fib_subject(sp), at, {"bird-kernel-export-none": said})


def check_frr(w: ConfiguredNetwork, configs: list[FrrConfig]) -> None:
    """RFC 8212 on FRR: an eBGP neighbor without an inbound or outbound filter gets or sends nothing."""
    for cfg in configs:
        lacking = ebgp_without_policy(cfg)
        if not lacking:
            continue
        host = _host(cfg.speaker)
        facts = {
            "host": host,
            "frr_bgp_as": cfg.asn,
            "ebgp_policy_neighbors": [n.name for n, _ in lacking],
            "ebgp_policy_missing_in": [n.name for n, missing in lacking if "in" in missing],
            "ebgp_policy_missing_out": [n.name for n, missing in lacking if "out" in missing],
            FIX_PLATFORMS: ["frr"],
        }
        for n, missing in lacking:
            at = cfg.neighbors[n.name].remote_as_loc or n.loc
            said = Saying(
                "error",
                at,
                f"eBGP neighbor {n.name} on {host} has no {' and no '.join(missing)} policy "
                "(route-map, prefix-list, filter-list or distribute-list): with RFC 8212 on "
                f"({cfg.requires_policy_why}), FRR "
                + " and ".join(
                    {"in": "accepts nothing from it", "out": "sends it nothing"}[d] for d in missing
                ),
                list(n.policy.values()),
                facts,
            )
            w.conclude(_host_subject(cfg.speaker, True), at, {"bird-ebgp-no-policy": said})


def check_ibgp_reflection(w: ConfiguredNetwork, k: K8sInputs) -> None:
    for sp in w.speakers:
        if id(sp) not in w.bird:
            continue
        ibgp = [p for p in sp.peers if p.asn is not None and p.asn == p.local_asn]
        node_ibgp = [p for p in ibgp if (o := w.owner(p.address_v4)) is not None and o.is_node]
        other = [p for p in ibgp if p not in node_ibgp]
        if not node_ibgp or any(p.route_reflector_client for p in node_ibgp):
            continue
        mesh = k.calico_mesh()
        mesh_off = mesh is not None and not mesh[0]
        if other or (mesh_off and len(node_ibgp) > 1):
            via = f"iBGP peer {other[0].name} ({other[0].address_v4})" if other else "the other nodes"
            clients = [p.name or "?" for p in node_ibgp]
            said = Saying("error", node_ibgp[0].loc,
                  f"{sp.name}: routes learned from {via} are never passed on to iBGP node peers "
                  f"({', '.join(clients)}): set `rr client;` on the node sessions",
                  [p.loc for p in node_ibgp[1:]] + [p.loc for p in other])  # fmt: skip
            # what a live run sees on the path from a node peer to a route learned over iBGP
            held = {"ibgp_not_reflected": _host(sp), "ibgp_client_protocol": clients[0],
                    "ibgp_client_protocols": clients,
                    "ibgp_learned_from": other[0].name if other else None}  # fmt: skip
            path = lint_subject("path", f"{sp.name}: {via} -> {clients[0]}", [_host(sp)], held)
            w.conclude(path, node_ibgp[0].loc, {"ibgp-no-route-reflection": said})


def _node_subnets(w: ConfiguredNetwork, k: K8sInputs) -> tuple[dict[IPv4Network, list[KubeNode]], bool]:
    """The nodes grouped by subnet, and whether a /24 was assumed for one of them."""
    groups: dict[IPv4Network, list[KubeNode]] = {}
    assumed = False
    for n in k.nodes:
        if n.addresses:
            net, a = _l2_key(w, IPv4Address(n.addresses[0]))
            assumed = assumed or a
            groups.setdefault(net, []).append(n)
    return groups, assumed


def pod_routes_needed(w: ConfiguredNetwork, k: K8sInputs) -> tuple[bool | None, str]:
    """Whether the routers must learn the pod CIDRs over BGP, judged from the routing design the
    configuration states, with the reason.

    Tunnel mode carries pod traffic inside the overlay; native routing with autoDirectNodeRoutes
    installs each node's pod CIDR via the node itself, which works when the nodes share one L2;
    native routing otherwise needs the network (BGP) to route the pod CIDRs.
    Example: (False, "tunnel routing (cilium-config:7)")
    """
    native = [loc for mode, loc in k.routing if mode == "native"]
    tunnel = [loc for mode, loc in k.routing if mode == "tunnel"]
    if tunnel and not native:
        return False, f"tunnel routing ({tunnel[0]})"
    if not native:
        return None, "the routing mode is not in the inputs"
    direct = [loc for on, loc in k.auto_direct if on]
    if not direct:
        return True, f"native routing ({native[0]}) without autoDirectNodeRoutes"
    groups, _ = _node_subnets(w, k)
    if len(groups) > 1:
        return True, f"native routing ({native[0]}) with nodes on {len(groups)} subnets"
    return False, f"native routing with autoDirectNodeRoutes ({direct[0]}) on one L2"


def _no_pod_cidr(
    w: ConfiguredNetwork, k: K8sInputs, at: Loc, what: str, other: list[Loc], lb_only: bool
) -> None:
    """No pod CIDR advertisement: an error where the design needs one, else at most a note."""
    needed, why = pod_routes_needed(w, k)
    if needed or (needed is None and not lb_only):
        why_needed = f" ({why})" if needed else ""
        _not_advertised(w, at, f"{what}: the routers never learn the pod CIDRs{why_needed}", other)
    elif needed is None:
        msg = f"{what}: only Service addresses are advertised; {why}, so pod CIDRs are not judged"
        w.problems.append(InputProblem(at.file, at.line, msg, "note"))


def _not_advertised(w: ConfiguredNetwork, at: Loc, message: str, other: Iterable[Loc | None] = ()) -> None:
    """The files advertise no pod CIDR where the design needs it: a live run's cluster fact."""
    facts = {"advertises_pod_cidrs": False}
    said = Saying("error", at, message, other)
    w.conclude(
        lint_subject("cluster", message.split(":")[0], [], facts), at, {"podcidr-not-advertised": said}
    )


def _lb_not_advertised(
    w: ConfiguredNetwork, at: Loc, message: str, other: Iterable[Loc | None] = (), pool: str | None = None
) -> None:
    """No advertisement announces the LoadBalancer IPs: a warning, as the files hold no Service that
    needs one (a live run states the same fact per Service)."""
    facts = _known({"lb_advert_missing": message.split(": ", 1)[1], "lb_pool_name": pool})
    said = Saying("warning", at, message, other, facts | {FIX_PLATFORMS: ["cilium"]})
    w.conclude(
        lint_subject("cluster", message.split(":")[0], [], facts), at, {"lb-advert-not-configured": said}
    )


def _selects_no_node(w: ConfiguredNetwork, at: Loc | None, message: str, other: list[Loc | None],
                     unselected: list[str], selectors: str, covered: str) -> None:  # fmt: skip
    """A BGP config whose selector matches no node, judged as a live run judges the cluster: by the
    nodes no config selects (`unselected_nodes`); with every node covered otherwise it is a note."""
    facts = {"unselected_nodes": unselected, "node_selectors": selectors}
    said = Saying("warning", at, message, other, facts)
    before = len(w.findings)
    w.conclude(
        lint_subject("cluster", message.split(":")[0], unselected, facts), at, {"node-not-selected": said}
    )
    if len(w.findings) == before and at is not None:
        note = f"{message}; {covered}, so no node is left without BGP"
        w.problems.append(InputProblem(at.file, at.line, note, "note"))


def check_cilium(w: ConfiguredNetwork, k: K8sInputs) -> None:
    if k.nodes:
        configs = k.bgp_configs()
        selectors = "; ".join(f"{c.name}: {c.node_selector.describe() if c.node_selector else '<all>'}"
                              for c in configs)  # fmt: skip
        unselected = sorted({n.name for n in w.unselected.values()})  # nodes no Cilium config selects
        for cc in configs:
            sel, sel_at = cc.node_selector, src_at(cc.source, "node_selector")
            if sel is not None and not any(w.selects(sel, n.labels, sel_at) for n in k.nodes):
                _selects_no_node(w, sel_at,
                      f"{_kind_of(cc)} {cc.name}: nodeSelector ({sel.describe()}) matches none of the "
                      f"{len(k.nodes)} nodes", [src_loc(cc.source)], unselected, selectors,
                      "every node is selected by another Cilium BGP config")  # fmt: skip
    has_lb = bool(k.lb_pools) and k.l2_announcements is None
    for pol in k.peering_policies:
        if not pol.neighbors:
            continue
        lb_only = pol.service_selector is not None
        if not pol.export_pod_cidr:
            _no_pod_cidr(w, k, src_at(pol.source, "local_asn") or src_loc(pol.source),
                         f"{pol.name}: exportPodCIDR is not true", [], lb_only)  # fmt: skip
        if has_lb and not lb_only:
            never = f"{pol.name}: no serviceSelector, LoadBalancer IPs are never advertised"
            _lb_not_advertised(w, src_loc(pol.source), never)
    for cc in k.cluster_configs:
        peers = [cp for inst in cc.instances for cp in inst.peers]
        if not peers:
            continue
        pod = lb = service = False
        missing_at: list[Loc] = []
        for cp in peers:
            pc = k.peer_configs.get(cp.peer_config or "")
            if cp.peer_config and pc is None:
                _not_advertised(w, src_loc(cp.source, "peer_config"),
                      f"peer {cp.name or '?'} references CiliumBGPPeerConfig {cp.peer_config!r}, which is "
                      f"not in the "
                      "inputs: no families and no advertisements")  # fmt: skip
                continue
            if pc is None or not pc.families:
                missing_at.append(src_loc(pc.source) if pc else src_loc(cp.source))
                continue
            for fam in pc.families:
                if fam.advertisements is None:
                    continue
                for ad in k.advertisements:
                    if not w.selects(fam.advertisements, ad.labels, src_loc(fam.source)):
                        continue
                    for it in ad.items:
                        pod = pod or it.type in ("PodCIDR", "CiliumPodIPPool")
                        service = service or it.type == "Service"
                        if it.type == "Service" and "LoadBalancerIP" in it.service_addresses:
                            lb = True
                            if it.selector is None:
                                _lb_not_advertised(w, src_loc(it.source),
                                      f"CiliumBGPAdvertisement {ad.name}: a Service advertisement without "
                                      "selector selects no Service (cilium#33076)")  # fmt: skip
            missing_at.append(src_loc(pc.families[0].source))
        if not pod:
            names = ", ".join(sorted({cp.peer_config or cp.name for cp in peers}))
            _no_pod_cidr(w, k, missing_at[0] if missing_at else src_loc(cc.source),
                         f"{cc.name}: no CiliumBGPAdvertisement of type PodCIDR is selected by the peers' "
                         f"families ({names})", [src_loc(cc.source)], service)  # fmt: skip
        if has_lb and not lb:
            _lb_not_advertised(w, missing_at[0] if missing_at else src_loc(cc.source),
                  f"{cc.name}: no Service/LoadBalancerIP advertisement is selected: the LB pool "
                  f"{k.lb_pools[0].name} is never announced", [src_loc(k.lb_pools[0].source)],
                  k.lb_pools[0].name)  # fmt: skip


def node_addresses(
    w: ConfiguredNetwork, k: K8sInputs
) -> list[tuple[str, IPv4Address, IPv4Network | None, Loc | None]]:
    """Every node address the inputs state: Node objects, Talos/talhelper/K3s configs, Cilium
    values, inventories, and the node speakers' own configs (GoBGP, Cilium overrides).

    Example: [("cp-1", IPv4Address("10.0.60.11"), IPv4Network("10.0.60.0/24"), Loc("talconfig.yaml", 12))]
    """
    out: list[tuple[str, IPv4Address, IPv4Network | None, Loc | None]] = []
    out += [(n.name, a, None, aloc) for n in k.nodes for a, aloc in node_ips(n)]
    out += [(h.name, h.addr, h.subnet, h.loc) for h in k.host_addresses]
    nodes = [s for s in w.speakers if s.is_node or s.kind == "gobgp"]
    out += [(s.name, a, None, loc or s.loc) for s in nodes for a, loc in s.addresses.items()]
    return out


def check_lb_pools(w: ConfiguredNetwork, k: K8sInputs) -> None:
    hosts = sorted(node_addresses(w, k), key=lambda h: h[2] is None)  # stated subnets first
    for pool in k.lb_pools:
        for block in pool.blocks:
            nets = block.networks()
            at = src_loc(block.source)
            for name, a, stated, aloc in hosts:
                subnet, assumed = (stated, False) if stated is not None else _l2_key(w, a)
                overlaps = any(x.overlaps(subnet) for x in nets)
                facts = {"lb_pool_name": pool.name, "lb_pool_cidr": block.text(),
                         "lb_pool_overlaps": [str(subnet)] if overlaps else []}  # fmt: skip
                if overlaps:
                    facts["lb_pool_suggested"] = suggest_pool(str(nets[0]), [str(subnet)])
                how = " (assumed /24)" if assumed else ""
                w.conclude(lint_subject("cluster", f"pool/{pool.name}", [], facts), at,
                           {"lb-pool-in-node-subnet": Saying("error", at,
                          f"LB pool {pool.name} block {block.text()} overlaps node {name}'s subnet "
                          f"{subnet}{how}: "
                          "on-link hosts ARP for the VIPs instead of routing them via BGP; use a "
                          "separate range", [aloc], facts)})  # fmt: skip
                if overlaps:
                    break


def _pod_supernet(k: K8sInputs) -> dict[str, Any]:
    """The cluster's pod CIDR when the manifests state exactly one (the fixes' cluster_pod_cidr)."""
    pods = list(collapse_addresses(n for n, _ in k.pod_cidrs))
    return {"cluster_pod_cidr": str(pods[0])} if len(pods) == 1 else {}


def check_auto_direct(w: ConfiguredNetwork, k: K8sInputs) -> None:
    for on, loc in k.auto_direct:
        if not on:
            continue
        groups, assumed = _node_subnets(w, k)
        if k.nodes:
            ordered = sorted(groups.values(), key=len, reverse=True)
            facts = {"auto_direct_routes_across_l3": len(groups) > 1,
                     "local_nodes": [n.name for n in ordered[0]] if ordered else [],
                     "remote_nodes": [n.name for g in ordered[1:] for n in g]}  # fmt: skip
            desc = "; ".join(f"{net}: {', '.join(x.name for x in ns)}" for net, ns in groups.items())
            said = Saying("error", loc,
                  f"autoDirectNodeRoutes is on but the nodes are on different subnets ({desc})"
                  f"{' (assumed /24)' if assumed else ''}: remote nodes' routes need a gateway that is not "
                  "directly reachable; turn it off and route pod CIDRs over BGP",
                  [src_loc(ns[0].source, "name") for ns in groups.values()], _pod_supernet(k))  # fmt: skip
        else:
            # no Node objects: the nodes share one L2 only if their directly connected BGP peers do
            gws = {_l2_key(w, p.address_v4)[0] for cc in k.bgp_configs() for p in _cilium_peers(k, cc, None)
                   if p.address_v4 is not None and p.multihop is None}  # fmt: skip
            facts = {"auto_direct_routes_across_l3": True if len(gws) > 1 else None}
            said = Saying("error", loc,
                      "autoDirectNodeRoutes is on but the BGP peers sit on different subnets "
                      f"({', '.join(map(str, sorted(gws)))}), so the nodes are not on one L2")  # fmt: skip
        cluster = lint_subject("cluster", "cilium-config", [], facts)
        w.conclude(cluster, loc, {"auto-direct-routes-across-l3": said})


def check_firewalls(w: ConfiguredNetwork, k: K8sInputs) -> None:
    pods = list(collapse_addresses(n for n, _ in k.pod_cidrs))
    if not pods:
        return
    for sp in w.speakers:
        fwnet = w.firewall.get(id(sp))
        if fwnet is None:
            continue
        fw, net = fwnet
        zones: list[str] = []
        for p in sp.peers:
            iface = egress_iface(w, sp, p.address_v4) if p.address_v4 else None
            for z in fw.zones.values():
                dev = next((i.device for i in net.interfaces if i.name == iface), None)
                if iface and (iface in z.networks or (dev and dev in z.devices)) and z.name not in zones:
                    zones.append(z.name)
        for a in zones:
            for b in zones:
                if a == b:
                    continue
                za = fw.zones[a]
                blocked = []
                for pod in pods:
                    if any(pod.subnet_of(s) for s in za.subnets):
                        continue
                    ok = any(
                        r.target == "ACCEPT" and r.src in (a, "*") and r.dest in (b, "*")
                        and (any(pod.subnet_of(d) for d in r.dest_ip + r.src_ip)
                             or not (r.dest_ip or r.src_ip))
                        for r in fw.rules
                    )  # fmt: skip
                    if not ok:
                        blocked.append(str(pod))
                if not blocked:
                    continue
                fwd = next((loc for s, d, loc in fw.forwardings if (s, d) == (a, b)), None)
                what = (
                    "the forwarding covers only the zones' own networks" if fwd else "no forwarding or rule"
                )
                at = fwd or za.loc
                # what a live run observes on a pod's packet forwarded from zone a to b: it reaches the
                # router (routes and forwarding are not the files' business here) and is dropped there
                facts = {"firewall_host": _host(sp), "firewall_reached": True, FIX_PLATFORMS: ["openwrt"]}
                if len(blocked) == 1:
                    facts["cluster_pod_cidr"] = blocked[0]
                said = Saying("error", at,
                      f"{sp.name}: zone {a} -> {b}: {what}; nothing accepts pod CIDR {', '.join(blocked)} "
                      f"(add a rule: src '{a}', dest '{b}', dest_ip <pod CIDR>, target ACCEPT)",
                      facts=facts)  # fmt: skip
                path = lint_subject("path", f"{sp.name}: {a} -> {b}", [_host(sp)], DROPPED | facts)
                w.conclude(path, at, {"firewall-blocks-pod-cidr": said})


def run_checks(
    inp: Inputs, playbooks: list[PlaybookDef] | None = None
) -> tuple[list[LintFinding], list[InputProblem], ConfiguredNetwork]:
    """All checks over everything read, judged by the playbooks (default: the installed ones); the
    ConfiguredNetwork counts the sessions checked and not.

    Example: run_checks(load_paths(["x/"]))
    -> ([LintFinding(...)], [], ConfiguredNetwork(sessions_checked=2, ...))
    """
    w = build_network(inp, playbooks)
    check_sessions(w)
    check_bird(w)
    check_frr(w, inp.frrs)
    check_ibgp_reflection(w, inp.k8s)
    check_calico_mesh_reflectors(w, inp.k8s)
    check_cilium(w, inp.k8s)
    check_lb_pools(w, inp.k8s)
    check_auto_direct(w, inp.k8s)
    check_firewalls(w, inp.k8s)
    w.findings.sort(key=lambda f: (f.file, f.line, f.root_cause))
    return w.findings, w.problems, w
