"""The in-pod view end to end: `bgpdoctor run --context` on a Calico cluster whose node has no SSH.

A real BIRD 1.6 (Calico's BIRD, /opt/bgpdoctor/bird16) runs in network namespace bdx-node-PID and
peers over a veth pair with a real BIRD 2 in bdx-rtr-PID. The fake API server (127.0.0.1) serves
the cluster; its calico-node pod's exec runs the command in the node namespace, in a private mount
namespace where /run is this test's run dir (so /var/run/calico/bird.ctl is BIRD 1.6's socket) and
`birdcl` is BIRD 1.6's client. bgpdoctor reaches the node only through the kubernetes client's
websocket exec. The discovered router gets an ssh_config alias to a closed port on 127.0.0.1, so
nothing ever leaves the root namespace for another address.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bgpdoctor.lab.procs import kill_proc, start_in_ns  # noqa: E402
from tests.fakeapi import DEFAULT_TOKEN, FakeApiServer, write_kubeconfig  # noqa: E402
from tests.fakeapi import clusters as c  # noqa: E402
from tests.integration.speakers import Lab, namespaces, needs_bird2, needs_root, tag, veth  # noqa: E402

BIRD16 = Path("/opt/bgpdoctor/bird16/usr/sbin")
pytestmark = [
    needs_root,
    pytest.mark.skipif(
        not (BIRD16 / "bird").exists(), reason="BIRD 1.6 not extracted (scripts/install-deps.sh)"
    ),
    needs_bird2,
]

NODE_IP, ROUTER_IP = "10.213.7.2", "10.213.7.1"
NODE_AS, ROUTER_AS = 64512, 64513
NODE = "bdx-calico-1"
GV = "crd.projectcalico.org/v1"

BIRD16_CONF = f"""
router id {NODE_IP};
protocol device {{ scan time 10; }}
protocol bgp Node_10_213_7_1 {{
  local as {NODE_AS};
  neighbor {ROUTER_IP} as {ROUTER_AS};
  import all;
  export none;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 2;
}}
"""
BIRD2_CONF = f"""
router id {ROUTER_IP};
protocol device {{ scan time 10; }}
protocol bgp {NODE.replace("-", "_")} {{
  local {ROUTER_IP} as {ROUTER_AS};
  neighbor {NODE_IP} as {NODE_AS};
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 2;
  ipv4 {{ import all; export none; }};
}}
"""


@dataclass(kw_only=True)
class BgpPair(Lab):
    node_ns: str
    router_ns: str

    def birdc16(self, *args: str) -> str:
        out = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                self.node_ns,
                str(BIRD16 / "birdc"),
                "-s",
                str(self.run_dir / "calico" / "bird.ctl"),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return out.stdout

    def wait_state(self, established: bool, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.birdc16("show", "protocols")
            up = "Established" in text
            if up == established:
                return
            time.sleep(0.5)
        pytest.fail(f"BIRD 1.6 session not {'up' if established else 'down'} after {timeout}s: {text}")

    def stop_router(self) -> None:
        router = next(rec for rec in self.procs if rec.host == "router-lab")
        kill_proc(router)
        self.procs.remove(router)


@pytest.fixture
def bgp_pair(tmp_path: Path) -> Iterator[BgpPair]:
    node_ns, router_ns = f"bdx-node-{tag()}", f"bdx-rtr-{tag()}"
    (tmp_path / "run" / "calico").mkdir(parents=True)
    with (
        namespaces(node_ns, router_ns),
        BgpPair(tmp_path / "run", node_ns=node_ns, router_ns=router_ns) as pair,
    ):
        veth(node_ns, NODE_IP, router_ns, ROUTER_IP)
        (tmp_path / "bird16.conf").write_text(BIRD16_CONF)
        argv = [
            str(BIRD16 / "bird"),
            "-f",
            "-c",
            str(tmp_path / "bird16.conf"),
            "-s",
            str(pair.run_dir / "calico" / "bird.ctl"),
        ]
        pair.procs.append(start_in_ns(node_ns, NODE, "bird16", argv, tmp_path / "bird16.log"))
        pair.start_bird(router_ns, "router-lab", BIRD2_CONF, name="bird2")
        pair.wait_state(established=True)
        yield pair


def pod_runner(pair: BgpPair, bindir: Path) -> list[str]:
    """argv prefix of the fake calico-node container: host network of the node, its own /run."""
    script = 'mount --bind "$0" /run && PATH="$1:$PATH" && shift && exec "$@"'
    return [
        "ip", "netns", "exec", pair.node_ns,
        "unshare", "--mount", "--propagation", "private",
        "sh", "-c", script, str(pair.run_dir), str(bindir),
    ]  # fmt: skip


def calico_cluster(second_node: bool = False) -> list[dict[str, Any]]:
    objs = [
        c.node(NODE, NODE_IP, "10.42.7.0/24", annotations={"projectcalico.org/IPv4Address": f"{NODE_IP}/30"}),
        c.agent_pod("calico-node-bdx01", "calico-system", NODE, "calico-node", "calico-node"),
        c.cr(GV, "BGPConfiguration", "default", {"asNumber": NODE_AS, "nodeToNodeMeshEnabled": False}),
        c.cr(GV, "BGPPeer", "router-lab", {"peerIP": ROUTER_IP, "asNumber": ROUTER_AS}),
        c.cr(
            GV,
            "IPPool",
            "default-ipv4-ippool",
            {"cidr": "10.42.0.0/16", "ipipMode": "Never", "vxlanMode": "Never", "nodeSelector": "all()"},
        ),
    ]
    if second_node:
        objs += [
            c.node("bdx-calico-2", "10.213.8.2", "10.42.8.0/24"),
            c.agent_pod("calico-node-bdx02", "calico-system", "bdx-calico-2", "calico-node", "calico-node"),
        ]
    return objs


@pytest.fixture
def cluster_env(tmp_path: Path) -> Iterator[tuple[FakeApiServer, dict[str, str]]]:
    api = FakeApiServer().start()
    try:
        home = tmp_path / "home"
        (home / ".ssh").mkdir(parents=True)
        with socket.socket() as s:  # a port nobody listens on: the router's SSH is refused at once
            s.bind(("127.0.0.1", 0))
            closed_port = s.getsockname()[1]
        (home / ".ssh" / "config").write_text(
            f"Host router-lab\n  HostName 127.0.0.1\n  Port {closed_port}\n"
        )
        kc = write_kubeconfig(tmp_path / "kubeconfig", {"lab": (api.url, DEFAULT_TOKEN)})
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": str(home),
            "KUBECONFIG": str(kc),
            "NO_COLOR": "1",
            "PYTHONPATH": str(ROOT),
        }
        yield api, env
    finally:
        api.stop()


def bgpdoctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "bgpdoctor", *args],
        capture_output=True, text=True, env=env, timeout=180, check=False, cwd=ROOT,
    )  # fmt: skip
    assert DEFAULT_TOKEN not in proc.stdout + proc.stderr
    return proc


def bgpdoctor_run(env: dict[str, str], *extra: str) -> tuple[int, dict[str, Any], str]:
    ssh_config = str(Path(env["HOME"]) / ".ssh" / "config")
    proc = bgpdoctor(
        env, "run", "--context", "lab", "--ssh-config", ssh_config,
        "-o", "json", "--no-mtu", "--no-capture", "--timeout", "8", *extra,
    )  # fmt: skip
    assert proc.stdout, (proc.returncode, proc.stderr[:3000])
    (Path(env["HOME"]).parent / "report.json").write_text(proc.stdout)  # kept for a failing test
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def host(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(h for h in report["hosts"] if h["name"] == name)


def session_result(report: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in report["results"] if r["check"] == "bgp-session-established")


def birdcl_state(report: dict[str, Any]) -> str:
    """The info column of the node's BGP protocol in the birdcl output the report carries."""
    for ev in session_result(report)["evidence"]:
        if ev.get("host") == NODE and ev["command"].startswith("birdcl -s /var/run/calico/bird.ctl"):
            for line in ev["output"].splitlines():
                if line.startswith("Node_10_213_7_1 "):
                    cols = line.split(None, 5)  # name proto table state since info
                    return cols[5].strip() if len(cols) > 5 else cols[3]
    raise AssertionError(f"no birdcl evidence from {NODE}: {session_result(report)}")


