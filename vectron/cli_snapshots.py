"""`vectron snapshot ...`: create, list, download, restore and delete collection snapshots
(see docs/backup.md)."""

from __future__ import annotations

import pathlib

import click

from vectron.cli_common import RemoteGroup, client, emit, emit_one, say
from vectron.limits import MAX_REPLICATION, MAX_SHARDS

__all__ = ["snapshot"]


@click.group(cls=RemoteGroup)
def snapshot() -> None:
    """Back up a collection to a file and restore it, on this cluster or another."""


@snapshot.command("create")
@click.argument("collection")
@click.pass_context
def snapshot_create(ctx: click.Context, collection: str) -> None:
    """Snapshot every shard of COLLECTION (kept on the gateway; `download` fetches it)."""
    with client(ctx) as c:
        emit_one(ctx, c.create_snapshot(collection))


@snapshot.command("list")
@click.argument("collection")
@click.pass_context
def snapshot_list(ctx: click.Context, collection: str) -> None:
    """The snapshots of COLLECTION kept on this gateway."""
    with client(ctx) as c:
        rows = c.list_snapshots(collection)
    emit(ctx, rows, ["name", "created_at", "points", "shards", "size", "sha256"], empty=f"no snapshots of {collection}")


@snapshot.command("download")
@click.argument("collection")
@click.argument("name")
@click.option("--out", "-f", "out", type=click.Path(dir_okay=False, path_type=pathlib.Path), default=None,
              help="file to write (default: NAME.tar here)")
@click.pass_context
def snapshot_download(ctx: click.Context, collection: str, name: str, out: pathlib.Path | None) -> None:
    """Stream snapshot NAME of COLLECTION into a file (its SHA-256 is checked)."""
    target = out or pathlib.Path(f"{name}.tar")
    with client(ctx) as c:
        size = c.download_snapshot(collection, name, target)
    say(ctx, f"wrote {target} ({size} bytes)", file=str(target), bytes=size)


@snapshot.command("restore")
@click.argument("collection")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--shards", type=click.IntRange(1, MAX_SHARDS), default=None, help="shards of the new collection (default: the snapshot's)")
@click.option("--replication-factor", type=click.IntRange(1, MAX_REPLICATION), default=None)
@click.pass_context
def snapshot_restore(ctx: click.Context, collection: str, file: pathlib.Path, shards: int | None, replication_factor: int | None) -> None:
    """Create the NEW collection COLLECTION from a snapshot FILE (on this cluster or another)."""
    with client(ctx) as c:
        done = c.restore_snapshot(collection, file, shards=shards, replication_factor=replication_factor)
    say(ctx, f"restored {done['restored_points']} points of {done['source_collection']} into {collection} "
             f"({done['collection']['shards']} shards)", **done)


@snapshot.command("delete")
@click.argument("collection")
@click.argument("name")
@click.pass_context
def snapshot_delete(ctx: click.Context, collection: str, name: str) -> None:
    """Delete snapshot NAME of COLLECTION from the gateway."""
    with client(ctx) as c:
        c.delete_snapshot(collection, name)
    say(ctx, f"deleted snapshot {name}", deleted=name)
