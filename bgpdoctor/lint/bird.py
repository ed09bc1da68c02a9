"""BIRD 2 / BIRD 1.x configuration reader: tokens with file:line, includes, defines, templates.

It does not implement BIRD's whole grammar; it checks the structure (strings, comments, braces,
';'), the statements bgpdoctor needs (router id, define, protocol bgp/kernel/device/direct/static,
template ... from, neighbor/local/source address/multihop/passive/password/rr client, channels with
import/export) and the errors BIRD itself rejects in them (undefined symbols and templates,
duplicate protocol names, RFC 8212 channels without policies are left to the checks).

The dialect is told from the syntax (dialect()): BIRD 2 has channel blocks (`ipv4 { ... }`),
BIRD 1.x has import/export and BGP next-hop options on the protocol itself, kernel and static
protocols without a channel, and `table` statements. A file with neither is "unknown", never
assumed to be BIRD 2. A fragment (no router id, no kernel protocol) may use templates defined in
the file it is appended to; it is read without them instead of being refused.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, ip_address

from bgpdoctor.intent import Loc
from bgpdoctor.redact import REDACTED, redact

MAX_NESTING = 64  # braces; BIRD's own grammar never goes near it
MAX_INCLUDE_BYTES = 4 * 1024 * 1024
PUNCT = set("{};,=()[]")
PROTO_TYPES = {
    "bgp", "kernel", "device", "direct", "static", "ospf", "bfd", "babel", "rip", "pipe", "radv",
    "rpki", "mrt", "perf", "aggregator", "l3vpn", "bmp",
}  # fmt: skip
CHANNELS = {"ipv4", "ipv6", "vpn4", "vpn6", "flow4", "flow6", "ipv4-mc", "ipv6-mc", "ipv4-mpls", "ipv6-mpls"}
# BGP options that BIRD 1.x takes on the protocol and BIRD 2 only inside a channel
BIRD1_BGP_OPTIONS = {"next", "gateway", "add", "missing", "receive"}
VALUE_LISTS = ("debug", "mrtdump", "log")  # `log syslog { warning, error };` lists values in braces
UNKNOWN = "unknown"
AS_TRANS = 23456
Roots = dict[str, str]  # absolute prefix in the config (/etc/bird) -> local directory


class BirdSyntaxError(Exception):
    def __init__(self, loc: Loc, message: str) -> None:
        self.loc = loc
        self.message = message
        super().__init__(f"{loc}: {message}")


def shown(tok: Tok, before: Tok | None = None) -> str:
    """A token as an error message may cite it: short, and never a password."""
    if before is not None and before.text.lower() in ("password", "key", "secret"):
        return REDACTED
    text = redact(tok.text)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Tok:
    kind: str  # w (word), s (string), p (punctuation)
    text: str
    loc: Loc


@dataclass
class Stmt:
    """A statement: the tokens before ';' or before its block, and the block's statements."""

    words: list[Tok]
    block: list[Stmt] | None
    loc: Loc


def tokenize(text: str, file: str) -> list[Tok]:
    """Tokens of one file. Example: tokenize("router id 1.2.3.4;", "b.conf")[0] -> Tok("w", "router", ...)"""
    toks: list[Tok] = []
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise BirdSyntaxError(Loc(file, line), "unterminated comment")
            line += text.count("\n", i, end)
            i = end + 2
        elif c == '"':
            end = text.find('"', i + 1)
            if end < 0 or "\n" in text[i:end]:
                raise BirdSyntaxError(Loc(file, line), "unterminated string")
            toks.append(Tok("s", text[i + 1 : end], Loc(file, line)))
            i = end + 1
        elif c in PUNCT:
            toks.append(Tok("p", c, Loc(file, line)))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in PUNCT and text[j] not in '"#':
                if text.startswith("/*", j):
                    break
                j += 1
            toks.append(Tok("w", text[i:j], Loc(file, line)))
            i = j
    return toks


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def include_candidates(pattern: str, base_dir: str, roots: Roots | None = None) -> list[str]:
    """Where `include "pattern";` in a file under base_dir may live here, best first.

    A relative pattern is relative to base_dir. An absolute one goes through roots (--root
    /etc/bird=DIR), then through the including file's own location: a file at repo/etc/bird/
    including "/etc/bird/peers/*.conf" reads repo/etc/bird/peers/*.conf.
    Example: include_candidates("/etc/bird/x.conf", "r/etc/bird") -> ["/etc/bird/x.conf", "r/etc/bird/x.conf"]
    """
    if not os.path.isabs(pattern):
        return [os.path.join(base_dir, pattern)]
    out: list[str] = []
    for prefix, local in sorted((roots or {}).items(), key=lambda kv: -len(kv[0])):
        prefix = prefix.rstrip("/") or "/"
        if pattern == prefix or pattern.startswith(prefix.rstrip("/") + "/"):
            out.append(os.path.join(local, pattern[len(prefix) :].lstrip("/")))
    out.append(pattern)
    parts = [p for p in pattern.split("/") if p]
    base = [p for p in os.path.abspath(base_dir).split("/") if p]
    for k in range(len(parts) - 1, 0, -1):
        if base[-k:] == parts[:k]:
            out.append(os.path.join(base_dir, *parts[k:]))
            break
    return out


