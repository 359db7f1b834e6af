"""``tbft``: the Tendermint BFT consensus of Buchman, Kwon and Milosevic (2018).

Vote counting lives in ``_vote_set`` (``VoteSet``, bounded by the validator
set). The per-height state machine is added on top of it.
"""

__all__: list[str] = []
