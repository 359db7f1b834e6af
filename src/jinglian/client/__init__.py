"""The Python SDK: sign transactions, talk to a node's REST API, verify its proofs offline.

``Identity`` (certificate + key) signs transactions; ``Client`` (blocking) and
``AsyncClient`` (asyncio) call one node; ``verify_tx_record`` and
``verify_state_record`` check the API's records against nothing but the
genesis file. ``load_network`` reads the ``network.json`` that
``jinglian init`` writes. Calls several organisations must approve go through
``jinglian.client.endorse``: payload files (``save_payload_file``,
``load_payload_file``, ``Identity.endorse``), policy checks
(``get_policy_check``) and gathered approvals (``invoke_governed``). Example::

    from jinglian.client import Client

    with Client.from_network("mynet", identity="org1/client") as client:
        result = client.invoke("kv", "set", {"key": "a", "value": 1})
        print(result.height, result.status)
        state = client.get_state("kv", "a", verify=True)

Errors the node reports arrive as their ``jinglian.types.errors`` class.
"""

from jinglian.client.aio import AsyncClient
from jinglian.client.endorse import (
    Endorser,
    GovernedResult,
    PayloadFile,
    PolicyCheck,
    gather_approvals,
    gather_local_approvals,
    get_policy_check,
    invoke_governed,
    load_payload_file,
    local_approvers,
    save_payload_file,
)
from jinglian.client.identity import Identity
from jinglian.client.network import (
    IdentityEntry,
    Network,
    NodeEntry,
    find_network_dir,
    load_genesis,
    load_network,
)
from jinglian.client.reads import ReadAuth, sign_read_headers
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
    "Endorser",
    "GovernedResult",
    "Identity",
    "IdentityEntry",
    "Network",
    "NodeEntry",
    "PayloadFile",
    "PolicyCheck",
    "QueryResponse",
    "ReadAuth",
    "StateValue",
    "TxResult",
    "VerifiedBlock",
    "VerifiedQuery",
    "VerifiedState",
    "VerifiedTx",
    "find_network_dir",
    "gather_approvals",
    "gather_local_approvals",
    "get_policy_check",
    "invoke_governed",
    "load_genesis",
    "load_network",
    "load_payload_file",
    "local_approvers",
    "save_payload_file",
    "sign_read_headers",
    "verify_block_evidence",
    "verify_query_record",
    "verify_state_record",
    "verify_tx_record",
]
