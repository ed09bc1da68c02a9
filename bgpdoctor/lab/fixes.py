"""Apply a report's fix snippet to the lab the way a user would paste it: the fix round trip.

Only the lab is ever changed, and only through what the snippet says: BIRD blocks and fragments are
merged into the host's bird.conf and loaded with `birdc configure`; FRR snippets are typed into
vtysh's `configure terminal` on the running daemons; GoBGP TOML is merged into the
node's gobgpd.toml and the daemon restarted (the pod CIDR re-announced, as Cilium would); `nft`,
`sysctl -w`, `ip`, `wg` and `gobgp` lines run in the host's namespace. Two things are translated
because the lab has no systemd and keeps configs in its run directory: `systemctl`/`service`/
`/etc/init.d` act on the lab's own daemons, and `/etc/bird.conf` is the host's lab config. Lines
that persist settings under /etc are skipped: lab namespaces share the machine's file system.
A `$BGP_MD5_PASSWORD` placeholder is filled with the lab's secret, which is never printed.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bgpdoctor.errors import LabError
from bgpdoctor.lab import health
from bgpdoctor.lab.configs import bird_argv, gobgpd_argv
from bgpdoctor.lab.frr import FrrInstance, lab_frr_dir
from bgpdoctor.lab.procs import config_hash, kill_proc, ns_run, proc_alive, start_in_ns
from bgpdoctor.lab.state import LabState, save_state
from bgpdoctor.lab.topology import (
    HOSTS,
    LB_NODES,
    LB_ROUTERS,
    NODES,
    LabSettings,
    bird16_host,
    bird_binary,
    bird_hosts,
)

LAB_PLATFORMS = ("bird2", "bird1", "frr", "gobgp", "nftables", "sysctl", "linux")
GOBGP_HOSTS = (*NODES, *LB_NODES)
SECRET_PLACEHOLDER = "$BGP_MD5_PASSWORD"
_NS_COMMANDS = {"nft", "ip", "wg", "sysctl", "ss"}
_PERSIST = re.compile(r">\s*/etc/")


@dataclass
class Applied:
    """What apply_fix did. Example: Applied(host="router-home", platform="sysctl",
    steps=["sysctl -w net.ipv4.ip_forward=1", "skipped (persists under /etc): echo ..."])"""

    host: str
    platform: str
    steps: list[str] = field(default_factory=list)


# -- BIRD configuration merging (pure) ---------------------------------------------------------
def _strip_comments(text: str) -> str:
    out, quote = [], False
    for line in text.splitlines():
        buf = []
        for ch in line:
            if ch == '"':
                quote = not quote
            if ch == "#" and not quote:
                break
            buf.append(ch)
        out.append("".join(buf))
    return "\n".join(out)


def bird_statements(text: str) -> list[tuple[int, int]]:
    """Spans (start, end) of the top-level statements of a BIRD config text (comments must be blanked).

    Example: bird_statements("router id 1.1.1.1;\\nprotocol device {}\\n") -> [(0, 18), (19, 37)]
    """
    spans: list[tuple[int, int]] = []
    depth, quote, start = 0, False, None
    i = 0
    while i < len(text):
        ch = text[i]
        if start is None and not ch.isspace():
            start = i
        if ch == '"':
            quote = not quote
        elif not quote:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0 and start is not None:
                    end = i + 1
                    j = end
                    while j < len(text) and text[j] in " \t":
                        j += 1
                    if j < len(text) and text[j] == ";":
                        end = j + 1
                    spans.append((start, end))
                    start, i = None, end
                    continue
            elif ch == ";" and depth == 0 and start is not None:
                spans.append((start, i + 1))
                start = None
        i += 1
    return spans


def _blank_comments(text: str) -> str:
    """Comments replaced by spaces, so offsets stay valid."""
    out, quote, comment = [], False, False
    for ch in text:
        if ch == "\n":
            comment = False
        elif ch == '"' and not comment:
            quote = not quote
        elif ch == "#" and not quote:
            comment = True
        out.append(" " if comment and ch != "\n" else ch)
    return "".join(out)


def _key(stmt: str) -> str:
    pkey = _protocol_key(stmt)
    if pkey:
        return " ".join(("protocol", pkey[0], pkey[1] or ""))
    words = re.split(r"[\s{;]+", stmt.strip(), maxsplit=2)
    if words[0] in ("local", "router", "next", "source") and len(words) > 1:
        return " ".join(words[:2])
    return words[0]


def _protocol_key(stmt: str) -> tuple[str, str | None] | None:
    m = re.match(r"protocol\s+(\w+)(?:\s+(?!from\b)(\w+))?", stmt.strip())
    return (m.group(1), m.group(2)) if m else None


def _find_protocol(conf: str, ptype: str, name: str | None) -> tuple[int, int] | None:
    blank = _blank_comments(conf)
    found = []
    for a, b in bird_statements(blank):
        key = _protocol_key(blank[a:b])
        if key and key[0] == ptype and (name is None or key[1] == name):
            found.append((a, b))
    if name is None and len(found) > 1:
        raise LabError(f"{len(found)} `protocol {ptype}` blocks: the fix does not say which")
    return found[0] if found else None


def _block_at_line(conf: str, line: int) -> tuple[int, int]:
    blank = _blank_comments(conf)
    offset = sum(len(x) + 1 for x in conf.split("\n")[: line - 1])
    for a, b in bird_statements(blank):
        if a <= offset <= b and _protocol_key(blank[a:b]):
            return a, b
    raise LabError(f"no protocol block at line {line}")


def _merge_into_block(conf: str, span: tuple[int, int], stmts: list[str]) -> str:
    """Replace statements of the same kind inside the block at span, insert the others at its end."""
    a, b = span
    block = conf[a:b]
    open_at = block.index("{") + 1
    close_at = block.rindex("}")
    body = block[open_at:close_at]
    for stmt in stmts:
        blank = _blank_comments(body)
        same = [(x, y) for x, y in bird_statements(blank) if _key(blank[x:y]) == _key(stmt)]
        if same:
            x, y = same[0]
            body = body[:x] + stmt + body[y:]
        else:
            body = body.rstrip() + "\n  " + stmt + "\n"
    return conf[:a] + block[:open_at] + body + block[close_at:] + conf[b:]


def merge_bird(conf: str, snippet: str, fragment: str, target: str | None, conf_path: str = "") -> str:
    """bird.conf text with a fix snippet merged in, as a careful user would paste it.

    fragment "config": each top-level statement replaces the one of the same kind (`protocol bgp
    X`, `protocol kernel`, `router id`) or is appended. "bgp-protocol" / "bgp-channel": the lines go
    inside the target protocol ("protocol bgp X" or "FILE:LINE") or its ipv4 channel, replacing
    statements of the same kind. Example: merge_bird(conf, "multihop 3;", "bgp-protocol",
    "protocol bgp yuuko_k8s") -> conf with `multihop 3;` inside that protocol.
    """
    clean = _strip_comments(snippet)
    stmts = [clean[a:b].strip() for a, b in bird_statements(clean)]
    if not stmts:
        raise LabError("the BIRD snippet has no statement")
    if fragment == "config":
        for stmt in stmts:
            pkey = _protocol_key(stmt)
            if pkey:
                span = _find_protocol(conf, *pkey)
            else:
                blank = _blank_comments(conf)
                same = [(a, b) for a, b in bird_statements(blank) if _key(blank[a:b]) == _key(stmt)]
                span = same[0] if same else None
            conf = conf[: span[0]] + stmt + conf[span[1] :] if span else conf.rstrip() + "\n\n" + stmt + "\n"
        return conf
    if not target:
        raise LabError("the fragment does not name the protocol it belongs in (no target)")
    if "," in target:  # the same lines in several blocks: "protocol bgp a, protocol bgp b"
        for one in target.split(","):
            conf = merge_bird(conf, snippet, fragment, one.strip(), conf_path)
        return conf
    m = re.fullmatch(r"protocol\s+(\w+)\s+(\w+)", target.strip())
    if m:
        span = _find_protocol(conf, m.group(1), m.group(2))
        if span is None:
            raise LabError(f"no `{target}` in the configuration")
    else:
        where = re.fullmatch(r"(?P<file>.+):(?P<line>\d+)", target.strip())
        if not where:
            raise LabError(f"cannot tell where {target!r} is")
        if conf_path and where["file"] != conf_path:
            raise LabError(f"the fix is for {where['file']}, the lab host's config is {conf_path}")
        span = _block_at_line(conf, int(where["line"]))
    if fragment == "bgp-protocol":
        return _merge_into_block(conf, span, stmts)
    block = conf[span[0] : span[1]]
    blank = _blank_comments(block)
    inner = blank.index("{") + 1
    channel = [
        (x + inner, y + inner)
        for x, y in bird_statements(blank[inner : blank.rindex("}")])
        if _key(blank[x + inner : y + inner]) == "ipv4"
    ]
    if not channel:
        return _merge_into_block(conf, span, ["ipv4 { " + " ".join(stmts) + " };"])
    x, y = channel[0]
    chan = block[x:y]
    if "{" not in chan:
        chan = "ipv4 { " + " ".join(stmts) + " };"
        new_block = block[:x] + chan + block[y:]
    else:
        new_block = block[:x] + _merge_into_block(chan, (0, len(chan)), stmts) + block[y:]
    return conf[: span[0]] + new_block + conf[span[1] :]


# -- GoBGP TOML merging (pure) -----------------------------------------------------------------
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise LabError(f"cannot write {v!r} as TOML")


def dump_toml(data: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """TOML text for nested dicts and arrays of tables (what gobgpd configs use).

    Example: dump_toml({"global": {"config": {"as": 64514}}})
    -> '\\n[global]\\n\\n[global.config]\\nas = 64514\\n'
    """
    lines: list[str] = []
    tables: list[tuple[str, Any]] = []
    for k, v in data.items():
        if isinstance(v, dict) or (isinstance(v, list) and v and all(isinstance(x, dict) for x in v)):
            tables.append((k, v))
        else:
            lines.append(f"{k} = {_toml_value(v)}")
    text = "\n".join(lines) + ("\n" if lines else "")
    for k, v in tables:
        name = ".".join((*prefix, k))
        if isinstance(v, dict):
            text += f"\n[{name}]\n" + dump_toml(v, (*prefix, k))
        else:
            for item in v:
                text += f"\n[[{name}]]\n" + dump_toml(item, (*prefix, k))
    return text


def _deep_merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _deep_merge(into[k], v)
        else:
            into[k] = v


def _neighbor_address(neighbor: Mapping[str, Any]) -> Any:
    return neighbor.get("config", {}).get("neighbor-address")


def merge_gobgp(config: str, snippet: str, target: str | None) -> str:
    """gobgpd.toml text with a TOML fix merged: `neighbors.*` keys into the target neighbor, whole
    `[[neighbors]]` entries as neighbors of their own.

    Example: merge_gobgp(toml, "[neighbors.ebgp-multihop.config]\\nenabled = true", "neighbor 192.168.6.1")
    """
    try:
        data = tomllib.loads(config)
        fix = tomllib.loads(snippet)
    except tomllib.TOMLDecodeError as exc:
        raise LabError(f"GoBGP TOML does not parse: {exc}") from exc
    nb_fix = fix.pop("neighbors", None)
    if isinstance(nb_fix, list):
        # whole `[[neighbors]]` entries: new neighbors, each in place of one with the same address
        added = {_neighbor_address(nb) for nb in nb_fix}
        kept = [nb for nb in data.get("neighbors", []) if _neighbor_address(nb) not in added]
        data["neighbors"] = kept + nb_fix
    elif nb_fix is not None:
        m = re.fullmatch(r"neighbor\s+(\S+)", (target or "").strip())
        if not m:
            raise LabError("the GoBGP fix changes a neighbor but does not say which (no target)")
        matches = [nb for nb in data.get("neighbors", []) if _neighbor_address(nb) == m.group(1)]
        if not matches:
            raise LabError(f"no neighbor {m.group(1)} in the GoBGP configuration")
        _deep_merge(matches[0], nb_fix)
    _deep_merge(data, fix)
    return dump_toml(data)


# -- applying in the lab -----------------------------------------------------------------------
def _lab(run_dir: str | Path | None) -> tuple[LabSettings, LabState]:
    from bgpdoctor.lab.api import _open

    s, st = _open(run_dir)
    if st is None:
        raise LabError(f"no lab in {s.run_dir}")
    return s, st


def _restart_bird(s: LabSettings, st: LabState, host: str, steps: list[str]) -> None:
    key = f"{host}/bird"
    rec = st.procs.get(key)
    if rec is not None and proc_alive(rec):
        kill_proc(rec)
    s.bird_socket(host).unlink(missing_ok=True)
    argv = bird_argv(s, host, bird_binary(host))
    st.procs[key] = start_in_ns(
        s.ns(host), host, "bird", argv, s.host_dir(host) / "bird.out", "fix:restarted"
    )
    save_state(s.state_path, st)
    health.wait_bird_socket(s, host, s.host_dir(host) / "bird.out")
    steps.append(f"BIRD restarted on {host}")


def _restart_gobgp(s: LabSettings, st: LabState, host: str, steps: list[str]) -> None:
    from bgpdoctor.parsers.gobgp import parse_rib

    key = f"{host}/gobgpd"
    rib = parse_rib(health.gobgp(s, host, "-j", "global", "rib", "-a", "ipv4").stdout or "{}")
    originated = sorted({p.prefix for p in rib if p.neighbor_ip is None and not p.as_path})
    rec = st.procs.get(key)
    if rec is not None and proc_alive(rec):
        kill_proc(rec)
    d = s.host_dir(host)
    st.procs[key] = start_in_ns(
        s.ns(host), host, "gobgpd", gobgpd_argv(str(d / "gobgpd.toml")), d / "gobgpd.log", "fix:restarted"
    )
    save_state(s.state_path, st)
    health.wait_gobgp_api(s, host, d / "gobgpd.log")
    for prefix in originated:  # the agent announces its PodCIDR / LB VIPs again after a restart
        health.gobgp(s, host, "global", "rib", "add", "-a", "ipv4", prefix, "origin", "igp")
    again = f", {', '.join(originated)} announced again" if originated else ""
    steps.append(f"gobgpd restarted on {host}{again}")


def _service(s: LabSettings, st: LabState, host: str, name: str, action: str, steps: list[str]) -> None:
    """systemctl/service/init.d on the lab's own daemons (the lab has no service manager)."""
    name = name.removesuffix(".service")
    daemon = {"bird": "bird", "bird2": "bird", "gobgpd": "gobgpd"}.get(name)
    if daemon is None:
        raise LabError(f"the lab has no service {name!r} on {host}")
    if action in ("stop", "disable"):
        for key in (f"fault:{host}/{daemon}", f"{host}/{daemon}"):
            rec = st.procs.pop(key, None)
            if rec is not None:
                if proc_alive(rec):
                    kill_proc(rec)
                save_state(s.state_path, st)
                steps.append(f"stopped {daemon} on {host}")
                return
        steps.append(f"{daemon} was not running on {host}")
        return
    if action in ("start", "restart", "reload"):
        if daemon == "bird" and host in bird_hosts():
            _restart_bird(s, st, host, steps)
        elif daemon == "gobgpd" and host in GOBGP_HOSTS:
            _restart_gobgp(s, st, host, steps)
        else:
            raise LabError(f"the lab does not run {daemon} on {host}")
        return
    raise LabError(f"unsupported service action {action!r}")


