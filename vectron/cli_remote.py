"""The `vectron` commands that talk to a running gateway: account (register, login,
logout, whoami, link), ``keys``, ``collections`` and ``search``; the ``points``
commands live in :mod:`vectron.cli_points`."""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

import click
import numpy as np

import vectron
from vectron import errors
from vectron.cli_common import (
    RemoteCommand,
    RemoteGroup,
    client,
    cluster_entry,
    connect,
    emit,
    emit_one,
    load_config,
    output_of,
    parse_id,
    parse_json,
    save_config,
    saved,
    say,
    url_of,
)
from vectron.cli_points import points

__all__ = ["COMMANDS"]


@click.command(cls=RemoteCommand)
@click.argument("email")
@click.password_option(help="at least 8 characters (asked for if not given)")
@click.pass_context
def register(ctx: click.Context, email: str, password: str) -> None:
    """Create an account."""
    with connect(ctx) as c:
        user = c.register(email, password)
    say(ctx, f"registered {user.email} (user id {user.id}); now run: vectron login {user.email}", id=user.id, email=user.email)


@click.command(cls=RemoteCommand)
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True)
@click.pass_context
def login(ctx: click.Context, email: str, password: str) -> None:
    """Log in and keep the session token (mode 0600) for every known URL of this cluster."""
    url = url_of(ctx)
    with connect(ctx, url) as c:
        session = c.login(email, password)
    data = load_config()
    entry = cluster_entry(data, url, create=True)
    assert entry is not None
    if entry.get("email") not in (None, session.user.email):
        entry.pop("api_key", None)  # another account's key
    entry.update({"token": session.token, "expires_at": session.expires_at, "email": session.user.email})
    path = save_config(data)
    say(ctx, f"logged in as {session.user.email} until {session.expires_at} (token kept in {path})",
        email=session.user.email, expires_at=session.expires_at, urls=entry["urls"])


@click.command(cls=RemoteCommand)
@click.pass_context
def logout(ctx: click.Context) -> None:
    """Forget the session token and the saved API key of this cluster (all its URLs)."""
    data = load_config()
    entry = cluster_entry(data, url_of(ctx))
    if not entry or not ({"token", "api_key"} & entry.keys()):
        say(ctx, f"not logged in to {url_of(ctx)}", logged_out=False)
        return
    for k in ("token", "expires_at", "email", "api_key"):
        entry.pop(k, None)
    save_config(data)
    say(ctx, f"logged out of {', '.join(entry['urls'])} (session and saved key forgotten)", logged_out=True, urls=entry["urls"])


@click.command(cls=RemoteCommand)
@click.pass_context
def whoami(ctx: click.Context) -> None:
    """Who the saved session is (checked with the gateway) and which key data commands use."""
    url, entry = url_of(ctx), saved(ctx)
    info: dict[str, Any] = {"url": url, "cluster_urls": entry.get("urls", [url]), "user": None, "session_expires_at": None}
    if entry.get("token"):
        try:
            with connect(ctx, url, token=entry["token"]) as c:
                info["user"] = c.profile().email
            info["session_expires_at"] = entry.get("expires_at")
        except errors.Unauthenticated:
            info["user"] = f"(session of {entry.get('email')} expired or revoked: run `vectron login`)"
    else:
        info["user"] = "(not logged in: run `vectron login EMAIL`)"
    key = ctx.find_root().ensure_object(dict).get("api_key")
    source = "--api-key / $VECTRON_API_KEY" if key else "saved"
    key = key or entry.get("api_key")
    info["api_key"] = f"{key[:16]}... ({source})" if key else None
    emit_one(ctx, info)


