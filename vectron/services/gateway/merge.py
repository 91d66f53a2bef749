"""Merging per-shard answers into one: search top-k, scroll pages, get order.

Owns the rules that make a sharded answer equal the answer of one collection:
the exact global top-k of the per-shard top-k lists (best first, by the
distance's order), a scroll page in the store's id order with the next offset
the smallest id not returned, and ``get`` answering in the order asked.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from vectron.limits import Distance
from vectron.services.gateway.workers import Hit, Point
from vectron.wire import PointId, id_order

__all__ = ["top_k", "scroll_page", "in_order"]


def top_k(hits: Iterable[Hit], k: int, distance: str, score_threshold: float | None = None) -> list[Hit]:
    """The exact top-k of the union of per-shard top-k lists (best first)."""
    higher = Distance(distance).higher_is_better
    if score_threshold is not None:
        thr = score_threshold
        hits = [h for h in hits if (h.score >= thr if higher else h.score <= thr)]
    pick = heapq.nlargest if higher else heapq.nsmallest
    return pick(k, hits, key=lambda h: h.score)


def scroll_page(pages: Iterable[tuple[list[Point], PointId | None]], limit: int) -> tuple[list[Point], PointId | None]:
    """One page of ``limit`` points in id order from every shard's page, and where the next
    page starts (the smallest id not returned, or None at the end)."""
    merged: list[Point] = []
    nexts: list[PointId] = []
    for points, nxt in pages:
        merged.extend(points)
        if nxt is not None:
            nexts.append(nxt)
    merged.sort(key=lambda p: id_order(p.id))
    page, rest = merged[:limit], merged[limit:]
    candidates = [p.id for p in rest[:1]] + nexts
    return page, (min(candidates, key=id_order) if candidates else None)


def in_order(found: Iterable[Point], asked: Sequence[PointId]) -> list[Point]:
    """The points found, in the order their ids were asked (each once; missing ids absent)."""
    by_id = {id_order(p.id): p for p in found}
    out, emitted = [], set()
    for pid in asked:
        key = id_order(pid)
        if key in by_id and key not in emitted:
            out.append(by_id[key])
            emitted.add(key)
    return out
