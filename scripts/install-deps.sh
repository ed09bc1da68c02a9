#!/usr/bin/env bash
# Installs everything bgpdoctor, its lab and its tests need on a fresh Debian 12 machine (as root).
# Idempotent: a second run only checks. BIRD 1.6 (what Calico embeds) conflicts with bird2 as a
# package, so it is extracted from its .deb into /opt/bgpdoctor/bird16 instead of installed.
set -euo pipefail
cd "$(dirname "$0")/.."

BIRD16_DIR=${BGPDOCTOR_BIRD16_DIR:-/opt/bgpdoctor/bird16}
DEBS="bird2 frr gobgpd tmux openssh-server openssh-client nftables conntrack iproute2 iputils-ping tcpdump ethtool busybox openssl procps wireguard-go wireguard-tools bpftrace python3 python3-pip"

missing=""
for p in $DEBS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ] || [ ! -x "$BIRD16_DIR/usr/sbin/bird" ]; then
  apt-get update -qq
fi
if [ -n "$missing" ]; then
  echo "[install] apt-get install$missing" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ ! -x "$BIRD16_DIR/usr/sbin/bird" ]; then
  echo "[install] extracting BIRD 1.6 into $BIRD16_DIR" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download bird >/dev/null 2>&1)
  mkdir -p "$BIRD16_DIR"
  dpkg-deb -x "$tmp"/bird_*.deb "$BIRD16_DIR"
  rm -rf "$tmp"
fi

PY=${PYTHON:-python3}
# Debian's own python refuses `pip install` outside a venv (PEP 668) unless told otherwise.
PIP_FLAGS="-q --disable-pip-version-check"
if "$PY" -c 'import os, sys, sysconfig; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["stdlib"], "EXTERNALLY-MANAGED")) else 1)'; then
  PIP_FLAGS="$PIP_FLAGS --break-system-packages"
fi
echo "[install] pip install -e .[dev]" >&2
"$PY" -m pip install $PIP_FLAGS -e ".[dev]"
