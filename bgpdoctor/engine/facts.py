"""The catalogue of facts: every name a check or playbook may read, on which subject kinds it exists.

The engine (engine/subjects.py and the fact modules it calls, engine/cluster.py) adds these facts to subjects;
checks/ and playbooks/ read them. A name a check or playbook uses must be listed here for its
subject kind, so a misspelled fact is a load error instead of a check that silently never applies.
tests/unit/test_facts.py scans the engine's source so that this table cannot drift from it.

Plain data, importing nothing of the engine. Each description starts with the value's type.

Example: BY_NAME["ip_forward"] -> Fact(name="ip_forward", kinds=("host",),
         description="int: net.ipv4.ip_forward from `sysctl`, e.g. 1")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SubjectKind = Literal["host", "session", "path", "kubelet", "cluster"]
SUBJECT_KINDS: tuple[SubjectKind, ...] = ("host", "session", "path", "kubelet", "cluster")


@dataclass(frozen=True)
class Fact:
    name: str
    kinds: tuple[SubjectKind, ...]
    description: str


HOST: tuple[SubjectKind, ...] = ("host",)
SESSION: tuple[SubjectKind, ...] = ("session",)
PATH: tuple[SubjectKind, ...] = ("path",)
KUBELET: tuple[SubjectKind, ...] = ("kubelet",)
CLUSTER: tuple[SubjectKind, ...] = ("cluster",)
SESSION_CLUSTER: tuple[SubjectKind, ...] = ("session", "cluster")  # MetalLB's sessions: cluster subjects

FACTS: tuple[Fact, ...] = (
    # host: one per host in scope (engine/subjects.py _host_subject, engine/routing.py)
    Fact(
        "host",
        ("host", "cluster"),
        "str: the host's inventory name (cluster: the node a finding is about), e.g. 'gateway'",
    ),
    Fact("role", HOST, "str: the host's inventory role, 'router', 'node' or 'vantage'"),
    Fact("reachable", HOST, "bool: the host could be reached and its commands run"),
    Fact(
        "host_error_kind",
        HOST,
        "str: why an unreachable host could not be read, e.g. 'auth', 'timeout', 'unreachable'",
    ),
    Fact("ip_forward", HOST, "int: net.ipv4.ip_forward from `sysctl`, e.g. 1"),
    # a LoadBalancer VIP routed back and forth (engine/loops.py), on routers
    Fact(
        "vip_routing_loop",
        HOST,
        "bool: a VIP of the inventory, traced from this router, comes back to a host",
    ),
    Fact("vip_loop_vip", HOST, "str: that VIP, e.g. '10.62.0.1'"),
    Fact("vip_loop_node", HOST, "str: the node that announces it, e.g. 'bda-n1'"),
    Fact("vip_loop_hosts", HOST, "list[str]: the hosts of the loop, e.g. ['bda-ra', 'bda-n1']"),
    Fact("vip_loop_path", HOST, "str: the trace, e.g. 'bda-ra(->eth0) -> bda-n1(eth0>eth0) -> bda-ra'"),
    # IPv6 and dual stack (engine/ipv6.py)
    Fact("ipv6_in_use", HOST, "bool: the inventory gives the host an IPv6 peer, address or pod CIDR"),
    Fact("ipv6_forward", HOST, "int: net.ipv6.conf.all.forwarding, e.g. 1"),
    Fact(
        "ipv6_unusable_next_hops",
        ("host", "session"),
        "list[str]: IPv6 routes received with a next hop of :: or fe80::/10, e.g. ['fd00:90::/64 via ::'] "
        "(on a session: what its BIRD or FRR receiver shows of those it dropped)",
    ),
    Fact("ipv6_next_hop_receiver", ("host", "session"), "str: the host that received them, e.g. 'node1'"),
    Fact(
        "ipv6_next_hop_senders",
        ("host", "session"),
        "list[str]: the neighbors they came from, e.g. ['fe80::1']",
    ),
    Fact(
        "ipv6_ipv4_next_hops",
        HOST,
        "list[str]: IPv6 routes received with an IPv4 (or IPv4-mapped) next hop, "
        "e.g. ['fd00:42::/64 via 10.0.0.1']",
    ),
    Fact("session_family", SESSION, "int: the address family the session runs over, 4 or 6"),
    Fact(
        "ipv6_over_ipv4_unusable",
        SESSION,
        "bool: IPv6 routes arrive over this IPv4 session with an IPv4(-mapped) next hop that the "
        "receiver (BIRD 2, FRR) cannot use",
    ),
    Fact("ipv6_over_ipv4_receiver", SESSION, "str: the end that cannot use them, e.g. 'frr1'"),
    Fact("ipv6_over_ipv4_sender", SESSION, "str: the end that sends them, e.g. 'node1'"),
    Fact("ipv6_over_ipv4_neighbor", SESSION, "str: the sender's address at the receiver, e.g. '10.0.0.2'"),
    Fact("ipv6_over_ipv4_protocol", SESSION, "str: the receiver's name of the session (BIRD), e.g. 'node1'"),
    Fact(
        "ipv6_over_ipv4_sender_neighbor",
        SESSION,
        "str: the receiver's address at the sender, e.g. '10.0.0.1'",
    ),
    Fact(
        "ipv6_over_ipv4_routes",
        SESSION,
        "list[str]: what the receiver shows of them, e.g. ['fd00:77::/64 via ::ffff:ad5:4e02']",
    ),
    Fact("ipv6_over_ipv4_problem", SESSION, "str: the finding in one sentence, with both ends"),
    Fact("ipv6_over_ipv4_asn", SESSION, "int: the receiver's AS, for its fix, e.g. 65001"),
    Fact("link_local", SESSION, "bool: an end peers with a link-local (fe80::/10) address"),
    Fact(
        "ndp_ok",
        SESSION,
        "bool: neither end of a down IPv6 session has the other's address FAILED or INCOMPLETE "
        "in `ip -6 neigh`",
    ),
    Fact("ndp_failed_host", SESSION, "str: the end whose Neighbor Solicitations go unanswered, e.g. 'node1'"),
    Fact("ndp_failed_address", SESSION, "str: the address it cannot resolve, e.g. 'fe80::1'"),
    Fact("ndp_failed_interface", SESSION, "str: the interface of that entry, e.g. 'eth0'"),
    Fact("ndp_state", SESSION, "str: the entry's state, 'FAILED' or 'INCOMPLETE'"),
    Fact("icmpv6_drop_host", SESSION, "str: the end whose nft rule drops Neighbor Discovery, e.g. 'node1'"),
    Fact(
        "icmpv6_drop_rule",
        SESSION,
        "str: that rule, e.g. 'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } drop'",
    ),
    Fact("icmpv6_drop_table", SESSION, "str: its family and table, e.g. 'inet hostfw'"),
    Fact("icmpv6_drop_chain", SESSION, "str: its chain, e.g. 'input'"),
    # the kernel's drop reasons while probing (engine/drops.py, `run --trace-drops`)
    Fact(
        "drop_reason_names",
        HOST,
        "list[str]: reasons the host's kernel gave for dropping probe packets, e.g. ['IP_RPFILTER']",
    ),
    Fact("drop_count", HOST, "int: probe packets the host's kernel dropped (normal drops left out), e.g. 12"),
    Fact(
        "kernel_drops",
        ("host", "session", "path", "kubelet"),
        "list[str]: drops of this subject's own packets by reason and host, e.g. "
        "['IP_RPFILTER on router-home']",
    ),
    Fact(
        "kernel_proof",
        ("host", "session", "path", "kubelet"),
        "str: the sentence quoting them, e.g. 'the kernel on router-home dropped 12 x IP_RPFILTER at "
        "ip_rcv_finish_core'",
    ),
    Fact("pod_probe_expected", HOST, "bool: a node with pod CIDRs, whose pod paths are probed"),
    Fact(
        "pod_probe_address",
        HOST,
        "str: the address its pod paths are probed from: pod_probe_ip, or one it holds inside its pod CIDRs",
    ),
    Fact(
        "forwarding_expected",
        HOST,
        "bool: the host is meant to route: the inventory's `forwards`, else True for routers and nodes",
    ),
    Fact(
        "advertises_pod_cidrs",
        ("host", "cluster"),
        "bool: every pod CIDR of a GoBGP node is in its own global RIB (cluster: False, "
        "the cluster says it is not advertised)",
    ),
    Fact(
        "unadvertised_pod_cidrs",
        ("host", "cluster"),
        "list[str]: the node's pod CIDRs it does not advertise, e.g. ['10.42.1.0/24']",
    ),
    Fact("pod_cidr", ("host", "cluster"), "str: the node's pod CIDRs joined by ', ', e.g. '10.42.1.0/24'"),
    Fact(
        "port_179_conflict",
        HOST,
        "bool: TCP 179 is held by more than one program, or by another one than the host's "
        "BGP speaker (`ss -ltnp`)",
    ),
    Fact("port_179_owners", HOST, "list[str]: programs listening on TCP 179, e.g. ['bird']"),
    Fact(
        "port_179_foreign",
        HOST,
        "list[str]: programs other than the BGP speaker listening on TCP 179, e.g. ['nc']",
    ),
    Fact("port_179_foreign_pids", HOST, "list[int]: process ids of those programs, e.g. [4242]"),
    Fact(
        "speaker_process",
        HOST,
        "str: the process name the host's BGP speaker runs as, e.g. 'bird' (with a port conflict)",
    ),
    Fact(
        "speaker_answers",
        HOST,
        "bool: the BGP daemon answers its own client (`birdc`, `gobgp`); False only when "
        "the client cannot reach it",
    ),
    Fact(
        "speaker_problem",
        HOST,
        "str: what the BGP client said when its daemon did not answer, "
        "e.g. '`birdc -r show protocols all` failed: Unable to connect to server control socket'",
    ),
    Fact("bird_config_ok", HOST, "bool: `birdc configure check` accepts the configuration file on disk"),
    Fact(
        "bird_config_error",
        HOST,
        "str: the first line BIRD printed about the file, e.g. '/etc/bird.conf:12:3 syntax error'",
    ),
    Fact("bird_config_file", HOST, "str: the file BIRD's error names, e.g. '/etc/bird/bird.conf'"),
    Fact("bird_config_line", HOST, "int: the line BIRD's error names, e.g. 12"),
    # FRR (engine/host_facts.py frr_facts, from `vtysh -c 'show bgp neighbors json'`)
    Fact(
        "ebgp_policy_missing",
        HOST,
        "bool: an eBGP neighbor has no inbound or outbound policy, so the daemon discards its "
        "updates (RFC 8212; FRR's inboundEbgpRequiresPolicy / outboundEbgpRequiresPolicy)",
    ),
    Fact("ebgp_policy_daemon", HOST, "str: the daemon that applies RFC 8212 there, e.g. 'FRR'"),
    Fact("ebgp_policy_neighbors", HOST, "list[str]: eBGP neighbors without policy, e.g. ['10.213.1.1']"),
    Fact(
        "ebgp_policy_missing_in",
        HOST,
        "list[str]: neighbors whose updates are discarded for lack of an inbound policy, e.g. ['10.213.1.1']",
    ),
    Fact(
        "ebgp_policy_missing_out",
        HOST,
        "list[str]: neighbors sent nothing for lack of an outbound policy, e.g. ['10.213.1.1']",
    ),
    Fact(
        "ebgp_policy_ibgp",
        HOST,
        "list[str]: iBGP neighbors among them (FRR 7.2 applied RFC 8212 to iBGP, frr#5565), e.g. []",
    ),
    Fact("frr_bgp_as", HOST, "int: the AS of FRR's `router bgp` (`show bgp summary json`), e.g. 65001"),
    Fact(
        "max_prefix_exceeded",
        HOST,
        "bool: a neighbor was stopped by its maximum-prefix limit (FRR: prefixesConfigExceedMax, "
        "state Idle (PfxCt))",
    ),
    Fact("max_prefix_neighbors", HOST, "list[str]: the neighbors so stopped, e.g. ['10.213.5.2']"),
    Fact(
        "bird_routes_in_fib",
        HOST,
        "bool: every pod CIDR route BIRD selected (primary, unicast) is in the kernel FIB (`lint`: False "
        "where BIRD's config exports no BGP route to the kernel)",
    ),
    Fact(
        "bird_routes_missing_in_fib",
        HOST,
        "list[str]: selected pod CIDR routes the kernel FIB lacks, e.g. ['10.42.2.0/24']",
    ),
    Fact(
        "bird_pod_routes",
        HOST,
        "list[str]: pod CIDR routes BIRD selected (primary, unicast), e.g. ['10.42.1.0/24']",
    ),
    Fact(
        "unreachable_bgp_routes",
        HOST,
        "list[str]: pod CIDRs BIRD holds only as unreachable (next hop not resolvable), "
        "e.g. ['10.42.2.0/24']",
    ),
    Fact(
        "unreachable_next_hops",
        HOST,
        "list[str]: the BGP next hops of those routes, e.g. ['192.168.100.251']",
    ),
    Fact(
        "unreachable_sender", HOST, "str: the inventory host that sent the unreachable routes, e.g. 'gateway'"
    ),
    Fact(
        "unreachable_via_protocol",
        HOST,
        "str: this host's BIRD protocol the unreachable routes came in on, e.g. 'gateway_v4'",
    ),
    Fact(
        "unreachable_sender_protocol",
        HOST,
        "str: the sender's protocol towards this host, e.g. 'k3s_backbone_cn_v4'",
    ),
    Fact("unreachable_sender_asn", HOST, "int: the sender's AS, as this host's BIRD shows it, e.g. 64512"),
    Fact(
        "unreachable_sender_neighbor",
        HOST,
        "str: this host's address on the session, the sender's `neighbor` for it, e.g. '10.255.100.2'",
    ),
    Fact(
        "ecmp_single_path",
        HOST,
        "list[str]: prefixes with several equal BGP paths of which the FIB carries fewer "
        "next hops, e.g. ['10.0.6.1/32']",
    ),
    Fact(
        "ecmp_paths",
        HOST,
        "str: those prefixes with their equal next hops, e.g. '10.0.6.1/32: 10.0.4.109, 10.0.4.110'",
    ),
    Fact("ecmp_daemon", HOST, "str: the router that installs one path when not BIRD, e.g. 'RouterOS'"),
    Fact(
        "ecmp_design",
        HOST,
        "str: why that router installs a single path by design, e.g. 'RouterOS v7 installs one best "
        "BGP path ...'",
    ),
    Fact(
        "shadowed_bgp_routes",
        HOST,
        "list[str]: BGP prefixes a connected route shadows (next hop outside it), e.g. ['10.0.6.0/24']",
    ),
    Fact(
        "shadow_connected", HOST, "str: the connected routes that shadow them, e.g. '10.0.6.0/24 dev vlanif6'"
    ),
    Fact("shadow_interface", HOST, "str: the interface holding the shadowing subnet, e.g. 'vlanif6'"),
    Fact("shadow_address", HOST, "str: the host's address on it, e.g. '10.0.6.254/24'"),
    # session: one per expected BGP session, both ends (engine/subjects.py _session_subject and below)
    Fact("a", SESSION, "str: the first end's host, e.g. 'gateway'"),
    Fact(
        "b",
        SESSION,
        "str: the second end's host (or the peer address when not in the inventory), e.g. 'yuuko-k8s'",
    ),
    Fact("a_state", SESSION, "str: the first end's BGP state, e.g. 'Established', 'Active', 'missing'"),
    Fact("b_state", SESSION, "str: the second end's BGP state, e.g. 'Connect', or 'not in inventory'"),
    Fact(
        "last_errors",
        SESSION,
        "str: each end's last error, e.g. 'gateway: Received: Bad peer AS' ('none' when none)",
    ),
    Fact(
        "established",
        SESSION,
        "bool: both ends are Established (False as soon as one end is seen down; `lint`: False where the "
        "configuration files state a fault that keeps the session down, unknown otherwise)",
    ),
    Fact("both_configured", SESSION, "bool: each end has the other configured as a peer"),
    Fact(
        "in_error_backoff", SESSION, "bool: the session is down while an end waits out BIRD's error back-off"
    ),
    Fact("backoff_host", SESSION, "str: the end waiting in error back-off, e.g. 'gateway'"),
    # engine/limits.py: a prefix limit hit (NOTIFICATION Cease 6/1)
    Fact(
        "max_prefix_hit",
        SESSION_CLUSTER,
        "bool: one end tore the session down because its prefix limit was hit",
    ),
    Fact(
        "max_prefix_end",
        SESSION_CLUSTER,
        "str: the end whose limit was hit (or the outside peer's address), e.g. 'router'",
    ),
    Fact(
        "max_prefix_sender",
        SESSION_CLUSTER,
        "str: the end that announced more prefixes than the limit, e.g. 'node1'",
    ),
    Fact(
        "max_prefix_reported_by",
        SESSION_CLUSTER,
        "str: the end whose daemon output shows the hit, e.g. 'router'",
    ),
    Fact(
        "max_prefix_daemon",
        SESSION_CLUSTER,
        "str: the enforcing end's speaker, e.g. 'bird2', 'gobgp', 'frr', 'unknown'",
    ),
    Fact(
        "max_prefix_sender_address",
        SESSION_CLUSTER,
        "str: the sender's address as the enforcing end configures it, e.g. '10.251.0.1'",
    ),
    Fact(
        "max_prefix_protocol",
        SESSION,
        "str: the enforcing end's protocol name for the sender ('' for GoBGP), e.g. 'peer_a'",
    ),
    Fact("max_prefix_limit", SESSION, "int: the limit that was hit, when the daemon prints it, e.g. 3"),
    Fact(
        "max_prefix_end_asn",
        SESSION_CLUSTER,
        "int: the AS of the enforcing end (its `router bgp`), e.g. 65102",
    ),
    # engine/timers.py: dead-session detection tuned too tight
    Fact(
        "hold_time_s",
        SESSION,
        "int: the shortest hold time an end reports (negotiated, GoBGP also configured), e.g. 3",
    ),
    Fact("hold_time_ends", SESSION, "str: each end's hold time, e.g. 'node1: 3 s, router: 3 s'"),
    Fact(
        "hold_time_aggressive",
        SESSION,
        "bool: the hold time is under 9 s (a VM pause or busy CPU expires it)",
    ),
    Fact(
        "hold_expiry_seen",
        SESSION,
        "bool: an output shows the hold timer expired or the session re-established",
    ),
    Fact("hold_fix_host", SESSION, "str: the end the timer fix is rendered for, e.g. 'node1'"),
    Fact(
        "hold_fix_neighbor", SESSION, "str: that end's neighbor address for the other end, e.g. '10.251.0.2'"
    ),
    Fact(
        "hold_fix_protocol",
        SESSION,
        "str: that end's protocol name for it ('' for GoBGP, FRR), e.g. 'peer_b'",
    ),
    Fact("hold_fix_asn", SESSION, "int: that end's AS, e.g. 65101"),
    Fact("hold_expiry_evidence", SESSION, "str: what showed it, e.g. 'node1: BGP Error: Hold timer expired'"),
    # engine/capabilities.py: what each end put in its OPEN (graceful restart, families, 4-byte AS)
    Fact(
        "capabilities_ends",
        SESSION,
        "str: what each end sent, e.g. 'frr1: ipv4-unicast, graceful restart for ipv4-unicast "
        "(restart mode); bird1: ipv4-unicast, no graceful restart'",
    ),
    Fact(
        "gr_ok",
        SESSION,
        "bool: graceful restart does what both ends expect (negotiated where relied on, only for "
        "families both run, no recovery or stale routes held for a dead peer)",
    ),
    Fact(
        "gr_variant",
        SESSION,
        "str: 'not-negotiated', 'family-not-run', 'waits-for-dead-peer', 'stale-routes-kept' or "
        "'cease-cancels-gr'",
    ),
    Fact("gr_problem", SESSION, "str: the graceful-restart problem in one sentence with the real names"),
    Fact("gr_culprit", SESSION, "str: the end to change (or the dead peer), e.g. 'bird1'"),
    Fact("gr_other_end", SESSION, "str: the other end, e.g. 'frr1'"),
    Fact("gr_restarting_end", SESSION, "str: the end in restart mode the other does not help, e.g. 'frr1'"),
    Fact(
        "gr_helper_missing",
        SESSION,
        "bool: the end whose restarts should keep its routes gets no graceful-restart capability back",
    ),
    Fact(
        "gr_families_not_run",
        SESSION,
        "list[str]: families the culprit announces graceful restart for that the other end does not "
        "run, e.g. ['ipv6-unicast']",
    ),
    Fact(
        "gr_families_both",
        SESSION,
        "list[str]: families the culprit announces graceful restart for that both ends run, "
        "e.g. ['ipv4-unicast']",
    ),
    Fact("gr_fix_neighbor", SESSION, "str: the culprit's neighbor address for the other, e.g. '10.252.0.1'"),
    Fact("gr_fix_protocol", SESSION, "str: the culprit's protocol name ('' if unnamed), e.g. 'peer_x'"),
    Fact("gr_fix_asn", SESSION, "int: the culprit's AS, e.g. 65202"),
    Fact("gr_wait_left_s", SESSION, "int: seconds BIRD's graceful-restart recovery still waits, e.g. 234"),
    Fact("gr_restart_timer_s", SESSION, "int: seconds a down peer's stale routes are still kept, e.g. 116"),
    Fact(
        "afi_ok",
        SESSION,
        "bool: every family an end offers is negotiated, and the 4-byte AS capability is not missing "
        "where a 4-byte AS or a rejected AS_PATH shows it matters",
    ),
    Fact("afi_variant", SESSION, "str: 'family-not-negotiated' or 'as4-missing'"),
    Fact("afi_problem", SESSION, "str: the capability mismatch in one sentence with the real names"),
    Fact("afi_culprit", SESSION, "str: the end that lacks the family or capability, e.g. 'bird1'"),
    Fact("afi_other_end", SESSION, "str: the end that offers it, e.g. 'frr1'"),
    Fact(
        "afi_families_missing",
        SESSION,
        "list[str]: families the other end offers and the culprit does not run, e.g. ['ipv6-unicast']",
    ),
    Fact("afi_fix_neighbor", SESSION, "str: the culprit's neighbor address for the other, e.g. '10.252.0.1'"),
    Fact("afi_fix_protocol", SESSION, "str: the culprit's protocol name ('' if unnamed), e.g. 'peer_x'"),
    Fact("afi_fix_asn", SESSION, "int: the culprit's AS, e.g. 65202"),
    Fact("as4_negotiated", SESSION, "bool: both ends sent the 4-byte AS capability (RFC 6793)"),
    Fact("as4_missing_on", SESSION, "str: the end that did not send it, e.g. 'bird1'"),
    # is the session really alive (engine/liveness.py)
    Fact(
        "bfd_one_sided",
        SESSION,
        "bool: one end runs BFD towards the other, which does not (GoBGP never does), or the peer "
        "outside the inventory never answers it",
    ),
    Fact("bfd_end", SESSION, "str: the end that expects BFD, e.g. 'bird1'"),
    Fact("bfd_state", SESSION, "str: its BFD session's state, e.g. 'down'"),
    Fact("bfd_expects", SESSION, "str: how it expects BFD, e.g. 'BIRD 2 runs a BFD session to 10.0.0.1 ...'"),
    Fact("bfd_neighbor", SESSION, "str: the expecting end's neighbor address, e.g. '10.0.0.1'"),
    Fact("bfd_protocol", SESSION, "str: its BIRD protocol ('' elsewhere), e.g. 'frr1'"),
    Fact("bfd_asn", SESSION, "int: the expecting end's AS, e.g. 65002"),
    Fact("bfd_other", SESSION, "str: the end without BFD (a host, or the outside peer's address)"),
    Fact("bfd_missing", SESSION, "str: what it lacks, e.g. 'FRR has no `neighbor 10.0.0.2 bfd`'"),
    Fact("bfd_other_daemon", SESSION, "str: the other end's speaker kind, e.g. 'frr'"),
    Fact("bfd_other_neighbor", SESSION, "str: the other end's neighbor address, e.g. '10.0.0.2'"),
    Fact("bfd_other_protocol", SESSION, "str: the other end's BIRD protocol ('' elsewhere), e.g. 'bird1'"),
    Fact("bfd_other_asn", SESSION, "int: the other end's AS, e.g. 65001"),
    Fact(
        "session_stale",
        SESSION,
        "bool: an end shows the session Established while its TCP connection gets no answer "
        "(`ss -ti`: the retransmission timer backed off twice or more)",
    ),
    Fact("stale_end", SESSION, "str: the end holding the dead connection, e.g. 'bird1'"),
    Fact("stale_socket", SESSION, "str: the connection and its retransmission state in one sentence"),
    Fact("stale_hold_time_s", SESSION, "int: the negotiated hold time at that end, e.g. 240"),
    Fact("stale_neighbor", SESSION, "str: that end's neighbor address, e.g. '10.0.0.1'"),
    Fact("stale_protocol", SESSION, "str: its BIRD protocol ('' elsewhere), e.g. 'frr1'"),
    Fact("stale_asn", SESSION, "int: that end's AS, e.g. 65002"),
    Fact(
        "session_flapping",
        SESSION,
        "bool: FRR counts 3 or more drops of the session (connectionsDropped), its state under 10 min old",
    ),
    Fact("flap_end", SESSION, "str: the end that counts them, e.g. 'frr1'"),
    Fact("flap_count", SESSION, "int: FRR's connectionsDropped, e.g. 7"),
    Fact("flap_reason", SESSION, "str: FRR's lastResetDueTo, e.g. 'BFD down received'"),
    Fact("flap_problem", SESSION, "str: the resets in one sentence with FRR's counters"),
    Fact(
        "session_reset_by_config",
        SESSION,
        "bool: a session that keeps resetting, and FRR's log (`log commands`) shows settings of that "
        "neighbor removed (`(config-router)# no neighbor ADDRESS bfd`), as a configuration reload does",
    ),
    Fact("flap_config_changes", SESSION, "list[str]: those log lines, the last three"),
    Fact("liveness_problem", SESSION, "str: the liveness fault in one sentence with the real names"),
    Fact("liveness_culprit", SESSION, "str: the end it is read from, e.g. 'bird1'"),
    Fact("liveness_fix_host", SESSION, "str: the end the fix goes to, e.g. 'frr1'"),
    Fact("liveness_fix_bfd", SESSION, "str: 'on' (run BFD there too) or 'off' (the peer cannot run it)"),
    Fact("liveness_fix_daemon", SESSION, "str: that end's speaker kind, e.g. 'frr'"),
    Fact("liveness_fix_neighbor", SESSION, "str: that end's neighbor address, e.g. '10.0.0.2'"),
    Fact("liveness_fix_protocol", SESSION, "str: its BIRD protocol ('' elsewhere), e.g. 'frr1'"),
    Fact("liveness_fix_asn", SESSION, "int: that end's AS, e.g. 65001"),
    Fact(
        "ttl_security_mismatch",
        SESSION,
        "bool: the session is down and an end's kernel drops segments below the minimum TTL its BGP "
        "socket requires (TcpExt TCPMinTTLDrop: GTSM, RFC 5082)",
    ),
    Fact("ttl_enforcing_end", SESSION, "str: the end that requires TTL 255, e.g. 'bird1'"),
    Fact("ttl_sender", SESSION, "str: the end that sends a lower TTL, e.g. 'frr1'"),
    Fact("ttl_drops", SESSION, "int: TCPMinTTLDrop on the enforcing end, e.g. 40"),
    Fact("ttl_seen", SESSION, "int: the lowest TTL of the SYNs captured at the enforcing end, e.g. 1"),
    Fact("ttl_problem", SESSION, "str: the GTSM mismatch in one sentence with the real names"),
    Fact("ttl_neighbor", SESSION, "str: the enforcing end's neighbor address, e.g. '10.0.0.1'"),
    Fact("ttl_protocol", SESSION, "str: its BIRD protocol ('' elsewhere), e.g. 'frr1'"),
    Fact("ttl_sender_neighbor", SESSION, "str: the sender's neighbor address, e.g. '10.0.0.2'"),
    Fact("ttl_sender_protocol", SESSION, "str: the sender's BIRD protocol ('' elsewhere), e.g. 'bird1'"),
    Fact("ttl_sender_asn", SESSION, "int: the sender's AS, e.g. 65001"),
    Fact(
        "recursive_peer_route",
        SESSION,
        "bool: the kernel reaches the peer address through a route BIRD learned over this same session",
    ),
    Fact("recursive_end", SESSION, "str: the end that depends on the route, e.g. 'bird1'"),
    Fact("recursive_prefix", SESSION, "str: the learned prefix covering the peer, e.g. '10.0.0.1/32'"),
    Fact("recursive_peer_address", SESSION, "str: the peer address it covers, e.g. '10.0.0.1'"),
    Fact(
        "recursive_route", SESSION, "str: the kernel's route to it, e.g. '10.0.0.1 via 10.9.0.9 proto bird'"
    ),
    Fact("recursive_protocol", SESSION, "str: the BIRD protocol it came from, e.g. 'frr1'"),
    Fact("recursive_sender", SESSION, "str: the end that announces it, e.g. 'frr1'"),
    Fact("recursive_sender_neighbor", SESSION, "str: the sender's neighbor address, e.g. '10.0.0.2'"),
    Fact("recursive_sender_asn", SESSION, "int: the sender's AS, e.g. 65001"),
    Fact("recursive_problem", SESSION, "str: the dependency in one sentence with the real names"),
    Fact(
        "source_bind_failed",
        SESSION,
        "bool: a BIRD end that is not Established logs `Socket error: bind: Cannot assign requested "
        "address` for the session's protocol (its source address is on none of its interfaces)",
    ),
    Fact("source_bind_end", SESSION, "str: the end that cannot bind, e.g. 'node1'"),
    Fact("source_bind_problem", SESSION, "str: the failure in one sentence with the log line"),
    Fact(
        "mesh_rr_overlap",
        SESSION,
        "bool: a BIRD end runs Calico's `Mesh_*` protocol and another BGP protocol (a BGPPeer, a route "
        "reflector) to the same neighbor address",
    ),
    Fact("mesh_rr_host", SESSION, "str: that BIRD end, e.g. 'node1'"),
    Fact("mesh_rr_neighbor", SESSION, "str: the neighbor address both protocols use, e.g. '10.0.0.2'"),
    Fact(
        "mesh_rr_protocols",
        SESSION,
        "list[str]: each protocol with its state, e.g. ['Mesh_10_0_0_2 Established', 'Node_10_0_0_2 Idle']",
    ),
    Fact("mesh_rr_problem", SESSION, "str: the overlap in one sentence with the protocols' names"),
    # the speakers' own state (engine/speaker_state.py)
    Fact(
        "admin_shutdown",
        SESSION,
        "bool: one end is administratively down (BIRD protocol disabled, FRR `neighbor shutdown`, "
        "GoBGP admin-down) or the other end received NOTIFICATION Cease/Administrative Shutdown (6/2)",
    ),
    Fact("admin_shutdown_end", SESSION, "str: the end shut down (a host, or the outside peer's address)"),
    Fact("admin_shutdown_by", SESSION, "str: how its state says so, e.g. 'BIRD 2 protocol frr1 is disabled'"),
    Fact("admin_shutdown_daemon", SESSION, "str: the shut end's daemon, e.g. 'FRR' ('the peer' outside)"),
    Fact("admin_shutdown_seen_by", SESSION, "str: the other end, which only sees its symptom, e.g. 'frr1'"),
    Fact(
        "admin_shutdown_symptom",
        SESSION,
        "str: the other end's state and last error, e.g. 'frr1: active (last error: BGP Notification "
        "received: Cease/Administrative Shutdown)'",
    ),
    Fact("admin_shutdown_neighbor", SESSION, "str: the shut end's neighbor address, e.g. '10.0.0.1'"),
    Fact("admin_shutdown_protocol", SESSION, "str: its BIRD protocol ('' elsewhere), e.g. 'frr1'"),
    Fact("admin_shutdown_asn", SESSION, "int: the shut end's own AS, e.g. 65002"),
    Fact(
        "as_path_loop",
        SESSION,
        "bool: an eBGP end sends routes whose AS path holds the other end's own AS, and the other end "
        "lacks them (dropped as loops); judged on Established sessions whose sender shows AS paths",
    ),
    Fact("as_path_loop_end", SESSION, "str: the end that drops them, e.g. 'node-b'"),
    Fact("as_path_loop_asn", SESSION, "int: its AS, found in the paths, e.g. 65002"),
    Fact("as_path_loop_sender", SESSION, "str: the end that sends them, e.g. 'tor'"),
    Fact("as_path_loop_sender_asn", SESSION, "int: the sender's AS, e.g. 65001"),
    Fact("as_path_loop_prefixes", SESSION, "list[str]: the prefixes dropped, e.g. ['10.90.31.0/24']"),
    Fact("as_path_loop_paths", SESSION, "str: paths at the sender, e.g. '10.90.31.0/24: AS path 65002'"),
    Fact("as_path_loop_protocol", SESSION, "str: the dropping end's BIRD protocol ('' else), e.g. 'tor'"),
    Fact("as_path_loop_sender_neighbor", SESSION, "str: the sender's neighbor address, e.g. '10.0.0.2'"),
    Fact("as_path_loop_peer_address", SESSION, "str: the dropping end's neighbor address, e.g. '10.0.0.1'"),
    Fact(
        "as_path_loop_withdraws",
        SESSION,
        "str: BIRD's counters of updates read as withdraws, e.g. 'Import withdraws: received 1, ignored 1'",
    ),
    Fact(
        "router_id_invalid",
        HOST,
        "bool: the speaker's router id is in 0.0.0.0/8, 224.0.0.0/4 or 240.0.0.0/4 (BIRD `show status`, "
        "GoBGP `global -j`, FRR `routerId`)",
    ),
    Fact("router_id_in_use", HOST, "str: the router id the speaker uses, e.g. '240.0.0.1'"),
    Fact("router_id_range", HOST, "str: the reserved block it falls in, e.g. '240.0.0.0/4 (reserved)'"),
    Fact("router_id_daemon", HOST, "str: the speaker, e.g. 'GoBGP'"),
    Fact("router_id_refused", HOST, "bool: a peer refused it: NOTIFICATION 2/3, 'Bad BGP identifier'"),
    Fact(
        "router_id_refusals",
        HOST,
        "str: the last errors saying so, e.g. 'bird1: BGP Error: Bad BGP identifier'",
    ),
    Fact("router_id_sessions_down", HOST, "list[str]: its neighbors not Established, e.g. ['10.0.0.2']"),
    Fact("router_id_suggested", HOST, "str: a usable id from the host's own addresses, e.g. '10.0.0.1'"),
    Fact("router_id_asn", HOST, "int: the host's AS (for the fix), e.g. 65003"),
    Fact(
        "md5_kernel_unsupported",
        HOST,
        "bool: the speaker cannot sign with TCP MD5: its state or log says the kernel refused "
        "(`Kernel does not support TCP MD5 signatures`, `protocol not available`), or the kernel "
        "lacks CONFIG_TCP_MD5SIG while a password is configured",
    ),
    Fact(
        "md5_kernel_config",
        HOST,
        "str: the kernel's option, e.g. 'CONFIG_TCP_MD5SIG=y (/proc/config.gz, kernel 6.1.0)'",
    ),
    Fact(
        "md5_kernel_said",
        HOST,
        "str: the line that shows it, e.g. 'frr1: Error: Kernel MD5 auth failed'",
    ),
    Fact("md5_kernel_daemon", HOST, "str: the speaker that could not sign, e.g. 'BIRD 2'"),
    Fact(
        "learned_routes_not_installed",
        HOST,
        "list[str]: prefixes a GoBGP speaker received that the kernel FIB does not carry, "
        "e.g. ['172.16.1.0/24']",
    ),
    Fact(
        "learned_routes_unreachable",
        HOST,
        "list[str]: those the FIB reaches no other way either (no default route), e.g. ['172.16.1.0/24']",
    ),
    Fact("learned_routes_design", HOST, "str: why they are not installed, e.g. 'GoBGP (...) never installs'"),
    Fact("learned_routes_via", HOST, "str: the FIB routes that reach them, e.g. '0.0.0.0/0 via 10.0.0.1'"),
    Fact("learned_routes_next_hop", HOST, "str: the first unreachable one's BGP next hop, e.g. '10.0.0.1'"),
    Fact(
        "learned_defaults_not_installed",
        HOST,
        "list[str]: default routes received from two or more neighbors whose next hop the kernel's "
        "default does not use, e.g. ['0.0.0.0/0 via 10.0.1.1 (from 10.0.1.1)']",
    ),
    Fact("learned_defaults_kernel", HOST, "str: the next hops of the kernel's default, e.g. '10.0.0.1'"),
    Fact(
        "learned_defaults_next_hops",
        HOST,
        "list[str]: every next hop of the default routes received, e.g. ['10.0.0.1', '10.0.1.1']",
    ),
    Fact("dialer", SESSION, "str: the end that connects (sends the SYN), e.g. 'gateway'"),
    Fact("listener", SESSION, "str: the end that should accept the connection, e.g. 'yuuko-k8s'"),
    Fact("listener_address", SESSION, "str: the address the dialer connects to, e.g. '192.168.6.21'"),
    Fact(
        "dialer_address",
        SESSION,
        "str: the dialer's address as the listener configured it, e.g. '192.168.6.1'",
    ),
    Fact(
        "expected_source",
        SESSION,
        "str: the source address the listener expects the SYN from, e.g. '192.168.6.1'",
    ),
    Fact(
        "listener_protocol",
        SESSION,
        "str: the listener's protocol/neighbor name for the dialer ('' when unnamed), e.g. 'gateway_v4'",
    ),
    Fact(
        "dialer_protocol",
        SESSION,
        "str: the dialer's protocol/neighbor name for the listener, e.g. 'yuuko_k8s'",
    ),
    Fact("listener_listens", SESSION, "bool: the listener has a socket listening on TCP 179 (`ss -ltn`)"),
    Fact("dialer_asn", SESSION, "int: the dialer's ASN (inventory), e.g. 64512"),
    Fact("dialer_speaker", SESSION, "str: the dialer's speaker kind (inventory), e.g. 'frr'"),
    Fact("listener_asn", SESSION, "int: the listener's ASN (inventory), e.g. 64513"),
    Fact(
        "refused_by_non_listener",
        SESSION,
        "bool: the session is down, the dialer's connection was refused and the listener does not listen",
    ),
    Fact(
        "neither_end_dials",
        SESSION,
        "bool: the session is down and both ends only wait for the other to connect (passive), with "
        "no sign of either dialling (no refusal, no connection under way, no SYN captured)",
    ),
    Fact("waiting_ends", SESSION, "list[str]: the two ends that both wait, e.g. ['router-home', 'n1']"),
    Fact("dial_candidate", SESSION, "str: the waiting end whose peer listens (make it dial), e.g. 'r1'"),
    Fact(
        "dial_candidate_protocol",
        SESSION,
        "str: its protocol/neighbor name for the other end ('' when unnamed), e.g. 'yuuko_k8s'",
    ),
    Fact("dial_candidate_neighbor", SESSION, "str: the address it would dial, e.g. '192.168.0.81'"),
    Fact("dial_candidate_asn", SESSION, "int: its own AS, e.g. 64515"),
    Fact("dial_candidate_peer_asn", SESSION, "int: the AS it expects from the other end, e.g. 64514"),
    Fact("dial_candidate_speaker", SESSION, "str: its speaker (inventory), e.g. 'bird2'"),
    Fact(
        "dialer_source",
        SESSION,
        "str: the source address the dialer's kernel picks (`ip route get`), e.g. '10.0.0.1'",
    ),
    Fact("source_matches", SESSION, "bool: dialer_source is the address the listener expects"),
    Fact(
        "dialer_source_interface",
        SESSION,
        "str: the interface the dialer's route to the listener leaves by, e.g. 'eth1'",
    ),
    Fact(
        "dialer_route_gateway",
        SESSION,
        "str: the gateway of that route ('' when connected), e.g. '10.0.0.254'",
    ),
    Fact(
        "dialer_expected_interface",
        SESSION,
        "str: the dialer's interface holding the expected source ('' when none), e.g. 'eth0'",
    ),
    Fact("transit", SESSION, "list[str]: hosts between the ends on the dialer's route, e.g. ['gateway']"),
    Fact(
        "nat_hosts_on_path",
        SESSION,
        "list[str]: hosts on the way with a masquerade rule for the outgoing interface (down sessions)",
    ),
    Fact("nat_host", SESSION, "str: the first such host, e.g. 'gateway'"),
    Fact("nat_rule", SESSION, "str: its masquerade rule, e.g. 'oifname \"eth1\" masquerade'"),
    Fact("nat_interface", SESSION, "str: the interface the rule masquerades on ('' when any), e.g. 'eth1'"),
    Fact("nat_table", SESSION, "str: the rule's nftables family and table, e.g. 'ip nat'"),
    Fact("nat_chain", SESSION, "str: the rule's chain, e.g. 'postrouting'"),
    Fact(
        "nat_culprit",
        SESSION,
        "str: the host that rewrites the BGP source (masquerade rule or SYN seen rewritten), e.g. 'gateway'",
    ),
    Fact("ebgp", SESSION, "bool: the ends have different ASNs"),
    Fact(
        "peer_hops_away",
        SESSION,
        "bool: eBGP to a peer reached through a gateway (not on a connected subnet)",
    ),
    Fact("multihop_ok", SESSION, "bool: such a session is configured with a TTL above 1 (multihop)"),
    Fact(
        "dialer_gateway", SESSION, "str: the gateway the dialer reaches the peer through, e.g. '10.0.0.254'"
    ),
    Fact("multihop_needed", SESSION, "int: the TTL the session needs (2 + transit hosts), e.g. 3"),
    Fact("asn_mismatch", SESSION, "bool: an end expects another peer AS than the other end announces"),
    Fact(
        "asn_mismatch_reported",
        SESSION,
        "bool: a NOTIFICATION said 'Bad peer AS' though no mismatch could be shown",
    ),
    Fact("asn_wrong_end", SESSION, "str: the end configured with the wrong peer AS, e.g. 'gateway'"),
    Fact("asn_other_end", SESSION, "str: the other end, e.g. 'yuuko-k8s'"),
    Fact("asn_configured", SESSION, "int: the peer AS the wrong end expects, e.g. 64513"),
    Fact("asn_actual", SESSION, "int: the AS the other end announces, e.g. 64514"),
    Fact("asn_local", SESSION, "int: the wrong end's own AS, e.g. 64512"),
    Fact(
        "asn_wrong_protocol",
        SESSION,
        "str: the wrong end's protocol/neighbor name ('' when unnamed), e.g. 'yuuko_k8s'",
    ),
    Fact("asn_peer_address", SESSION, "str: the neighbor address on the wrong end, e.g. '192.168.6.21'"),
    Fact(
        "router_id_conflict",
        SESSION,
        "bool: both ends have the same router id, or a NOTIFICATION said 'bad BGP identifier'",
    ),
    Fact("router_ids", SESSION, "str: both ends' router ids, e.g. 'gateway: 10.0.0.1, yuuko-k8s: 10.0.0.1'"),
    Fact("router_id", SESSION, "str: the first end's router id, e.g. '10.0.0.1'"),
    Fact(
        "router_id_fix_host",
        SESSION,
        "str: the end whose router id to change (a node when there is one), e.g. 'yuuko-k8s'",
    ),
    Fact(
        "router_id_fix_value", SESSION, "str: the router id to give it (its internal IP), e.g. '192.168.6.21'"
    ),
    Fact("router_id_fix_asn", SESSION, "int: that end's AS, e.g. 64513"),
    Fact("unconfigured_end", SESSION, "str: the end that lacks the other as a peer, e.g. 'yuuko-k8s'"),
    Fact("configured_end", SESSION, "str: the end that has the session configured, e.g. 'gateway'"),
    Fact(
        "configured_peer_address", SESSION, "str: the address the configured end dials, e.g. '192.168.6.21'"
    ),
    Fact(
        "unconfigured_peer_address",
        SESSION,
        "str: the address the unconfigured end should peer with, e.g. '192.168.6.1'",
    ),
    Fact("unconfigured_asn", SESSION, "int: the unconfigured end's AS, e.g. 64513"),
    Fact(
        "unconfigured_cni",
        SESSION,
        "str: the CNI whose agent runs the unconfigured node's speaker, 'cilium' or 'calico' (nodes only)",
    ),
    Fact("configured_asn", SESSION, "int: the configured end's AS, e.g. 64512"),
    Fact(
        "md5_ok",
        SESSION,
        "bool: no TCP MD5 counter rose on either end while the session was down (/proc/net/netstat)",
    ),
    Fact("md5_rejecting_host", SESSION, "str: the end whose MD5 counters rose, e.g. 'gateway'"),
    Fact("md5_counters", SESSION, "str: the counters that rose, e.g. 'TCPMD5NotFound +3'"),
    Fact("md5_other_host", SESSION, "str: the other end, e.g. 'yuuko-k8s'"),
    Fact("md5_other_asn", SESSION, "int: the other end's own AS, e.g. 64514"),
    Fact(
        "md5_neighbor_address",
        SESSION,
        "str: the address the other end has configured for the rejecting one (where the password goes)",
    ),
    Fact(
        "syn_sent_sources",
        SESSION,
        "list[str]: source addresses of the BGP SYNs captured leaving the dialer, e.g. ['10.0.0.1']",
    ),
    Fact(
        "syn_received_sources",
        SESSION,
        "list[str]: source addresses of this session's SYNs captured at the listener, e.g. ['10.0.0.1']",
    ),
    Fact("syn_sent_ttl", SESSION, "int: the lowest TTL of the SYNs leaving the dialer, e.g. 1"),
    Fact("syn_received_ttl", SESSION, "int: the lowest TTL of the SYNs reaching the listener, e.g. 63"),
    Fact(
        "syn_source_matches",
        SESSION,
        "bool: every SYN the listener received comes from the address it expects",
    ),
    Fact("syn_source_seen", SESSION, "str: the unexpected source the listener saw, e.g. '203.0.113.5'"),
    Fact(
        "syn_source_owner",
        SESSION,
        "str: the inventory host owning that address ('unknown' when none), e.g. 'gateway'",
    ),
    Fact(
        "syn_rewritten",
        SESSION,
        "bool: the source seen differs from the one the dialer sent (rewritten on the way)",
    ),
    Fact(
        "syn_lost_in_transit", SESSION, "bool: SYNs left the dialer and none reached the capturing listener"
    ),
    Fact("syn_unanswered", SESSION, "bool: the listener received the SYNs and sent no SYN-ACK back"),
    Fact(
        "syn_ttl_expires_at",
        SESSION,
        "str: the router the SYNs reach with TTL 1 (they expire there: no multihop), e.g. 'gateway'",
    ),
    Fact(
        "syn_last_seen",
        SESSION,
        "str: the last host on the path whose capture shows the SYNs, e.g. 'router-a'",
    ),
    Fact(
        "syn_first_missing", SESSION, "str: the first host after it whose capture does not, e.g. 'router-b'"
    ),
    Fact(
        "syn_drop_segment",
        SESSION,
        "str: the segment where the SYNs vanish, e.g. 'router-a (eth1) -> router-b (eth2)'",
    ),
    Fact("syn_segment_hosts", SESSION, "list[str]: the hosts of that segment, e.g. ['router-a', 'router-b']"),
    Fact(
        "syn_segment_devices",
        SESSION,
        "list[str]: inventory switches carrying that segment's subnet, e.g. ['sw1']",
    ),
    Fact("peer_icmp_ok", SESSION, "bool: the dialer's ping to the address it dials gets replies"),
    Fact(
        "port_filter_ok",
        SESSION,
        "bool: no readable nftables rule drops TCP 179 on the listener or a transit host",
    ),
    Fact(
        "port_filter_visible",
        SESSION,
        "bool: the rule dropping the SYNs could be read (False: the drop is on a device not visible here)",
    ),
    Fact("port_filter_host", SESSION, "str: the host whose rule drops TCP 179, e.g. 'gateway'"),
    Fact("port_filter_rule", SESSION, "str: that rule, e.g. 'ip saddr 192.168.0.81 tcp dport 179 drop'"),
    Fact("port_filter_table", SESSION, "str: its nftables family and table, e.g. 'inet bdl_fault'"),
    Fact("port_filter_chain", SESSION, "str: its chain, e.g. 'input'"),
    # the BGP flow's conntrack entries while the session is down (engine/conntrack_flows.py)
    Fact(
        "bgp_conntrack_stale",
        SESSION,
        "bool: an end or a router between them holds a conntrack entry of the 179 flow that no longer"
        " matches it (translated towards another port or address, or ESTABLISHED with no socket behind it)",
    ),
    Fact("stale_conntrack_host", SESSION, "str: the host holding that entry, e.g. 'router'"),
    Fact(
        "stale_conntrack_entry",
        SESSION,
        "str: the entry, e.g. 'ESTABLISHED 10.0.0.2:41000 -> 10.0.0.1:179, reply from 10.0.0.1:7890'",
    ),
    Fact(
        "stale_conntrack_why",
        SESSION,
        "str: why it does not match, e.g. 'translated: the reply comes from ...'",
    ),
    Fact("stale_conntrack_src", SESSION, "str: the entry's original source address, e.g. '10.0.0.2'"),
    Fact("stale_conntrack_dst", SESSION, "str: its original destination address, e.g. '10.0.0.1'"),
    Fact("stale_conntrack_sport", SESSION, "int: its original source port, e.g. 41000"),
    Fact("stale_conntrack_dport", SESSION, "int: its original destination port, e.g. 179"),
    # path: pod to pod between two nodes, or one BGP session's segment (engine/subjects.py _path_subject)
    Fact("segment", PATH, "bool: the path is a BGP session's segment (end to end), not pod to pod"),
    Fact(
        "source",
        ("path", "kubelet"),
        "str: path: the source node, e.g. 'sakamoto'; kubelet: the probe's source address, e.g. '10.42.0.10'",
    ),
    Fact("destination", PATH, "str: the destination node, e.g. 'yuuko-k8s'"),
    Fact("src_ip", PATH, "str: the source address, e.g. '10.42.1.1'"),
    Fact("dst_ip", PATH, "str: the destination address, e.g. '10.42.2.1'"),
    Fact("dst_cidr", PATH, "str: the destination's pod CIDR, e.g. '10.42.2.0/24'"),
    Fact(
        "cluster_pod_cidr",
        ("path", "kubelet", "cluster"),
        "str: the cluster's pod CIDR (inventory), or the nearest stand-in, e.g. '10.42.0.0/16'",
    ),
    Fact(
        "hops",
        PATH,
        "str: the hops the FIB leads through, a policy rule's table named, e.g. "
        "'a(->eth0) -> gw(eth0>tailscale0 table 52) -> b(tailscale0>-)'",
    ),
    Fact(
        "route_complete", PATH, "bool: every hop has a route to the destination (`ip -j route`, hop by hop)"
    ),
    Fact("route_missing_on", PATH, "str: the host where the route stops, e.g. 'gateway'"),
    Fact("route_stop_reason", PATH, "str: why it stops, e.g. 'no route to 10.42.2.1 on gateway'"),
    Fact(
        "rp_filter_ok", PATH, "bool: no receiving hop drops the packet by strict or loose reverse-path filter"
    ),
    Fact("rp_filter_host", PATH, "str: the hop that drops it, e.g. 'gateway'"),
    Fact("rp_filter_iif", PATH, "str: the interface it arrives on there, e.g. 'eth1'"),
    Fact(
        "rp_filter_return_dev",
        PATH,
        "str: the interface the route back leaves by ('none' when no route), e.g. 'eth0'",
    ),
    Fact("rp_filter_value", PATH, "int: the effective rp_filter there, 1 (strict) or 2 (loose)"),
    Fact("forwarding_ok", PATH, "bool: net.ipv4.ip_forward is on at every transit hop"),
    Fact("pod_ping_ok", PATH, "bool: the ping from the source to the destination gets replies"),
    Fact(
        "pod_ping_outcome",
        PATH,
        "str: what the ping saw, e.g. 'reply', 'unreachable', 'time-exceeded', 'silent-loss'",
    ),
    Fact("mtu_probes", PATH, "int: DF pings the MTU sweep sent, e.g. 12"),
    Fact("mtu_start", PATH, "int: the size the sender's interface allows, where the sweep starts, e.g. 1500"),
    Fact("path_mtu", PATH, "int: the largest DF packet that got a reply, e.g. 1380"),
    Fact("mtu_blackhole", PATH, "bool: larger packets are lost without any ICMP 'fragmentation needed'"),
    Fact("mtu_silent_above", PATH, "int: the smallest size lost without ICMP, e.g. 1381"),
    Fact("frag_needed_from", PATH, "str: the router that sent 'fragmentation needed', e.g. '10.0.1.1'"),
    Fact("mtu_bottleneck_host", PATH, "str: the hop whose outgoing MTU is the path MTU, e.g. 'gateway'"),
    Fact("mtu_bottleneck_iface", PATH, "str: that interface, e.g. 'wg0'"),
    Fact(
        "mtu_sender_mtu",
        PATH,
        "int: the sender's interface MTU on a layer 2 with a smaller receiver, e.g. 1500",
    ),
    Fact("mtu_receiver", PATH, "str: the host whose interface takes less, e.g. 'router-b'"),
    Fact("mtu_receiver_iface", PATH, "str: its interface, e.g. 'vxlan0'"),
    Fact("mtu_receiver_mtu", PATH, "int: that interface's MTU, e.g. 1420"),
    Fact(
        "mtu_odd_hosts",
        PATH,
        "str: of the two ends, the one whose MTU differs from the segment's other members, both "
        "when none tells (also for a narrow hop whose next hop on its layer 2 takes more), e.g. "
        "'router-b' or 'router-a, router-b'",
    ),
    Fact(
        "mtu_segment_peer",
        PATH,
        "str: the next hop on the narrow interface's layer 2 when it takes larger frames (two MTUs on "
        "one segment) and the narrow host is the odd member or nothing tells, e.g. 'router-b'",
    ),
    Fact("mtu_segment_peer_iface", PATH, "str: its interface on that layer 2, e.g. 'zt0'"),
    Fact("mtu_segment_mtu", PATH, "int: that interface's MTU, larger than the path MTU, e.g. 1420"),
    Fact(
        "pmtu_filter_host", PATH, "str: the host whose rule drops ICMP 'fragmentation needed', e.g. 'gateway'"
    ),
    Fact("pmtu_filter_rule", PATH, "str: that rule, e.g. 'icmp code frag-needed drop'"),
    Fact("pmtu_filter_table", PATH, "str: its nftables family and table, e.g. 'inet filter'"),
    Fact("pmtu_filter_chain", PATH, "str: its chain, e.g. 'forward'"),
    Fact(
        "firewall_host",
        PATH,
        "str: the router whose forward chain drops by default and accepts nothing for the pod CIDR",
    ),
    Fact("firewall_table", PATH, "str: that chain's family and table, e.g. 'inet filter'"),
    Fact("firewall_chain", PATH, "str: the chain, e.g. 'forward'"),
    Fact("firewall_in", PATH, "str: the interface the packet arrives on there, e.g. 'eth0'"),
    Fact("firewall_out", PATH, "str: the interface it leaves by, e.g. 'wg0'"),
    Fact(
        "firewall_reached",
        PATH,
        "bool: the packet gets as far as firewall_host's drop: every hop before it has a route, and "
        "every hop up to it forwards and passes rp_filter (what lies further along is not judged); "
        "for a drop on an end's own input path, the whole path delivers",
    ),
    # a host's own input path dropping untracked traffic (engine/untracked.py)
    Fact("firewall_untracked", PATH, "bool: the drop is of an untracked packet on the host's input path"),
    Fact("firewall_notrack_rule", PATH, "str: the rule that untracks it, e.g. 'ip saddr 10.0.0.0/8 notrack'"),
    Fact("firewall_notrack_table", PATH, "str: that rule's family and table, e.g. 'inet raw'"),
    Fact("firewall_notrack_chain", PATH, "str: its chain, e.g. 'prerouting'"),
    Fact(
        "firewall_untracked_packet",
        PATH,
        "str: the packet dropped, e.g. '10.42.3.1 -> 10.42.0.1 (the reply) on eth0'",
    ),
    Fact(
        "tunnel_drops",
        PATH,
        "str: the hop sending the packet into a WireGuard tunnel whose peers do not carry it, e.g. 'gateway'",
    ),
    Fact("tunnel_interface", PATH, "str: that WireGuard interface, e.g. 'wg0'"),
    Fact("tunnel_peer_key", PATH, "str: the public key of its first peer"),
    Fact("tunnel_allowed_ips", PATH, "str: that peer's allowed-ips, e.g. '10.0.0.0/24,10.42.1.0/24'"),
    # overlays read from their own state (engine/tunnels.py)
    Fact("tunnel_tailscale", PATH, "bool: the tunnel that drops it is Tailscale's (tailscale0)"),
    Fact(
        "tunnel_carries_pod_cidr",
        PATH,
        "bool: every WireGuard or Tailscale tunnel the path crosses carries the destination pod address",
    ),
    Fact(
        "tunnel_route_state",
        PATH,
        "str: why Tailscale does not carry the pod CIDR: 'not-advertised', 'not-approved', "
        "'not-accepted' or 'not-carried' (the advertising node's prefs unread)",
    ),
    Fact("tunnel_route_router", PATH, "str: the node that must advertise it (or whose route is unused)"),
    Fact(
        "tunnel_advertise_routes",
        PATH,
        "str: its advertised routes with the pod CIDR added, e.g. '192.168.31.0/24,10.42.1.0/24'",
    ),
    Fact(
        "tunnel_over_cni",
        HOST,
        "bool: a WireGuard or Tailscale peer endpoint in use is on the pod network (pod CIDR, CNI device)",
    ),
    Fact("tunnel_loop_kind", HOST, "str: 'wireguard' or 'tailscale'"),
    Fact("tunnel_loop_interface", HOST, "str: the tunnel interface, e.g. 'tailscale0'"),
    Fact("tunnel_loop_peer", HOST, "str: the peer (Tailscale host name or WireGuard public key)"),
    Fact("tunnel_loop_endpoint", HOST, "str: the endpoint in use, e.g. '10.244.55.193:41641'"),
    Fact("tunnel_loop_range", HOST, "str: why it is the pod network, e.g. '10.244.0.0/16 (the pod CIDR)'"),
    Fact(
        "cni_drops_local_bgp",
        HOST,
        "bool: Cilium's datapath drops BGP (port 179) to or from a loopback or own address",
    ),
    Fact("cni_drop_reason", HOST, "str: Cilium's drop reason, e.g. 'Invalid packet'"),
    Fact("cni_drop_flow", HOST, "str: the first such drop, e.g. '[::1]:39677 -> [::1]:179 tcp SYN'"),
    Fact("cni_drop_count", HOST, "int: how many such drops the monitor showed, e.g. 3"),
    Fact("cni_lo_extra_addresses", HOST, "list[str]: lo's addresses besides loopback, e.g. ['10.9.0.1/32']"),
    Fact("tunnel_loop_block", HOST, "str: the range to keep its packets out of, e.g. '10.244.0.0/16'"),
    Fact("tunnel_loop_port", HOST, "int: the endpoint's UDP port, e.g. 41641"),
    Fact("tunnel_loop_peer_host", HOST, "str: the inventory host that holds the endpoint, e.g. 'node-b'"),
    Fact("tunnel_loop_underlay", HOST, "str: that host's inventory address, e.g. '192.168.3.22'"),
    Fact(
        "tunnel_cni_candidates",
        HOST,
        "list[str]: Tailscale endpoints on the pod network not in use, e.g. ['node-b 10.244.55.193:41641']",
    ),
    # forward vs return path and stateful drops on one of them (engine/asymmetry.py)
    Fact("return_hops", PATH, "str: the reply's hops, e.g. 'n2(->eth1) -> rb(eth1>eth0) -> n1(eth0>-)'"),
    Fact("path_symmetric", PATH, "bool: the reply crosses the same hosts as the request"),
    Fact("one_way_hosts", PATH, "list[str]: hosts that see only the request or only the reply, e.g. ['ra']"),
    Fact(
        "asymmetric_stateful_drop",
        PATH,
        "bool: a host that sees only one direction drops by conntrack state (INVALID, established only)",
    ),
    Fact("stateful_drop_host", PATH, "str: that host, e.g. 'ra'"),
    Fact("stateful_drop_table", PATH, "str: its rule's nftables family and table, e.g. 'ip filter'"),
    Fact("stateful_drop_chain", PATH, "str: the rule's chain, e.g. 'KUBE-FORWARD'"),
    Fact("stateful_drop_rule", PATH, "str: the rule, e.g. 'ct state invalid drop (12 packets)'"),
    Fact("stateful_drop_kind", PATH, "str: 'invalid-drop' or 'established-only'"),
    Fact(
        "stateful_drop_sees",
        PATH,
        "str: the one direction the host routes, e.g. 'only 10.61.2.1 -> 10.61.1.1'",
    ),
    Fact("return_fix_host", PATH, "str: the host where the reply leaves the request's way, e.g. 'n2'"),
    Fact("return_fix_prefix", PATH, "str: the source's prefix to route back, e.g. '10.61.1.0/24'"),
    Fact(
        "return_fix_gateway", PATH, "str: the gateway that takes the request's way back, e.g. '10.213.31.2'"
    ),
    Fact("return_fix_wrong_gateway", PATH, "str: the gateway the reply takes now, e.g. '10.213.33.2'"),
    Fact("snat_host", PATH, "str: the host whose masquerade brings replies back through it, e.g. 'ra'"),
    Fact("snat_interface", PATH, "str: its interface towards the destination, e.g. 'eth1'"),
    Fact("snat_address", PATH, "str: its address there, e.g. '10.213.32.1'"),
    # paths of test clients (engine/client_paths.py)
    Fact("client_kind", PATH, "str: a test client's path: 'pod' (client to pod or back) or 'vip'"),
    Fact("answering_host", PATH, "str: the host that answers a client's request, e.g. 'n1'"),
    Fact("request_interface", PATH, "str: the interface the request arrives on there, e.g. 'eth1'"),
    Fact("reply_interface", PATH, "str: the interface its reply leaves by, e.g. 'eth0'"),
    Fact(
        "reply_same_interface",
        PATH,
        "bool: the answering host replies by the interface the request came in on",
    ),
    # a policy rule sending pod traffic into a tunnel (engine/hijack.py)
    Fact(
        "policy_hijacked",
        PATH,
        "bool: a policy rule sends the packet into a tunnel the main table would not use",
    ),
    Fact("policy_hijack_host", PATH, "str: the host where it happens, e.g. 'yuuko-k8s'"),
    Fact("policy_hijack_table", PATH, "str: the table its rule looks up, e.g. '52'"),
    Fact("policy_hijack_interface", PATH, "str: the tunnel interface, e.g. 'tailscale0'"),
    Fact("policy_hijack_route", PATH, "str: the route used, e.g. '10.42.0.0/16 dev tailscale0 table 52'"),
    Fact(
        "policy_hijack_main_route",
        PATH,
        "str: the main table's route, e.g. 'default via 192.168.0.1 dev eth0'",
    ),
    Fact("policy_hijack_rule", PATH, "str: the rule, e.g. '5270: from all lookup 52'"),
    Fact("policy_hijack_priority", PATH, "int: its priority, e.g. 5270"),
    Fact("policy_hijack_tailscale", PATH, "bool: it is Tailscale's table 52 and tailscale0"),
    Fact(
        "pod_route_learned", PATH, "bool: BIRD on the source node learned the destination's pod CIDR over BGP"
    ),
    Fact(
        "pod_route_by_default",
        PATH,
        "bool: the source node learns no BGP route by design and forwards along its default route",
    ),
    Fact(
        "ibgp_not_reflected",
        PATH,
        "str: the iBGP speaker that holds the route without reflecting it, e.g. 'gateway'",
    ),
    Fact("ibgp_client_protocol", PATH, "str: its protocol towards the source node, e.g. 'k3s_master_v4'"),
    Fact(
        "ibgp_client_protocols",
        PATH,
        "list[str]: all its plain iBGP protocols towards nodes, e.g. ['k3s_master_v4']",
    ),
    Fact("ibgp_learned_from", PATH, "str: the protocol it has the route from, e.g. 'k3s_wds1_v4'"),
    # the same, where the speaker's daemon names neighbors by address (FRR)
    Fact("ibgp_learned_from_neighbor", PATH, "str: the neighbor it has the route from, e.g. '10.215.0.2'"),
    Fact("ibgp_client_neighbor", PATH, "str: the source node's address as its neighbor, e.g. '10.215.0.1'"),
    Fact(
        "ibgp_client_addresses",
        PATH,
        "list[str]: its plain iBGP neighbors that are nodes, e.g. ['10.215.0.1', '10.215.0.2']",
    ),
    Fact("ibgp_reflector_asn", PATH, "int: its AS (iBGP: the nodes' too), e.g. 64531"),
    # kubelet: one per node, probed from the metrics-server vantage (engine/subjects.py _kubelet_subject)
    Fact("node", KUBELET, "str: the node whose kubelet is probed, e.g. 'yuuko-k8s'"),
    Fact("vantage", KUBELET, "str: the host the probe runs on (the metrics-server's node), e.g. 'sakamoto'"),
    Fact("target", KUBELET, "str: the address and port probed, e.g. '192.168.6.21:10250'"),
    Fact("address", KUBELET, "str: the address probed, e.g. '192.168.6.21'"),
    Fact("tcp", KUBELET, "str: the TCP connect result, 'ok', 'timeout', 'refused', 'error' or 'unknown'"),
    Fact("tls", KUBELET, "str: the TLS handshake result, 'ok', 'error' or 'not tried'"),
    Fact("probe_error", KUBELET, "str: the probe's error message ('' when none)"),
    Fact("kubelet_reachable", KUBELET, "bool: TCP connects and TLS (when tried) completes"),
    Fact(
        "node_lan", KUBELET, "str: the node's site LAN (or the /24 around its address), e.g. '192.168.6.0/24'"
    ),
    Fact(
        "kubelet_filter_rule",
        KUBELET,
        "str: the node's rule that drops the kubelet port, e.g. 'tcp dport 10250 drop'",
    ),
    Fact("kubelet_filter_table", KUBELET, "str: its nftables family and table, e.g. 'inet filter'"),
    Fact("kubelet_filter_chain", KUBELET, "str: its chain, e.g. 'input'"),
    # cluster: a configuration finding read from the Kubernetes API (engine/cluster.py)
    Fact("ok", CLUSTER, "bool: always False: each cluster subject is a finding"),
    Fact(
        "root_cause",
        CLUSTER,
        "str: the root cause the finding points to: the first playbook (by priority) its facts match, "
        "e.g. 'node-not-selected'",
    ),
    Fact(
        "message",
        CLUSTER,
        "str: the finding in words, e.g. 'node yuuko-k8s is selected by no Cilium BGP config (...)'",
    ),
    Fact("unselected_nodes", CLUSTER, "list[str]: nodes no BGP policy selects, e.g. ['yuuko-k8s']"),
    Fact("node_selectors", CLUSTER, "str: the policies' node selectors, e.g. 'bgp-policy: node-type=remote'"),
    Fact("selector_label", CLUSTER, "str: a label one of the selectors would match, e.g. 'node-type=remote'"),
    Fact(
        "auto_direct_routes_across_l3",
        CLUSTER,
        "bool: Cilium's autoDirectNodeRoutes is on across nodes in different subnets",
    ),
    Fact("local_nodes", CLUSTER, "list[str]: the nodes of the largest subnet, e.g. ['sakamoto', 'nano']"),
    Fact("remote_nodes", CLUSTER, "list[str]: the nodes in other subnets, e.g. ['yuuko-k8s']"),
    Fact(
        "bgp_peer_count",
        CLUSTER,
        "int: the BGP peers the cluster configures for a node some BGP configuration selects, e.g. 0",
    ),
    Fact(
        "selected_by",
        CLUSTER,
        "list[str]: the BGP configurations that select the node, e.g. ['CiliumBGPClusterConfig/bgp-local']",
    ),
    # LoadBalancer pool: from the cluster's pool objects, or from a router's BGP host routes (engine/vips.py)
    Fact(
        "lb_pool_name",
        ("host", "cluster"),
        "str: the LoadBalancer IP pool ('lb-pool' seen from a router), e.g. 'default-pool'",
    ),
    Fact(
        "lb_pool_cidr",
        ("host", "cluster"),
        "str: its block, or the VIPs a router learns, e.g. '10.0.4.192/26', '192.168.0.240/32'",
    ),
    Fact(
        "lb_pool_overlaps",
        ("host", "cluster"),
        "list[str]: node subnets it lies in (host: [] when someone answers ARP for every VIP), "
        "e.g. ['10.0.4.0/24 (nodes master-01, node-01)']",
    ),
    Fact(
        "lb_pool_suggested",
        ("host", "cluster"),
        "str: a /24 next to it that overlaps no node subnet, e.g. '10.0.6.0/24'",
    ),
    Fact(
        "lb_vip_announcer",
        HOST,
        "str: the hosts announcing VIPs inside the router's subnet, e.g. 'yuuko-k8s'",
    ),
    Fact(
        "lb_vip_answered",
        HOST,
        "bool: someone answers ARP for every such VIP (an L2 announcement: the design works)",
    ),
    Fact("lb_vip_arp", HOST, "str: the neighbour table's entries for the VIPs, e.g. '192.168.0.240: FAILED'"),
    # a Service with an outside IP, from the cluster and the routers' BGP routes (engine/lb_services.py)
    Fact("lb_service", CLUSTER, "str: the Service, namespace/name, e.g. 'default/web'"),
    Fact("lb_service_namespace", CLUSTER, "str: its namespace, e.g. 'default'"),
    Fact("lb_service_name", CLUSTER, "str: its name, e.g. 'web'"),
    Fact("lb_service_ips", CLUSTER, "list[str]: its LoadBalancer and external IPs, e.g. ['10.0.6.1']"),
    Fact("lb_announcer", CLUSTER, "str: who announces them over BGP, 'cilium', 'metallb' or 'calico'"),
    Fact(
        "lb_advert_missing",
        CLUSTER,
        "str: why no BGP speaker announces the IP ('' when announced), e.g. 'CiliumBGPAdvertisement "
        "lb has a Service advertisement without a selector, which selects no Service'",
    ),
    Fact(
        "lb_advert_labels",
        CLUSTER,
        "list[str]: labels a CiliumBGPPeerConfig family selects advertisements by, e.g. ['advertise=bgp']",
    ),
    Fact("metallb_namespace", CLUSTER, "str: the namespace of MetalLB's pools, e.g. 'metallb-system'"),
    Fact(
        "calico_lb_cidrs",
        CLUSTER,
        "list[str]: serviceLoadBalancerIPs with the Service's IPs added, e.g. ['10.0.6.0/24', '10.0.7.1/32']",
    ),
    Fact(
        "calico_external_cidrs",
        CLUSTER,
        "list[str]: serviceExternalIPs with the Service's external IPs added, e.g. ['203.0.113.10/32']",
    ),
    Fact(
        "etp_gap",
        CLUSTER,
        "str: how an externalTrafficPolicy: Local Service misses its endpoints ('' when it does not): "
        "'no-ready-endpoint', 'endpoints-on-non-speakers' or 'advertised-without-endpoint'",
    ),
    Fact(
        "endpoint_nodes", CLUSTER, "list[str]: nodes with a ready endpoint (EndpointSlices), e.g. ['node-01']"
    ),
    Fact(
        "speaker_nodes",
        CLUSTER,
        "list[str]: nodes the BGP configuration lets announce the Service, e.g. ['master-01', 'node-01']",
    ),
    Fact(
        "advertising_without_endpoint",
        CLUSTER,
        "list[str]: nodes the routers learn the Service's /32 from that run no ready endpoint, "
        "e.g. ['master-01']",
    ),
    Fact(
        "vip_next_hops",
        CLUSTER,
        "str: the Service's /32 in the routers' BGP routes, "
        "e.g. '10.0.6.1 on tor via 10.0.4.109, 10.0.4.110'",
    ),
    # the cluster's intent against itself and the daemons (engine/cluster_intent.py)
    Fact(
        "speaker_config_stale",
        CLUSTER,
        "bool: the node's daemon runs other neighbors or ASNs than the cluster configures",
    ),
    Fact(
        "stale_neighbors",
        CLUSTER,
        "list[str]: each difference, e.g. ['10.0.4.1 runs with AS 64513, the cluster says AS 64600 (...)']",
    ),
    Fact("node_speaker", CLUSTER, "str: the node's BGP daemon as the cluster sets it up, 'gobgp' or 'bird1'"),
    Fact("agent_namespace", CLUSTER, "str: the namespace of the node's CNI agent, e.g. 'kube-system'"),
    Fact("restart_agent", CLUSTER, "str: the command that restarts the node's CNI agent pod"),
    Fact(
        "mesh_with_reflectors",
        CLUSTER,
        "bool: Calico's node-to-node mesh is on while route reflectors are configured",
    ),
    Fact("rr_nodes", CLUSTER, "list[str]: nodes with a routeReflectorClusterID, e.g. ['rr-1']"),
    Fact("rr_cluster_ids", CLUSTER, "list[str]: their routeReflectorClusterIDs, e.g. ['244.0.0.1']"),
    Fact("rr_peers", CLUSTER, "list[str]: BGPPeers that peer nodes by peerSelector, e.g. ['peer-to-rrs']"),
    Fact("calico_mesh", CLUSTER, "str: how the mesh setting is stated, e.g. 'nodeToNodeMeshEnabled: true'"),
    Fact("calico_asn", CLUSTER, "int: the cluster's Calico AS number (default 64512)"),
    Fact(
        "lb_controller_conflict",
        CLUSTER,
        "bool: more than one LoadBalancer controller claims the Service",
    ),
    Fact(
        "lb_controllers",
        CLUSTER,
        "list[str]: the controllers claiming it, e.g. ['K3s servicelb (DaemonSet kube-system/svclb-web-1)']",
    ),
    Fact("local_peer_address", CLUSTER, "str: where two speakers of one node meet, e.g. '192.168.10.1'"),
    Fact("speaker_collision", CLUSTER, "bool: two speakers on the node peer with the same address"),
    Fact(
        "colliding_speakers",
        CLUSTER,
        "list[str]: the two, e.g. ['MetalLB BGPPeer tor', 'Calico BGPPeer/tor']",
    ),
    Fact("metallb_peer", CLUSTER, "str: the MetalLB BGPPeer of the collision, e.g. 'tor'"),
    Fact(
        "readiness_gated_on_peer",
        CLUSTER,
        "bool: a Calico BGPPeer to the node itself (127.0.0.1, its own address) gates calico-node readiness",
    ),
    Fact("calico_bgp_peer", CLUSTER, "str: that BGPPeer's name, e.g. 'metallb-local'"),
    # metrics-server's APIService and the nodes' registered addresses (bgpdoctor/kube/derive.py,
    # kube/cluster_intent.py): facts about API objects; whether a kubelet answers only a probe says
    Fact("metrics_api_available", CLUSTER, "bool: the metrics APIService reports Available"),
    Fact("metrics_api_reason", CLUSTER, "str: why it is not, e.g. 'FailedDiscoveryCheck'"),
    Fact("node_internal_ip", CLUSTER, "str: the InternalIP its Node object states, e.g. '100.64.1.7'"),
    Fact(
        "node_ip_suspect",
        CLUSTER,
        "str: why that InternalIP may not be where metrics-server reaches the kubelet, e.g. 'its InternalIP "
        "100.64.1.7 is an overlay address (100.64.0.0/10, e.g. Tailscale) that node-IP autodetection picked'",
    ),
    # the Cilium agent's DaemonSet against the ports it must bind (bgpdoctor/kube/cilium_agent.py)
    Fact(
        "cilium_no_bind_capability",
        CLUSTER,
        "bool: the node's Cilium must bind a port below 1024 and its agent lacks CAP_NET_BIND_SERVICE",
    ),
    Fact(
        "cilium_low_ports",
        CLUSTER,
        "list[str]: those ports, where set, e.g. ['CiliumBGPClusterConfig/bgp instance c localPort 179']",
    ),
    Fact("cilium_agent_daemonset", CLUSTER, "str: the agent's DaemonSet, e.g. 'kube-system/cilium'"),
    Fact(
        "cilium_agent_capabilities",
        CLUSTER,
        "list[str]: the agent container's added capabilities plus NET_BIND_SERVICE, e.g. ['CHOWN', ...]",
    ),
    Fact("cilium_daemonset_patch", CLUSTER, "str: the kubectl patch adding NET_BIND_SERVICE to the agent"),
    Fact("cilium_port_patch", CLUSTER, "str: kubectl patches moving those ports to 1790 (or dropping them)"),
    # what a Cilium node originates against its IPAM allocation (bgpdoctor/kube/ipam.py)
    Fact(
        "advertises_unallocated_prefix",
        CLUSTER,
        "bool: the node's GoBGP originates a prefix in no IPAM allocation, LoadBalancer pool or Service IP",
    ),
    Fact("unallocated_prefixes", CLUSTER, "list[str]: those prefixes, e.g. ['10.187.0.0/16']"),
    Fact("pod_cidr_source", CLUSTER, "str: where the node's pod CIDRs come from, e.g. 'Node spec.podCIDRs'"),
    Fact("ipam_mode", CLUSTER, "str: Cilium's IPAM mode (cilium-config ipam), e.g. 'multi-pool'"),
    Fact("advertisement_label_key", CLUSTER, "str: a label selecting advertisements, e.g. 'advertise'"),
    Fact("advertisement_label_value", CLUSTER, "str: its value, e.g. 'bgp'"),
)

BY_NAME: dict[str, Fact] = {f.name: f for f in FACTS}


def names_for(kind: str) -> list[str]:
    """The fact names a subject of `kind` can have, sorted.

    Example: names_for("kubelet")[:2] -> ['address', 'cluster_pod_cidr']
    """
    return sorted(f.name for f in FACTS if kind in f.kinds)
