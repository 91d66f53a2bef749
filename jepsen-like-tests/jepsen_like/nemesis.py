"""The nemesis: faults drawn from a seeded RNG, one at a time: inject, hold for a
few seconds, heal, let the cluster breathe, next. Every action is written to the
history (``type: "nemesis"``) and counted for the summary.

Faults by family (the ``--nemesis`` names):

- ``kill``: SIGKILL + restart of one random node, of the leader of a random
  group, or of a majority of the nodes;
- ``pause``: SIGSTOP/SIGCONT of one random node or of a group leader;
- ``partition`` (namespaces only): one node isolated, a group leader isolated,
  majority/minority halves, on 5 nodes a bridge (two halves that only the
  middle node connects) and a one-way cut;
- ``netem`` (namespaces and the netem qdisc only): delay and loss on every
  node's link;
- ``kill-all``: SIGKILL of every node at once, then all restarted;
- ``disk-full`` (loop-mounted filesystems only, see ``disk.py``): one node's
  (or a group leader's) filesystem filled to the last block, then freed; the
  heal notes whether the node survived and how soon its gateway was ready;
- ``clock`` (nodes started with ``clockshim/``): one node's wall clock set
  ahead or behind (30 s, 10 min or 2 h: beyond the default session lifetime),
  then back (a jump backwards or forwards).

A fault that leaves a majority of the nodes up and connected names the others
in its note as ``cut_off``: the availability checker expects the gateways of
the rest to keep acknowledging writes while it lasts.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from jepsen_like.disk import Disks
from jepsen_like.history import History
from jepsen_like.net import Network
from jepsen_like.nodes import Nodes

__all__ = ["FAMILIES", "TARGETED", "Nemesis"]

log = logging.getLogger("jepsen_like.nemesis")

FAMILIES = ("kill", "pause", "partition", "netem", "kill-all", "disk-full", "clock")
CLOCK_OFFSETS = (-7200, -600, -30, 30, 600, 7200)  # seconds
# targeted faults, only when named (not part of "all", so seeded schedules of "all" stay as they were)
TARGETED = ("leader-one-way",)


@dataclass
class Nemesis:
    nodes: Nodes
    network: Network | None
    history: History
    rng: random.Random
    families: list[str]
    netem: bool = False
    hold: tuple[float, float] = (2.0, 6.0)
    gap: tuple[float, float] = (1.0, 3.0)
    counts: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    killed: set[int] = field(default_factory=set)
    disks: Disks | None = None

    def available(self) -> list[str]:
        out = []
        for f in self.families:
            if f in ("partition", "netem", "leader-one-way") and self.network is None:
                continue
            if f == "netem" and not self.netem:
                continue
            if f == "disk-full" and self.disks is None:
                continue
            if f == "clock" and not self.nodes.skewable:
                continue
            out.append(f)
        return out

    def _n(self) -> int:
        return len(self.nodes.specs)

    def _leader_or_random(self) -> tuple[int, str]:
        leaders = self.nodes.leaders()
        if leaders:
            group = self.rng.choice(sorted(leaders))
            return leaders[group], f"leader of {group}"
        return self.rng.randrange(self._n()), "random (no leader known)"

    def _note(self, action: str, **fields: object) -> None:
        self.counts[action] += 1
        self.history.note("nemesis", action=action, **fields)
        log.info("nemesis: %s %s", action, " ".join(f"{k}={v}" for k, v in fields.items()))

    # -- one fault: returns its heal ---------------------------------------------------
    def inject(self, family: str) -> Callable[[], None]:
        n = self._n()
        if family == "kill":
            kind = self.rng.choice(["one", "leader", "majority"])
            if kind == "majority":
                victims = self.rng.sample(range(n), n // 2 + 1)
                why = "majority"
            elif kind == "leader":
                v, why = self._leader_or_random()
                victims = [v]
            else:
                victims, why = [self.rng.randrange(n)], "random"
            for v in victims:
                self.nodes.kill(v)
                self.killed.add(v)
            names = [self.nodes.specs[v].name for v in victims]
            self._note(f"kill-{kind}", nodes=names, why=why, **({} if kind == "majority" else {"cut_off": names}))
            return lambda: self._restart(victims)
        if family == "kill-all":
            victims = list(range(n))
            for v in victims:
                self.nodes.kill(v)
                self.killed.add(v)
            self._note("kill-all", nodes=[s.name for s in self.nodes.specs])
            return lambda: self._restart(victims)
        if family == "disk-full":
            assert self.disks is not None
            kind = self.rng.choice(["one", "leader"])
            v, why = self._leader_or_random() if kind == "leader" else (self.rng.randrange(n), "random")
            taken = self.disks.fill(v)
            name = self.nodes.specs[v].name
            self._note(f"disk-full-{kind}", node=name, why=why, ballast_mib=taken >> 20, cut_off=[name])
            return lambda: self._free_disk(v)
        if family == "clock":
            v = self.rng.randrange(n)
            offset = self.rng.choice(CLOCK_OFFSETS)
            self.nodes.set_clock_offset(v, offset)
            self._note("clock", node=self.nodes.specs[v].name, offset_s=offset)
            return lambda: self._reset_clock(v)
        if family == "pause":
            kind = self.rng.choice(["one", "leader"])
            v, why = self._leader_or_random() if kind == "leader" else (self.rng.randrange(n), "random")
            self.nodes.pause(v)
            self._note(f"pause-{kind}", node=self.nodes.specs[v].name, why=why, cut_off=[self.nodes.specs[v].name])
            return lambda: self._resume(v)
        if family == "partition":
            assert self.network is not None
            kinds = ["one", "leader", "halves"] + (["bridge", "one-way"] if n >= 5 else ["one-way"])
            kind = self.rng.choice(kinds)
            order = list(range(n))
            self.rng.shuffle(order)
            if kind in ("one", "leader"):
                v, why = self._leader_or_random() if kind == "leader" else (order[0], "random")
                sides = [[v], [x for x in range(n) if x != v]]
                self.network.partition(sides)
                desc = f"{self.nodes.specs[v].name} isolated ({why})"
                minority = [v]
            elif kind == "halves":
                k = n // 2
                sides = [order[:k], order[k:]]
                self.network.partition(sides)
                desc = " | ".join(",".join(self.nodes.specs[x].name for x in sorted(s)) for s in sides)
                minority = sides[0]
            elif kind == "bridge":
                mid, rest = order[0], order[1:]
                left, right = rest[: len(rest) // 2], rest[len(rest) // 2:]
                for a in left:
                    for b in right:
                        self.network.cut(a, b)
                        self.network.cut(b, a)
                desc = f"{','.join(self.nodes.specs[x].name for x in left)} <- {self.nodes.specs[mid].name} -> " \
                       f"{','.join(self.nodes.specs[x].name for x in right)}"
                minority = []  # no node is cut off from a majority, none is fully connected either
            else:  # one-way: a node hears nobody (its inbound is cut), can still send
                v = order[0]
                for x in range(n):
                    if x != v:
                        self.network.cut(x, v)
                desc = f"nobody reaches {self.nodes.specs[v].name} (it still sends)"
                minority = [v]
            cut_off = {"cut_off": [self.nodes.specs[x].name for x in minority]} if minority else {}
            self._note(f"partition-{kind}", partition=desc, **cut_off)
            return self._heal_network
        if family == "leader-one-way":
            # the leader of a shard group still sends (its appends reach the followers)
            # but hears nobody (their acks are lost): it cannot commit, steps down, and
            # the followers elect a leader that has its entries and commits them
            assert self.network is not None
            leaders = {g: v for g, v in self.nodes.leaders().items() if g.startswith("shard")} or self.nodes.leaders()
            if leaders:
                group = self.rng.choice(sorted(leaders))
                v, why = leaders[group], f"leader of {group}"
            else:
                v, why = self.rng.randrange(n), "random (no leader known)"
            for x in range(n):
                if x != v:
                    self.network.cut(x, v)
            name = self.nodes.specs[v].name
            self._note("partition-leader-one-way", partition=f"nobody reaches {name} ({why}; it still sends)", cut_off=[name])
            return self._heal_network
        if family == "netem":
            assert self.network is not None
            delay, loss = self.rng.choice([50, 100, 200]), self.rng.choice([0, 5, 20])
            for i in range(n):
                self.network.netem(i, "delay", f"{delay}ms", f"{delay // 2}ms", "loss", f"{loss}%")
            self._note("netem", delay_ms=delay, loss_pct=loss)
            return self._heal_network
        raise ValueError(f"unknown nemesis {family!r}")

    def _restart(self, victims: list[int]) -> None:
        for v in victims:
            self.nodes.start(v)
            self.killed.discard(v)
        self._note("restart", nodes=[self.nodes.specs[v].name for v in victims])
        left = self.nodes.wait_ready(victims, timeout=90)
        if left:
            log.warning("not ready 90 s after restart: %s", [self.nodes.specs[v].name for v in left])

    def _resume(self, v: int) -> None:
        self.nodes.resume(v)
        self._note("resume", node=self.nodes.specs[v].name)

    def _free_disk(self, v: int, timeout: float = 60.0) -> None:
        """Free the disk, then note whether the node survived the full disk and how long
        its gateway took to be ready (check_disk_full judges this note)."""
        assert self.disks is not None
        self.disks.free(v)
        began = time.monotonic()
        alive = self.nodes.alive(v)
        ready_s = None
        while alive and time.monotonic() - began < timeout:
            if self.nodes.ready(v):
                ready_s = round(time.monotonic() - began, 1)
                break
            time.sleep(0.5)
            alive = self.nodes.alive(v)
        self._note("disk-freed", node=self.nodes.specs[v].name, alive=alive, ready_s=ready_s)
        if not alive:
            self.nodes.start(v)

    def _reset_clock(self, v: int) -> None:
        self.nodes.set_clock_offset(v, 0)
        self._note("clock-reset", node=self.nodes.specs[v].name)

    def _heal_network(self) -> None:
        if self.network is not None:
            self.network.heal()
            self.network.netem_clear()
        self._note("heal-network")

    # -- the schedule ------------------------------------------------------------------
    def run(self, until: float) -> None:
        fams = self.available()
        if not fams:
            return
        bag: list[str] = []
        while not self.stop.is_set() and time.monotonic() < until:
            if self.stop.wait(self.rng.uniform(*self.gap)):
                break
            if time.monotonic() >= until:
                break
            if not bag:  # every family once per round, in a seeded order
                bag = list(fams)
                self.rng.shuffle(bag)
            heal = self.inject(bag.pop())
            try:
                self.stop.wait(min(self.rng.uniform(*self.hold), max(0.5, until - time.monotonic())))
            finally:
                heal()

    def start(self, until: float) -> None:
        self.thread = threading.Thread(target=self._guarded, args=(until,), name="nemesis", daemon=True)
        self.thread.start()

    def _guarded(self, until: float) -> None:
        try:
            self.run(until)
        except Exception:  # counted: the run is then reported invalid
            log.exception("nemesis crashed")
            self.counts["nemesis-crash"] += 1

    def heal_all(self) -> None:
        """Undo everything: network, pauses, dead nodes."""
        self.stop.set()
        if self.thread is not None:
            self.thread.join(120)
        if self.network is not None:
            self.network.heal()
            self.network.netem_clear()
        if self.disks is not None:
            self.disks.free_all()
        if self.nodes.skewable:
            for v in range(self._n()):
                self.nodes.set_clock_offset(v, 0)
        for v in sorted(self.nodes.paused):
            self.nodes.resume(v)
        dead = [i for i in range(self._n()) if not self.nodes.alive(i)]
        for v in dead:
            self.nodes.start(v)
        self.history.note("nemesis", action="heal-all", restarted=[self.nodes.specs[v].name for v in dead])
