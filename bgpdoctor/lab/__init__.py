"""The bgpdoctor network-namespace lab: two sites, BIRD routers, Cilium-like GoBGP nodes, faults.

from bgpdoctor.lab import lab_up, lab_down, lab_health, lab_exec, list_faults
info = lab_up("/tmp/lab", faults=["mtu-blackhole"])   # LabInfo(inventory_path=..., ...)
"""

from bgpdoctor.lab.api import (
    LabInfo,
    lab_down,
    lab_exec,
    lab_health,
    lab_settings,
    lab_status,
    lab_up,
    list_faults,
)
from bgpdoctor.lab.faults import Fault

__all__ = [
    "Fault",
    "LabInfo",
    "lab_down",
    "lab_exec",
    "lab_health",
    "lab_settings",
    "lab_status",
    "lab_up",
    "list_faults",
]
