"""Outputs that say a packet got no answer: `ip -j neigh` entries nobody answered (captured in two
namespaces, iproute2 6.1), and a ping the sending device refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bgpdoctor.parsers import ParseError
from bgpdoctor.parsers.iproute import parse_neighbours

OUTPUTS = Path(__file__).resolve().parents[3] / "captures" / "outputs" / "ip"


def test_an_unanswered_address_has_no_link_address() -> None:
    entries = parse_neighbours((OUTPUTS / "lan_neigh_failed.txt").read_text())
    answered = {e.address: e.answered for e in entries}
    assert answered == {"192.0.2.2": True, "192.0.2.240": False}
    failed = entries[1]
    assert (failed.dev, failed.lladdr, failed.states) == ("bdn-va", None, ["FAILED"])
    assert entries[0].lladdr == "a6:79:dc:94:88:98"


@pytest.mark.parametrize("text", ["", "{}", '[{"dev": "eth0"}]', '[{"dst": "192.0.2.1", "state": "FAILED"}]'])
def test_unreadable_tables_are_parse_errors(text: str) -> None:
    with pytest.raises(ParseError):
        parse_neighbours(text)


def test_a_packet_the_device_refuses_is_a_silent_loss_not_an_error() -> None:
    """Captured on a generated scenario: the veth's peer had MTU 1380, the 1500-byte DF probe was
    dropped on send (ENOBUFS) and no ICMP came back. For the MTU sweep that is a black hole."""
    from bgpdoctor.parsers.ping import parse_ping

    text = (OUTPUTS.parent / "ping" / "veth_peer_mtu_enobufs.txt").read_text()
    r = parse_ping(text)
    assert (r.transmitted, r.received, r.outcome) == (1, 0, "silent-loss")
    assert r.error == "sendmsg: No buffer space available"
