"""Read-only commands inside agent pods, for nodes bgpdoctor cannot SSH into.

``PodExec`` is the small interface (one method); ``KubePodExec`` implements it with the API's
websocket exec on a dedicated ApiClient (``stream()`` swaps the client's request function, which
would break concurrent REST calls on a shared client). Every outcome is a ``CommandResult``: a
refused exec (RBAC 403, an upgrade the server or a proxy will not do) becomes ``exit_status=None``
with ``extra["error"] = "exec-refused"`` and the server's words in ``stderr``, never an exception.
``PodConnection`` adapts one agent pod to the transport ``Connection`` protocol and
``open_pod_connection`` opens it for an inventory host (``connect: {pod: ...}``), turning a refused
exec or a missing pod into a ``HostError`` (a result in the report, never a crash). The bearer
token never appears in a message: it is replaced by ``***`` wherever the server or a library echoes it.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bgpdoctor.drivers import agent_for
from bgpdoctor.errors import BgpDoctorError, HostError
from bgpdoctor.kube.config import KubeClient
from bgpdoctor.redact import redact, redact_bytes
from bgpdoctor.transport.base import DEFAULT_MAX_OUTPUT, CommandResult

if TYPE_CHECKING:
    from bgpdoctor.inventory_model import PodTarget

__all__ = [
    "CALICO_BIRD_SOCKET",
    "AgentPod",
    "KubePodExec",
    "PodConnection",
    "PodExec",
    "calico_bird_protocols",
    "cilium_bgp_peers",
    "find_agent_pod",
    "open_pod_connection",
]

CALICO_BIRD_SOCKET = "/var/run/calico/bird.ctl"

# (label selector, namespaces to look in, container) per CNI
_AGENTS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "cilium": ("k8s-app=cilium", ("kube-system", "cilium"), "cilium-agent"),
    "calico": ("k8s-app=calico-node", ("calico-system", "kube-system"), "calico-node"),
}
_STATUS = re.compile(r"(\d{3})")
# what container runtimes say when argv[0] is not in the image (runc, crun) and what sh says
_NO_SHELL = re.compile(r"executable file not found|no such file or directory|not found", re.IGNORECASE)


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


def _refused(command: str, reason: str, start: float, status: str | None = None) -> CommandResult:
    m = _STATUS.search(reason)
    status = status or (m.group(1) if m else "?")
    missing = status == "404"
    words = "pod not found by the API server" if missing else "exec refused by the API server"
    return CommandResult(
        command=command,
        exit_status=None,
        stdout_bytes=b"",
        stderr=f"{words} (HTTP {status}): {_server_words(reason)}",
        duration_s=time.monotonic() - start,
        extra={"error": "pod-missing" if missing else "exec-refused", "http_status": status},
    )


def _server_words(reason: str) -> str:
    """The Status message of a refused upgrade, else the exception text, on one line.

    websocket-client puts "Handshake status 403 Forbidden -+-+- {headers} -+-+- b'{json}'" in its
    exception; the JSON Status ``message`` is what kubectl would print.
    """
    m = re.search(r'\{".*\}', reason, re.S)  # the body; the headers dict before it uses single quotes
    if m and '"message"' in m.group(0):
        try:
            body = json.loads(m.group(0))
            if isinstance(body, dict) and body.get("message"):
                return str(body["message"])
        except ValueError:
            pass
    return " ".join(reason.split())


class KubePodExec:
    """PodExec over the Kubernetes exec API (websocket), one dedicated ApiClient per call."""

    def __init__(self, kc: KubeClient) -> None:
        self.kc = kc

    def _scrub(self, text: str) -> str:
        """Replace the bearer token (and any api key) wherever a message echoes it, and any other
        secret (bgpdoctor.redact)."""
        cfg = self.kc.configuration
        secrets = [str(v) for v in (getattr(cfg, "api_key", None) or {}).values() if v]
        for secret in secrets:
            for part in (secret, secret.removeprefix("Bearer ").strip()):
                if len(part) >= 4:
                    text = text.replace(part, "***")
        return redact(text)

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
            reason = self._scrub(str(getattr(exc, "reason", "") or exc))
            # the client wraps websocket errors in ApiException(status=0, reason="Handshake status 403 ...")
            code = getattr(exc, "status_code", None) or getattr(exc, "status", None)
            known = str(code) if isinstance(code, int) and 400 <= code < 600 else None
            if "Handshake status" in reason or known:
                return _refused(command, reason, start, known)
            return CommandResult(
                command,
                None,
                b"",
                f"exec in {pod.namespace}/{pod.name} failed: {reason}",
                time.monotonic() - start,
                extra={"error": "exec-failed"},
            )
        result: CommandResult = box["result"]
        result.stderr = self._scrub(result.stderr)
        result.stdout_bytes = redact_bytes(result.stdout_bytes)
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
            status = resp.read_channel(3) if not timed_out else ""
            resp.close()
            code, why = (None, "") if timed_out else exit_status_of(status)
            err = err if isinstance(err, str) else err.decode("utf-8", "replace")
            return CommandResult(
                command,
                code,
                out.encode() if isinstance(out, str) else bytes(out),
                err + (why + "\n" if why else ""),
                time.monotonic() - start,
                timed_out=timed_out,
                extra={"pod": f"{pod.namespace}/{pod.name}", "container": pod.container},
            )
        finally:
            api.close()


def exit_status_of(status: str) -> tuple[int | None, str]:
    """The exit code from the exec status channel (3), and the server's words when it failed otherwise.

    Example: exit_status_of('{"metadata":{},"status":"Success"}') -> (0, "");
    a Failure with details.causes [{"reason":"ExitCode","message":"3"}] -> (3, "");
    a Failure without an ExitCode (the runtime could not start the command) -> (None, message).
    """
    try:
        body = json.loads(status) if status.strip() else {}
    except ValueError:
        return None, f"unreadable exec status: {status.strip()[:200]}"
    if not isinstance(body, dict) or not body:
        return None, "the exec ended without a status"
    if body.get("status") == "Success":
        return 0, ""
    for cause in (body.get("details") or {}).get("causes") or []:
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", "")), ""
            except ValueError:
                break
    return None, str(body.get("message") or body.get("reason") or "exec failed")


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


def agent_pods(kc: KubeClient) -> dict[str, AgentPod]:
    """The running Cilium / calico-node agent pod of every node, one list call per namespace.

    Example: agent_pods(kc) -> {"sakamoto": AgentPod("kube-system", "cilium-7xk2p", "cilium-agent",
    "sakamoto", "cilium")}; namespaces that are missing or forbidden are skipped.
    """
    from kubernetes import client

    from bgpdoctor.kube.reader import ResourceForbidden, ResourceNotFound, api_json

    core = client.CoreV1Api(kc.api)
    found: dict[str, AgentPod] = {}
    for cni, (selector, namespaces, container) in _AGENTS.items():
        for ns in namespaces:
            try:
                body = api_json(kc, f"pods in {ns}", core.list_namespaced_pod, ns, label_selector=selector)
            except (ResourceNotFound, ResourceForbidden):
                continue
            for pod in body.get("items") or []:
                node = (pod.get("spec") or {}).get("nodeName")
                if node and (pod.get("status") or {}).get("phase", "Running") == "Running":
                    name = str(pod["metadata"]["name"])
                    found.setdefault(str(node), AgentPod(ns, name, container, str(node), cni))
    return found


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

    stops_at_max_output = False  # the exec API delivers the whole output before it is cut

    def __init__(self, host: str, pod: AgentPod, execer: PodExec, client: KubeClient | None = None) -> None:
        self.host = host
        self.pod = pod
        self.execer = execer
        self.client = client  # closed with the connection when this connection opened it
        self.shell = True  # cleared when the image has no sh: simple commands then run as argv

    def run(self, command: str, timeout: float = 10.0, max_output: int = DEFAULT_MAX_OUTPUT) -> CommandResult:
        """Run ``sh -c command`` in the pod; without a shell in the image, ``shlex.split(command)``.

        The speaker-log command (alone or in a batch) also gets the agent container's own log, read
        through the API (pods/log): inside the pod, the node's /var/log/containers is not there.

        The exec API delivers the whole output; more than `max_output` bytes is cut afterwards
        (``truncated=True``, exit_status None).

        Example: PodConnection("sakamoto", pod, KubePodExec(kc)).run("ip -j addr") ->
        CommandResult(command="ip -j addr", exit_status=0, stdout_bytes=b'[{"ifindex":1,...}]')
        """
        asked = command
        command = self._with_agent_log(command, timeout)
        argv = self._direct(command)
        if self.shell or argv is None:
            result = self.execer.exec(self.pod, ["sh", "-c", command], timeout)
            if (
                argv is not None
                and result.exit_status in (126, 127, None)
                and "error" not in result.extra
                and not result.timed_out
                and _NO_SHELL.search(result.stderr)
                and '"sh"' in result.stderr
            ):
                self.shell = False
                result = self.execer.exec(self.pod, argv, timeout)
        else:
            result = self.execer.exec(self.pod, argv, timeout)
        result.command = asked
        if len(result.stdout_bytes) > max_output or len(result.stderr) > max_output:
            result.stdout_bytes, result.stderr = result.stdout_bytes[:max_output], result.stderr[:max_output]
            result.truncated, result.exit_status = True, None
        return result

    def _with_agent_log(self, command: str, timeout: float) -> str:
        """The command with the speaker-log command extended by the agent's log lines (printed
        before what the pod's own files give); a log the API refuses is said on stderr."""
        from bgpdoctor.engine.collect import SPEAKER_LOG_COMMAND

        quoted = shlex.quote(SPEAKER_LOG_COMMAND)
        kc = self.client or getattr(self.execer, "kc", None)
        if (command != SPEAKER_LOG_COMMAND and quoted not in command) or not isinstance(kc, KubeClient):
            return command
        lines, problem = agent_log_lines(kc, self.pod, timeout)
        where = f"pods/log {self.pod.namespace}/{self.pod.name} -c {self.pod.container}"
        said = " ".join(shlex.quote(f"{where}: {line}") for line in lines)
        extended = (f"printf '%s\\n' {said}; " if lines else "") + (
            f"echo {shlex.quote(f'{where}: {problem}')} >&2; " if problem else ""
        )
        if not extended:
            return command
        extended += SPEAKER_LOG_COMMAND
        return extended if command == SPEAKER_LOG_COMMAND else command.replace(quoted, shlex.quote(extended))

    @staticmethod
    def _direct(command: str) -> list[str] | None:
        # only commands a shell would not change: no pipes, redirections, globs or variables
        if any(ch in command for ch in "|&;<>()$`*?[]{}~\n\\"):
            return None
        try:
            argv = shlex.split(command)
        except ValueError:
            return None
        return argv or None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


