"""Secrets are removed where output is collected, before anything is stored, cited or recorded.

This module is the one place that knows how secrets look: BIRD `password "x";`, GoBGP
`"auth_password": "x"` (``gobgp -j neighbor``) and `auth-password = "x"` (gobgpd.toml), FRR
`neighbor X password Y`, RouterOS `tcp-md5-key=x`, OpenWrt UCI `option password 'x'`, Kubernetes
Secret ``data``/``stringData`` (YAML and JSON), service-account tokens (JWTs), bearer tokens,
credentials in URLs, PEM private keys, and `ss -i` output into which iproute2 wrote TCP MD5 keys
(withheld whole: the keys are not framed). The value is replaced by REDACTED; the key and the
structure stay, so the evidence still shows that a password is set, and JSON stays JSON.

Every rule is local to a line (a PEM block stops at anything that is not base64 and a YAML block at
the first line that is not indented deeper), so framing lines around an output are never touched.
Every repetition is bounded, so hostile output costs time linear in its size.

Example: ``redact('password "s3cret";')`` -> ``'password "<redacted>";'``;
``redact('{"auth_password":"s3cret"}')`` -> ``'{"auth_password":"<redacted>"}'``.
"""

from __future__ import annotations

import json
import re
from typing import Any

REDACTED = "<redacted>"
# `ss -i` with CAP_NET_ADMIN writes TCP MD5 keys anywhere in its output (past its own buffer, so
# not even on their own line): such an output is withheld whole
SS_KEYS_WITHHELD = f"{REDACTED} (ss -i printed TCP MD5 keys into this output: none of it is kept)\n"

# Names whose value is a secret. The bare `name value` form (FRR, UCI) only knows the password
# words; `token` and friends need ':' or '=' (netstat's header has words like MPJoinNoTokenFound).
_BARE_WORDS = (
    r"pass(?:word|wd|phrase)|md5[-_]?key|auth(?:entication)?[-_]?key|psk|pre[-_]?shared[-_]?key"
    r"|private[-_]?key"
)
_PW_WORDS = _BARE_WORDS + r"|secret"
_ANY_WORDS = (
    _PW_WORDS + r"|token|key[-_]?data|api[-_]?key|credentials?|authorization|last-applied-configuration"
)


def _name(words: str) -> str:
    return rf"(?<![\w.-])[\w.-]{{0,64}}?(?:{words})[\w.-]{{0,64}}"


_NAME, _PW_NAME, _BARE_NAME = _name(_ANY_WORDS), _name(_PW_WORDS), _name(_BARE_WORDS)
_JSON_NAME = rf"[\w.-]{{0,64}}?(?:{_ANY_WORDS})[\w.-]{{0,64}}"
_ANY_WORD = re.compile(_ANY_WORDS, re.IGNORECASE)
# a key whose value names a secret (an environment variable, a file, a Kubernetes reference)
_SAFE_NAME = re.compile(r"(?:env|file|path|ref|refs|name|type)$", re.IGNORECASE)
_PLACEHOLDERS = {"", "true", "false", "null", "none", "yes", "no", "set", "***", REDACTED}

