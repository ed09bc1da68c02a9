"""Real-shaped clusters after the seeds (000, 001, 002, 003) for the fake API server.

Each builder returns a list of API objects (dicts, as kube-apiserver serves them). Every custom
resource validates against the CRD schemas in tests/fixtures/crds (tests/unit/kube checks that).
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]
T0 = "2026-11-20T08:58:17Z"


def node(
    name: str,
    ip: str,
    pod_cidr: str | None,
    labels: dict[str, str] | None = None,
    ready: bool = True,
    annotations: dict[str, str] | None = None,
) -> Obj:
    meta: Obj = {
        "name": name,
        "uid": f"uid-{name}",
        "resourceVersion": "1001",
        "creationTimestamp": T0,
        "labels": {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            **(labels or {}),
        },
        "annotations": {"node.alpha.kubernetes.io/ttl": "0", **(annotations or {})},
    }
    spec: Obj = {"providerID": f"k3s://{name}"}
    if pod_cidr:
        spec["podCIDR"] = pod_cidr
        spec["podCIDRs"] = [pod_cidr]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta,
        "spec": spec,
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "Unknown",
                    "reason": "KubeletReady" if ready else "NodeStatusUnknown",
                    "message": "kubelet is posting ready status"
                    if ready
                    else "Kubelet stopped posting node status.",
                    "lastHeartbeatTime": T0,
                    "lastTransitionTime": T0,
                }
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": "b",
                "containerRuntimeVersion": "containerd://2.1.5-k3s1",
                "kernelVersion": "6.1.0-40-amd64",
                "kubeProxyVersion": "v1.34.5+k3s1",
                "kubeletVersion": "v1.34.5+k3s1",
                "machineID": "m",
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "systemUUID": "s",
            },
        },
    }


def configmap(namespace: str, name: str, data: dict[str, str]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "resourceVersion": "77",
            "creationTimestamp": T0,
        },
        "data": data,
    }


def cilium_config(**overrides: str) -> Obj:
    data = {
        "cluster-name": "default",
        "ipam": "kubernetes",
        "routing-mode": "native",
        "ipv4-native-routing-cidr": "10.42.0.0/16",
        "auto-direct-node-routes": "false",
        "enable-bgp-control-plane": "true",
        "enable-ipv4": "true",
        "enable-ipv6": "false",
        "kube-proxy-replacement": "true",
    }
    data.update(overrides)
    return configmap("kube-system", "cilium-config", data)


def metrics_apiservice(available: bool = True) -> Obj:
    cond = (
        {
            "type": "Available",
            "status": "True",
            "reason": "Passed",
            "message": "all checks passed",
            "lastTransitionTime": T0,
        }
        if available
        else {
            "type": "Available",
            "status": "False",
            "reason": "FailedDiscoveryCheck",
            "message": "failing or missing response from "
            "https://10.42.0.12:10250/apis/metrics.k8s.io/v1beta1: "
            'Get "https://10.42.0.12:10250/apis/metrics.k8s.io/v1beta1": context deadline exceeded',
            "lastTransitionTime": T0,
        }
    )
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {
            "name": "v1beta1.metrics.k8s.io",
            "uid": "uid-apisvc",
            "resourceVersion": "9",
            "creationTimestamp": T0,
            "labels": {"k8s-app": "metrics-server"},
        },
        "spec": {
            "group": "metrics.k8s.io",
            "version": "v1beta1",
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
            "insecureSkipTLSVerify": True,
            "service": {"name": "metrics-server", "namespace": "kube-system", "port": 443},
        },
        "status": {"conditions": [cond]},
    }


def agent_pod(name: str, namespace: str, node_name: str, app: str, container: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "labels": {"k8s-app": app},
            "creationTimestamp": T0,
        },
        "spec": {
            "nodeName": node_name,
            "hostNetwork": True,
            "containers": [{"name": container, "image": f"quay.io/{app}:v1"}],
        },
        "status": {"phase": "Running", "hostIP": "192.168.6.80", "podIP": "192.168.6.80"},
    }


def lb_service(namespace: str, name: str, ip: str | None, labels: dict[str, str] | None = None) -> Obj:
    svc: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "labels": labels or {},
            "creationTimestamp": T0,
        },
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "my-app"},
            "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 31080}],
            "clusterIP": "10.70.12.34",
            "clusterIPs": ["10.70.12.34"],
            "externalTrafficPolicy": "Cluster",
        },
        "status": {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}] if ip else []}},
    }
    return svc


def cr(
    api_version: str,
    kind: str,
    name: str,
    spec: Obj,
    labels: dict[str, str] | None = None,
    status: Obj | None = None,
) -> Obj:
    meta: Obj = {
        "name": name,
        "uid": f"uid-{kind}-{name}",
        "resourceVersion": "500",
        "generation": 1,
        "creationTimestamp": T0,
    }
    if labels:
        meta["labels"] = labels
    obj: Obj = {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": spec}
    if status is not None:
        obj["status"] = status
    return obj


# --- Cilium (seeds 000 / 001 / 003) ---------------------------------------------------------


def cluster_config(
    name: str,
    selector: Obj | None,
    local_asn: int,
    peers: list[tuple[str, str, int]],
    peer_config: str | None = "l3-bgp-peer-config",
    version: str = "v2",
) -> Obj:
    spec: Obj = {
        "bgpInstances": [
            {
                "name": "cilium",
                "localASN": local_asn,
                "peers": [
                    {
                        "name": pname,
                        "peerASN": asn,
                        "peerAddress": addr,
                        **({"peerConfigRef": {"name": peer_config}} if peer_config else {}),
                    }
                    for pname, addr, asn in peers
                ],
            }
        ]
    }
    if selector is not None:
        spec["nodeSelector"] = selector
    return cr(f"cilium.io/{version}", "CiliumBGPClusterConfig", name, spec)


def peer_config(name: str = "l3-bgp-peer-config", multihop: int | None = None, version: str = "v2") -> Obj:
    spec: Obj = {
        "timers": {"holdTimeSeconds": 9, "keepAliveTimeSeconds": 3},
        "gracefulRestart": {"enabled": True, "restartTimeSeconds": 15},
        "families": [
            {"afi": "ipv4", "safi": "unicast", "advertisements": {"matchLabels": {"advertise": "bgp"}}}
        ],
    }
    if multihop:
        spec["ebgpMultihop"] = multihop
    return cr(f"cilium.io/{version}", "CiliumBGPPeerConfig", name, spec)


def advertisement(
    name: str, items: list[Obj], version: str = "v2", labels: dict[str, str] | None = None
) -> Obj:
    return cr(
        f"cilium.io/{version}",
        "CiliumBGPAdvertisement",
        name,
        {"advertisements": items},
        labels=labels if labels is not None else {"advertise": "bgp"},
    )


def node_config(
    node_name: str, local_asn: int, peers: list[tuple[str, str, int, str]], version: str = "v2"
) -> Obj:
    """peers: (name, address, asn, peeringState)."""
    spec = {
        "bgpInstances": [
            {
                "name": "cilium",
                "localASN": local_asn,
                "peers": [
                    {
                        "name": n,
                        "peerAddress": a,
                        "peerASN": asn,
                        "peerConfigRef": {"name": "l3-bgp-peer-config"},
                    }
                    for n, a, asn, _ in peers
                ],
            }
        ]
    }
    status = {
        "bgpInstances": [
            {
                "name": "cilium",
                "localASN": local_asn,
                "peers": [
                    {
                        "name": n,
                        "peerAddress": a,
                        "peerASN": asn,
                        "peeringState": st,
                        **({"establishedTime": "2026-11-20T09:00:00Z"} if st == "established" else {}),
                        "routeCount": [{"afi": "ipv4", "safi": "unicast", "advertised": 1, "received": 3}],
                        "timers": {"appliedHoldTimeSeconds": 9, "appliedKeepaliveSeconds": 3},
                    }
                    for n, a, asn, st in peers
                ],
            }
        ]
    }
    return cr(f"cilium.io/{version}", "CiliumBGPNodeConfig", node_name, spec, status=status)


def seed001(version: str = "v2") -> list[Obj]:
    """Seed 001's final design: two ClusterConfigs split by node-type, PodCIDR advertised."""
    objs = [
        node("sakamoto", "192.168.6.80", "10.42.0.0/24"),
        node("yuuko-k8s", "192.168.0.81", "10.42.3.0/24", labels={"node-type": "remote"}),
        cilium_config(),
        metrics_apiservice(True),
        agent_pod("cilium-7xk2p", "kube-system", "sakamoto", "cilium", "cilium-agent"),
        cluster_config(
            "bgp-local",
            {"matchExpressions": [{"key": "node-type", "operator": "NotIn", "values": ["remote"]}]},
            64514,
            [("router-mine", "192.168.6.1", 64513)],
            version=version,
        ),
        cluster_config(
            "bgp-remote",
            {"matchLabels": {"node-type": "remote"}},
            64514,
            [("router-home", "192.168.0.1", 64515)],
            version=version,
        ),
        peer_config(version=version),
        advertisement("bgp-advertisements", [{"advertisementType": "PodCIDR"}], version=version),
    ]
    if version == "v2":
        objs += [
            node_config("sakamoto", 64514, [("router-mine", "192.168.6.1", 64513, "established")]),
            node_config("yuuko-k8s", 64514, [("router-home", "192.168.0.1", 64515, "established")]),
        ]
    return objs


