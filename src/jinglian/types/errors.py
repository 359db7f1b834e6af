"""The error tree: every way input from outside can be wrong.

Input from clients, peers, contracts and files that is wrong raises one of
these; a broken internal invariant is an ``assert`` instead and stops the node.
Each class has a stable ``code`` (used in REST errors and CLI ``--json``) and an
HTTP status the API maps it to::

    JinglianError
    ├── InvalidInput                 malformed request, encoding or file
    │   ├── DecodeError              bytes that are not canonical encoding
    │   └── TooLarge                 over a named size bound
    ├── InvalidTransaction           well-formed but not acceptable
    │   ├── WrongChain
    │   ├── InvalidSignature
    │   ├── TransactionExpired
    │   └── DuplicateTransaction
    ├── InvalidBlock
    ├── InvalidReceipt               an evidence receipt does not prove its claim
    │   ├── DigestMismatch           the file is not the one deposited
    │   └── PayloadMismatch          delivered data is not what the chain recorded
    ├── PermissionDenied             identity known but not allowed
    │   ├── UnknownIdentity          certificate does not chain to a member CA
    │   ├── CertificateExpired
    │   ├── CertificateRevoked
    │   ├── PolicyNotSatisfied       too few organisations approved (governance)
    │   ├── Unauthenticated          a read without a valid member signature
    │   └── ReplayedRequest          a signed read sent a second time
    ├── NotFound
    │   ├── UnknownContract
    │   └── UnknownMethod
    ├── ContractError                a contract call failed deterministically
    │   ├── ContractFailed           the contract raised or called ctx.fail
    │   ├── OutOfGas
    │   ├── ReadOnlyViolation        a query tried to write
    │   ├── SandboxViolation         code refused at deploy or at run time
    │   ├── ContractFrozen           the contract is frozen or revoked
    │   ├── ProposalClosed           a proposal is expired, executed or rejected
    │   └── UnsafeChange             a config change would break the chain
    ├── Busy                         a bounded queue is full; retry later
    ├── Timeout                      waited for something that did not happen
    ├── ConfigError                  a configuration or genesis file is wrong
    ├── CryptoError                  a key, certificate or ciphertext is unusable
    └── Unavailable                  a part of the node the request needs is not set up (503)
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "Busy",
    "CertificateExpired",
    "CertificateRevoked",
    "ConfigError",
    "ContractError",
    "ContractFailed",
    "ContractFrozen",
    "CryptoError",
    "DecodeError",
    "DigestMismatch",
    "DuplicateTransaction",
    "InvalidBlock",
    "InvalidInput",
    "InvalidReceipt",
    "InvalidSignature",
    "InvalidTransaction",
    "JinglianError",
    "NotFound",
    "OutOfGas",
    "PayloadMismatch",
    "PermissionDenied",
    "PolicyNotSatisfied",
    "ProposalClosed",
    "ReadOnlyViolation",
    "ReplayedRequest",
    "SandboxViolation",
    "Timeout",
    "TooLarge",
    "TransactionExpired",
    "Unauthenticated",
    "Unavailable",
    "UnknownContract",
    "UnknownIdentity",
    "UnknownMethod",
    "UnsafeChange",
    "WrongChain",
    "error_from_code",
]


class JinglianError(Exception):
    """Root of every error caused by input from outside the node."""

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """The JSON body the API returns for this error."""
        return {"code": self.code, "message": self.message}


class InvalidInput(JinglianError):
    code = "invalid_input"


class DecodeError(InvalidInput):
    code = "decode_error"


class TooLarge(InvalidInput):
    code = "too_large"
    http_status = 413


class InvalidTransaction(JinglianError):
    code = "invalid_transaction"


class WrongChain(InvalidTransaction):
    code = "wrong_chain"


class InvalidSignature(InvalidTransaction):
    code = "invalid_signature"


class TransactionExpired(InvalidTransaction):
    code = "transaction_expired"


class DuplicateTransaction(InvalidTransaction):
    code = "duplicate_transaction"
    http_status = 409


class InvalidBlock(JinglianError):
    code = "invalid_block"


class InvalidReceipt(JinglianError):
    code = "invalid_receipt"


class DigestMismatch(InvalidReceipt):
    code = "digest_mismatch"


class PermissionDenied(JinglianError):
    code = "permission_denied"
    http_status = 403


class UnknownIdentity(PermissionDenied):
    code = "unknown_identity"


class CertificateExpired(PermissionDenied):
    code = "certificate_expired"


class CertificateRevoked(PermissionDenied):
    code = "certificate_revoked"


class PolicyNotSatisfied(PermissionDenied):
    code = "policy_not_satisfied"


class Unauthenticated(PermissionDenied):
    code = "unauthenticated"
    http_status = 401


class ReplayedRequest(PermissionDenied):
    code = "replayed_request"


class NotFound(JinglianError):
    code = "not_found"
    http_status = 404


class UnknownContract(NotFound):
    code = "unknown_contract"


class UnknownMethod(NotFound):
    code = "unknown_method"


class ContractError(JinglianError):
    code = "contract_error"
    http_status = 422


class ContractFailed(ContractError):
    code = "contract_failed"


class OutOfGas(ContractError):
    code = "out_of_gas"


class ReadOnlyViolation(ContractError):
    code = "read_only_violation"


class SandboxViolation(ContractError):
    code = "sandbox_violation"


class ContractFrozen(ContractError):
    code = "contract_frozen"


class ProposalClosed(ContractError):
    code = "proposal_closed"


class UnsafeChange(ContractError):
    code = "unsafe_change"


class Busy(JinglianError):
    code = "busy"
    http_status = 503


class Timeout(JinglianError):
    code = "timeout"
    http_status = 504


class ConfigError(JinglianError):
    code = "config_error"


class CryptoError(JinglianError):
    code = "crypto_error"


class PayloadMismatch(InvalidReceipt):
    """Delivered data does not hash to what its delivery record on chain says."""

    code = "payload_mismatch"


class Unavailable(JinglianError):
    """A part of this node that the request needs is not configured or cannot be read now
    (e.g. the directory's SQL index)."""

    code = "unavailable"
    http_status = 503


def _all_subclasses(cls: type[JinglianError]) -> list[type[JinglianError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


def error_from_code(code: str, message: str) -> JinglianError:
    """Rebuild the typed error a remote side reported (used by the SDK)."""
    for cls in _all_subclasses(JinglianError):
        if cls.code == code:
            return cls(message)
    return JinglianError(message)