def _run_lines(s: LabSettings, st: LabState, host: str, text: str, steps: list[str]) -> None:
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if _PERSIST.search(line):
            steps.append(
                f"skipped (persists under /etc, shared with the machine): {line.split('>')[0].strip()} ..."
            )
            continue
        for part in line.split("&&"):
            argv = shlex.split(part, comments=True)
            if argv:
                _run_command(s, st, host, argv, steps)


def _run_command(s: LabSettings, st: LabState, host: str, argv: list[str], steps: list[str]) -> None:
    shown = " ".join(argv)
    if argv[0] == "systemctl" and len(argv) >= 3:
        now = "--now" in argv
        rest = [a for a in argv[1:] if not a.startswith("--")]
        action, name = rest[0], rest[1]
        if action == "disable" and not now:
            steps.append(f"skipped (boot-time only): {shown}")
            return
        _service(s, st, host, name, action, steps)
        return
    if argv[0] == "service" and len(argv) == 3:
        _service(s, st, host, argv[1], argv[2], steps)
        return
    if argv[0].startswith("/etc/init.d/") and len(argv) == 2:
        _service(s, st, host, argv[0].rsplit("/", 1)[1], argv[1], steps)
        return
    if argv[0] == "bird" and "-p" in argv:
        conf = str(s.host_dir(host) / "bird.conf")
        argv = [bird_binary(host)] + [
            conf if a in ("/etc/bird.conf", "/etc/bird/bird.conf") else a for a in argv[1:]
        ]
    elif argv[0] == "gobgp":
        argv = ["gobgp", "-u", "127.0.0.1", "-p", "50051", *argv[1:]]
    elif argv[0] not in _NS_COMMANDS:
        raise LabError(f"the lab cannot run `{shown}` on {host}")
    cp = ns_run(s.ns(host), argv, check=False)
    if cp.returncode != 0:
        raise LabError(f"{host}: `{shown}` failed: {(cp.stderr or cp.stdout).strip()[-300:]}")
    steps.append(shown)


