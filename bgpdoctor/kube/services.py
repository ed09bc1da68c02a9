"""LoadBalancer Services, their EndpointSlices and who announces their IPs over BGP.

Two states are found here from the cluster API alone (facts the playbooks judge):

- ``lb_advert_missing``: a Service has a LoadBalancer (or external) IP, but nothing tells
  the BGP speaker to announce it: no CiliumBGPAdvertisement of type Service selects it (one without
  a ``selector`` selects nothing, cilium#33076), a CiliumBGPPeeringPolicy has no ``serviceSelector``,
  a MetalLB IPAddressPool has no BGPAdvertisement (``making 0 advertisements``, metallb#45), or
  Calico's BGPConfiguration does not list the IP in ``serviceLoadBalancerIPs`` /
  ``serviceExternalIPs`` (calico#8375).
- ``etp_gap``: an ``externalTrafficPolicy: Local`` Service whose IP no node may
  announce, because no node that speaks BGP for it has a ready endpoint (EndpointSlice
  ``nodeName``). Speakers withdraw such a /32, so the IP is unreachable from outside.

``read_service_objects(kc, raw)`` adds the EndpointSlices and MetalLB's resources to a RawCluster;
``service_state(raw)`` parses them (pure, so a recorded RawCluster replays);
``service_findings(view, state)`` judges. An EndpointSlice list that could not be read leaves the
endpoints unknown: the eTP=Local Services are reported as not checkable, never as "no endpoints".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.kube.config import KubeClient
from bgpdoctor.kube.selectors import LabelSelector, parse_label_selector
from bgpdoctor.kube.view import ClusterView, KubeNode, RawCluster
from bgpdoctor.redact import redact, redact_object

__all__ = [
    "ENDPOINTSLICES",
    "METALLB_RESOURCES",
    "MetalLbAdvertisement",
    "MetalLbPeer",
    "MetalLbPool",
    "MetalLbView",
    "ServiceFinding",
    "ServiceIntent",
    "ServiceState",
    "read_service_objects",
    "router_checks",
    "service_findings",
    "service_state",
    "state_from_view",
]

Obj = Mapping[str, Any]
ENDPOINTSLICES = "endpointslices"
# raw.objects key -> (plural, candidate versions), most preferred first; keyed apart from Calico's bgppeers
METALLB_RESOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "metallb.io/ipaddresspools": ("ipaddresspools", ("v1beta1",)),
    "metallb.io/bgpadvertisements": ("bgpadvertisements", ("v1beta1",)),
    "metallb.io/l2advertisements": ("l2advertisements", ("v1beta1",)),
    "metallb.io/bgppeers": ("bgppeers", ("v1beta2", "v1beta1")),
    # MetalLB >= 0.15: the peers each node's speaker is configured to advertise a Service to
    "metallb.io/servicebgpstatuses": ("servicebgpstatuses", ("v1beta1",)),
}
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
CILIUM_BGP_CLASS = "io.cilium/bgp-control-plane"


# --- reading ---------------------------------------------------------------------------------


def read_service_objects(
    kc: KubeClient, raw: RawCluster, progress: Callable[[str], None] | None = None
) -> None:
    """Add EndpointSlices (discovery.k8s.io/v1) and MetalLB's pools, advertisements and peers to `raw`.

    A resource that is not served is ``raw.resources[key] = None``; a 403 also goes to
    ``raw.problems``, and its key stays out of ``raw.objects`` (unknown, not empty). Objects are
    redacted as they are read. Example: raw.objects["endpointslices"] -> [{"metadata": {"name":
    "web-abc12", "labels": {"kubernetes.io/service-name": "web"}}, "endpoints": [...]}]
    """
    from kubernetes import client

    from bgpdoctor.kube.reader import ResourceForbidden, ResourceNotFound, api_json

    say = progress or (lambda _msg: None)
    say(f"reading EndpointSlices and MetalLB resources from {kc.where}")
    discovery = client.DiscoveryV1Api(kc.api)
    try:
        body = api_json(kc, "endpointslices", discovery.list_endpoint_slice_for_all_namespaces)
        raw.objects[ENDPOINTSLICES] = redact_object(body.get("items") or [])
        raw.resources[ENDPOINTSLICES] = "discovery.k8s.io/v1"
    except ResourceNotFound:
        raw.resources[ENDPOINTSLICES] = None
    except ResourceForbidden as exc:
        raw.resources[ENDPOINTSLICES] = None
        raw.problems.append(redact(str(exc)))

    custom = client.CustomObjectsApi(kc.api)
    served: dict[str, set[str]] = {}
    for version in ("v1beta2", "v1beta1"):
        try:
            res = api_json(kc, f"/apis/metallb.io/{version}", custom.get_api_resources, "metallb.io", version)
        except (ResourceNotFound, ResourceForbidden):
            continue
        served[version] = {str(r.get("name")) for r in res.get("resources") or []}
    for key, (plural, versions) in METALLB_RESOURCES.items():
        chosen = next((v for v in versions if plural in served.get(v, set())), None)
        raw.resources[key] = f"metallb.io/{chosen}" if chosen else None
        if chosen is None:
            continue
        what = f"{plural}.metallb.io/{chosen}"
        try:
            body = api_json(kc, what, custom.list_cluster_custom_object, "metallb.io", chosen, plural)
        except ResourceNotFound:
            raw.resources[key] = None
            continue
        except ResourceForbidden as exc:
            raw.resources[key] = None
            raw.problems.append(redact(str(exc)))
            continue
        raw.objects[key] = redact_object(body.get("items") or [])


# --- the parsed state ------------------------------------------------------------------------


@dataclass
class ServiceIntent:
    """A Service with an IP meant to be reachable from outside (LoadBalancer ingress or externalIPs).

    Example: ServiceIntent(namespace="default", name="web", labels={"app": "web"},
    external_traffic_policy="Local", ingress_ips=["10.0.6.1"], external_ips=[],
    load_balancer_class=None, pool_annotation=None)
    """

    namespace: str
    name: str
    labels: dict[str, str]
    external_traffic_policy: str
    ingress_ips: list[str]
    external_ips: list[str]
    load_balancer_class: str | None = None
    pool_annotation: str | None = None  # metallb.io/ip-allocated-from-pool

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def ips(self) -> list[str]:
        return [*self.ingress_ips, *(ip for ip in self.external_ips if ip not in self.ingress_ips)]

    def selector_labels(self) -> dict[str, str]:
        """Labels plus the two Cilium adds for selection (io.kubernetes.service.name/namespace)."""
        return {
            **self.labels,
            "io.kubernetes.service.name": self.name,
            "io.kubernetes.service.namespace": self.namespace,
        }


@dataclass
class MetalLbPool:
    name: str
    namespace: str
    labels: dict[str, str]
    addresses: list[str]


@dataclass
class MetalLbAdvertisement:
    """A BGPAdvertisement or L2Advertisement. Empty ``pools`` and ``pool_selectors`` mean every pool."""

    kind: str
    name: str
    pools: list[str]
    pool_selectors: list[LabelSelector]
    node_selectors: list[LabelSelector]
    peers: list[str]
    service_selectors: list[LabelSelector] = field(default_factory=list)

    def selects_pool(self, pool: MetalLbPool) -> bool:
        if not self.pools and not self.pool_selectors:
            return True
        return pool.name in self.pools or any(s.matches(pool.labels) for s in self.pool_selectors)


@dataclass
class MetalLbPeer:
    name: str
    address: str | None
    node_selectors: list[LabelSelector]
    asn: int | None = None  # peerASN
    my_asn: int | None = None  # myASN


@dataclass
class MetalLbView:
    pools: list[MetalLbPool] = field(default_factory=list)
    bgp_advertisements: list[MetalLbAdvertisement] = field(default_factory=list)
    l2_advertisements: list[MetalLbAdvertisement] = field(default_factory=list)
    peers: list[MetalLbPeer] = field(default_factory=list)

    def pool_of(self, svc: ServiceIntent) -> MetalLbPool | None:
        if svc.pool_annotation:
            named = next((p for p in self.pools if p.name == svc.pool_annotation), None)
            if named is not None:
                return named
        return next((p for p in self.pools for ip in svc.ips if _in_ranges(ip, p.addresses)), None)


@dataclass
class ServiceState:
    """Services, ready endpoints per node, MetalLB and Calico's service IP blocks.

    ``ready_nodes`` is None when the EndpointSlices could not be read (``endpoints_unknown`` says
    why). Example: ServiceState(services=[ServiceIntent(...)], ready_nodes={"default/web":
    {"node-01": 2}}, unattributed={}, endpoints_unknown=None, metallb=None,
    calico_external_cidrs=[], calico_lb_cidrs=["10.0.6.0/24"])
    """

    services: list[ServiceIntent]
    ready_nodes: dict[str, dict[str, int]] | None
    unattributed: dict[str, int]  # ready endpoints that name no node, per service
    endpoints_unknown: str | None
    metallb: MetalLbView | None
    calico_external_cidrs: list[str] = field(default_factory=list)
    calico_lb_cidrs: list[str] = field(default_factory=list)


def _str_dict(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _selectors(value: Any) -> list[LabelSelector]:
    out = []
    for item in value or []:
        sel = parse_label_selector(item)
        if sel is not None:
            out.append(sel)
    return out


def parse_service_intent(obj: Obj) -> ServiceIntent | None:
    """A Service with a LoadBalancer ingress IP or externalIPs; None for any other Service.

    Example: {"spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local", ...},
    "status": {"loadBalancer": {"ingress": [{"ip": "10.0.6.1"}]}}} -> ServiceIntent(...,
    external_traffic_policy="Local", ingress_ips=["10.0.6.1"])
    """
    spec = _spec(obj)
    meta = _meta(obj)
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ingress_ips = (
        [str(i["ip"]) for i in ingress if isinstance(i, Mapping) and i.get("ip")]
        if spec.get("type") == "LoadBalancer"
        else []
    )
    external = [str(ip) for ip in spec.get("externalIPs") or []]
    if not ingress_ips and not external:
        return None
    annotations = _str_dict(meta.get("annotations"))
    return ServiceIntent(
        namespace=str(meta.get("namespace", "default")),
        name=str(meta.get("name", "")),
        labels=_str_dict(meta.get("labels")),
        external_traffic_policy=str(spec.get("externalTrafficPolicy") or "Cluster"),
        ingress_ips=ingress_ips,
        external_ips=external,
        load_balancer_class=spec.get("loadBalancerClass"),
        pool_annotation=annotations.get("metallb.io/ip-allocated-from-pool")
        or annotations.get("metallb.universe.tf/ip-allocated-from-pool"),
    )


def ready_endpoints(slices: Sequence[Obj]) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Ready endpoints per Service and node, from EndpointSlices (``ready`` absent counts as ready,
    as the API documents), plus ready endpoints without a ``nodeName``.

    Example: -> ({"default/web": {"node-01": 2}}, {})
    """
    per_node: dict[str, dict[str, int]] = {}
    unattributed: dict[str, int] = {}
    for sl in slices:
        meta = _meta(sl)
        svc = _str_dict(meta.get("labels")).get(SERVICE_NAME_LABEL)
        if not svc:
            continue
        ref = f"{meta.get('namespace', 'default')}/{svc}"
        per_node.setdefault(ref, {})
        for ep in sl.get("endpoints") or []:
            if not isinstance(ep, Mapping):
                continue
            ready = (ep.get("conditions") or {}).get("ready")
            if ready is False:
                continue
            node = ep.get("nodeName")
            if node:
                per_node[ref][str(node)] = per_node[ref].get(str(node), 0) + 1
            else:
                unattributed[ref] = unattributed.get(ref, 0) + 1
    return per_node, unattributed