def resolve_include(pattern: str, base_dir: str, roots: Roots | None = None) -> list[str]:
    """The files an include names here (globs expanded), or [] when none exists."""
    for full in include_candidates(pattern, base_dir, roots):
        matches = sorted(glob.glob(full)) if _is_glob(pattern) else [full]
        found = [m for m in matches if os.path.isfile(m)]
        if found:
            return found
    return []


def expand_includes(
    toks: list[Tok],
    base_dir: str,
    problems: list[tuple[Loc, str]],
    seen: set[str],
    depth: int = 0,
    roots: Roots | None = None,
    notes: list[tuple[Loc, str]] | None = None,
) -> tuple[list[Tok], list[str]]:
    """Splice `include "x";` files in (relative to the including file, globs allowed; absolute
    ones through roots, see include_candidates).

    Returns the tokens and the included file paths. A missing relative file is recorded in
    problems; a missing absolute one in notes (the config was written for another machine).
    """
    out: list[Tok] = []
    files: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.kind == "w" and t.text == "include" and i + 1 < len(toks) and toks[i + 1].kind == "s":
            pattern = toks[i + 1].text
            full = include_candidates(pattern, base_dir, roots)[0]
            matches = resolve_include(pattern, base_dir, roots)
            if not matches and os.path.isabs(pattern) and notes is not None:
                root = os.path.dirname(pattern.split("*")[0].rstrip("/")) or "/"
                notes.append((t.loc, f'include "{pattern}": not found here, read without it '
                                     f"(map it with --root {root}=DIR)"))  # fmt: skip
            elif not matches and not _is_glob(pattern):
                problems.append((t.loc, f'include "{pattern}": file not found ({full})'))
            for m in matches:
                if not os.path.isfile(m):
                    continue
                if m in seen or depth > 8:
                    problems.append((t.loc, f'include "{pattern}": include loop'))
                    continue
                try:
                    if os.path.getsize(m) > MAX_INCLUDE_BYTES:
                        problems.append((t.loc, f'include "{pattern}": {m} is too large, not read'))
                        continue
                    with open(m, "rb") as f:
                        sub = tokenize(f.read().decode("utf-8", errors="replace"), m)
                except OSError as exc:
                    problems.append((t.loc, f'include "{pattern}": cannot read {m}: {exc.strerror}'))
                    continue
                except BirdSyntaxError as exc:
                    problems.append((exc.loc, exc.message))
                    continue
                inner, inner_files = expand_includes(
                    sub, os.path.dirname(m), problems, seen | {m}, depth + 1, roots, notes
                )
                out.extend(inner)
                files.extend([m, *inner_files])
            i += 2
            if i < len(toks) and toks[i].text == ";":
                i += 1
            continue
        out.append(t)
        i += 1
    return out, files


def _last(words: list[Tok]) -> str:
    return shown(words[-1], words[-2] if len(words) > 1 else None)