def seed000_broken() -> list[Obj]:
    """Seed 000 before the fix: autoDirectNodeRoutes on across sites, no PodCIDR advertisement,
    metrics-server cannot reach the remote kubelet."""
    return [
        node("sakamoto", "192.168.6.80", "10.42.0.0/24"),
        node("yuuko-k8s", "192.168.0.81", "10.42.3.0/24", labels={"node-type": "remote"}),
        cilium_config(**{"auto-direct-node-routes": "true"}),
        metrics_apiservice(False),
        cluster_config("bgp", None, 64514, [("router-mine", "192.168.6.1", 64513)]),
        peer_config(),
        node_config("sakamoto", 64514, [("router-mine", "192.168.6.1", 64513, "established")]),
        node_config("yuuko-k8s", 64514, [("router-mine", "192.168.6.1", 64513, "active")]),
    ]


def seed003(lb_block: Obj | None = None) -> list[Obj]:
    """Seed 003: three nodes in 10.0.4.0/24, one switch peer, LB pool 10.0.6.0/24 (or lb_block)."""
    nodes = [
        ("master-01", "10.0.4.109", "10.60.0.0/24"),
        ("node-01", "10.0.4.110", "10.60.1.0/24"),
        ("gpu-node-01", "10.0.4.111", "10.60.2.0/24"),
    ]
    return [
        *(node(n, ip, c) for n, ip, c in nodes),
        cilium_config(**{"ipv4-native-routing-cidr": "10.60.0.0/16", "bpf-lb-mode": "dsr"}),
        metrics_apiservice(True),
        cluster_config("bgp", None, 65001, [("switch", "10.0.4.250", 65000)], peer_config="default-peer"),
        peer_config("default-peer"),
        advertisement("pod-cidr", [{"advertisementType": "PodCIDR"}]),
        advertisement(
            "lb-ips",
            [
                {
                    "advertisementType": "Service",
                    "service": {"addresses": ["LoadBalancerIP"]},
                    "selector": {
                        "matchExpressions": [
                            {"key": "bgp", "operator": "NotIn", "values": ["never-used-value"]}
                        ]
                    },
                }
            ],
        ),
        cr(
            "cilium.io/v2",
            "CiliumLoadBalancerIPPool",
            "lb-pool",
            {"blocks": [lb_block or {"start": "10.0.6.1", "stop": "10.0.6.254"}]},
        ),
        lb_service("default", "my-service", "10.0.6.1"),
    ]


