"""`vectron`: the command-line client.

For now it drives the embedded store (``vectron local ...``); the commands for
a running cluster arrive with the gateway.
"""

from __future__ import annotations

import json
import pathlib

import click
import numpy as np

import vectron
from vectron.errors import VectronError


class _Group(click.Group):
    """Shows Vectron errors as one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except VectronError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(vectron.__version__)
def main() -> None:
    """Vectron: a vector database."""


@main.group(cls=_Group)
def local() -> None:
    """Use an embedded store in a local data folder."""


DATA_DIR = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=pathlib.Path), default="./vectron-data", show_default=True
)


@local.command()
@DATA_DIR
@click.option("--points", default=2000, show_default=True, help="how many demo points to store")
def demo(data_dir: pathlib.Path, points: int) -> None:
    """Store some demo points with payloads, then search them with and without a filter."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(points, 64)).astype(np.float32)
    colors = ["red", "green", "blue"]
    payloads = [{"title": f"document {i}", "color": colors[i % 3], "rank": i} for i in range(points)]
    with vectron.open(data_dir) as store:
        if "demo" in store.list_collections():
            store.drop_collection("demo")
        col = store.create_collection("demo", dimension=64, distance="cosine")
        col.create_payload_index("color", "keyword")
        for start in range(0, points, 1000):
            col.upsert(list(range(start, min(start + 1000, points))), vectors[start : start + 1000], payloads[start : start + 1000])
        click.echo(f"stored {col.count()} points in {data_dir.resolve()}/collections/demo")
        query = vectors[42] + rng.normal(scale=0.1, size=64).astype(np.float32)
        click.echo("nearest to a query close to point 42:")
        for hit in col.search(query, k=3):
            click.echo(f"  {hit.id:>6}  score {hit.score:.4f}  {json.dumps(hit.payload)}")
        click.echo('the same query, only points with color "blue":')
        for hit in col.search(query, k=3, filter={"must": [{"key": "color", "match": {"value": "blue"}}]}):
            click.echo(f"  {hit.id:>6}  score {hit.score:.4f}  {json.dumps(hit.payload)}")


@local.command("list")
@DATA_DIR
def list_collections(data_dir: pathlib.Path) -> None:
    """List the collections with their size and configuration."""
    with vectron.open(data_dir) as store:
        for name in store.list_collections():
            col = store.collection(name)
            cfg = col.config
            click.echo(f"{name}\t{col.count()} points\t{cfg.dimension}-d {cfg.distance}\tindexes {cfg.payload_indexes}")


@local.command()
@DATA_DIR
@click.argument("collection")
@click.argument("vector")
@click.option("-k", "--top-k", default=10, show_default=True)
@click.option("--filter", "filter_json", default=None, help="a JSON filter")
def search(data_dir: pathlib.Path, collection: str, vector: str, top_k: int, filter_json: str | None) -> None:
    """Search COLLECTION with VECTOR, a JSON list of numbers."""
    try:
        query = json.loads(vector)
        flt = json.loads(filter_json) if filter_json else None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}") from None
    with vectron.open(data_dir) as store:
        for hit in store.collection(collection).search(query, k=top_k, filter=flt):
            click.echo(json.dumps({"id": hit.id, "score": hit.score, "payload": hit.payload}))
