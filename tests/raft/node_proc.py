"""Host one RaftGroup node with the test KV FSM in its own process (raft tests).

    python -m tests.raft.node_proc --addr HOST:PORT --peers A,B,C --dir DIR --password PW

Control channel: JSON lines on stdin, one JSON line answer on stdout per request:
``{"op": "propose", "body": {...}, "rid": str|null, "timeout": s}``,
``{"op": "get", "key": k, "consistency": c}``, ``{"op": "status"}``,
``{"op": "applies"}``, ``{"op": "compact"}``. The first line written is
``{"started": true}``; a node that refuses to start exits with status 3.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from vectron.errors import NotLeader, StorageError, VectronError
from vectron.raft import RaftConfig, RaftGroup

from .kvfsm import KVStateMachine


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--peers", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--compaction-entries", type=int, default=5000)
    ap.add_argument("--no-fsync", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    out = sys.stdout
    fsm = KVStateMachine(os.path.join(args.dir, "fsm"))
    config = RaftConfig(
        self_address=args.addr,
        peers=args.peers.split(","),
        data_dir=os.path.join(args.dir, "raft"),
        password=args.password,
        durable=not args.no_fsync,
        log_compaction_min_entries=args.compaction_entries,
    )
    try:
        group = RaftGroup(fsm, config)
    except StorageError as exc:
        print(f"refusing to start: {exc}", file=sys.stderr)
        return 3
    out.write(json.dumps({"started": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        try:
            if op == "propose":
                res = group.propose(json.dumps(req["body"]).encode(), req.get("rid"), req.get("timeout", 10.0))
                answer = {"ok": json.loads(res)}
            elif op == "get":
                key = req["key"]
                answer = {"ok": group.read(lambda f: f.get(key), req.get("consistency", "linearizable"), 10.0)}
            elif op == "status":
                answer = {"ok": group.status()}
            elif op == "applies":
                answer = {"ok": fsm.applies()}
            elif op == "compact":
                group.compact()
                answer = {"ok": True}
            else:
                answer = {"error": "bad_op"}
        except NotLeader as exc:
            answer = {"error": exc.code, "leader": exc.leader, "message": str(exc)}
        except VectronError as exc:
            answer = {"error": exc.code, "message": str(exc)}
        except Exception as exc:  # report, never die: tests poll nodes while they restore
            logging.exception("request %s failed", op)
            answer = {"error": "exception", "message": repr(exc)}
        answer["id"] = req.get("id")
        out.write(json.dumps(answer) + "\n")
        out.flush()
    group.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
