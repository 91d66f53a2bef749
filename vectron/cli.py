"""`vectron`: the command-line client.

``vectron local ...`` drives an embedded store in a local folder; the other
commands talk to a running Vectron gateway (``--url``, default
http://127.0.0.1:8080, or ``$VECTRON_URL``):

    vectron register ada@example.com          # asks for a password
    vectron login ada@example.com             # keeps the session token (0600) in the config folder
    vectron keys create laptop --save         # prints the key once; --save keeps it as the default key
    vectron collections create docs --dimension 384
    vectron points upsert docs points.jsonl   # {"id":..,"vector":[..],"payload":{..}} per line; resumable
    vectron search docs '[0.1, 0.2, ...]' -k 5
    vectron cluster up --nodes 3 --data-dir ./cluster   # a local 3-node cluster in the background
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

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
            field = f" (field {exc.field})" if getattr(exc, "field", None) else ""
            raise click.ClickException(f"{exc.code}: {exc.message}{field}") from None
        except OSError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(vectron.__version__)
@click.option("--url", envvar="VECTRON_URL", default="http://127.0.0.1:8080", show_default=True, help="the gateway's REST URL")
@click.option("--api-key", envvar="VECTRON_API_KEY", default=None, help="API key for data commands (else the saved one)")
@click.pass_context
def main(ctx: click.Context, url: str, api_key: str | None) -> None:
    """Vectron: a vector database."""
    ctx.obj = {"url": url.rstrip("/"), "api_key": api_key}


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



# -- a running Vectron ------------------------------------------------------------------

CONFIG_FILE = "credentials.json"


def _config_path() -> pathlib.Path:
    return pathlib.Path(os.environ.get("VECTRON_CONFIG_DIR") or click.get_app_dir("vectron")) / CONFIG_FILE


def _load_config() -> dict[str, Any]:
    path = _config_path()
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None


def _save_config(data: dict[str, Any]) -> pathlib.Path:
    """Write the config file with mode 0600 (it holds a session token and maybe a key)."""
    path = _config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def _saved(ctx: click.Context) -> dict[str, Any]:
    return _load_config().get(ctx.obj["url"], {})


def _client(ctx: click.Context, *, session: bool = False) -> "vectron.Client":
    saved = _saved(ctx)
    if session:
        if not saved.get("token"):
            raise click.ClickException(f"not logged in to {ctx.obj['url']}: run `vectron login EMAIL` first")
        return vectron.Client(ctx.obj["url"], token=saved["token"])
    key = ctx.obj.get("api_key") or saved.get("api_key")
    if not key:
        raise click.ClickException("no API key: pass --api-key, set VECTRON_API_KEY, or run `vectron keys create NAME --save`")
    return vectron.Client(ctx.obj["url"], api_key=key)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, default=lambda o: o.__dict__))


def _parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{what} is not JSON: {exc}") from None


def _parse_id(text: str) -> int | str:
    return int(text) if text.isdigit() else text


@main.command()
@click.argument("email")
@click.password_option(help="at least 8 characters (asked for if not given)")
@click.pass_context
def register(ctx: click.Context, email: str, password: str) -> None:
    """Create an account."""
    with vectron.Client(ctx.obj["url"]) as c:
        user = c.register(email, password)
    click.echo(f"registered {user.email} (user id {user.id}); now run: vectron login {user.email}")


@main.command()
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True)
@click.pass_context
def login(ctx: click.Context, email: str, password: str) -> None:
    """Log in and keep the session token in the config folder (mode 0600)."""
    with vectron.Client(ctx.obj["url"]) as c:
        session = c.login(email, password)
    data = _load_config()
    entry = data.setdefault(ctx.obj["url"], {})
    entry.update({"token": session.token, "expires_at": session.expires_at, "email": session.user.email})
    path = _save_config(data)
    click.echo(f"logged in as {session.user.email} until {session.expires_at} (token kept in {path})")


@main.group(cls=_Group)
def keys() -> None:
    """Create, list and revoke API keys (needs `vectron login`)."""


@keys.command("create")
@click.argument("name")
@click.option("--plan", type=click.Choice(["free", "pro", "unlimited"]), default=None)
@click.option("--scope", type=click.Choice(["read-write", "read-only"]), default=None)
@click.option("--save", is_flag=True, help="keep the key (0600) as the default key for data commands")
@click.pass_context
def keys_create(ctx: click.Context, name: str, plan: str | None, scope: str | None, save: bool) -> None:
    """Create an API key; it is shown this once."""
    with _client(ctx, session=True) as c:
        created = c.create_key(name, plan, scope)
    click.echo(created.key)
    k = created.api_key
    click.echo(f"key id {k.id}, plan {k.plan}, scope {k.scope} (shown once: keep it safe)", err=True)
    if save:
        data = _load_config()
        data.setdefault(ctx.obj["url"], {})["api_key"] = created.key
        click.echo(f"saved as the default key in {_save_config(data)}", err=True)


@keys.command("list")
@click.pass_context
def keys_list(ctx: click.Context) -> None:
    """List your API keys."""
    with _client(ctx, session=True) as c:
        for k in c.list_keys():
            click.echo(f"{k.id}\t{k.name}\t{k.plan}\t{k.scope}\t{'revoked' if k.revoked else 'active'}\t{k.created_at}")


@keys.command("revoke")
@click.argument("key_id")
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke an API key (by its id)."""
    with _client(ctx, session=True) as c:
        k = c.revoke_key(key_id)
    click.echo(f"revoked {k.id} ({k.name})")