@click.command(cls=RemoteCommand)
@click.argument("other_url")
@click.pass_context
def link(ctx: click.Context, other_url: str) -> None:
    """Use this cluster's saved credentials at OTHER_URL too (another gateway of the same cluster).

    The saved session is first checked at OTHER_URL: it must be accepted as the same user."""
    url, other = url_of(ctx), other_url.rstrip("/")
    data = load_config()
    entry = cluster_entry(data, url)
    if not entry or not entry.get("token"):
        raise click.ClickException(f"not logged in to {url}: run `vectron login EMAIL` first")
    with connect(ctx, url, token=entry["token"]) as here, connect(ctx, other, token=entry["token"]) as there:
        me = here.profile()
        try:
            them = there.profile()
        except errors.Unauthenticated:
            them = None
    if them is None or them.id != me.id:
        raise click.ClickException(f"{other} does not accept the session of {url}: not the same cluster (log in there instead)")
    old = cluster_entry(data, other)
    if old is not None and old is not entry:
        old["urls"].remove(other)
    if other not in entry["urls"]:
        entry["urls"].append(other)
    data["clusters"] = [e for e in data["clusters"] if e.get("urls")]
    save_config(data)
    say(ctx, f"{other} now shares the credentials of {url}", urls=entry["urls"])


# -- keys ------------------------------------------------------------------------------

@click.group(cls=RemoteGroup)
def keys() -> None:
    """Create, list and revoke API keys (needs `vectron login`)."""


@keys.command("create")
@click.argument("name")
@click.option("--scope", type=click.Choice(["read-write", "read-only"]), default=None)
@click.option("--save", is_flag=True, help="keep the key (0600) as the default key for data commands on this cluster")
@click.pass_context
def keys_create(ctx: click.Context, name: str, scope: str | None, save: bool) -> None:
    """Create an API key (it has your account's plan); it is shown this once."""
    with client(ctx, session=True) as c:
        created = c.create_key(name, scope)
    k = created.api_key
    limits = ", ".join(f"{n} {v}" for n, v in sorted(k.limits.items())) or "none"
    if output_of(ctx) == "json":
        click.echo(json.dumps({"key": created.key, "id": k.id, "name": k.name, "plan": k.plan, "scope": k.scope, "limits": k.limits}))
    else:
        click.echo(created.key)
        click.echo(f"key id {k.id}: plan {k.plan} (your account's: an admin sets it), scope {k.scope}, limits: {limits}. Shown once: keep it safe.", err=True)
    if save:
        data = load_config()
        entry = cluster_entry(data, url_of(ctx), create=True)
        assert entry is not None
        entry["api_key"] = created.key
        click.echo(f"saved as the default key in {save_config(data)}", err=True)


@keys.command("list")
@click.pass_context
def keys_list(ctx: click.Context) -> None:
    """List your API keys."""
    with client(ctx, session=True) as c:
        rows = [{"id": k.id, "name": k.name, "prefix": k.prefix, "plan": k.plan, "scope": k.scope,
                 "status": "revoked" if k.revoked else "active", "created_at": k.created_at} for k in c.list_keys()]
    emit(ctx, rows, ["id", "name", "prefix", "plan", "scope", "status", "created_at"], empty="no API keys: `vectron keys create NAME`")