_DQ = r'"(?P<dq>(?:[^"\\\n]|\\.)*)"'
_SQ = r"'(?P<sq>[^'\n]*)'"
_FORMS: list[re.Pattern[str]] = [
    # JSON: "auth_password": "x" (a number becomes a string: "password": "<redacted>")
    re.compile(rf'"(?P<name>{_JSON_NAME})"[ \t]*:[ \t]*(?:{_DQ}|(?P<num>-?\d[\w.+-]*))', re.I),
    # JSON inside a JSON string (a last-applied-configuration annotation): \"password\":\"x\"
    re.compile(rf'\\"(?P<name>{_JSON_NAME})\\"[ \t]*:[ \t]*\\"(?P<esc>(?:[^"\\\n]|\\[^"\n])*)\\"', re.I),
    # key = "x", key: 'x', key => "x" (TOML, YAML, ini, RouterOS)
    re.compile(rf"(?P<name>{_NAME})[\"']?[ \t]*(?:=>|[:=])[ \t]*(?:{_DQ}|{_SQ})", re.I),
    # BIRD `password "x";`, UCI `option password 'x'`
    re.compile(rf"(?P<name>{_PW_NAME})[ \t]+(?:{_DQ}|{_SQ})", re.I),
    # key=x (RouterOS tcp-md5-key=x, ini, --password=x): up to the next blank, ';' or ','
    re.compile(rf"(?<![\"'\\])(?P<name>{_NAME})[ \t]*=[ \t]*(?P<eq>[^\s\"'<;,{{\[][^\s;,]*)", re.I),
    # YAML and headers (`password: x y`, `Authorization: Basic x`) to the end of the line; never a
    # JSON key ("token": null stays JSON)
    re.compile(
        rf"(?<![\"'\\])(?P<name>{_NAME})[ \t]*:(?:[ \t]+|(?=[^\s/]))"
        rf"(?P<colon>[^\s\"'<{{\[|>&*#!][^\n]*?)[ \t]*(?=[ \t]#|$)",
        re.I | re.M,
    ),
    # FRR `neighbor 10.0.0.1 password x`, UCI `option password x`: the value ends the line, so
    # prose such as "a password for this peer" stays
    re.compile(
        rf"^[ \t]*(?:[^\s#!;]+[ \t]+){{0,4}}?(?P<name>{_BARE_NAME})[ \t]+"
        rf"(?P<word>[^\s\"'<;,{{\[=:][^\s;]*)[ \t]*;?[ \t]*(?=[ \t]+[#!]|$)",
        re.I | re.M,
    ),
]
_BEARER = re.compile(r"(?P<name>\b[Bb]earer)[ \t]+(?P<word>[A-Za-z0-9._~+/=-]{8,4096})")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{6,8192}\.eyJ[A-Za-z0-9_-]{6,16384}\.[A-Za-z0-9_-]{0,8192}")
_URL_CREDENTIALS = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]{0,31}://[^/\s:@]{1,256}:)(?P<word>[^/\s@]{1,1024})(?=@)"
)
# Tailscale's private keys (`tailscale debug prefs` prints them in Persist under names no form
# knows) and its auth/API keys are recognisable by their own prefixes, whatever holds them
_TAILSCALE_SECRET = re.compile(
    r"\b(?:privkey|nlpriv):[0-9a-fA-F]{16,512}|\btskey-[A-Za-z0-9]{1,32}-[A-Za-z0-9_-]{6,512}"
)
# `wg show [all|IFACE] dump`: the interface line's private key (after the interface name, which
# `wg show IFACE dump` leaves out) and each peer line's preshared key. Only lines of the dump's
# exact shape: 5 (4) fields ending in a port and a fwmark, 9 (8) ending in handshake, bytes and
# keepalive. Public keys are evidence and stay.
_WG_KEY = r"[A-Za-z0-9+/]{42,43}="
_WG_INTERFACE_LINE = re.compile(
    rf"^(?P<head>(?:[^\t\n]{{1,15}}\t)?)(?P<secret>{_WG_KEY})\t(?P<tail>(?:{_WG_KEY}|\(none\))\t\d{{1,5}}"
    rf"\t(?:off|0x[0-9a-fA-F]{{1,8}}|\d{{1,10}}))$",
    re.M,
)
_WG_PEER_LINE = re.compile(
    rf"^(?P<head>(?:[^\t\n]{{1,15}}\t)?{_WG_KEY}\t)(?P<secret>{_WG_KEY})\t(?P<tail>[^\t\n]{{1,300}}\t"
    rf"[^\t\n]{{1,65536}}\t\d{{1,20}}\t\d{{1,20}}\t\d{{1,20}}\t(?:off|\d{{1,5}}))$",
    re.M,
)
_PEM_KIND = r"-----BEGIN (?P<kind>[A-Z0-9 ]{0,40}PRIVATE KEY)-----(?!" + REDACTED + ")"
_PEM_BLOCK = re.compile(_PEM_KIND + r"(?:(?!-----BEGIN )[^@\"]){0,65536}?-----END (?P=kind)-----")
# a block without its END (cut output): header and base64 lines, never the line after them
_PEM_OPEN = re.compile(_PEM_KIND + r"(?:(?:\r?\n|\\n)(?:[A-Za-z0-9+/=]{1,1024}|[A-Za-z-]{1,64}: [^\n\\@]*))*")
_YAML_BLOCK_KEY = re.compile(
    r"^[ \t]*(?:- )?[\"']?(?P<name>[\w./-]{1,253})[\"']?[ \t]*:[ \t]*[|>][-+0-9]*[ \t]*(?:#.*)?$"
)
_YAML_BLOCK_ANYWHERE = re.compile(r":[ \t]*[|>][-+0-9]*[ \t]*(?:#[^\n]*)?$", re.M)
_SECRET_KIND_YAML = re.compile(r"^[ \t]*kind:[ \t]*[\"']?Secret[\"']?[ \t]*$", re.M)
_SECRET_KIND_JSON = re.compile(r'"kind"[ \t]*:[ \t]*"Secret"')
_SECRET_DATA_YAML = re.compile(r"^(?P<indent>[ \t]*)(?:data|stringData):[ \t]*(?P<flow>\{.*\})?[ \t]*$")
_SECRET_DATA_JSON = re.compile(r'"(?:data|stringData)"[ \t]*:[ \t]*\{(?P<body>[^{}]*)\}')
_JSON_MEMBER = re.compile(r'"[^"\n]*"[ \t]*:[ \t]*"(?P<dq>(?:[^"\\\n]|\\.)*)"')
_FLOW_MEMBER = re.compile(r"[^{},:\s][^{},:]*:[ \t]*(?P<word>[^{},]+)")
_YAML_MEMBER = re.compile(r"^[ \t]*[^\s:#][^:]*:[ \t]*(?P<word>\S.*?)[ \t]*$")


