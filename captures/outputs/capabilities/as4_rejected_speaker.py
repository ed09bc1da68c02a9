"""A BGP speaker without the 4-byte AS capability that still encodes its AS_PATH with 4-byte ASNs, as
MetalLB did before PR#491 (metallb#497). Made the as4_rejected_* outputs (README.md here).

Usage (inside a namespace): python3 as4_rejected_speaker.py PEER_ADDRESS OWN_ADDRESS [SECONDS]
"""

from __future__ import annotations

import socket
import struct
import sys
import time

AS, FOUR_BYTE_AS = 65001, 4200000001


def message(kind: int, body: bytes) -> bytes:
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), kind) + body


def read(sock: socket.socket) -> tuple[int, bytes]:
    head = b""
    while len(head) < 19:
        head += sock.recv(19 - len(head))
    length, kind = struct.unpack("!HB", head[16:19])
    body = b""
    while len(body) < length - 19:
        body += sock.recv(length - 19 - len(body))
    return kind, body


def main(peer: str, own: str, seconds: float) -> None:
    capabilities = bytes([1, 4, 0, 1, 0, 1])  # multiprotocol ipv4 unicast, and no 4-byte AS (65)
    params = bytes([2, len(capabilities)]) + capabilities
    sock = socket.create_connection((peer, 179), timeout=10, source_address=(own, 0))
    sock.sendall(message(1, struct.pack("!BHH4sB", 4, AS, 90, socket.inet_aton(own), len(params)) + params))
    read(sock)  # its OPEN
    sock.sendall(message(4, b""))
    read(sock)  # its KEEPALIVE
    path = struct.pack("!BB", 2, 2) + struct.pack("!II", AS, FOUR_BYTE_AS)  # AS_SEQUENCE, 4 bytes each
    attrs = (
        bytes([0x40, 1, 1, 0])
        + bytes([0x40, 2, len(path)])
        + path
        + bytes([0x40, 3, 4])
        + socket.inet_aton(own)
    )
    nlri = bytes([24]) + socket.inet_aton("10.92.76.0")[:3]
    sock.sendall(message(2, struct.pack("!H", 0) + struct.pack("!H", len(attrs)) + attrs + nlri))
    sock.settimeout(2)
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # keep the session up while the peer's state is read
        try:
            kind, body = read(sock)
        except TimeoutError:
            kind, body = 4, b""
        if kind == 3:
            print(f"NOTIFICATION {body[0]}/{body[1]}")
            return
        sock.sendall(message(4, b""))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 10.0)
