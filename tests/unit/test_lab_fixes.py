"""Pasting fix snippets into configs (bgpdoctor/lab/fixes.py), checked with the real BIRD and GoBGP.

The lab's own generated configs are the starting point; the result must be what the real daemon
accepts, with the fix in the right block and the rest untouched.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from bgpdoctor.errors import LabError
from bgpdoctor.lab.configs import Knobs, bird_conf, gobgp_toml
from bgpdoctor.lab.fixes import dump_toml, merge_bird, merge_gobgp, pick_fix
from bgpdoctor.lab.topology import LabSettings

BIRD = shutil.which("bird") or "/usr/sbin/bird"


def bird_parse(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if not Path(BIRD).exists():
        pytest.skip("bird2 not installed")
    conf = tmp_path / "bird.conf"
    conf.write_text(text)
    return subprocess.run([BIRD, "-p", "-c", str(conf)], capture_output=True, text=True, check=False)


def gobgp_dry_run(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if not shutil.which("gobgpd"):
        pytest.skip("gobgpd not installed")
    conf = tmp_path / "gobgpd.toml"
    conf.write_text(text)
    return subprocess.run(
        ["gobgpd", "-d", "-t", "toml", "-f", str(conf)], capture_output=True, text=True, check=False
    )


def home_conf(tmp_path: Path, **knobs: bool) -> str:
    return bird_conf(LabSettings(run_dir=tmp_path), "router-home", Knobs(**knobs), False)


def protocol_block(conf: str, name: str) -> str:
    m = re.search(rf"protocol bgp {name} \{{.*?\n\}}", conf, re.S)
    assert m, conf
    return m.group(0)


def test_channel_fix_at_the_line_bird_complains_about(tmp_path: Path) -> None:
    conf = home_conf(tmp_path, home_yuuko_no_policy=True)
    before = bird_parse(conf, tmp_path)
    assert before.returncode != 0 and "EBGP requires explicit" in before.stderr
    where = re.search(r"(/\S+?):(\d+):\d+", before.stderr)
    assert where
    snippet = (
        "# inside each eBGP protocol\n  ipv4 {\n    import all;\n    export where source = RTS_BGP;\n  };"
    )
    merged = merge_bird(conf, snippet, "bgp-protocol", f"{where[1]}:{where[2]}", where[1])
    assert bird_parse(merged, tmp_path).returncode == 0
    block = protocol_block(merged, "yuuko_k8s")
    assert "export where source = RTS_BGP" in block and "ipv4;" not in block
    assert protocol_block(merged, "router_mine") == protocol_block(conf, "router_mine")


def test_whole_protocol_replaces_the_one_with_the_same_name(tmp_path: Path) -> None:
    conf = home_conf(tmp_path, home_yuuko_wrong_as=True)
    assert "as 64516" in protocol_block(conf, "yuuko_k8s")
    snippet = (
        "protocol bgp yuuko_k8s {\n  local as 64515;\n  neighbor 192.168.0.81 as 64514;\n"
        "  ipv4 { import all; export none; };\n}"
    )
    merged = merge_bird(conf, snippet, "config", None)
    assert bird_parse(merged, tmp_path).returncode == 0
    assert merged.count("protocol bgp yuuko_k8s") == 1
    assert "as 64514;" in protocol_block(merged, "yuuko_k8s") and "64516" not in merged
    assert protocol_block(merged, "router_mine") == protocol_block(conf, "router_mine")


def test_unnamed_kernel_protocol_and_router_id_are_replaced(tmp_path: Path) -> None:
    conf = home_conf(tmp_path, home_kernel_export_none=True)
    snippet = "protocol kernel {\n  ipv4 {\n    import none;\n    export where source = RTS_BGP;\n  };\n}"
    merged = merge_bird(merge_bird(conf, snippet, "config", None), "router id 192.0.2.9;", "config", None)
    assert bird_parse(merged, tmp_path).returncode == 0
    kernel = re.search(r"protocol kernel \{.*?\n\}", merged, re.S)
    assert merged.count("protocol kernel") == 1 and kernel
    assert "export where source = RTS_BGP" in kernel.group(0) and "export none" not in kernel.group(0)
    assert re.findall(r"^router id .*$", merged, re.M) == ["router id 192.0.2.9;"]


def test_fragment_replaces_a_statement_of_the_same_kind(tmp_path: Path) -> None:
    conf = home_conf(tmp_path)
    merged = merge_bird(conf, "# comment\n  multihop 3;", "bgp-protocol", "protocol bgp yuuko_k8s")
    merged = merge_bird(merged, "multihop 4;", "bgp-protocol", "protocol bgp yuuko_k8s")
    assert bird_parse(merged, tmp_path).returncode == 0
    block = protocol_block(merged, "yuuko_k8s")
    assert block.count("multihop") == 1 and "multihop 4;" in block


def test_fragment_without_a_place_is_refused(tmp_path: Path) -> None:
    conf = home_conf(tmp_path)
    with pytest.raises(LabError, match="no target"):
        merge_bird(conf, "multihop 3;", "bgp-protocol", None)
    with pytest.raises(LabError, match="no `protocol bgp nowhere`"):
        merge_bird(conf, "multihop 3;", "bgp-protocol", "protocol bgp nowhere")
    with pytest.raises(LabError, match=r"the fix is for /etc/bird\.conf"):
        merge_bird(conf, "multihop 3;", "bgp-protocol", "/etc/bird.conf:12", "/lab/bird.conf")


def test_gobgp_neighbor_fix_goes_into_that_neighbor(tmp_path: Path) -> None:
    conf = gobgp_toml("yuuko-k8s", Knobs(yuuko_multihop=False), False)
    snippet = "[neighbors.ebgp-multihop.config]\n  enabled = true\n  multihop-ttl = 3\n"
    merged = merge_gobgp(conf, snippet, "neighbor 192.168.6.1")
    assert gobgp_dry_run(merged, tmp_path).returncode == 0
    neighbors = {n["config"]["neighbor-address"]: n for n in tomllib.loads(merged)["neighbors"]}
    assert neighbors["192.168.6.1"]["ebgp-multihop"]["config"] == {"enabled": True, "multihop-ttl": 3}
    assert (
        neighbors["192.168.0.1"]
        == {n["config"]["neighbor-address"]: n for n in tomllib.loads(conf)["neighbors"]}["192.168.0.1"]
    )
    with pytest.raises(LabError, match=r"no neighbor 192\.0\.2\.77"):
        merge_gobgp(conf, snippet, "neighbor 192.0.2.77")


def test_gobgp_global_fix_keeps_the_rest(tmp_path: Path) -> None:
    conf = gobgp_toml("yuuko-k8s", Knobs(), False)
    merged = merge_gobgp(conf, "[global.config]\n  port = 179\n", None)
    assert gobgp_dry_run(merged, tmp_path).returncode == 0
    data = tomllib.loads(merged)
    assert data["global"]["config"] == {**tomllib.loads(conf)["global"]["config"], "port": 179}


def test_gobgp_whole_neighbor_fix_adds_a_neighbor_and_keeps_the_others(tmp_path: Path) -> None:
    """peer-not-configured's GoBGP fix is a whole `[[neighbors]]` entry: a neighbor of its own."""
    conf = gobgp_toml("yuuko-k8s", Knobs(), False)
    before = {n["config"]["neighbor-address"]: n for n in tomllib.loads(conf)["neighbors"]}
    snippet = (
        '[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "192.168.0.77"\n    peer-as = 64530\n'
        "  [neighbors.transport.config]\n    passive-mode = true\n"
    )
    merged = merge_gobgp(conf, snippet, None)
    assert gobgp_dry_run(merged, tmp_path).returncode == 0
    after = {n["config"]["neighbor-address"]: n for n in tomllib.loads(merged)["neighbors"]}
    assert after == {
        **before,
        "192.168.0.77": {
            "config": {"neighbor-address": "192.168.0.77", "peer-as": 64530},
            "transport": {"config": {"passive-mode": True}},
        },
    }
    # the same entry again replaces the neighbor rather than adding a second one with its address
    assert (
        tomllib.loads(merge_gobgp(merged, snippet, None))["neighbors"] == tomllib.loads(merged)["neighbors"]
    )