def _fill_secret(s: LabSettings, text: str) -> str:
    """The snippet with the lab's MD5 secret in place of the placeholder (kept in memory only)."""
    if SECRET_PLACEHOLDER not in text:
        return text
    from bgpdoctor.lab.faults import md5_secret

    return text.replace(SECRET_PLACEHOLDER, md5_secret(s))


def _apply_bird(s: LabSettings, st: LabState, host: str, fix: Mapping[str, Any], steps: list[str]) -> None:
    if host not in bird_hosts() or (fix.get("platform") == "bird1") != bird16_host(host):
        raise LabError(
            f"{host} does not run {'BIRD 1.6' if fix.get('platform') == 'bird1' else 'BIRD 2'} in the lab"
        )
    path = s.host_dir(host) / "bird.conf"
    text = str(fix["text"])
    text = _fill_secret(s, text)
    new = merge_bird(
        path.read_text(), text, str(fix.get("fragment") or "config"), fix.get("target"), str(path)
    )
    path.write_text(new)
    cp = ns_run(s.ns(host), [bird_binary(host), "-p", "-c", str(path)], check=False)
    if cp.returncode != 0:
        raise LabError(f"{host}: the merged bird.conf does not parse: {(cp.stderr or cp.stdout).strip()}")
    steps.append(f"merged into {path}" + (f" ({fix['target']})" if fix.get("target") else ""))
    cp = health.birdc(s, host, "configure")
    if "Reconfigured" not in cp.stdout and "Reconfiguration" not in cp.stdout:
        raise LabError(f"{host}: birdc configure: {cp.stdout.strip()[-300:]}")
    steps.append("birdc configure")
    rec = st.procs.get(f"{host}/bird")
    if rec is not None:
        rec.config_hash = "fix:" + config_hash(new)  # `lab up` must reconfigure it back to baseline
        save_state(s.state_path, st)


