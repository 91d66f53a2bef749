"""gRPC options every Vectron service uses for its channels and its servers.

These options are what make failover work when a peer goes silent (a partition
drops its packets, or its process is paused: nothing answers with a reset).
gRPC's defaults would let a call to such a peer wait for its whole deadline, so
the caller never moved on to another replica in time:

* keepalive pings: a connection that stops answering them is closed within
  ``KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS``; its calls fail UNAVAILABLE.
  Servers must accept pings that often (and on idle connections), or they
  answer with GOAWAY;
* a connection attempt gets ``CONNECT_TIMEOUT_MS`` (gRPC's default is 20 s: a
  paused process's kernel completes the TCP handshake, but the HTTP/2 one never
  comes, and calls queued meanwhile wait); after it the channel fails calls at
  once with UNAVAILABLE ("failed to connect": nothing was sent);
* reconnection is tried at least every ``MAX_RECONNECT_BACKOFF_MS`` (the default
  backoff grows to 120 s), so a peer that comes back is used again promptly.

Every channel :func:`open_channel` opens carries this node's cluster token
(:mod:`vectron.services.internal_auth`) and, when the process is configured with
TLS files (:mod:`vectron.services.tls`), is a TLS channel (mutual TLS with a client
certificate).
"""

from __future__ import annotations

import grpc

from vectron.services.internal_auth import ClusterCredential, TokenClientInterceptor
from vectron.services.tls import TlsFiles

__all__ = ["CHANNEL_OPTIONS", "SERVER_OPTIONS", "open_channel"]

KEEPALIVE_TIME_MS = 1000
KEEPALIVE_TIMEOUT_MS = 2000
CONNECT_TIMEOUT_MS = 1000
MAX_RECONNECT_BACKOFF_MS = 2000
MAX_MESSAGE_BYTES = 256 << 20  # batches of vectors

CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.enable_retries", 1),
    ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
    ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
    ("grpc.http2.ping_timeout_ms", KEEPALIVE_TIMEOUT_MS),  # gRPC >= 1.6x times out a keepalive ping by this one
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.min_reconnect_backoff_ms", CONNECT_TIMEOUT_MS),  # gRPC core's minimum connect timeout
    ("grpc.initial_reconnect_backoff_ms", CONNECT_TIMEOUT_MS // 2),
    ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
)

SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", KEEPALIVE_TIME_MS // 2),
    ("grpc.http2.max_ping_strikes", 0),
)


def open_channel(
    address: str, *, credential: ClusterCredential | None = None, tls: TlsFiles | None = None
) -> grpc.Channel:
    """A channel to a Vectron service at ``host:port`` with the options above, sending
    ``credential``'s cluster token on every call and using TLS when ``tls`` is given
    (both default to what this process is configured with, see ``from_env``)."""
    credential = credential or ClusterCredential.from_env()
    tls = tls or TlsFiles.from_env()
    if tls is not None:
        channel = grpc.secure_channel(address, tls.channel_credentials(), options=list(CHANNEL_OPTIONS))
    else:
        channel = grpc.insecure_channel(address, options=list(CHANNEL_OPTIONS))
    if credential is None:
        return channel
    return grpc.intercept_channel(channel, TokenClientInterceptor(credential))
