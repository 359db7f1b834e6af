"""The Python SDK: sign transactions, talk to a node's REST API, verify its proofs offline.

``Identity`` (certificate + key) signs transactions; ``Client`` (blocking) and
``AsyncClient`` (asyncio) call one node; ``verify_tx_record`` and
``verify_state_record`` check the API's records against nothing but the
genesis file. ``load_network`` reads the ``network.json`` that
``jinglian init`` writes. Example::

    from jinglian.client import Client

    with Client.from_network("mynet", identity="org1/client") as client:
        result = client.invoke("kv", "set", {"key": "a", "value": 1})
        print(result.height, result.status)
        state = client.get_state("kv", "a", verify=True)

Errors the node reports arrive as their ``jinglian.types.errors`` class.
"""

from jinglian.client.aio import AsyncClient
from jinglian.client.identity import Identity
from jinglian.client.network import (
    IdentityEntry,
    Network,
    NodeEntry,
    find_network_dir,
    load_genesis,
    load_network,
)
from jinglian.client.records import QueryResponse, StateValue, TxResult
from jinglian.client.sync import Client
from jinglian.client.verify import (
    VerifiedBlock,
    VerifiedQuery,
    VerifiedState,
    VerifiedTx,
    verify_block_evidence,
    verify_query_record,
    verify_state_record,
    verify_tx_record,
)

__all__ = [
    "AsyncClient",
    "Client",
    "Identity",
    "IdentityEntry",
    "Network",
    "NodeEntry",
    "QueryResponse",
    "StateValue",
    "TxResult",
    "VerifiedBlock",
    "VerifiedQuery",
    "VerifiedState",
    "VerifiedTx",
    "find_network_dir",
    "load_genesis",
    "load_network",
    "verify_block_evidence",
    "verify_query_record",
    "verify_state_record",
    "verify_tx_record",
]
