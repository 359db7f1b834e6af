"""jinglian.network: the peer transport between nodes.

- :mod:`~jinglian.network.framing`: a 4-byte big-endian length, one byte of
  message type, the payload; bounded by ``FRAME_BYTES_MAX``.
- :mod:`~jinglian.network.tls`: TLS 1.3 mutual auth plus an application check
  that the peer certificate chains to the CA of its own member organisation
  (:class:`PeerTls`, :class:`PeerIdentity`).
- :mod:`~jinglian.network.binding`: on gm chains, TLS runs with pinned P-256
  transport certificates and each side proves its SM2 member certificate by
  signing this connection's transcript (:class:`SuiteBinding`, ADR 0011).
- :mod:`~jinglian.network.transport`: :class:`PeerServer` delivers frames of
  authenticated peers to ``on_message``; :func:`connect` gives a
  :class:`PeerClient` with a bounded send queue and bounded reconnect backoff.
"""

from __future__ import annotations

from jinglian.network.binding import SuiteBinding
from jinglian.network.framing import (
    FRAME_BYTES_MAX,
    Frame,
    decode_frame,
    encode_frame,
    read_frame,
    write_frame,
)
from jinglian.network.tls import PeerIdentity, PeerTls, load_member_cas, load_peer_tls
from jinglian.network.transport import PEER_SEND_QUEUE_MAX, PeerClient, PeerServer, connect

__all__ = [
    "FRAME_BYTES_MAX",
    "PEER_SEND_QUEUE_MAX",
    "Frame",
    "PeerClient",
    "PeerIdentity",
    "PeerServer",
    "PeerTls",
    "SuiteBinding",
    "connect",
    "decode_frame",
    "encode_frame",
    "load_member_cas",
    "load_peer_tls",
    "read_frame",
    "write_frame",
]
