"""A small Python client of a Vectron gateway's REST API, with typed results.

::

    from vectron.client import Client

    admin = Client("http://127.0.0.1:8080")
    admin.register("ada@example.com", "correct horse battery")
    admin.login("ada@example.com", "correct horse battery")      # keeps the session token
    key = admin.create_key("laptop").key

    db = Client("http://127.0.0.1:8080", api_key=key)
    db.create_collection("docs", dimension=3)
    db.upsert("docs", [Point(1, [0.1, 0.2, 0.3], {"lang": "en"})])
    hits = db.search("docs", [0.1, 0.2, 0.3], top_k=5)        # [ScoredPoint(id, score, payload, vector)]

Errors are the vectron.errors the server answered with (``CollectionNotFound``,
``DimensionMismatch``, ``Unauthenticated``, ``PartialWrite`` (an upsert that
reached only some shards: ``written`` / ``failed`` ids), ``RateLimited``
(``retry_after`` seconds), ...). Calls answered 429 or 503
are retried a few times with backoff (every operation here is safe to repeat,
except creating and dropping a collection, which are not retried).
"""

from __future__ import annotations

import hashlib
import os
import ssl
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from vectron import errors
from vectron.limits import check_name

__all__ = [
    "Client",
    "Point",
    "ScoredPoint",
    "User",
    "Session",
    "ApiKey",
    "CreatedKey",
    "Collection",
]

PointId = int | str


@dataclass(frozen=True)
class Point:
    id: PointId
    vector: list[float] | None = None
    payload: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "vector": [float(x) for x in (self.vector or [])]}
        if self.payload is not None:
            out["payload"] = self.payload
        return out


@dataclass(frozen=True)
class ScoredPoint:
    id: PointId
    score: float
    payload: dict[str, Any] | None = None
    vector: list[float] | None = None


@dataclass(frozen=True)
class User:
    id: str
    email: str
    created_at: str
    plan: str = "free"
    disabled: bool = False


@dataclass(frozen=True)
class Session:
    token: str
    expires_at: str
    user: User


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    plan: str
    scope: str
    created_at: str
    revoked: bool = False
    limits: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CreatedKey:
    key: str
    api_key: ApiKey


@dataclass(frozen=True)
class Collection:
    name: str
    dimension: int
    distance: str
    shards: int
    replication_factor: int
    hnsw: dict[str, int]
    created_at: str
    points_count: int | None = None
    shard_status: list[dict[str, Any]] | None = None
    #: {"field", "type", "automatic"} per payload index
    payload_indexes: list[dict[str, Any]] = field(default_factory=list)
    auto_index: bool = True


def _user(d: Mapping[str, Any]) -> User:
    return User(
        id=d["id"], email=d["email"], created_at=d["created_at"], plan=d.get("plan", "free"), disabled=d.get("disabled", False)
    )


def _key(d: Mapping[str, Any]) -> ApiKey:
    return ApiKey(
        id=d["id"], name=d["name"], prefix=d["prefix"], plan=d["plan"], scope=d["scope"], created_at=d["created_at"],
        revoked=d.get("revoked", False), limits=dict(d.get("limits") or {}),
    )


def _collection(d: Mapping[str, Any]) -> Collection:
    return Collection(
        name=d["name"], dimension=d["dimension"], distance=d["distance"], shards=d["shards"],
        replication_factor=d["replication_factor"], hnsw=dict(d.get("hnsw") or {}), created_at=d["created_at"],
        points_count=d.get("points_count"), shard_status=d.get("shard_status"), payload_indexes=list(d.get("payload_indexes") or []),
        auto_index=d.get("auto_index", True),
    )


def _point(d: Mapping[str, Any]) -> Point:
    return Point(id=d["id"], vector=d.get("vector"), payload=d.get("payload"))


def _hit(d: Mapping[str, Any]) -> ScoredPoint:
    return ScoredPoint(id=d["id"], score=d["score"], payload=d.get("payload"), vector=d.get("vector"))


