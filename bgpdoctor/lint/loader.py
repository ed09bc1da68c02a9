"""Find input files (directories recursively), tell what each one is from its content, parse it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import yaml

from bgpdoctor.lint import uci
from bgpdoctor.lint.bird import BirdConfig, looks_like_bird, parse_bird
from bgpdoctor.lint.gobgp import looks_like_gobgp, parse_gobgp
from bgpdoctor.lint.k8s import CILIUM_VALUE_KEYS, K8sInputs, read_document
from bgpdoctor.lint.model import InputProblem, Loc, Speaker
from bgpdoctor.lint.yamlsrc import compose_documents, error_line

MAX_BYTES = 4 * 1024 * 1024
_YAML_HINT = re.compile(r"^(apiVersion|kind)\s*:|^---\s*$", re.M)
_VALUES_HINT = re.compile(r"^(" + "|".join(sorted(CILIUM_VALUE_KEYS)) + r")\s*:", re.M)
_INCLUDE = re.compile(r'^\s*include\s+"([^"]+)"\s*;', re.M)


@dataclass
class Inputs:
    """Everything read. Example: Inputs(birds=[BirdConfig(...)], k8s=K8sInputs(...), problems=[...])"""

    birds: list[BirdConfig] = field(default_factory=list)
    networks: list[uci.UciNetwork] = field(default_factory=list)
    firewalls: list[uci.UciFirewall] = field(default_factory=list)
    gobgps: list[Speaker] = field(default_factory=list)
    k8s: K8sInputs = field(default_factory=K8sInputs)
    problems: list[InputProblem] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # path -> what it was read as

    def usable(self) -> bool:
        return bool(self.birds or self.networks or self.firewalls or self.gobgps or not self.k8s.empty())


def sniff(text: str) -> str | None:
    """What a file is, from its content: yaml, bird, uci-network, uci-firewall, gobgp or None.

    Example: sniff("protocol bgp x { neighbor 1.2.3.4 as 1; }") -> "bird"
    """
    kind = uci.uci_kind(text)
    if kind:
        return f"uci-{kind}"
    if looks_like_gobgp(text):
        return "gobgp"
    if looks_like_bird(text):
        return "bird"
    if _YAML_HINT.search(text) or _VALUES_HINT.search(text):
        return "yaml"
    return None


def _walk(paths: list[str], problems: list[InputProblem]) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out += [(os.path.join(root, f), False) for f in sorted(files) if not f.startswith(".")]
        elif os.path.isfile(p):
            out.append((p, True))
        else:
            problems.append(InputProblem(p, 0, "no such file or directory"))
    return out


def _read_yaml(path: str, text: str, inputs: Inputs) -> bool:
    used = False
    docs = compose_documents(text)
    while True:
        try:
            d = next(docs)
        except StopIteration:
            break
        except yaml.YAMLError as exc:
            line, msg = error_line(exc)
            inputs.problems.append(InputProblem(path, line, msg))
            break
        if d is None:
            continue
        if not isinstance(d.v, dict):
            inputs.problems.append(InputProblem(path, d.line, "YAML document is not a mapping", "note"))
            continue
        note = read_document(d, path, inputs.k8s)
        if note:
            inputs.problems.append(InputProblem(path, d.line, note, "note"))
        else:
            used = True
        vc = d.get("spec", "valuesContent")  # k3s HelmChart / HelmChartConfig carry values as a string
        if vc is not None and isinstance(vc.v, str):
            try:
                for sub in compose_documents(vc.v, offset=vc.line):
                    if sub is not None and isinstance(sub.v, dict):
                        used = read_document(sub, path, inputs.k8s) is None or used
            except yaml.YAMLError as exc:
                line, msg = error_line(exc, vc.line)
                inputs.problems.append(InputProblem(path, line, msg))
    return used


def load_paths(paths: list[str]) -> Inputs:
    """Read every file under paths. Input problems are recorded, never raised.

    Example: load_paths(["gitops/", "router/bird.conf"]).files -> {"router/bird.conf": "bird", ...}
    """
    inputs = Inputs()
    texts: list[tuple[str, bool, str]] = []
    for path, explicit in _walk(paths, inputs.problems):
        try:
            if os.path.getsize(path) > MAX_BYTES:
                if explicit:
                    inputs.problems.append(InputProblem(path, 0, "file too large, skipped"))
                continue
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as exc:
            inputs.problems.append(InputProblem(path, 0, f"cannot read: {exc.strerror}"))
            continue
        if b"\0" in raw:
            if explicit:
                inputs.problems.append(InputProblem(path, 0, "binary file, skipped"))
            continue
        texts.append((path, explicit, raw.decode("utf-8", errors="replace")))
    kinds = {path: sniff(text) for path, _, text in texts}
    included: set[str] = set()
    for path, _, text in texts:
        if kinds[path] == "bird":
            for inc in _INCLUDE.findall(text):
                included.add(os.path.realpath(os.path.join(os.path.dirname(path), inc)))
    for path, explicit, text in texts:
        kind = kinds[path]
        if kind is None:
            if explicit:
                inputs.problems.append(
                    InputProblem(path, 0, "not recognized as a manifest, BIRD config or OpenWrt UCI file")
                )
            continue
        if kind == "bird":
            if os.path.realpath(path) in included:
                inputs.files[path] = "bird-include"
                continue
            probs: list[tuple[Loc, str]] = []
            cfg = parse_bird(path, probs)
            inputs.problems += [InputProblem(loc.file, loc.line, f"BIRD: {msg}") for loc, msg in probs]
            if cfg is not None:
                inputs.birds.append(cfg)
                inputs.files[path] = f"bird{cfg.version}"
        elif kind == "gobgp":
            probs = []
            sp = parse_gobgp(text, path, probs)
            inputs.problems += [InputProblem(loc.file, loc.line, msg) for loc, msg in probs]
            if sp is not None:
                inputs.gobgps.append(sp)
                inputs.files[path] = "gobgp"
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
        elif _read_yaml(path, text, inputs):
            inputs.files[path] = "yaml"
    return inputs
