"""The Cilium agent's own limits, read from its DaemonSet: may it bind the BGP ports it is given?

``cilium_no_bind_capability`` (cilium#34248, cilium#41581): a Cilium BGP instance told to listen on
a port below 1024 (``localPort`` of a CiliumBGPClusterConfig instance or of a
CiliumBGPNodeConfigOverride), or a CiliumBGPPeerConfig whose ``transport.localPort`` binds a source
port below 1024, needs CAP_NET_BIND_SERVICE in the ``cilium-agent`` container. Cilium's chart drops
every capability (``drop: [ALL]``) and adds back its own list, which lacks NET_BIND_SERVICE: GoBGP
then cannot bind, the instance does not start, and the peer sees its connection refused. A
DaemonSet that could not be read makes the fact unknown, never false. The records state facts; the
playbooks name the root cause, and the run's own listeners may show the host binds the port anyway
(engine/cluster_intent.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bgpdoctor.kube.derive import KubeFacts
from bgpdoctor.kube.families import AGENT_BIND
from bgpdoctor.kube.selectors import LabelSelector
from bgpdoctor.kube.view import CiliumView, ClusterView, KubeNode, RawCluster

__all__ = [
    "AgentContainer",
    "LowPort",
    "agent_container",
    "bind_capability_findings",
    "bind_facts",
    "low_ports",
]

DAEMONSETS = "apps/daemonsets"
AGENT_CONTAINER = "cilium-agent"
BIND = "NET_BIND_SERVICE"
PRIVILEGED_PORTS = 1024
Obj = Mapping[str, Any]


@dataclass(frozen=True)
class LowPort:
    """A port below 1024 the agent must bind on a node, and the object that asks for it.

    Example: LowPort(179, "listen", "CiliumBGPClusterConfig/bgp-remote", "instance cilium localPort",
    "kubectl patch ciliumbgpclusterconfig bgp-remote --type json -p '[...]'")
    """

    port: int
    use: str  # "listen" (the instance accepts BGP there) or "source" (it connects from there)
    owner: str
    field: str
    patch: str  # the kubectl command that moves it to a port the agent may bind

    def text(self) -> str:
        kind = "listening" if self.use == "listen" else "source"
        return f"{self.owner} {self.field} {self.port} ({kind} port)"


@dataclass(frozen=True)
class AgentContainer:
    """The cilium-agent container of the agent DaemonSet and what its securityContext grants.

    Example: AgentContainer("kube-system/cilium", 0, False, ["CHOWN", "KILL", "NET_ADMIN"], ["ALL"])
    """

    daemonset: str
    index: int
    privileged: bool
    add: list[str]
    drop: list[str]

    @property
    def may_bind(self) -> bool:
        """CAP_NET_BIND_SERVICE: privileged, added, or kept from the runtime's default set (only
        what is dropped is gone; containerd and CRI-O grant NET_BIND_SERVICE by default)."""
        return self.privileged or BIND in self.add or ("ALL" not in self.drop and BIND not in self.drop)


def _cap(name: Any) -> str:
    return str(name).strip().upper().removeprefix("CAP_")


def _mapping(value: Any) -> Obj:
    return value if isinstance(value, Mapping) else {}


def agent_container(daemonsets: Sequence[Obj]) -> AgentContainer | None:
    """The cilium-agent container among the DaemonSets read (pruned by read_intent_objects)."""
    for ds in daemonsets:
        meta = ds.get("metadata") or {}
        containers = (((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
        for index, c in enumerate(containers if isinstance(containers, list) else []):
            if not isinstance(c, Mapping) or c.get("name") != AGENT_CONTAINER:
                continue
            ctx = _mapping(c.get("securityContext"))
            caps = _mapping(ctx.get("capabilities"))
            return AgentContainer(
                daemonset=f"{meta.get('namespace', 'kube-system')}/{meta.get('name', 'cilium')}",
                index=index,
                privileged=ctx.get("privileged") is True,
                add=[_cap(x) for x in caps.get("add") or []],
                drop=[_cap(x) for x in caps.get("drop") or []],
            )
    return None


def _json_patch(kind: str, name: str, op: str, path: str, value: int | None = None) -> str:
    body = f'{{"op":"{op}","path":"{path}"' + (f',"value":{value}' if value is not None else "") + "}"
    return f"kubectl patch {kind} {name} --type json -p '[{body}]'"


def low_ports(cilium: CiliumView, node: KubeNode) -> list[LowPort]:
    """The ports below 1024 the node's Cilium BGP instances must bind (listening or source)."""
    out: list[LowPort] = []
    override = cilium.node_overrides.get(node.name)
    for cc in cilium.cluster_configs:
        selector = cc.node_selector if cc.node_selector is not None else LabelSelector()
        if not selector.matches(node.labels):
            continue
        for i, inst in enumerate(cc.instances):
            overridden = override.local_ports.get(inst.name) if override is not None else None
            if overridden is not None and overridden < PRIVILEGED_PORTS:
                assert override is not None
                index = override.instances.index(inst.name)
                out.append(
                    LowPort(
                        overridden,
                        "listen",
                        f"CiliumBGPNodeConfigOverride/{node.name}",
                        f"instance {inst.name} localPort",
                        _json_patch(
                            "ciliumbgpnodeconfigoverride",
                            node.name,
                            "replace",
                            f"/spec/bgpInstances/{index}/localPort",
                            1790,
                        ),
                    )
                )
            elif overridden is None and inst.local_port is not None and inst.local_port < PRIVILEGED_PORTS:
                out.append(
                    LowPort(
                        inst.local_port,
                        "listen",
                        f"CiliumBGPClusterConfig/{cc.name}",
                        f"instance {inst.name} localPort",
                        _json_patch(
                            "ciliumbgpclusterconfig",
                            cc.name,
                            "replace",
                            f"/spec/bgpInstances/{i}/localPort",
                            1790,
                        ),
                    )
                )
            for peer in inst.peers:
                pc = cilium.peer_configs.get(peer.peer_config) if peer.peer_config else None
                if pc is None or pc.local_port is None or pc.local_port >= PRIVILEGED_PORTS:
                    continue
                low = LowPort(
                    pc.local_port,
                    "source",
                    f"CiliumBGPPeerConfig/{pc.name}",
                    "transport.localPort",
                    _json_patch("ciliumbgppeerconfig", pc.name, "remove", "/spec/transport/localPort"),
                )
                if low not in out:
                    out.append(low)
    return out


