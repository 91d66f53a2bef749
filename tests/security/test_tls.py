"""Item 2 of issue 11: ``cluster up --tls`` on real ``vectrond`` processes. The
generated CA and keys are private; a client given the CA works over https and
TLS gRPC; plaintext clients, clients that do not trust the CA, and internal
callers without a client certificate signed by the CA are refused."""

from __future__ import annotations

import pathlib
import ssl
import stat
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import vectron
from vectron.cluster import cluster_down, cluster_up
from vectron.services.channels import open_channel
from vectron.services.internal_auth import TOKEN_METADATA_KEY, ClusterCredential
from vectron.services.tls import TlsFiles
from vectron.v1 import placement_pb2, placement_pb2_grpc

from .conftest import PASSWORD


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pathlib.Path, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("tls-cluster")
    try:
        yield folder, cluster_up(folder, nodes=1, timeout=120, extra_args=["--bcrypt-rounds", "4"], tls=True)
    finally:
        cluster_down(folder)


def test_generated_keys_and_certificates_are_private(tls_cluster: tuple[pathlib.Path, dict[str, Any]]) -> None:
    folder, state = tls_cluster
    files = sorted((folder / "tls").iterdir())
    assert {f.name for f in files} == {"ca.key", "ca.pem", "node.key", "node.pem"}
    assert {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files} == {f.name: "0o600" for f in files}
    assert state["ca"] == str(folder / "tls" / "ca.pem")


def test_a_real_request_over_https_with_the_ca(tls_cluster: tuple[pathlib.Path, dict[str, Any]]) -> None:
    _, state = tls_cluster
    (node,) = state["nodes"]
    url = f"https://{node['rest']}"
    with vectron.Client(url, ca=state["ca"]) as c:
        c.register("tls@example.com", PASSWORD)
        c.login("tls@example.com", PASSWORD)
        key = c.create_key("k").key
    with vectron.Client(url, api_key=key, ca=state["ca"]) as c:
        c.create_collection("docs", dimension=2)
        assert c.upsert("docs", [{"id": 1, "vector": [1.0, 0.0]}]) == 1
        assert [h.id for h in c.search("docs", [1.0, 0.0], top_k=1)] == [1]
    # the public gRPC edge speaks TLS too
    creds = grpc.ssl_channel_credentials(root_certificates=pathlib.Path(state["ca"]).read_bytes())
    with grpc.secure_channel(node["grpc"], creds) as ch:
        assert health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10).status == 1


def test_plaintext_and_untrusting_clients_are_refused(tls_cluster: tuple[pathlib.Path, dict[str, Any]]) -> None:
    _, state = tls_cluster
    (node,) = state["nodes"]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://{node['rest']}/readyz", timeout=5)
    with pytest.raises(httpx.ConnectError):  # the private CA is not in the system's trust store
        httpx.get(f"https://{node['rest']}/readyz", timeout=5)
    assert httpx.get(f"https://{node['rest']}/readyz", timeout=5,
                     verify=ssl.create_default_context(cafile=state["ca"])).status_code == 200
    with grpc.insecure_channel(node["grpc"]) as ch:
        with pytest.raises(grpc.RpcError) as err:
            health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_internal_grpc_is_mutual_tls(tls_cluster: tuple[pathlib.Path, dict[str, Any]]) -> None:
    folder, state = tls_cluster
    (node,) = state["nodes"]
    files = TlsFiles(str(folder / "tls" / "node.pem"), str(folder / "tls" / "node.key"), state["ca"])
    token = [(TOKEN_METADATA_KEY, ClusterCredential(state["password"], "t").token())]
    ca_only = grpc.ssl_channel_credentials(root_certificates=pathlib.Path(state["ca"]).read_bytes())

    def list_workers(ch: grpc.Channel, **kw: Any) -> Any:
        return placement_pb2_grpc.PlacementServiceStub(ch).ListWorkers(placement_pb2.ListWorkersRequest(), timeout=5, **kw)

    for channel in (grpc.insecure_channel(node["placement_grpc"]), grpc.secure_channel(node["placement_grpc"], ca_only)):
        with channel, pytest.raises(grpc.RpcError) as err:  # no TLS, or TLS without a client certificate
            list_workers(channel, metadata=token)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    with open_channel(node["placement_grpc"], credential=ClusterCredential(state["password"], "t"), tls=files) as ch:
        assert len(list_workers(ch).workers) == 1
