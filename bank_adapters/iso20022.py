"""The ISO 20022 vocabulary stopay and banks speak, in one table.

Answers to a freeze request (camt.056 with reason FRAD) use camt.029 "resolution of investigation"
statuses; refusals carry a reason code. stopay adds two codes of its own for orders it could not
deliver. docs/banks.md shows the same table.
"""

from __future__ import annotations

from types import MappingProxyType

# camt.029 investigation statuses -> what stopay makes of them.
STATUSES = MappingProxyType(
    {
        "ACCR": "accepted: the whole amount asked for is held (cancellation accepted)",
        "PECR": "partially executed: part of the amount is held, the rest had moved on (PTNA/FTNA)",
        "PDCR": "pending: the bank will answer later, by callback or when asked again",
        "RJCR": "rejected: nothing is held; the reason code says why",
    }
)

# Reason codes with a rejection (RJCR), and stopay's own for orders it could not deliver.
REASONS = MappingProxyType(
    {
        "AC01": "incorrect account number: no such account at this bank",
        "AC04": "account closed",
        "AM03": "currency not allowed",
        "AM04": "insufficient funds",
        "AM12": "invalid amount",
        "ARDT": "already returned",
        "BE01": "inconsistent with end customer: the holder's name does not match",
        "LEGL": "legal reasons",
        "NOAS": "no answer from the bank before the delivery deadline (stopay)",
        "NOAD": "no adapter serves this bank code (stopay)",
        "RFSD": "the bank refused the request itself, e.g. as malformed; sending it again would not help (stopay)",
        "NOOR": "original transaction not received: the named incoming transfer does not match",
    }
)

# Where money leaves the banking network: a trail ends there.
EXITS = ("CASH", "ATM", "MERCHANT", "CRYPTO", "CROSS_BORDER", "THIRD_PARTY_PAYMENT")


def describe(code: str) -> str:
    """A status or reason code in words; an unknown code is returned as it is."""
    return STATUSES.get(code) or REASONS.get(code) or code