def _is_secret_name(name: str) -> bool:
    return not _SAFE_NAME.search(name.rstrip("\"'"))


def _replace(m: re.Match[str], group: str, by: str = REDACTED) -> str:
    start, end = m.span(group)
    return m.string[m.start() : start] + by + m.string[end : m.end()]


def _form(m: re.Match[str]) -> str:
    group = m.lastgroup  # the value is the last group of every form
    if group is None or group == "name" or not _is_secret_name(m.group("name")):
        return m.group(0)
    if m.group(group).strip().lower() in _PLACEHOLDERS:
        return m.group(0)
    if group == "num":
        return _replace(m, group, f'"{REDACTED}"')
    return _replace(m, group)


# lower-case stems of every secret-looking word, found with str.find (a regex alternation with
# IGNORECASE costs a second per 8 MiB)
_STEMS = (
    "pass",
    "secret",
    "md5",
    "auth",
    "psk",
    "shared",
    "token",
    "private",
    "key",
    "credential",
    "last-applied",
)
_MAX_SPANS = 2000
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _hit_lines(text: str) -> list[tuple[int, int]]:
    """The (start, end) spans of the lines holding a secret-looking word; adjacent lines merged."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few non-ASCII letters lengthen when lowered
        lowered = text.translate(_ASCII_LOWER)
    starts: set[int] = set()
    for stem in _STEMS:
        pos = lowered.find(stem)
        while pos >= 0:
            if len(starts) > _MAX_SPANS:  # dense: one pass over everything is cheaper
                return [(0, len(text))]
            start = lowered.rfind("\n", 0, pos) + 1
            starts.add(start)
            end = lowered.find("\n", pos)
            if end < 0:
                break
            pos = lowered.find(stem, end)
    spans: list[tuple[int, int]] = []
    for start in sorted(starts):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        if spans and spans[-1][1] + 1 >= start:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


# lines that only look secret and came back unchanged (netstat's `TcpExt:` counter names, printed by
# every host of a fleet): the forms cost milliseconds per host. Lines with a secret are never kept.
_CLEAN_LINES: dict[str, None] = {}
_CLEAN_LINES_MAX = 4096


def _forms_applied(block: str) -> str:
    if block in _CLEAN_LINES:
        return block
    redacted = block
    for form in _FORMS:
        redacted = form.sub(_form, redacted)
    if redacted == block and len(block) <= 16384:
        if len(_CLEAN_LINES) >= _CLEAN_LINES_MAX:
            _CLEAN_LINES.clear()
        _CLEAN_LINES[block] = None
    return redacted


def _line_forms(text: str) -> str:
    """Apply the key/value forms to the lines that hold a secret-looking word, and only those."""
    spans = _hit_lines(text)
    if not spans:
        return text
    parts: list[str] = []
    last = 0
    for start, end in spans:
        parts += [text[last:start], _forms_applied(text[start:end])]
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _secret_documents(lines: list[str]) -> list[bool]:
    """For each line, whether its YAML document (between `---` lines) is a Kubernetes Secret."""
    flags: list[bool] = []
    start = 0
    for index in range(len(lines) + 1):
        if index == len(lines) or lines[index].startswith("---"):
            is_secret = any(_SECRET_KIND_YAML.match(line) for line in lines[start:index])
            flags += [is_secret] * (index - start) + ([False] if index < len(lines) else [])
            start = index + 1
    return flags


def _yaml_blocks(text: str) -> str:
    """Block scalars under a secret key (`password: |`) and every value of a Secret's data."""
    lines = text.split("\n")
    in_secret = _secret_documents(lines)
    cut_deeper_than: int | None = None  # the lines below a secret key's block scalar
    members_deeper_than: int | None = None  # the members of a Secret's data:
    for index, line in enumerate(lines):
        stripped = line.lstrip(" \t")
        indent = len(line) - len(stripped)
        if cut_deeper_than is not None:
            if not stripped or indent > cut_deeper_than:
                lines[index] = line[:indent] + REDACTED if stripped else line
                continue
            cut_deeper_than = None
        if members_deeper_than is not None:
            if not stripped or stripped.startswith("#"):
                continue
            if indent > members_deeper_than:
                if _YAML_BLOCK_KEY.match(line):
                    cut_deeper_than = indent
                elif member := _YAML_MEMBER.match(line):
                    lines[index] = _replace(member, "word")
                else:
                    lines[index] = line[:indent] + REDACTED
                continue
            members_deeper_than = None
        block = _YAML_BLOCK_KEY.match(line)
        if block and _ANY_WORD.search(block.group("name")) and _is_secret_name(block.group("name")):
            cut_deeper_than = indent
        elif in_secret[index] and (data := _SECRET_DATA_YAML.match(line)):
            if data.group("flow"):
                flow = _FLOW_MEMBER.sub(lambda m: _replace(m, "word"), data.group("flow"))
                lines[index] = line[: data.start("flow")] + flow + line[data.end("flow") :]
            else:
                members_deeper_than = indent
    return "\n".join(lines)


