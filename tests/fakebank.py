"""A scripted bank for dispatcher tests: answers what the test tells it to, and counts requests.

Only the bank side is ever faked; stopay itself runs for real on PostgreSQL and gRPC.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from bank_adapters.protocol import (
    AnswerStatus,
    ExtendAnswer,
    ExtendRequest,
    FreezeAnswer,
    FreezeRequest,
    ReleaseAnswer,
    ReleaseRequest,
    ReturnAnswer,
    ReturnRequest,
    Statement,
    StatementAnswer,
    StatementLine,
    StatementRequest,
)


class FakeBank:
    def __init__(self, codes: set[str]) -> None:
        self._codes = frozenset(codes)
        self.requests: list[object] = []
        # Overridable answers; by default the account got exactly the named transfers and holds them.
        self.on_statement: Callable[[StatementRequest], StatementAnswer] = self.plain_statement
        self.on_freeze: Callable[[FreezeRequest], FreezeAnswer] = lambda r: FreezeAnswer(
            AnswerStatus.ACCR, held_minor=r.amount_minor
        )
        # By default an extend keeps, and a return pays, the whole amount asked for.
        self.on_extend: Callable[[ExtendRequest], ExtendAnswer] = lambda r: ExtendAnswer(
            AnswerStatus.ACCR, held_minor=r.amount_minor
        )
        self.on_return: Callable[[ReturnRequest], ReturnAnswer] = lambda r: ReturnAnswer(
            AnswerStatus.ACCR, returned_minor=r.amount_minor
        )

    @property
    def bank_codes(self) -> frozenset[str]:
        return self._codes

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def statement(self, request: StatementRequest) -> StatementAnswer:
        self.requests.append(request)
        return self.on_statement(request)

    async def freeze(self, request: FreezeRequest) -> FreezeAnswer:
        self.requests.append(request)
        return self.on_freeze(request)

    async def release(self, request: ReleaseRequest) -> ReleaseAnswer:
        self.requests.append(request)
        return ReleaseAnswer(AnswerStatus.ACCR, released_minor=request.amount_minor)

    async def extend(self, request: ExtendRequest) -> ExtendAnswer:
        self.requests.append(request)
        return self.on_extend(request)

    async def return_funds(self, request: ReturnRequest) -> ReturnAnswer:
        self.requests.append(request)
        return self.on_return(request)

    @staticmethod
    def plain_statement(request: StatementRequest, opening: int = 0) -> StatementAnswer:
        lines = tuple(
            StatementLine(seq=i, at=t.transferred_at, kind="credit", amount_minor=t.amount_minor, txn_id=t.txn_id)
            for i, t in enumerate(request.incoming)
        )
        total = opening + sum(t.amount_minor for t in request.incoming)
        return StatementAnswer(AnswerStatus.ACCR, statement=Statement(opening, lines), balance_minor=total)


def now() -> datetime:
    return datetime.now(UTC)
