"""Fetch the raw objects bgpdoctor needs from the API server, resolving versions by discovery.

A resource whose group or version is not served (or that answers 404) is "not installed", which
means the feature is not used: it is recorded as ``resources[plural] = None``, never an error. A 403 on
an optional resource is recorded in ``RawCluster.problems`` and the read goes on. Failures that make
the whole read useless (401, timeout, unreachable server, 403 on nodes) raise BgpDoctorError with a
one-line message naming the context and server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bgpdoctor.errors import BgpDoctorError
from bgpdoctor.kube.config import KubeClient
from bgpdoctor.kube.view import RawCluster
from bgpdoctor.redact import redact, redact_object

__all__ = [
    "CUSTOM_RESOURCES",
    "METRICS_APISERVICE",
    "KubeApiError",
    "ResourceForbidden",
    "ResourceNotFound",
    "api_json",
    "discover_versions",
    "read_cluster",
]

METRICS_APISERVICE = "v1beta1.metrics.k8s.io"

# plural -> candidate (group, version) pairs, most preferred first. Calico's projectcalico.org/v3 is
# what users write (served by the Calico API server or by v3 CRDs); crd.projectcalico.org/v1 is the
# backing store every Calico install has.
CUSTOM_RESOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "ciliumbgpclusterconfigs": (("cilium.io", "v2"), ("cilium.io", "v2alpha1")),
    "ciliumbgppeerconfigs": (("cilium.io", "v2"), ("cilium.io", "v2alpha1")),
    "ciliumbgpadvertisements": (("cilium.io", "v2"), ("cilium.io", "v2alpha1")),
    "ciliumbgpnodeconfigs": (("cilium.io", "v2"), ("cilium.io", "v2alpha1")),
    "ciliumbgpnodeconfigoverrides": (("cilium.io", "v2"), ("cilium.io", "v2alpha1")),
    "ciliumloadbalancerippools": (("cilium.io", "v2"), ("cilium.io", "v2alpha1")),
    "ciliumbgppeeringpolicies": (("cilium.io", "v2alpha1"),),
    # the operator's per-node IPAM allocation (cluster-pool, multi-pool): the pod CIDRs BGP announces
    "ciliumnodes": (("cilium.io", "v2"),),
    "bgppeers": (("projectcalico.org", "v3"), ("crd.projectcalico.org", "v1")),
    "bgpconfigurations": (("projectcalico.org", "v3"), ("crd.projectcalico.org", "v1")),
    "ippools": (("projectcalico.org", "v3"), ("crd.projectcalico.org", "v1")),
    "caliconodestatuses": (("projectcalico.org", "v3"), ("crd.projectcalico.org", "v1")),
    # Calico IPAM hands each node /26 blocks instead of Node.spec.podCIDR (only the v1 store has them)
    "ipamblocks": (("crd.projectcalico.org", "v1"),),
}
_GROUPS = {g for cands in CUSTOM_RESOURCES.values() for g, _ in cands}


class KubeApiError(BgpDoctorError):
    """The API server could not be used (exit code 3).

    ``kind`` is one of: auth, forbidden, timeout, unreachable, error.
    """

    def __init__(self, where: str, kind: str, message: str) -> None:
        self.where = where
        self.kind = kind
        super().__init__(f"{where}: {message}")


class ResourceNotFound(Exception):
    """404: the resource or its API is not installed."""


class ResourceForbidden(Exception):
    """403 on a read; the message says what was refused."""


def _status_message(exc: Any) -> str:
    try:
        body = json.loads(exc.body or "{}")
        return str(body.get("message") or exc.reason or "")
    except (ValueError, TypeError, AttributeError):
        return str(getattr(exc, "reason", "") or "")


def _short_reason(reason: object) -> str:
    # "HTTPConnection(host=..., port=...): Failed to establish a new connection: [Errno 111] ..."
    text = str(reason)
    return text.split(": ", 1)[1] if "Failed to establish" in text else text


def api_json(kc: KubeClient, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one API call with the client timeout and return the decoded JSON body."""
    import urllib3
    from kubernetes.client.exceptions import ApiException

    timeout = kc.timeout
    try:
        resp = fn(*args, _preload_content=False, _request_timeout=(timeout, timeout), **kwargs)
        data = resp.data
    except ApiException as exc:
        status = exc.status
        if status == 404:
            raise ResourceNotFound(what) from exc
        if status == 401:
            raise KubeApiError(
                kc.where, "auth", "unauthorized (401): the kubeconfig credentials were refused; log in again"
            ) from exc
        if status == 403:
            raise ResourceForbidden(f"{what}: forbidden (403): {_status_message(exc)}") from exc
        raise KubeApiError(
            kc.where, "error", f"{what}: HTTP {status} {_status_message(exc)}".strip()
        ) from exc
    except urllib3.exceptions.HTTPError as exc:
        reason = getattr(exc, "reason", None) or exc
        # NewConnectionError subclasses ConnectTimeoutError in urllib3 2, so look at the cause first.
        if isinstance(reason, urllib3.exceptions.NewConnectionError) and not isinstance(
            reason.__context__, TimeoutError
        ):
            raise KubeApiError(kc.where, "unreachable", f"unreachable: {_short_reason(reason)}") from exc
        if isinstance(reason, urllib3.exceptions.TimeoutError) or isinstance(
            exc, urllib3.exceptions.TimeoutError
        ):
            raise KubeApiError(kc.where, "timeout", f"timed out after {timeout:g}s reading {what}") from exc
        if isinstance(reason, urllib3.exceptions.SSLError):
            raise KubeApiError(kc.where, "unreachable", f"TLS error: {reason}") from exc
        raise KubeApiError(kc.where, "unreachable", f"unreachable: {reason}") from exc
    except OSError as exc:  # socket-level timeouts during the body read
        raise KubeApiError(kc.where, "unreachable", f"{what}: {exc}") from exc
    try:
        return json.loads(data or b"{}")
    except ValueError as exc:
        raise KubeApiError(
            kc.where, "error", f"{what}: the server answered something that is not JSON"
        ) from exc


