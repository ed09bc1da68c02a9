"""/proc/net/netstat counters (captured in the lab) and birdc's restricted mode (`-r`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bgpdoctor.parsers import ParseError
from bgpdoctor.parsers.bird import parse_show_protocols_all
from bgpdoctor.parsers.netstat import parse_proc_netstat

ROOT = Path(__file__).resolve().parents[3]


def test_proc_net_netstat_from_the_lab() -> None:
    counters = parse_proc_netstat(
        (ROOT / "captures/outputs/netstat/router_home_proc_net_netstat.txt").read_text()
    )
    assert counters["TcpExtTCPMD5NotFound"] == 0
    assert {"TcpExtTCPMD5Unexpected", "TcpExtTCPMD5Failure", "IpExtInNoRoutes"} <= set(counters)


def test_netstat_mismatched_lines() -> None:
    with pytest.raises(ParseError):
        parse_proc_netstat("TcpExt: A B\nTcpExt: 1\n")


def test_birdc_restricted_mode_notice_is_skipped() -> None:
    text = (ROOT / "captures/outputs/bird/bird2_show_protocols_all.txt").read_text()
    restricted = text.replace("BIRD 2.0.12 ready.\n", "BIRD 2.0.12 ready.\nAccess restricted\n", 1)
    assert restricted != text
    assert parse_show_protocols_all(restricted) == parse_show_protocols_all(text)