@keys.command("revoke")
@click.argument("key_id")
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke an API key (by its id)."""
    with client(ctx, session=True) as c:
        k = c.revoke_key(key_id)
    say(ctx, f"revoked {k.id} ({k.name})", revoked=k.id, name=k.name)


# -- collections -----------------------------------------------------------------------

@click.group(cls=RemoteGroup)
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
    with client(ctx) as c:
        col = c.create_collection(name, dimension, distance, shards=shards, replication_factor=replication_factor)
    say(ctx, f"created {col.name}: {col.dimension}-d {col.distance}, {col.shards} shard(s) x {col.replication_factor} replica(s)",
        **col.__dict__)


@collections.command("list")
@click.pass_context
def collections_list(ctx: click.Context) -> None:
    """List your collections with their point counts."""
    with client(ctx) as c:
        rows = [{"name": col.name, "points": c.count(col.name), "dimension": col.dimension, "distance": col.distance,
                 "shards": col.shards, "replication_factor": col.replication_factor} for col in c.list_collections()]
    emit(ctx, rows, ["name", "points", "dimension", "distance", "shards", "replication_factor"],
         empty="no collections: `vectron collections create NAME --dimension N`")


@collections.command("info")
@click.argument("name")
@click.pass_context
def collections_info(ctx: click.Context, name: str) -> None:
    """Show a collection: configuration, point count and shard status."""
    with client(ctx) as c:
        col = c.get_collection(name)
    emit_one(ctx, col.__dict__)


@collections.command("drop")
@click.argument("name")
@click.option("--yes", is_flag=True, help="do not ask")
@click.pass_context
def collections_drop(ctx: click.Context, name: str, yes: bool) -> None:
    """Drop a collection and all its points."""
    if not yes:
        click.confirm(f"drop collection {name!r} and all its points?", abort=True)
    with client(ctx) as c:
        c.drop_collection(name)
    say(ctx, f"dropped {name}", dropped=name)


@collections.group("index", cls=RemoteGroup)
def collections_index() -> None:
    """Create and drop payload indexes (filters on an indexed field skip the payload scan)."""


@collections_index.command("create")
@click.argument("name")
@click.argument("field")
@click.option("--type", "index_type", type=click.Choice(["keyword", "integer", "float", "bool"]), required=True)
@click.pass_context
def collections_index_create(ctx: click.Context, name: str, field: str, index_type: str) -> None:
    """Index payload FIELD (a dotted path like meta.lang) of collection NAME."""
    with client(ctx) as c:
        created = c.create_payload_index(name, field, index_type)
    say(ctx, f"{'created' if created else 'already there:'} {index_type} index on {name}.{field}", field=field, type=index_type, created=created)


@collections_index.command("drop")
@click.argument("name")
@click.argument("field")
@click.pass_context
def collections_index_drop(ctx: click.Context, name: str, field: str) -> None:
    """Drop the payload index on FIELD of collection NAME."""
    with client(ctx) as c:
        dropped = c.drop_payload_index(name, field)
    say(ctx, f"dropped the index on {name}.{field}" if dropped else f"no index on {name}.{field}", field=field, dropped=dropped)


# -- search ----------------------------------------------------------------------------

def _query_vector(c: vectron.Client, collection: str, vector: str | None, vector_file: str | None, like: str | None) -> list[float]:
    given = [x for x in (vector, vector_file, like) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of VECTOR, --vector-file FILE (- for stdin) or --like ID")
    if like is not None:
        got = c.retrieve(collection, parse_id(like))
        if got is None or got.vector is None:
            raise click.ClickException(f"--like {like}: no point with id {like} in {collection}")
        return got.vector
    if vector_file is not None:
        if vector_file == "-":
            text = sys.stdin.read()
        elif vector_file.endswith(".npy"):
            return np.load(vector_file).astype(float).ravel().tolist()
        else:
            text = pathlib.Path(vector_file).read_text()
        return parse_json(text, f"--vector-file {vector_file}")
    return parse_json(vector or "", "VECTOR")


@click.command("search", cls=RemoteCommand)
@click.argument("collection")
@click.argument("vector", required=False)
@click.option("--vector-file", default=None, help="read the vector from a file (a JSON list, or .npy), - for stdin")
@click.option("--like", default=None, help="search with the vector of the stored point ID (the point itself is left out)")
@click.option("-k", "--top-k", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--filter", "filter_json", default=None, help="a JSON filter")
@click.option("--with-vector", is_flag=True)
@click.pass_context
def search(ctx: click.Context, collection: str, vector: str | None, vector_file: str | None, like: str | None, top_k: int,
           filter_json: str | None, with_vector: bool) -> None:
    """Search COLLECTION with VECTOR (a JSON list), --vector-file or --like ID."""
    flt = parse_json(filter_json, "--filter") if filter_json else None
    with client(ctx) as c:
        query = _query_vector(c, collection, vector, vector_file, like)
        hits = c.search(collection, query, top_k=top_k + (like is not None), filter=flt, with_vector=with_vector)
    if like is not None:
        hits = [h for h in hits if h.id != parse_id(like)][:top_k]
    rows = [{"id": h.id, "score": round(h.score, 6), "payload": h.payload, **({"vector": h.vector} if with_vector else {})} for h in hits]
    emit(ctx, rows, ["id", "score", "payload", *(["vector"] if with_vector else [])], empty="no hits")


COMMANDS = [register, login, logout, whoami, link, keys, collections, points, search]
