"""The inventory `lab up` writes: the lab described the way a user describes a real cluster."""

from __future__ import annotations

from typing import Any

from bgpdoctor.lab.topology import (
    KUBELET_PORT,
    MS_NODE,
    NODE,
    NODE_ASN,
    POD,
    POD_CIDR,
    ROUTER,
    LabSettings,
    host_addresses,
)

HEADER = """\
# bgpdoctor inventory for the network-namespace lab, written by `bgpdoctor lab up`.
# Regenerated on every `lab up`; edits are lost. Lab state: {state}
#
# Two sites joined by a ZeroTier stand-in (an L2 switch namespace, MTU 1420):
#   mine: router-mine (BIRD 2, AS 64513) + node sakamoto (GoBGP like Cilium, AS 64514)
#   home: router-home (BIRD 2, AS 64515) + node yuuko-k8s (GoBGP like Cilium, AS 64514)
# plus the seed-000 session router-mine <-> yuuko-k8s (eBGP multihop across ZeroTier).
# metrics-server is a pod namespace on sakamoto (10.42.0.10), the vantage point for kubelet checks.
# Every host runs sshd on its management address ({mgmt}), reached through the root bridge
# {bridge}; `lab.interface_prefix` makes bgpdoctor refuse any lab target routed elsewhere.
# Host keys are pinned in defaults.ssh.known_hosts (generated per lab; no accept-new needed).
"""


def _peer(
    host: str | None,
    address: str,
    asn: int,
    name: str | None = None,
    passive: bool | None = None,
    multihop: int | None = None,
) -> dict[str, Any]:
    p: dict[str, Any] = {"host": host, "address": address, "asn": asn}
    if passive is not None:
        p["passive"] = passive
    if multihop is not None:
        p["multihop"] = multihop
    if name is not None:
        p["name"] = name
    return p


def build_inventory(s: LabSettings, passive_home: bool = True, multihop_yuuko: bool = True) -> dict[str, Any]:
    """The inventory as plain data (validates against bgpdoctor.inventory_model.Inventory).

    Example: build_inventory(s)["hosts"]["router-mine"]["peers"][1] ->
    {"host": "yuuko-k8s", "address": "192.168.0.81", "asn": 64514, "passive": True, "multihop": 4,
     "name": "yuuko_k8s"}
    """
    mine, home = ROUTER["router-mine"], ROUTER["router-home"]
    sak, yuu = NODE["sakamoto"], NODE["yuuko-k8s"]

    def ssh(host: str) -> dict[str, Any]:
        return {"ssh": {"host": s.mgmt_ip(host)}}

    def addrs(host: str) -> list[str]:
        return [str(a) for a in host_addresses(host)]

    hosts: dict[str, Any] = {
        "router-mine": {
            "role": "router",
            "site": "mine",
            "speaker": "bird2",
            "connect": ssh("router-mine"),
            "asn": mine.asn,
            "router_id": mine.router_id,
            "addresses": addrs("router-mine"),
            "control_socket": str(s.bird_socket("router-mine")),
            "peers": [
                _peer("sakamoto", sak.lan_ip, NODE_ASN, "sakamoto", passive=True),
                _peer("yuuko-k8s", yuu.lan_ip, NODE_ASN, "yuuko_k8s", passive=True, multihop=4),
                _peer("router-home", home.zt_ip, home.asn, "router_home", passive=False),
            ],
        },
        "router-home": {
            "role": "router",
            "site": "home",
            "speaker": "bird2",
            "connect": ssh("router-home"),
            "asn": home.asn,
            "router_id": home.router_id,
            "addresses": addrs("router-home"),
            "control_socket": str(s.bird_socket("router-home")),
            "peers": [
                _peer("yuuko-k8s", yuu.lan_ip, NODE_ASN, "yuuko_k8s", passive=passive_home),
                _peer("router-mine", mine.zt_ip, mine.asn, "router_mine", passive=False),
            ],
        },
    }
    for node, peers in (
        ("sakamoto", [_peer("router-mine", mine.lan_ip, mine.asn, passive=False)]),
        (
            "yuuko-k8s",
            [
                _peer("router-home", home.lan_ip, home.asn, passive=False),
                _peer(
                    "router-mine",
                    mine.lan_ip,
                    mine.asn,
                    passive=False,
                    multihop=4 if multihop_yuuko else None,
                ),
            ],
        ),
    ):
        n = NODE[node]
        hosts[node] = {
            "role": "node",
            "site": n.site,
            "speaker": "gobgp",
            "connect": ssh(node),
            "asn": NODE_ASN,
            "router_id": n.lan_ip,
            "addresses": addrs(node),
            "pod_cidrs": [n.pod_cidr],
            "pod_probe_ip": n.pod_ip,
            "internal_ip": n.lan_ip,
            "listens": False,
            "gobgp_api": "127.0.0.1:50051",
            "peers": peers,
        }
    hosts[POD] = {"role": "vantage", "site": NODE[MS_NODE].site, "connect": ssh(POD), "addresses": addrs(POD)}
    return {
        "version": 1,
        "lab": {"interface_prefix": s.prefix},
        "defaults": {
            "ssh": {
                "user": "root",
                "identity_file": str(s.run_dir / "ssh" / "id_ed25519"),
                "known_hosts": str(s.run_dir / "ssh" / "known_hosts"),
                "connect_timeout": 5.0,
            }
        },
        "sites": {
            "mine": {"description": "main site (K3s control plane), router-mine", "lan": mine.lan},
            "home": {"description": "remote site over ZeroTier, router-home", "lan": home.lan},
        },
        "hosts": hosts,
        "vantage": {"metrics_server": POD, "kubelet_port": KUBELET_PORT},
        "pod_cidr": POD_CIDR,
    }


def render_inventory(s: LabSettings) -> str:
    """YAML text with the explanatory header."""
    import yaml

    head = HEADER.format(state=s.state_path, mgmt=s.mgmt_net, bridge=s.mgmt_bridge)
    return head + yaml.safe_dump(build_inventory(s), sort_keys=False, default_flow_style=False, width=110)
