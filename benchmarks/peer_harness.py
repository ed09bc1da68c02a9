"""Benchmark: collecting one fleet with bgpdoctor, plain OpenSSH and Ansible ad hoc, side by side.

Usage (root): python3 benchmarks/peer_harness.py [N ...] [--rounds 5] [--no-ansible] [--src DIR]

Brings up a fleet of N hosts, each a network namespace running its own sshd with its own ed25519
host key, on a bridge this script creates (bph-br, 172.31.232.0/22; nothing leaves it). Then, in
interleaved rounds (the order rotates each round), the same information is collected from every
host by:
- plain OpenSSH: `xargs -P N ssh HOST 'commands'`, with the key exchange bgpdoctor's client uses;
- Ansible ad hoc: `ansible all -m shell -a 'commands' -f N` with pipelining, host keys checked,
  in its own venv (installed on first use with pip into /var/tmp/bgpdoctor-bench/ansible);
- bgpdoctor: `bgpdoctor run --no-mtu --no-capture -q -o json` on an inventory of the fleet.
The commands are bgpdoctor's own phase-1 commands for such a host, as its batch runs them
(engine.collect.batch_commands: one `ss` for two facts), each in a subshell for plain OpenSSH and
Ansible. --src DIR adds another tree's bgpdoctor ("bgpdoctor before") to the same rounds.
With $BGPDOCTOR_LAB_PREFIX and $BGPDOCTOR_LAB_MGMT_NET set, the fleet is named "<prefix>ph-..." and
addressed in that net instead (it must not be in use: take that lab down first).
Cold connections each time: no ControlMaster, host keys verified against a known_hosts file.
Each host has its own HOME, so sshd's bash does not run this machine's ~/.bashrc for every command
(here `pyenv init`, about 0.1 s of CPU per command, the same for all three tools).

Printed per N: median wall time, client CPU (this process's children) and host CPU per host (what
the fleet's sshd processes and their children used), and the ratios the goals are stated in:
Ansible / bgpdoctor on wall time (goal >= 5 at N=100), bgpdoctor / plain OpenSSH (goal <= 1.2), and
bgpdoctor's host CPU per host / plain's (goal <= 2). The fleet is torn down at the end, also on
Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_OWN_NET = os.environ.get("BGPDOCTOR_LAB_PREFIX") and os.environ.get("BGPDOCTOR_LAB_MGMT_NET")
PREFIX = f"{os.environ['BGPDOCTOR_LAB_PREFIX']}ph-" if _OWN_NET else "bph-"
BRIDGE = f"{PREFIX}br"
NET = ipaddress.IPv4Network(os.environ["BGPDOCTOR_LAB_MGMT_NET"] if _OWN_NET else "172.31.232.0/22")
ANSIBLE_VENV = Path("/var/tmp/bgpdoctor-bench/ansible")
KEX = "curve25519-sha256@libssh.org"


def sh(cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, shell=True, check=check, text=True, capture_output=True)


def address(i: int) -> str:
    return str(NET.network_address + 10 + i)


@dataclass
class Fleet:
    n: int
    folder: Path

    def ns(self, i: int) -> str:
        return f"{PREFIX}h{i}"

    @property
    def names(self) -> list[str]:
        return [f"h{i}" for i in range(self.n)]

    def up(self) -> None:
        gateway = NET.network_address + 1
        if sh(f"ip link show {BRIDGE}", check=False).returncode == 0:
            raise SystemExit(f"{BRIDGE} exists: another run is active, or run with --down first")
        used = sh("ip -o -4 addr show").stdout
        if any(ipaddress.IPv4Address(w.split("/")[0]) in NET for w in used.split() if _ipv4_cidr(w)):
            raise SystemExit(f"{NET} is already in use on this machine")
        sh(f"ip link add {BRIDGE} type bridge && ip addr add {gateway}/{NET.prefixlen} dev {BRIDGE}")
        sh(f"ip link set {BRIDGE} up")
        Path("/run/sshd").mkdir(exist_ok=True)
        sh(f"ssh-keygen -q -t ed25519 -N '' -f {self.folder}/client")
        known, ssh_config = [], [f"Host *\n  KexAlgorithms {KEX}\n  ConnectTimeout 5\n"]
        for i in range(self.n):
            ns, ip = self.ns(i), address(i)
            sh(f"ip netns add {ns}")
            sh(f"ip link add {PREFIX}v{i} type veth peer name eth0 netns {ns}")
            sh(f"ip link set {PREFIX}v{i} master {BRIDGE} up")
            sh(f"ip -n {ns} addr add {ip}/{NET.prefixlen} dev eth0")
            sh(f"ip -n {ns} link set eth0 up && ip -n {ns} link set lo up")
            home = self.folder / f"h{i}"
            home.mkdir()
            sh(f"ssh-keygen -q -t ed25519 -N '' -f {home}/host_key")
            shutil.copy(self.folder / "client.pub", home / "authorized_keys")
            (home / "sshd_config").write_text(
                f"ListenAddress {ip}\nHostKey {home}/host_key\nPidFile {home}/sshd.pid\n"
                f"AuthorizedKeysFile {home}/authorized_keys\nPermitRootLogin prohibit-password\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                "MaxStartups 1000:30:1000\nStrictModes no\n"
                # its own HOME, as a real host has: not this machine's ~/.bashrc for every command
                f"SetEnv HOME={home}\n",
                encoding="utf-8",
            )
            sh(f"ip netns exec {ns} /usr/sbin/sshd -f {home}/sshd_config")
            key = (home / "host_key.pub").read_text(encoding="utf-8").split()
            known.append(f"{ip} {key[0]} {key[1]}")
            ssh_config.append(
                f"Host h{i}\n  HostName {ip}\n  User root\n  IdentityFile {self.folder}/client\n"
                f"  UserKnownHostsFile {self.folder}/known_hosts\n  StrictHostKeyChecking yes\n"
                "  IdentitiesOnly yes\n"
            )
        (self.folder / "known_hosts").write_text("\n".join(known) + "\n", encoding="utf-8")
        (self.folder / "ssh_config").write_text("\n".join(ssh_config), encoding="utf-8")
        self._write_inventory()
        self._write_ansible_inventory()

    def _write_inventory(self) -> None:
        import yaml

        hosts = {
            f"h{i}": {
                "role": "node",
                "site": "fleet",
                "speaker": "none",
                "connect": {"ssh": {"host": address(i)}},
            }
            for i in range(self.n)
        }
        inventory = {
            "version": 1,
            "lab": {"interface_prefix": PREFIX},
            "defaults": {
                "ssh": {
                    "user": "root",
                    "identity_file": str(self.folder / "client"),
                    "known_hosts": str(self.folder / "known_hosts"),
                    "connect_timeout": 5,
                },
                "command_timeout": 10,
            },
            "sites": {"fleet": {"lan": str(NET)}},
            "hosts": hosts,
        }
        (self.folder / "inventory.yaml").write_text(
            yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8"
        )

    def _write_ansible_inventory(self) -> None:
        lines = ["[fleet]"] + [f"h{i} ansible_host={address(i)}" for i in range(self.n)]
        (self.folder / "hosts.ini").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (self.folder / "ansible.cfg").write_text(
            "[defaults]\nhost_key_checking = True\ngathering = explicit\n"
            "interpreter_python = /usr/bin/python3\n"
            f"remote_user = root\nprivate_key_file = {self.folder}/client\n"
            "[ssh_connection]\npipelining = True\n"
            f"ssh_args = -o ControlMaster=no -o IdentitiesOnly=yes -o KexAlgorithms={KEX} "
            f"-o UserKnownHostsFile={self.folder}/known_hosts\n",
            encoding="utf-8",
        )

    def host_cpu(self) -> float:
        """CPU seconds used so far by every sshd of the fleet and the children it has reaped."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for i in range(self.n):
            try:
                pid = int((self.folder / f"h{i}" / "sshd.pid").read_text(encoding="utf-8"))
                fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
            except (OSError, ValueError):
                continue
            total += sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
        return total

    def down(self) -> None:
        for i in range(self.n):
            pid_file = self.folder / f"h{i}" / "sshd.pid"
            if pid_file.exists():
                sh(f"kill {pid_file.read_text(encoding='utf-8').strip()}", check=False)
        teardown()


