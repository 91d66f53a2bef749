"""`vectron points ...`: upsert (resumable, from JSON lines or .npy), get, delete,
count and scroll."""

from __future__ import annotations

import json
import pathlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click
import numpy as np

from vectron.cli_common import RemoteGroup, client, emit, output_of, parse_id, parse_json, say
from vectron.errors import VectronError

__all__ = ["points"]


@click.group(cls=RemoteGroup)
def points() -> None:
    """Upsert, get, delete, count and scroll points."""


@dataclass
class Batch:
    """Points read from the input, where each came from, and the position after them."""

    position: int  # lines (or rows) of the input done once this batch is written
    points: list[dict[str, Any]]
    origins: list[str]  # "FILE:LINE" (or "FILE row N") of each point


def _jsonl_batches(path: pathlib.Path, start: int, batch: int) -> Iterator[Batch]:
    """Batches from a JSON-lines file, skipping ``start`` lines."""
    out = Batch(0, [], [])
    n = 0
    with path.open() as f:
        for n, line in enumerate(f, 1):
            if n <= start or not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise click.ClickException(f"{path}:{n}: not JSON: {exc}") from None
            if not isinstance(obj, dict) or "id" not in obj or "vector" not in obj:
                raise click.ClickException(f'{path}:{n}: expected {{"id": .., "vector": [..], "payload": {{..}}}}')
            out.points.append(obj)
            out.origins.append(f"{path}:{n}")
            if len(out.points) == batch:
                out.position = n
                yield out
                out = Batch(0, [], [])
    if out.points:
        out.position = n
        yield out


def _npy_batches(path: pathlib.Path, payloads: pathlib.Path | None, id_offset: int, start: int, batch: int) -> Iterator[Batch]:
    vectors = np.load(path, mmap_mode="r")
    if vectors.ndim != 2:
        raise click.ClickException(f"{path}: expected a 2-d array, got shape {vectors.shape}")
    pl: list[Any] | None = None
    if payloads is not None:
        pl = [json.loads(line) if line.strip() else None for line in payloads.read_text().splitlines()]
        if len(pl) != len(vectors):
            raise click.ClickException(f"{payloads}: {len(pl)} lines for {len(vectors)} vectors")
    for lo in range(start, len(vectors), batch):
        hi = min(lo + batch, len(vectors))
        yield Batch(hi, [
            {"id": id_offset + i, "vector": vectors[i].tolist(), **({"payload": pl[i]} if pl and pl[i] is not None else {})}
            for i in range(lo, hi)
        ], [f"{path} row {i}" + (f" ({payloads}:{i + 1})" if payloads else "") for i in range(lo, hi)])


_POINT_FIELD = re.compile(r"^points\[(\d+)\]")


def _where(batch: Batch, exc: VectronError) -> str:
    """The input line the server's error is about (its field names the point), else the batch's lines."""
    m = _POINT_FIELD.match(getattr(exc, "field", None) or "")
    if m and int(m.group(1)) < len(batch.origins):
        return batch.origins[int(m.group(1))]
    return f"the batch {batch.origins[0]} .. {batch.origins[-1]}"


@points.command("upsert")
@click.argument("collection")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
@click.option("--payloads", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path), default=None,
              help=".npy input: a JSON-lines file with one payload per vector")