def fake_calico_node(api: FakeApiServer, pair: BgpPair, tmp_path: Path, second_node: bool = False) -> None:
    api.add(*calico_cluster(second_node))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "birdcl").symlink_to(BIRD16 / "birdc")  # Calico ships BIRD 1.6's client as birdcl
    api.exec_runners[("calico-system", "calico-node-bdx01")] = pod_runner(pair, bindir)


def test_run_context_reads_birdcl_through_the_pod(
    bgp_pair: BgpPair, cluster_env: tuple[FakeApiServer, dict[str, str]], tmp_path: Path
) -> None:
    api, env = cluster_env
    fake_calico_node(api, bgp_pair, tmp_path)
    code, report, stderr = bgpdoctor_run(env)
    node = host(report, NODE)
    assert node["reachable"] and node["commands_run"] > 5, (node, stderr[-2000:])
    assert host(report, "router-lab")["reachable"] is False  # no SSH for it here: refused on 127.0.0.1
    assert birdcl_state(report) == "Established"
    batch = [cmd for cmd in api.exec_log if cmd[:2] == ["sh", "-c"]]
    assert len(batch) == 1 and "birdcl -s /var/run/calico/bird.ctl -r show protocols all" in batch[0][2]
    assert code == 3, stderr[-2000:]  # documented: hosts that could not be checked, no finding -> 3


