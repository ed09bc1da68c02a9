"""Offline diagnosis at scale (issue 12), second round: the same answers from indexed lookups and a
faster quoting of GoBGP entries. The reference functions are the implementations before the change."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from bgpdoctor.drivers.bird import BIRD2
from bgpdoctor.drivers.excerpt import indented
from bgpdoctor.engine.collect import clean_result
from bgpdoctor.engine.recording import MAX_DEPTH, _too_deep
from bgpdoctor.engine.world import World
from bgpdoctor.parsers.bird import BirdProtocol, BirdRoute
from bgpdoctor.redact import REDACTED
from bgpdoctor.transport.base import CommandResult

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_a_gobgp_entry_is_quoted_as_json_dumps_indents_it(value: Any) -> None:
    assert indented(value) == json.dumps(value, indent=1)
    assert indented([value]) == json.dumps([value], indent=1)


def old_too_deep(data: Any) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(value, dict):
            stack += [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list):
            stack += [(v, depth + 1) for v in value]
    return False


@settings(max_examples=200, deadline=None)
@given(
    depth=st.integers(min_value=MAX_DEPTH - 3, max_value=MAX_DEPTH + 2),
    leaf=st.sampled_from([1, "text", None, [], {}, [1], {"k": "v"}]),
    beside=st.booleans(),
)
def test_a_recordings_depth_is_judged_as_before(depth: int, leaf: Any, beside: bool) -> None:
    value = leaf
    for level in range(depth - 1):
        value = [value] if level % 2 else {"k": value}
    if beside:
        value = {"hosts": {"a": "b"}, "inventory": value}
    assert _too_deep(value) == old_too_deep(value)


def _bird_world(protocols: list[BirdProtocol], routes: list[BirdRoute]) -> World:
    world = World(cast(Any, SimpleNamespace(hosts={})), {})
    world._cache[("r1", "bird.protocols")] = protocols
    world._cache[("r1", "bird.bgp_routes")] = routes
    return world


class _Counted(list[Any]):
    """A parsed output that counts how often it is walked."""

    walks = 0

    def __iter__(self) -> Any:
        _Counted.walks += 1
        return super().__iter__()


def test_a_routers_sessions_read_its_protocols_and_routes_once() -> None:
    peers = [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(300)]
    protocols = _Counted(
        BirdProtocol(f"n{i}", "BGP", "master4", "up", "00:00", "Established", neighbor_address=a)
        for i, a in enumerate(peers)
    )
    routes = _Counted(
        BirdRoute(f"10.64.{i}.0/24", a, "eth0", f"n{i}", True, "unicast", from_address=a)
        for i, a in enumerate(peers)
    )
    world = _bird_world(protocols, routes)
    _Counted.walks = 0
    for i, address in enumerate(peers):
        peer = cast(Any, SimpleNamespace(address=address, name=f"n{i}"))
        assert [p.name for p in BIRD2.protocols_to(world, "r1", address) or []] == [f"n{i}"]
        assert BIRD2.multihop(world, "r1", peer) is None
        assert [r.prefix for r in BIRD2.learned_from(world, "r1", f"n{i}", address) or []] == [
            f"10.64.{i}.0/24"
        ]
    assert _Counted.walks <= 2  # once each, not once per session


def old_protocols_to(protocols: list[BirdProtocol], address: str) -> list[str]:
    return [p.name for p in protocols if p.proto == "BGP" and p.neighbor_address == address]


def old_multihop_protocol(
    protocols: list[BirdProtocol], name: str | None, address: str
) -> BirdProtocol | None:
    return next((p for p in protocols if (name and p.name == name) or p.neighbor_address == address), None)


def old_learned(routes: list[BirdRoute], protocol: str | None, address: str) -> list[str]:
    return [
        r.prefix
        for r in routes
        if r.primary and (r.from_address == address or (protocol is not None and r.protocol == protocol))
    ]


ADDRESSES = st.sampled_from(["10.0.0.1", "10.0.0.2", None])
NAMES = st.sampled_from(["p1", "p2", "Mesh_1", ""])


@settings(max_examples=200, deadline=None)
@given(
    protocols=st.lists(
        st.tuples(
            NAMES, st.sampled_from(["BGP", "Device"]), ADDRESSES, st.sampled_from([None, "external multihop"])
        ),
        max_size=6,
    ),
    routes=st.lists(st.tuples(NAMES, st.booleans(), ADDRESSES), max_size=6),
    name=st.sampled_from(["p1", "p2", "", None]),
    address=st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
)
def test_protocol_and_route_lookups_answer_as_the_linear_scan(
    protocols: list[tuple[str, str, str | None, str | None]],
    routes: list[tuple[str, bool, str | None]],
    name: str | None,
    address: str,
) -> None:
    made = [
        BirdProtocol(n, proto, "master4", "up", "00:00", "", neighbor_address=a, session=session)
        for n, proto, a, session in protocols
    ]
    paths = [
        BirdRoute(f"10.64.{i}.0/24", None, None, n, primary, "unicast", from_address=a)
        for i, (n, primary, a) in enumerate(routes)
    ]
    world = _bird_world(made, paths)
    assert [p.name for p in BIRD2.protocols_to(world, "r1", address) or []] == old_protocols_to(made, address)
    mine = old_multihop_protocol(made, name, address)
    expected = None if mine is None or not mine.session else "multihop" in mine.session
    assert BIRD2.multihop(world, "r1", cast(Any, SimpleNamespace(address=address, name=name))) == expected
    learned = BIRD2.learned_from(world, "r1", name, address) or []
    assert [r.prefix for r in learned] == old_learned(paths, name, address)


def test_an_output_without_secrets_is_kept_and_one_with_a_secret_is_still_redacted() -> None:
    plain = CommandResult("ip -j route", 0, b'[{"dst":"default"}]\n', "")
    assert clean_result(plain, 1 << 20) is plain
    secret = CommandResult("gobgp -j neighbor", 0, b'[{"auth_password":"s3cret"}]', "")
    cleaned = clean_result(secret, 1 << 20)
    assert b"s3cret" not in cleaned.stdout_bytes and REDACTED.encode() in cleaned.stdout_bytes
    cut = clean_result(CommandResult("cat big", 0, b"x" * 2048, ""), 1024)
    assert cut.truncated and cut.exit_status is None and len(cut.stdout_bytes) == 1024