def peering_policy_cluster() -> list[Obj]:
    """BGPv1 (CiliumBGPPeeringPolicy, cilium.io/v2alpha1) as seed 003's troubleshooting lists it."""
    return [
        node("master-01", "10.0.4.109", "10.60.0.0/24", labels={"bgp": "on"}),
        node("node-01", "10.0.4.110", "10.60.1.0/24"),
        cilium_config(),
        cr(
            "cilium.io/v2alpha1",
            "CiliumBGPPeeringPolicy",
            "rack0",
            {
                "nodeSelector": {"matchLabels": {"bgp": "on"}},
                "virtualRouters": [
                    {
                        "localASN": 65001,
                        "exportPodCIDR": True,
                        "neighbors": [
                            {"peerAddress": "10.0.4.250/32", "peerASN": 65000, "eBGPMultihopTTL": 2}
                        ],
                    }
                ],
            },
        ),
    ]


# --- Calico (seed 002) ----------------------------------------------------------------------


def ipam_block(cidr: str, node_name: str | None, used: int = 3) -> Obj:
    """A Calico IPAMBlock as calico-ipam writes it (crd.projectcalico.org/v1 only)."""
    size = 2 ** (32 - int(cidr.split("/")[1]))
    spec: Obj = {
        "cidr": cidr,
        "allocations": [0, 1, 2][:used] + [None] * (size - used),
        "attributes": [{"handle_id": f"k8s-pod-network.{i:04x}", "secondary": {}} for i in range(used)],
        "sequenceNumber": 1763640000000000000,
        "sequenceNumberForAllocation": {str(i): 1763640000000000000 for i in range(used)},
        "strictAffinity": False,
        "unallocated": list(range(used, size)),
        "deleted": False,
    }
    if node_name:
        spec["affinity"] = f"host:{node_name}"
    name = cidr.replace(".", "-").replace("/", "-")
    return cr("crd.projectcalico.org/v1", "IPAMBlock", name, spec)


