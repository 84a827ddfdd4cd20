"""The interface of the Python service tollgated replaced, over a tollgate client.

Existing producers keep their calls::

    from tollgate.compat import call_ai, get_provider_recommendation, should_use_openai
    text, info = call_ai("Summarise the incident", "imperium")

The functions use one shared :class:`tollgate.Client`, connected on first use
to ``$TOLLGATE_ENDPOINT`` (default ``tcp://127.0.0.1:5555``), or the one
given with :func:`configure`. Errors are the :mod:`tollgate.errors`
exceptions. ``get_provider_recommendation`` and ``should_use_openai`` come
from the ``recommend`` op (PROTOCOL.md section 3).
"""
from __future__ import annotations

import atexit
import os
import threading
from typing import Any, Dict, Optional, Tuple

from .client import Client

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"

_lock = threading.Lock()
_client: Optional[Client] = None


def configure(client: Optional[Client]) -> None:
    """Use ``client`` from now on (None: connect to ``$TOLLGATE_ENDPOINT`` again)."""
    global _client
    with _lock:
        _client = client


def _shared() -> Client:
    global _client
    with _lock:
        if _client is None:
            _client = Client(os.environ.get("TOLLGATE_ENDPOINT", DEFAULT_ENDPOINT))
            atexit.register(_client.close)  # joins its I/O thread at exit
        return _client


def call_ai(prompt: str, ai_name: str, **fields: Any) -> Tuple[str, Dict[str, Any]]:
    """Runs ``prompt`` for agent ``ai_name``: ``(text, provider_info)``.

    ``provider_info`` has ``provider``, ``model``, ``reason``, ``usage``
    (a dict), ``cost_usd``, ``latency_ms`` and ``replayed``. ``fields`` are
    any other :meth:`tollgate.Client.call` arguments.
    """
    result = _shared().call(ai_name, prompt, **fields)
    usage = result.raw.get("usage") or {}
    return result.text, {
        "provider": result.provider, "model": result.model, "reason": result.reason,
        "usage": dict(usage), "cost_usd": result.cost_usd,
        "latency_ms": result.latency_ms, "replayed": result.replayed,
    }


def get_provider_recommendation(ai_name: str) -> Optional[str]:
    """The provider a short call by ``ai_name`` would get now (None: none is available)."""
    reply = _shared().recommend(ai_name)
    return reply.get("provider") if reply.get("available") else None


def should_use_openai(ai_name: str) -> Tuple[bool, str]:
    """``(True, reason)`` when ``ai_name``'s calls would now go to OpenAI."""
    reply = _shared().recommend(ai_name)
    return reply.get("provider") == "openai" and bool(reply.get("available")), \
        str(reply.get("reason", ""))