def parse_statements(toks: list[Tok], eof: Loc) -> list[Stmt]:
    """Statement tree; braces inside [ ] or ( ) belong to expressions (prefix sets like /16{16,32})."""
    pos = 0

    def block(closing: bool, open_loc: Loc, lenient: bool = False, level: int = 0) -> list[Stmt]:
        nonlocal pos
        if level > MAX_NESTING:
            raise BirdSyntaxError(open_loc, f"syntax error: blocks nested deeper than {MAX_NESTING} levels")
        stmts: list[Stmt] = []
        words: list[Tok] = []
        depth = 0  # [ ] and ( ) nesting
        while pos < len(toks):
            t = toks[pos]
            pos += 1
            if t.kind == "p" and t.text in "[(":
                depth += 1
                words.append(t)
            elif t.kind == "p" and t.text in "])":
                depth -= 1
                words.append(t)
            elif t.kind == "p" and t.text == "{" and depth > 0:
                words.append(t)
                inner = 1
                while pos < len(toks) and inner:
                    inner += {"{": 1, "}": -1}.get(toks[pos].text, 0) if toks[pos].kind == "p" else 0
                    words.append(toks[pos])
                    pos += 1
            elif t.kind == "p" and t.text == ";":
                if words:
                    stmts.append(Stmt(words, None, words[0].loc))
                words = []
            elif t.kind == "p" and t.text == "{":
                sub = block(True, t.loc, bool(words) and words[0].text in VALUE_LISTS, level + 1)
                stmts.append(Stmt(words, sub, words[0].loc if words else t.loc))
                words = []
                if pos < len(toks) and toks[pos].kind == "p" and toks[pos].text == ";":
                    pos += 1
            elif t.kind == "p" and t.text == "}":
                if not closing:
                    raise BirdSyntaxError(t.loc, "syntax error: unexpected '}'")
                if words and lenient:  # value lists such as debug { states, events }
                    stmts.append(Stmt(words, None, words[0].loc))
                elif words:
                    raise BirdSyntaxError(t.loc, f"syntax error: missing ';' after '{_last(words)}'")
                return stmts
            else:
                words.append(t)
        if closing:
            raise BirdSyntaxError(eof, f"syntax error: '{{' opened at line {open_loc.line} is never closed")
        if words:
            raise BirdSyntaxError(eof, f"syntax error: missing ';' after '{_last(words)}'")
        return stmts

    return block(False, eof)


# -- interpretation ----------------------------------------------------------------------------
@dataclass
class Channel:
    name: str
    loc: Loc
    import_mode: str | None = None  # all, none, filter, where
    import_loc: Loc | None = None
    export_mode: str | None = None
    export_loc: Loc | None = None


@dataclass
class BirdProto:
    """A protocol or template after `from` inheritance is applied (values keep their locs)."""

    ptype: str
    name: str
    loc: Loc
    template: bool = False
    parent: str | None = None
    settings: dict[str, tuple[str, Loc]] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    close_loc: Loc | None = None
    static_routes: list[tuple[IPv4Network, IPv4Address | None, Loc]] = field(default_factory=list)
    interfaces: list[str] = field(default_factory=list)
    bird1_syntax: Loc | None = None  # where a BIRD 1.x-only option was seen in this protocol
    missing_parent: bool = False  # `from X` with X defined in the config this fragment is appended to


@dataclass
class BirdConfig:
    """One BIRD configuration (a root file with its includes).

    Example: BirdConfig(file="r/bird.conf", version="2", router_id=IPv4Address("192.168.6.1"), ...)
    """

    file: str
    version: str  # "2", "1.6" (any BIRD 1.x) or "unknown" (the syntax does not tell)
    router_id: IPv4Address | None = None
    router_id_loc: Loc | None = None
    defines: dict[str, tuple[str, Loc]] = field(default_factory=dict)
    protocols: list[BirdProto] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)
    missing_templates: list[tuple[Loc, str]] = field(default_factory=list)
    partial: bool = False  # an absolute include could not be read here

    @property
    def fragment(self) -> bool:
        """No router id and no kernel protocol: a piece meant to be appended to another config."""
        return self.router_id is None and not any(p.ptype == "kernel" for p in self.protocols)

    def bgp(self) -> list[BirdProto]:
        return [p for p in self.protocols if p.ptype == "bgp" and not p.template]


def _addr(tok: Tok, defines: dict[str, tuple[str, Loc]]) -> IPv4Address | IPv6Address:
    text = defines[tok.text][0] if tok.text in defines else tok.text
    try:
        return ip_address(text.split("%")[0])
    except ValueError:
        raise BirdSyntaxError(tok.loc, f"syntax error: '{shown(tok)}' is not an IP address") from None


def _addr4(tok: Tok, defines: dict[str, tuple[str, Loc]]) -> IPv4Address:
    addr = _addr(tok, defines)
    if not isinstance(addr, IPv4Address):
        raise BirdSyntaxError(tok.loc, f"syntax error: '{shown(tok)}' is not an IPv4 address")
    return addr