def calico_seed002(
    group_version: str = "crd.projectcalico.org/v1",
    mesh: bool = True,
    hkg_region: str = "Global",
    calico_ipam: bool = False,
) -> list[Obj]:
    """Seed 002's Calico cluster. calico_ipam: nodes without spec.podCIDR, pods from IPAM blocks."""
    ann = "projectcalico.org/IPv4Address"
    objs = [
        node(
            "kubemaster",
            "192.168.100.251",
            None if calico_ipam else "10.42.0.0/24",
            labels={"region": "WDS"},
            annotations={ann: "192.168.100.251/24"},
        ),
        node(
            "kubenode-wds-1",
            "192.168.100.252",
            None if calico_ipam else "10.42.1.0/24",
            labels={"region": "WDS"},
            annotations={ann: "192.168.100.252/24"},
        ),
        node(
            "kubenode-hkg04",
            "10.2.5.7",
            None if calico_ipam else "10.42.2.0/24",
            labels={"region": hkg_region},
            annotations={ann: "10.2.5.7/24"},
        ),
        metrics_apiservice(True),
        agent_pod("calico-node-dhl2c", "calico-system", "kubemaster", "calico-node", "calico-node"),
    ]
    if calico_ipam:
        objs += [
            ipam_block("10.42.189.64/26", "kubemaster"),
            ipam_block("10.42.37.0/26", "kubenode-wds-1"),
            ipam_block("10.42.37.64/26", "kubenode-wds-1"),
            ipam_block("10.42.2.192/26", "kubenode-hkg04"),
            ipam_block("10.42.250.0/26", None, used=0),  # released affinity: nobody announces it
        ]
    for name, sel, ip in [
        ("route-reflector-domestic", "region == 'Domestic'", "100.64.0.108"),
        ("route-reflector-wds", "region == 'WDS'", "192.168.100.1"),
        ("route-reflector-global", "region == 'Global'", "100.64.1.106"),
    ]:
        objs.append(
            cr(group_version, "BGPPeer", name, {"nodeSelector": sel, "peerIP": ip, "asNumber": 64512})
        )
    objs.append(
        cr(
            group_version,
            "BGPConfiguration",
            "default",
            {
                "asNumber": 64512,
                "nodeToNodeMeshEnabled": mesh,
                "logSeverityScreen": "Info",
            },
        )
    )
    objs.append(
        cr(
            group_version,
            "IPPool",
            "default-ipv4-ippool",
            {
                "cidr": "10.42.0.0/16",
                "blockSize": 26,
                "ipipMode": "Never",
                "vxlanMode": "Never",
                "natOutgoing": True,
                "nodeSelector": "all()",
            },
        )
    )
    status = {
        "lastUpdated": "2026-11-20T12:58:00Z",
        "agent": {
            "birdV4": {
                "state": "Ready",
                "version": "v0.3.3+birdv1.6.8",
                "routerID": "192.168.100.251",
                "lastBootTime": "2026-11-20 08:58:17",
            }
        },
        "bgp": {
            "numberEstablishedV4": 3,
            "numberNotEstablishedV4": 0,
            "numberEstablishedV6": 0,
            "numberNotEstablishedV6": 0,
            "peersV4": [
                {
                    "peerIP": "192.168.100.252",
                    "type": "NodeMesh",
                    "state": "Established",
                    "since": "08:59:00",
                },
                {"peerIP": "10.2.5.7", "type": "NodeMesh", "state": "Established", "since": "08:58:33"},
                {"peerIP": "192.168.100.1", "type": "NodePeer", "state": "Established", "since": "12:57:44"},
            ],
        },
    }
    objs.append(
        cr(
            group_version,
            "CalicoNodeStatus",
            "kubemaster-status",
            {"node": "kubemaster", "classes": ["Agent", "BGP"], "updatePeriodSeconds": 10},
            status=status,
        )
    )
    return objs