@main.group(cls=_Group)
def collections() -> None:
    """Create, list, inspect and drop collections."""


@collections.command("create")
@click.argument("name")
@click.option("--dimension", "-d", type=int, required=True)
@click.option("--distance", type=click.Choice(["cosine", "dot", "euclid"]), default="cosine", show_default=True)
@click.option("--shards", type=int, default=None)
@click.option("--replication-factor", type=int, default=None)
@click.pass_context
def collections_create(ctx: click.Context, name: str, dimension: int, distance: str, shards: int | None, replication_factor: int | None) -> None:
    """Create a collection."""
    with _client(ctx) as c:
        col = c.create_collection(name, dimension, distance, shards=shards, replication_factor=replication_factor)
    click.echo(f"created {col.name}: {col.dimension}-d {col.distance}, {col.shards} shard(s) x {col.replication_factor} replica(s)")


@collections.command("list")
@click.pass_context
def collections_list(ctx: click.Context) -> None:
    """List your collections."""
    with _client(ctx) as c:
        for col in c.list_collections():
            click.echo(f"{col.name}\t{col.dimension}-d {col.distance}\t{col.shards} shard(s) x {col.replication_factor}")


@collections.command("info")
@click.argument("name")
@click.pass_context
def collections_info(ctx: click.Context, name: str) -> None:
    """Show a collection: configuration, point count and shard status."""
    with _client(ctx) as c:
        col = c.get_collection(name)
    click.echo(json.dumps(col.__dict__, indent=2))


@collections.command("drop")
@click.argument("name")
@click.option("--yes", is_flag=True, help="do not ask")
@click.pass_context
def collections_drop(ctx: click.Context, name: str, yes: bool) -> None:
    """Drop a collection and all its points."""
    if not yes:
        click.confirm(f"drop collection {name!r} and all its points?", abort=True)
    with _client(ctx) as c:
        c.drop_collection(name)
    click.echo(f"dropped {name}")


@collections.group("index", cls=_Group)
def collections_index() -> None:
    """Create and drop payload indexes (filters on an indexed field skip the payload scan)."""


@collections_index.command("create")
@click.argument("name")
@click.argument("field")
@click.option("--type", "index_type", type=click.Choice(["keyword", "integer", "float", "bool"]), required=True)
@click.pass_context
def collections_index_create(ctx: click.Context, name: str, field: str, index_type: str) -> None:
    """Index payload FIELD (a dotted path like meta.lang) of collection NAME."""
    with _client(ctx) as c:
        created = c.create_payload_index(name, field, index_type)
    click.echo(f"{'created' if created else 'already there:'} {index_type} index on {name}.{field}")


@collections_index.command("drop")
@click.argument("name")
@click.argument("field")
@click.pass_context
def collections_index_drop(ctx: click.Context, name: str, field: str) -> None:
    """Drop the payload index on FIELD of collection NAME."""
    with _client(ctx) as c:
        dropped = c.drop_payload_index(name, field)
    click.echo(f"dropped the index on {name}.{field}" if dropped else f"no index on {name}.{field}")


@main.group(cls=_Group)
def points() -> None:
    """Upsert and get points."""


