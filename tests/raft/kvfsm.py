"""A tiny LMDB key-value FSM used by the raft tests (commands are JSON: tests only)."""

from __future__ import annotations

import json

import lmdb

from vectron.raft import Entry, LmdbStateMachine


class KVStateMachine(LmdbStateMachine):
    sub_dbs = ("data",)

    """Commands: ``{"op": "set", "k", "v"}``, ``{"op": "incr", "k"}``, ``{"op": "fail"}``.

    Results are JSON: ``{"ok": true, "v": ...}`` or ``{"error": ...}``. Every applied
    command also bumps ``applies`` so tests can count applications.
    """

    def apply_command(self, txn: lmdb.Transaction, entry: Entry) -> bytes:
        cmd = json.loads(entry.body)
        data = self.db("data")
        applies = int(txn.get(b"__applies__", b"0", db=data)) + 1
        txn.put(b"__applies__", str(applies).encode(), db=data)
        op = cmd.get("op")
        if op == "set":
            txn.put(cmd["k"].encode(), json.dumps(cmd["v"]).encode(), db=data)
            return json.dumps({"ok": True, "v": cmd["v"]}).encode()
        if op == "incr":
            value = int(json.loads(txn.get(cmd["k"].encode(), b"0", db=data))) + 1
            txn.put(cmd["k"].encode(), json.dumps(value).encode(), db=data)
            return json.dumps({"ok": True, "v": value}).encode()
        if op == "fail":
            raise RuntimeError("boom")
        return json.dumps({"error": f"unknown op {op!r}"}).encode()

    def error_result(self, entry: Entry, exc: BaseException) -> bytes:
        return json.dumps({"error": repr(exc)}).encode()

    def get(self, key: str) -> object:
        with self.read_txn() as txn:
            raw = txn.get(key.encode(), db=self.db("data"))
            return None if raw is None else json.loads(raw)

    def applies(self) -> int:
        with self.read_txn() as txn:
            return int(txn.get(b"__applies__", b"0", db=self.db("data")))


def cmd(**kw: object) -> bytes:
    return json.dumps(kw).encode()
