"""Kubelet stand-in (TLS on :10250, GET /healthz -> ok) and its probe; stdlib only.

Run inside a lab namespace:
  python3 kubelet_stub.py serve --bind 192.168.0.81 --cert C --key K
  python3 kubelet_stub.py probe 192.168.0.81 [--port 10250] [--timeout 3]   (prints the body)
"""

from __future__ import annotations

import argparse
import http.server
import socket
import ssl
import sys


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok" if self.path == "/healthz" else b"Unauthorized"
        self.send_response(200 if self.path == "/healthz" else 401)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.client_address[0]} {format % args}\n")


def serve(bind: str, port: int, cert: str, key: str) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = http.server.ThreadingHTTPServer((bind, port), _Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


def probe(host: str, port: int, timeout: float) -> int:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the kubelet's self-signed serving cert, as metrics-server often runs
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=host) as tls,
        ):
            version = tls.version()
            tls.sendall(f"GET /healthz HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            data = b""
            while chunk := tls.recv(4096):
                data += chunk
            body = data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace")
            print(f"{version} {body}")
            return 0
    except (OSError, ssl.SSLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--bind", required=True)
    s.add_argument("--port", type=int, default=10250)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    p = sub.add_parser("probe")
    p.add_argument("host")
    p.add_argument("--port", type=int, default=10250)
    p.add_argument("--timeout", type=float, default=3.0)
    a = ap.parse_args()
    if a.cmd == "serve":
        serve(a.bind, a.port, a.cert, a.key)
        return 0
    return probe(a.host, a.port, a.timeout)


if __name__ == "__main__":
    sys.exit(main())