def open_pod_connection(name: str, target: PodTarget, speaker: str = "none") -> PodConnection:
    """Open inventory host ``name`` through ``connect: {pod: ...}``; raise HostError when unusable.

    The pod is named (namespace + pod) or found as the running agent pod on ``target.node``. One
    ``true`` is exec'd first so that a refused exec (RBAC) or a vanished pod is one clear host error:
    ``HostError("kubemaster", "auth", "cannot exec into pod calico-system/calico-node-dhl2c:
    forbidden (HTTP 403): pods \"calico-node-dhl2c\" is forbidden: ...")``.
    Example: open_pod_connection("kubemaster", PodTarget(node="kubemaster", cni="calico"),
    "bird1").pod -> AgentPod("calico-system", "calico-node-dhl2c", "calico-node", "kubemaster", "calico")
    """
    from bgpdoctor.kube.config import DEFAULT_TIMEOUT, open_client

    agent = agent_for(speaker)
    cni = target.cni or (agent.cni.lower() if agent is not None else None)
    timeout = target.timeout or DEFAULT_TIMEOUT
    try:
        kc = open_client(target.context, target.kubeconfig, timeout)
    except BgpDoctorError as exc:
        raise HostError(name, "error", f"cannot use the Kubernetes API: {exc}") from None
    try:
        pod = _pod_for(name, kc, target, cni)
        execer = KubePodExec(kc)
        probe = execer.exec(pod, ["true"], timeout)
        where = f"{pod.namespace}/{pod.name}"
        error = probe.extra.get("error")
        if error == "exec-refused":
            status = probe.extra.get("http_status", "?")
            words = {"401": "unauthorized", "403": "forbidden"}.get(status, "refused")
            detail = probe.stderr.split(": ", 1)[-1]
            kind = "auth" if status in ("401", "403") else "error"
            raise HostError(name, kind, f"cannot exec into pod {where}: {words} (HTTP {status}): {detail}")
        if error == "pod-missing":
            raise HostError(name, "unreachable", f"cannot exec into pod {where}: pod not found")
        if error == "timeout":
            raise HostError(name, "timeout", f"cannot exec into pod {where}: {probe.stderr}")
        if error is not None:
            raise HostError(name, "unreachable", f"cannot exec into pod {where}: {probe.stderr}")
    except BaseException:
        kc.close()
        raise
    return PodConnection(name, pod, execer, client=kc)


