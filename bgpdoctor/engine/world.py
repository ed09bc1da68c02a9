"""A parsed view of everything collected: who owns which address, routes, sessions, paths.

Pure code over the raw outputs in HostFacts; parse failures become recorded errors, never crashes.
"""

from __future__ import annotations

import functools
import gc
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from bgpdoctor.engine.collect import HostFacts
from bgpdoctor.engine.policy import PolicyAnswer, policy_lookup
from bgpdoctor.engine.routing import RouteTable, address_owners
from bgpdoctor.errors import BgpDoctorError
from bgpdoctor.intent import PeerIntent
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers import bird, gobgp, iproute, iprule, nft, ss
from bgpdoctor.parsers.netstat import parse_proc_netstat
from bgpdoctor.report.model import Evidence

if TYPE_CHECKING:
    from bgpdoctor.drivers import NeighborState

T = TypeVar("T")
P = ParamSpec("P")

UnknownKind = Literal[
    "timeout",
    "command-missing",
    "permission-denied",
    "failed",
    "parse-error",
    "unreachable",
    "not-collected",
    "truncated",
    "internal-error",
    "ambiguous",
]


@dataclass(frozen=True)
class Unknown:
    """Why a fact could not be known.

    Example: Unknown("timeout", "`ip -j route show table main` timed out on router-mine")
    """

    kind: UnknownKind
    detail: str

    def __str__(self) -> str:
        return self.detail


def without_cycle_collection(fn: Callable[P, T]) -> Callable[P, T]:
    """Run `fn` with Python's cycle collector paused. Reading thousands of hosts holds millions of
    objects, and every collection rescans them all: at 5,000 nodes that was a third of a replay.
    Reference counting still frees nearly everything; cycles are collected once it is back on."""

    @functools.wraps(fn)
    def paused(*args: P.args, **kwargs: P.kwargs) -> T:
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return paused


_UNREAD = object()  # World.parsed has not read the output yet (None: read, and unreadable)


class FactUnknown(BgpDoctorError):
    """A derivation needed a fact that could not be collected or read; what it would derive is unknown."""

    def __init__(self, unknown: Unknown) -> None:
        super().__init__(unknown.detail)
        self.unknown = unknown


def _route_entries(
    text: str, ipv6: bool = False, parsed: list[iproute.Route] | None = None
) -> list[tuple[str, str]]:
    """(normalised destination, the entry as compact JSON) per route of `ip -j route`; [] if unreadable.
    `parsed`: the routes World.parsed already read from `text` (not parsed again)."""
    import json

    from bgpdoctor.parsers import ParseError

    try:
        routes = parsed if parsed is not None else iproute.parse_routes(text, ipv6)
        raw = json.loads(text)
    except (ParseError, ValueError):
        return []
    return [(r.dst, json.dumps(entry, separators=(",", ":"))) for r, entry in zip(routes, raw, strict=True)]


def route_fact(address: str) -> str:
    """The fact holding the main table that routes `address`: `ip -j route` lists IPv4 only.

    Example: route_fact("fd00:42::1") -> "ip6.route"; route_fact("10.42.0.1") -> "ip.route"
    """
    return "ip6.route" if ":" in address else "ip.route"


def _first_interface_of(addresses: list[iproute.Address]) -> dict[str, str]:
    by_address: dict[str, str] = {}
    for a in addresses:
        by_address.setdefault(a.address, a.ifname)
    return by_address


def _rule_tables6(text: str) -> dict[str, list[iproute.Route]]:
    """The IPv6 tables the IPv6 rules look up (`ip -6 -j route show table T`), defaults as ::/0."""
    tables = iprule.parse_rule_tables(text)
    for routes in tables.values():
        for r in routes:
            r.dst = "::/0" if r.dst == "0.0.0.0/0" else r.dst
    return tables