def _num(tok: Tok, defines: dict[str, tuple[str, Loc]]) -> str:
    if tok.text in defines:
        return defines[tok.text][0]
    if re.fullmatch(r"\d+(\.\d+)?", tok.text):
        return tok.text
    raise BirdSyntaxError(
        tok.loc, f"syntax error: '{shown(tok)}' is undefined (expected a number or a define)"
    )


def _switch(words: list[Tok], i: int) -> bool:
    if i >= len(words):
        return True
    return words[i].text.lower() in ("on", "yes", "1", "true")


def _filter_mode(words: list[Tok], block: list[Stmt] | None) -> str:
    if len(words) < 2:
        return "filter" if block is not None else "none"
    w = words[1].text
    return w if w in ("all", "none", "filter", "where") else "filter"


def _apply_bgp_stmt(p: BirdProto, s: Stmt, defines: dict[str, tuple[str, Loc]]) -> None:
    w = s.words
    key = w[0].text
    if key == "neighbor":
        i = 1
        if i < len(w) and w[i].text == "range":
            p.settings["neighbor_range"] = (w[i + 1].text if i + 1 < len(w) else "", s.loc)
            i += 2
        elif i < len(w) and w[i].text not in ("as", "port", "internal", "external"):
            p.settings["neighbor"] = (str(_addr(w[i], defines)), s.loc)
            i += 1
        while i < len(w):
            t = w[i].text
            if t == "as" and i + 1 < len(w):
                p.settings["neighbor_as"] = (_num(w[i + 1], defines), s.loc)
                i += 2
            elif t == "port" and i + 1 < len(w):
                i += 2
            elif t in ("internal", "external"):
                p.settings["neighbor_as"] = (t, s.loc)
                i += 1
            elif t == "%":  # fe80::1 % 'eth0' (BIRD 1.x) or % "eth0"
                i += 2
            elif t.startswith("%"):
                i += 1
            else:
                raise BirdSyntaxError(w[i].loc, f"syntax error, unexpected '{shown(w[i])}' in neighbor")
    elif key == "local":
        i = 1
        while i < len(w):
            t = w[i].text
            if t == "as" and i + 1 < len(w):
                p.settings["local_as"] = (_num(w[i + 1], defines), s.loc)
                i += 2
            elif t in ("port", "range", "%") and i + 1 < len(w):
                i += 2
            elif t.startswith("%"):
                i += 1
            else:
                p.settings["local_addr"] = (str(_addr(w[i], defines)), s.loc)
                i += 1
    elif key == "source" and len(w) >= 3 and w[1].text == "address":
        p.settings["source_address"] = (str(_addr(w[2], defines)), s.loc)
    elif key == "multihop":
        p.settings["multihop"] = (_num(w[1], defines) if len(w) > 1 else "64", s.loc)
    elif key == "direct":
        p.settings.pop("multihop", None)
        p.settings["direct"] = ("1", s.loc)
    elif key == "passive":
        p.settings["passive"] = ("1" if _switch(w, 1) else "0", s.loc)
    elif key == "password":
        p.settings["password"] = ("set", s.loc)  # the value itself is never kept
    elif key == "rr" and len(w) >= 2 and w[1].text == "client":
        p.settings["rr_client"] = ("1" if _switch(w, 2) else "0", s.loc)
    elif key == "ttl" and len(w) >= 2 and w[1].text == "security":
        p.settings["ttl_security"] = ("1" if _switch(w, 2) else "0", s.loc)
    elif key == "enable" and len(w) >= 2 and w[1].text == "as4":
        p.settings["as4"] = ("1" if _switch(w, 2) else "0", s.loc)
    bird1 = key in BIRD1_BGP_OPTIONS or (key == "igp" and len(w) > 1 and w[1].text == "table")
    if bird1 and p.bird1_syntax is None:
        p.bird1_syntax = s.loc


def _apply_channel_body(ch: Channel, body: list[Stmt]) -> None:
    for s in body:
        if not s.words:
            continue
        k = s.words[0].text
        if k == "import" and not (len(s.words) > 1 and s.words[1].text in ("limit", "keep", "table")):
            ch.import_mode, ch.import_loc = _filter_mode(s.words, s.block), s.loc
        elif k == "export" and not (len(s.words) > 1 and s.words[1].text in ("limit", "table")):
            ch.export_mode, ch.export_loc = _filter_mode(s.words, s.block), s.loc


