"""Plumbing shared by the `vectron` commands: error display, the options every remote
command accepts (``--url``, ``--api-key``, ``--output``, before or after the
subcommand), output as a table or JSON, and the saved credentials.

Saved credentials are kept per *cluster*, not per URL: the config file
(``credentials.json``, mode 0600) holds a list of clusters, each with the set of
gateway URLs known to belong to it and one session token / default API key.
A URL joins a cluster when ``vectron cluster up`` starts it (all its nodes at
once), when you log in there, or with ``vectron link URL`` (which first checks
that the saved session is accepted there as the same user). Any URL of a cluster
then finds the same credentials. The gateway reports no cluster id, so a set of
verified URLs is the identity; an unknown URL never receives a saved secret.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Callable, Sequence
from typing import Any

import click

import vectron
from vectron.errors import VectronError

DEFAULT_URL = "http://127.0.0.1:8080"
CONFIG_FILE = "credentials.json"


class Group(click.Group):
    """Shows Vectron errors as one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except VectronError as exc:
            field = f" (field {exc.field})" if getattr(exc, "field", None) else ""
            raise click.ClickException(f"{exc.code}: {exc.message}{field}") from None
        except OSError as exc:
            raise click.ClickException(str(exc)) from None


def _setter(key: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None:
            obj = ctx.find_root().ensure_object(dict)
            obj[key] = value.rstrip("/") if key == "url" else value

    return store


def _remote_params() -> list[click.Option]:
    """``--url``, ``--api-key`` and ``--output`` for a subcommand (they override the root's)."""
    return [
        click.Option(["--url"], default=None, expose_value=False, is_eager=True, callback=_setter("url"),
                     help="the gateway's REST URL (also before the subcommand, or $VECTRON_URL)"),
        click.Option(["--api-key"], default=None, expose_value=False, is_eager=True, callback=_setter("api_key"),
                     help="API key for data commands (else $VECTRON_API_KEY, else the saved one)"),
        click.Option(["--output", "-o"], type=click.Choice(["table", "json"]), default=None, expose_value=False,
                     is_eager=True, callback=_setter("output"), help="table (default) or json"),
    ]


class RemoteCommand(click.Command):
    """A command talking to a gateway: accepts the global options after its name too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(_remote_params())


class RemoteGroup(Group):
    """A group of remote commands: its subcommands are :class:`RemoteCommand`."""

    command_class = RemoteCommand

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(_remote_params())


def url_of(ctx: click.Context) -> str:
    return str(ctx.find_root().ensure_object(dict).get("url") or DEFAULT_URL)


def connect(ctx: click.Context, url: str | None = None, **credentials: str) -> vectron.Client:
    """A client for ``url`` (default ``--url``), trusting ``--ca`` for an https:// gateway."""
    ca = ctx.find_root().ensure_object(dict).get("ca")
    return vectron.Client(url or url_of(ctx), ca=ca, **credentials)


def output_of(ctx: click.Context) -> str:
    return str(ctx.find_root().ensure_object(dict).get("output") or "table")


# -- output ----------------------------------------------------------------------------

def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def emit(ctx: click.Context, rows: Sequence[dict[str, Any]], columns: Sequence[str], *, empty: str = "") -> None:
    """``rows`` as a JSON list (``--output json``) or as a table with a header line."""
    if output_of(ctx) == "json":
        click.echo(json.dumps(list(rows)))
        return
    if not rows:
        if empty:
            click.echo(empty, err=True)
        return
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def emit_one(ctx: click.Context, obj: dict[str, Any]) -> None:
    """One object: JSON, or ``key: value`` lines."""
    if output_of(ctx) == "json":
        click.echo(json.dumps(obj))
        return
    width = max(len(k) for k in obj)
    for k, v in obj.items():
        click.echo(f"{k + ':':<{width + 1}} {_cell(v)}")


def say(ctx: click.Context, text: str, **fields: Any) -> None:
    """A confirmation: ``text`` for people, ``fields`` as a JSON object with ``--output json``."""
    click.echo(json.dumps(fields) if output_of(ctx) == "json" else text)


# -- saved credentials -----------------------------------------------------------------

def config_path() -> pathlib.Path:
    return pathlib.Path(os.environ.get("VECTRON_CONFIG_DIR") or click.get_app_dir("vectron")) / CONFIG_FILE


def load_config() -> dict[str, Any]:
    """The config, as ``{"clusters": [{"urls": [...], "token": .., "api_key": .., ...}]}``."""
    path = config_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {"clusters": []}
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise click.ClickException(f"cannot read {path}: not a JSON object")
    if "clusters" not in data:  # the first format: one entry per URL
        data = {"clusters": [{"urls": [url], **entry} for url, entry in data.items() if isinstance(entry, dict)]}
    return data


def save_config(data: dict[str, Any]) -> pathlib.Path:
    """Write the config file with mode 0600 (it holds session tokens and maybe keys)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def cluster_entry(data: dict[str, Any], url: str, *, create: bool = False) -> dict[str, Any] | None:
    """The saved cluster ``url`` belongs to (a new one if ``create``)."""
    for entry in data["clusters"]:
        if url in entry.get("urls", []):
            return entry
    if not create:
        return None
    entry = {"urls": [url]}
    data["clusters"].append(entry)
    return entry


def remember_cluster(urls: Sequence[str]) -> None:
    """Record that ``urls`` are gateways of one cluster (merging the entries they had)."""
    data = load_config()
    merged: dict[str, Any] = {"urls": []}
    rest = []
    for entry in data["clusters"]:
        if set(entry.get("urls", [])) & set(urls):
            merged.update({k: v for k, v in entry.items() if k != "urls"})
            merged["urls"] += entry["urls"]
        else:
            rest.append(entry)
    merged["urls"] = list(dict.fromkeys([*merged["urls"], *urls]))
    data["clusters"] = [*rest, merged]
    save_config(data)


def saved(ctx: click.Context) -> dict[str, Any]:
    return cluster_entry(load_config(), url_of(ctx)) or {}


def client(ctx: click.Context, *, session: bool = False) -> vectron.Client:
    """A client for ``--url`` with the session token (``session``) or an API key."""
    url, entry = url_of(ctx), saved(ctx)
    if session:
        if not entry.get("token"):
            raise click.ClickException(f"not logged in to {url}: run `vectron login EMAIL` first")
        return connect(ctx, url, token=entry["token"])
    key = ctx.find_root().ensure_object(dict).get("api_key") or entry.get("api_key")
    if not key:
        raise click.ClickException("no API key: pass --api-key, set VECTRON_API_KEY, or run `vectron keys create NAME --save`")
    return connect(ctx, url, api_key=key)


def parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{what} is not JSON: {exc}") from None


def parse_id(text: str) -> int | str:
    return int(text) if text.isdigit() else text
