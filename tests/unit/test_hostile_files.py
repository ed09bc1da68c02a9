"""Issue 8, "Hostile files": YAML bombs, typos and odd files cost one line with file:line, exit 2,
in well under a second; the rest of the run goes on. Names and ssh targets cannot carry control
characters or shell syntax into ssh_config matching."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgpdoctor import safe_yaml
from bgpdoctor.errors import InventoryError, UsageError
from bgpdoctor.inventory import load_inventory
from bgpdoctor.lint import lint_paths
from bgpdoctor.lint.cli import lint

REPO = Path(__file__).resolve().parents[2]
HOSTILE = REPO / "tests" / "fixtures" / "lint" / "hostile"
LAB_HEALTHY = REPO / "tests" / "fixtures" / "lint" / "lab" / "healthy"
MINIMAL_INVENTORY = "hosts:\n  me:\n    role: node\n    connect: {local: true}\n"

# the classic "billion laughs": nine levels of nine aliases, 9**9 strings once expanded
BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{x}: &{x} [{','.join([f'*{p}'] * 9)}]\n" for p, x in zip("abcdefgh", "bcdefghi", strict=True)
)


def _bounded(code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run code in a child limited to 1 GiB of memory, so an unbounded loader fails instead of
    eating the machine (and a hang is a timeout, not a stuck suite)."""
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
    return subprocess.run(
        [sys.executable, "-c", limit + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def _cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """`bgpdoctor ARGS` in a child with 1 GiB of memory (see _bounded)."""
    return subprocess.run(
        [sys.executable, "-m", "bgpdoctor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=_limit_memory,
    )


# -- YAML: bombs, recursion, nesting, NUL, size ----------------------------------------------------
def test_billion_laughs_is_small() -> None:
    assert len(BILLION_LAUGHS) < 360


@pytest.mark.parametrize("reader", ["inventory", "lint", "safe_yaml"])
def test_alias_bomb_fails_in_under_a_second_with_file_line(reader: str, tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    head = "apiVersion: v1\nkind: ConfigMap\n" if reader == "lint" else ""
    path.write_text(head + BILLION_LAUGHS + "hosts: {}\n", encoding="utf-8")
    call = {
        "inventory": "from bgpdoctor.inventory import load_inventory as f",
        "lint": "from bgpdoctor.lint import lint_paths\nf = lambda p: print(lint_paths([p]).problems[0])",
        "safe_yaml": "from bgpdoctor.safe_yaml import load_file as f",
    }[reader]
    child = _bounded(
        f"""
        import time
        {call}
        start = time.process_time()
        try:
            f({str(path)!r})
        except Exception as exc:
            print(type(exc).__name__, exc)
        print("took", time.process_time() - start)
        """.replace("\n        ", "\n")
    )
    out = child.stdout
    assert "aliases expand to more than" in out, child.stderr[-2000:]
    assert f"{path}:" in out or "bomb.yaml', line=" in out
    # CPU seconds, not wall time (a loaded CI machine): expanding the aliases would take hours
    assert float(out.rsplit("took", 1)[1]) < 1.0


def test_alias_bomb_in_cli_commands_exits_2(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text(BILLION_LAUGHS + "hosts: {}\n", encoding="utf-8")
    checked = _cli("inventory", "check", str(inv))
    assert checked.returncode == 2
    assert checked.stderr.startswith(f"{inv}:") and "alias bomb" in checked.stderr
    manifest = tmp_path / "cm.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\n" + BILLION_LAUGHS, encoding="utf-8")
    linted = _cli("lint", str(manifest))
    assert linted.returncode == 2
    assert f"{manifest}:8: YAML aliases expand to more than" in linted.stdout


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("x: &a [*a]\n", 1, "recursive alias"),
        ("a: 1\nx: &a {b: [1, {c: *a}]}\n", 2, "recursive alias"),
        ("x: " + "[" * 50_000 + "\n", 1, "nested deeper than 200 levels"),
        ("x: " + "[" * 50_000 + "]" * 50_000 + "\n", 1, "nested deeper than 200 levels"),
        ("a:\n  b: \x00\n", 2, "U+0000 (NUL)"),
        ("a: ok\nb: \x1b[2J\n", 2, "U+001B (ESC)"),
    ],
    ids=["self-alias", "nested-self-alias", "50000-open", "50000-nested", "nul", "esc"],
)
def test_recursion_nesting_and_control_bytes_are_usage_errors(
    text: str, line: int, what: str, tmp_path: Path
) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(text + MINIMAL_INVENTORY, encoding="utf-8")
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert isinstance(info.value, UsageError)
    assert (info.value.line, what in info.value.message) == (line, True)
    assert "\n" not in str(info.value)
    manifest = tmp_path / "m.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\n" + text, encoding="utf-8")
    res = lint_paths([str(manifest)])
    if "\x00" in text:  # a NUL byte makes it a binary file: skipped, said so
        assert [p.message for p in res.problems] == ["binary file, skipped"]
    else:
        assert [(p.line, what in p.message) for p in res.problems] == [(line + 2, True)]
    assert res.exit_code == 2


def test_huge_inventory_fails_fast_on_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("w", encoding="utf-8") as f:
        f.write(MINIMAL_INVENTORY)
        line = "# " + "padding " * 12 + "\n"
        f.write(line * (50 * 1024 * 1024 // len(line)))
    child = _bounded(
        f"""
        import time
        from bgpdoctor.inventory import load_inventory
        start = time.process_time()
        try:
            load_inventory({str(path)!r})
        except Exception as exc:
            print(type(exc).__name__, exc)
        print("took", time.process_time() - start)
        """.replace("\n        ", "\n")
    )
    assert f"InventoryError {path}: file is over the 16.0 MiB limit" in child.stdout, child.stderr[-2000:]
    assert float(child.stdout.rsplit("took", 1)[1]) < 1.0
    assert _cli("inventory", "check", str(path)).returncode == 2


def test_merge_keys_and_redefined_anchors_work() -> None:
    text = "base: &b {x: 1, y: 2}\nc: {<<: *b, y: 3}\nd: &b 5\ne: *b\n"
    assert safe_yaml.load(text, "f.yaml") == {"base": {"x": 1, "y": 2}, "c": {"x": 1, "y": 3}, "d": 5, "e": 5}


def test_lint_reads_merge_keys_and_redefined_anchors(tmp_path: Path) -> None:
    """Issue 9 lists both as lint false errors: a whole file was lost to "found duplicate anchor"."""
    (tmp_path / "nodes.yaml").write_text(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: List
            items:
            - kind: Node
              metadata: &meta
                name: n1
                labels: &labels {site: a}
              status: {addresses: [{type: InternalIP, address: 192.168.0.10}]}
            - kind: Node
              metadata:
                <<: *meta
                name: n2
                labels: &labels {site: b}
            - kind: Node
              metadata: {name: n3, labels: *labels}
            """
        ),
        encoding="utf-8",
    )
    from bgpdoctor.lint.loader import load_paths

    inputs = load_paths([str(tmp_path)])
    assert [p for p in inputs.problems if p.kind == "error"] == []
    assert [(n.name, n.labels) for n in inputs.k8s.nodes] == [
        ("n1", {"site": "a"}),
        ("n2", {"site": "b"}),
        ("n3", {"site": "b"}),
    ]


def test_kubernetes_yaml_keeps_yes_a_string(tmp_path: Path) -> None:
    assert safe_yaml.load("a: yes\nb: on\nc: true\nd: 012\n", "f", core_schema=True) == {
        "a": "yes",
        "b": "on",
        "c": True,
        "d": 12,
    }
    # a Calico node label `bgp: yes` is the string "yes", which the selector names
    (tmp_path / "calico.yaml").write_text(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: Node
            metadata:
              name: n1
              labels: {bgp: yes}
            status:
              addresses: [{type: InternalIP, address: 192.168.0.10}]
            ---
            apiVersion: crd.projectcalico.org/v1
            kind: BGPPeer
            metadata: {name: tor}
            spec: {peerIP: 192.168.0.1, asNumber: 64512, nodeSelector: "bgp == 'yes'"}
            """
        ),
        encoding="utf-8",
    )
    res = lint_paths([str(tmp_path)])
    assert [f.root_cause for f in res.findings if f.root_cause == "node-not-selected"] == []


# -- inventory: names and ssh targets --------------------------------------------------------------
def _inventory(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inv.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("field", "text", "line"),
    [
        ("host name", 'hosts:\n  "r1\\n[bgpdoctor] ok":\n    role: node\n    connect: {local: true}\n', 2),
        (
            "site",
            'sites: {"h\\e[2J": {}}\nhosts:\n  r1: {role: node, site: "h\\e[2J", connect: {local: true}}\n',
            1,
        ),
        (
            "peer name",
            "hosts:\n  r1:\n    role: node\n    connect: {local: true}\n"
            '    peers: [{address: 10.0.0.1, asn: 1, name: "p\\0"}]\n',
            5,
        ),
    ],
)
def test_control_characters_in_names_are_rejected(field: str, text: str, line: int, tmp_path: Path) -> None:
    path = _inventory(tmp_path, text)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert info.value.line == line, field
    assert "contains a control character" in info.value.message
    assert not any(c in str(info.value) for c in "\x00\x1b"), "the message itself must stay printable"


@pytest.mark.parametrize(
    "host",
    ["m$(touch /tmp/canary)", "m`touch /tmp/canary`", "a b", "a;b", "a%h", 'a"b', "a'b", "fe80::1%eth0", ""],
)
def test_ssh_host_must_be_a_host_name_or_ip_literal(host: str, tmp_path: Path) -> None:
    text = f"hosts:\n  r1:\n    role: router\n    connect:\n      ssh:\n        host: {host!r}\n"
    with pytest.raises(InventoryError) as info:
        load_inventory(_inventory(tmp_path, text))
    assert info.value.line == 6
    assert "is not a valid host name or IP address" in info.value.message


@pytest.mark.parametrize("host", ["router-mine", "r1.example.net.", "192.168.0.1", "2001:db8::1", "[::1]"])
def test_ssh_host_accepts_names_and_addresses(host: str, tmp_path: Path) -> None:
    text = f"hosts:\n  r1:\n    role: router\n    connect:\n      ssh:\n        host: {host!r}\n"
    assert load_inventory(_inventory(tmp_path, text)).hosts["r1"].connect.ssh is not None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("user", "root$(id)", "is not a valid user name"),
        ("proxy_jump", "root@m$(id):22", "is not a jump host"),
        ("proxy_jump", "bastion,%h", "is not a jump host"),
    ],
)
def test_ssh_user_and_jump_hosts_are_validated(field: str, value: str, message: str, tmp_path: Path) -> None:
    text = f"hosts:\n  r1:\n    role: router\n    connect:\n      ssh:\n        {field}: {value!r}\n"
    with pytest.raises(InventoryError) as info:
        load_inventory(_inventory(tmp_path, text))
    assert (info.value.line, message in info.value.message) == (6, True)


