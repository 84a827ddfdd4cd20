"""tollgate: a Python client for the tollgated daemon (wire protocol version 1).

``Client`` (threads) and ``AsyncClient`` (asyncio) send every op over one
DEALER socket with many requests in flight; ``Subscriber`` and
``AsyncSubscriber`` read events and re-read alerts missed in a ``seq`` gap;
``tollgate.compat`` has the functions of the service tollgated replaced.
"""
from .aio import AsyncClient, AsyncStream
from .client import Client, Stream
from .errors import (ERROR_CLASSES, BadRequest, BudgetExhausted, Cancelled, ClientClosed,
                     ClientTimeout, EmergencyShutdown, Internal, LedgerUnavailable,
                     NotConfigured, Overloaded, ProviderError, RateLimited, Timeout,
                     TollgateError, TooLarge, Unauthorized, UnknownAgent, UnknownOp,
                     UnsupportedVersion, error_from_reply)
from .events import AsyncSubscriber, Subscriber
from .types import (Attempt, CallResult, Chunk, Event, InputJsonDelta, TextDelta,
                    ToolUseStart, UnknownChunk, Usage)

__version__ = "0.1.0"

__all__ = [
    "AsyncClient", "AsyncStream", "AsyncSubscriber", "Attempt", "BadRequest",
    "BudgetExhausted", "CallResult", "Cancelled", "Chunk", "Client", "ClientClosed",
    "ClientTimeout", "ERROR_CLASSES", "EmergencyShutdown", "Event", "InputJsonDelta",
    "Internal", "LedgerUnavailable", "NotConfigured", "Overloaded", "ProviderError",
    "RateLimited", "Stream", "Subscriber", "TextDelta", "Timeout", "TollgateError",
    "TooLarge", "ToolUseStart", "Unauthorized", "UnknownAgent", "UnknownChunk",
    "UnknownOp", "UnsupportedVersion", "Usage", "error_from_reply",
]
