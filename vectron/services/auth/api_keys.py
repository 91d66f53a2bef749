"""API key format, hashing, and the callers' short-lived validation cache.

A key reads ``vk_<key_id>_<secret>``: ``key_id`` is 12 lowercase hex
characters (its public prefix, the lookup key), ``secret`` is 32 random bytes
(256 bits, from :mod:`secrets`) in URL-safe base64. Only ``sha256(secret)`` is
stored; because the secret is high-entropy, a fast hash is enough and checking
a key costs one SHA-256 and one constant-time comparison, never a bcrypt.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from vectron.services.auth.model import KeyValidation

__all__ = [
    "KEY_PREFIX",
    "ParsedKey",
    "new_key",
    "parse_key",
    "hash_secret",
    "secret_matches",
    "ApiKeyCache",
]

KEY_PREFIX = "vk"
KEY_ID_HEX_CHARS = 12
SECRET_BYTES = 32
_KEY_RE = re.compile(r"^vk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class ParsedKey:
    key_id: str
    secret: str


def new_key() -> tuple[str, ParsedKey]:
    """A fresh random key: (the full key, its parts)."""
    key_id = secrets.token_hex(KEY_ID_HEX_CHARS // 2)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return f"{KEY_PREFIX}_{key_id}_{secret}", ParsedKey(key_id, secret)


def parse_key(full_key: str) -> ParsedKey | None:
    """Split a full key into its id and secret; None if it is not shaped like a key."""
    if not isinstance(full_key, str):
        return None
    match = _KEY_RE.match(full_key.strip())
    return None if match is None else ParsedKey(match.group(1), match.group(2))


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), bytes(stored_hash))


@dataclass
class _Cached:
    value: KeyValidation
    expires: float


class ApiKeyCache:
    """A small TTL cache of key validations for callers (the gateway).

    ``validate(full_key) -> KeyValidation`` is called on a miss; answers (valid or
    not) are kept ``ttl`` seconds, so a revocation takes effect within ``ttl``
    seconds. Entries are keyed by a SHA-256 of the full key (no plaintext keys
    are held). Thread-safe; bounded to ``max_entries`` (least recently used out).
    Errors from ``validate`` (e.g. the auth group is unavailable) are not cached.
    """

    def __init__(
        self,
        validate: Callable[[str], KeyValidation],
        *,
        ttl: float = 5.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._validate = validate
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, _Cached] = OrderedDict()

    @staticmethod
    def _key(full_key: str) -> bytes:
        return hashlib.sha256(full_key.encode("utf-8", "surrogatepass")).digest()

    def get(self, full_key: str) -> KeyValidation:
        k = self._key(full_key)
        now = self._clock()
        with self._lock:
            hit = self._entries.get(k)
            if hit is not None and hit.expires > now:
                self._entries.move_to_end(k)
                return hit.value
        value = self._validate(full_key)
        with self._lock:
            self._entries[k] = _Cached(value, self._clock() + self._ttl)
            self._entries.move_to_end(k)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return value

    def peek(self, full_key: str) -> KeyValidation | None:
        """The cached validation of ``full_key`` if still fresh, else None (never validates)."""
        with self._lock:
            hit = self._entries.get(self._key(full_key))
        return hit.value if hit is not None and hit.expires > self._clock() else None

    def invalidate(self, full_key: str | None = None) -> None:
        """Forget one key (or everything)."""
        with self._lock:
            if full_key is None:
                self._entries.clear()
            else:
                self._entries.pop(self._key(full_key), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
