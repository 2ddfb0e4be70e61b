"""Checks the requests of HoldService field by field; every problem names its field, all at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from stopay.api.validation import InvalidRequest, _Checker
from stopay.domain.accounts import ACCOUNT_NUMBER, BANK_CODE
from stopay.domain.holds import LegalDocument
from stopay.domain.money import MAX_TRANSFER_MINOR
from stopay.domain.objections import MAX_DOCUMENT_LEN, MAX_DOCUMENTS, Objection, ObjectionDecision, ObjectionVia
from stopay.domain.review import ReviewDecision
from stopay.v1 import holds_pb2


@dataclass(frozen=True, slots=True)
class By:
    """Who takes a step: the actor recorded in the case's chain and the caller's role. Both come from
    the request (``officer:ID``, role unknown: None) until callers are identified by certificate."""

    actor: str
    reason: str
    request_id: str
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    case_id: uuid.UUID
    bank_code: str
    number: str


class _HoldChecker(_Checker):
    def case(self, field: str, value: str, what: str = "a case id") -> uuid.UUID:
        try:
            return uuid.UUID(value)
        except ValueError:
            self.fail(field, f"must be {what} (a UUID)")
            return uuid.UUID(int=0)

    # Not an override in kind: a hold names its account by two fields, an entry by an AccountRef.
    def account(self, prefix: str, bank_code: str, number: str) -> tuple[str, str]:  # type: ignore[override]
        if not BANK_CODE.fullmatch(bank_code):
            self.fail(f"{prefix}bank_code", "must be 2 to 11 characters of A-Z and 0-9, starting with a letter")
        if not ACCOUNT_NUMBER.fullmatch(number):
            self.fail(f"{prefix}number", "must be 6 to 34 characters of 0-9 and A-Z")
        return bank_code, number

    def by(self, by: holds_pb2.StepBy) -> By:
        officer = self.text("by.officer_id", by.officer_id, max_len=64)
        reason = self.text("by.reason", by.reason, max_len=500, free_text=True)
        request_id = self.text("by.request_id", by.request_id, max_len=128)
        return By(f"officer:{officer}", reason, request_id)

    def target(self, ref: holds_pb2.HoldRef) -> Target:
        case_id = self.case("hold.case_id", ref.case_id)
        bank_code, number = self.account("hold.account.", ref.account.bank_code, ref.account.number)
        return Target(case_id, bank_code, number)

    def objection(
        self, holder_name: str, grounds: str, documents: list[str] | tuple[str, ...]
    ) -> tuple[str, str, tuple[str, ...]]:
        """An objection's content: the holder's name, the grounds and the documents referred to."""
        holder = self.text("holder_name", holder_name, max_len=140)
        reasons = self.text("grounds", grounds, max_len=2000, free_text=True)
        if len(documents) > MAX_DOCUMENTS:
            self.fail("documents", f"must name at most {MAX_DOCUMENTS} documents")
        refs = tuple(self.text(f"documents[{n}]", ref, max_len=MAX_DOCUMENT_LEN) for n, ref in enumerate(documents))
        return holder, reasons, refs

    def done(self) -> None:
        if self.violations:
            raise InvalidRequest(self.violations)


def step_request(request: holds_pb2.RenewStopRequest | holds_pb2.ReleaseHoldRequest) -> tuple[Target, By]:
    check = _HoldChecker()
    target, by = check.target(request.hold), check.by(request.by)
    check.done()
    return target, by


def formalize_request(request: holds_pb2.FormalizeRequest) -> tuple[Target, By, LegalDocument]:
    check = _HoldChecker()
    target, by = check.target(request.hold), check.by(request.by)
    doc = request.document
    if not request.HasField("document"):
        check.fail("document", "is required: a formal freeze rests on a legal document")
    number = check.text("document.number", doc.number, max_len=64)
    approver = check.text("document.approver", doc.approver, max_len=100)
    scope = check.text("document.scope", doc.scope, max_len=500, free_text=True)
    if not 0 < doc.amount_minor <= MAX_TRANSFER_MINOR:
        check.fail("document.amount_minor", f"must be a positive amount in minor units, at most {MAX_TRANSFER_MINOR}")
    check.done()
    return target, by, LegalDocument(number, approver, doc.amount_minor, scope, doc.interest_included)


def return_request(request: holds_pb2.ReturnFundsRequest) -> tuple[tuple[str, str], By]:
    check = _HoldChecker()
    account = check.account("account.", request.account.bank_code, request.account.number)
    by = check.by(request.by)
    check.done()
    return account, by


def approve_request(request: holds_pb2.ApproveRequest) -> tuple[uuid.UUID, By]:
    check = _HoldChecker()
    if request.approval_id:
        approval_id = check.case("approval_id", request.approval_id, "an approval id")
    else:
        approval_id = uuid.UUID(int=0)
        check.fail("approval_id", "is required: the approval_id of the formal freeze or return asked for")
    by = check.by(request.by)
    check.done()
    return approval_id, by


def list_request(request: holds_pb2.ListHoldsRequest) -> tuple[uuid.UUID | None, str, str]:
    check = _HoldChecker()
    key = request.WhichOneof("key")
    if key == "case_id":
        case_id: uuid.UUID | None = check.case("case_id", request.case_id)
        check.done()
        return case_id, "", ""
    if key is None:
        check.fail("case_id", "give a case_id, or an account's bank_code and number")
    bank_code, number = check.account("account.", request.account.bank_code, request.account.number)
    check.done()
    return None, bank_code, number


def file_objection_request(request: holds_pb2.FileObjectionRequest) -> tuple[Objection, By]:
    """An objection taken at a station; the officer taking it is by.officer_id (by.reason is not read)."""
    check = _HoldChecker()
    target = check.target(request.hold)
    officer = check.text("by.officer_id", request.by.officer_id, max_len=64)
    request_id = check.text("by.request_id", request.by.request_id, max_len=128)
    holder, grounds, documents = check.objection(request.holder_name, request.grounds, list(request.documents))
    check.done()
    by = By(f"officer:{officer}", "", request_id)
    objection = Objection(
        target.case_id,
        target.bank_code,
        target.number,
        holder,
        ObjectionVia.STATION,
        officer,
        grounds,
        documents,
        request_id,
    )
    return objection, by


_DECISIONS = {
    holds_pb2.OBJECTION_DECISION_RELEASE: ObjectionDecision.RELEASE,
    holds_pb2.OBJECTION_DECISION_KEEP: ObjectionDecision.KEEP,
    holds_pb2.OBJECTION_DECISION_RELEASE_PART: ObjectionDecision.RELEASE_PART,
}


def decide_objection_request(
    request: holds_pb2.DecideObjectionRequest,
) -> tuple[uuid.UUID, ObjectionDecision, By, int]:
    """The objection, the decision, who decides and why, and the amount a partial release releases
    (0 for the other decisions; whether it is less than what is held, the service checks)."""
    check = _HoldChecker()
    if request.objection_id:
        objection_id = check.case("objection_id", request.objection_id, "an objection id")
    else:
        objection_id = uuid.UUID(int=0)
        check.fail("objection_id", "is required: the objection_id FileObjection answered")
    decision = _DECISIONS.get(request.decision)
    if decision is None:
        check.fail(
            "decision",
            "must be OBJECTION_DECISION_RELEASE, OBJECTION_DECISION_RELEASE_PART or OBJECTION_DECISION_KEEP",
        )
    if decision is ObjectionDecision.RELEASE_PART and request.release_minor <= 0:
        check.fail("release_minor", f"must be more than 0 fen for a partial release, not {request.release_minor}")
    elif decision is not ObjectionDecision.RELEASE_PART and request.release_minor != 0:
        check.fail("release_minor", "is given only with OBJECTION_DECISION_RELEASE_PART")
    by = check.by(request.by)
    check.done()
    assert decision is not None
    return objection_id, decision, by, request.release_minor


def list_objections_request(request: holds_pb2.ListObjectionsRequest) -> tuple[uuid.UUID | None, bool, bool]:
    check = _HoldChecker()
    case_id = check.case("case_id", request.case_id) if request.case_id else None
    check.done()
    return case_id, request.open_only, request.overdue_only


_REVIEW_DECISIONS = {
    holds_pb2.REVIEW_DECISION_APPROVE: ReviewDecision.APPROVE,
    holds_pb2.REVIEW_DECISION_DECLINE: ReviewDecision.DECLINE,
}


def decide_review_request(request: holds_pb2.DecideReviewRequest) -> tuple[uuid.UUID, ReviewDecision, By]:
    check = _HoldChecker()
    if request.case_id:
        case_id = check.case("case_id", request.case_id)
    else:
        case_id = uuid.UUID(int=0)
        check.fail("case_id", "is required: the case whose waiting freezes are decided")
    decision = _REVIEW_DECISIONS.get(request.decision)
    if decision is None:
        check.fail("decision", "must be REVIEW_DECISION_APPROVE or REVIEW_DECISION_DECLINE")
    by = check.by(request.by)
    check.done()
    assert decision is not None
    return case_id, decision, by


def list_reviews_request(request: holds_pb2.ListReviewsRequest) -> tuple[uuid.UUID | None, bool]:
    check = _HoldChecker()
    case_id = check.case("case_id", request.case_id) if request.case_id else None
    check.done()
    return case_id, request.awaiting_only