def _apply_proto_body(p: BirdProto, body: list[Stmt], defines: dict[str, tuple[str, Loc]]) -> None:
    for s in body:
        if not s.words:
            continue
        k = s.words[0].text
        if k in CHANNELS and (len(s.words) == 1 or s.words[1].text in ("table", "multicast", "mpls")):
            ch = p.channels.get(k) or Channel(k, s.loc)
            ch.loc = s.loc
            if s.block is not None:
                _apply_channel_body(ch, s.block)
            p.channels[k] = ch
        elif k in ("import", "export"):
            ch = p.channels.get("") or Channel("", s.loc)  # BIRD 1.6: policies on the protocol
            _apply_channel_body(ch, [s])
            p.channels[""] = ch
        elif p.ptype == "bgp":
            _apply_bgp_stmt(p, s, defines)
        elif p.ptype == "static" and k == "route" and len(s.words) >= 2:
            try:
                net = IPv4Network(s.words[1].text, strict=False)
            except ValueError:
                continue
            via = None
            if len(s.words) >= 4 and s.words[2].text == "via":
                try:
                    via = IPv4Address(s.words[3].text.split("%")[0])
                except ValueError:
                    via = None
            p.static_routes.append((net, via, s.loc))
        elif p.ptype == "direct" and k == "interface":
            p.interfaces += [t.text for t in s.words[1:] if t.kind == "s"]


def _copy(p: BirdProto) -> BirdProto:
    return BirdProto(
        p.ptype, p.name, p.loc, p.template, p.parent, dict(p.settings),
        {k: Channel(c.name, c.loc, c.import_mode, c.import_loc, c.export_mode, c.export_loc)
         for k, c in p.channels.items()},
    )  # fmt: skip


def interpret(stmts: list[Stmt], file: str) -> BirdConfig:
    """BirdConfig from a statement tree; raises BirdSyntaxError where BIRD would refuse the config."""
    cfg = BirdConfig(file=file, version=UNKNOWN)
    templates: dict[str, BirdProto] = {}
    names: set[str] = set()
    saw_v2 = saw_v16 = False
    counters: dict[str, int] = {}
    for s in stmts:
        w = s.words
        if not w:
            continue
        k = w[0].text
        if k == "router" and len(w) >= 3 and w[1].text == "id":
            cfg.router_id, cfg.router_id_loc = _addr4(w[2], cfg.defines), s.loc
        elif k == "define":
            if len(w) < 4 or w[2].text != "=":
                raise BirdSyntaxError(s.loc, "syntax error in define")
            cfg.defines[w[1].text] = (" ".join(t.text for t in w[3:]), s.loc)
        elif k in ("ipv4", "ipv6") and len(w) >= 2 and w[1].text == "table":
            saw_v2 = True
        elif k == "table" or (k == "roa" and len(w) >= 2 and w[1].text == "table"):
            saw_v16 = True
        elif k in ("roa4", "roa6", "attribute"):
            saw_v2 = True
        elif k in ("protocol", "template"):
            if len(w) < 2 or s.block is None:
                raise BirdSyntaxError(s.loc, f"syntax error in {k}")
            ptype = w[1].text
            if ptype not in PROTO_TYPES:
                raise BirdSyntaxError(w[1].loc, f"syntax error: unknown protocol type '{shown(w[1])}'")
            rest = [t.text for t in w[2:]]
            name = rest[0] if rest and rest[0] != "from" else ""
            fi = rest.index("from") if "from" in rest else -1
            parent = rest[fi + 1] if 0 <= fi < len(rest) - 1 else None
            if k == "template" and not name:
                raise BirdSyntaxError(s.loc, "syntax error: template needs a name")
            if not name:
                counters[ptype] = counters.get(ptype, 0) + 1
                name = f"{ptype}{counters[ptype]}"
            elif name in names:
                raise BirdSyntaxError(w[2].loc, f"Symbol '{shown(w[2])}' already defined")
            names.add(name)
            if parent is not None and parent not in templates:
                at = w[rest.index("from") + 3]
                cfg.missing_templates.append((at.loc, f"template '{shown(at)}' is not defined"))
                p = BirdProto(ptype, name, s.loc, k == "template", parent, missing_parent=True)
            elif parent is not None:
                p = _copy(templates[parent])
                p.name, p.loc, p.template, p.parent = name, s.loc, k == "template", parent
            else:
                p = BirdProto(ptype, name, s.loc, template=k == "template")
            _apply_proto_body(p, s.block, cfg.defines)
            last = s.block[-1].loc if s.block else s.loc
            p.close_loc = last
            if any(c for c in p.channels if c):
                saw_v2 = True
            if "" in p.channels and ptype in ("bgp", "kernel", "static", "ospf", "pipe"):
                saw_v16 = True
            if p.bird1_syntax is not None:
                saw_v16 = True
            # BIRD 2 refuses kernel and static protocols without a channel ("Channel not specified")
            if k == "protocol" and ptype in ("kernel", "static") and not p.channels and not p.missing_parent:
                saw_v16 = True
            if k == "template":
                templates[name] = p
            else:
                cfg.protocols.append(p)
    cfg.version = "2" if saw_v2 else "1.6" if saw_v16 else UNKNOWN
    return cfg