def test_host_names_are_host_names(tmp_path: Path) -> None:
    text = "hosts:\n  'r1;reboot':\n    role: node\n    connect: {local: true}\n"
    with pytest.raises(InventoryError) as info:
        load_inventory(_inventory(tmp_path, text))
    assert info.value.line == 2
    assert "may use only letters, digits" in info.value.message


def test_run_shows_every_inventory_problem(tmp_path: Path) -> None:
    from bgpdoctor.cli import main

    path = _inventory(
        tmp_path,
        """\
        hosts:
          sakamoto:
            role: node
            connect: {ssh: {host: "m$(reboot)"}}
            pod_cidr: [10.42.0.0/24]
            peers:
              - {address: 192.168.6.300, asn: 64512}
        """,
    )
    result = CliRunner().invoke(main, ["run", "-i", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"bgpdoctor: {path}:4: hosts.sakamoto.connect.ssh.host: 'm$(reboot)' is not a valid host name "
        "or IP address (letters, digits, '-', '_' and '.' only, or an IP literal)",
        f"{path}:5: hosts.sakamoto: unknown field 'pod_cidr' (did you mean 'pod_cidrs'?)",
        f"{path}:7: hosts.sakamoto.peers[0].address: '192.168.6.300' is not a valid IPv4 address",
    ]


# -- lint: gobgpd typos and valid IPv6 ----------------------------------------------------------
GOBGP_TYPOS = {
    "router-id": (4, "router-id '10.0.0' is not an IPv4 address"),
    "neighbors-table": (6, "[neighbors] is a table; write [[neighbors]] for each neighbor"),
    "no-address": (6, "neighbor without neighbor-address"),
}


@pytest.mark.parametrize("case", sorted(GOBGP_TYPOS))
def test_gobgp_typo_is_one_line_and_the_rest_is_still_linted(case: str) -> None:
    bad = HOSTILE / "gobgp-typos" / case
    res = lint_paths([str(bad), str(LAB_HEALTHY)])
    errors = [(os.path.relpath(p.file, bad), p.line, p.message) for p in res.problems]
    errors = [e for e, p in zip(errors, res.problems, strict=True) if p.kind == "error"]
    line, text = GOBGP_TYPOS[case]
    assert len(errors) == 1
    assert errors[0][:2] == ("gobgpd.toml", line) and text in errors[0][2]
    assert res.sessions_checked >= 4  # the healthy lab next to it was still judged
    assert sum(1 for f in res.files if f.startswith(str(LAB_HEALTHY))) == 4


def test_gobgp_typos_on_the_command_line_exit_2_without_a_traceback() -> None:
    result = CliRunner().invoke(lint, [str(HOSTILE / "gobgp-typos")])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("case", "why"),
    [("ipv6-neighbor", "IPv6"), ("unnumbered", "unnumbered"), ("ipv6-local", "IPv6")],
)
def test_valid_ipv6_and_unnumbered_gobgp_neighbors_are_accepted(case: str, why: str) -> None:
    res = lint_paths([str(HOSTILE / "gobgp-valid" / case)])
    assert [p for p in res.problems if p.kind == "error"] == []
    assert res.unchecked.get(why) == 1
    assert any(why in p.message and p.kind == "note" for p in res.problems)
    assert res.files == {str(HOSTILE / "gobgp-valid" / case / "gobgpd.toml"): "gobgp"}


