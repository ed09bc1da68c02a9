"""Every fix snippet of every playbook passes the real tool's own parser.

Rendered with the facts of the recorded lab runs (captures/runs) or the playbook's `example`:
BIRD 2 and BIRD 1.6 configs with `bird -p -c`, nftables with `nft -c -f` (in a throwaway network
namespace), GoBGP with `gobgpd --dry-run`, sysctl keys that exist in /proc/sys, Kubernetes YAML
against the Cilium/Calico CRD schemas (tests/fixtures/crds, copied from upstream), OpenWrt UCI with
the lint parser, shell lines with `sh -n`. RouterOS v7, FortiOS and Huawei VRP, which cannot run
here, against the grammar of their documented commands (tests/unit/vendor_syntax.py, sources in
tests/fixtures/vendor_syntax/SOURCE.md).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

import jsonschema
import pytest
import yaml

from bgpdoctor.engine.judge import render
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.rules import FixDef, PlaybookDef, load_playbooks
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.lab.fixes import merge_gobgp
from bgpdoctor.lint.uci import parse_uci
from tests.unit.vendor_syntax import CHECKS as VENDOR_CHECKS

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "tests" / "fixtures" / "crds"
BIRD2 = shutil.which("bird") or "/usr/sbin/bird"
BIRD16 = "/opt/bgpdoctor/bird16/usr/sbin/bird"


def _recorded_facts() -> dict[str, dict[str, str]]:
    """Rendered fixes of the diagnoses reached on the recorded lab runs: playbook id -> platform -> text."""
    out: dict[str, dict[str, str]] = {}
    for path in sorted((ROOT / "captures" / "runs").glob("*.json")):
        inv, ipath, nodes, collected = load_recording(path)
        # every platform's fix, rendered with a real run's facts: the lab has no vendor router and no
        # FRR router, so a run would leave their fixes out
        with mock.patch("bgpdoctor.engine.run._fixes_for_what_runs_there", lambda _diagnoses, _inv: None):
            diagnoses = evaluate(inv, ipath, collected, RunOptions(nodes=nodes)).diagnoses
        for d in diagnoses:
            out.setdefault(d.root_cause, {}).update({f.platform + ":" + f.title: f.text for f in d.fixes})
    return out


RECORDED = _recorded_facts()
CASES: list[tuple[str, FixDef, str]] = []
for pb in load_playbooks():
    for fix in pb.fixes:
        CASES.append((pb.id, fix, ""))


def rendered(pb_id: str, fix: FixDef) -> str:
    pb: PlaybookDef = next(p for p in load_playbooks() if p.id == pb_id)
    if pb.example:
        return render(fix.template, pb.example, pb_id)
    texts = RECORDED.get(pb_id, {})
    match = [t for k, t in texts.items() if k.startswith(fix.platform + ":")]
    assert match, f"{pb_id}: no example facts and no recorded run renders its {fix.platform} fix"
    return match[0]


def test_every_playbook_can_be_rendered() -> None:
    for pb in load_playbooks():
        assert pb.example or pb.id in RECORDED, f"{pb.id}: give it `example:` facts or a recorded lab run"


def _bird_wrap(text: str, fragment: str) -> str:
    head = "router id 192.0.2.1;\nprotocol device {}\n"
    if fragment == "bgp-protocol":
        peer_as = 64513 if "rr client" in text else 64514  # route reflection is an iBGP thing
        channel = "" if "ipv4 {" in text else "  ipv4 { import all; export none; };\n"
        body = f"  local as 64513;\n  neighbor 192.0.2.2 as {peer_as};\n{text}\n{channel}"
        return head + f"protocol bgp fix_test {{\n{body}}}\n"
    if fragment == "bgp-channel":
        return head + (
            "protocol bgp fix_test {\n  local as 64513;\n  neighbor 192.0.2.2 as 64513;\n"
            f"  ipv4 {{\n    import all;\n    export all;\n{text}\n  }};\n}}\n"
        )
    return head + text + "\n"


def _bird1_wrap(text: str) -> str:
    return "router id 192.0.2.1;\nprotocol device {}\n" + text + "\n"


def _check_bird(binary: str, config: str, tmp_path: Path) -> None:
    if not Path(binary).exists():
        pytest.skip(f"{binary} not installed (scripts/install-deps.sh)")
    conf = tmp_path / "bird.conf"
    conf.write_text(config)
    proc = subprocess.run([binary, "-p", "-c", str(conf)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{binary} -p refused:\n{config}\n{proc.stderr}"


def _check_nft(text: str, tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"):
        pytest.skip("nft -c needs root and unshare")
    commands = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("nft ")]
    assert commands, text
    skeleton: list[str] = []
    rules: list[str] = []
    for cmd in commands:
        words = shlex.split(cmd)[1:]
        verb, what, family, table, chain = words[:5]
        assert (verb, what) in (("insert", "rule"), ("add", "rule")), cmd
        skeleton += [
            f"add table {family} {table}",
            f"add chain {family} {table} {chain} {{ type filter hook forward priority 0; }}",
        ]
        rules.append(cmd.removeprefix("nft ").strip())
    script = tmp_path / "fix.nft"
    script.write_text("\n".join(dict.fromkeys(skeleton)) + "\n" + "\n".join(rules) + "\n")
    proc = subprocess.run(
        ["unshare", "-n", "nft", "-c", "-f", str(script)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"nft -c refused:\n{script.read_text()}\n{proc.stderr}"


def _check_sysctl(text: str) -> None:
    keys = re.findall(r"\bnet\.[a-z0-9_.]+[a-z0-9_]", text)
    assert keys, text
    for key in keys:
        parts = key.split(".")
        if parts[:3] == ["net", "ipv4", "conf"] and parts[3] not in ("all", "default"):
            parts[3] = "default"  # the interface of the user's host does not exist here
        assert Path("/proc/sys", *parts).exists(), f"no such sysctl: {key}"


def _crd_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    group, _, version = api_version.partition("/")
    for path in CRDS.rglob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        spec = crd.get("spec", {})
        if spec.get("group") != group or spec.get("names", {}).get("kind") != kind:
            continue
        for v in spec.get("versions", []):
            if v["name"] == version:
                return v["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]
    return None


def _unknown_keys(doc: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """jsonschema accepts unknown fields unless additionalProperties is false: walk for typos."""
    found: list[str] = []
    if isinstance(doc, dict) and "properties" in schema:
        for key, value in doc.items():
            if key in ("apiVersion", "kind", "metadata") and not where:
                continue
            sub = schema["properties"].get(key)
            if sub is None:
                found.append(f"{where}.{key}")
            else:
                found += _unknown_keys(value, sub, f"{where}.{key}")
    elif isinstance(doc, list) and "items" in schema:
        for item in doc:
            found += _unknown_keys(item, schema["items"], f"{where}[]")
    return found


def _check_kube_yaml(text: str) -> None:
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    assert docs, text
    for doc in docs:
        if not isinstance(doc, dict) or "apiVersion" not in doc:
            continue  # Helm values: YAML that parses is all that can be said
        schema = _crd_schema(doc["apiVersion"], doc["kind"])
        if schema is None:
            assert doc["apiVersion"].startswith("operator.tigera.io/"), (
                f"no CRD schema for {doc['apiVersion']}"
            )
            continue  # the Tigera operator's Installation CRD is not part of the reference set
        # validated without checking the schema itself: upstream patterns use Go regex syntax
        errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]
        assert errors == [], (doc, errors)
        assert _unknown_keys(doc, schema) == [], doc


def _check_gobgp(text: str, tmp_path: Path) -> None:
    if not shutil.which("gobgpd"):
        pytest.skip("gobgpd not installed")
    base = (
        '[global.config]\n  as = 64514\n  router-id = "192.0.2.1"\n'
        '[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "192.0.2.2"\n    peer-as = 64513\n'
    )
    # merged the way a user pastes it (and the lab round trip applies it): neighbor keys into the neighbor
    config = merge_gobgp(base, text.replace("$BGP_MD5_PASSWORD", "example-only"), "neighbor 192.0.2.2")
    path = tmp_path / "gobgpd.toml"
    path.write_text(config)
    proc = subprocess.run(
        ["gobgpd", "-d", "-t", "toml", "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=20,
    )
    assert proc.returncode == 0, f"gobgpd --dry-run refused:\n{config}\n{proc.stdout}{proc.stderr}"


def _check_frr(text: str) -> None:
    from bgpdoctor.lab.frr import FRR_DAEMON_DIR, check_config

    if not (FRR_DAEMON_DIR / "bgpd").exists():
        pytest.skip("FRR not installed (apt-get install frr)")
    # a fix goes into the user's config, where its neighbors exist: declare them first (iBGP ones
    # for a route reflector's clients, which FRR refuses on an eBGP neighbor)
    router = re.search(r"^router bgp (\d+)", text, re.M)
    neighbors = dict.fromkeys(re.findall(r"^\s*(?:no )?neighbor (\S+) ", text, re.M))
    kind = "internal" if "route-reflector-client" in text else "external"
    base = (
        f"router bgp {router.group(1)}\n" + "".join(f" neighbor {n} remote-as {kind}\n" for n in neighbors)
        if router
        else ""
    )
    valid, output = check_config(base + "exit\n" + text if base else text)
    assert valid, f"bgpd --dryrun refused:\n{base}{text}\n{output}"


@pytest.mark.parametrize(("pb_id", "fix", "_"), CASES, ids=[f"{c[0]}-{c[1].platform}" for c in CASES])
def test_fix_snippet_parses(pb_id: str, fix: FixDef, _: str, tmp_path: Path) -> None:
    text = rendered(pb_id, fix)
    assert "is undefined" not in text and text.strip()
    if fix.platform == "bird2":
        _check_bird(BIRD2, _bird_wrap(text, fix.fragment), tmp_path)
    elif fix.platform == "bird1":
        _check_bird(BIRD16, _bird1_wrap(text), tmp_path)
    elif fix.platform == "nftables":
        _check_nft(text, tmp_path)
    elif fix.platform == "sysctl":
        _check_sysctl(text)
    elif fix.platform in ("cilium", "calico", "metallb"):
        _check_kube_yaml(text)
    elif fix.platform == "gobgp":
        if text.startswith("gobgp "):
            assert re.fullmatch(r"(gobgp global rib add -a ipv4 [0-9./]+ origin igp\s*)+", text), text
        else:
            _check_gobgp(text, tmp_path)
    elif fix.platform == "openwrt":
        sections, problems = parse_uci(
            text if text.lstrip().startswith("config") else f"config zone\n{text}\n", "fix"
        )
        assert sections and not problems, (text, problems)
    elif fix.platform == "frr":
        _check_frr(text)
    elif fix.platform == "linux":
        proc = subprocess.run(["sh", "-n", "-c", text], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
    elif fix.platform in VENDOR_CHECKS:
        assert VENDOR_CHECKS[fix.platform](text) == [], text
    else:
        pytest.fail(f"{pb_id}: no validator for platform {fix.platform}")


@pytest.mark.parametrize("dst_ip", ["fd00:10:42:3::1", "10.42.3.1"])
def test_the_mtu_firewall_fixes_speak_the_paths_own_icmp_and_pass_nft(dst_ip: str, tmp_path: Path) -> None:
    playbook = next(p for p in load_playbooks() if p.id == "mtu-blackhole")
    facts = {"dst_ip": dst_ip, "path_mtu": 1380, "source": "router-mine"}
    facts["mtu_bottleneck_host"] = "router-mine"
    texts = [render(f.template, facts, "mtu-blackhole") for f in playbook.fixes if f.platform == "nftables"]
    joined = "\n".join(texts)
    if ":" in dst_ip:
        assert "icmpv6 type packet-too-big accept" in joined and "frag-needed" not in joined
        assert "meta nfproto ipv6 tcp flags syn tcp option maxseg size set 1320" in joined
    else:
        assert "icmp code frag-needed accept" in joined and "icmpv6" not in joined
        assert "meta nfproto ipv4 tcp flags syn tcp option maxseg size set 1340" in joined
    for text in texts:
        _check_nft(text, tmp_path)
