"""Kubelet reachability on 10250 from where metrics-server runs: TCP connect, then TLS handshake.

The probe runs on the vantage host (python3 there; a shell /dev/tcp fallback checks TCP only) and
prints one JSON line, kept verbatim as evidence.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from bgpdoctor.parsers import ParseError, load_json

_SCRIPT = r"""
import json, socket, ssl, sys, time
host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
out = {"target": "%s:%d" % (host, port), "tcp": None, "tls": None, "error": None}
t = time.monotonic()
try:
    s = socket.create_connection((host, port), timeout=timeout)
    out["tcp"] = "ok"
    out["tcp_ms"] = round((time.monotonic() - t) * 1000, 1)
    out["source"] = s.getsockname()[0]
except socket.timeout:
    out["tcp"] = "timeout"
except ConnectionRefusedError:
    out["tcp"] = "refused"
except OSError as e:
    out["tcp"] = "error"
    out["error"] = e.strerror or str(e)
if out["tcp"] == "ok":
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with ctx.wrap_socket(s, server_hostname=host) as tls:
            out["tls"] = "ok"
            out["tls_version"] = tls.version()
    except (OSError, ssl.SSLError) as e:
        out["tls"] = "error"
        out["error"] = str(e)
print(json.dumps(out))
"""


@dataclass
class KubeletProbe:
    target: str
    tcp: str | None  # ok, timeout, refused, error
    tls: str | None  # ok, error, None when TCP failed
    error: str | None
    source: str | None


def kubelet_command(address: str, port: int, timeout: float) -> str:
    args = f"{shlex.quote(address)} {port} {timeout:g}"
    fallback = (
        f"timeout {timeout:g} sh -c 'exec 3<>/dev/tcp/{address}/{port}' 2>/dev/null "
        f'&& echo \'{{"tcp": "ok", "tls": null}}\' || echo \'{{"tcp": "timeout", "tls": null}}\''
    )
    return (
        f"if command -v python3 >/dev/null; then python3 -c {shlex.quote(_SCRIPT)} {args}; "
        f"else bash -c {shlex.quote(fallback)}; fi"
    )


def parse_kubelet_probe(text: str, target: str) -> KubeletProbe:
    """The probe's JSON line; output it cannot read gives a probe whose ``error`` says so (never raises).

    Example: '{"tcp": "ok", "tls": "ok", ...}' -> KubeletProbe(target, "ok", "ok", None, "10.42.0.10")
    """
    line = next((ln for ln in reversed(text.strip().splitlines()) if ln.startswith("{")), "")
    try:
        data = load_json(line, "kubelet probe", max_depth=4)
        if not isinstance(data, dict):
            raise ParseError("kubelet probe", "not a JSON object")
        for key in ("tcp", "tls", "error", "source"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ParseError("kubelet probe", f"{key} is not a string")
    except ParseError:
        return KubeletProbe(target, None, None, f"unreadable probe output: {text.strip()[:200]}", None)
    return KubeletProbe(target, data.get("tcp"), data.get("tls"), data.get("error"), data.get("source"))
