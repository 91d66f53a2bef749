"""gRPC options every Vectron service uses for its channels and its servers.

Keepalive pings are what make failover work when a network cut is silent (a
partition drops packets; nothing answers with a reset): without them a call to a
cut-off peer waits for its whole deadline, and the caller never moves on to
another replica. With them, a connection that stops answering pings is closed
within ``KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS``; its calls fail UNAVAILABLE
and new calls fail fast until the peer is reachable again. Servers must accept
pings that often (and on idle connections), or they answer with GOAWAY.
"""

from __future__ import annotations

import grpc

__all__ = ["CHANNEL_OPTIONS", "SERVER_OPTIONS", "open_channel"]

KEEPALIVE_TIME_MS = 1000
KEEPALIVE_TIMEOUT_MS = 2000
MAX_MESSAGE_BYTES = 256 << 20  # batches of vectors

CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.enable_retries", 1),
    ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
    ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
)

SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", KEEPALIVE_TIME_MS // 2),
    ("grpc.http2.max_ping_strikes", 0),
)


def open_channel(address: str) -> grpc.Channel:
    """An insecure channel to a Vectron service at ``host:port`` with the options above."""
    return grpc.insecure_channel(address, options=list(CHANNEL_OPTIONS))
