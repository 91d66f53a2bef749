"""Auth storage lookups stay flat as users grow: profile by user id and list of a user's keys.

    .venv/bin/python bench/auth_bench.py                       # 1,000 / 10,000 / 100,000 users
    .venv/bin/python bench/auth_bench.py --sizes 1000,100000 --samples 5000

Measures the storage layer directly (vectron.services.auth.storage.AuthStorage
over one LMDB env, no Raft, no gRPC): ``user_by_id`` (secondary index
user_id -> email, then the user record) and ``keys_of_user`` (range read of the
user_id -> key ids index, then each key record). Each user has ``--keys``
keys. For contrast, ``scan`` finds a user by id the naive way, by walking
every user record (fewer samples: it is slow on purpose).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma list of user counts")
    parser.add_argument("--keys", type=int, default=3, help="API keys per user")
    parser.add_argument("--samples", type=int, default=20_000, help="indexed lookups timed per size")
    parser.add_argument("--scan-samples", type=int, default=20, help="naive full-scan lookups timed per size")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
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