def test_discovered_inventory_with_the_router_completed(
    bgp_pair: BgpPair, cluster_env: tuple[FakeApiServer, dict[str, str]], tmp_path: Path
) -> None:
    """discover > inventory.yaml, complete the router's connect block, run -i ... --context."""
    api, env = cluster_env
    fake_calico_node(api, bgp_pair, tmp_path)
    ssh_config = str(Path(env["HOME"]) / ".ssh" / "config")
    found = bgpdoctor(env, "discover", "--context", "lab", "--ssh-config", ssh_config)
    assert found.returncode == 0, found.stderr
    inv = yaml.safe_load(found.stdout)
    assert inv["hosts"][NODE]["connect"] == {"pod": {"context": "lab", "node": NODE, "cni": "calico"}}
    inv["hosts"]["router-lab"]["connect"] = {"netns": bgp_pair.router_ns}
    inv["hosts"]["router-lab"]["control_socket"] = str(bgp_pair.run_dir / "bird2.ctl")
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inv))

    code, report, stderr = bgpdoctor_run(env, "-i", str(path))
    assert all(h["reachable"] for h in report["hosts"]), report["hosts"]
    result = session_result(report)
    assert result["status"] == "pass" and birdcl_state(report) == "Established", result
    assert code == 0, [r for r in report["results"] if r["status"] not in ("pass", "skip")]

    # the peer's BIRD goes away: the node's BIRD 1.6 says so through the pod, and the report with it
    bgp_pair.stop_router()
    bgp_pair.wait_state(established=False)
    code, report, stderr = bgpdoctor_run(env, "-i", str(path))
    assert host(report, NODE)["reachable"]
    assert session_result(report)["status"] in ("fail", "error")
    assert birdcl_state(report).split()[0] in ("Active", "Connect", "Idle", "OpenSent"), birdcl_state(report)
    assert code == 1, stderr[-2000:]
    assert report["diagnoses"], report["results"]


def test_refused_exec_is_one_host_result(
    bgp_pair: BgpPair, cluster_env: tuple[FakeApiServer, dict[str, str]], tmp_path: Path
) -> None:
    api, env = cluster_env
    fake_calico_node(api, bgp_pair, tmp_path, second_node=True)
    # calico-node-bdx02 has no runner: the API refuses its exec with 403 (RBAC)
    code, report, stderr = bgpdoctor_run(env)
    refused = host(report, "bdx-calico-2")
    assert refused["reachable"] is False and refused["error_kind"] == "auth"
    assert refused["error"].startswith(
        "cannot exec into pod calico-system/calico-node-bdx02: forbidden (HTTP 403): "
        'pods "calico-node-bdx02" is forbidden'
    )
    assert "bdx-calico-2: auth: cannot exec into pod calico-system/calico-node-bdx02: forbidden" in stderr
    assert host(report, NODE)["reachable"] and birdcl_state(report) == "Established"
    assert code == 3  # the run completed; hosts that could not be checked and no finding -> 3
