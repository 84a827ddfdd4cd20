"""Exceptions: one class per error code of PROTOCOL.md section 3.

Every error the daemon answers becomes an instance of the class named for
its ``code`` (``budget_exhausted`` -> :class:`BudgetExhausted`), all under
:class:`TollgateError`; a code this library does not know (a newer daemon)
becomes a plain :class:`TollgateError` with that ``code``.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Type, Union

RequestId = Union[str, int]


class TollgateError(Exception):
    """An error reply from tollgated (or a client-side failure).

    Attributes:
        code: the protocol's error code (``"budget_exhausted"``, ...).
        message: the daemon's one-line explanation.
        request_id: the ``id`` of the request that failed (None if unknown).
        retry_after: seconds to wait before retrying (from ``retry_after_ms``),
            or None when the daemon gave none.
        partial: True when a streamed call failed after parts were sent.
        reply: the whole reply map, for fields this library does not model.
    """

    code: str = "error"

    def __init__(self, message: str, *, code: Optional[str] = None,
                 request_id: Optional[RequestId] = None,
                 retry_after: Optional[float] = None, partial: bool = False,
                 reply: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after
        self.partial = partial
        self.reply: Dict[str, Any] = dict(reply or {})

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class BadRequest(TollgateError):
    """Undecodable body, a missing or mistyped field, a value out of range."""
    code = "bad_request"


class UnsupportedVersion(TollgateError):
    """The request's ``v`` is not a version the daemon speaks."""
    code = "unsupported_version"


class UnknownOp(TollgateError):
    """The daemon does not know the op."""
    code = "unknown_op"


class UnknownAgent(TollgateError):
    """Agents are restricted and ``ai_name`` is not one of them."""
    code = "unknown_agent"


class TooLarge(TollgateError):
    """The body or the call's estimated tokens are over the daemon's cap."""
    code = "too_large"


class BudgetExhausted(TollgateError):
    """No provider has budget left for this call."""
    code = "budget_exhausted"


class RateLimited(TollgateError):
    """Every provider with budget is at its local rate limit (see ``retry_after``)."""
    code = "rate_limited"


class ProviderError(TollgateError):
    """Every candidate provider failed after retries."""
    code = "provider_error"


class NotConfigured(TollgateError):
    """No candidate provider has its API key set."""
    code = "not_configured"


class EmergencyShutdown(TollgateError):
    """The daemon is in emergency shutdown and refuses calls."""
    code = "emergency_shutdown"


class Unauthorized(TollgateError):
    """This client's key may not use the op (CurveZMQ, non-admin)."""
    code = "unauthorized"


class Timeout(TollgateError):
    """The call's deadline passed in the daemon (``timeout_ms``)."""
    code = "timeout"


class ClientTimeout(Timeout):
    """No reply reached this client in time (its own ``timeout``).

    A subclass of :class:`Timeout`, so ``except Timeout`` catches both the
    daemon's deadline and the client's. The daemon may still run the call:
    resend it with the same ``idempotency_key`` (``retries=``) so it is
    charged once.
    """
    code = "client_timeout"


class Overloaded(TollgateError):
    """The daemon's in-flight queue is full (see ``retry_after``)."""
    code = "overloaded"


class Cancelled(TollgateError):
    """The call was cancelled with the ``cancel`` op."""
    code = "cancelled"


class LedgerUnavailable(TollgateError):
    """The shared ledger's database cannot be reached (see ``retry_after``)."""
    code = "ledger_unavailable"


class Internal(TollgateError):
    """A bug, or a state the daemon refuses to guess about (see the message)."""
    code = "internal"


class ClientClosed(TollgateError):
    """The client was closed while the request waited for its reply."""
    code = "client_closed"


ERROR_CLASSES: Dict[str, Type[TollgateError]] = {
    cls.code: cls for cls in (
        BadRequest, UnsupportedVersion, UnknownOp, UnknownAgent, TooLarge,
        BudgetExhausted, RateLimited, ProviderError, NotConfigured,
        EmergencyShutdown, Unauthorized, Timeout, Overloaded, Cancelled,
        LedgerUnavailable, Internal)
}


def error_from_reply(reply: Mapping[str, Any]) -> TollgateError:
    """The exception for an ``ok: false`` reply."""
    error = reply.get("error") or {}
    code = str(error.get("code", "internal"))
    retry_ms = error.get("retry_after_ms")
    partial = bool(reply.get("partial") or error.get("partial"))
    cls = ERROR_CLASSES.get(code, TollgateError)
    return cls(str(error.get("message", "")), code=code, request_id=reply.get("id"),
               retry_after=None if retry_ms is None else retry_ms / 1000.0,
               partial=partial, reply=reply)