def test_dump_toml_round_trips() -> None:
    data = {"global": {"config": {"as": 1, "router-id": "1.1.1.1"}}, "neighbors": [{"config": {"x": [1, 2]}}]}
    assert tomllib.loads(dump_toml(data)) == data


def test_pick_fix_takes_the_first_one_the_lab_can_apply() -> None:
    report = {
        "diagnoses": [
            {
                "root_cause": "md5-mismatch",
                "fixes": [
                    {"platform": "bird2", "host": None, "text": "password"},
                    {"platform": "cilium", "host": "yuuko-k8s", "text": "kind: X"},
                    {"platform": "gobgp", "host": "yuuko-k8s", "text": "[neighbors.config]"},
                ],
            }
        ]
    }
    assert pick_fix(report)["platform"] == "gobgp"
    with pytest.raises(LabError, match="no fix the lab can apply for sysctl"):
        pick_fix(report, platform="sysctl")
    with pytest.raises(LabError, match="no diagnosis"):
        pick_fix({"diagnoses": []})


def test_fragment_for_several_blocks_goes_into_each(tmp_path: Path) -> None:
    conf = home_conf(tmp_path)
    merged = merge_bird(
        conf, "multihop 3;", "bgp-protocol", "protocol bgp yuuko_k8s, protocol bgp router_mine"
    )
    assert bird_parse(merged, tmp_path).returncode == 0
    assert "multihop 3;" in protocol_block(merged, "yuuko_k8s")
    assert "multihop 3;" in protocol_block(merged, "router_mine")