@functools.lru_cache(maxsize=65536)  # every hop of every trace asks
def _is_link_local(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_link_local
    except ValueError:
        return False


def parse_proc_sysctl(text: str) -> dict[str, str]:
    """`grep -H . /proc/sys/net/ipv4/...` output to sysctl keys.

    Example: "/proc/sys/net/ipv4/conf/all/rp_filter:1" -> {"net.ipv4.conf.all.rp_filter": "1"}
    """
    from bgpdoctor.parsers import ParseError

    values: dict[str, str] = {}
    for line in text.splitlines():
        path, sep, value = line.partition(":")
        if not sep or not path.startswith("/proc/sys/"):
            continue
        if not value.isascii():  # the kernel writes ASCII; "²".isdigit() is True but int("²") fails
            raise ParseError("sysctl", f"{path}: not a kernel value: {value[:40]!r}")
        values[path[len("/proc/sys/") :].replace("/", ".")] = value.strip()
    return values


def parse_wg_allowed_ips(text: str) -> dict[str, list[tuple[str, list[str]]]]:
    """`wg show all allowed-ips` to {interface: [(peer public key, [allowed CIDRs])]}.

    Example: "wg0\tAbC=\t10.254.42.2/32 192.168.0.0/24"
        -> {"wg0": [("AbC=", ["10.254.42.2/32", "192.168.0.0/24"])]}
    """
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            ips = [] if parts[2] == "(none)" else parts[2].split()
            out.setdefault(parts[0], []).append((parts[1], ips))
    return out


def effective_rp_filter(values: dict[str, str], interface: str) -> int | None:
    """The kernel uses max(conf.all.rp_filter, conf.<iface>.rp_filter)."""
    found = [values.get(f"net.ipv4.conf.{k}.rp_filter") for k in ("all", interface)]
    numbers = [int(v) for v in found if v is not None and v.isascii() and v.isdigit()]
    return max(numbers) if numbers else None


@dataclass
class SessionEnd:
    """One end of an expected session: its intent (`peer`, the one session model, read from the
    inventory's peer entry; `asn`), what its daemon reports for the other end (`observed`, the
    driver's NeighborState) and the kernel's facts.

    Example: SessionEnd("router-mine", peer, asn=65001, observed=NeighborState(address="10.0.0.2",
    state="active", last_error="Socket: Connection refused"), listens=True)
    """

    host: str
    peer: PeerIntent | None  # this end's configuration for the other end (None: not configured)
    asn: int | None = None  # the inventory's AS of the host
    observed: NeighborState | None = None  # the daemon's entry for the other end (None: none, or unread)
    missing: bool = False  # the daemon was read and has no neighbor for the other end
    listens: bool | None = None
    source_address: str | None = None  # source the kernel picks towards the peer
    route_gateway: str | None = None  # None: the peer is on a directly connected subnet
    router_id: str | None = None
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def state(self) -> str | None:
        """established, active, connect, idle, passive, opensent, ..., missing; None: unknown."""
        if self.observed is not None:
            return self.observed.state
        return "missing" if self.missing else None

    @property
    def passive(self) -> bool | None:
        """Waits for the other end to dial: as the daemon shows it, else as the inventory says."""
        if self.observed is None or self.observed.passive is not None:
            return self.observed.passive if self.observed is not None else None
        return self.peer.passive if self.peer is not None else None

    @property
    def multihop_ttl(self) -> int | None:
        """BIRD shows multihop only while the session is up: the inventory says it otherwise."""
        if self.observed is None or self.observed.multihop_shown:
            return self.observed.multihop_ttl if self.observed is not None else None
        return self.peer.multihop if self.peer is not None else None

    @property
    def local_as(self) -> int | None:
        """The AS this end announces in its OPEN: the daemon's, else the inventory's."""
        return (self.observed.local_as if self.observed is not None else None) or self.asn


@dataclass
class Session:
    a: SessionEnd
    b: SessionEnd | None  # None when the other end is not in the inventory

    @property
    def label(self) -> str:
        other = self.b.host if self.b else str(self.a.peer.address if self.a.peer else "?")
        peer = self.a.peer or (self.b.peer if self.b else None)
        # the IPv6 session of a dual-stack pair: "r1<->n1/ipv6" (link-local: "r1<->n1/ipv6-ll")
        kind = "" if peer is None or peer.family == 4 or self.b is None else "/ipv6"
        if kind and peer is not None and peer.link_local:
            kind += "-ll"
        return f"{self.a.host}<->{other}{kind}"

    @property
    def ends(self) -> list[SessionEnd]:
        return [self.a] + ([self.b] if self.b else [])

    @property
    def hosts(self) -> list[str]:
        return [e.host for e in self.ends]


@dataclass
class Hop:
    host: str
    iif: str | None  # interface the packet arrives on (None at the source)
    oif: str | None  # interface it leaves through (None at the destination)
    gateway: str | None
    route: str | None  # the matching route's destination, or None when there is none
    table: str | None = None  # the routing table a policy rule chose, when not the main table


@dataclass
class Path:
    source: str
    destination: str
    src_ip: str
    dst_ip: str
    dst_cidr: str
    hops: list[Hop]
    complete: bool
    stop_reason: str | None = None
    unknown: Unknown | None = None  # the trace stopped because a hop's facts could not be read

    @property
    def label(self) -> str:
        return f"{self.source}->{self.destination}"

    @property
    def transit(self) -> list[str]:
        return [h.host for h in self.hops[1:-1]] if self.complete else [h.host for h in self.hops[1:]]


class World:
    """Parsed facts of all hosts plus the inventory, with the lookups checks need."""

    def __init__(self, inv: Inventory, facts: dict[str, HostFacts]) -> None:
        self.inv = inv
        self.facts = facts
        self.parse_errors: dict[tuple[str, str], str] = {}
        self.last_read: tuple[str, str] | None = None  # the output parsed last (names a failed derivation)
        self._cache: dict[tuple[str, str], Any] = {}
        self._route_tables: dict[str, RouteTable] = {}
        # (host, route fact) -> dst -> [(position, entry)]
        self._route_entries: dict[tuple[str, str], dict[str, list[tuple[int, str]]]] = {}
        self._owners: dict[str, str] | None = None
        self._evidence_text: dict[tuple[str, str], str] = {}  # one copy per output, however often cited
        self._evidence: dict[tuple[str, str, str | None], Evidence] = {}
        self._route_quotes: dict[tuple[str, frozenset[str], str | None], Evidence] = {}
        self._neighbors: dict[str, list[NeighborState] | None] = {}
        self._neighbor_index: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
        self._memo: dict[tuple[str, ...], Any] = {}
        self._traces: dict[tuple[str, str, str, str, str], tuple[Path, tuple[str, str] | None]] = {}

    # -- parsing with memo and error capture --------------------------------------------------
    def parsed(self, host: str, fact: str, parser: Callable[[str], T]) -> T | None:
        key = (host, fact)
        self.last_read = key
        known = self._cache.get(key, _UNREAD)
        if known is not _UNREAD:
            return known  # type: ignore[no-any-return]
        result = self.facts[host].outputs.get(fact) if host in self.facts else None
        value: T | None = None
        # a cut output is never read: a partial `show protocols` would make present peers "missing"
        if result is not None and result.ok and not getattr(result, "truncated", False):
            try:
                value = parser(result.stdout)
            except (BgpDoctorError, ValueError) as exc:
                self.parse_errors[key] = str(exc)
            except Exception as exc:  # a parser bug on odd output is this fact's problem, not the run's
                self.parse_errors[key] = f"{type(exc).__name__}: {exc}"[:300]
        self._cache[key] = value
        return value

    def memo(self, key: tuple[str, ...], compute: Callable[[], T]) -> T:
        """A value derived from a host's facts, computed once per run (a router's N sessions each
        asking for a view of its N routes made the run quadratic). Callers must not mutate it.

        Example: world.memo(("receiver_prefixes", "router-mine"), lambda: {...})
        """
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[no-any-return]

    def evidence(self, host: str, fact: str, note: str | None = None) -> Evidence | None:
        quoted = self._evidence.get((host, fact, note))
        if quoted is not None:  # one object per output and note, however many verdicts cite it
            return quoted
        facts = self.facts.get(host)
        result = facts.outputs.get(fact) if facts else None
        if result is None:
            return None
        output = self._evidence_text.get((host, fact))
        if output is None:
            output = result.stdout if result.stdout.strip() or not result.stderr else result.stderr
            if result.timed_out:
                output += "\n[timed out]"
            if result.truncated:
                output += "\n" + result.truncation_note
            output = self._evidence_text[(host, fact)] = output.rstrip()
        quoted = self._evidence[(host, fact, note)] = Evidence(
            host=host, command=result.command, output=output, exit_status=result.exit_status, note=note
        )
        return quoted

    def route_excerpt(self, host: str, prefixes: list[str], note: str | None = None) -> Evidence | None:
        """The host's main-table entries for these prefixes, as `ip -j route` printed them; the whole
        table when none is there (or it cannot be read), since then the table itself is the evidence.

        A path quotes the route each hop used: quoting each router's whole table in every path made
        reports grow with nodes x routes. Example: route_excerpt("router-mine", ["10.42.3.0/24"]).
        """
        fact = "ip6.route" if any(":" in p for p in prefixes) else "ip.route"
        whole = self.evidence(host, fact, note)
        if whole is None or not prefixes:
            return whole
        by_dst = self._route_entries.get((host, fact))
        if by_dst is None:
            by_dst = self._route_entries[(host, fact)] = {}
            text = self.facts[host].outputs[fact].stdout
            parsed = self._cache.get((host, fact))  # the trace through this host read its table
            for at, (dst, raw) in enumerate(_route_entries(text, fact == "ip6.route", parsed)):
                by_dst.setdefault(dst, []).append((at, raw))
        key = (host, frozenset(prefixes), note)
        if key in self._route_quotes:  # every path through a router quotes the same few of its routes
            return self._route_quotes[key]
        # in the table's order: a path asks for one or two of a router's N routes, N times
        picked = [raw for _, raw in sorted(e for dst in key[1] for e in by_dst.get(dst, []))]
        quoted = whole
        if picked:
            quoted = whole.model_copy(
                update={"output": "[" + ",".join(picked) + "]", "note": note or "the route used"}
            )
        self._route_quotes[key] = quoted
        return quoted

    def command_problem(self, host: str, fact: str) -> Unknown | None:
        """Why a fact is unusable (unreachable, command missing, timed out, failed, unparsed), or None."""
        facts = self.facts.get(host)
        if facts is None:
            return Unknown("not-collected", f"{host} is not in the run's scope")
        if fact not in facts.outputs:
            if facts.error:
                return Unknown("unreachable", f"{host} unusable: {facts.error.kind}: {facts.error.message}")
            return Unknown("not-collected", f"{fact} was not collected on {host}")
        result = facts.outputs[fact]
        if result.timed_out:
            return Unknown("timeout", f"`{result.command}` timed out on {host}")
        if result.command_missing:
            return Unknown("command-missing", f"command not found on {host}: `{result.command.split()[0]}`")
        if getattr(result, "truncated", False):
            return Unknown("truncated", f"output of `{result.command}` on {host} was cut at the size limit")
        if result.exit_status != 0:
            text = (result.stderr or result.stdout).strip().splitlines()
            last = text[-1][:200] if text else f"exit status {result.exit_status}"
            denied = any(w in (result.stderr or "").lower() for w in ("permission denied", "not permitted"))
            return Unknown(
                "permission-denied" if denied else "failed", f"`{result.command}` failed on {host}: {last}"
            )
        if (host, fact) in self.parse_errors:
            first = result.stdout[:60].replace("\n", "\\n")
            return Unknown(
                "parse-error",
                f"could not read `{result.command}` on {host}: {self.parse_errors[(host, fact)]}"
                f" (output starts {first!r})",
            )
        return None

    def collected(self, host: str, fact: str) -> bool:
        """A command was run for this fact (its output may still be unusable)."""
        return host in self.facts and fact in self.facts[host].outputs

    def known(self, host: str, fact: str, parser: Callable[[str], T]) -> T:
        """The parsed fact, or FactUnknown with the reason it could not be had."""
        value = self.parsed(host, fact, parser)
        if value is None:
            raise FactUnknown(
                self.command_problem(host, fact) or Unknown("parse-error", f"{fact} on {host} gave nothing")
            )
        return value

    def sysctl_int(self, host: str, fact: str, key: str) -> int:
        """One numeric sysctl from a collected `sysctl` output, or FactUnknown saying why not.

        Example: world.sysctl_int("router-home", "sysctl", "net.ipv4.ip_forward") -> 1
        """
        value = self.known(host, fact, parse_proc_sysctl).get(key, "")
        if not (value.isascii() and value.isdigit()):
            raise FactUnknown(Unknown("parse-error", f"no {key} in the {fact} output of {host}"))
        return int(value)

    # -- per-host views ------------------------------------------------------------------------
    def routes(self, host: str) -> list[iproute.Route]:
        return self.parsed(host, "ip.route", iproute.parse_routes) or []

    def routes6(self, host: str) -> list[iproute.Route]:
        return self.parsed(host, "ip6.route", iproute.parse_routes6) or []

    def addresses(self, host: str) -> list[iproute.Address]:
        return self.parsed(host, "ip.addr", iproute.parse_addresses) or []

    def sysctl(self, host: str) -> dict[str, str]:
        return self.parsed(host, "sysctl", parse_proc_sysctl) or {}

    def listening_179(self, host: str) -> bool | None:
        sockets = self.parsed(host, "ss.listen", ss.parse_ss)
        if sockets is None:
            return None
        return any(s.local_port == 179 for s in sockets)

    def bird_protocols(self, host: str) -> list[bird.BirdProtocol] | None:
        return self.parsed(host, "bird.protocols", bird.parse_show_protocols_all)

    def wireguard(self, host: str) -> dict[str, list[tuple[str, list[str]]]]:
        if self.collected(host, "wg.dump"):  # one `wg show all dump` gives allowed-ips and endpoints
            from bgpdoctor.parsers.wireguard import parse_dump

            dump = self.parsed(host, "wg.dump", parse_dump)
            return dump.allowed_ips() if dump is not None else {}
        return self.parsed(host, "wg.allowed", parse_wg_allowed_ips) or {}  # recordings made before

    def netstat(self, host: str, fact: str = "netstat") -> dict[str, int]:
        return self.parsed(host, fact, parse_proc_netstat) or {}

    def listeners_179(self, host: str) -> list[ss.Socket] | None:
        sockets = self.parsed(host, "ss.listen", ss.parse_ss)
        return None if sockets is None else [s for s in sockets if s.local_port == 179]

    def neighbors(self, host: str) -> list[NeighborState] | None:
        """Every neighbor the host's BGP daemon reports (its driver's reading, made once per run:
        each of a router's sessions asks for the list); None when unknown or no daemon."""
        if host not in self._neighbors:
            from bgpdoctor.drivers import driver_for

            driver = driver_for(self.inv.hosts[host].speaker)
            self._neighbors[host] = driver.neighbors(self, host) if driver is not None else None
        return self._neighbors[host]

    def neighbor_for(self, host: str, peer: PeerIntent) -> NeighborState | None:
        """drivers.match_neighbor over the host's neighbors (the first with the peer's address or
        protocol name), indexed once per host: a router's N sessions each scanned its N neighbors."""
        from bgpdoctor.drivers import canonical_address

        neighbors = self.neighbors(host)
        if neighbors is None:
            return None
        index = self._neighbor_index.get(host)
        if index is None:
            by_address: dict[str, int] = {}
            by_name: dict[str, int] = {}
            for at, n in enumerate(neighbors):
                if n.address is not None:
                    by_address.setdefault(canonical_address(n.address), at)  # fe80::1%eth0 -> fe80::1
                if n.name is not None:
                    by_name.setdefault(n.name, at)
            index = self._neighbor_index[host] = (by_address, by_name)
        found = [
            index[0].get(canonical_address(str(peer.address))),
            index[1].get(peer.name) if peer.name is not None else None,
        ]
        first = min((at for at in found if at is not None), default=None)
        return None if first is None else neighbors[first]

    def router_id(self, host: str) -> str | None:
        """The router id the speaker really uses (BIRD `show status`, `gobgp -j global`)."""
        from bgpdoctor.drivers import driver_for

        driver = driver_for(self.inv.hosts[host].speaker)
        return driver.router_id(self, host) if driver is not None else None

    def bird_routes(self, host: str) -> list[bird.BirdRoute] | None:
        return self.parsed(host, "bird.routes", bird.parse_show_route)

    def bird_bgp_routes(self, host: str) -> list[bird.BirdRoute] | None:
        """Every BGP path BIRD holds (`show route all where source = RTS_BGP`), best or not."""
        return self.parsed(host, "bird.bgp_routes", bird.parse_show_route)

    def gobgp_neighbors(self, host: str) -> list[gobgp.GobgpNeighbor] | None:
        result = self.facts[host].outputs.get("gobgp.neighbors") if host in self.facts else None
        if result is not None and result.command.startswith("cilium-dbg "):
            from bgpdoctor.kube.ciliumdbg import as_gobgp_neighbors  # Cilium agent through its pod

            return self.parsed(host, "gobgp.neighbors", as_gobgp_neighbors)
        from bgpdoctor.drivers.gobgp import neighbor_output  # read once for every reader of it

        return self.parsed(host, "gobgp.neighbors", lambda _: neighbor_output(self, host).parsed_neighbors())

    def gobgp_rib(self, host: str) -> list[gobgp.GobgpPath] | None:
        return self.parsed(host, "gobgp.rib", gobgp.parse_rib)

    def ruleset(self, host: str) -> nft.Ruleset | None:
        return self.parsed(host, "nft.ruleset", nft.parse_ruleset)

    def route_get(self, host: str, address: str) -> iproute.RouteGet | None:
        return self.parsed(host, f"route.get.{address}", iproute.parse_route_get)

    def owner_of(self, address: str) -> str | None:
        """The inventory host that owns an address (collected addresses first, then inventory)."""
        if self._owners is None:
            self._owners = address_owners(
                [(name, self.addresses(name)) for name in self.facts],
                [
                    (name, [str(a) for a in h.addresses] + ([str(h.internal_ip)] if h.internal_ip else []))
                    for name, h in self.inv.hosts.items()
                ],
            )
        return self._owners.get(address)

    def interface_for_subnet(self, host: str, address: str) -> str | None:
        ip = ipaddress.ip_address(address)
        for a in self.addresses(host):
            try:
                net = ipaddress.ip_network(f"{a.address}/{a.prefixlen}", strict=False)
            except ValueError:
                continue
            if ip in net and net.prefixlen < net.max_prefixlen:  # a subnet, not a host's own /32 or /128
                return a.ifname
        return None

    def _main_table(self, host: str, address: str) -> RouteTable:
        """The host's main table of the address's family, indexed once."""
        if ":" in address:
            key = f"{host}\x00ip6"  # the IPv6 table beside the IPv4 one
            table6 = self._route_tables.get(key)
            if table6 is None:
                table6 = self._route_tables[key] = RouteTable(self.routes6(host))
            return table6
        table = self._route_tables.get(host)
        if table is None:
            table = self._route_tables[host] = RouteTable(self.routes(host))
        return table

    def lookup(self, host: str, address: str) -> iproute.Route | None:
        """Longest-prefix match in the host's main table (what the kernel would pick)."""
        return self._main_table(host, address).lookup(address)

    def policy_route(self, host: str, dst: str, src: str | None, iif: str | None) -> PolicyAnswer:
        """The route the host's policy rules (`ip rule`) pick for a packet; see engine/policy.py."""
        if ":" in dst:
            rules6 = self.parsed(host, "ip6.rule", iprule.parse_rules)
            tables6 = self._rule_tables(host, "ip6.route.rules", _rule_tables6)
            return policy_lookup(rules6, tables6, self._main_table(host, dst), dst, src, iif)
        rules = self.parsed(host, "ip.rule", iprule.parse_rules)
        main = self._route_tables.get(host)
        if main is None:
            main = self._route_tables[host] = RouteTable(self.routes(host))
        tables = self._rule_tables(host, "ip.route.rules", iprule.parse_rule_tables)
        return policy_lookup(rules, tables, main, dst, src, iif)

    def _rule_tables(
        self, host: str, fact: str, parser: Callable[[str], dict[str, list[iproute.Route]]]
    ) -> dict[str, RouteTable]:
        """The host's policy-routing tables indexed once per run (every hop of every path asks)."""
        parsed = self.parsed(host, fact, parser)  # read each time: it names the output being read

        def indexed() -> dict[str, RouteTable]:
            return {name: RouteTable(routes) for name, routes in (parsed or {}).items()}

        return self.memo(("rule_tables", host, fact), indexed)

    def interface_holding(self, host: str, address: str) -> str | None:
        return self._interfaces_by_address(host).get(address)

    def is_local(self, host: str, address: str) -> bool:
        return address in self._interfaces_by_address(host)

    def _interfaces_by_address(self, host: str) -> dict[str, str]:
        """Each of the host's addresses and the first interface listing it, made once per run
        (every hop of every path asks about two addresses)."""
        listed = self.addresses(host)  # read each time: it names the output being read
        return self.memo(("interfaces_by_address", host), lambda: _first_interface_of(listed))

    # -- paths ---------------------------------------------------------------------------------
    def trace(self, source: str, src_ip: str, dst_ip: str, dst_cidr: str, destination: str) -> Path:
        """Follow the kernel FIBs hop by hop from `source` towards `dst_ip`; traced once per run
        (choosing the pod paths, their subjects and the sessions ask again). Callers must not change it."""
        key = (source, src_ip, dst_ip, dst_cidr, destination)
        known = self._traces.get(key)
        if known is None:
            known = self._traces[key] = (self._traced(*key), self.last_read)
        self.last_read = known[1]  # as if traced again: a failed derivation names the same output
        return known[0]

    def forget_traces(self) -> None:
        """Let the traced paths go (a later trace is traced again)."""
        self._traces.clear()

    def _traced(self, source: str, src_ip: str, dst_ip: str, dst_cidr: str, destination: str) -> Path:
        hops: list[Hop] = []

        def stop(reason: str | None, complete: bool = False, unknown: Unknown | None = None) -> Path:
            return Path(source, destination, src_ip, dst_ip, dst_cidr, hops, complete, reason, unknown)

        current: str | None = source
        iif: str | None = None
        seen: set[str] = set()
        table: tuple[str, Callable[[str], list[iproute.Route]]] = (
            ("ip6.route", iproute.parse_routes6) if ":" in dst_ip else ("ip.route", iproute.parse_routes)
        )
        while current is not None:
            if current in seen:
                return stop("routing loop")
            seen.add(current)
            if current not in self.facts or not self.facts[current].reachable:
                hops.append(Hop(current, iif, None, None, None))
                return stop(
                    f"no facts from {current}", unknown=self.command_problem(current, route_fact(dst_ip))
                )
            for fact, parser in (("ip.addr", iproute.parse_addresses), table):
                if self.parsed(current, fact, parser) is None:
                    hops.append(Hop(current, iif, None, None, None))
                    problem = self.command_problem(current, fact) or Unknown("parse-error", f"no {fact}")
                    return stop(f"{fact} of {current} unknown", unknown=problem)
            if self.is_local(current, dst_ip):
                hops.append(Hop(current, iif, None, None, dst_cidr))
                return stop(None, complete=True)
            answer = self.policy_route(current, dst_ip, src_ip, iif)
            if answer.ambiguous is not None:
                hops.append(Hop(current, iif, None, None, None))
                return stop(f"route on {current} unknown", unknown=Unknown("ambiguous", answer.ambiguous))
            route = answer.route
            if route is None or route.type in ("unreachable", "blackhole", "prohibit"):
                hops.append(Hop(current, iif, None, None, route.dst if route else None))
                return stop(f"no route to {dst_ip} on {current}")
            gateway = route.gateway or (route.nexthops[0][0] if route.nexthops else None)
            oif = route.dev or (route.nexthops[0][1] if route.nexthops else None)
            by_rule = route.table if answer.rule is not None else None
            hops.append(Hop(current, iif, oif, gateway, route.dst, by_rule))
            next_address = gateway or dst_ip
            if _is_link_local(next_address):
                found = self._link_local_next_hop(current, oif, next_address)
                if isinstance(found, Unknown):
                    return stop(f"next hop {next_address} of {current} unknown", unknown=found)
                if found is None:
                    return stop(f"next hop {next_address} of {current} is not an inventory host")
                current, iif = found
                continue
            nxt = self.owner_of(next_address)
            if nxt is None:
                return stop(f"next hop {next_address} of {current} is not an inventory host")
            iif = self.interface_holding(nxt, next_address)
            current = nxt
        return stop("empty")

    def _link_local_holders(self) -> dict[str, list[tuple[str, str, str | None]]]:
        """Every link-local address collected: [(host, interface, the link's hardware address)]."""
        holders: dict[str, list[tuple[str, str, str | None]]] = {}
        for name in self.facts:
            for a in self.addresses(name):
                if _is_link_local(a.address):
                    holders.setdefault(a.address, []).append((name, a.ifname, a.lladdr))
        return holders

    def _link_local_next_hop(
        self, host: str, oif: str | None, address: str
    ) -> tuple[str, str] | Unknown | None:
        """The host and interface holding a link-local next hop (fe80::/10 repeats on every link):
        the one whose link has the hardware address `host`'s neighbour table gives for it on `oif`,
        else the only other host holding it; None when no inventory host holds it.

        Example: ("bfh-b", "eth0") for fe80::ff:febf:201 via rb on the router
        """
        holders = self.memo(("link-local holders",), self._link_local_holders)
        bare = address.split("%", 1)[0]
        candidates = [c for c in holders.get(bare, []) if c[0] != host]
        neighbours = self.parsed(host, "ip6.neigh", iproute.parse_neighbours) or []
        mac = next(
            (n.lladdr for n in neighbours if n.address == bare and n.dev == oif and n.lladdr is not None),
            None,
        )
        if mac is not None:
            answering = [c for c in candidates if (c[2] or "").lower() == mac.lower()]
            if len(answering) == 1:
                return answering[0][0], answering[0][1]
        if len({(c[0], c[1]) for c in candidates}) == 1:
            return candidates[0][0], candidates[0][1]
        if candidates:
            holding = ", ".join(sorted({c[0] for c in candidates}))
            return Unknown(
                "ambiguous",
                f"{address}, the next hop of {host} via {oif}, is held by {holding}, and {host}'s "
                "neighbour table does not say which one answers there",
            )
        return None