def _include_only(text: str) -> bool:
    """Only `include "...";` statements (with defines, log and router id): a BIRD entry file."""
    try:
        toks = tokenize(text, "")
    except BirdSyntaxError:
        return False
    includes = 0
    stmt: list[Tok] = []
    for t in toks:
        if t.kind == "p" and t.text == ";":
            head = stmt[0].text if stmt and stmt[0].kind == "w" else ""
            if head == "include" and len(stmt) == 2 and stmt[1].kind == "s":
                includes += 1
            elif head not in ("define", "log", "router"):
                return False
            stmt = []
        else:
            stmt.append(t)
    return includes > 0 and not stmt


def looks_like_bird(text: str) -> bool:
    """Content sniffing: a BIRD config has protocol/template blocks, a router id, filter/function
    blocks (an included fragment), or only `include "...";` statements (an entry file)."""
    if re.search(r'^\s*include\s+"[^"\n]+"\s*;', text, re.M) and _include_only(text):
        return True
    return bool(
        re.search(r"^\s*(protocol|template)\s+(bgp|kernel|device|direct|static|ospf|bfd|pipe)\b", text, re.M)
        or (re.search(r"^\s*router\s+id\s+[\w.]+\s*;", text, re.M) and re.search(r"[{};]\s*$", text, re.M))
        or (
            re.search(r"^\s*(filter|function)\s+\w+\s*(\(.*\))?\s*\{?\s*$", text, re.M)
            and re.search(r"^\s*\}\s*$", text, re.M)
        )
    )


def parse_bird(
    path: str,
    problems: list[tuple[Loc, str]],
    text: str | None = None,
    roots: Roots | None = None,
    notes: list[tuple[Loc, str]] | None = None,
) -> BirdConfig | None:
    """Parse a BIRD config file with its includes; None (and a problem) if BIRD would refuse it.

    text is the file's content when the caller has read it already. roots maps absolute include
    prefixes to local directories. notes receives what lint reads without judging: absolute
    includes not found here, templates a fragment takes from the config it is appended to.
    Example: parse_bird("router-mine/bird.conf", []) -> BirdConfig(version="2", protocols=[...])
    """
    if text is None:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", errors="replace")
    own_notes: list[tuple[Loc, str]] = []
    try:
        toks = tokenize(text, path)
        before = len(problems)
        toks, files = expand_includes(
            toks, os.path.dirname(path) or ".", problems, {path}, roots=roots, notes=own_notes
        )
        eof = Loc(path, text.count("\n") + 1)
        cfg = interpret(parse_statements(toks, eof), path)
        cfg.includes = files
        cfg.partial = bool(own_notes)
        if cfg.missing_templates and (cfg.fragment or cfg.partial):
            loc, _ = cfg.missing_templates[0]
            names = sorted({m.split("'")[1] for _, m in cfg.missing_templates})
            own_notes.append((loc, f"template {', '.join(names)} not in this file: read as a fragment "
                                   "of another config, settings from the template unknown"))  # fmt: skip
        elif cfg.missing_templates:
            loc, msg = cfg.missing_templates[0]
            problems.append((loc, f"syntax error: {msg}"))
        if notes is not None:
            notes += own_notes
        if len(problems) > before:
            return None
        return cfg
    except BirdSyntaxError as exc:
        problems.append((exc.loc, exc.message))
        return None