def discover_versions(kc: KubeClient) -> dict[str, str | None]:
    """For each custom resource plural, the ``group/version`` that serves it, or None.

    Example: {"ciliumbgpclusterconfigs": "cilium.io/v2", "bgppeers": None, ...}
    """
    from kubernetes import client

    try:
        groups = api_json(kc, "API groups (/apis)", client.ApisApi(kc.api).get_api_versions)
    except (ResourceNotFound, ResourceForbidden):
        groups = {}
    served: dict[str, list[str]] = {}
    for group in groups.get("groups") or []:
        if group.get("name") in _GROUPS:
            served[group["name"]] = [str(v.get("version")) for v in group.get("versions") or []]
    custom = client.CustomObjectsApi(kc.api)
    plurals: dict[tuple[str, str], set[str]] = {}
    for group, versions in served.items():
        for version in versions:
            try:
                res = api_json(kc, f"/apis/{group}/{version}", custom.get_api_resources, group, version)
            except (ResourceNotFound, ResourceForbidden):
                continue
            plurals[(group, version)] = {str(r.get("name")) for r in res.get("resources") or []}
    out: dict[str, str | None] = {}
    for plural, candidates in CUSTOM_RESOURCES.items():
        out[plural] = next((f"{g}/{v}" for g, v in candidates if plural in plurals.get((g, v), set())), None)
    return out


def read_cluster(kc: KubeClient, progress: Callable[[str], None] | None = None) -> RawCluster:
    """Read nodes, LoadBalancer Services, cilium-config, the metrics APIService and every BGP CRD.

    Secrets are redacted here, as they are read (bgpdoctor.redact.redact_object).
    Example: read_cluster(open_client("home")) -> RawCluster(context="home", server="https://...",
    resources={"nodes": "v1", "ciliumbgpclusterconfigs": "cilium.io/v2", "bgppeers": None, ...},
    objects={"nodes": [...], "services": [...], "ciliumbgpclusterconfigs": [...]}, ...)
    """
    from kubernetes import client

    say = progress or (lambda _msg: None)
    raw = RawCluster(context=kc.context, server=kc.server)
    core = client.CoreV1Api(kc.api)

    say(f"reading nodes from {kc.where}")
    try:
        raw.objects["nodes"] = api_json(kc, "nodes", core.list_node).get("items") or []
    except ResourceForbidden as exc:
        raise KubeApiError(kc.where, "forbidden", f"{exc} (bgpdoctor needs to list nodes)") from exc
    except ResourceNotFound as exc:
        raise KubeApiError(
            kc.where, "error", "listing nodes answered 404: is this a Kubernetes API?"
        ) from exc
    raw.resources["nodes"] = "v1"

    def optional(key: str, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return api_json(kc, what, fn, *args)
        except ResourceNotFound:
            return None
        except ResourceForbidden as exc:
            raw.problems.append(str(exc))
            return None

    services = optional("services", "services", core.list_service_for_all_namespaces)
    raw.objects["services"] = (services or {}).get("items") or []
    raw.resources["services"] = "v1" if services is not None else None

    cm = optional(
        "cilium-config",
        "ConfigMap kube-system/cilium-config",
        core.read_namespaced_config_map,
        "cilium-config",
        "kube-system",
    )
    raw.cilium_config = (
        {str(k): str(v) for k, v in (cm.get("data") or {}).items()} if cm is not None else None
    )

    apisvc = optional(
        METRICS_APISERVICE,
        f"APIService {METRICS_APISERVICE}",
        client.ApiregistrationV1Api(kc.api).read_api_service,
        METRICS_APISERVICE,
    )
    raw.metrics_apiservice = apisvc

    say("discovering Cilium and Calico API versions")
    versions = discover_versions(kc)
    custom = client.CustomObjectsApi(kc.api)
    for plural, gv in versions.items():
        raw.resources[plural] = gv
        if gv is None:
            continue
        group, version = gv.split("/")
        body = optional(
            plural, f"{plural}.{group}/{version}", custom.list_cluster_custom_object, group, version, plural
        )
        if body is None:
            raw.resources[plural] = None
            continue
        raw.objects[plural] = body.get("items") or []
    return _redacted(raw)


def _redacted(raw: RawCluster) -> RawCluster:
    """The cluster as read, minus secrets (a Secret's data, tokens, keys, passwords written inline),
    so no finding, report or recording built from it can hold one."""
    raw.objects = {plural: redact_object(items) for plural, items in raw.objects.items()}
    if raw.cilium_config is not None:
        raw.cilium_config = redact_object(raw.cilium_config)
    if raw.metrics_apiservice is not None:
        raw.metrics_apiservice = redact_object(raw.metrics_apiservice)
    raw.problems = [redact(p) for p in raw.problems]
    return raw
