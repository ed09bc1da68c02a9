"""Write an inventory from what the cluster says (``bgpdoctor discover``, ``run --context``).

Nodes become hosts of role ``node`` (speaker ``gobgp`` for Cilium, ``bird1`` for Calico) with their
ASN, InternalIP, pod CIDRs and peers. Every peer address that is not a node is a router the user
must complete: it is listed as a host of role ``router`` with a ``connect: {ssh: {host: ADDRESS}}``
placeholder and a comment. Host names from ``~/.ssh/config`` are merged: a node whose name or
InternalIP matches a ``Host`` alias or its ``HostName`` gets ``connect: {ssh: {host: ALIAS}}``.
A node without such an alias that runs a Cilium or calico-node agent pod gets
``connect: {pod: {context: C, node: NODE, cni: CNI}}`` (commands through the exec API); SSH wins
when both exist, because SSH sees the whole host (tcpdump, nft) and needs no exec permission.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from bgpdoctor.drivers import agent_for
from bgpdoctor.intent import address_text
from bgpdoctor.inventory_model import Connect, Host, Inventory, Peer, PodTarget, Speaker, SshTarget
from bgpdoctor.kube.derive import DerivedPeer, NodeBgp, kube_findings, node_bgp
from bgpdoctor.kube.services import ServiceState, read_service_objects, router_checks, service_state
from bgpdoctor.kube.view import ClusterView, RawCluster, build_view

__all__ = [
    "Discovery",
    "discover_cluster",
    "inventory_from_cluster",
    "inventory_from_view",
    "render_inventory_yaml",
    "ssh_aliases",
]

_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass
class Discovery:
    """What discover produced. ``routers`` are the host names that need the user's attention.

    Example: Discovery(inventory=Inventory(...), notes=["router 192.168.6.1 found as a peer address:
    complete its connect: block"], routers=["router-mine"], context="home", server="https://...")
    """

    inventory: Inventory
    notes: list[str]
    routers: list[str] = field(default_factory=list)
    context: str | None = None
    server: str = ""
    findings: list[Any] = field(default_factory=list)
    # per node, the neighbors its daemon should run: judged on the daemon's table (engine/cluster_intent.py)
    speaker_checks: list[Any] = field(default_factory=list)
    raw: RawCluster | None = None  # the API objects as read (redacted): a recording keeps them


def ssh_aliases(path: str | None) -> dict[str, str]:
    """Map every concrete ``Host`` alias and its ``HostName`` (lower-cased) to the alias.

    ``Include`` is expanded; wildcard patterns are skipped. Example: a config with
    ``Host yuuko\\n  HostName 192.168.0.81`` -> {"yuuko": "yuuko", "192.168.0.81": "yuuko"}
    """
    import paramiko

    from bgpdoctor.transport.ssh import read_ssh_config

    file = Path(path).expanduser() if path else Path("~/.ssh/config").expanduser()
    if not file.is_file():
        return {}
    cfg = paramiko.SSHConfig.from_text(read_ssh_config(file))  # Match exec only when opted in
    out: dict[str, str] = {}
    for alias in sorted(cfg.get_hostnames()):
        if any(ch in alias for ch in "*?!") or not alias:
            continue
        out.setdefault(alias.lower(), alias)
        hostname = cfg.lookup(alias).get("hostname")
        if hostname and hostname.lower() != alias.lower():
            out.setdefault(hostname.lower(), alias)
    return out


def _is_v4(address: str | None) -> bool:
    if not address:
        return False
    try:
        return isinstance(ipaddress.ip_address(address), ipaddress.IPv4Address)
    except ValueError:
        return False


def _router_name(address: str, names: set[str], taken: set[str]) -> str:
    if len(names) == 1:
        (name,) = names
        if _NAME_OK.match(name) and name not in taken:
            return name
    return "router-" + address.replace(".", "-")


def inventory_from_view(
    view: ClusterView,
    ssh_config: str | None = None,
    aliases: dict[str, str] | None = None,
    agents: dict[str, Any] | None = None,
    kubeconfig: str | None = None,
    services: ServiceState | None = None,
) -> Discovery:
    """Build an Inventory (and notes) from a ClusterView (``services``: see kube_findings).

    Example: inventory_from_view(view).inventory.hosts["sakamoto"] -> Host(role="node", speaker="gobgp",
    connect=Connect(ssh=SshTarget(host="192.168.6.80")), asn=64514, pod_cidrs=[...], peers=[Peer(
    host="router-mine", address=192.168.6.1, asn=64513)])
    ``agents`` maps node names to their agent pod (podexec.AgentPod): such a node without an SSH
    alias is reached by exec, ``connect=Connect(pod=PodTarget(context="home", node="sakamoto",
    cni="cilium"))``; ``kubeconfig`` is written into those targets when it was given explicitly.
    """
    alias_map = aliases if aliases is not None else ssh_aliases(ssh_config)
    bgp = node_bgp(view)
    notes: list[str] = []
    node_by_ip = {nb.internal_ip: nb.node for nb in bgp if nb.internal_ip}
    node_names = {nb.node for nb in bgp}

    # routers: every IPv4 peer address that is not a node
    router_peers: dict[str, list[tuple[NodeBgp, DerivedPeer]]] = {}
    for nb in bgp:
        for p in nb.peers:
            address = address_text(p.address_v4)
            if address and p.peer_node is None and address not in node_by_ip:
                router_peers.setdefault(address, []).append((nb, p))
    router_of: dict[str, str] = {}
    taken = set(node_names)
    for address in sorted(router_peers, key=ipaddress.IPv4Address):
        name = _router_name(address, {p.name for _, p in router_peers[address] if p.name}, taken)
        taken.add(name)
        router_of[address] = name

    def connect_for(name: str, address: str | None) -> Connect:
        alias = alias_map.get(name.lower()) or (alias_map.get(address) if address else None)
        agent = (agents or {}).get(name)
        if alias is None and agent is not None:
            notes.append(
                f"node {name}: no ssh_config entry; commands run in its agent pod "
                f"{agent.namespace}/{agent.name} through the API (needs create on pods/exec)"
            )
            return Connect(
                pod=PodTarget(context=view.context, kubeconfig=kubeconfig, node=name, cni=agent.cni)
            )
        return Connect(ssh=SshTarget(host=alias or address or name))

    hosts: dict[str, Host] = {}
    for nb in bgp:
        agent = agent_for(nb.speaker)  # the CNI agent that runs the node's daemon (None: no speaker)
        peers: list[Peer] = []
        for p in nb.peers:
            v4 = p.address_v4
            if v4 is None:
                notes.append(
                    f"node {nb.node}: peer {p.name} ({p.address or 'no address'}) skipped: "
                    "not an IPv4 address"
                )
                continue
            if p.asn is None:
                notes.append(f"node {nb.node}: peer {p.address} skipped: no peer ASN configured")
                continue
            other = p.peer_node or node_by_ip.get(str(v4)) or router_of.get(str(v4))
            peers.append(
                Peer(
                    host=other,
                    address=v4,
                    asn=p.asn,
                    multihop=p.multihop,
                    name=agent.protocol_name(str(v4), p.source, p.name or "") if agent is not None else None,
                )
            )
        if nb.internal_ip is None:
            notes.append(f"node {nb.node} has no IPv4 InternalIP: complete its connect: block")
        for problem in (pr for p in nb.peers for pr in p.problems):
            notes.append(f"node {nb.node}: {problem}")
        hosts[nb.node] = Host(
            role="node",
            # a speaker kind an agent runs is a driver's, so an inventory speaker
            speaker=cast(Speaker, nb.speaker) if agent is not None else "none",
            connect=connect_for(nb.node, nb.internal_ip),
            asn=nb.asn,
            router_id=ipaddress.IPv4Address(nb.router_id) if _is_v4(nb.router_id) else None,
            addresses=[ipaddress.IPv4Address(nb.internal_ip)] if _is_v4(nb.internal_ip) else [],
            pod_cidrs=[ipaddress.IPv4Network(c, strict=False) for c in nb.pod_cidrs],
            internal_ip=ipaddress.IPv4Address(nb.internal_ip) if _is_v4(nb.internal_ip) else None,
            listens=nb.listens,
            peers=peers,
            control_socket=agent.control_socket if agent is not None else None,
        )

    for address, name in router_of.items():
        uses = router_peers[address]
        asns = sorted({p.asn for _, p in uses if p.asn is not None})
        if len(asns) > 1:
            notes.append(f"router {address} is given different ASNs by the cluster: {asns}")
        back = [
            Peer(host=nb.node, address=ipaddress.IPv4Address(nb.internal_ip), asn=nb.asn)
            for nb in sorted({id(nb): nb for nb, _ in uses}.values(), key=lambda n: n.node)
            if _is_v4(nb.internal_ip) and nb.asn is not None
        ]
        alias = alias_map.get(address) or alias_map.get(name.lower())
        hosts[name] = Host(
            role="router",
            speaker="bird2",
            connect=Connect(ssh=SshTarget(host=alias or address)),
            asn=asns[0] if asns else None,
            addresses=[ipaddress.IPv4Address(address)],
            listens=True,
            peers=back,
        )
        via = ", ".join(sorted({nb.node for nb, _ in uses}))
        if alias:
            notes.append(
                f"router {address} ({name}) found as a peer address of {via}; ssh alias {alias!r} used"
            )
        else:
            notes.append(f"router {address} found as a peer address of {via}: complete its connect: block")

    pod_cidr = None
    if view.calico is not None:
        pool = next((p for p in view.calico.ippools if not p.disabled and _is_v4(p.cidr.split("/")[0])), None)
        pod_cidr = pool.cidr if pool else None
    elif view.cilium is not None and view.cilium.config is not None:
        cfg = view.cilium.config
        pod_cidr = cfg.native_routing_cidr or (cfg.cluster_pool_cidrs[0] if cfg.cluster_pool_cidrs else None)
    findings = kube_findings(view, services=services)
    from bgpdoctor.engine.cluster import finding_notes

    notes += finding_notes(findings)
    inventory = Inventory(
        hosts=hosts, pod_cidr=[ipaddress.IPv4Network(pod_cidr, strict=False)] if pod_cidr else None
    )
    return Discovery(
        inventory=inventory,
        notes=notes,
        routers=sorted(router_of.values()),
        context=view.context,
        server=view.server,
        findings=findings,
    )


def render_inventory_yaml(discovery: Discovery, now: dt.datetime | None = None) -> str:
    """The inventory as YAML with a header comment (context, time, notes) and router comments.

    Example first lines: ``# bgpdoctor discover: context 'home' (https://127.0.0.1:6443) at
    2026-11-22T22:10:00+00:00``
    """
    now = now or dt.datetime.now(dt.UTC)
    data: dict[str, Any] = {"version": 1}
    data.update(discovery.inventory.model_dump(mode="json", exclude_none=True, exclude_defaults=True))
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=100)
    where = f"context {discovery.context!r} ({discovery.server})" if discovery.context else discovery.server
    head = [
        f"# bgpdoctor discover: {where} at {now.replace(microsecond=0).isoformat()}",
        "# Review before use. Routers were found as BGP peer addresses of the nodes: complete",
        "# their connect: blocks (ssh host/user) and check their speaker; their peers list what",
        "# the cluster expects.",
    ]
    if discovery.notes:
        head.append("# Notes:")
        head += [f"#   - {n}" for n in discovery.notes]
    lines = body.splitlines()
    out: list[str] = []
    routers = set(discovery.routers)
    for line in lines:
        m = re.match(r"^  ([^ :#][^:]*):$", line)
        if m and m.group(1) in routers:
            out.append("  # router found as a BGP peer address: complete connect: and check speaker/asn")
        out.append(line)
    return "\n".join(head + out) + "\n"


def discover_cluster(
    context: str | None,
    kubeconfig: str | None,
    ssh_config: str | None = None,
    timeout: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> Discovery:
    """Open the cluster, read it, and build the inventory (see inventory_from_view)."""
    from bgpdoctor.kube.cluster_intent import (
        calico_bgp_disabled,
        disable_calico_bgp,
        intent_findings,
        read_intent_objects,
    )
    from bgpdoctor.kube.config import DEFAULT_TIMEOUT, open_client
    from bgpdoctor.kube.metallb import read_speaker_logs
    from bgpdoctor.kube.podexec import agent_pods
    from bgpdoctor.kube.reader import read_cluster

    kc = open_client(context, kubeconfig, timeout or DEFAULT_TIMEOUT)
    try:
        raw = read_cluster(kc, progress)
        read_service_objects(kc, raw, progress)
        read_intent_objects(kc, raw, progress)
        read_speaker_logs(kc, raw, progress)
        agents = agent_pods(kc)
    finally:
        kc.close()
    view = build_view(raw)
    services = service_state(raw)
    discovery = inventory_from_view(view, ssh_config, agents=agents, kubeconfig=kubeconfig, services=services)
    discovery.findings += router_checks(view, services)  # judged on the routers' routes, not findings yet
    intent = intent_findings(view, raw)
    from bgpdoctor.engine.cluster import PROBE_FIRST, finding_notes

    discovery.notes += finding_notes([f for f in intent if getattr(f, "family", "") in PROBE_FIRST])
    # what each node's daemon runs decides these: records to judge, not findings
    daemon_checks = [f for f in intent if f.evidence.get("verify") in ("daemon-neighbors", "speaker-rib")]
    discovery.findings += [f for f in intent if f not in daemon_checks]
    discovery.speaker_checks = daemon_checks
    bgp_off = calico_bgp_disabled(raw)
    if bgp_off:
        disable_calico_bgp(discovery, bgp_off)
    discovery.notes = raw.problems + discovery.notes
    discovery.raw = raw
    return discovery


def cluster_findings(raw: RawCluster) -> list[Any]:
    """The configuration findings a run draws from the API objects it read (pure: no API calls).

    `discover_cluster` reaches the same list; `replay` calls this on a recording's objects, so a
    recorded run is judged by the current code, not by the findings of the version that recorded it.
    """
    from bgpdoctor.kube.cluster_intent import calico_bgp_disabled, intent_findings, without_calico_bgp

    view = build_view(raw)
    services = service_state(raw)
    found = (
        kube_findings(view, services=services) + router_checks(view, services) + intent_findings(view, raw)
    )
    return without_calico_bgp(found) if calico_bgp_disabled(raw) else found


def inventory_from_cluster(
    context: str | None, kubeconfig: str | None, ssh_config: str | None = None
) -> tuple[Inventory, list[str]]:
    """The inventory for ``bgpdoctor run --context C`` plus notes for the user (print them to stderr).

    Example: (Inventory(hosts={"sakamoto": ..., "router-mine": ...}),
    ["router 192.168.6.1 found as a peer address of sakamoto: complete its connect: block"])
    """
    discovery = discover_cluster(context, kubeconfig, ssh_config)
    return discovery.inventory, discovery.notes