def _json_secret_data(text: str) -> str:
    def body(m: re.Match[str]) -> str:
        inner = _JSON_MEMBER.sub(lambda j: _replace(j, "dq"), m.group("body"))
        return m.string[m.start() : m.start("body")] + inner + m.string[m.end("body") : m.end()]

    return _SECRET_DATA_JSON.sub(body, text)


def _wg_secret(m: re.Match[str]) -> str:
    return f"{m.group('head')}{REDACTED}\t{m.group('tail')}"


def _pem_block(m: re.Match[str]) -> str:
    return f"-----BEGIN {m.group('kind')}-----{REDACTED}-----END {m.group('kind')}-----"


def _pem_open(m: re.Match[str]) -> str:
    return f"-----BEGIN {m.group('kind')}-----{REDACTED}"


def redact(text: str) -> str:
    """`text` with every secret value replaced by REDACTED (keys, quotes and structure kept).

    Idempotent; a text without secrets comes back unchanged.
    """
    if not text:
        return text
    if "PRIVATE KEY-----" in text:
        text = _PEM_OPEN.sub(_pem_open, _PEM_BLOCK.sub(_pem_block, text))
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    if "privkey:" in text or "nlpriv:" in text or "tskey-" in text:
        text = _TAILSCALE_SECRET.sub(REDACTED, text)
    if "=\t" in text:
        text = _WG_PEER_LINE.sub(_wg_secret, _WG_INTERFACE_LINE.sub(_wg_secret, text))
    if "earer" in text:
        text = _BEARER.sub(lambda m: _replace(m, "word"), text)
    if "://" in text:
        text = _URL_CREDENTIALS.sub(lambda m: _replace(m, "word"), text)
    if _SECRET_KIND_JSON.search(text):
        text = _json_secret_data(text)
    if _YAML_BLOCK_ANYWHERE.search(text) or ("Secret" in text and _SECRET_KIND_YAML.search(text)):
        text = _yaml_blocks(text)
    if "md5keys:" in text:
        return SS_KEYS_WITHHELD
    return _line_forms(text)


