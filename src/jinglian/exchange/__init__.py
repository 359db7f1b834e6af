"""jinglian.exchange: a department's data-exchange service and the requester's fetch.

The provider runs :class:`ExchangeService` (``jinglian exchange run``), one
process per department, next to its data: it serves a catalog's data, cut to
the granted items and sealed to the requester's certificate key, only under
an active grant on chain, over mutual TLS on member certificates, and
records ``deliver`` on chain before releasing anything. The requester calls
:func:`fetch`, which verifies the data against the chain and records
``confirm``. Protocol, hashes, envelope and failure handling:
``docs/exchange.md``; decisions: ADR 0019. Example::

    from jinglian.client import Client
    from jinglian.exchange import fetch

    with Client.from_network("mynet", "org2/client") as client:
        result = fetch(client, grant_id=7, out_path="landuse.csv")
        print(result.delivery, result.size, result.status)
"""

from jinglian.exchange.config import ExchangeConfig, Source, load_config
from jinglian.exchange.fetch import FetchResult, fetch, new_request
from jinglian.exchange.protocol import FetchRequest, request_hash, response_hash
from jinglian.exchange.service import Delivered, ExchangeService
from jinglian.exchange.setup import InitResult, init_exchange
from jinglian.exchange.sources import SourceError, read_payload

__all__ = [
    "Delivered",
    "ExchangeConfig",
    "ExchangeService",
    "FetchRequest",
    "FetchResult",
    "InitResult",
    "Source",
    "SourceError",
    "fetch",
    "init_exchange",
    "load_config",
    "new_request",
    "read_payload",
    "request_hash",
    "response_hash",
]
