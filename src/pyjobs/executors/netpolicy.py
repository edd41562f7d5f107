"""What a network-on run's private network lets through, and its name-service config.

The run's namespace reaches the outside only through slirp4netns, which refuses the
host's loopback. These routes, set in the namespace before the program starts (it has no
capability to change them), also make the host's own addresses, link-local/metadata
services and all but DNS on slirp's resolver address unreachable.
"""

import contextlib
import ipaddress
from pathlib import Path

__all__ = [
    "DNS_ADDRESS",
    "GATEWAY_ADDRESS",
    "METADATA_NETWORK",
    "host_addresses",
    "resolv_conf",
    "route_commands",
]

# slirp4netns' defaults for its 10.0.2.0/24 network: the gateway stands for the host
# (its loopback, refused here), and the DNS address forwards to the host's resolver.
GATEWAY_ADDRESS = "10.0.2.2"
DNS_ADDRESS = "10.0.2.3"
METADATA_NETWORK = "169.254.0.0/16"


def resolv_conf(host: Path = Path("/etc/resolv.conf")) -> bytes:
    """The sandbox's resolv.conf: slirp's DNS forwarder, with the host's search domains."""
    lines = [f"nameserver {DNS_ADDRESS}\n"]
    with contextlib.suppress(OSError):
        for line in host.read_text(errors="replace").splitlines():
            if line.split()[:1] in (["search"], ["domain"]):
                lines.append(line.strip() + "\n")
    return "".join(lines).encode()


def host_addresses(fib_trie: str) -> list[str]:
    """The host's own non-loopback IPv4 addresses, from ``/proc/net/fib_trie`` text."""
    found: dict[str, None] = {}
    last = None
    for line in fib_trie.splitlines():
        text = line.strip()
        if text.startswith("|--"):
            last = text[3:].strip()
        elif last is not None and text.split() == ["/32", "host", "LOCAL"]:
            address = ipaddress.IPv4Address(last)
            if not address.is_loopback:
                found[str(address)] = None
    return list(found)


def route_commands(addresses: list[str]) -> bytes:
    """``ip -batch`` input that cuts the namespace off from the host and metadata services."""
    commands = [
        # slirp forwards any port of its DNS address to the host's resolver, so only
        # DNS may go there: with a loopback resolver, other ports would be the host's.
        f"rule add priority 100 to {DNS_ADDRESS} ipproto udp dport 53 lookup main",
        f"rule add priority 101 to {DNS_ADDRESS} ipproto tcp dport 53 lookup main",
        f"rule add priority 102 to {DNS_ADDRESS} unreachable",
        f"route add unreachable {METADATA_NETWORK}",
        *(f"route add unreachable {address}/32" for address in addresses),
    ]
    return "".join(f"{command}\n" for command in commands).encode()