def _ipv4_cidr(word: str) -> bool:
    try:
        ipaddress.IPv4Interface(word)
    except ValueError:
        return False
    return "/" in word


def teardown() -> None:
    for line in sh("ip netns list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(PREFIX):
            sh(f"ip netns pids {name} | xargs -r kill", check=False)
            sh(f"ip netns del {name}", check=False)
    sh(f"ip link del {BRIDGE}", check=False)


def commands_script() -> str:
    """bgpdoctor's phase-1 commands for a node without a BGP daemon, run one after the other."""
    sys.path.insert(0, str(REPO))
    from bgpdoctor.engine.collect import batch_commands, fact_commands
    from bgpdoctor.inventory_model import Host

    host = Host.model_validate({"role": "node", "speaker": "none", "connect": {"local": True}})
    commands = batch_commands(fact_commands(host))
    # a subshell each: `command -v wg ... || exit 0` must not end the script
    return "; ".join(f"echo '## {fact}'; ( {cmd} )" for fact, cmd in commands.items())


def ensure_ansible() -> Path:
    ansible = ANSIBLE_VENV / "bin" / "ansible"
    if not ansible.exists():
        print(f"installing ansible-core into {ANSIBLE_VENV} (pip)", file=sys.stderr)
        sh(f"python3 -m venv {ANSIBLE_VENV} && {ANSIBLE_VENV}/bin/pip install -q ansible-core")
    return ansible


def runners(
    fleet: Fleet, script: str, ansible: Path | None, before: str | None = None
) -> dict[str, Callable[[], str]]:
    folder = fleet.folder
    out = folder / "out"
    out.mkdir(exist_ok=True)
    script_file = folder / "commands.sh"
    script_file.write_text(script + "\n", encoding="utf-8")

    def plain() -> str:
        names = " ".join(fleet.names)
        one = f'ssh -F {folder}/ssh_config -o BatchMode=yes "$1" sh < {script_file} > {out}/"$1".plain'
        return f"printf '%s\\n' {names} | xargs -P {fleet.n} -I{{}} sh -c {shlex.quote(one)} _ {{}}"

    def ansible_adhoc() -> str:
        assert ansible is not None
        return (
            f"ANSIBLE_CONFIG={folder}/ansible.cfg {ansible} all -i {folder}/hosts.ini -f {fleet.n} "
            f'-m shell -a "$(cat {script_file})" > {out}/ansible.txt'
        )

    def bgpdoctor(tree: Path = REPO, name: str = "bgpdoctor") -> str:
        return (
            f"cd {tree} && PYTHONPATH={tree} {sys.executable} -m bgpdoctor run -i {folder}/inventory.yaml "
            f"--no-mtu --no-capture -q -o json > {out}/{name}.json; rc=$?; [ $rc -ne 2 ] && [ $rc -ne 4 ]"
        )

    tools: dict[str, Callable[[], str]] = {"plain ssh": plain, "bgpdoctor": bgpdoctor}
    if before is not None:
        tools["bd before"] = lambda: bgpdoctor(Path(before), "bgpdoctor-before")
    if ansible is not None:
        tools["ansible"] = ansible_adhoc
    return tools


@dataclass
class Sample:
    wall: float
    client_cpu: float
    host_cpu: float


def measure(fleet: Fleet, command: str) -> Sample:
    before_children = os.times()
    host_before = fleet.host_cpu()
    start = time.perf_counter()
    done = subprocess.run(command, shell=True, text=True, capture_output=True, cwd=REPO)
    wall = time.perf_counter() - start
    time.sleep(0.3)  # let sshd reap its session children so their CPU is counted
    after_children = os.times()
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {command}\n{done.stderr[-2000:]}")
    client = (after_children.children_user - before_children.children_user) + (
        after_children.children_system - before_children.children_system
    )
    return Sample(wall, client, fleet.host_cpu() - host_before)


def check_outputs(fleet: Fleet) -> None:
    """Each tool really collected every host: a benchmark of failures would be meaningless."""
    out = fleet.folder / "out"
    for name in fleet.names:
        text = (out / f"{name}.plain").read_text(encoding="utf-8")
        if "## ip.addr" not in text or address(int(name[1:])) not in text:
            raise SystemExit(f"plain ssh: {name} returned no facts")
    report = (out / "bgpdoctor.json").read_text(encoding="utf-8")
    import json

    hosts = json.loads(report)["hosts"]
    unreachable = [h["name"] for h in hosts if not h["reachable"]]
    if len(hosts) != fleet.n or unreachable:
        raise SystemExit(f"bgpdoctor: {len(hosts)} hosts, unreachable: {unreachable[:5]}")
    ansible = out / "ansible.txt"
    if ansible.exists():
        ok = ansible.read_text(encoding="utf-8").count("| CHANGED |")
        if ok != fleet.n:
            raise SystemExit(f"ansible: {ok} of {fleet.n} hosts answered")


def bench(
    n: int, rounds: int, ansible: Path | None, keep: bool = False, before: str | None = None
) -> dict[str, list[Sample]]:
    folder = Path(tempfile.mkdtemp(prefix="bgpdoctor-fleet-"))
    fleet = Fleet(n, folder)
    try:
        t0 = time.perf_counter()
        fleet.up()
        print(f"N={n}: fleet up in {time.perf_counter() - t0:.1f} s ({folder})", file=sys.stderr)
        tools = runners(fleet, commands_script(), ansible, before)
        samples: dict[str, list[Sample]] = {name: [] for name in tools}
        order = list(tools)
        for r in range(rounds):
            for name in order[r % len(order) :] + order[: r % len(order)]:
                samples[name].append(measure(fleet, tools[name]()))
            check_outputs(fleet)
        return samples
    finally:
        if keep:
            print(f"kept: {folder}/inventory.yaml (remove with --down)", file=sys.stderr)
        else:
            fleet.down()
            shutil.rmtree(folder, ignore_errors=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[20, 50, 100])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-ansible", action="store_true")
    parser.add_argument("--down", action="store_true", help="only tear down a fleet left behind")
    parser.add_argument("--keep", action="store_true", help="leave the last fleet up (for profiling)")
    parser.add_argument("--src", help="another tree whose bgpdoctor runs in the same rounds (before)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces)")
    if args.down:
        teardown()
        return 0
    ansible = None if args.no_ansible else ensure_ansible()
    print(f"{'N':>4} {'tool':10} {'wall s':>7} {'client CPU s':>12} {'host CPU ms/host':>16}")
    for n in args.sizes:
        samples = bench(n, args.rounds, ansible, keep=args.keep and n == args.sizes[-1], before=args.src)
        figures = {
            name: (
                median([s.wall for s in got]),
                median([s.client_cpu for s in got]),
                median([s.host_cpu for s in got]) * 1000 / n,
            )
            for name, got in samples.items()
        }
        for name, (wall, client, host) in figures.items():
            print(f"{n:>4} {name:10} {wall:7.2f} {client:12.2f} {host:16.1f}")
        bd, plain = figures["bgpdoctor"], figures["plain ssh"]
        line = f"{n:>4} ratios: bgpdoctor/plain wall {bd[0] / plain[0]:.2f} (goal <= 1.2), "
        line += f"host CPU per host {bd[2] / plain[2]:.2f} (goal <= 2)"
        if "bd before" in figures:
            line += f", before: host CPU per host {figures['bd before'][2] / plain[2]:.2f}"
        if "ansible" in figures:
            line += f", ansible/bgpdoctor wall {figures['ansible'][0] / bd[0]:.2f} (goal >= 5 at N=100)"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
