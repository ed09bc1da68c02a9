"""A small fake Kubernetes API server for tests: a real HTTP(S) server on 127.0.0.1.

It serves real-shaped objects (Nodes, Services, ConfigMaps, Pods, APIServices and Cilium/Calico
custom resources) to the real ``kubernetes`` client: discovery (/api, /apis, /apis/G/V), list and
get, bearer-token auth (401), 404 for anything not installed, 403 for exec (refused upgrade) and
for paths marked forbidden, and an optional delay to hit client timeouts. See server.py.
"""

from tests.fakeapi.server import DEFAULT_TOKEN, FakeApiServer, write_kubeconfig

__all__ = ["DEFAULT_TOKEN", "FakeApiServer", "write_kubeconfig"]
