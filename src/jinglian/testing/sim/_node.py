"""The owner of one simulated validator: its ``Tbft``, its WAL and its committed chain.

The owner follows the real node's rules:

- sign, then ``wal.append(encode_wal_entry(...))``, then broadcast: every
  message it sends of its own goes into the WAL first (``record``), as does an
  ``EnteredStep`` whenever its machine reaches a new round;
- a decided block is committed (durably, in the sim at once), then the WAL is
  reset, then the next height starts;
- the validator set of each height comes from the chain (``validators_at``)
  and is passed to every ``on_start``;
- a crash discards the machine and everything in memory (pending events are the
  cluster's to drop); a restart reads the WAL back from a reopened
  ``MemoryWAL``, starts the machine at the height after its last committed block
  with ``on_start(height, validators, signed=entries)`` and re-delivers its own
  restored proposals with its verdict on their blocks.

What survives a crash: the WAL and the committed chain (with certificates).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from jinglian.consensus.tbft import Broadcast, Tbft
from jinglian.consensus.tbft.actions import Action
from jinglian.consensus.wal import (
    WAL_STEPS,
    EnteredStep,
    MemoryWAL,
    SignedProposal,
    SignedVote,
    WalEntry,
    decode_wal_entry,
    encode_wal_entry,
)
from jinglian.testing.sim._faults import Behaviour
from jinglian.testing.sim._wire import CHAIN_ID, fake_verify, get_signer
from jinglian.types import Commit, ConsensusParams
from jinglian.types.consensus import Proposal, Vote

__all__ = ["PARAMS", "SimNode"]

PARAMS = ConsensusParams(
    type="tbft", timeout_propose_ms=200, timeout_vote_ms=100, timeout_delta_ms=50
)


class SimNode:
    """One validator and what its owner keeps."""

    def __init__(
        self,
        validator: bytes,
        validators_at: Callable[[int], Mapping[bytes, int]],
        behaviour: Behaviour | None,
    ) -> None:
        self.id = validator
        """Validator id."""
        self.behaviour = behaviour
        """How it misbehaves; ``None`` for an honest node."""
        self.up = True
        """False while crashed."""
        self.incarnation = 0
        """Grows at every crash, so events meant for an earlier life are dropped."""
        self.chain: dict[int, tuple[bytes, Commit]] = {}
        """Committed blocks with their certificates (durable)."""
        self.log: dict[int, list[Proposal | Vote]] = {}
        """What it sent, by height, for gossip (lost in a crash)."""
        self._validators_at = validators_at
        self._wal = MemoryWAL()
        self._in_wal: set[bytes] = set()
        self._entered = (0, -1)
        self._machine: Tbft | None = self._new_machine()

    @property
    def machine(self) -> Tbft:
        """The running state machine."""
        assert self._machine is not None, "a crashed node has no state machine"
        return self._machine

    @property
    def next_height(self) -> int:
        """The height after its last committed block: the one it is deciding."""
        return len(self.chain) + 1

    def start(self) -> list[Action]:
        """Start deciding the next height (at boot, or after a commit)."""
        height = self.next_height
        return self.machine.on_start(height, validators=self._validators_at(height))

    def record(self, actions: list[Action]) -> None:
        """Write to the WAL what must be durable before ``actions`` are carried out."""
        machine = self.machine
        if (machine.height, machine.round) != self._entered:
            self._entered = (machine.height, machine.round)
            self._append(EnteredStep(machine.height, machine.round, WAL_STEPS[machine.step]))
        for action in actions:
            if isinstance(action, Broadcast):
                message = action.message
                if isinstance(message, Proposal):
                    self._append(SignedProposal(message))
                else:
                    self._append(SignedVote(message))

    def commit(self, height: int, block: bytes, commit: Commit) -> None:
        """Commit a decided (or synced) block durably, then forget the WAL of its height."""
        assert height == self.next_height, "blocks are committed in height order"
        self.chain[height] = (block, commit)
        self._wal.reset()
        self._in_wal.clear()

    def crash(self) -> None:
        """Lose everything in memory; the WAL and the chain stay."""
        self.up = False
        self.incarnation += 1
        self._machine = None
        self.log = {}
        self._wal.close()

    def restart(self, is_valid: Callable[[bytes], bool]) -> list[Action]:
        """Come back from the WAL: start the next height with what was signed at it."""
        self._wal = self._wal.reopened()
        records = list(self._wal.records())
        self._in_wal = set(records)
        entries = [decode_wal_entry(record) for record in records]
        self._entered = (0, -1)
        self._machine = machine = self._new_machine()
        self.up = True
        validators = self._validators_at(self.next_height)
        actions = machine.on_start(self.next_height, validators=validators, signed=entries)
        for proposal in _own_proposals(entries, self.next_height):
            actions += machine.on_proposal(proposal, is_valid(proposal.block_hash))
        return actions

    def _append(self, entry: WalEntry) -> None:
        record = encode_wal_entry(entry)
        if record not in self._in_wal:
            self._in_wal.add(record)
            self._wal.append(record)

    def _new_machine(self) -> Tbft:
        validators = self._validators_at(self.next_height)
        return Tbft(CHAIN_ID, self.id, validators, PARAMS, get_signer(self.id), fake_verify)


def _own_proposals(entries: list[WalEntry], height: int) -> list[Proposal]:
    return [
        e.proposal for e in entries if isinstance(e, SignedProposal) and e.proposal.height == height
    ]
