"""Fixtures for the Kubernetes tests: a fake API server on 127.0.0.1 and a kubeconfig for it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # tests/fakeapi is imported as tests.fakeapi
    sys.path.insert(0, str(ROOT))

from tests.fakeapi import DEFAULT_TOKEN, FakeApiServer, write_kubeconfig  # noqa: E402
from tests.fakeapi.schema import CRDS_DIR  # noqa: E402

TOKEN = DEFAULT_TOKEN

if not CRDS_DIR.is_dir():
    pytest.skip(f"CRD reference schemas not found at {CRDS_DIR}", allow_module_level=True)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Never let a developer's real kubeconfig or in-cluster environment leak into a test.
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def fake_api() -> Iterator[Callable[..., FakeApiServer]]:
    servers: list[FakeApiServer] = []

    def start(*objs: dict[str, Any], token: str = TOKEN, **kwargs: Any) -> FakeApiServer:
        api = FakeApiServer(token=token, **kwargs)
        api.add(*objs)
        servers.append(api.start())
        return api

    yield start
    for api in servers:
        api.stop()


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Callable[..., str]:
    def make(api: FakeApiServer, context: str = "home", token: str = TOKEN, name: str = "kubeconfig") -> str:
        return str(write_kubeconfig(tmp_path / name, {context: (api.url, token)}, ca_file=api.ca_file))

    return make
