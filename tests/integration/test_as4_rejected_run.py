"""A 4-byte AS_PATH sent to BIRD 2 with `enable as4 off` (metallb#497), made as real as it can be here.

No daemon installed here has MetalLB's old bug (a 4-byte AS_PATH to a peer without the 4-byte AS
capability): captures/outputs/capabilities/as4_rejected_speaker.py plays that speaker (AS 65001,
10.213.176.1, namespace bdm-s-PID), and real BIRD 2 (AS 65002, 10.213.176.2, bdm-b-PID, protocol
metallb1) answers as it does: RFC 7606 treat-as-withdraw, the log line `metallb1: Malformed AS_PATH
attribute - segment framing error`, the session still Established. BIRD's configuration is
/etc/bird/bird.conf inside its namespace (test_source_bind_run.etc_bird), so bgpdoctor's
speaker-log command reads the file it logs to. `bgpdoctor run` on bird1 names the missing 4-byte AS
capability; without the bad UPDATE it stays a warning.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bgpdoctor.lab.procs import ns_run, start_in_ns  # noqa: E402
from tests.integration.speakers import (  # noqa: E402
    Lab,
    needs_bird2,
    needs_root,
    ns_names,
    poll,
    run,
    speaker_lab,
    veth,
)
from tests.integration.test_source_bind_run import etc_bird  # noqa: E402

pytestmark = [needs_root, needs_bird2]

SPEAKER_IP, BIRD_IP = "10.213.176.1", "10.213.176.2"
SPEAKER = ROOT / "captures" / "outputs" / "capabilities" / "as4_rejected_speaker.py"


def bird_conf(log: Path) -> str:
    return f"""
log "{log}" all;
router id {BIRD_IP};
protocol device {{ scan time 10; }}
protocol bgp metallb1 {{
  local {BIRD_IP} as 65002; neighbor {SPEAKER_IP} as 65001;
  enable as4 off;
  hold time 90; connect delay time 1; connect retry time 2; error wait time 30, 60;
  ipv4 {{ import all; export none; }};
}}
"""


@pytest.fixture
def lab() -> Iterator[tuple[Lab, str, str]]:
    with speaker_lab(Lab, "bdm", "s", "b") as (lab, namespaces):
        speaker_ns, bird_ns, rd = namespaces["s"], namespaces["b"], lab.run_dir
        veth(speaker_ns, SPEAKER_IP, bird_ns, BIRD_IP)
        (rd / "bird.conf").write_text(bird_conf(rd / "bird-own.log"))
        with etc_bird(bird_ns, rd / "bird.conf"):
            argv = ["bird", "-f", "-c", str(rd / "bird.conf"), "-s", str(rd / "bird.ctl")]
            lab.procs.append(start_in_ns(bird_ns, "bird1", "bird", argv, rd / "bird.out"))
            yield lab, speaker_ns, bird_ns


def inventory(lab: Lab, path: Path) -> Path:
    host: dict[str, Any] = {
        "role": "router",
        "speaker": "bird2",
        "asn": 65002,
        "router_id": BIRD_IP,
        "addresses": [BIRD_IP],
        "connect": {"netns": ns_names("bdm", "b")["b"]},
        "control_socket": str(lab.run_dir / "bird.ctl"),
        "peers": [{"address": SPEAKER_IP, "asn": 65001, "name": "metallb1"}],
    }
    path.write_text(yaml.safe_dump({"hosts": {"bird1": host}}))
    return path


def statuses(report: dict[str, Any]) -> dict[str, str]:
    checks = ("bgp-families-negotiated", "bgp-as4-negotiated")
    return {r["check"]: r["status"] for r in report["results"] if r["check"] in checks}


def test_a_4_byte_as_path_to_bird_without_as4_is_named_from_birds_log(
    lab: tuple[Lab, str, str], tmp_path: Path
) -> None:
    bird_lab, speaker_ns, bird_ns = lab
    log = bird_lab.run_dir / "bird-own.log"
    speaker = subprocess.Popen(
        ["ip", "netns", "exec", speaker_ns, sys.executable, str(SPEAKER), BIRD_IP, SPEAKER_IP, "150"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert poll(lambda: "Malformed AS_PATH" in log.read_text(), 30, (OSError,))
        state = ns_run(
            bird_ns, ["birdc", "-s", str(bird_lab.run_dir / "bird.ctl"), "show", "protocols"]
        ).stdout
        assert "Established" in state  # RFC 7606: the route is withdrawn, the session stays up
        _, report, _ = run(inventory(bird_lab, tmp_path / "inventory.yaml"), timeout=240)
    finally:
        speaker.kill()
        speaker.wait(10)
    found = [d for d in report["diagnoses"] if d["root_cause"] == "afi-capability-mismatch"]
    assert found, [(d["root_cause"], d["summary"]) for d in report["diagnoses"]]
    assert found[0]["summary"].startswith("bird1 does not send the 4-byte AS capability")
    assert "metallb1: Malformed AS_PATH attribute - segment framing error" in found[0]["summary"]
    assert statuses(report) == {"bgp-families-negotiated": "fail", "bgp-as4-negotiated": "warn"}
