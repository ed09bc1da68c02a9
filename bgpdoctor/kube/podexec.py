"""Read-only commands inside agent pods, for nodes bgpdoctor cannot SSH into.

``PodExec`` is the small interface (one method); ``KubePodExec`` implements it with the API's
websocket exec on a dedicated ApiClient (``stream()`` swaps the client's request function, which
would break concurrent REST calls on a shared client). Every outcome is a ``CommandResult``: a
refused exec (RBAC 403, an upgrade the server or a proxy will not do) becomes ``exit_status=None``
with ``extra["error"] = "exec-refused"`` and the server's words in ``stderr``, never an exception.
``PodConnection`` adapts one agent pod to the transport ``Connection`` protocol.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from bgpdoctor.kube.config import KubeClient
from bgpdoctor.transport.base import CommandResult

__all__ = [
    "CALICO_BIRD_SOCKET",
    "AgentPod",
    "KubePodExec",
    "PodConnection",
    "PodExec",
    "calico_bird_protocols",
    "cilium_bgp_peers",
    "find_agent_pod",
]

CALICO_BIRD_SOCKET = "/var/run/calico/bird.ctl"

# (label selector, namespaces to look in, container) per CNI
_AGENTS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "cilium": ("k8s-app=cilium", ("kube-system", "cilium"), "cilium-agent"),
    "calico": ("k8s-app=calico-node", ("calico-system", "kube-system"), "calico-node"),
}
_STATUS = re.compile(r"(\d{3})")


@dataclass(frozen=True)
class AgentPod:
    """The CNI agent pod on one node.

    Example: AgentPod("kube-system", "cilium-7xk2p", "cilium-agent", "sakamoto", "cilium")
    """

    namespace: str
    name: str
    container: str
    node: str
    cni: str


class PodExec(Protocol):
    """Run argv in a container; never raises for a refused or failing exec."""

    def exec(self, pod: AgentPod, argv: list[str], timeout: float) -> CommandResult: ...


def _refused(command: str, reason: str, start: float) -> CommandResult:
    m = _STATUS.search(reason)
    status = m.group(1) if m else "?"
    return CommandResult(
        command=command,
        exit_status=None,
        stdout_bytes=b"",
        stderr=f"exec refused by the API server (HTTP {status}): {reason.strip()}",
        duration_s=time.monotonic() - start,
        extra={"error": "exec-refused", "http_status": status},
    )


class KubePodExec:
    """PodExec over the Kubernetes exec API (websocket), one dedicated ApiClient per call."""

    def __init__(self, kc: KubeClient) -> None:
        self.kc = kc

    def exec(self, pod: AgentPod, argv: list[str], timeout: float) -> CommandResult:
        """Run argv in the pod's container.

        Example: CommandResult(command="cilium-dbg bgp peers -o json", exit_status=0, stdout_bytes=b"[...]")
        """
        command = " ".join(argv)
        start = time.monotonic()
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["result"] = self._exec(pod, argv, command, timeout, start)
            except Exception as exc:  # the websocket layer raises many types; all become a result
                box["error"] = exc

        worker = threading.Thread(target=work, name=f"exec-{pod.name}", daemon=True)
        worker.start()
        # websocket-client's connect has no timeout of its own; bound the whole call here.
        worker.join(timeout + 2.0)
        if worker.is_alive():
            return CommandResult(
                command,
                None,
                b"",
                f"exec in {pod.namespace}/{pod.name} timed out after {timeout:g}s",
                time.monotonic() - start,
                timed_out=True,
                extra={"error": "timeout"},
            )
        if "error" in box:
            exc = box["error"]
            reason = str(getattr(exc, "reason", "") or exc)
            if "Handshake status" in reason or getattr(exc, "status", None) in (400, 401, 403):
                return _refused(command, reason, start)
            return CommandResult(
                command,
                None,
                b"",
                f"exec in {pod.namespace}/{pod.name} failed: {reason}",
                time.monotonic() - start,
                extra={"error": "exec-failed"},
            )
        result: CommandResult = box["result"]
        return result

    def _exec(
        self, pod: AgentPod, argv: list[str], command: str, timeout: float, start: float
    ) -> CommandResult:
        from kubernetes import client
        from kubernetes.stream import stream

        api = self.kc.new_api_client()
        try:
            core = client.CoreV1Api(api)
            resp = stream(
                core.connect_get_namespaced_pod_exec,
                pod.name,
                pod.namespace,
                command=argv,
                container=pod.container,
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
                _preload_content=False,
            )
            resp.run_forever(timeout=timeout)
            timed_out = resp.is_open()
            out = resp.read_stdout() if resp.peek_stdout() else ""
            err = resp.read_stderr() if resp.peek_stderr() else ""
            code = None if timed_out else resp.returncode
            resp.close()
            return CommandResult(
                command,
                code,
                out.encode() if isinstance(out, str) else bytes(out),
                err if isinstance(err, str) else err.decode("utf-8", "replace"),
                time.monotonic() - start,
                timed_out=timed_out,
                extra={"pod": f"{pod.namespace}/{pod.name}", "container": pod.container},
            )
        finally:
            api.close()


def find_agent_pod(kc: KubeClient, node: str, cni: str) -> AgentPod | None:
    """The running Cilium agent or calico-node pod on ``node``, or None when there is none.

    Example: find_agent_pod(kc, "sakamoto", "cilium") -> AgentPod("kube-system", "cilium-7xk2p",
    "cilium-agent", "sakamoto", "cilium")
    """
    from kubernetes import client

    from bgpdoctor.kube.reader import ResourceForbidden, ResourceNotFound, api_json

    if cni not in _AGENTS:
        return None
    selector, namespaces, container = _AGENTS[cni]
    core = client.CoreV1Api(kc.api)
    for ns in namespaces:
        try:
            body = api_json(
                kc,
                f"pods in {ns}",
                core.list_namespaced_pod,
                ns,
                label_selector=selector,
                field_selector=f"spec.nodeName={node}",
            )
        except (ResourceNotFound, ResourceForbidden):
            continue
        for pod in body.get("items") or []:
            if (pod.get("status") or {}).get("phase", "Running") == "Running":
                return AgentPod(ns, str(pod["metadata"]["name"]), container, node, cni)
    return None


def cilium_bgp_peers(execer: PodExec, pod: AgentPod, timeout: float = 10.0) -> CommandResult:
    """``cilium-dbg bgp peers -o json`` in the agent; on success ``extra["peers"]`` counts the entries.

    Example stdout: ``[{"local-asn":64514,"peer-address":"192.168.6.1","peer-asn":64513,
    "session-state":"established",...}]``
    """
    result = execer.exec(pod, ["cilium-dbg", "bgp", "peers", "-o", "json"], timeout)
    if result.ok:
        try:
            result.extra["peers"] = str(len(json.loads(result.stdout or "[]")))
        except ValueError:
            result.extra["error"] = "bad-json"
    return result


def calico_bird_protocols(execer: PodExec, pod: AgentPod, timeout: float = 10.0) -> CommandResult:
    """``birdcl -s /var/run/calico/bird.ctl show protocols all`` in calico-node (BIRD 1.6 output)."""
    return execer.exec(pod, ["birdcl", "-s", CALICO_BIRD_SOCKET, "show", "protocols", "all"], timeout)


class PodConnection:
    """A transport Connection whose commands run (``sh -c``) in a node's agent pod.

    The Cilium agent and calico-node run in the host network namespace, so ``ip -j``, ``ss`` and
    ``/proc/sys`` reads there describe the node itself.
    """

    def __init__(self, host: str, pod: AgentPod, execer: PodExec) -> None:
        self.host = host
        self.pod = pod
        self.execer = execer

    def run(self, command: str, timeout: float = 10.0) -> CommandResult:
        """Example: PodConnection("sakamoto", pod, KubePodExec(kc)).run("ip -j addr").exit_status -> 0."""
        result = self.execer.exec(self.pod, ["sh", "-c", command], timeout)
        result.command = command
        return result

    def close(self) -> None:
        return None
