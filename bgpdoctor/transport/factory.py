"""Pick and open the transport for an inventory host (SSH, network namespace, local, or a pod)."""

from __future__ import annotations

import logging

from bgpdoctor.errors import UsageError
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.transport.base import Connection


def open_connection(
    name: str, inv: Inventory, accept_new_host_keys: bool = False, log: logging.Logger | None = None
) -> Connection:
    """Open a connection to inventory host `name`; raise HostError when it cannot be used.

    SSH hosts get the inventory's ``defaults.ssh`` (host fields win, then ~/.ssh/config, then the
    defaults), may jump via other inventory hosts, and are checked by the lab guard when the
    inventory has ``lab:``. ``connect: {pod: ...}`` runs commands by the Kubernetes exec API in the
    node's agent pod (bgpdoctor.kube.podexec.open_pod_connection).
    Example: ``open_connection("router-mine", inv).run("birdc show status")``
    -> ``CommandResult(exit_status=0, ...)``.
    """
    host = inv.hosts.get(name)
    if host is None:
        raise UsageError(f"unknown host '{name}' (known: {', '.join(inv.hosts)})")
    connect = host.connect
    if connect.ssh is not None:
        from bgpdoctor.transport.ssh import SshConnection

        jump_hosts = {n: h.connect.ssh for n, h in inv.hosts.items() if h.connect.ssh is not None}
        conn = SshConnection(
            name,
            connect.ssh,
            inv.defaults.ssh,
            accept_new_host_keys or inv.defaults.accept_new_host_keys,
            log or logging.getLogger("bgpdoctor.ssh"),
            jump_hosts=jump_hosts,
            lab_prefix=inv.lab.interface_prefix if inv.lab is not None else None,
        )
        conn.connect()
        return conn
    if connect.pod is not None:
        from bgpdoctor.kube.podexec import open_pod_connection

        return open_pod_connection(name, connect.pod, host.speaker)
    if connect.netns is not None:
        from bgpdoctor.transport.netns import NetnsConnection

        return NetnsConnection(name, connect.netns)
    from bgpdoctor.transport.local import LocalConnection

    return LocalConnection(name)