def _pod_for(name: str, kc: KubeClient, target: PodTarget, cni: str | None) -> AgentPod:
    if target.pod is not None:
        assert target.namespace is not None  # the model requires it with pod
        container = target.container or (_AGENTS[cni][2] if cni in _AGENTS else "")
        return AgentPod(target.namespace, target.pod, container, target.node or "", cni or "")
    if cni not in _AGENTS:
        raise HostError(
            name, "error", "connect.pod: give cni (cilium or calico), or a speaker gobgp/bird1, or a pod name"
        )
    assert target.node is not None and cni is not None
    try:
        pod = find_agent_pod(kc, target.node, cni)
    except BgpDoctorError as exc:
        raise HostError(
            name, "unreachable", f"cannot list the agent pods of node {target.node}: {exc}"
        ) from None
    if pod is None:
        selector, namespaces, _ = _AGENTS[cni]
        raise HostError(
            name,
            "unreachable",
            f"no running {cni} agent pod ({selector}) on node {target.node} in {' or '.join(namespaces)}",
        )
    if target.container:
        pod = AgentPod(pod.namespace, pod.name, target.container, pod.node, pod.cni)
    return pod


# the lines of a speaker's log bgpdoctor reads (the same as engine/collect.py's SPEAKER_LOG_COMMAND greps)
LOG_LINES = re.compile(
    r"md5|protocol not available|bind: cannot assign requested address|denied due to: .*policy missing",
    re.IGNORECASE,
)
LOG_TAIL = 5000


