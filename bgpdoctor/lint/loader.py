"""Find input files (directories recursively), tell what each one is, parse it.

Only regular files are opened (a FIFO, socket or device in a directory is skipped, never opened).
What a file is comes from its content (a BIRD config named `x.yaml` is still BIRD), except that
files whose name says they are documentation, code or scripts (`.md`, `.py`, `.sh`, a `#!` line,
...) are skipped as "not a config" before their content is judged. A file that cannot be read or
parsed is one problem at file:line; the other files are still linted.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field

from bgpdoctor.errors import UsageError
from bgpdoctor.intent import Loc
from bgpdoctor.lint import uci
from bgpdoctor.lint.bird import BirdConfig, Roots, looks_like_bird, parse_bird, resolve_include
from bgpdoctor.lint.frr import FrrConfig, looks_like_frr, parse_frr
from bgpdoctor.lint.gobgp import looks_like_gobgp, parse_gobgp
from bgpdoctor.lint.k8s import CILIUM_VALUE_KEYS, HOST_CONFIG_HINT, K8sInputs, read_document
from bgpdoctor.lint.model import InputProblem, Speaker
from bgpdoctor.lint.yamlsrc import compose_documents, error_line
from bgpdoctor.safe_yaml import YamlError

MAX_BYTES = 4 * 1024 * 1024
_YAML_HINT = re.compile(r"^(apiVersion|kind)\s*:|^---\s*$", re.M)
_VALUES_HINT = re.compile(r"^(" + "|".join(sorted(CILIUM_VALUE_KEYS)) + r")\s*:", re.M)
_FLUX_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:=-][^}\n]*)?\}")
_INCLUDE = re.compile(r'^\s*include\s+"([^"]+)"\s*;', re.M)
_TEMPLATE = re.compile(r"\{\{-?\s*[^{}]*\}\}")
# names that say "documentation, source code or a script", whatever the content looks like
NOT_CONFIG_SUFFIXES = frozenset(
    [
        ".md",
        ".markdown",
        ".rst",
        ".adoc",
        ".py",
        ".pyi",
        ".pyc",
        ".ipynb",
        ".sh",
        ".bash",
        ".zsh",
        ".fish",
        ".ps1",
        ".bat",
        ".go",
        ".rs",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".hpp",
        ".java",
        ".kt",
        ".js",
        ".mjs",
        ".cjs",
        ".ts",
        ".tsx",
        ".jsx",
        ".rb",
        ".pl",
        ".pm",
        ".php",
        ".lua",
        ".html",
        ".htm",
        ".css",
        ".scss",
        ".svg",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".ico",
        ".pdf",
        ".gz",
        ".tgz",
        ".zip",
        ".xz",
        ".bz2",
        ".tar",
        ".deb",
        ".rpm",
        ".whl",
        ".lock",
        ".sum",
        ".mod",
        ".tf",
        ".hcl",
        ".nix",
        ".j2",
        ".jinja",
        ".jinja2",
        ".tpl",
        ".gotmpl",
        ".patch",
        ".diff",
        ".csv",
        ".sql",
        ".mk",
        ".cmake",
        ".dockerfile",
        ".gitignore",
    ]
)
NOT_CONFIG_NAMES = frozenset(
    [
        "readme",
        "license",
        "licence",
        "copying",
        "changelog",
        "changes",
        "authors",
        "contributing",
        "makefile",
        "dockerfile",
        "containerfile",
        "justfile",
        "vagrantfile",
        "gemfile",
        "rakefile",
        "procfile",
        "codeowners",
        "notice",
    ]
)


@dataclass
class Inputs:
    """Everything read. Example: Inputs(birds=[BirdConfig(...)], k8s=K8sInputs(...), problems=[...])

    skipped maps a path to why it was not linted ("not a config", "not a regular file", ...);
    unparsed lists the config files that could not be parsed (their sessions cannot be checked).
    """

    birds: list[BirdConfig] = field(default_factory=list)
    networks: list[uci.UciNetwork] = field(default_factory=list)
    firewalls: list[uci.UciFirewall] = field(default_factory=list)
    gobgps: list[Speaker] = field(default_factory=list)
    frrs: list[FrrConfig] = field(default_factory=list)
    k8s: K8sInputs = field(default_factory=K8sInputs)
    problems: list[InputProblem] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # path -> what it was read as
    skipped: dict[str, str] = field(default_factory=dict)
    unparsed: list[str] = field(default_factory=list)

    def usable(self) -> bool:
        routers = self.birds or self.networks or self.firewalls or self.gobgps or self.frrs
        return bool(routers or not self.k8s.empty())


def not_config(name: str, text: str = "") -> bool:
    """A file that is documentation, code or a script, by its name or a `#!` first line.

    Example: not_config("README.md") -> True; not_config("bird.conf") -> False
    """
    base = os.path.basename(name).lower()
    stem, suffix = os.path.splitext(base)
    if (
        suffix in NOT_CONFIG_SUFFIXES
        or base in NOT_CONFIG_NAMES
        or (stem in NOT_CONFIG_NAMES and suffix in ("", ".txt"))
    ):
        return True
    return text.startswith("#!")


def sniff(text: str, name: str = "") -> str | None:
    """What a file is: yaml, bird, uci-network, uci-firewall, uci-other, gobgp, frr, or None.

    The content decides; a name only marks documentation, code and scripts (not_config) and
    `.toml` files that are not gobgpd's.
    Example: sniff("protocol bgp x { neighbor 1.2.3.4 as 1; }") -> "bird"
    """
    if name and not_config(name, text):
        return None
    kind = uci.uci_kind(text)
    if kind:
        return f"uci-{kind}"
    if looks_like_gobgp(text):
        return "gobgp"
    if looks_like_frr(text):
        return "frr"
    if name.lower().endswith(".toml"):
        return None
    if looks_like_bird(text):
        return "bird"
    if _YAML_HINT.search(text) or _VALUES_HINT.search(text) or HOST_CONFIG_HINT.search(text):
        return "yaml"
    if name.lower().endswith((".yaml", ".yml")) and text.strip():
        return "yaml-other"  # parsed (a broken file is an error), but unused documents are not noted
    return None


def _walk(paths: list[str], inputs: Inputs) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            inputs.problems.append(InputProblem(p, 0, "no such file or directory"))
            continue
        if stat.S_ISDIR(st.st_mode):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out += [(os.path.join(root, f), False) for f in sorted(files) if not f.startswith(".")]
        else:
            out.append((p, True))
    return out


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device")):  # fmt: skip
        if test(mode):
            return name
    return "not a regular file"


def _read(path: str, explicit: bool, inputs: Inputs) -> bytes | None:
    """The bytes of a regular file, or None (skipped or a problem recorded). Never blocks on a FIFO:
    the type is checked before opening and again on the open descriptor."""

    def skip(reason: str, message: str) -> None:
        inputs.skipped[path] = reason
        if explicit:
            inputs.problems.append(InputProblem(path, 0, message))

    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            skip("not a regular file", f"{_file_type(st.st_mode)}, not a regular file: skipped")
            return None
        if st.st_size > MAX_BYTES:
            skip("too large", f"file too large ({st.st_size} bytes, over {MAX_BYTES}), skipped")
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                skip("not a regular file", "not a regular file: skipped")
                return None
            with os.fdopen(fd, "rb", closefd=False) as f:
                raw = f.read(MAX_BYTES + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        inputs.problems.append(InputProblem(path, 0, f"cannot read: {exc.strerror or exc}"))
        inputs.unparsed.append(path)
        return None
    if len(raw) > MAX_BYTES:
        skip("too large", "file too large, skipped")
        return None
    if b"\0" in raw:
        skip("binary", "binary file, skipped")
        return None
    return raw


def _flux_note(path: str, text: str, inputs: Inputs) -> None:
    """Flux postBuild substitutions (`${VAR}`) are filled in by Flux, not in the repository: the
    values that use them are unknown here, and lint says so once per file."""
    found: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        for m in _FLUX_VAR.finditer(code):
            found.setdefault(m.group(1), n)
    if found:
        names = ", ".join(f"${{{v}}}" for v in sorted(found, key=lambda v: found[v]))
        inputs.problems.append(InputProblem(path, min(found.values()), f"Flux substitution {names} not "
                                            "substituted: the values using it are unknown, not judged",
                                            "note"))  # fmt: skip


def _read_yaml(path: str, text: str, inputs: Inputs, quiet: bool = False) -> bool:
    used = False
    if not quiet:
        _flux_note(path, text, inputs)
    docs = compose_documents(text, source=path)
    while True:
        try:
            d = next(docs)
        except StopIteration:
            break
        except YamlError as exc:
            line, msg = error_line(exc)
            if _TEMPLATE.search(text):
                inputs.problems.append(
                    InputProblem(path, line, "template ({{ ... }}), not YAML: skipped", "note")
                )
            else:
                inputs.problems.append(InputProblem(path, line, msg))
                inputs.unparsed.append(path)
            break
        if d is None:
            continue
        if not isinstance(d.v, dict):
            if not quiet:
                inputs.problems.append(InputProblem(path, d.line, "YAML document is not a mapping", "note"))
            continue
        note = read_document(d, path, inputs.k8s)
        if note and not quiet:
            inputs.problems.append(InputProblem(path, d.line, note, "note"))
        elif not note:
            used = True
        vc = d.get("spec", "valuesContent")  # k3s HelmChart / HelmChartConfig carry values as a string
        if vc is not None and isinstance(vc.v, str):
            try:
                for sub in compose_documents(vc.v, offset=vc.line, source=path):
                    if sub is not None and isinstance(sub.v, dict):
                        used = read_document(sub, path, inputs.k8s) is None or used
            except YamlError as exc:
                line, msg = error_line(exc)
                inputs.problems.append(InputProblem(path, line, msg))
    return used


def _parse(path: str, text: str, kind: str, inputs: Inputs, roots: Roots | None = None) -> None:
    if kind == "bird":
        probs: list[tuple[Loc, str]] = []
        notes: list[tuple[Loc, str]] = []
        cfg = parse_bird(path, probs, text, roots, notes)
        inputs.problems += [InputProblem(loc.file, loc.line, f"BIRD: {msg}") for loc, msg in probs]
        inputs.problems += [InputProblem(loc.file, loc.line, f"BIRD: {msg}", "note") for loc, msg in notes]
        if cfg is not None:
            inputs.birds.append(cfg)
            inputs.files[path] = "bird" if cfg.version == "unknown" else f"bird{cfg.version}"
        else:
            inputs.unparsed.append(path)
    elif kind == "gobgp":
        probs = []
        sp = parse_gobgp(text, path, probs)
        inputs.problems += [InputProblem(loc.file, loc.line, msg) for loc, msg in probs]
        if sp is not None:
            inputs.gobgps.append(sp)
            inputs.files[path] = "gobgp"
        else:
            inputs.unparsed.append(path)
    elif kind == "frr":
        probs = []
        frr_cfg = parse_frr(text, path, probs)
        inputs.problems += [InputProblem(loc.file, loc.line, msg) for loc, msg in probs]
        if frr_cfg is not None:
            inputs.frrs.append(frr_cfg)
            inputs.files[path] = "frr"
        else:
            inputs.unparsed.append(path)
    elif kind == "uci-other":
        inputs.skipped[path] = "not used"
    elif kind.startswith("uci-"):
        sections, uprobs = uci.parse_uci(text, path)
        inputs.problems += [InputProblem(loc.file, loc.line, msg) for loc, msg in uprobs]
        if kind == "uci-network":
            nprobs: list[tuple[Loc, str]] = []
            inputs.networks.append(uci.network_from(sections, path, nprobs))
            inputs.problems += [InputProblem(loc.file, loc.line, msg) for loc, msg in nprobs]
        else:
            inputs.firewalls.append(uci.firewall_from(sections, path))
        inputs.files[path] = kind
    elif _read_yaml(path, text, inputs, quiet=kind == "yaml-other"):
        inputs.files[path] = "yaml"
    elif path not in inputs.unparsed:
        inputs.skipped[path] = "not used"


def parse_roots(specs: list[str] | tuple[str, ...]) -> Roots:
    """`--root /etc/bird=DIR` values as a map. Raises UsageError on a malformed one.

    Example: parse_roots(["/etc/bird=router/etc/bird"]) -> {"/etc/bird": "router/etc/bird"}
    """
    roots: Roots = {}
    for spec in specs:
        prefix, sep, local = spec.partition("=")
        if not sep or not prefix.startswith("/") or not local:
            raise UsageError(f"--root {spec}: expected ABSOLUTE_PREFIX=DIR, e.g. /etc/bird=router/etc/bird")
        roots[prefix.rstrip("/") or "/"] = local
    return roots


def load_paths(paths: list[str], roots: Roots | None = None) -> Inputs:
    """Read every file under paths. Input problems are recorded, never raised. roots maps absolute
    BIRD include prefixes to local directories (parse_roots).

    Example: load_paths(["gitops/", "router/bird.conf"]).files -> {"router/bird.conf": "bird", ...}
    """
    inputs = Inputs()
    texts: list[tuple[str, bool, str]] = []
    for path, explicit in _walk(paths, inputs):
        raw = _read(path, explicit, inputs)
        if raw is not None:
            texts.append((path, explicit, raw.decode("utf-8", errors="replace")))
    kinds = {path: sniff(text, path) for path, _, text in texts}
    included: set[str] = set()
    for path, _, text in texts:
        if kinds[path] == "bird":
            for inc in _INCLUDE.findall(text):
                for found in resolve_include(inc, os.path.dirname(path) or ".", roots):
                    included.add(os.path.realpath(found))
    for path, explicit, text in texts:
        kind = kinds[path]
        if kind is None:
            inputs.skipped[path] = "not a config"
            if explicit:
                inputs.problems.append(
                    InputProblem(
                        path, 0, "not recognized as a manifest, BIRD, GoBGP or OpenWrt UCI config", "note"
                    )
                )
            continue
        if kind == "bird" and os.path.realpath(path) in included:
            inputs.files[path] = "bird-include"
            continue
        try:
            _parse(path, text, kind, inputs, roots)
        except (
            RecursionError,
            MemoryError,
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            AttributeError,
        ) as exc:
            # a reader bug must cost one file, not the run (the property tests hunt these down)
            inputs.problems.append(
                InputProblem(path, 0, f"internal error reading this file ({type(exc).__name__})")
            )
            inputs.unparsed.append(path)
    return inputs
