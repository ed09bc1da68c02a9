"""The inventory: sites, hosts, how to reach each host, and the BGP intent.

Documented with a full example in docs/inventory.md. Loaded and validated by
bgpdoctor.inventory.load_inventory(), which reports errors as FILE:LINE: message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from bgpdoctor.intent import Loc, PeerIntent, family_of, is_link_local

Role = Literal["router", "node", "vantage"]

# Names and addresses reach ssh_config matching (where `Match exec` hands %h and %r to a shell)
# and terminal output: letters, digits, '-', '_' and '.' only; no '$', backticks, spaces, quotes,
# ';', '%' or control characters.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
_HOP = re.compile(
    r"(?:ssh://)?(?:(?P<user>[^@]+)@)?(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:]+))(?::(?P<port>\d{1,5}))?"
)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_IFNAME = re.compile(r"[A-Za-z0-9_.@-]{1,15}")


def is_host_or_ip(value: str) -> bool:
    """A DNS host name (or ssh_config alias of the same characters) or an IP literal.

    Example: is_host_or_ip("router-mine") -> True; is_host_or_ip("m$(touch /tmp/x)") -> False
    """
    text = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    if "%" in text:  # an IPv6 zone (fe80::1%eth0) is free text, and %h/%r are ssh_config tokens
        return False
    try:
        ip_address(text)
        return True
    except ValueError:
        return _HOSTNAME.fullmatch(value) is not None


def _host_or_ip(value: str) -> str:
    if not is_host_or_ip(value):
        raise ValueError(
            f"{value!r} is not a valid host name or IP address "
            "(letters, digits, '-', '_' and '.' only, or an IP literal)"
        )
    return value


def _host_name(value: str) -> str:
    if _HOSTNAME.fullmatch(value) is None:
        raise ValueError(f"host name {value!r} may use only letters, digits, '-', '_' and '.'")
    return value


def _user(value: str) -> str:
    if _USER.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not a valid user name (letters, digits, '.', '_', '@' and '-')")
    return value


def _proxy_jump(value: str) -> str:
    for hop in value.split(","):
        m = _HOP.fullmatch(hop.strip())
        ok = m is not None and (m["user"] is None or _USER.fullmatch(m["user"]) is not None)
        if m is not None and ok:
            ok = is_host_or_ip(m["v6"] or m["host"]) and (m["port"] is None or 1 <= int(m["port"]) <= 65535)
        if not ok:
            raise ValueError(f"{hop.strip()!r} is not a jump host of the form [user@]host[:port]")
    return value


def _printable(value: str) -> str:
    bad = _CONTROL.search(value)
    if bad is not None:
        raise ValueError(f"{value!r} contains a control character (U+{ord(bad.group()):04X})")
    return value


def _unscoped(value: IPv4Address | IPv6Address) -> IPv4Address | IPv6Address:
    if isinstance(value, IPv6Address) and value.scope_id is not None:
        bare = str(value).split("%", 1)[0]
        raise ValueError(
            f"'{value}': give the interface of a link-local address in its own field "
            f"(address: {bare}, interface: {value.scope_id})"
        )
    return value


def _interface_name(value: str) -> str:
    if _IFNAME.fullmatch(value) is None:
        raise ValueError(
            f"{value!r} is not an interface name (1 to 15 letters, digits, '-', '_', '.' or '@')"
        )
    return value


HostAddress = Annotated[str, AfterValidator(_host_or_ip)]
# IPv4 or IPv6 (no zone: a link-local peer names its interface in `interface:`)
IpAddress = Annotated[IPv4Address | IPv6Address, AfterValidator(_unscoped)]
IpNetwork = IPv4Network | IPv6Network
InterfaceName = Annotated[str, AfterValidator(_interface_name)]
HostName = Annotated[str, AfterValidator(_host_name)]
Name = Annotated[str, AfterValidator(_printable)]
# What answers BGP questions on the host: BIRD 2 (birdc), BIRD 1.6 as Calico embeds it (birdcl),
# GoBGP (gobgp CLI, the way the lab and Cilium's embedded GoBGP are configured), or none.
Speaker = Literal["bird2", "bird1", "gobgp", "frr", "routeros", "fortigate", "huawei", "none"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SshTarget(Strict):
    """SSH fields, named like ~/.ssh/config keys."""

    host: HostAddress | None = None  # HostName; defaults to the inventory host name (an ssh_config alias)
    port: int | None = Field(default=None, ge=1, le=65535)
    user: Annotated[str, AfterValidator(_user)] | None = None
    identity_file: str | None = None
    # "user@host:port,host2" or an inventory/ssh_config host name
    proxy_jump: Annotated[str, AfterValidator(_proxy_jump)] | None = None
    known_hosts: str | None = None  # UserKnownHostsFile
    ssh_config: str | None = None  # file to read Host aliases from (default ~/.ssh/config)
    password_env: str | None = None  # name of an environment variable that holds a password
    connect_timeout: float | None = Field(default=None, gt=0)


class PodTarget(Strict):
    """Commands run by the Kubernetes exec API in a pod (the CNI agent on a node that has no SSH).

    Either ``namespace`` + ``pod`` name one pod, or ``node`` asks for the running agent pod on that
    node (``cni`` picks Cilium or calico-node; default from the host's speaker: gobgp -> cilium,
    bird1 -> calico). Example: PodTarget(context="home", node="kubemaster", cni="calico")
    """

    context: str | None = None  # kubeconfig context (default: the current context)
    kubeconfig: str | None = None  # kubeconfig file(s), ':'-joined (default: $KUBECONFIG, ~/.kube/config)
    namespace: str | None = None
    pod: str | None = None
    container: str | None = None  # default: the agent container (cilium-agent / calico-node)
    node: str | None = None  # the node whose agent pod to use
    cni: Literal["cilium", "calico"] | None = None
    timeout: float | None = Field(default=None, gt=0)  # API timeout, s (default 10)

    @model_validator(mode="after")
    def _which_pod(self) -> PodTarget:
        if self.pod is None and self.node is None:
            raise ValueError("pod needs either pod (with namespace) or node")
        if self.pod is not None and self.namespace is None:
            raise ValueError("pod needs a namespace with the pod name")
        return self


class Connect(Strict):
    """Exactly one of ssh / netns / local / pod."""

    ssh: SshTarget | None = None
    netns: str | None = None  # a network namespace on this machine (ip netns exec)
    local: bool = False
    pod: PodTarget | None = None  # exec in a pod through the Kubernetes API

    @model_validator(mode="after")
    def _one_kind(self) -> Connect:
        kinds = [self.ssh is not None, self.netns is not None, self.local]
        if self.pod is not None and any(kinds):
            raise ValueError("connect: pod cannot be combined with ssh, netns or local")
        if self.pod is None and sum(kinds) != 1:
            raise ValueError("connect needs exactly one of: ssh, netns, local, pod")
        return self


class SecretRef(Strict):
    """Where a secret is, never the secret: an environment variable or a file (read only when needed).

    Example: {"env": "BGP_MD5_ROUTER_HOME"} or {"file": "/etc/bgpdoctor/md5-router-home"}
    """

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret reference needs exactly one of env (a variable name) or file (a path)")
        return self


_INVENTORY = Loc("inventory")


class Peer(Strict):
    """A BGP neighbor as configured on this host, and what the operator intends for the session."""

    host: Name | None = None  # the inventory host at the other end, if it is in the inventory
    address: IpAddress  # the neighbor address configured on this end (IPv4 or IPv6)
    # the interface a link-local (fe80::/10) neighbor is reached on; required for one, refused otherwise
    interface: InterfaceName | None = None
    asn: int = Field(ge=1, le=4294967295)
    passive: bool | None = None  # this end only waits for the other to connect
    multihop: int | None = Field(default=None, ge=1, le=255)
    name: Name | None = None  # protocol name in BIRD (e.g. yuuko_k8s), for matching output
    route_reflector_client: bool | None = None  # this end reflects iBGP routes to the peer (`rr client`)
    next_hop_self: bool | None = None  # this end rewrites the next hop of what it sends to the peer
    # a restart of this end's speaker (a Cilium agent, calico/node) must not withdraw its routes at the
    # peer: graceful restart, this end in restart mode and the peer helping
    graceful_restart: bool | None = None
    md5: SecretRef | None = None  # the session is meant to use TCP MD5; the password by reference only

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secret(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in ("password", "md5_password", "secret"):
                if key in data:
                    raise ValueError(f"{key}: no inline secrets; use md5: {{env: VAR}} or {{file: PATH}}")
            if isinstance(data.get("md5"), str):
                raise ValueError("md5: a reference, {env: VAR} or {file: PATH}, never the password itself")
        return data

    @model_validator(mode="after")
    def _link_local_interface(self) -> Peer:
        link_local = is_link_local(self.address)
        if link_local and self.interface is None:
            raise ValueError(
                f"address {self.address} is link-local: name the interface it is reached on (interface: eth0)"
            )
        if not link_local and self.interface is not None:
            raise ValueError(
                f"interface: only a link-local (fe80::/10) neighbor needs one, not {self.address}"
            )
        return self

    @property
    def family(self) -> Literal[4, 6]:
        """4 or 6: the address family the session runs over."""
        return family_of(self.address)

    @property
    def link_local(self) -> bool:
        return is_link_local(self.address)

    def intent(
        self,
        at: Loc = _INVENTORY,
        lines: Mapping[str, int] | None = None,
        local_asn: int | None = None,
        local_asn_at: Loc | None = None,
    ) -> PeerIntent:
        """This entry as the one session model (bgpdoctor.intent), each key it sets stated at its
        line: `at` is the entry (the inventory file and the entry's line, or the inventory alone),
        `lines` the line of each of its keys, `local_asn` the host's AS (stated at `local_asn_at`).

        Example: Peer(address="10.0.0.1", asn=65001).intent(Loc("inv.yaml", 12), {"asn": 14}) ->
        PeerIntent(address=IPv4Address("10.0.0.1"), asn=65001, loc=Loc("inv.yaml", 12),
        origins={"address": Loc("inv.yaml", 12), "asn": Loc("inv.yaml", 14)})
        """
        given = {key for key in self.model_fields_set if getattr(self, key) is not None}
        where = {key: Loc(at.file, (lines or {}).get(key, at.line)) for key in given}
        if "md5" in where:
            where["md5_ref"] = where["md5"]
        if local_asn is not None:
            where["local_asn"] = local_asn_at or at
        ref = self.md5
        return PeerIntent(
            loc=at,
            address=self.address,
            asn=self.asn,
            local_asn=local_asn,
            passive=self.passive,
            multihop=self.multihop,
            name=self.name,
            route_reflector_client=self.route_reflector_client,
            next_hop_self=self.next_hop_self,
            graceful_restart=self.graceful_restart,
            md5=True if ref is not None else None,
            md5_ref=None if ref is None else f"env:{ref.env}" if ref.env is not None else f"file:{ref.file}",
            interface=self.interface,
            host=self.host,
            origins=where,
        )


class Host(Strict):
    role: Role
    site: Name | None = None
    speaker: Speaker = "none"
    connect: Connect
    asn: int | None = Field(default=None, ge=1, le=4294967295)
    router_id: IPv4Address | None = None
    addresses: list[IpAddress] = Field(default_factory=list)  # addresses the host owns (IPv4, IPv6)
    pod_cidrs: list[IpNetwork] = Field(default_factory=list)  # IPv4, IPv6 or both (dual stack)
    pod_probe_ip: IpAddress | None = None  # an address inside the pod CIDR to ping to/from
    internal_ip: IpAddress | None = None  # the kubelet address (Node InternalIP)
    listens: bool | None = None  # expected to accept BGP on TCP 179 (Cilium: false)
    peers: list[Peer] = Field(default_factory=list)
    control_socket: str | None = None  # birdc/birdcl -s path, when not the default
    # false: the host is not meant to route (a route server, a reflector off the data path), so
    # net.ipv4.ip_forward = 0 is correct there; default: routers and nodes forward
    forwards: bool | None = None
    lb_vips: list[IpAddress] = Field(default_factory=list)  # LoadBalancer VIPs this node announces
    gobgp_api: str | None = None  # host:port of gobgpd's API, when not the default


class Site(Strict):
    """A site and its subnets: `lan` for one, `lans` for several (both may be given)."""

    description: str | None = None
    lan: IpNetwork | None = None
    lans: list[IpNetwork] = Field(default_factory=list)  # a dual-stack site lists its IPv6 subnets here

    @property
    def subnets(self) -> list[IpNetwork]:
        return ([self.lan] if self.lan else []) + [n for n in self.lans if n != self.lan]


class LbPool(Strict):
    """A LoadBalancer IP pool (CiliumLoadBalancerIPPool, MetalLB IPAddressPool, Calico service IPs).

    `l2: true` says the VIPs are also announced on the LAN (ARP answered by MetalLB/Cilium L2), so a
    pool inside a site subnet is by design. Example: {"cidr": "10.0.6.0/24"}
    """

    cidr: IpNetwork
    l2: bool = False


class Switch(Strict):
    """A device on a path that bgpdoctor does not log into: an L2 switch, a provider's box, a
    hypervisor bridge, a cloud security group. Named in diagnoses when a packet dies on a segment
    it carries. Example: {"description": "ZeroTier network 8056c2e21c", "segments": ["192.168.191.0/24"]}
    """

    description: str | None = None
    segments: list[IpNetwork] = Field(min_length=1)  # the subnets whose frames it carries (either family)


class Vantage(Strict):
    """Where metrics-server runs: the host that must reach every kubelet on 10250."""

    metrics_server: Name | None = None
    kubelet_port: int = Field(default=10250, ge=1, le=65535)


class Defaults(Strict):
    ssh: SshTarget = Field(default_factory=SshTarget)
    command_timeout: float = Field(default=10.0, gt=0)
    accept_new_host_keys: bool = False


class LabGuard(Strict):
    """Set by `bgpdoctor lab up`: every SSH target must route through an interface with this prefix.

    bgpdoctor refuses to connect to a lab host whose route leaves through any other interface, so
    lab traffic can never escape the namespaces and bridges the lab created.
    """

    interface_prefix: str


class Inventory(Strict):
    version: Literal[1] = 1
    lab: LabGuard | None = None
    defaults: Defaults = Field(default_factory=Defaults)
    sites: dict[Name, Site] = Field(default_factory=dict)
    hosts: dict[HostName, Host]
    switches: dict[HostName, Switch] = Field(default_factory=dict)
    vantage: Vantage = Field(default_factory=Vantage)
    # the cluster-wide pod range: one network (10.42.0.0/16), or one per family on a dual-stack
    # cluster ([10.42.0.0/16, "fd00:10:42::/48"])
    pod_cidr: list[IpNetwork] | None = None
    lb_pools: dict[Name, LbPool] = Field(default_factory=dict)

    @field_validator("pod_cidr", mode="before")
    @classmethod
    def _one_network_is_a_list_of_one(cls, value: object) -> object:
        return [value] if isinstance(value, str | IPv4Network | IPv6Network) else value

    @field_validator("pod_cidr")
    @classmethod
    def _one_per_family(cls, networks: list[IpNetwork] | None) -> list[IpNetwork] | None:
        for version in (4, 6):
            same = [str(n) for n in networks or [] if n.version == version]
            if len(same) > 1:
                raise ValueError(
                    f"one IPv{version} network at most, one per family on a dual-stack cluster"
                    f" (got {', '.join(same)})"
                )
        return networks or None

    @field_serializer("pod_cidr")
    def _dump_one_network_as_written(self, networks: list[IpNetwork] | None) -> str | list[str] | None:
        # an IPv4-only inventory keeps its single-string form, in recordings too
        if networks is None:
            return None
        return str(networks[0]) if len(networks) == 1 else [str(n) for n in networks]

    @property
    def cluster_pod_cidrs(self) -> list[IpNetwork]:
        """Every cluster-wide pod range: one, or one per family. Example: [IPv4Network('10.42.0.0/16')]"""
        return list(self.pod_cidr or [])

    def cluster_pod_cidr_of(self, address: str) -> IpNetwork | None:
        """The cluster-wide pod range of the family of `address` (an address or a network).

        Example: cluster_pod_cidr_of("fd00:10:42:3::1") -> IPv6Network('fd00:10:42::/48')
        """
        version = 6 if ":" in address else 4
        return next((n for n in self.pod_cidr or [] if n.version == version), None)