def test_bird_ipv6_session_keeps_the_ipv4_one_paired() -> None:
    router = HOSTILE / "bird-ipv6" / "router"
    res = lint_paths([str(router)])
    assert res.files == {str(router / "bird.conf"): "bird2"}
    assert res.unchecked == {"IPv6": 1, "one end missing": 1}


# -- lint: odd files -----------------------------------------------------------------------------
@pytest.fixture
def fifo_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory with a FIFO next to a real config. If lint opens the FIFO (the old bug), a
    writer opens it after 3 s so the test fails instead of hanging forever."""
    for f in (LAB_HEALTHY / "router-mine").iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    fifo = tmp_path / "a-fifo.conf"
    os.mkfifo(fifo)
    stop = threading.Event()

    def unblock() -> None:
        deadline = time.monotonic() + 3
        while not stop.wait(0.05):
            if time.monotonic() < deadline:
                continue
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue  # nobody reading it (yet)
            os.close(fd)
            return

    writer = threading.Thread(target=unblock, daemon=True)
    writer.start()
    yield tmp_path
    stop.set()
    writer.join(1)


def test_fifo_in_a_directory_is_skipped_never_opened(fifo_dir: Path) -> None:
    start = time.monotonic()
    res = lint_paths([str(fifo_dir)])
    assert time.monotonic() - start < 2.5
    assert res.skipped == {str(fifo_dir / "a-fifo.conf"): "not a regular file"}
    assert list(res.files.values()) == ["bird2"]
    result = CliRunner().invoke(lint, [str(fifo_dir / "a-fifo.conf")])
    assert result.exit_code == 2
    assert "a FIFO, not a regular file: skipped" in result.output


def test_docs_code_and_scripts_are_not_configs() -> None:
    res = lint_paths([str(HOSTILE / "not-config")])
    assert res.problems == []
    assert sorted(os.path.basename(p) for p, why in res.skipped.items() if why == "not a config") == [
        "README.md",
        "deploy",
        "pyproject.toml",
        "tool.py",
    ]
    result = CliRunner().invoke(lint, [str(HOSTILE / "not-config")])
    assert result.exit_code == 3
    assert result.output.splitlines()[-1].startswith("4 files: 0 linted, 4 not a config; 0 sessions checked")


def test_lint_exits_3_when_no_session_could_be_checked(tmp_path: Path) -> None:
    (tmp_path / "bird.conf").write_bytes((LAB_HEALTHY / "router-mine" / "bird.conf").read_bytes())
    result = CliRunner().invoke(lint, [str(tmp_path)])
    assert result.exit_code == 3
    assert "0 sessions checked, 3 could not be (3 one end missing)" in result.output
    whole = CliRunner().invoke(lint, [str(LAB_HEALTHY)])
    assert (whole.exit_code, "4 sessions checked;" in whole.output) == (0, True)


def test_lint_never_prints_a_password() -> None:
    result = CliRunner().invoke(lint, [str(HOSTILE / "secrets"), "-o", "json"])
    text = CliRunner().invoke(lint, [str(HOSTILE / "secrets")]).output
    for out in (result.output, text):
        assert "canary" not in out
        assert "<redacted>" in out
    assert "secrets/bird.conf:7: BIRD: syntax error: missing ';' after '<redacted>'" in text


def _write_chain(root: Path, n: int) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import lint_scale
    finally:
        sys.path.pop(0)
    lint_scale.write_routers(root, n)


def test_lint_work_grows_linearly_with_the_number_of_configs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts address hash lookups (deterministic, unlike time): the old per-peer scan of every
    speaker made them grow with N squared (x16 for x4 configs); linear work gives x4."""
    calls = [0]
    original = ipaddress.IPv4Address.__hash__

    def counting(self: ipaddress.IPv4Address) -> int:
        calls[0] += 1
        return original(self)

    counts = []
    for n in (100, 400):
        root = tmp_path / str(n)
        root.mkdir()
        _write_chain(root, n)
        monkeypatch.setattr(ipaddress.IPv4Address, "__hash__", counting)
        calls[0] = 0
        res = lint_paths([str(root)])
        monkeypatch.setattr(ipaddress.IPv4Address, "__hash__", original)
        assert (len(res.files), res.findings) == (n, [])
        counts.append(calls[0])
    assert counts[1] / counts[0] < 6, counts
    assert lint_paths([str(tmp_path / "400")]).sessions_checked == 399