def agent_log_lines(kc: KubeClient, pod: AgentPod, timeout: float = 10.0) -> tuple[list[str], str | None]:
    """The last 20 lines of the agent container's log (its last 5000) that speak of TCP MD5,
    unbindable addresses or RFC 8212 denials, redacted; or ([], why) when the API refuses.

    Example: agent_log_lines(kc, pod) -> (['time="..." level=error msg="failed to set md5"
    Err="protocol not available" subsys=bgp-control-plane'], None)
    """
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        resp: Any = client.CoreV1Api(kc.api).read_namespaced_pod_log(
            pod.name,
            pod.namespace,
            container=pod.container or None,
            tail_lines=LOG_TAIL,
            _preload_content=False,
            _request_timeout=(timeout, timeout),
        )
        text = bytes(resp.data or b"").decode("utf-8", "replace")
    except ApiException as exc:
        words = {401: "unauthorized", 403: "forbidden", 404: "not found"}.get(exc.status or 0, "refused")
        return [], redact(f"the agent's log could not be read: {words} (HTTP {exc.status})")
    except Exception as exc:  # a transport failure: the log stays unknown, the run goes on
        return [], redact(f"the agent's log could not be read: {type(exc).__name__}: {exc}")
    return [redact(line.strip()) for line in text.splitlines() if LOG_LINES.search(line)][-20:], None