def deep(objs: list[Obj]) -> list[Obj]:
    return copy.deepcopy(objs)


# Cilium's chart (install/kubernetes/cilium/values.yaml, securityContext.capabilities.ciliumAgent):
# what the cilium-agent container adds back after dropping ALL; NET_BIND_SERVICE is not in it.
CILIUM_AGENT_CAPABILITIES = [
    "CHOWN",
    "KILL",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "SYS_MODULE",
    "SYS_ADMIN",
    "SYS_RESOURCE",
    "DAC_OVERRIDE",
    "FOWNER",
    "SETGID",
    "SETUID",
]


def cilium_daemonset(
    add: list[str] | None = None, drop: list[str] | None = None, privileged: bool | None = None
) -> Obj:
    """The agent DaemonSet as Cilium's Helm chart renders it (the parts bgpdoctor reads, and a few more)."""
    security: Obj = {
        "seLinuxOptions": {"level": "s0", "type": "spc_t"},
        "capabilities": {
            "add": list(CILIUM_AGENT_CAPABILITIES if add is None else add),
            "drop": list(["ALL"] if drop is None else drop),
        },
    }
    if privileged is not None:
        security["privileged"] = privileged
    labels = {
        "k8s-app": "cilium",
        "app.kubernetes.io/name": "cilium-agent",
        "app.kubernetes.io/part-of": "cilium",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "cilium", "namespace": "kube-system", "labels": labels, "uid": "uid-cilium-ds"},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "cilium"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "hostNetwork": True,
                    "serviceAccountName": "cilium",
                    "containers": [
                        {
                            "name": "cilium-agent",
                            "image": "quay.io/cilium/cilium:v1.16.1",
                            "command": ["cilium-agent"],
                            "args": ["--config-dir=/tmp/cilium/config-map"],
                            "securityContext": security,
                        }
                    ],
                },
            },
        },
    }
