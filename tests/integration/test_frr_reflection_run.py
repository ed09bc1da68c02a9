"""Live: two BIRD 2 nodes peer over iBGP with FRR, which reflects nothing (split horizon), as
Calico nodes with a ToR once the node-to-node mesh is off. bgpdoctor must name the FRR router and
give it FRR's own fix; typed into its vtysh, the nodes learn each other's pod CIDR and a second run
is clean. The topology: tests/integration/speakers.py `reflector_lab`."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bgpdoctor.lab.fixes import frr_lines  # noqa: E402
from bgpdoctor.lab.procs import ns_run  # noqa: E402
from tests.integration.speakers import needs_bird2, needs_frr, needs_root, poll, reflector_lab, run  # noqa: E402

pytestmark = [needs_root, needs_frr, needs_bird2]


def test_an_frr_router_that_does_not_reflect_is_named_and_its_fix_works() -> None:
    with reflector_lab("bfq") as (lab, ns, frr, inventory):

        def n1_learns() -> bool:
            argv = ["birdc", "-s", str(lab.run_dir / "n1.ctl"), "-r", "show", "route", "for", "10.42.2.1"]
            return "to_gw" in ns_run(ns["n1"], argv, check=False).stdout

        assert poll(lambda: "10.42.2.0/24" in frr.vtysh("show bgp ipv4 unicast"), 30)
        code, report, stderr = run(inventory)
        causes = [(d["root_cause"], d["hosts"]) for d in report["diagnoses"]]
        assert code == 1 and causes == [("ibgp-no-route-reflection", ["gw"])], (causes, stderr[-2000:])
        [fix] = [f for f in report["diagnoses"][0]["fixes"] if f["platform"] == "frr"]
        assert fix["host"] == "gw" and not n1_learns()

        frr.configure(frr_lines(fix["text"]))
        assert poll(n1_learns, 30)
        code, report, _ = run(inventory)
        assert (code, report["diagnoses"]) == (0, []), report["diagnoses"]
