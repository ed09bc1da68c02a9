"""Issue 12: a GoBGP node's `gobgp -j neighbor` is decoded once per run, whoever reads it.

The drivers (sessions, hold timer, restarts, prefix limit, MD5), the neighbor parser, the
capability reader and the session excerpt each decoded it again: seven decodes per node.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.report.model import Report

HEALTHY = Path(__file__).resolve().parents[2] / "captures" / "runs" / "healthy.json"
GOBGP_NODES = ("sakamoto", "yuuko-k8s")


def _replay() -> tuple[Report, dict[str, int]]:
    inv, inv_path, nodes, collected = load_recording(HEALTHY)
    texts = {collected.facts[n].outputs["gobgp.neighbors"].stdout: n for n in GOBGP_NODES}
    decoded = dict.fromkeys(GOBGP_NODES, 0)
    real_decode = json.JSONDecoder.decode

    def counting(self: json.JSONDecoder, s: str, *args: Any, **kwargs: Any) -> Any:
        for text, node in texts.items():
            if s.strip() == text.strip():
                decoded[node] += 1
        return real_decode(self, s, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(json.JSONDecoder, "decode", counting)
        report = evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))
    return report, decoded


def test_each_gobgp_neighbor_list_is_decoded_once_per_run() -> None:
    report, decoded = _replay()
    assert decoded == dict.fromkeys(GOBGP_NODES, 1)
    # and it was read: each node's sessions quote its own entry, its neighbors were judged
    quoted = [
        ev.output
        for r in report.results
        for ev in r.evidence
        if ev.host in GOBGP_NODES and ev.command.endswith("-j neighbor")
    ]
    assert quoted and all(json.loads(q) for q in quoted)