def _jsonl_batches(path: pathlib.Path, start: int, batch: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(line number after the batch, points) from a JSON-lines file, skipping ``start`` lines."""
    out: list[dict[str, Any]] = []
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
            out.append(obj)
            if len(out) == batch:
                yield n, out
                out = []
    if out:
        yield n, out


def _npy_batches(path: pathlib.Path, payloads: pathlib.Path | None, id_offset: int, start: int, batch: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
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
        yield hi, [
            {"id": id_offset + i, "vector": vectors[i].tolist(), **({"payload": pl[i]} if pl and pl[i] is not None else {})}
            for i in range(lo, hi)
        ]


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
    error continues where it stopped when run again (--restart starts over)."""
    progress = file.with_name(f".{file.name}.{collection}.progress")
    done = 0
    if progress.exists() and not restart:
        done = int(progress.read_text().strip() or 0)
        if done:
            click.echo(f"resuming after {done} {'rows' if file.suffix == '.npy' else 'lines'} (--restart to start over)", err=True)
    if file.suffix == ".npy":
        total = int(np.load(file, mmap_mode="r").shape[0])
        batches = _npy_batches(file, payloads, id_offset, done, batch_size)
    else:
        with file.open() as f:
            total = sum(1 for _ in f)
        batches = _jsonl_batches(file, done, batch_size)
    written = 0
    with _client(ctx) as c, click.progressbar(length=max(total - done, 0), label=f"upserting into {collection}", file=sys.stderr) as bar:
        for position, batch in batches:
            written += c.upsert(collection, batch)
            bar.update(position - done)
            done = position
            progress.write_text(str(done))
    progress.unlink(missing_ok=True)
    click.echo(f"upserted {written} points into {collection}")


@points.command("get")
@click.argument("collection")
@click.argument("ids", nargs=-1, required=True)
@click.option("--with-vector", is_flag=True)
@click.pass_context
def points_get(ctx: click.Context, collection: str, ids: tuple[str, ...], with_vector: bool) -> None:
    """Print points by id (digits are integer ids), one JSON object per line."""
    with _client(ctx) as c:
        for p in c.get(collection, [_parse_id(i) for i in ids], with_vector=with_vector):
            _echo_json({"id": p.id, "payload": p.payload, **({"vector": p.vector} if with_vector else {})})


@main.command("search")
@click.argument("collection")
@click.argument("vector")
@click.option("-k", "--top-k", default=10, show_default=True)
@click.option("--filter", "filter_json", default=None, help="a JSON filter")
@click.option("--with-vector", is_flag=True)
@click.pass_context
def remote_search(ctx: click.Context, collection: str, vector: str, top_k: int, filter_json: str | None, with_vector: bool) -> None:
    """Search COLLECTION with VECTOR (a JSON list of numbers); one JSON hit per line."""
    query = _parse_json(vector, "VECTOR")
    flt = _parse_json(filter_json, "--filter") if filter_json else None
    with _client(ctx) as c:
        for h in c.search(collection, query, top_k=top_k, filter=flt, with_vector=with_vector):
            _echo_json({"id": h.id, "score": h.score, "payload": h.payload, **({"vector": h.vector} if with_vector else {})})


@main.group(cls=_Group)
def cluster() -> None:
    """A local cluster of vectrond processes (each node runs every role)."""


CLUSTER_DIR = click.option("--data-dir", type=click.Path(file_okay=False, path_type=pathlib.Path), default="./vectron-cluster", show_default=True)


@cluster.command("up")
@click.option("--nodes", type=click.IntRange(1, 7), default=3, show_default=True)
@CLUSTER_DIR
@click.option("--base-port", type=int, default=None, help="first port to use (default: free ports picked now)")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="seconds to wait until every gateway is ready")
def cluster_up(nodes: int, data_dir: pathlib.Path, base_port: int | None, timeout: float) -> None:
    """Start NODES vectrond processes in the background and print the gateway URLs."""
    from vectron.cluster import cluster_up as up

    state = up(data_dir, nodes=nodes, base_port=base_port, timeout=timeout)
    for n in state["nodes"]:
        click.echo(f"{n['name']}: REST http://{n['rest']}  gRPC {n['grpc']}  (pid {n['pid']}, log {n['log']})")
    click.echo(f"stop it with: vectron cluster down --data-dir {data_dir}")


@cluster.command("down")
@CLUSTER_DIR
def cluster_down(data_dir: pathlib.Path) -> None:
    """Stop the local cluster (SIGTERM, then SIGKILL after a grace period)."""
    from vectron.cluster import cluster_down as down

    for name, outcome in down(data_dir):
        click.echo(f"{name}: {outcome}")


@cluster.command("status")
@CLUSTER_DIR
def cluster_status(data_dir: pathlib.Path) -> None:
    """Every group: leader, term, applied index and lag of each replica."""
    from vectron.cluster import cluster_status as status

    rows = status(data_dir)
    click.echo(f"{'group':<24}{'node':<8}{'role':<11}{'leader':<22}{'term':>6}{'applied':>10}{'lag':>6}")
    for r in rows:
        click.echo(f"{r['group']:<24}{r['node']:<8}{r['role']:<11}{str(r['leader'] or '-'):<22}{r['term']:>6}{r['applied_index']:>10}{r['lag']:>6}")