def _unread(raw: RawCluster) -> str | None:
    if DAEMONSETS in raw.objects:
        return None
    refused = [p for p in raw.problems if "daemonsets" in p]
    return refused[0] if refused else "the DaemonSets (apps/v1) were not read"


def bind_facts(evidence: Mapping[str, Any]) -> dict[str, Any]:
    """The facts a record's evidence states: the low ports and their patches, and, where the agent's
    DaemonSet was read, `cilium_no_bind_capability` true with the patch adding the capability (None,
    unknown, when it was not: evidence["unknown"] says why).

    Example: {"host": "yuuko-k8s", "cilium_low_ports": ["CiliumBGPClusterConfig/bgp instance c localPort
    179"], "cilium_port_patch": "kubectl ...", "cilium_no_bind_capability": True, ...}
    """
    node = str(evidence.get("node"))
    ports = [p for p in evidence.get("ports", []) if isinstance(p, Mapping)]
    facts: dict[str, Any] = {
        "host": node,
        "cilium_low_ports": [f"{p.get('owner')} {p.get('field')} {p.get('port')}" for p in ports],
        "cilium_port_patch": "\n".join(dict.fromkeys(str(p.get("patch")) for p in ports)),
    }
    if isinstance(evidence.get("unknown"), Mapping):
        return {**facts, "cilium_no_bind_capability": None}
    added = [str(c) for c in evidence.get("capabilities_add", [])]
    namespace, _, name = str(evidence.get("daemonset")).partition("/")
    index = evidence.get("container_index", 0)
    path = f"/spec/template/spec/containers/{index}/securityContext/capabilities/add"
    op = (
        f'{{"op":"add","path":"{path}/-","value":"{BIND}"}}'
        if added
        else f'{{"op":"add","path":"{path}","value":["{BIND}"]}}'
    )
    return {
        **facts,
        "cilium_agent_daemonset": str(evidence.get("daemonset")),
        "cilium_agent_capabilities": [*added, BIND],
        "cilium_daemonset_patch": f"kubectl -n {namespace} patch daemonset {name} --type json -p '[{op}]'",
        "cilium_no_bind_capability": True,
    }


def bind_capability_findings(view: ClusterView, raw: RawCluster) -> list[KubeFacts]:
    """Per node whose Cilium must bind a port below 1024: `cilium_no_bind_capability` true when the
    agent container lacks CAP_NET_BIND_SERVICE, unknown when its DaemonSet could not be read, no
    record when it has it.

    Example: [KubeFacts("node/yuuko-k8s", "...", {"host": "yuuko-k8s", "cilium_no_bind_capability":
    True, ...}, {"node": "yuuko-k8s", "ports": [{"port": 179, "use": "listen", ...}], "daemonset":
    "kube-system/cilium", ...}, family="cilium-agent-bind")]
    """
    cilium = view.cilium
    if cilium is None:
        return []
    wanted = [(n, ports) for n in view.nodes if (ports := low_ports(cilium, n))]
    if not wanted:
        return []
    why = _unread(raw)
    agent = agent_container(raw.objects.get(DAEMONSETS, [])) if why is None else None
    if why is None and agent is None:
        why = f"no DaemonSet with a {AGENT_CONTAINER} container was found among those read"
    out = []
    for node, ports in wanted:
        evidence: dict[str, Any] = {
            "node": node.name,
            "ports": [vars(p) for p in ports],
            "internal_ip": node.internal_ip,
        }
        asked = "; ".join(p.text() for p in ports)
        if agent is None:
            evidence["unknown"] = {
                "kind": "permission-denied" if "403" in str(why) else "not-collected",
                "reason": why,
            }
            out.append(
                KubeFacts(
                    f"node/{node.name}",
                    f"Cilium on node {node.name} must bind ports below 1024 ({asked}); whether its agent "
                    f"may (CAP_NET_BIND_SERVICE) is unknown: {why}",
                    bind_facts(evidence),
                    evidence,
                    hosts=[node.name],
                    related=[node.name],
                    family=AGENT_BIND,
                )
            )
            continue
        if agent.may_bind:
            continue
        evidence.update(
            {
                "daemonset": agent.daemonset,
                "container": AGENT_CONTAINER,
                "container_index": agent.index,
                "capabilities_add": agent.add,
                "capabilities_drop": agent.drop,
                "has_add": bool(agent.add),
            }
        )
        out.append(
            KubeFacts(
                f"node/{node.name}",
                f"Cilium on node {node.name} must bind ports below 1024 ({asked}), but the "
                f"{AGENT_CONTAINER} container of DaemonSet {agent.daemonset} drops "
                f"{', '.join(agent.drop) or 'nothing'} and adds back {', '.join(agent.add) or 'nothing'}, "
                "without NET_BIND_SERVICE: GoBGP cannot bind, so "
                "the BGP instance does not start and its peers are refused",
                bind_facts(evidence),
                evidence,
                hosts=[node.name],
                related=[node.name],
                family=AGENT_BIND,
            )
        )
    return out
