"""What the sync and async clients share: request bodies and the op methods.

Each op method builds its request map and hands it to ``_op``, which the
sync client answers with a dict and the async client with an awaitable of
one. Fields left as None are not sent (absent and nil mean the same,
PROTOCOL.md section 2), so a request carries only what the caller set.
"""
from __future__ import annotations

import itertools
import threading
import uuid
from typing import Any, Dict, Generic, List, Optional, Sequence, Tuple, TypeVar, Union

import zmq

from .errors import error_from_reply
from .types import CallResult, parse_result

R = TypeVar("R")
Message = Dict[str, Any]
KeyPair = Tuple[str, str]

DEFAULT_TIMEOUT = 130.0  # seconds: TOLLGATE_CALL_TIMEOUT_MS (120 s) and some slack
PROTOCOL_VERSION = 1


def request_body(op: str, **fields: Any) -> Dict[str, Any]:
    """``{v, op, fields...}`` without the fields that are None."""
    body: Dict[str, Any] = {"v": PROTOCOL_VERSION, "op": op}
    body.update({k: v for k, v in fields.items() if v is not None})
    return body


def call_body(ai_name: str, prompt: Optional[str] = None, *,
              messages: Optional[Sequence[Message]] = None,
              system: Union[str, Sequence[Dict[str, Any]], None] = None,
              max_tokens: Optional[int] = None, temperature: Optional[float] = None,
              preferred_provider: Optional[str] = None, model: Optional[str] = None,
              idempotency_key: Optional[str] = None, timeout_ms: Optional[int] = None,
              tools: Optional[Sequence[Dict[str, Any]]] = None,
              tool_choice: Optional[Dict[str, Any]] = None,
              stop_sequences: Optional[Sequence[str]] = None, top_p: Optional[float] = None,
              cache: bool = False, stream: bool = False) -> Dict[str, Any]:
    """The body of a ``call``; a fresh uuid4 ``idempotency_key`` unless given.

    Exactly one of ``prompt`` and ``messages`` must be given. ``cache`` and
    ``stream`` are written only when True, as the daemon writes them.
    """
    if (prompt is None) == (messages is None):
        raise ValueError("call: give exactly one of prompt and messages")
    return request_body(
        "call", ai_name=ai_name, prompt=prompt,
        messages=None if messages is None else list(messages),
        system=system if system is None or isinstance(system, str) else list(system),
        max_tokens=max_tokens, temperature=temperature,
        preferred_provider=preferred_provider, model=model,
        idempotency_key=idempotency_key or str(uuid.uuid4()), timeout_ms=timeout_ms,
        tools=None if tools is None else list(tools), tool_choice=tool_choice,
        stop_sequences=None if stop_sequences is None else list(stop_sequences),
        top_p=top_p, cache=True if cache else None, stream=True if stream else None)


def result_of(reply: Dict[str, Any]) -> CallResult:
    """The typed result of a final call reply, or its exception raised."""
    if not reply.get("ok"):
        raise error_from_reply(reply)
    return parse_result(reply)


def checked(reply: Dict[str, Any]) -> Dict[str, Any]:
    """The reply of an op, or its exception raised."""
    if not reply.get("ok"):
        raise error_from_reply(reply)
    return reply


