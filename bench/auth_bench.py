"""Auth storage lookups stay flat as users grow: profile by user id and list of a user's keys.

    .venv/bin/python bench/auth_bench.py                       # 1,000 / 10,000 / 100,000 users
    .venv/bin/python bench/auth_bench.py --sizes 1000,100000 --samples 5000
    .venv/bin/python bench/auth_bench.py --rpc                 # end to end on a 3-node group

Measures the storage layer directly (vectron.services.auth.storage.AuthStorage
over one LMDB env, no Raft, no gRPC): ``user_by_id`` (secondary index
user_id -> email, then the user record) and ``keys_of_user`` (range read of the
user_id -> key ids index, then each key record). Each user has ``--keys``
keys. For contrast, ``scan`` finds a user by id the naive way, by walking
every user record (fewer samples: it is slow on purpose).

``--rpc`` instead starts a 3-node auth group in this process (real Raft nodes
and gRPC servers on loopback) and times RPCs against the leader and a
follower: RegisterUser and Login (bcrypt cost 12 included), ValidateAPIKey
(a linearizable read barrier through the log, then SHA-256), and an
``ApiKeyCache`` hit as the gateway sees it.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import time
import uuid

import lmdb

from vectron.services.auth.storage import AuthStorage
from vectron.v1 import auth_pb2

log = logging.getLogger("auth_bench")


def populate(env: lmdb.Environment, storage: AuthStorage, n_users: int, keys_per_user: int, rng: random.Random) -> list[str]:
    user_ids: list[str] = []
    batch = 5_000
    for start in range(0, n_users, batch):
        with env.begin(write=True) as txn:
            for i in range(start, min(n_users, start + batch)):
                uid = uuid.UUID(int=rng.getrandbits(128)).hex
                storage.put_new_user(
                    txn, auth_pb2.UserRecord(user_id=uid, email=f"user{i}@example.com", password_hash="$2b$12$" + "x" * 53, created_at_ms=i)
                )
                for k in range(keys_per_user):
                    info = auth_pb2.APIKeyInfo(
                        key_id=f"{rng.getrandbits(48):012x}", user_id=uid, name=f"key{k}", plan="free", scope="read-write", created_at_ms=i
                    )
                    storage.put_new_key(txn, auth_pb2.APIKeyRecord(info=info, secret_sha256=rng.randbytes(32)))
                user_ids.append(uid)
    return user_ids


def time_lookups(fn, ids: list[str]) -> tuple[float, float]:
    """Median and p99 of one lookup, in microseconds."""
    times = []
    for uid in ids:
        t0 = time.perf_counter()
        fn(uid)
        times.append((time.perf_counter() - t0) * 1e6)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def run(n_users: int, keys_per_user: int, samples: int, scan_samples: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="auth-bench-") as tmp:
        env = lmdb.open(tmp, map_size=1 << 32, max_dbs=8, sync=False, metasync=False, writemap=True)
        tables = AuthStorage.open_tables(env)
        storage = AuthStorage(tables.__getitem__)
        t0 = time.perf_counter()
        user_ids = populate(env, storage, n_users, keys_per_user, rng)
        load_s = time.perf_counter() - t0
        sample = [rng.choice(user_ids) for _ in range(samples)]
        with env.begin() as txn:
            for uid in sample[:100]:  # warm up the page cache and check correctness
                assert storage.user_by_id(txn, uid).user_id == uid
                assert len(storage.keys_of_user(txn, uid)) == keys_per_user
            profile = time_lookups(lambda uid: storage.user_by_id(txn, uid), sample)
            keys = time_lookups(lambda uid: storage.keys_of_user(txn, uid), sample)

            def scan(uid: str) -> None:
                for _, raw in txn.cursor(db=tables[b"auth.users"]):
                    if auth_pb2.UserRecord.FromString(raw).user_id == uid:
                        return

            naive = time_lookups(scan, sample[:scan_samples])
        env.close()
    return {
        "users": n_users,
        "load_s": load_s,
        "profile_med": profile[0],
        "profile_p99": profile[1],
        "keys_med": keys[0],
        "keys_p99": keys[1],
        "scan_med": naive[0],
    }


def run_rpc(samples: int) -> None:
    import secrets as pysecrets
    import socket

    from vectron.services.auth import ApiKeyCache
    from vectron.services.auth.client import AuthClient
    from vectron.services.auth.node import serve_auth
    from vectron.services.auth.service import AuthConfig
    from vectron.services.channels import open_channel
    from vectron.services.internal_auth import export_credential
    from vectron.v1 import auth_pb2, auth_pb2_grpc

    socks = [socket.socket() for _ in range(3)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    addrs = [f"127.0.0.1:{sock.getsockname()[1]}" for sock in socks]
    for sock in socks:
        sock.close()
    secret, password = pysecrets.token_bytes(32), pysecrets.token_hex(16)
    export_credential(password, "bench")  # internal RPC needs the cluster token
    with tempfile.TemporaryDirectory(prefix="auth-bench-rpc-") as tmp:
        nodes = [
            serve_auth(
                data_dir=f"{tmp}/n{i}", raft_address=a, peers=[p for p in addrs if p != a], jwt_secret=secret,
                cluster_password=password, config=AuthConfig(bcrypt_rounds=12),
            )
            for i, a in enumerate(addrs)
        ]
        try:
            for node in nodes:
                node.group.wait_ready(60)
            leader = next(n for n in nodes if n.group.is_leader())
            follower = next(n for n in nodes if n is not leader)
            rows = []
            for label, node in (("leader", leader), ("follower", follower)):
                with open_channel(node.grpc_address) as channel:
                    stub = auth_pb2_grpc.AuthServiceStub(channel)
                    n_slow = max(5, samples // 100)
                    emails = [f"{label}{i}@example.com" for i in range(n_slow)]
                    reg = time_lookups(lambda e: stub.RegisterUser(auth_pb2.RegisterUserRequest(email=e, password="bench password")), emails)
                    login = time_lookups(lambda e: stub.Login(auth_pb2.LoginRequest(email=e, password="bench password")), emails)
                    token = stub.Login(auth_pb2.LoginRequest(email=emails[0], password="bench password")).token
                    key = stub.CreateAPIKey(auth_pb2.CreateAPIKeyRequest(name="b"), metadata=[("authorization", f"Bearer {token}")]).key
                    validate = time_lookups(lambda k: stub.ValidateAPIKey(auth_pb2.ValidateAPIKeyRequest(key=k)), [key] * samples)
                with AuthClient([node.grpc_address]) as client:
                    cache = ApiKeyCache(client.validate_api_key, ttl=5.0)
                    cache.get(key)
                    cached = time_lookups(cache.get, [key] * samples)
                rows.append((label, reg, login, validate, cached))
            log.info("")
            log.info("| RPC on | RegisterUser (median / p99) | Login | ValidateAPIKey (linearizable) | ApiKeyCache hit |")
            log.info("| --- | ---: | ---: | ---: | ---: |")
            for label, reg, login, validate, cached in rows:
                log.info(
                    "| %s | %.1f ms / %.1f ms | %.1f ms / %.1f ms | %.2f ms / %.2f ms | %.1f µs / %.1f µs |",
                    label, reg[0] / 1e3, reg[1] / 1e3, login[0] / 1e3, login[1] / 1e3,
                    validate[0] / 1e3, validate[1] / 1e3, cached[0], cached[1],
                )
        finally:
            for node in nodes:
                node.stop(grace=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma list of user counts")
    parser.add_argument("--keys", type=int, default=3, help="API keys per user")
    parser.add_argument("--samples", type=int, default=20_000, help="indexed lookups timed per size")
    parser.add_argument("--scan-samples", type=int, default=20, help="naive full-scan lookups timed per size")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rpc", action="store_true", help="time RPCs on an in-process 3-node group instead")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.rpc:
        logging.getLogger("vectron").setLevel(logging.WARNING)
        run_rpc(min(args.samples, 2000))
        return
    rows = [run(int(s), args.keys, args.samples, args.scan_samples, args.seed) for s in args.sizes.split(",")]
    log.info("")
    log.info("| users | GetUserProfile lookup (median / p99) | ListAPIKeys lookup, %d keys (median / p99) | naive scan by id (median) |", args.keys)
    log.info("| ---: | ---: | ---: | ---: |")
    for r in rows:
        log.info(
            "| %s | %.1f µs / %.1f µs | %.1f µs / %.1f µs | %s µs |",
            f"{r['users']:,}",
            r["profile_med"],
            r["profile_p99"],
            r["keys_med"],
            r["keys_p99"],
            f"{r['scan_med']:,.0f}",
        )


if __name__ == "__main__":
    main()
