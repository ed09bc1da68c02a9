"""The kinds of record bgpdoctor.kube states facts on (a record's `family`), in one place.

A family says which facts a record states and how engine/cluster_intent.py makes them a subject;
it is never a root cause: the playbooks judge the facts (engine/cluster.py), so a copied or edited
playbook changes the finding. Plain names, importing nothing (the engine reads them at import).
"""

from __future__ import annotations

CALICO_MESH = "calico-mesh-and-reflectors"  # the mesh switch next to the route-reflector design
LB_CLAIMS = "lb-controller-claims"  # the LoadBalancer controllers claiming one Service
LOCAL_PEER = "node-local-peer"  # a node's speaker peering with another speaker of the same node
CONFIGURED_NEIGHBORS = "configured-neighbors"  # what a node's daemon should run (verify: daemon-neighbors)
KUBELET_ADDRESS = "kubelet-address"  # a node's InternalIP while metrics-server is not Available
METRICS_API = "metrics-api"  # the metrics APIService's availability
AGENT_BIND = "cilium-agent-bind"  # the Cilium agent's capabilities against the ports it must bind
ORIGINATED = "originated-prefixes"  # what a Cilium node may originate (verify: speaker-rib)
METALLB_SESSION = "metallb-session"  # a MetalLB session as its speaker's log tells it
METALLB_SPEAKER = "metallb-speaker-config"  # a MetalLB speaker's configuration against its log

# the families engine/cluster_intent.py makes subjects of
INTENT_FAMILIES = (
    CALICO_MESH,
    LB_CLAIMS,
    LOCAL_PEER,
    CONFIGURED_NEIGHBORS,
    AGENT_BIND,
    ORIGINATED,
    METALLB_SESSION,
    METALLB_SPEAKER,
)
