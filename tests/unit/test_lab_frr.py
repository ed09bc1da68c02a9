"""bgpdoctor.lab.frr: FRR's own config checker (the namespace helper is exercised by
scripts/capture_frr_fixtures.py, which needs root and creates namespaces)."""

from __future__ import annotations

import pytest

from bgpdoctor.lab.frr import FRR_DAEMON_DIR, check_config

pytestmark = pytest.mark.skipif(not (FRR_DAEMON_DIR / "bgpd").exists(), reason="FRR is not installed")


def test_valid_bgpd_config_passes_frr_dryrun() -> None:
    ok, output = check_config("router bgp 65001\n neighbor 10.0.0.1 remote-as 65002\n")
    assert ok, output


@pytest.mark.parametrize(
    "config",
    ["router bgp 65001\n neighbor 10.0.0.1 remote-as\n", "router bgp 65001\n frobnicate 3\n"],
    ids=["incomplete", "unknown-command"],
)
def test_rejected_line_fails_although_dryrun_exits_zero(config: str) -> None:
    ok, output = check_config(config)
    assert not ok
    assert "config line 2" in output