def _apply_gobgp(s: LabSettings, st: LabState, host: str, fix: Mapping[str, Any], steps: list[str]) -> None:
    if host not in GOBGP_HOSTS:
        raise LabError(f"{host} does not run GoBGP in the lab")
    text = str(fix["text"])
    if all(ln.strip().startswith(("gobgp ", "#")) for ln in text.splitlines() if ln.strip()):
        _run_lines(s, st, host, text, steps)
        return
    text = _fill_secret(s, text)
    path = s.host_dir(host) / "gobgpd.toml"
    new = merge_gobgp(path.read_text(), text, fix.get("target"))
    path.write_text(new)
    cp = ns_run(s.ns(host), ["gobgpd", "-t", "toml", "-f", str(path), "-d"], check=False)
    if cp.returncode != 0:
        raise LabError(
            f"{host}: the merged gobgpd.toml is refused: {(cp.stderr or cp.stdout).strip()[-300:]}"
        )
    steps.append(f"merged into {path}" + (f" ({fix['target']})" if fix.get("target") else ""))
    _restart_gobgp(s, st, host, steps)


def frr_lines(snippet: str) -> list[str]:
    """The lines of an FRR snippet as typed at the vtysh prompt: `!` comments and blank lines dropped.

    Example: frr_lines("! note\nrouter bgp 65000\n address-family ipv4 unicast\n  maximum-paths 64\n")
    -> ["router bgp 65000", "address-family ipv4 unicast", "maximum-paths 64"]
    """
    return [ln.strip() for ln in snippet.splitlines() if ln.strip() and not ln.strip().startswith("!")]


