"""Validate served objects against the real CRD schemas in tests/fixtures/crds (or $BGPDOCTOR_CRDS_DIR).

``validate(obj)`` returns a list of problems: jsonschema errors against the version's
``openAPIV3Schema`` plus every key the schema does not declare (Kubernetes would silently prune
it, so a typo in a fixture would otherwise go unnoticed). Core objects (Node, Service, ConfigMap,
Pod, APIService) are checked by a round trip through the kubernetes client's models, which flags
keys the model does not know.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# the repository's copy of the upstream CRDs (tests/fixtures/crds/README.md says where each comes from)
CRDS_DIR = Path(
    os.environ.get("BGPDOCTOR_CRDS_DIR", Path(__file__).resolve().parents[1] / "fixtures" / "crds")
)


@dataclass
class CrdIndex:
    # (group, kind, version) -> schemas (several files may define the same version)
    schemas: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    plurals: dict[tuple[str, str], str] = field(default_factory=dict)  # (group, kind) -> plural

    def plural(self, group: str, kind: str) -> str:
        try:
            return self.plurals[(group, kind)]
        except KeyError:
            raise KeyError(f"no CRD for {kind}.{group} under {CRDS_DIR}") from None

    def kind(self, group: str, plural: str) -> str:
        return next(k for (g, k), p in self.plurals.items() if g == group and p == plural)


@functools.cache
def crd_index() -> CrdIndex:
    index = CrdIndex()
    for path in sorted(CRDS_DIR.rglob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            continue
        group = doc["spec"]["group"]
        kind = doc["spec"]["names"]["kind"]
        index.plurals[(group, kind)] = doc["spec"]["names"]["plural"]
        for ver in doc["spec"]["versions"]:
            schema = ver["schema"]["openAPIV3Schema"]
            index.schemas.setdefault((group, kind, ver["name"]), []).append(schema)
    return index


def _unknown_keys(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    out: list[str] = []
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return out
    if isinstance(value, dict):
        props = schema.get("properties")
        if props is not None:
            for key, sub in value.items():
                if key not in props:
                    if not schema.get("additionalProperties"):
                        out.append(f"{where}.{key}: not in the schema")
                    continue
                out += _unknown_keys(sub, props[key], f"{where}.{key}")
        elif isinstance(schema.get("additionalProperties"), dict):
            for key, sub in value.items():
                out += _unknown_keys(sub, schema["additionalProperties"], f"{where}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            out += _unknown_keys(item, schema["items"], f"{where}[{i}]")
    return out


def _strip_k8s_formats(schema: Any) -> Any:
    # int-or-string and friends are Kubernetes extensions jsonschema does not know; 'format' is
    # only an annotation for jsonschema anyway.
    if isinstance(schema, dict):
        out = {k: _strip_k8s_formats(v) for k, v in schema.items()}
        if out.get("x-kubernetes-int-or-string"):
            out.pop("type", None)
        if out.get("nullable") and isinstance(out.get("type"), str):  # OpenAPI's way to allow null
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("pattern"), str):
            pattern = _python_pattern(out["pattern"])
            if pattern is None:
                out.pop("pattern")
            else:
                out["pattern"] = pattern
        return out
    if isinstance(schema, list):
        return [_strip_k8s_formats(v) for v in schema]
    return schema


def _python_pattern(pattern: str) -> str | None:
    # Go RE2 accepts inline flags anywhere, Python only at the start: hoist (?i), else give up.
    import re

    for candidate in (pattern, "(?i)" + pattern.replace("(?i)", "")):
        try:
            re.compile(candidate)
            return candidate
        except re.error:
            continue
    return None


def validate_cr(obj: dict[str, Any]) -> list[str]:
    import jsonschema

    group, version = obj["apiVersion"].split("/")
    kind = obj["kind"]
    schemas = crd_index().schemas.get((group, kind, version))
    name = f"{kind} {obj.get('metadata', {}).get('name')} ({obj['apiVersion']})"
    if not schemas:
        return [f"{name}: no CRD schema for {kind}.{group}/{version}"]
    attempts: list[list[str]] = []
    for schema in schemas:
        problems = [
            f"{name}: {'.'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
            for err in jsonschema.Draft7Validator(_strip_k8s_formats(schema)).iter_errors(obj)
        ]
        problems += [f"{name}: {p}" for p in _unknown_keys(obj, schema, "")]
        if not problems:
            return []
        attempts.append(problems)
    return min(attempts, key=len)


_CORE_MODELS = {
    ("v1", "Node"): "V1Node",
    ("v1", "Service"): "V1Service",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Pod"): "V1Pod",
    ("apiregistration.k8s.io/v1", "APIService"): "V1APIService",
}


def _dumped_keys(value: Any, model_dump: Any, where: str) -> list[str]:
    out: list[str] = []
    if isinstance(value, dict):
        if not isinstance(model_dump, dict):
            return out
        for key, sub in value.items():
            if key not in model_dump:
                out.append(f"{where}.{key}: unknown to the client model")
            else:
                out += _dumped_keys(sub, model_dump[key], f"{where}.{key}")
    elif isinstance(value, list) and isinstance(model_dump, list):
        for i, (a, b) in enumerate(zip(value, model_dump, strict=False)):
            out += _dumped_keys(a, b, f"{where}[{i}]")
    return out


def validate_core(obj: dict[str, Any]) -> list[str]:
    from kubernetes import client

    model_name = _CORE_MODELS.get((obj["apiVersion"], obj["kind"]))
    if model_name is None:
        return [f"{obj['kind']}: no client model known"]
    model = getattr(client, model_name).from_dict(obj)
    dumped = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    # labels/annotations/data are free-form maps: the round trip keeps them, so key checks still hold
    return [f"{obj['kind']} {obj['metadata'].get('name')}: {p}" for p in _dumped_keys(obj, dumped, "")]


def validate(obj: dict[str, Any]) -> list[str]:
    """Problems of one served object; empty when it is real-shaped."""
    if "/" in obj["apiVersion"] and obj["kind"] != "APIService":
        return validate_cr(obj)
    return validate_core(obj)