def redact_bytes(data: bytes) -> bytes:
    """The same for raw bytes; bytes that are not UTF-8 are kept as they are."""
    if not data:
        return data
    text = data.decode("utf-8", "surrogateescape")
    cleaned = redact(text)
    return data if cleaned == text else cleaned.encode("utf-8", "surrogateescape")


_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def redact_object(obj: Any) -> Any:
    """A copy of a decoded JSON/YAML object (e.g. a Kubernetes object) without secret values.

    A Secret's ``data``/``stringData`` values, every value under a secret-looking key (not under a
    reference such as ``password: {secretKeyRef: ...}`` or ``passwordEnv``), and secrets inside
    other strings (tokens, keys; the last-applied-configuration annotation is redacted as JSON)
    become REDACTED. Example: ``redact_object({"kind": "Secret", "data": {"tls.key": "LS0t"}})``
    -> ``{"kind": "Secret", "data": {"tls.key": "<redacted>"}}``.
    """
    return _walk(obj, secret=False, depth=0)


def _walk(obj: Any, secret: bool, depth: int) -> Any:
    if depth > 200:  # deeper than any real object: drop it rather than recurse without end
        return REDACTED
    if isinstance(obj, dict):
        is_secret_kind = obj.get("kind") == "Secret"
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            name = str(key)
            if name == _LAST_APPLIED and isinstance(value, str):
                out[key] = _redact_json_text(value)
                continue
            own = (is_secret_kind and name in ("data", "stringData")) or (
                _ANY_WORD.search(name) is not None and _is_secret_name(name)
            )
            names_a_secret = isinstance(value, dict) and not _is_secret_name(name)
            out[key] = _walk(value, own or (secret and not names_a_secret), depth + 1)
        return out
    if isinstance(obj, list):
        return [_walk(v, secret, depth + 1) for v in obj]
    if isinstance(obj, str):
        return REDACTED if secret and obj.lower() not in _PLACEHOLDERS else redact(obj)
    if secret and isinstance(obj, int | float) and not isinstance(obj, bool):
        return REDACTED
    return obj


def _redact_json_text(text: str) -> str:
    try:
        return json.dumps(redact_object(json.loads(text)), separators=(",", ":"))
    except (ValueError, RecursionError):
        return REDACTED
