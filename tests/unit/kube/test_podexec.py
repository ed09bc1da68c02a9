"""In-pod views through the API: finding the agent pod and a refused exec becoming a result."""

from __future__ import annotations

import time
from typing import Any

from bgpdoctor.kube.config import open_client
from bgpdoctor.kube.podexec import (
    AgentPod,
    KubePodExec,
    PodConnection,
    calico_bird_protocols,
    cilium_bgp_peers,
    find_agent_pod,
)
from tests.fakeapi import clusters as c


def test_cilium_exec_refused_is_a_result(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.seed001())
    kc = open_client(None, kubeconfig(api), timeout=3)
    pod = find_agent_pod(kc, "sakamoto", "cilium")
    assert pod == AgentPod("kube-system", "cilium-7xk2p", "cilium-agent", "sakamoto", "cilium")
    start = time.monotonic()
    result = cilium_bgp_peers(KubePodExec(kc), pod, timeout=3)
    assert time.monotonic() - start < 3
    assert result.command == "cilium-dbg bgp peers -o json"
    assert result.exit_status is None and not result.ok and not result.timed_out
    assert result.extra["error"] == "exec-refused" and result.extra["http_status"] == "403"
    assert result.stderr.startswith("exec refused by the API server (HTTP 403)")
    assert any(
        r.startswith("GET /api/v1/namespaces/kube-system/pods/cilium-7xk2p/exec") for r in api.requests
    )
    # the shared client still works for REST after an exec (exec used its own ApiClient)
    assert find_agent_pod(kc, "sakamoto", "cilium") == pod
    kc.close()


def test_calico_exec_refused_with_400(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.calico_seed002())
    api.exec_status = 400  # e.g. a proxy that will not upgrade the connection
    kc = open_client(None, kubeconfig(api))
    pod = find_agent_pod(kc, "kubemaster", "calico")
    assert pod is not None and pod.namespace == "calico-system" and pod.container == "calico-node"
    result = calico_bird_protocols(KubePodExec(kc), pod)
    assert result.command == "birdcl -s /var/run/calico/bird.ctl show protocols all"
    assert result.extra["error"] == "exec-refused" and "HTTP 400" in result.stderr
    kc.close()


def test_pod_connection_adapts_exec_to_the_transport_contract(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.seed001())
    kc = open_client(None, kubeconfig(api))
    pod = find_agent_pod(kc, "sakamoto", "cilium")
    assert pod is not None
    conn = PodConnection("sakamoto", pod, KubePodExec(kc))
    result = conn.run("ip -j addr", timeout=2)
    assert result.command == "ip -j addr" and result.extra["error"] == "exec-refused"
    conn.close()
    kc.close()


def test_no_agent_pod_on_the_node(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.seed001())
    kc = open_client(None, kubeconfig(api))
    assert find_agent_pod(kc, "yuuko-k8s", "cilium") is None
    assert find_agent_pod(kc, "sakamoto", "calico") is None
    assert find_agent_pod(kc, "sakamoto", "flannel") is None
    kc.close()


def test_exec_against_a_dead_server_is_a_result(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.seed001())
    kc = open_client(None, kubeconfig(api), timeout=1)
    api.stop()
    pod = AgentPod("kube-system", "cilium-7xk2p", "cilium-agent", "sakamoto", "cilium")
    result = KubePodExec(kc).exec(pod, ["true"], timeout=1)
    assert result.exit_status is None and result.extra["error"] in ("exec-failed", "timeout")
