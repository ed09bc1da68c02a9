"""`connect: {pod: ...}`: commands run by the real kubernetes client over a real websocket exec
(the fake API server upgrades the connection and runs the command on this machine).

Every command here only reads (echo, ip -j addr, /proc): nothing is sent on the network except to
the fake API server on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from bgpdoctor.engine.collect import collect_host
from bgpdoctor.errors import HostError
from bgpdoctor.inventory import load_inventory
from bgpdoctor.inventory_model import Connect, Host, Inventory, PodTarget
from bgpdoctor.kube.config import open_client
from bgpdoctor.kube.discover import inventory_from_cluster
from bgpdoctor.kube.podexec import AgentPod, KubePodExec, PodConnection, exit_status_of, find_agent_pod
from bgpdoctor.transport.factory import open_connection
from tests.fakeapi import DEFAULT_TOKEN as TOKEN
from tests.fakeapi import clusters as c

DOCS = Path(__file__).resolve().parents[3] / "docs" / "inventory.md"
CALICO_POD = ("calico-system", "calico-node-dhl2c")


def pod_inventory(kubeconfig: str, **target: Any) -> Inventory:
    return Inventory(
        hosts={
            "kubemaster": Host(
                role="vantage",
                speaker="bird1",
                connect=Connect(pod=PodTarget(kubeconfig=kubeconfig, **target)),
            )
        }
    )


def test_exec_over_a_real_websocket(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.calico_seed002())
    api.exec_runners[CALICO_POD] = []  # the "container" is this machine
    kc = open_client(None, kubeconfig(api), timeout=5)
    pod = find_agent_pod(kc, "kubemaster", "calico")
    assert pod is not None
    execer = KubePodExec(kc)
    result = execer.exec(pod, ["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=5)
    assert (result.exit_status, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert execer.exec(pod, ["true"], timeout=5).exit_status == 0
    big = execer.exec(pod, ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x"], timeout=5)
    assert big.ok and big.stdout_bytes == b"x" * 300000  # many frames, 64-bit length encoding
    assert api.exec_log[0] == ["sh", "-c", "echo out; echo err >&2; exit 3"]
    assert any(
        r.startswith("GET /api/v1/namespaces/calico-system/pods/calico-node-dhl2c/exec") for r in api.requests
    )
    kc.close()


def test_exec_timeout_ends_the_command(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.calico_seed002())
    api.exec_runners[CALICO_POD] = []
    kc = open_client(None, kubeconfig(api), timeout=5)
    pod = AgentPod(*CALICO_POD, "calico-node", "kubemaster", "calico")
    start = time.monotonic()
    result = KubePodExec(kc).exec(pod, ["sleep", "30"], timeout=1)
    assert result.timed_out and result.exit_status is None and time.monotonic() - start < 4
    pid = api.exec_pids[-1]
    for _ in range(50):  # the server kills the command when the client closes the websocket
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"exec process {pid} still runs after the client went away")
    kc.close()


def test_exit_status_channel() -> None:
    assert exit_status_of('{"metadata":{},"status":"Success"}') == (0, "")
    failure = (
        '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: '
        'error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode",'
        '"details":{"causes":[{"reason":"ExitCode","message":"3"}]}}'
    )
    assert exit_status_of(failure) == (3, "")
    code, why = exit_status_of('{"metadata":{},"status":"Failure","message":"OCI runtime exec failed"}')
    assert code is None and why == "OCI runtime exec failed"


def test_open_connection_for_the_agent_pod_of_a_node(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.calico_seed002())
    api.exec_runners[CALICO_POD] = []
    inv = pod_inventory(kubeconfig(api), node="kubemaster")  # cni from speaker bird1
    conn = open_connection("kubemaster", inv)
    assert isinstance(conn, PodConnection)
    assert conn.pod == AgentPod(*CALICO_POD, "calico-node", "kubemaster", "calico")
    result = conn.run("echo hello | tr a-z A-Z")
    assert (result.command, result.stdout, result.exit_status) == ("echo hello | tr a-z A-Z", "HELLO\n", 0)
    conn.close()
    assert api.exec_log[0] == ["true"]  # the probe of open_pod_connection


def test_collect_runs_the_framed_batch_through_the_pod(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.calico_seed002())
    api.exec_runners[CALICO_POD] = []
    inv = pod_inventory(kubeconfig(api), node="kubemaster", cni="calico")
    inv.hosts["kubemaster"].speaker = "none"  # no birdcl here: only the host facts
    facts = collect_host("kubemaster", inv, lambda n: open_connection(n, inv), 5.0, lambda m: None)
    assert facts.reachable, facts.error
    assert facts.outputs["ip.addr"].ok and facts.outputs["ip.addr"].stdout.startswith("[")
    assert facts.outputs["sysctl"].ok and "ip_forward" in facts.outputs["sysctl"].stdout
    assert len(api.exec_log) == 2 and api.exec_log[1][:2] == ["sh", "-c"]  # probe + one batch
    facts.connection.close()  # type: ignore[union-attr]


def test_refused_exec_is_a_host_error_without_the_token(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.calico_seed002())  # no runner: the server refuses with 403
    inv = pod_inventory(kubeconfig(api), node="kubemaster")
    with pytest.raises(HostError) as err:
        open_connection("kubemaster", inv)
    assert err.value.kind == "auth"
    assert err.value.message.startswith(
        "cannot exec into pod calico-system/calico-node-dhl2c: forbidden (HTTP 403): "
        'pods "calico-node-dhl2c" is forbidden: User "system:serviceaccount:bgpdoctor:reader" '
        'cannot create resource "pods/exec"'
    )
    assert TOKEN not in str(err.value)


def test_missing_agent_pod_and_missing_named_pod(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.calico_seed002())
    path = kubeconfig(api)
    with pytest.raises(HostError) as err:
        open_connection("kubemaster", pod_inventory(path, node="kubenode-wds-1"))
    assert (err.value.kind, err.value.message) == (
        "unreachable",
        "no running calico agent pod (k8s-app=calico-node) on node kubenode-wds-1 "
        "in calico-system or kube-system",
    )
    with pytest.raises(HostError) as err:
        open_connection("kubemaster", pod_inventory(path, namespace="calico-system", pod="calico-node-gone"))
    assert err.value.message == "cannot exec into pod calico-system/calico-node-gone: pod not found"


def test_discover_uses_the_pod_when_there_is_no_ssh_alias(
    fake_api: Any, kubeconfig: Any, tmp_path: Path
) -> None:
    api = fake_api(*c.seed001())
    path = kubeconfig(api)
    inv, _notes = inventory_from_cluster(None, path, str(tmp_path / "none"))
    sak = inv.hosts["sakamoto"].connect
    assert sak.ssh is None and sak.pod == PodTarget(
        context="home", kubeconfig=path, node="sakamoto", cni="cilium"
    )
    yuuko = inv.hosts["yuuko-k8s"].connect  # no agent pod in the cluster: SSH to its InternalIP
    assert yuuko.ssh is not None and yuuko.ssh.host == "192.168.0.81"
    ssh = tmp_path / "ssh_config"
    ssh.write_text("Host saka\n  HostName 192.168.6.80\n")
    inv, _notes = inventory_from_cluster(None, path, str(ssh))
    assert inv.hosts["sakamoto"].connect.ssh is not None  # an SSH alias wins over exec


def test_docs_pod_example_loads(tmp_path: Path) -> None:
    blocks = re.findall(r"```yml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    path = tmp_path / "pod.yaml"
    path.write_text(blocks[0])
    inv = load_inventory(path)
    targets = {n: h.connect.pod for n, h in inv.hosts.items() if h.connect.pod is not None}
    assert sorted(targets) == ["kubemaster", "sakamoto"]
    assert yaml.safe_load(blocks[0])["hosts"]["kubemaster"]["connect"]["pod"]["node"] == "kubemaster"


def test_pod_target_needs_a_pod_or_a_node() -> None:
    with pytest.raises(ValueError, match="pod needs either pod"):
        PodTarget(context="home")
    with pytest.raises(ValueError, match="pod needs a namespace"):
        PodTarget(pod="cilium-7xk2p")
    with pytest.raises(ValueError, match="pod cannot be combined"):
        Connect(local=True, pod=PodTarget(node="n1"))


def test_cilium_node_through_its_pod_gives_gobgp_session_facts(
    fake_api: Any, kubeconfig: Any, tmp_path: Path
) -> None:
    from bgpdoctor.engine.sessions import expected_sessions
    from bgpdoctor.engine.world import World
    from bgpdoctor.inventory_model import Peer

    # the "agent" prints a real `cilium bgp peers -o json` quoted from cilium/cilium#25408
    fixture = DOCS.parents[1] / "captures" / "outputs" / "cilium" / "pr25408_bgp_peers.json"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "cilium-dbg").write_text(f"#!/bin/sh\ncat {fixture}\n")
    (bindir / "cilium-dbg").chmod(0o755)
    api = fake_api(*c.seed001())
    api.exec_runners[("kube-system", "cilium-7xk2p")] = ["sh", "-c", 'PATH="$0:$PATH" exec "$@"', str(bindir)]
    inv = Inventory(
        hosts={
            "sakamoto": Host(
                role="node",
                speaker="gobgp",
                asn=65001,
                connect=Connect(pod=PodTarget(kubeconfig=kubeconfig(api), node="sakamoto")),
                peers=[Peer(address="172.0.0.1", asn=65000)],  # type: ignore[arg-type]
            )
        }
    )
    facts = collect_host("sakamoto", inv, lambda n: open_connection(n, inv), 5.0, lambda m: None)
    assert facts.outputs["gobgp.neighbors"].command == "cilium-dbg bgp peers -o json"
    world = World(inv, {"sakamoto": facts})
    (session,) = expected_sessions(world, ["sakamoto"])
    observed = session.a.observed
    assert observed is not None
    assert (observed.state, observed.peer_as, observed.local_as) == ("established", 65000, 65001)
    facts.connection.close()  # type: ignore[union-attr]


def test_the_token_is_scrubbed_from_exec_messages(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.calico_seed002())
    api.exec_runners[CALICO_POD] = []
    kc = open_client(None, kubeconfig(api), timeout=5)
    pod = AgentPod(*CALICO_POD, "calico-node", "kubemaster", "calico")
    result = KubePodExec(kc).exec(pod, ["sh", "-c", f"echo 'auth failed for Bearer {TOKEN}' >&2; exit 1"], 5)
    assert result.exit_status == 1 and result.stderr == "auth failed for ***\n"
    kc.close()


def test_an_image_without_sh_gets_simple_commands_as_argv(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.calico_seed002())
    no_sh = (
        'if [ "$1" = sh ]; then echo \'OCI runtime exec failed: exec failed: unable to start container '
        'process: exec: "sh": executable file not found in $PATH: unknown\' >&2; exit 126; fi; exec "$@"'
    )
    api.exec_runners[CALICO_POD] = ["sh", "-c", no_sh, "container"]
    conn = open_connection("kubemaster", pod_inventory(kubeconfig(api), node="kubemaster"))
    assert isinstance(conn, PodConnection)
    first = conn.run("echo 'one two'")
    assert (first.exit_status, first.stdout, conn.shell) == (0, "one two\n", False)
    assert conn.run("echo a | tr a b").exit_status == 126  # needs a shell: reported, not guessed
    assert api.exec_log[1:] == [
        ["sh", "-c", "echo 'one two'"],
        ["echo", "one two"],
        ["sh", "-c", "echo a | tr a b"],
    ]
    conn.close()
