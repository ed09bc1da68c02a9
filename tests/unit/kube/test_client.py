"""Loading configuration (kubeconfig, contexts, KUBECONFIG a:b, in-cluster) and API failures:
401, timeout, unreachable server, unknown context. Nothing may reach stdout."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.errors import BgpDoctorError, UsageError
from bgpdoctor.kube.config import kubeconfig_paths, list_contexts, open_client
from bgpdoctor.kube.reader import KubeApiError, read_cluster
from bgpdoctor.kube.view import build_view
from tests.fakeapi import DEFAULT_TOKEN as TOKEN
from tests.fakeapi import clusters as c
from tests.fakeapi import write_kubeconfig


def node_names(kc: Any) -> list[str]:
    try:
        return [n.name for n in build_view(read_cluster(kc)).nodes]
    finally:
        kc.close()


def two_clusters(fake_api: Any) -> tuple[Any, Any]:
    home = fake_api(*c.seed001())
    office = fake_api(*c.seed003(), token="office-token")
    return home, office


def test_context_flag_selects_the_second_context(fake_api: Any, tmp_path: Path) -> None:
    home, office = two_clusters(fake_api)
    path = write_kubeconfig(
        tmp_path / "kc", {"home": (home.url, TOKEN), "office": (office.url, "office-token")}
    )
    assert list_contexts(str(path)) == (["home", "office"], "home")
    assert node_names(open_client(None, str(path))) == ["sakamoto", "yuuko-k8s"]
    kc = open_client("office", str(path))
    assert kc.context == "office" and kc.server == office.url
    assert node_names(kc) == ["master-01", "node-01", "gpu-node-01"]


def test_multi_path_kubeconfig_env(fake_api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, office = two_clusters(fake_api)
    a = write_kubeconfig(tmp_path / "a.yaml", {"home": (home.url, TOKEN)})
    b = write_kubeconfig(tmp_path / "b.yaml", {"office": (office.url, "office-token")})
    monkeypatch.setenv("KUBECONFIG", f"{a}{os.pathsep}{tmp_path / 'missing.yaml'}{os.pathsep}{b}")
    assert kubeconfig_paths(None) == [str(a), str(b)]
    assert list_contexts() == (["home", "office"], "home")  # the first file's current-context wins
    assert node_names(open_client("office")) == ["master-01", "node-01", "gpu-node-01"]
    assert node_names(open_client(None)) == ["sakamoto", "yuuko-k8s"]


def test_multi_path_kubeconfig_flag(fake_api: Any, tmp_path: Path) -> None:
    home, office = two_clusters(fake_api)
    a = write_kubeconfig(tmp_path / "a.yaml", {"home": (home.url, TOKEN)})
    b = write_kubeconfig(tmp_path / "b.yaml", {"office": (office.url, "office-token")})
    assert node_names(open_client("office", f"{a}{os.pathsep}{b}")) == ["master-01", "node-01", "gpu-node-01"]


def test_default_kubeconfig_location(fake_api: Any, tmp_path: Path) -> None:
    home = fake_api(*c.seed001())
    kube_dir = Path(os.environ["HOME"]) / ".kube"
    kube_dir.mkdir(parents=True)
    write_kubeconfig(kube_dir / "config", {"home": (home.url, TOKEN)})
    assert node_names(open_client()) == ["sakamoto", "yuuko-k8s"]


def test_unknown_context_names_the_known_ones(fake_api: Any, tmp_path: Path, capfd: Any) -> None:
    home = fake_api(*c.seed001())
    path = write_kubeconfig(tmp_path / "kc", {"home": (home.url, TOKEN)})
    with pytest.raises(UsageError, match=r"no context 'nope' in .*kc \(known: home\)") as exc:
        open_client("nope", str(path))
    assert exc.value.exit_code == 2
    assert capfd.readouterr().out == ""


def test_missing_kubeconfig_is_a_usage_error_and_prints_nothing(
    tmp_path: Path, capfd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'a.yaml'}{os.pathsep}{tmp_path / 'b.yaml'}")
    with pytest.raises(UsageError, match="no kubeconfig found"):
        open_client()
    with pytest.raises(UsageError, match="no kubeconfig found"):
        open_client("home", str(tmp_path / "nothing"))
    captured = capfd.readouterr()
    assert captured.out == ""


def test_config_loading_prints_nothing_to_stdout(fake_api: Any, tmp_path: Path, capfd: Any) -> None:
    home, office = two_clusters(fake_api)
    a = write_kubeconfig(tmp_path / "a.yaml", {"home": (home.url, TOKEN)})
    b = write_kubeconfig(tmp_path / "b.yaml", {"office": (office.url, "office-token")})
    node_names(open_client("office", f"{a}{os.pathsep}{b}"))
    list_contexts(str(a))
    assert capfd.readouterr().out == ""


def test_broken_kubeconfig_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "kc"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncontexts:\n- name: home\n  context: {cluster: gone, user: gone}\n"
        "current-context: home\n"
    )
    with pytest.raises(UsageError, match=r"cannot read kubeconfig .*kc: .*Expected object with name gone"):
        open_client(None, str(path))


def test_401_is_a_clear_error(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.seed001())
    kc = open_client(None, kubeconfig(api, token="expired-token"))
    with pytest.raises(KubeApiError) as exc:
        read_cluster(kc)
    assert exc.value.kind == "auth" and exc.value.exit_code == 3
    expected = "unauthorized (401): the kubeconfig credentials were refused; log in again"
    assert str(exc.value) == f"context 'home' ({api.url}): {expected}"
    assert "expired-token" not in str(exc.value)


def test_slow_server_hits_the_timeout(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.seed001())
    api.delay_s = 5.0
    kc = open_client(None, kubeconfig(api), timeout=0.5)
    start = time.monotonic()
    with pytest.raises(
        KubeApiError, match=r"context 'home' \(http://127\.0\.0\.1:\d+\): timed out after 0\.5s"
    ) as exc:
        read_cluster(kc)
    elapsed = time.monotonic() - start
    assert exc.value.kind == "timeout"
    assert elapsed < 1.5, f"took {elapsed:.2f}s: the request was retried or the timeout not applied"
    assert len(api.requests) == 1


def test_unreachable_server(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that was free a moment ago and has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = write_kubeconfig(tmp_path / "kc", {"home": (f"http://127.0.0.1:{port}", TOKEN)})
    kc = open_client(None, str(path), timeout=2)
    start = time.monotonic()
    with pytest.raises(
        KubeApiError, match=rf"context 'home' \(http://127\.0\.0\.1:{port}\): unreachable"
    ) as exc:
        read_cluster(kc)
    assert exc.value.kind == "unreachable" and time.monotonic() - start < 2


def test_https_with_certificate_authority(fake_api: Any, kubeconfig: Any, tmp_path: Path) -> None:
    api = fake_api(*c.seed001(), tls_dir=tmp_path / "tls")
    assert api.url.startswith("https://")
    assert node_names(open_client(None, kubeconfig(api))) == ["sakamoto", "yuuko-k8s"]


def test_https_with_an_untrusted_certificate_is_unreachable(fake_api: Any, tmp_path: Path) -> None:
    api = fake_api(*c.seed001(), tls_dir=tmp_path / "tls")
    path = write_kubeconfig(tmp_path / "kc", {"home": (api.url, TOKEN)})  # no CA given
    with pytest.raises(KubeApiError, match="TLS error") as exc:
        read_cluster(open_client(None, str(path), timeout=3))
    assert exc.value.kind == "unreachable"


def test_in_cluster_config(
    fake_api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: Any
) -> None:
    from kubernetes.config import incluster_config

    api = fake_api(*c.seed001(), tls_dir=tmp_path / "tls")
    token = tmp_path / "token"
    token.write_text(TOKEN)
    assert api.ca_file is not None
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(api.ca_file))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(api.port))
    kc = open_client()
    assert kc.in_cluster and kc.context is None and kc.server == api.url
    assert node_names(kc) == ["sakamoto", "yuuko-k8s"]
    assert capfd.readouterr().out == ""


def test_in_cluster_without_service_account_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from kubernetes.config import incluster_config

    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(tmp_path / "no-token"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    with pytest.raises(UsageError, match="in-cluster configuration unusable"):
        open_client()


def test_a_kubeconfig_wins_over_in_cluster(
    fake_api: Any, kubeconfig: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = fake_api(*c.seed001())
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    kc = open_client(None, kubeconfig(api))
    assert not kc.in_cluster and kc.server == api.url
    kc.close()


def test_errors_share_the_root_type() -> None:
    assert issubclass(KubeApiError, BgpDoctorError)
