"""The network the nodes run on: one Linux network namespace per node, each
with a veth pair whose host end is on a bridge owned by the run; the clients
stay in the root namespace and reach the nodes through the bridge.

Partitions are blackhole routes inside the nodes' namespaces (``ip route add
blackhole <peer>/32``): a route in A's namespace towards B cuts A -> B, one in
each cuts both ways. Clients in the root namespace are never cut off, so a
client of an isolated node sees what a real client would: a node that cannot
reach its peers. This needs only iproute2 (no iptables, nft or tc qdiscs, which
this kernel may lack). Packet delay and loss need the ``netem`` qdisc:
:func:`netem_available` probes it.

Every name carries the run's tag, and :meth:`Network.teardown` removes all of
it; it is safe to call twice and after a partial setup.
"""

from __future__ import annotations

import ipaddress
import logging
import subprocess
from dataclasses import dataclass, field

__all__ = ["Network", "NetworkUnavailable", "netem_available", "pick_subnet"]

log = logging.getLogger("jepsen_like.net")


class NetworkUnavailable(RuntimeError):
    """Namespaces cannot be made here (not root, no iproute2, no netns support)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=False)
    except OSError as exc:  # no iproute2
        raise NetworkUnavailable(f"cannot run ip: {exc}") from None
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def pick_subnet(candidates: tuple[str, ...] = ("10.213.77.0/24", "10.213.78.0/24", "10.231.19.0/24", "172.31.213.0/24")) -> str:
    """A private /24 that overlaps no address or route of the host."""
    used: list[ipaddress.IPv4Network] = []
    out = _ip("-4", "-o", "addr", "show", check=False).stdout + _ip("-4", "route", "show", "table", "all", check=False).stdout
    for tok in out.split():
        if "/" in tok or tok.count(".") == 3:
            try:
                net = ipaddress.ip_network(tok, strict=False)
            except ValueError:
                continue
            if net.version == 4 and net.prefixlen > 0:
                used.append(net)
    for c in candidates:
        net = ipaddress.ip_network(c)
        if not any(net.overlaps(u) for u in used):
            return c
    raise NetworkUnavailable("no free private /24 among the candidates")


def netem_available() -> bool:
    """Can a netem qdisc be made? (probed on a throwaway dummy link)"""
    name = "vjnetemprobe"
    if _ip("link", "add", name, "type", "dummy", check=False).returncode != 0:
        return False
    try:
        proc = subprocess.run(["tc", "qdisc", "add", "dev", name, "root", "netem", "delay", "1ms"], capture_output=True, timeout=10, check=False)
        return proc.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        _ip("link", "del", name, check=False)


@dataclass
class Network:
    """``n`` namespaces ``vj<tag>n<i>`` at ``.11``, ``.12``, ... of ``subnet``; the bridge
    ``vj<tag>br`` holds ``.1`` in the root namespace."""

    tag: str
    n: int
    subnet: str
    namespaces: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    host_links: list[str] = field(default_factory=list)
    bridge: str = ""
    cuts: set[tuple[int, int]] = field(default_factory=set)
    netem_links: set[str] = field(default_factory=set)
    _created_bridge: bool = False

    def setup(self) -> None:
        net = ipaddress.ip_network(self.subnet)
        hosts = list(net.hosts())
        self.bridge = f"vj{self.tag}br"
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
        except RuntimeError as exc:
            raise NetworkUnavailable(str(exc)) from None
        self._created_bridge = True
        _ip("addr", "add", f"{hosts[0]}/{net.prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i in range(self.n):
            ns = f"vj{self.tag}n{i + 1}"
            host_end, ns_end = f"vj{self.tag}h{i + 1}", f"vj{self.tag}p{i + 1}"
            try:
                _ip("netns", "add", ns)
            except RuntimeError as exc:
                raise NetworkUnavailable(str(exc)) from None
            self.namespaces.append(ns)
            _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
            self.host_links.append(host_end)
            _ip("link", "set", ns_end, "netns", ns)
            _ip("link", "set", host_end, "master", self.bridge)
            _ip("link", "set", host_end, "up")
            addr = str(hosts[10 + i])
            _ip("-n", ns, "addr", "add", f"{addr}/{net.prefixlen}", "dev", ns_end)
            _ip("-n", ns, "link", "set", ns_end, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            self.addresses.append(addr)
        log.info("network %s: bridge %s, nodes %s", self.subnet, self.bridge, ", ".join(self.addresses))

    # -- partitions -----------------------------------------------------------------
    def cut(self, src: int, dst: int) -> None:
        """Drop everything node ``src`` sends to node ``dst`` (0-based)."""
        if (src, dst) in self.cuts:
            return
        _ip("-n", self.namespaces[src], "route", "add", "blackhole", f"{self.addresses[dst]}/32")
        self.cuts.add((src, dst))

    def partition(self, sides: list[list[int]]) -> None:
        """Cut every link between nodes on different sides, both ways."""
        side_of = {node: i for i, side in enumerate(sides) for node in side}
        for a in range(self.n):
            for b in range(self.n):
                if a != b and side_of.get(a) != side_of.get(b):
                    self.cut(a, b)

    def heal(self) -> None:
        for src, dst in sorted(self.cuts):
            _ip("-n", self.namespaces[src], "route", "del", "blackhole", f"{self.addresses[dst]}/32", check=False)
        self.cuts.clear()

    # -- netem ----------------------------------------------------------------------
    def netem(self, node: int, *args: str) -> None:
        """Shape what node ``node`` receives from the bridge (e.g. ``delay 50ms 20ms loss 10%``)."""
        link = self.host_links[node]
        subprocess.run(["tc", "qdisc", "replace", "dev", link, "root", "netem", *args], check=True, capture_output=True, timeout=10)
        self.netem_links.add(link)

    def netem_clear(self) -> None:
        for link in sorted(self.netem_links):
            subprocess.run(["tc", "qdisc", "del", "dev", link, "root"], capture_output=True, timeout=10, check=False)
        self.netem_links.clear()

    def exec_prefix(self, node: int) -> list[str]:
        return ["ip", "netns", "exec", self.namespaces[node]]

    def teardown(self) -> None:
        self.netem_clear()
        self.cuts.clear()
        for link in self.host_links:
            _ip("link", "del", link, check=False)
        self.host_links.clear()
        for ns in self.namespaces:
            _ip("netns", "del", ns, check=False)
        self.namespaces.clear()
        if self._created_bridge:
            _ip("link", "del", self.bridge, check=False)
            self._created_bridge = False
        log.info("network removed")
