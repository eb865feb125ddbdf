"""Who can reach a serve container on its host (compose and `dockyard up`): `--bind` must be an IP
address (the engines publish on addresses, not names), and the target's host network and privilege
(knowledge/deploy.toml, e.g. a TPU VM's container) are said out loud, with `--bind` and a host port
refused there because the server then listens on every interface of the host whatever they say.

The server has no authentication: listening beyond loopback is always a warning."""

from __future__ import annotations

import ipaddress

from dockyard.deploy.model import Deployment
from dockyard.errors import InputError

LOOPBACK = "127.0.0.1"


def bind_address(value: str, option: str = "--bind") -> str:
    """An IPv4 or IPv6 address, as the engine takes it."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        name = " (a name: the engine publishes on an address; localhost is 127.0.0.1)" if value.isprintable() else ""
        raise InputError(f"{option} {value!r}: not an IP address{name}",
                         "use 127.0.0.1 (this machine only, the default), ::1, or 0.0.0.0 for every interface") \
            from None


def publish_spec(bind: str, host_port: int, port: int) -> str:
    """`ADDRESS:HOST_PORT:PORT` for `--publish` and compose `ports` (an IPv6 address in brackets)."""
    host = f"[{bind}]" if ipaddress.ip_address(bind).version == 6 else bind
    return f"{host}:{host_port}:{port}"


def exposure(deployment: Deployment, bind: str, bind_given: bool, port_flag: str | None) -> list[str]:
    """Warnings about who can reach the server. InputError when `--bind` or a host port (`port_flag`, the
    option given) cannot apply: with the host's network the container publishes nothing."""
    facts = deployment.devices
    why = "; ".join(facts.sources)
    if facts.host_network:
        if bind_given:
            raise InputError(f"--bind {bind}: target {facts.target} runs the container with the host's network "
                             f"({why}), so the server listens on every interface of the host; --bind cannot apply",
                             "leave --bind out, and firewall the port or put an authenticating proxy in front")
        if port_flag:
            raise InputError(f"{port_flag}: target {facts.target} runs the container with the host's network, so "
                             f"the server's own port ({deployment.port}, [serve].port) is the host's port",
                             f"leave {port_flag} out, or set [serve].port in the spec")
        return [f"target {facts.target}: the container runs {'privileged, ' if facts.privileged else ''}with the "
                f"host's network ({why}); the server listens on port {deployment.port} of every interface of this "
                "host, without authentication: firewall the port or put an authenticating proxy in front"]
    warnings = []
    if facts.privileged:
        warnings.append(f"target {facts.target}: the container runs privileged ({why})")
    if not ipaddress.ip_address(bind).is_loopback:
        warnings.append(f"--bind {bind}: the server is reachable from other machines, without authentication; "
                        "put an authenticating proxy in front, or keep the default 127.0.0.1")
    return warnings