def _asn(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _metallb(raw: RawCluster) -> MetalLbView | None:
    if not any(raw.resources.get(key) for key in METALLB_RESOURCES):
        return None
    objs = raw.objects

    def adverts(key: str, kind: str) -> list[MetalLbAdvertisement]:
        out = []
        for o in objs.get(key, []):
            spec = _spec(o)
            out.append(
                MetalLbAdvertisement(
                    kind=kind,
                    name=str(_meta(o).get("name", "")),
                    pools=[str(p) for p in spec.get("ipAddressPools") or []],
                    pool_selectors=_selectors(spec.get("ipAddressPoolSelectors")),
                    node_selectors=_selectors(spec.get("nodeSelectors")),
                    peers=[str(p) for p in spec.get("peers") or []],
                    service_selectors=_selectors(spec.get("serviceSelectors")),
                )
            )
        return out

    return MetalLbView(
        pools=[
            MetalLbPool(
                name=str(_meta(o).get("name", "")),
                namespace=str(_meta(o).get("namespace", "metallb-system")),
                labels=_str_dict(_meta(o).get("labels")),
                addresses=[str(a) for a in _spec(o).get("addresses") or []],
            )
            for o in objs.get("metallb.io/ipaddresspools", [])
        ],
        bgp_advertisements=adverts("metallb.io/bgpadvertisements", "BGPAdvertisement"),
        l2_advertisements=adverts("metallb.io/l2advertisements", "L2Advertisement"),
        peers=[
            MetalLbPeer(
                name=str(_meta(o).get("name", "")),
                address=_spec(o).get("peerAddress"),
                node_selectors=_selectors(_spec(o).get("nodeSelectors")),
                asn=_asn(_spec(o).get("peerASN")),
                my_asn=_asn(_spec(o).get("myASN")),
            )
            for o in objs.get("metallb.io/bgppeers", [])
        ],
    )


def service_state(raw: RawCluster) -> ServiceState:
    """Parse what read_cluster and read_service_objects fetched (pure; no API calls)."""
    services = [s for s in (parse_service_intent(o) for o in raw.objects.get("services", [])) if s]
    ready: dict[str, dict[str, int]] | None = None
    unattributed: dict[str, int] = {}
    why: str | None = None
    if ENDPOINTSLICES in raw.objects:
        ready, unattributed = ready_endpoints(raw.objects[ENDPOINTSLICES])
    else:
        refused = [p for p in raw.problems if ENDPOINTSLICES in p]
        why = (
            refused[0]
            if refused
            else "EndpointSlices (discovery.k8s.io/v1) were not read"
            if ENDPOINTSLICES not in raw.resources
            else "EndpointSlices (discovery.k8s.io/v1) are not served"
        )
    external: list[str] = []
    lb: list[str] = []
    for o in raw.objects.get("bgpconfigurations", []):
        if _meta(o).get("name") == "default":
            spec = _spec(o)
            external = [str(c["cidr"]) for c in spec.get("serviceExternalIPs") or [] if c.get("cidr")]
            lb = [str(c["cidr"]) for c in spec.get("serviceLoadBalancerIPs") or [] if c.get("cidr")]
    return ServiceState(services, ready, unattributed, why, _metallb(raw), external, lb)


# --- judging ---------------------------------------------------------------------------------


SERVICE = "service"  # the family of a Service's records (engine/lb_services.py makes their subjects)


@dataclass
class ServiceFinding:
    """What the cluster states about one Service, named as in bgpdoctor.engine.facts; the playbooks
    decide what it means. `facts` is empty for a router check (``evidence["verify"]``) and for a
    Service whose endpoints could not be read (``evidence["unknown"]``).

    Example: ServiceFinding(subject="service/default/web", message="...", evidence={"announcer":
    "cilium", ...}, facts={"lb_advert_missing": "no CiliumBGPAdvertisement selects it"})"""

    subject: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    family: str = SERVICE


def _in_ranges(ip: str, ranges: Sequence[str]) -> bool:
    """Whether `ip` is inside one of `ranges` (CIDRs, or MetalLB's "start-end" ranges)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for text in ranges:
        try:
            if "-" in text:
                start, stop = (ipaddress.ip_address(x.strip()) for x in text.split("-", 1))
                if start.version == addr.version and start <= addr <= stop:  # type: ignore[operator]
                    return True
            elif addr in ipaddress.ip_network(text.strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


@dataclass
class _Announcement:
    """Who announces one Service's IPs: the speaker's name, the nodes that may announce it, and
    what is missing when none may (empty when an advertisement covers it)."""

    announcer: str
    nodes: list[str]
    missing: str
    details: dict[str, Any] = field(default_factory=dict)


def _all_or(selector: LabelSelector | None) -> LabelSelector:
    return selector if selector is not None else LabelSelector()


def _cilium_announcement(view: ClusterView, svc: ServiceIntent) -> _Announcement:
    cilium = view.cilium
    assert cilium is not None
    labels = svc.selector_labels()
    nodes: set[str] = set()
    why: list[str] = []
    service_items = [(a, i) for a in cilium.advertisements for i in a.items if i.type == "Service"]
    peer_configs_used = {
        p.peer_config for cc in cilium.cluster_configs for inst in cc.instances for p in inst.peers
    }
    for cc in cilium.cluster_configs:
        for inst in cc.instances:
            for peer in inst.peers:
                pc = cilium.peer_configs.get(peer.peer_config or "")
                if pc is None:
                    continue
                for adv, item in service_items:
                    if not any(
                        f.advertisements and f.advertisements.matches(adv.labels) for f in pc.families
                    ):
                        continue
                    if (
                        item.selector is not None
                        and "LoadBalancerIP" in item.service_addresses
                        and item.selector.matches(labels)
                    ):
                        nodes |= {n.name for n in view.nodes if _all_or(cc.node_selector).matches(n.labels)}
    for pol in cilium.peering_policies:
        if pol.service_selector is not None and pol.service_selector.matches(labels):
            nodes |= {n.name for n in view.nodes if _all_or(pol.node_selector).matches(n.labels)}
    if nodes:
        return _Announcement("cilium", sorted(nodes), "")
    if cilium.cluster_configs:
        if not service_items:
            why.append("no CiliumBGPAdvertisement has an advertisement of type Service")
        for adv, item in service_items:
            used = [
                pc.name
                for pc in cilium.peer_configs.values()
                if pc.name in peer_configs_used
                and any(f.advertisements and f.advertisements.matches(adv.labels) for f in pc.families)
            ]
            if item.selector is None:
                why.append(
                    f"CiliumBGPAdvertisement {adv.name} has a Service advertisement without a selector, "
                    "which selects no Service"
                )
            elif "LoadBalancerIP" not in item.service_addresses:
                why.append(
                    f"CiliumBGPAdvertisement {adv.name} advertises "
                    f"{', '.join(item.service_addresses) or 'no address type'}, not LoadBalancerIP"
                )
            elif not item.selector.matches(labels):
                why.append(
                    f"the selector of CiliumBGPAdvertisement {adv.name} ({item.selector.describe()}) "
                    f"does not match Service {svc.ref}"
                )
            elif not used:
                why.append(
                    f"CiliumBGPAdvertisement {adv.name} (labels {adv.labels or '{}'}) is selected by no "
                    "CiliumBGPPeerConfig family a peer uses"
                )
    for pol in cilium.peering_policies:
        if pol.service_selector is None:
            why.append(f"CiliumBGPPeeringPolicy {pol.name} has no serviceSelector, which selects no Service")
        else:
            why.append(
                f"the serviceSelector of CiliumBGPPeeringPolicy {pol.name} "
                f"({pol.service_selector.describe()}) does not match Service {svc.ref}"
            )
    return _Announcement(
        "cilium",
        [],
        "; ".join(dict.fromkeys(why)) or "no Cilium BGP advertisement selects it",
        {"peer_advertisement_labels": _peer_advert_labels(view)},
    )


def _peer_advert_labels(view: ClusterView) -> dict[str, str]:
    """The matchLabels a used CiliumBGPPeerConfig family selects advertisements with (for the fix)."""
    cilium = view.cilium
    if cilium is None:
        return {}
    used = {p.peer_config for cc in cilium.cluster_configs for inst in cc.instances for p in inst.peers}
    for pc in cilium.peer_configs.values():
        if pc.name in used:
            for fam in pc.families:
                if fam.advertisements is not None and fam.advertisements.match_labels:
                    return dict(fam.advertisements.match_labels)
    return {}


def _metallb_announcement(
    view: ClusterView, metallb: MetalLbView, svc: ServiceIntent, pool: MetalLbPool
) -> _Announcement | None:
    details: dict[str, Any] = {"pool": pool.name, "pool_namespace": pool.namespace}
    peers = {p.name: p for p in metallb.peers}
    nodes: set[str] = set()
    why: list[str] = []
    selecting = [a for a in metallb.bgp_advertisements if a.selects_pool(pool)]
    if not selecting:
        if any(a.selects_pool(pool) for a in metallb.l2_advertisements):
            return None  # announced on the LAN (L2 mode), by design
        unmatched = [a.name for a in metallb.bgp_advertisements if a.pool_selectors or a.pools]
        why.append(
            f"no BGPAdvertisement selects IPAddressPool {pool.name} (MetalLB logs `making 0 advertisements`)"
            + (f"; BGPAdvertisements {', '.join(unmatched)} select other pools" if unmatched else "")
        )
    for adv in selecting:
        if adv.service_selectors and not any(s.matches(svc.labels) for s in adv.service_selectors):
            why.append(f"the serviceSelectors of BGPAdvertisement {adv.name} do not match Service {svc.ref}")
            continue
        usable = [peers[n] for n in adv.peers if n in peers] if adv.peers else list(peers.values())
        if adv.peers and not usable:
            why.append(
                f"BGPAdvertisement {adv.name} names peers {', '.join(adv.peers)}, "
                "and no BGPPeer has that name"
            )
            continue
        adv_nodes = [
            n
            for n in view.nodes
            if not adv.node_selectors or any(s.matches(n.labels) for s in adv.node_selectors)
        ]
        if not adv_nodes:
            why.append(f"the nodeSelectors of BGPAdvertisement {adv.name} match no node")
            continue
        peer_nodes = {
            n.name
            for n in adv_nodes
            for p in usable
            if not p.node_selectors or any(s.matches(n.labels) for s in p.node_selectors)
        }
        if not peer_nodes:
            why.append(
                f"no node of BGPAdvertisement {adv.name} is selected by the nodeSelectors of its BGPPeers"
            )
        nodes |= peer_nodes
    if nodes:
        return _Announcement("metallb", sorted(nodes), "", details)
    return _Announcement("metallb", [], "; ".join(why), details)


def _calico_announcement(view: ClusterView, state: ServiceState, svc: ServiceIntent) -> _Announcement:
    why = []
    lb_out = [ip for ip in svc.ingress_ips if not _in_ranges(ip, state.calico_lb_cidrs)]
    ext_out = [ip for ip in svc.external_ips if not _in_ranges(ip, state.calico_external_cidrs)]
    if lb_out:
        listed = ", ".join(state.calico_lb_cidrs) or "none"
        why.append(
            f"LoadBalancer IP {', '.join(lb_out)} is outside the default BGPConfiguration's "
            f"serviceLoadBalancerIPs ({listed})"
        )
    if ext_out:
        listed = ", ".join(state.calico_external_cidrs) or "none"
        why.append(
            f"external IP {', '.join(ext_out)} is outside the default BGPConfiguration's "
            f"serviceExternalIPs ({listed})"
        )
    details = {
        "lb_ips_outside": lb_out,
        "external_ips_outside": ext_out,
        "calico_lb_cidrs": state.calico_lb_cidrs,
        "calico_external_cidrs": state.calico_external_cidrs,
    }
    if why:
        return _Announcement("calico", [], "; ".join(why), details)
    return _Announcement("calico", sorted(n.name for n in view.nodes), "", details)


def _cilium_bgp_in_use(view: ClusterView) -> bool:
    cilium = view.cilium
    return cilium is not None and bool(cilium.cluster_configs or cilium.peering_policies)


def _announcement(view: ClusterView, state: ServiceState, svc: ServiceIntent) -> _Announcement | None:
    """Who announces `svc` over BGP, or None when no BGP speaker of the cluster is meant to."""
    node_ips = {n.internal_ip for n in view.nodes if n.internal_ip}
    if all(ip in node_ips for ip in svc.ips):
        return None  # k3s servicelb (klipper) hands out the nodes' own addresses: nothing to announce
    metallb = state.metallb
    if metallb is not None:
        pool = metallb.pool_of(svc)
        if pool is not None:
            return _metallb_announcement(view, metallb, svc, pool) if metallb.peers else None
    if _cilium_bgp_in_use(view):
        if svc.load_balancer_class not in (None, CILIUM_BGP_CLASS) or not svc.ingress_ips:
            return None
        return _cilium_announcement(view, svc)
    if view.calico is not None and metallb is None:
        return _calico_announcement(view, state, svc)
    return None


def _subject(svc: ServiceIntent) -> str:
    return f"service/{svc.ref}"


def _node_ip(view: ClusterView, name: str) -> str:
    node: KubeNode | None = view.node(name)
    return f"{name} ({node.internal_ip})" if node is not None and node.internal_ip else name


def service_findings(view: ClusterView, state: ServiceState) -> list[ServiceFinding]:
    """The advertisement and endpoint facts (lb_advert_missing, etp_gap) of every Service with an
    outside IP that departs from a working design.

    Example: [ServiceFinding("service/default/web", "Service default/web
    (externalTrafficPolicy: Local, 10.0.6.1) has ready endpoints only on node-01, and no node
    announcing it over BGP is among them ...", {...}, {"etp_gap": "endpoints-on-non-speakers", ...})]
    """
    out: list[ServiceFinding] = []
    for svc in state.services:
        ann = _announcement(view, state, svc)
        if ann is None:
            continue
        base: dict[str, Any] = {
            "namespace": svc.namespace,
            "name": svc.name,
            "ips": svc.ips,
            "external_traffic_policy": svc.external_traffic_policy,
            "announcer": ann.announcer,
            "node_ips": {n.name: n.internal_ip for n in view.nodes if n.internal_ip},
            **ann.details,
        }
        if ann.missing:
            out.append(
                ServiceFinding(
                    _subject(svc),
                    f"Service {svc.ref} ({', '.join(svc.ips)}) is announced by no BGP speaker: {ann.missing}",
                    {**base, "missing": ann.missing, "labels": svc.labels},
                    {"lb_advert_missing": ann.missing},
                )
            )
            continue
        if svc.external_traffic_policy != "Local":
            continue
        if state.ready_nodes is None:
            out.append(
                ServiceFinding(
                    _subject(svc),
                    f"Service {svc.ref} has externalTrafficPolicy: Local, but its endpoints could not be "
                    f"read: {state.endpoints_unknown}",
                    {**base, "unknown": {"kind": "permission-denied", "reason": state.endpoints_unknown}},
                )
            )
            continue
        ready = state.ready_nodes.get(svc.ref, {})
        if state.unattributed.get(svc.ref):
            continue  # endpoints that name no node: where they run is unknown, so no verdict
        serving = sorted(set(ready) & set(ann.nodes))
        if serving:
            continue
        evidence = {**base, "endpoint_nodes": sorted(ready), "speaker_nodes": ann.nodes}
        if not ready:
            message = (
                f"Service {svc.ref} (externalTrafficPolicy: Local, {', '.join(svc.ips)}) has no ready "
                "endpoint on any node: every speaker withdraws its /32, so the IP is unreachable"
            )
            gap = "no-ready-endpoint"
        else:
            message = (
                f"Service {svc.ref} (externalTrafficPolicy: Local, {', '.join(svc.ips)}) has ready "
                f"endpoints only on {', '.join(_node_ip(view, n) for n in sorted(ready))}, and none of "
                f"them announces it over BGP ({ann.announcer} announces it from "
                f"{', '.join(ann.nodes)}): no node may announce the /32, so the IP is unreachable"
            )
            gap = "endpoints-on-non-speakers"
        out.append(
            ServiceFinding(
                _subject(svc),
                message,
                {**evidence, "gap": gap},
                {"etp_gap": gap, "advertising_without_endpoint": []},
            )
        )
    return out


def router_checks(view: ClusterView, state: ServiceState) -> list[ServiceFinding]:
    """What only the routers can tell, for every Service whose announcement the API shows as
    configured: which nodes really announce its /32 (``evidence["verify"] = "router-rib"``).

    These are not findings: engine/lb_services.py judges them against the routers' BGP routes
    (an eTP=Local /32 with a next hop on a node without a ready endpoint; a /32 missing from every
    router that learns routes from the speakers), and drops them when no router's routes were read.
    Example: [ServiceFinding("service/default/web", "...", {"verify":
    "router-rib", "ips": ["10.0.6.1"], "endpoint_nodes": ["node-01"], "speaker_nodes": [...],
    "node_ips": {"node-01": "10.0.4.110", ...}, ...})]
    """
    flagged = {f.subject for f in service_findings(view, state)}
    node_ips = {n.name: n.internal_ip for n in view.nodes if n.internal_ip}
    out: list[ServiceFinding] = []
    for svc in state.services:
        ann = _announcement(view, state, svc)
        if ann is None or ann.missing or _subject(svc) in flagged or not svc.ips:
            continue
        local = svc.external_traffic_policy == "Local"
        ready = (state.ready_nodes or {}).get(svc.ref, {}) if local else {}
        if local and (state.ready_nodes is None or state.unattributed.get(svc.ref)):
            continue  # where the endpoints run is unknown: the routers' next hops cannot be judged
        out.append(
            ServiceFinding(
                _subject(svc),
                f"Service {svc.ref} ({', '.join(svc.ips)}) is announced by {ann.announcer} from "
                f"{', '.join(ann.nodes)}"
                + (f", with ready endpoints on {', '.join(sorted(ready)) or 'no node'}" if local else "")
                + ": to be verified on the routers' BGP routes",
                {
                    "verify": "router-rib",
                    "namespace": svc.namespace,
                    "name": svc.name,
                    "ips": svc.ips,
                    "external_traffic_policy": svc.external_traffic_policy,
                    "announcer": ann.announcer,
                    "endpoint_nodes": sorted(ready),
                    "speaker_nodes": ann.nodes,
                    "node_ips": node_ips,
                    **ann.details,
                },
            )
        )
    return out


def state_from_view(view: ClusterView) -> ServiceState:
    """A ServiceState from the typed view alone (no EndpointSlices, no MetalLB, no externalIPs,
    externalTrafficPolicy not known): enough to judge the advertisements of LoadBalancer IPs.

    Example: state_from_view(build_view(raw)).services[0].external_traffic_policy -> "" (unknown)
    """
    default = view.calico.default_config if view.calico is not None else None
    return ServiceState(
        services=[
            ServiceIntent(
                namespace=s.namespace,
                name=s.name,
                labels=dict(s.labels),
                external_traffic_policy="",
                ingress_ips=list(s.ingress_ips),
                external_ips=[],
                load_balancer_class=s.load_balancer_class,
            )
            for s in view.lb_services
            if s.ingress_ips
        ],
        ready_nodes=None,
        unattributed={},
        endpoints_unknown="EndpointSlices were not read",
        metallb=None,
        calico_lb_cidrs=list(default.service_lb_cidrs) if default is not None else [],
    )
