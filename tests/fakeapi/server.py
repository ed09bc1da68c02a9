"""FakeApiServer: a threaded http.server that answers like kube-apiserver for read paths.

Usage::

    with FakeApiServer(token="t0k") as api:
        api.add(*objects)                      # CRs install their CRD (group/version) on the fly
        api.serve_versions("cilium.io", ["v2", "v2alpha1"])  # also serve stored CRs at v2alpha1
        write_kubeconfig(path, {"home": (api.url, "t0k")})

Custom resources are stored per (group, plural); listing them at any served version rewrites
``apiVersion`` the way a CRD with ``conversion: None`` does. Core objects live in a flat list.

Exec is real: ``api.exec_runners[(namespace, pod)] = ["ip", "netns", "exec", "bdx-n1"]`` makes
``pods/POD/exec?command=...`` upgrade to a websocket (RFC 6455, subprotocol ``v4.channel.k8s.io``)
and run ``runner + command`` here; stdout and stderr stream as binary frames on channels 1 and 2,
and channel 3 carries the Status the API server sends at the end (``Success``, or ``Failure`` with
``details.causes[{reason: ExitCode, message: "N"}]``). A pod without a runner is refused with 403;
``exec_status = 400/403`` refuses every exec; an exec into a pod that does not exist is a 404.

Logs: ``api.pod_logs[(namespace, pod, container)] = "line\\n..."`` answers
``pods/POD/log?container=C&tailLines=N`` as text/plain (the last N lines), as the API server does;
a pod or container without a log is a 404.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import signal
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import yaml

from tests.fakeapi.schema import crd_index

DEFAULT_TOKEN = "bgpdoctor-test-token"
CORE_PLURALS = {"Node": "nodes", "Service": "services", "ConfigMap": "configmaps", "Pod": "pods"}
NAMESPACED_CORE = {"services", "configmaps", "pods"}


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class FakeApiServer:
    def __init__(self, token: str = DEFAULT_TOKEN, tls_dir: Path | None = None) -> None:
        self.token = token
        self.delay_s = 0.0
        self.core: list[dict[str, Any]] = []
        self.crs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.served: dict[tuple[str, str], list[str]] = {}  # (group, plural) -> versions
        self.kinds: dict[tuple[str, str], str] = {}  # (group, plural) -> kind
        self.apiservices: dict[str, dict[str, Any]] = {}
        self.forbidden: set[str] = set()  # path prefixes answered with 403
        self.exec_status: int | None = None  # 400/403: refuse every exec with this code
        self.exec_runners: dict[tuple[str, str], list[str]] = {}  # (namespace, pod) -> argv prefix
        self.exec_log: list[list[str]] = []  # the command of every exec that ran
        self.pod_logs: dict[tuple[str, str, str], str] = {}  # (namespace, pod, container) -> log text
        self.exec_pids: list[int] = []  # every process an exec started (killed on client close)
        self.requests: list[str] = []
        self.tls_dir = tls_dir
        self.ca_file: Path | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- content ---------------------------------------------------------------------------

    def add(self, *objs: dict[str, Any]) -> FakeApiServer:
        for obj in objs:
            api_version = obj["apiVersion"]
            kind = obj["kind"]
            if kind == "APIService":
                self.apiservices[obj["metadata"]["name"]] = obj
            elif "/" not in api_version:
                self.core.append(obj)
            else:
                group, version = api_version.split("/")
                plural = crd_index().plural(group, kind)
                self.kinds[(group, plural)] = kind
                self.crs.setdefault((group, plural), []).append(obj)
                versions = self.served.setdefault((group, plural), [])
                if version not in versions:
                    versions.append(version)
        return self

    def install(self, group: str, plural: str, versions: Iterable[str]) -> FakeApiServer:
        """Install a CRD with no objects (a feature that is installed but unused)."""
        self.kinds[(group, plural)] = crd_index().kind(group, plural)
        self.crs.setdefault((group, plural), [])
        self.served[(group, plural)] = list(versions)
        return self

    def serve_versions(self, group: str, versions: list[str]) -> FakeApiServer:
        for (g, _plural), served in self.served.items():
            if g == group:
                served[:] = list(dict.fromkeys(versions + served))
        return self

    def all_objects(self) -> list[dict[str, Any]]:
        return [*self.core, *self.apiservices.values(), *(o for objs in self.crs.values() for o in objs)]

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None
        scheme = "https" if self.tls_dir else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return int(self._httpd.server_address[1])

    def start(self) -> FakeApiServer:
        server = self

        class Handler(_Handler):
            api = server

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        if self.tls_dir is not None:
            cert, key = _self_signed(self.tls_dir)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
            self.ca_file = cert
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- routing ---------------------------------------------------------------------------

    def route(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        path = path.rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        if parts[-1:] == ["exec"] or "exec" in parts:
            code = self.exec_status or 403
            return code, status(
                code,
                "Forbidden" if code == 403 else "BadRequest",
                f'pods "{parts[-2]}" is forbidden: User "system:serviceaccount:bgpdoctor:reader" cannot '
                f'create resource "pods/exec" in API group "" in the namespace "{parts[3]}"',
            )
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            return 200, self._group_list()
        if parts[:1] == ["api"] and parts[1:2] == ["v1"]:
            return self._core(parts[2:], query)
        if parts[:1] == ["apis"]:
            if (
                parts[1:3] == ["apiregistration.k8s.io", "v1"]
                and parts[3:4] == ["apiservices"]
                and len(parts) == 5
            ):
                obj = self.apiservices.get(parts[4])
                if obj is None:
                    return 404, status(
                        404, "NotFound", f'apiservices.apiregistration.k8s.io "{parts[4]}" not found'
                    )
                return 200, obj
            if len(parts) == 3:
                return self._resource_list(parts[1], parts[2])
            if len(parts) == 4:
                return self._cr_list(parts[1], parts[2], parts[3])
        return 404, status(404, "NotFound", "the server could not find the requested resource")

    def _group_list(self) -> dict[str, Any]:
        groups: dict[str, list[str]] = {}
        for (group, _plural), versions in sorted(self.served.items()):
            seen = groups.setdefault(group, [])
            seen += [v for v in versions if v not in seen]
        out = [
            {
                "name": "apiregistration.k8s.io",
                "versions": [{"groupVersion": "apiregistration.k8s.io/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "apiregistration.k8s.io/v1", "version": "v1"},
            }
        ]
        for group, versions in groups.items():
            ordered = sorted(versions, key=_version_key, reverse=True)
            out.append(
                {
                    "name": group,
                    "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered],
                    "preferredVersion": {"groupVersion": f"{group}/{ordered[0]}", "version": ordered[0]},
                }
            )
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}

    def _resource_list(self, group: str, version: str) -> tuple[int, dict[str, Any]]:
        resources = [
            {
                "name": plural,
                "singularName": self.kinds[(group, plural)].lower(),
                "namespaced": False,
                "kind": self.kinds[(group, plural)],
                "verbs": ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
                "storageVersionHash": "fake",
            }
            for (g, plural), versions in sorted(self.served.items())
            if g == group and version in versions
        ]
        if not resources:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        return 200, {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}",
            "resources": resources,
        }

    def _cr_list(self, group: str, version: str, plural: str) -> tuple[int, dict[str, Any]]:
        if version not in self.served.get((group, plural), []):
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        items = []
        for obj in self.crs[(group, plural)]:
            items.append({**obj, "apiVersion": f"{group}/{version}"})
        kind = self.kinds[(group, plural)]
        return 200, {
            "apiVersion": f"{group}/{version}",
            "kind": f"{kind}List",
            "metadata": {"continue": "", "resourceVersion": "4242"},
            "items": items,
        }

    def _core(self, parts: list[str], query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        namespace = None
        if parts[:1] == ["namespaces"] and len(parts) >= 3:
            namespace, parts = parts[1], parts[2:]
        if not parts:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        plural = parts[0]
        kind = next((k for k, p in CORE_PLURALS.items() if p == plural), None)
        if kind is None:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        objs = [
            o
            for o in self.core
            if o["kind"] == kind and (namespace is None or o["metadata"].get("namespace") == namespace)
        ]
        if len(parts) == 2:
            obj = next((o for o in objs if o["metadata"]["name"] == parts[1]), None)
            if obj is None:
                return 404, status(404, "NotFound", f'{plural} "{parts[1]}" not found')
            return 200, obj
        for sel in query.get("labelSelector", []):
            for term in sel.split(","):
                k, _, v = term.partition("=")
                objs = [o for o in objs if (o["metadata"].get("labels") or {}).get(k) == v]
        for sel in query.get("fieldSelector", []):
            for term in sel.split(","):
                k, _, v = term.partition("=")
                if k == "spec.nodeName":
                    objs = [o for o in objs if o.get("spec", {}).get("nodeName") == v]
        # the API server leaves apiVersion/kind out of the items of core lists
        items = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in objs]
        return 200, {
            "kind": f"{kind}List",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "4242"},
            "items": items,
        }


class _Handler(BaseHTTPRequestHandler):
    api: FakeApiServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; avoid the 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _answer(self) -> None:
        url = urlparse(self.path)
        self.api.requests.append(f"{self.command} {url.path}")
        if self.api.delay_s:
            time.sleep(self.api.delay_s)
        scheme, _, credential = (self.headers.get("Authorization") or "").partition(" ")
        if (
            scheme.lower() != "bearer" or credential.strip() != self.api.token
        ):  # the scheme is case-insensitive
            code, body = 401, status(401, "Unauthorized", "Unauthorized")
        elif any(url.path.startswith(p) for p in self.api.forbidden):
            code, body = 403, status(403, "Forbidden", f'forbidden: cannot get path "{url.path}"')
        elif (log := self._pod_log(url.path, parse_qs(url.query))) is not None:
            self._send(log[0], log[1], "text/plain" if log[0] == 200 else "application/json")
            return
        elif (ws := self._exec_target(url.path)) is not None and ws[1] == "":
            code, body = 404, status(404, "NotFound", f'pods "{url.path.split("/")[-2]}" not found')
        elif ws is not None and ws[2] is not None:
            self._websocket_exec(ws[0], ws[1], ws[2], parse_qs(url.query).get("command", []))
            return
        else:
            code, body = self.api.route(self.command, url.path, parse_qs(url.query))
        data = json.dumps(body).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client gave up (timeout test)

    do_GET = _answer
    do_POST = _answer

    def _send(self, code: int, data: bytes, content_type: str) -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def _pod_log(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes] | None:
        """(status, body) for ``GET .../pods/POD/log``, None for any other path."""
        parts = [p for p in path.split("/") if p]
        if (
            len(parts) != 7
            or parts[:3] != ["api", "v1", "namespaces"]
            or parts[4] != "pods"
            or parts[6] != "log"
        ):
            return None
        ns, pod = parts[3], parts[5]
        container = (query.get("container") or [""])[0]
        text = self.api.pod_logs.get((ns, pod, container))
        if text is None:
            body = status(404, "NotFound", f'pods "{pod}" not found')
            return 404, json.dumps(body).encode()
        lines = text.splitlines(keepends=True)
        tail = int((query.get("tailLines") or ["0"])[0] or 0)
        return 200, "".join(lines[-tail:] if tail else lines).encode()

    # --- websocket exec --------------------------------------------------------------------

    def _exec_target(self, path: str) -> tuple[str, str, list[str] | None] | None:
        """(namespace, pod, runner) for an exec upgrade; pod "" when the pod does not exist."""
        parts = [p for p in path.split("/") if p]
        if len(parts) != 7 or parts[:3] != ["api", "v1", "namespaces"] or parts[4] != "pods":
            return None
        if parts[6] != "exec" or (self.headers.get("Upgrade") or "").lower() != "websocket":
            return None
        if self.api.exec_status is not None:
            return None  # refused below by route()
        ns, pod = parts[3], parts[5]
        exists = any(
            o["kind"] == "Pod" and o["metadata"]["name"] == pod and o["metadata"].get("namespace") == ns
            for o in self.api.core
        )
        if not exists:
            return ns, "", []
        return ns, pod, self.api.exec_runners.get((ns, pod))

    def _websocket_exec(self, ns: str, pod: str, runner: list[str], argv: list[str]) -> None:
        offered = [p.strip() for p in (self.headers.get("Sec-WebSocket-Protocol") or "").split(",")]
        key = self.headers.get("Sec-WebSocket-Key") or ""
        if CHANNEL_PROTOCOL not in offered or not key or not argv:
            why = "websocket exec needs v4.channel.k8s.io and a command"
            data = json.dumps(status(400, "BadRequest", why))
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data.encode())
            return
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("Sec-WebSocket-Protocol", CHANNEL_PROTOCOL)
        self.end_headers()
        self.close_connection = True
        self.api.exec_log.append(list(argv))
        lock = threading.Lock()

        def send(opcode: int, payload: bytes) -> None:
            with lock, contextlib.suppress(OSError, ssl.SSLError):
                self.wfile.write(ws_frame(opcode, payload))

        proc = subprocess.Popen(
            runner + argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.api.exec_pids.append(proc.pid)
        client_gone = threading.Event()

        def pump(stream: Any, channel: int) -> None:
            while chunk := os.read(stream.fileno(), 32768):
                send(OPCODE_BINARY, bytes([channel]) + chunk)

        def watch() -> None:
            # the client closing (or dropping) the connection ends the command, as kubelet does
            while (frame := ws_read_frame(self.rfile)) is not None and frame[0] != OPCODE_CLOSE:
                pass
            client_gone.set()
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # the group of the process this exec started

        for channel in (1, 2, 3):
            send(OPCODE_BINARY, bytes([channel]))  # the API server opens each channel with an empty frame
        pumps = [
            threading.Thread(target=pump, args=(proc.stdout, 1), daemon=True),
            threading.Thread(target=pump, args=(proc.stderr, 2), daemon=True),
        ]
        watcher = threading.Thread(target=watch, daemon=True)
        for t in [*pumps, watcher]:
            t.start()
        for t in pumps:
            t.join()
        rc = proc.wait()
        if not client_gone.is_set():
            send(OPCODE_BINARY, b"\x03" + json.dumps(exec_status_body(argv, rc)).encode())
            send(OPCODE_CLOSE, struct.pack("!H", 1000))
            watcher.join(2.0)


CHANNEL_PROTOCOL = "v4.channel.k8s.io"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
OPCODE_BINARY, OPCODE_CLOSE = 0x2, 0x8


def exec_status_body(argv: list[str], rc: int) -> dict[str, Any]:
    """The Status kube-apiserver writes on channel 3 when the command ends."""
    if rc == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
        f"[{' '.join(argv)}], exit code {rc}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(rc)}]},
    }


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final frame (server to client, RFC 6455 section 5.2)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def ws_read_frame(rfile: Any) -> tuple[int, bytes] | None:
    """Read one (masked) client frame: (opcode, payload), or None at EOF."""
    try:
        head = rfile.read(2)
        if len(head) < 2:
            return None
        opcode, n = head[0] & 0x0F, head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", rfile.read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", rfile.read(8))[0]
        mask = rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
        data = rfile.read(n)
        return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    except (OSError, ssl.SSLError, struct.error):
        return None


def _version_key(v: str) -> tuple[int, int, int]:
    # v2 > v2beta1 > v2alpha1 > v1
    import re

    m = re.match(r"v(\d+)(alpha|beta)?(\d*)", v)
    if not m:
        return (0, 0, 0)
    stage = {"alpha": 0, "beta": 1, None: 2}[m.group(2)]
    return (int(m.group(1)), stage, int(m.group(3) or 0))


def _self_signed(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "apiserver.crt", directory / "apiserver.key"
    if not cert.exists():
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=kube-apiserver",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
        )
    return cert, key


def write_kubeconfig(
    path: Path, contexts: dict[str, tuple[str, str]], current: str | None = None, ca_file: Path | None = None
) -> Path:
    """Write a kubeconfig with one cluster/user per context (token auth).

    contexts: name -> (server URL, token); the first one is current unless ``current`` is given.
    """
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [],
        "users": [],
        "contexts": [],
    }
    for name, (server, token) in contexts.items():
        cluster: dict[str, Any] = {"server": server}
        if ca_file is not None and server.startswith("https"):
            cluster["certificate-authority"] = str(ca_file)
        doc["clusters"].append({"name": f"{name}-cluster", "cluster": cluster})
        doc["users"].append({"name": f"{name}-user", "user": {"token": token}})
        doc["contexts"].append(
            {"name": name, "context": {"cluster": f"{name}-cluster", "user": f"{name}-user"}}
        )
    if current or contexts:
        doc["current-context"] = current or next(iter(contexts))
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