def _apply_frr(s: LabSettings, st: LabState, host: str, fix: Mapping[str, Any], steps: list[str]) -> None:
    zebra, bgpd = st.procs.get(f"{host}/zebra"), st.procs.get(f"{host}/bgpd")
    if host not in LB_ROUTERS or zebra is None or bgpd is None or not proc_alive(bgpd):
        raise LabError(f"{host} does not run FRR in the lab")
    lines = frr_lines(str(fix["text"]))
    if not lines:
        raise LabError("the FRR snippet has no configuration line")
    FrrInstance(s.ns(host), host, lab_frr_dir(s.ns(host)), [zebra, bgpd]).configure(lines)
    steps.append(f"vtysh configure terminal on {host}: {len(lines)} line(s)")
    bgpd.config_hash = "fix:" + config_hash(*lines)  # `lab up` must restart it with the baseline
    save_state(s.state_path, st)


def apply_fix(run_dir: str | Path | None, fix: Mapping[str, Any]) -> Applied:
    """Apply one fix snippet of a report (a `diagnoses[].fixes[]` entry) to the lab host it names.

    Example: apply_fix("/tmp/lab", {"platform": "sysctl", "host": "router-home",
    "text": "sysctl -w net.ipv4.ip_forward=1"}) -> Applied(host="router-home", platform="sysctl",
    steps=["sysctl -w net.ipv4.ip_forward=1"])
    """
    s, st = _lab(run_dir)
    platform, host = str(fix.get("platform")), fix.get("host")
    if platform not in LAB_PLATFORMS:
        raise LabError(f"the lab cannot apply {platform} fixes (it can: {', '.join(LAB_PLATFORMS)})")
    if host not in HOSTS:
        raise LabError(f"the fix names no lab host ({host!r})")
    done = Applied(host, platform)
    if platform in ("bird2", "bird1"):
        _apply_bird(s, st, host, fix, done.steps)
    elif platform == "frr":
        _apply_frr(s, st, host, fix, done.steps)
    elif platform == "gobgp":
        _apply_gobgp(s, st, host, fix, done.steps)
    else:
        _run_lines(s, st, host, str(fix["text"]), done.steps)
    return done


def pick_fix(
    report: Mapping[str, Any], root_cause: str | None = None, platform: str | None = None
) -> dict[str, Any]:
    """The first fix of the top (or named) diagnosis the lab can apply.

    Example: pick_fix(report, platform="sysctl") -> {"platform": "sysctl", "host": "router-home", ...}
    """
    diagnoses = [d for d in report.get("diagnoses", []) if root_cause in (None, d.get("root_cause"))]
    if not diagnoses:
        raise LabError(f"the report has no diagnosis{' ' + root_cause if root_cause else ''}")
    d = diagnoses[0]
    for fix in d.get("fixes", []):
        lab_can = fix.get("platform") in LAB_PLATFORMS and fix.get("host") in HOSTS
        if lab_can and platform in (None, fix.get("platform")):
            return dict(fix)
    raise LabError(
        f"{d.get('root_cause')}: no fix the lab can apply" + (f" for {platform}" if platform else "")
    )
