"""Domain errors: exceptions that carry data, mapped by the GraphQL layer to typed errors.

Hierarchy::

    DomainError                 base; has ``code``, ``message``, optional ``field``
     ├── ValidationFailed        bad input (INVALID_INPUT, or a more specific code)
     ├── NotFound                unknown id, or one the caller may not see (NOT_FOUND)
     ├── Unauthenticated         no or invalid credentials (UNAUTHENTICATED)
     ├── PermissionDenied        authenticated but not allowed (FORBIDDEN)
     ├── Conflict                the request contradicts the current state (CONFLICT, ...)
     │    └── InvalidTransition  an illegal state-machine transition (INVALID_TRANSITION)
     └── Unavailable             a dependency is down or being rebuilt; retry (UNAVAILABLE)

Every error code a client can see is a member of :class:`ErrorCode`.
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.Enum):
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    CONFLICT = "CONFLICT"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    UNAVAILABLE = "UNAVAILABLE"
    # identity
    INVALID_LOGIN_CODE = "INVALID_LOGIN_CODE"
    INVALID_TOKEN = "INVALID_TOKEN"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    UPSTREAM_ERROR = "UPSTREAM_ERROR"
    CONSOLE_LOGIN_PENDING = "CONSOLE_LOGIN_PENDING"
    # communities
    INVALID_INVITE = "INVALID_INVITE"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    # polls and voting
    POLL_NOT_OPEN = "POLL_NOT_OPEN"
    POLL_CLOSED = "POLL_CLOSED"
    POLL_NOT_EDITABLE = "POLL_NOT_EDITABLE"
    TOO_MANY_CHOICES = "TOO_MANY_CHOICES"
    DUPLICATE_OPTION = "DUPLICATE_OPTION"
    OPTION_NOT_IN_POLL = "OPTION_NOT_IN_POLL"
    MEMBER_TOO_NEW = "MEMBER_TOO_NEW"
    BALLOT_VOIDED = "BALLOT_VOIDED"
    RATE_LIMITED = "RATE_LIMITED"
    # drops and pre-orders
    DROP_NOT_OPEN = "DROP_NOT_OPEN"
    NOT_OPEN_YET = "NOT_OPEN_YET"
    DROP_CLOSED = "DROP_CLOSED"
    DROP_NOT_EDITABLE = "DROP_NOT_EDITABLE"
    SOLD_OUT = "SOLD_OUT"
    VARIANT_SOLD_OUT = "VARIANT_SOLD_OUT"
    MEMBER_LIMIT_EXCEEDED = "MEMBER_LIMIT_EXCEEDED"
    UNKNOWN_VARIANT = "UNKNOWN_VARIANT"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    ORDER_NOT_CANCELLABLE = "ORDER_NOT_CANCELLABLE"
    DROP_STILL_OPEN = "DROP_STILL_OPEN"
    DRAFT_NEEDS_REVIEW = "DRAFT_NEEDS_REVIEW"
    # try-on media uploads
    MEDIA_TOO_LARGE = "MEDIA_TOO_LARGE"
    MEDIA_TYPE_NOT_ALLOWED = "MEDIA_TYPE_NOT_ALLOWED"
    UPLOAD_INCOMPLETE = "UPLOAD_INCOMPLETE"
    # group-buy teams
    TEAMS_NOT_ENABLED = "TEAMS_NOT_ENABLED"
    TEAM_FULL = "TEAM_FULL"
    TEAM_CLOSED = "TEAM_CLOSED"
    ALREADY_IN_TEAM = "ALREADY_IN_TEAM"
    # referrals
    SELF_REFERRAL = "SELF_REFERRAL"
    REFERRAL_CYCLE = "REFERRAL_CYCLE"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    # production
    QUANTITY_EXCEEDS_ORDER = "QUANTITY_EXCEEDS_ORDER"
    BATCH_NOT_ACCEPTED = "BATCH_NOT_ACCEPTED"
    STATUS_REGRESSION = "STATUS_REGRESSION"
    # payments
    PAYMENT_REJECTED = "PAYMENT_REJECTED"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"


class DomainError(Exception):
    code: ErrorCode = ErrorCode.INVALID_INPUT
    default_message = "The request could not be completed."

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        code: ErrorCode | None = None,
        **data: Any,
    ) -> None:
        self.message = message or self.default_message
        self.field = field
        if code is not None:
            self.code = code
        self.data = data
        super().__init__(self.message)


class ValidationFailed(DomainError):
    code = ErrorCode.INVALID_INPUT
    default_message = "The input is not valid."


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND
    default_message = "Not found."


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED
    default_message = "Sign in first."


class PermissionDenied(DomainError):
    code = ErrorCode.FORBIDDEN
    default_message = "You are not allowed to do that."


class Conflict(DomainError):
    code = ErrorCode.CONFLICT
    default_message = "The request conflicts with the current state."


class InvalidTransition(Conflict):
    code = ErrorCode.INVALID_TRANSITION
    default_message = "That state change is not allowed."


class RateLimited(DomainError):
    """Too many attempts in the window; ``retry_after_seconds`` says when to try again."""

    code = ErrorCode.RATE_LIMITED
    default_message = "Too many attempts; try again later."


class Unavailable(DomainError):
    code = ErrorCode.UNAVAILABLE
    default_message = "Temporarily unavailable; retry shortly."
