"""`vectron`: the command-line client.

``vectron local ...`` drives an embedded store in a local folder; the other
commands talk to a running Vectron gateway (``--url``, default
http://127.0.0.1:8080, or ``$VECTRON_URL``); they live in vectron.cli_remote and
vectron.cli_points, their shared plumbing (output, saved credentials) in
vectron.cli_common:

    vectron register ada@example.com          # asks for a password
    vectron login ada@example.com             # keeps the session token (0600) in the config folder
    vectron keys create laptop --save         # prints the key once; --save keeps it as the default key
    vectron collections create docs --dimension 384
    vectron points upsert docs points.jsonl   # {"id":..,"vector":[..],"payload":{..}} per line; resumable
    vectron search docs '[0.1, 0.2, ...]' -k 5   # or --vector-file q.json, --vector-file - (stdin), --like ID
    vectron points scroll docs --limit 20      # also: points get|count|delete
    vectron whoami                             # logout forgets the saved session and key
    vectron collections list -o json           # --url/--api-key/--output also after the subcommand
    vectron cluster up --nodes 3 --data-dir ./cluster   # a local 3-node cluster in the background
"""

from __future__ import annotations

import json
import pathlib

import click
import numpy as np

import vectron
from vectron.cli_admin import admin
from vectron.cli_common import DEFAULT_URL, Group, remember_cluster
from vectron.cli_remote import COMMANDS
from vectron.cli_snapshots import snapshot


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(vectron.__version__)
@click.option("--url", envvar="VECTRON_URL", default=DEFAULT_URL, show_default=True,
              help="the gateway's REST URL (also accepted after the subcommand)")
@click.option("--api-key", envvar="VECTRON_API_KEY", default=None, help="API key for data commands (else the saved one)")
@click.option("--ca", envvar="VECTRON_CA", type=click.Path(dir_okay=False, exists=True), default=None,
              help="CA file that signed the gateway's certificate, for an https:// URL (e.g. <cluster>/tls/ca.pem)")
@click.option("--output", "-o", envvar="VECTRON_OUTPUT", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="print tables for people or JSON for programs")
@click.pass_context
def main(ctx: click.Context, url: str, api_key: str | None, ca: str | None, output: str) -> None:
    """Vectron: a vector database."""
    ctx.obj = {"url": url.rstrip("/"), "api_key": api_key, "ca": ca, "output": output}


for _command in [*COMMANDS, admin]:
    main.add_command(_command)
main.add_command(snapshot)


@main.group(cls=Group)
def local() -> None:
    """Use an embedded store in a local data folder."""


DATA_DIR = click.option(  # not ./vectron-data, the daemon's default folder
    "--data-dir", type=click.Path(file_okay=False, path_type=pathlib.Path), default="./vectron-local", show_default=True
)


@local.command()
@DATA_DIR
@click.option("--points", type=click.IntRange(1, 1_000_000), default=2000, show_default=True, help="how many demo points to store")
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
        near = min(42, points - 1)
        query = vectors[near] + rng.normal(scale=0.1, size=64).astype(np.float32)
        click.echo(f"nearest to a query close to point {near}:")
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



@main.group(cls=Group)
def cluster() -> None:
    """A local cluster of vectrond processes (each node runs every role)."""


CLUSTER_DIR = click.option("--data-dir", type=click.Path(file_okay=False, path_type=pathlib.Path), default="./vectron-cluster", show_default=True)


@cluster.command("up")
@click.option("--nodes", type=click.IntRange(1, 7), default=3, show_default=True)
@CLUSTER_DIR
@click.option("--base-port", type=int, default=None, help="first port to use (default: free ports picked now)")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="seconds to wait until every gateway is ready")
@click.option("--tls", is_flag=True, help="generate a private CA and node certificates in the cluster folder; TLS on every port")
def cluster_up(nodes: int, data_dir: pathlib.Path, base_port: int | None, timeout: float, tls: bool) -> None:
    """Start NODES vectrond processes in the background and print the gateway URLs. On an
    existing folder: start the nodes that are down (on their old addresses)."""
    from vectron.cluster import cluster_up as up

    state = up(data_dir, nodes=nodes, base_port=base_port, timeout=timeout, tls=tls)
    scheme = "https" if state.get("ca") else "http"
    remember_cluster([f"{scheme}://{n['rest']}" for n in state["nodes"]])  # one login serves every node
    for n in state["nodes"]:
        click.echo(f"{n['name']}: REST {scheme}://{n['rest']}  gRPC {n['grpc']}  (pid {n['pid']}, log {n['log']})")
    if state.get("ca"):
        click.echo(f"TLS on: clients verify with --ca {state['ca']} (or VECTRON_CA)")
    click.echo(f"stop it with: vectron cluster down --data-dir {data_dir}")


@cluster.command("down")
@CLUSTER_DIR
def cluster_down(data_dir: pathlib.Path) -> None:
    """Stop the local cluster (SIGTERM, then SIGKILL after a grace period)."""
    from vectron.cluster import cluster_down as down

    for name, outcome in down(data_dir):
        click.echo(f"{name}: {outcome}")


@cluster.command("restart")
@click.argument("node")
@CLUSTER_DIR
@click.option("--timeout", type=float, default=120.0, show_default=True, help="seconds to wait until its gateway is ready")
def cluster_restart(node: str, data_dir: pathlib.Path, timeout: float) -> None:
    """Restart NODE (e.g. node2): stop it if it runs, start it with the arguments it had."""
    from vectron.cluster import restart_node

    n = restart_node(data_dir, node, timeout=timeout)
    click.echo(f"{n['name']}: restarted (pid {n['pid']}, log {n['log']})")


@cluster.command("status")
@CLUSTER_DIR
@click.option("--json", "as_json", is_flag=True, help="print nodes, shards (replicas, health) and groups as JSON")
@click.pass_context
def cluster_status(ctx: click.Context, data_dir: pathlib.Path, as_json: bool) -> None:
    """Every node, every shard's replicas and health, and every group: leader, term,
    applied index and lag of each replica."""
    from vectron.cluster import cluster_report

    report = cluster_report(data_dir)
    if as_json or (ctx.obj or {}).get("output") == "json":
        click.echo(json.dumps(report, indent=2))
        return
    for n in report["nodes"]:
        click.echo(f"{n['node']:<8}{'up' if n['alive'] else 'DOWN':<6}pid {n['pid'] or '-':<8}REST {n['rest']}")
    if report["shards"]:
        click.echo(f"\n{'collection':<24}{'shard':>6}  {'rf':>3}  {'health':<9}replicas (node:role:applied)")
    for s in report["shards"]:
        replicas = " ".join(f"{r['node']}:{r['role']}:{r['applied']}" for r in s["replicas"])
        click.echo(f"{s['collection'] or s['collection_id'][:8]:<24}{s['shard']:>6}  {s['replication_factor']:>3}  "
                   f"{'healthy' if s['healthy'] else 'UNHEALTHY':<9}{replicas}")
    click.echo(f"\n{'group':<24}{'node':<8}{'role':<11}{'leader':<22}{'term':>6}{'applied':>10}{'lag':>6}")
    for r in report["groups"]:
        click.echo(f"{r['group']:<24}{r['node']:<8}{r['role']:<11}{str(r['leader'] or '-'):<22}{r['term']:>6}{r['applied_index']:>10}{r['lag']:>6}")
    degraded = sorted({s for r in report["groups"] for s in r.get("degraded_shards", ())})
    if degraded:
        click.echo(f"DEGRADED (a replica on a dead worker, no spare worker or no healthy majority to re-replicate): "
                   f"{', '.join(degraded)}")
