"""A Cilium node reached through its agent pod: the agent's own log is read through the API
(pods/log), because inside the pod the node's /var/log/containers is not there.

cilium#40478 (Cilium 1.17.5): the agent logs `failed to set md5 Err="protocol not available"` and
the authenticated session never forms. The log lines below are quoted from that issue's "Relevant
log output"; the commands run on this machine through the fake API server's real websocket exec.
"""

from __future__ import annotations

import re
from typing import Any

from bgpdoctor.engine.collect import SPEAKER_LOG_COMMAND, batch_script, split_batch
from bgpdoctor.inventory_model import Connect, Host, Inventory, PodTarget
from bgpdoctor.kube.podexec import PodConnection
from bgpdoctor.redact import REDACTED
from bgpdoctor.transport.factory import open_connection
from tests.fakeapi import clusters as c
from tests.unit.test_speaker_state import GOBGP1, HEALTHY_GOBGP, _checks, _report

POD = ("kube-system", "cilium-7xk2p")
SUFFIX = "Topic=Peer asn=64513 component=gobgp.BgpServerInstance subsys=bgp-control-plane"
MD5_LINE = (
    'time="2025-07-10T23:20:53.136122987Z" level=warning msg="failed to set md5" '
    f'Err="protocol not available" Key="fdeb:e7:b88:3::1" {SUFFIX}'
)
AGENT_LOG = (
    'time="2025-07-10T23:20:52.001Z" level=info msg="Cilium BGP Control Plane Controller woken for '
    'reconciliation" subsys=bgp-control-plane\n'
    f"{MD5_LINE}\n"
    'time="2025-07-10T23:20:53.13640939Z" level=warning msg="failed to unset md5" '
    f'Err="protocol not available" Key=172.16.38.1 {SUFFIX}\n'
    # a line holding a secret, to show the redaction of what is read
    'time="2025-07-10T23:20:54.0Z" level=debug msg="md5 peer config" password=hunter2-sekret '
    "subsys=bgp-control-plane\n"
)


def cilium_pod(fake_api: Any, kubeconfig: Any, log: str | None) -> tuple[Any, PodConnection]:
    api = fake_api(*c.seed001())
    api.exec_runners[POD] = []  # the "container" is this machine
    if log is not None:
        api.pod_logs[(*POD, "cilium-agent")] = log
    inv = Inventory(
        hosts={
            "sakamoto": Host(
                role="node",
                speaker="gobgp",
                asn=64514,
                connect=Connect(pod=PodTarget(kubeconfig=kubeconfig(api), node="sakamoto")),
            )
        }
    )
    conn = open_connection("sakamoto", inv)
    assert isinstance(conn, PodConnection)
    return api, conn


def test_the_agent_log_through_the_api_gives_the_md5_failure(fake_api: Any, kubeconfig: Any) -> None:
    api, conn = cilium_pod(fake_api, kubeconfig, AGENT_LOG)
    result = conn.run(SPEAKER_LOG_COMMAND, timeout=20)
    conn.close()
    assert result.command == SPEAKER_LOG_COMMAND
    assert f"pods/log kube-system/cilium-7xk2p -c cilium-agent: {MD5_LINE}\n" in result.stdout
    assert "reconciliation" not in result.stdout  # only the lines the speaker log is read for
    assert "hunter2-sekret" not in result.stdout and REDACTED in result.stdout
    assert any(r.startswith("GET /api/v1/namespaces/kube-system/pods/cilium-7xk2p/log") for r in api.requests)
    # the same recogniser as for a log read on the host names the kernel's refusal
    report = _report(
        {"gobgp1": GOBGP1}, {"gobgp1": {**HEALTHY_GOBGP, "speaker.log": f"text:{result.stdout}"}}
    )
    [check] = _checks(report, "md5-kernel-support")
    assert check.status == "fail"
    where = "pods/log kube-system/cilium-7xk2p -c cilium-agent:"
    assert check.reason.startswith(f"GoBGP cannot use TCP MD5: {where}")
    assert 'Err="protocol not available"' in check.reason
    assert report.diagnoses[0].root_cause == "md5-kernel-unsupported"


def test_the_agent_log_reaches_the_framed_batch(fake_api: Any, kubeconfig: Any) -> None:
    _, conn = cilium_pod(fake_api, kubeconfig, AGENT_LOG)
    commands = {"ip.addr": "echo '[]'", "speaker.log": SPEAKER_LOG_COMMAND}
    marker = "@@bgpdoctor-test"
    batch = conn.run(batch_script(commands, marker, 20.0), timeout=60)
    conn.close()
    facts = split_batch(batch.stdout_bytes, marker, commands, 1 << 20)
    assert MD5_LINE in facts["speaker.log"].stdout
    assert facts["ip.addr"].stdout.strip() == "[]"


def test_a_refused_log_is_said_and_gives_no_md5_finding(fake_api: Any, kubeconfig: Any) -> None:
    api, conn = cilium_pod(fake_api, kubeconfig, AGENT_LOG)
    api.forbidden.add("/api/v1/namespaces/kube-system/pods/cilium-7xk2p/log")
    result = conn.run(SPEAKER_LOG_COMMAND, timeout=20)
    conn.close()
    assert "failed to set md5" not in result.stdout
    assert re.search(
        r"cilium-agent: the agent's log could not be read: forbidden \(HTTP 403\)", result.stderr
    )


def test_a_quiet_agent_log_adds_nothing(fake_api: Any, kubeconfig: Any) -> None:
    quiet = 'time="2025-07-10T23:20:52Z" level=info msg="Peer Up" subsys=bgp-control-plane\n'
    _, conn = cilium_pod(fake_api, kubeconfig, quiet)
    result = conn.run(SPEAKER_LOG_COMMAND, timeout=20)
    conn.close()
    assert "pods/log" not in result.stdout and "Peer Up" not in result.stdout
