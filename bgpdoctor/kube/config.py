"""Open a Kubernetes API client without global state and without printing anything.

Which configuration is used, in order: ``--kubeconfig PATH`` (may be ``a:b`` like KUBECONFIG), the
``KUBECONFIG`` environment variable (read at call time, colon-separated paths merged), ``~/.kube/config``,
and, only when none of those files exists and ``KUBERNETES_SERVICE_HOST`` is set, the in-cluster
service account. ``kubernetes.config.load_config()`` is deliberately not used: it mishandles a
multi-path KUBECONFIG and prints to stdout.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bgpdoctor.errors import BgpDoctorError, UsageError
from bgpdoctor.redact import redact

__all__ = ["DEFAULT_TIMEOUT", "KubeClient", "kubeconfig_paths", "list_contexts", "open_client"]

DEFAULT_TIMEOUT = 10.0


@dataclass
class KubeClient:
    """An ApiClient plus what it points at; ``where`` names both for error messages.

    Example: KubeClient(api=<ApiClient>, context="home", server="https://192.168.6.10:6443",
    timeout=10.0, in_cluster=False)
    """

    api: Any  # kubernetes.client.ApiClient
    context: str | None
    server: str
    timeout: float
    in_cluster: bool = False
    configuration: Any = None  # kept so exec can build its own ApiClient

    @property
    def where(self) -> str:
        return f"context {self.context!r} ({self.server})" if self.context else self.server

    def new_api_client(self) -> Any:
        """A fresh ApiClient on the same configuration (exec swaps the request method of its client)."""
        from kubernetes import client

        return client.ApiClient(configuration=self.configuration)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.api.close()


_STDOUT_LOCK = threading.RLock()


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    # The client library has printed to stdout in some paths; stdout belongs to our YAML/JSON output.
    # redirect_stdout swaps the process-wide sys.stdout: two threads overlapping here (pod exec opens
    # a client per host) would restore each other's swap and leave stdout pointing at stderr.
    with _STDOUT_LOCK, contextlib.redirect_stdout(sys.stderr):
        yield


def kubeconfig_paths(kubeconfig: str | None) -> list[str]:
    """The kubeconfig files that exist, in merge order.

    Example: kubeconfig_paths(None) with KUBECONFIG="/a.yaml:/missing:/b.yaml" -> ["/a.yaml", "/b.yaml"]
    """
    spec = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    paths = [os.path.expanduser(p) for p in spec.split(os.pathsep) if p]
    return [p for p in paths if Path(p).is_file()]


def list_contexts(kubeconfig: str | None = None) -> tuple[list[str], str | None]:
    """Context names and the current context of the merged kubeconfig.

    Example: (["home", "office"], "home")
    """
    from kubernetes import config as _config
    from kubernetes.config.config_exception import ConfigException

    config: Any = _config
    paths = kubeconfig_paths(kubeconfig)
    if not paths:
        raise UsageError(
            f"no kubeconfig found ({kubeconfig or os.environ.get('KUBECONFIG') or '~/.kube/config'})"
        )
    try:
        with _quiet_stdout():
            contexts, current = config.list_kube_config_contexts(config_file=os.pathsep.join(paths))
    except (ConfigException, OSError, ValueError) as exc:
        raise UsageError(f"cannot read kubeconfig {os.pathsep.join(paths)}: {exc}") from exc
    names = [str(c.get("name")) for c in contexts or [] if isinstance(c, dict)]
    cur = current.get("name") if isinstance(current, dict) else None
    # kubectl takes current-context from the first file that sets it; the client library from the last.
    for path in paths:
        first = _current_context_of(path)
        if first:
            cur = first
            break
    return names, str(cur) if cur else None


def _current_context_of(path: str) -> str | None:
    from bgpdoctor import safe_yaml
    from bgpdoctor.errors import BgpDoctorError

    try:
        doc = safe_yaml.load_file(path)
    except (OSError, BgpDoctorError):
        return None
    value = doc.get("current-context") if isinstance(doc, dict) else None
    return str(value) if value else None


def open_client(
    context: str | None = None, kubeconfig: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> KubeClient:
    """An API client for ``context`` (default: the current context) or the in-cluster account.

    Raises UsageError for a missing kubeconfig or an unknown context (naming the known ones).
    Requests are not retried, so ``timeout`` bounds each call. Example:
    open_client("home").where -> "context 'home' (https://192.168.6.10:6443)"
    """
    from kubernetes import client
    from kubernetes import config as _config
    from kubernetes.config.config_exception import ConfigException

    config: Any = _config  # the loader functions are untyped
    paths = kubeconfig_paths(kubeconfig)
    cfg = client.Configuration()
    if not paths:
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST") and context is None:
            try:
                with _quiet_stdout():
                    config.load_incluster_config(client_configuration=cfg)
            except ConfigException as exc:
                raise UsageError(f"in-cluster configuration unusable: {redact(str(exc))}") from exc
            return _finish(cfg, None, timeout, in_cluster=True)
        spec = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise UsageError(f"no kubeconfig found at {spec} (use --kubeconfig or --context with a valid file)")

    names, current = list_contexts(os.pathsep.join(paths))
    chosen = context or current
    if chosen is None:
        raise UsageError(
            f"kubeconfig {os.pathsep.join(paths)} has no current-context; pick one with --context"
        )
    if chosen not in names:
        known = ", ".join(names) or "none"
        raise UsageError(f"no context {chosen!r} in {os.pathsep.join(paths)} (known: {known})")
    try:
        with _quiet_stdout():
            config.load_kube_config(
                config_file=os.pathsep.join(paths),
                context=chosen,
                client_configuration=cfg,
                persist_config=False,
            )
    except (ConfigException, OSError, ValueError) as exc:
        raise UsageError(f"context {chosen!r}: cannot use kubeconfig: {redact(str(exc))}") from exc
    return _finish(cfg, chosen, timeout, in_cluster=False)


def _finish(cfg: Any, context: str | None, timeout: float, in_cluster: bool) -> KubeClient:
    from kubernetes import client

    if timeout <= 0:
        raise BgpDoctorError("the Kubernetes timeout must be positive")
    cfg.retries = 0  # urllib3 would retry a timed-out GET three times, quadrupling the wait
    api = client.ApiClient(configuration=cfg)
    return KubeClient(
        api=api,
        context=context,
        server=str(cfg.host),
        timeout=timeout,
        in_cluster=in_cluster,
        configuration=cfg,
    )