def _as_point(p: Point | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(p, Point):
        return p.to_json()
    out = {"id": p["id"], "vector": [float(x) for x in p["vector"]]}
    if p.get("payload") is not None:
        out["payload"] = p["payload"]
    return out


def error_from_response(response: httpx.Response) -> errors.VectronError:
    """The VectronError a gateway answered with."""
    try:
        body = response.json()["error"]
        code, message, fld = body["code"], body["message"], body.get("field")
    except (ValueError, KeyError, TypeError):
        return errors.VectronError(f"HTTP {response.status_code}: {response.text[:200]}")
    if code == "partial_write":
        return errors.PartialWrite(
            message, written=body.get("written"), failed=body.get("failed"), unknown=body.get("unknown"),
            http_status=response.status_code,
        )
    if code == "rate_limited" or response.status_code == 429:
        retry = response.headers.get("Retry-After", "1")
        return errors.RateLimited(message, retry_after=float(retry) if retry.replace(".", "", 1).isdigit() else 1.0, field=fld)
    if code in ("invalid_json",):
        return errors.InvalidArgument(message, field=fld)
    err = errors.error_from_code(code, message, fld)
    if type(err) is errors.VectronError:  # a code this client does not know: keep the status's class
        cls = {400: errors.InvalidArgument, 401: errors.Unauthenticated, 403: errors.PermissionDenied, 404: errors.NotFound,
               409: errors.AlreadyExists, 413: errors.PayloadTooLarge, 503: errors.Unavailable}.get(response.status_code)
        if cls is not None:
            err = cls(message, field=fld)
    return err


def _col(name: str, tail: str = "") -> str:
    """The path of collection ``name`` (checked and escaped: ``../etc`` is refused here, not sent)."""
    return f"/v1/collections/{quote(check_name(name), safe='')}{tail}"


class Client:
    """A Vectron gateway over REST. Give ``api_key`` for data calls; :meth:`login`
    (or ``token``) for account calls."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8080",
        api_key: str | None = None,
        *,
        token: str | None = None,
        timeout: float = 60.0,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        ca: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.token = token
        self.retries = retries
        verify = ssl.create_default_context(cafile=ca) if ca else True  # ca: the private CA of an https:// gateway
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport, verify=verify)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------
    def _request(self, method: str, path: str, *, cred: str | None = None, json: Any = None, retry: bool = True) -> Any:
        headers = {"Authorization": f"Bearer {cred}"} if cred else {}
        delay = 0.2
        for attempt in range(self.retries + 1 if retry else 1):
            try:
                r = self._http.request(method, path, json=json, headers=headers)
            except httpx.TransportError as exc:
                if attempt >= (self.retries if retry else 0):
                    raise errors.Unavailable(f"cannot reach {self.url}: {exc}") from None
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if r.is_success:
                return r.json()
            err = error_from_response(r)
            last_try = not retry or attempt >= self.retries
            if last_try or r.status_code not in (429, 503) or isinstance(err, errors.PartialWrite):
                raise err
            wait = err.retry_after if isinstance(err, errors.RateLimited) else delay
            time.sleep(min(wait, 10.0))
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")  # pragma: no cover

    def _key(self) -> str:
        if not self.api_key:
            raise errors.Unauthenticated("this call needs an API key: Client(url, api_key='vk_...')")
        return self.api_key

    def _session(self) -> str:
        if not self.token:
            raise errors.Unauthenticated("this call needs a session: call login() first")
        return self.token

    # -- accounts ----------------------------------------------------------------------
    def register(self, email: str, password: str) -> User:
        return _user(self._request("POST", "/v1/users/register", json={"email": email, "password": password}, retry=False)["user"])

    def login(self, email: str, password: str) -> Session:
        d = self._request("POST", "/v1/users/login", json={"email": email, "password": password}, retry=False)
        self.token = d["token"]
        return Session(token=d["token"], expires_at=d["expires_at"], user=_user(d["user"]))

    def profile(self) -> User:
        return _user(self._request("GET", "/v1/user/profile", cred=self._session())["user"])

    def create_key(self, name: str, scope: str | None = None) -> CreatedKey:
        """A new API key with the account's plan (set by an admin) and ``scope``."""
        body = {k: v for k, v in (("name", name), ("scope", scope)) if v is not None}
        d = self._request("POST", "/v1/keys", cred=self._session(), json=body, retry=False)
        return CreatedKey(key=d["key"], api_key=_key(d["api_key"]))

    def list_keys(self) -> list[ApiKey]:
        return [_key(k) for k in self._request("GET", "/v1/keys", cred=self._session())["api_keys"]]

    def revoke_key(self, key_id: str) -> ApiKey:
        return _key(self._request("DELETE", f"/v1/keys/{quote(key_id, safe='')}", cred=self._session())["api_key"])

    # -- administration (the session of an admin named by the node's --admin-emails) ----
    def list_users(self, after: str = "", limit: int = 100) -> tuple[list[User], str | None]:
        """A page of users in email order and the ``after`` of the next page (None at the end)."""
        query = urllib.parse.urlencode({"after": after, "limit": limit})
        d = self._request("GET", f"/v1/admin/users?{query}", cred=self._session())
        return [_user(u) for u in d["users"]], d.get("next_after")

    def set_plan(self, user: str, plan: str) -> User:
        """Give the account ``user`` (an id or an email) a plan; all its keys have it."""
        return _user(self._request("PUT", f"/v1/admin/users/{quote(user, safe='')}/plan", cred=self._session(), json={"plan": plan})["user"])

    def set_disabled(self, user: str, disabled: bool) -> User:
        action = "disable" if disabled else "enable"
        return _user(self._request("POST", f"/v1/admin/users/{quote(user, safe='')}/{action}", cred=self._session())["user"])

    def delete_user(self, user: str) -> tuple[User, list[str]]:
        """Delete an account, its keys and every collection it owns; (the user, the collections dropped)."""
        d = self._request("DELETE", f"/v1/admin/users/{quote(user, safe='')}", cred=self._session(), retry=False)
        return _user(d["user"]), list(d["collections_dropped"])

    # -- collections -------------------------------------------------------------------
    def create_collection(
        self, name: str, dimension: int, distance: str = "cosine", *, shards: int | None = None,
        replication_factor: int | None = None, hnsw: Mapping[str, int] | None = None,
        payload_indexes: Mapping[str, str] | None = None, auto_index: bool = True,
    ) -> Collection:
        """``payload_indexes``: field -> keyword | integer | float | bool, built on every shard from the start;
        ``auto_index`` False: no automatic indexes of the fields filters use."""
        body: dict[str, Any] = {"dimension": dimension, "distance": distance}
        if payload_indexes:
            body["payload_indexes"] = [{"field": f, "type": t} for f, t in payload_indexes.items()]
        if not auto_index:
            body["auto_index"] = False
        if shards is not None:
            body["shards"] = shards
        if replication_factor is not None:
            body["replication_factor"] = replication_factor
        if hnsw:
            body["hnsw"] = dict(hnsw)
        return _collection(self._request("PUT", _col(name), cred=self._key(), json=body, retry=False)["collection"])

    def list_collections(self) -> list[Collection]:
        return [_collection(c) for c in self._request("GET", "/v1/collections", cred=self._key())["collections"]]

    def get_collection(self, name: str) -> Collection:
        return _collection(self._request("GET", _col(name), cred=self._key())["collection"])

    def drop_collection(self, name: str) -> None:
        self._request("DELETE", _col(name), cred=self._key(), retry=False)

    def create_payload_index(self, collection: str, field: str, type: str) -> bool:
        """Index a payload field (dotted path) as keyword, integer, float or bool on every shard.
        True if created, False if it was already there."""
        body = {"field": field, "type": type}
        return bool(self._request("PUT", _col(collection, "/index"), cred=self._key(), json=body)["created"])

    def drop_payload_index(self, collection: str, field: str) -> bool:
        """Stop indexing a payload field. True if an index was declared on it."""
        return bool(self._request("DELETE", _col(collection, f"/index/{quote(field, safe='')}"), cred=self._key())["dropped"])

    # -- points ------------------------------------------------------------------------
    def upsert(self, collection: str, points: Iterable[Point | Mapping[str, Any]]) -> int:
        """Insert or replace points (one batch: at most 10,000). Returns how many were written."""
        body = {"points": [_as_point(p) for p in points]}
        return int(self._request("POST", _col(collection, "/points"), cred=self._key(), json=body)["upserted"])

    def get(self, collection: str, ids: Sequence[PointId], *, with_vector: bool = False, with_payload: bool = True,
            consistency: str | None = None) -> list[Point]:
        body: dict[str, Any] = {"ids": list(ids), "with_vector": with_vector, "with_payload": with_payload}
        if consistency:
            body["consistency"] = consistency
        return [_point(p) for p in self._request("POST", _col(collection, "/points/get"), cred=self._key(), json=body)["points"]]

    def retrieve(self, collection: str, point_id: PointId) -> Point | None:
        """One point with its vector and payload, or None."""
        got = self.get(collection, [point_id], with_vector=True)
        return got[0] if got else None

    def delete(self, collection: str, ids: Sequence[PointId] | None = None, *, filter: Mapping[str, Any] | None = None) -> int:
        body: dict[str, Any] = {"ids": list(ids)} if ids is not None else {"filter": filter}
        return int(self._request("POST", _col(collection, "/points/delete"), cred=self._key(), json=body)["deleted"])

    def set_payload(self, collection: str, ids: Sequence[PointId], payload: Mapping[str, Any], *, overwrite: bool = False) -> int:
        body = {"ids": list(ids), "payload": dict(payload), "overwrite": overwrite}
        return int(self._request("POST", _col(collection, "/points/payload"), cred=self._key(), json=body)["updated"])

    def scroll(self, collection: str, *, limit: int = 100, offset: PointId | None = None, filter: Mapping[str, Any] | None = None,
               with_vector: bool = False) -> tuple[list[Point], PointId | None]:
        body: dict[str, Any] = {"limit": limit, "with_vector": with_vector}
        if offset is not None:
            body["offset"] = offset
        if filter is not None:
            body["filter"] = dict(filter)
        d = self._request("POST", _col(collection, "/points/scroll"), cred=self._key(), json=body)
        return [_point(p) for p in d["points"]], d.get("next_offset")

    def count(self, collection: str, filter: Mapping[str, Any] | None = None) -> int:
        body = {"filter": dict(filter)} if filter is not None else {}
        return int(self._request("POST", _col(collection, "/points/count"), cred=self._key(), json=body)["count"])

    @staticmethod
    def _search_body(vector: Sequence[float], top_k: int, filter: Mapping[str, Any] | None, **options: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"vector": [float(x) for x in vector], "top_k": top_k}
        if filter is not None:
            body["filter"] = dict(filter)
        body.update({k: v for k, v in options.items() if v is not None})
        return body

    def search(
        self, collection: str, vector: Sequence[float], top_k: int = 10, *, filter: Mapping[str, Any] | None = None,
        ef: int | None = None, score_threshold: float | None = None, with_payload: bool = True, with_vector: bool = False,
        consistency: str | None = None, allow_partial: bool = False,
    ) -> list[ScoredPoint]:
        """The ``top_k`` nearest points, best first (over every shard)."""
        body = self._search_body(vector, top_k, filter, ef=ef, score_threshold=score_threshold, with_payload=with_payload,
                                 with_vector=with_vector, consistency=consistency, allow_partial=allow_partial or None)
        d = self._request("POST", _col(collection, "/points/search"), cred=self._key(), json=body)
        return [_hit(h) for h in d["results"]]

    def search_batch(self, collection: str, vectors: Sequence[Sequence[float]], top_k: int = 10, *,
                     filter: Mapping[str, Any] | None = None) -> list[list[ScoredPoint]]:
        body = {"searches": [self._search_body(v, top_k, filter) for v in vectors]}
        d = self._request("POST", _col(collection, "/points/search/batch"), cred=self._key(), json=body)
        return [[_hit(h) for h in hits] for hits in d["results"]]

    # -- snapshots (see docs/backup.md) ---------------------------------------------------
    def create_snapshot(self, collection: str) -> dict[str, Any]:
        """A consistent snapshot of every shard of ``collection``, kept on the gateway: its
        record (name, size, sha256, points, shards, created_at)."""
        record: dict[str, Any] = self._request("POST", _col(collection, "/snapshots"), cred=self._key(), retry=False)["snapshot"]
        return record

    def list_snapshots(self, collection: str) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = self._request("GET", _col(collection, "/snapshots"), cred=self._key())["snapshots"]
        return records

    def delete_snapshot(self, collection: str, name: str) -> None:
        self._request("DELETE", _col(collection, f"/snapshots/{quote(name, safe='')}"), cred=self._key())

    def download_snapshot(self, collection: str, name: str, path: str | os.PathLike[str]) -> int:
        """Stream snapshot ``name`` into the file ``path``; checks its SHA-256; the bytes written."""
        digest = hashlib.sha256()
        size = 0
        headers = {"Authorization": f"Bearer {self._key()}"}
        with self._http.stream("GET", _col(collection, f"/snapshots/{quote(name, safe='')}"), headers=headers) as r:
            if not r.is_success:
                r.read()
                raise error_from_response(r)
            expected = r.headers.get("x-vectron-sha256")
            with open(path, "wb") as out:
                for chunk in r.iter_bytes(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
        if expected and digest.hexdigest() != expected:
            raise errors.Unavailable(f"the download of {name!r} was damaged in transit (SHA-256 differs); try again")
        return size

    def restore_snapshot(self, collection: str, path: str | os.PathLike[str], *, shards: int | None = None,
                         replication_factor: int | None = None) -> dict[str, Any]:
        """Create the NEW collection ``collection`` from the snapshot file at ``path`` (streamed
        up); ``shards``/``replication_factor`` default to the snapshot's. The server's answer."""
        params = {k: v for k, v in (("shards", shards), ("replication_factor", replication_factor)) if v is not None}

        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as f:
                while data := f.read(1 << 20):
                    yield data

        headers = {"Authorization": f"Bearer {self._key()}", "Content-Type": "application/octet-stream",
                   "Content-Length": str(os.path.getsize(path))}
        try:
            r = self._http.post(_col(collection, "/snapshots/restore"), content=chunks(), params=params, headers=headers,
                                timeout=httpx.Timeout(self._http.timeout.connect, read=None, write=None, pool=None))
        except httpx.TransportError as exc:
            raise errors.Unavailable(f"cannot reach {self.url}: {exc}") from None
        if not r.is_success:
            raise error_from_response(r)
        answer: dict[str, Any] = r.json()
        return answer

    def ready(self) -> bool:
        try:
            return self._http.get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False