@click.option("--id-offset", type=int, default=0, show_default=True, help=".npy input: the id of the first row")
@click.option("--restart", is_flag=True, help="ignore the progress of an earlier interrupted run")
@click.pass_context
def points_upsert(ctx: click.Context, collection: str, file: pathlib.Path, batch_size: int, payloads: pathlib.Path | None,
                  id_offset: int, restart: bool) -> None:
    """Upsert points from FILE: JSON lines ({"id", "vector", "payload"}) or a .npy matrix.

    Progress is kept beside FILE after every batch, so a run stopped by an
    error or Ctrl-C continues where it stopped when run again (--restart starts over)."""
    progress = file.with_name(f".{file.name}.{collection}.progress")
    unit = "rows" if file.suffix == ".npy" else "lines"
    done = 0
    if progress.exists() and not restart:
        done = int(progress.read_text().strip() or 0)
        if done:
            click.echo(f"resuming after {done} {unit} (--restart to start over)", err=True)
    if file.suffix == ".npy":
        total = int(np.load(file, mmap_mode="r").shape[0])
        batches = _npy_batches(file, payloads, id_offset, done, batch_size)
    else:
        with file.open() as f:
            total = sum(1 for _ in f)
        batches = _jsonl_batches(file, done, batch_size)
    written = 0
    resume = f"run the same command again to resume after {{done}} {unit} (progress kept in {progress})"
    try:
        with client(ctx) as c, click.progressbar(length=max(total - done, 0), label=f"upserting into {collection}", file=sys.stderr) as bar:
            for batch in batches:
                try:
                    written += c.upsert(collection, batch.points)
                except VectronError as exc:
                    field = f" (field {exc.field})" if exc.field else ""
                    raise click.ClickException(
                        f"{_where(batch, exc)}: {exc.code}: {exc.message}{field}; " + resume.format(done=done)) from None
                bar.update(batch.position - done)
                done = batch.position
                progress.write_text(str(done))
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted after {written} points: " + resume.format(done=done), err=True)
        ctx.exit(130)
    progress.unlink(missing_ok=True)
    say(ctx, f"upserted {written} points into {collection}", upserted=written)


def _point_row(p: Any, with_vector: bool) -> dict[str, Any]:
    return {"id": p.id, "payload": p.payload, **({"vector": p.vector} if with_vector else {})}


@points.command("get")
@click.argument("collection")
@click.argument("ids", nargs=-1, required=True)
@click.option("--with-vector", is_flag=True)
@click.pass_context
def points_get(ctx: click.Context, collection: str, ids: tuple[str, ...], with_vector: bool) -> None:
    """Print points by id (digits are integer ids); says which ids do not exist."""
    wanted = [parse_id(i) for i in ids]
    with client(ctx) as c:
        got = c.get(collection, wanted, with_vector=with_vector)
    emit(ctx, [_point_row(p, with_vector) for p in got], ["id", "payload", *(["vector"] if with_vector else [])])
    found = {p.id for p in got}
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        click.echo(f"not found in {collection}: {', '.join(missing)}", err=True)


@points.command("delete")
@click.argument("collection")
@click.argument("ids", nargs=-1)
@click.option("--filter", "filter_json", default=None, help="delete every point matching this JSON filter instead of IDS")
@click.pass_context
def points_delete(ctx: click.Context, collection: str, ids: tuple[str, ...], filter_json: str | None) -> None:
    """Delete points by id, or every point matching --filter."""
    if bool(ids) == bool(filter_json):
        raise click.UsageError("give either IDS or --filter")
    with client(ctx) as c:
        if ids:
            n = c.delete(collection, [parse_id(i) for i in ids])
        else:
            n = c.delete(collection, filter=parse_json(filter_json or "", "--filter"))
    say(ctx, f"deleted {n} points from {collection}", deleted=n)


@points.command("count")
@click.argument("collection")
@click.option("--filter", "filter_json", default=None, help="count only points matching this JSON filter")
@click.pass_context
def points_count(ctx: click.Context, collection: str, filter_json: str | None) -> None:
    """How many points COLLECTION holds (matching --filter)."""
    flt = parse_json(filter_json, "--filter") if filter_json else None
    with client(ctx) as c:
        n = c.count(collection, flt)
    say(ctx, str(n), count=n)


@points.command("scroll")
@click.argument("collection")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="points per page")
@click.option("--offset", default=None, help="start at this id (the `next` of the previous page)")
@click.option("--filter", "filter_json", default=None, help="only points matching this JSON filter")
@click.option("--with-vector", is_flag=True)
@click.pass_context
def points_scroll(ctx: click.Context, collection: str, limit: int, offset: str | None, filter_json: str | None, with_vector: bool) -> None:
    """Page through the points in id order; prints the offset of the next page."""
    flt = parse_json(filter_json, "--filter") if filter_json else None
    with client(ctx) as c:
        page, nxt = c.scroll(collection, limit=limit, offset=parse_id(offset) if offset is not None else None, filter=flt,
                             with_vector=with_vector)
    rows = [_point_row(p, with_vector) for p in page]
    if output_of(ctx) == "json":
        click.echo(json.dumps({"points": rows, "next_offset": nxt}))
        return
    emit(ctx, rows, ["id", "payload", *(["vector"] if with_vector else [])], empty="no points")
    click.echo(f"next page: --offset {nxt}" if nxt is not None else "(last page)", err=True)