class Ops(Generic[R]):
    """The non-call ops of PROTOCOL.md sections 3, 4 and 10 (and ``ledger_events``).

    Each returns the daemon's reply map (with ``v``, ``id``, ``ok``) and
    raises the exception of its error code on failure.
    """

    def _op(self, op: str, **fields: Any) -> R:
        raise NotImplementedError

    def ping(self) -> R:
        """``version``, ``uptime_ms``, ``pid``."""
        return self._op("ping")

    def usage(self, ai_name: str) -> R:
        """One agent's budgets this period."""
        return self._op("usage", ai_name=ai_name)

    def summary(self) -> R:
        """Every provider and agent this period."""
        return self._op("summary")

    def provider_status(self, ai_name: Optional[str] = None) -> R:
        """Providers' circuits and rates; every agent's or one agent's choices."""
        return self._op("provider_status", ai_name=ai_name)

    def recommend(self, ai_name: str) -> R:
        """The provider a short call would get now (``provider``, ``reason``, ``available``)."""
        return self._op("recommend", ai_name=ai_name)

    def emergency_status(self) -> R:
        """The global level, shutdown flag and agents at risk."""
        return self._op("emergency_status")

    def alerts(self, *, limit: Optional[int] = None, since_ms: Optional[int] = None,
               ai_name: Optional[str] = None) -> R:
        """Kept alerts, newest first (``since_ms`` inclusive)."""
        return self._op("alerts", limit=limit, since_ms=since_ms, ai_name=ai_name)

    def history(self, ai_name: str, months: Optional[int] = None) -> R:
        """``months`` periods of one agent, newest first."""
        return self._op("history", ai_name=ai_name, months=months)

    def reset(self, ai_name: str, provider: Optional[str] = None, *,
              force: Optional[bool] = None) -> R:
        """Clear an agent's usage this period (admin)."""
        return self._op("reset", ai_name=ai_name, provider=provider, force=force)

    def set_limit(self, ai_name: str, provider: str, limit: Optional[int], *,
                  limit_usd: Optional[float] = None) -> R:
        """Override a budget (``ai_name`` ``"*"``: the global one); None clears it (admin)."""
        return self._op("set_limit", ai_name=ai_name, provider=provider, limit=limit,
                        limit_usd=limit_usd)

    def limits(self) -> R:
        """Every override that ``set_limit`` made."""
        return self._op("limits")

    def forecast(self, ai_name: Optional[str] = None) -> R:
        """Projected usage at the end of the period."""
        return self._op("forecast", ai_name=ai_name)

    def daily(self, ai_name: Optional[str] = None, days: Optional[int] = None) -> R:
        """Usage per UTC day, newest first."""
        return self._op("daily", ai_name=ai_name, days=days)

    def ledger_events(self, *, limit: Optional[int] = None,
                      since_ms: Optional[int] = None) -> R:
        """Kept ``ledger`` events (reset, rollover, recovered, limit), newest first."""
        return self._op("ledger_events", limit=limit, since_ms=since_ms)


def curve_options(server_key: Optional[str],
                  client_keys: Optional[KeyPair]) -> Optional[KeyPair]:
    """The client's (public, secret) Z85 pair when CurveZMQ is on, else None."""
    if server_key is None:
        return None
    if client_keys is not None:
        return client_keys
    public, secret = zmq.curve_keypair()
    return public.decode("ascii"), secret.decode("ascii")


def configure_socket(sock: Any, server_key: Optional[str], keys: Optional[KeyPair]) -> None:
    """LINGER 0 (closing never waits for unsent requests); CURVE when set."""
    sock.setsockopt(zmq.LINGER, 0)
    if server_key is not None and keys is not None:
        sock.setsockopt(zmq.CURVE_SERVERKEY, server_key.encode("ascii"))
        sock.setsockopt(zmq.CURVE_PUBLICKEY, keys[0].encode("ascii"))
        sock.setsockopt(zmq.CURVE_SECRETKEY, keys[1].encode("ascii"))


def request_ids(prefix: Optional[str] = None) -> "IdSource":
    """A source of request ids for one client."""
    return IdSource(prefix)


class IdSource:
    """Request ids unique to one client: a random prefix and a counter (thread-safe)."""

    def __init__(self, prefix: Optional[str]) -> None:
        self._prefix = prefix or uuid.uuid4().hex[:8]
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            return f"{self._prefix}-{next(self._count)}"


def retry_count(retries: int) -> List[int]:
    """Attempt numbers 0..retries (a retry resends with the same idempotency key)."""
    if retries < 0:
        raise ValueError("retries must be >= 0")
    return list(range(retries + 1))
