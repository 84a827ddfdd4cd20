"""Typed views of call replies, stream parts and events."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Union


@dataclass(frozen=True)
class Usage:
    """Tokens as the provider reported them (cache counts when reported)."""
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cache_creation_input_tokens: Optional[int] = None
    cache_read_input_tokens: Optional[int] = None


@dataclass(frozen=True)
class Attempt:
    """One provider the daemon considered for a call."""
    provider: str
    outcome: str          # "ok", "skipped" or "error"
    code: Optional[str]
    latency_ms: float


@dataclass(frozen=True)
class CallResult:
    """The reply to a successful ``call`` (PROTOCOL.md sections 3, 8, 10)."""
    text: str
    content: List[Dict[str, Any]]
    provider: str
    model: str
    reason: str
    usage: Usage
    cost_usd: float
    attempts: List[Attempt]
    latency_ms: float
    replayed: bool
    cached: bool
    stop_reason: Optional[str]
    id: Any = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def tool_uses(self) -> List[Dict[str, Any]]:
        """The ``tool_use`` blocks of ``content``, in order."""
        return [b for b in self.content if b.get("type") == "tool_use"]


@dataclass(frozen=True)
class TextDelta:
    """More text of content block ``index``."""
    index: int
    text: str
    part: int = 0


@dataclass(frozen=True)
class ToolUseStart:
    """Content block ``index`` is a call of tool ``name``."""
    index: int
    id: str
    name: str
    part: int = 0


@dataclass(frozen=True)
class InputJsonDelta:
    """More of a tool call's ``input``, as JSON text."""
    index: int
    partial_json: str
    part: int = 0


@dataclass(frozen=True)
class UnknownChunk:
    """A chunk type this library does not know (a newer daemon)."""
    type: str
    fields: Dict[str, Any]
    part: int = 0


Chunk = Union[TextDelta, ToolUseStart, InputJsonDelta, UnknownChunk]
StreamItem = Union[Chunk, CallResult]


@dataclass(frozen=True)
class Event:
    """One event from the PUB socket (PROTOCOL.md section 4).

    ``recovered`` is True for an alert that was not received live (a gap in
    ``seq``) but read back with the ``alerts`` op; such an alert has no
    ``seq``.
    """
    topic: str
    body: Dict[str, Any]
    recovered: bool = False

    @property
    def seq(self) -> Optional[int]:
        value = self.body.get("seq")
        return value if isinstance(value, int) else None


def parse_usage(raw: Mapping[str, Any]) -> Usage:
    return Usage(input_tokens=int(raw.get("input_tokens", 0)),
                 output_tokens=int(raw.get("output_tokens", 0)),
                 total_tokens=int(raw.get("total_tokens", 0)),
                 cache_creation_input_tokens=raw.get("cache_creation_input_tokens"),
                 cache_read_input_tokens=raw.get("cache_read_input_tokens"))


def parse_result(reply: Mapping[str, Any]) -> CallResult:
    """A ``CallResult`` from an ``ok`` call reply."""
    attempts = [Attempt(provider=str(a.get("provider", "")), outcome=str(a.get("outcome", "")),
                        code=a.get("code"), latency_ms=float(a.get("latency_ms", 0.0)))
                for a in reply.get("attempts") or []]
    return CallResult(
        text=str(reply.get("text", "")), content=list(reply.get("content") or []),
        provider=str(reply.get("provider", "")), model=str(reply.get("model", "")),
        reason=str(reply.get("reason", "")), usage=parse_usage(reply.get("usage") or {}),
        cost_usd=float(reply.get("cost_usd", 0.0)), attempts=attempts,
        latency_ms=float(reply.get("latency_ms", 0.0)),
        replayed=bool(reply.get("replayed", False)), cached=bool(reply.get("cached", False)),
        stop_reason=reply.get("stop_reason"), id=reply.get("id"), raw=dict(reply))


def parse_chunk(reply: Mapping[str, Any]) -> Chunk:
    """The typed chunk of a stream part (a reply with ``chunk``)."""
    chunk = dict(reply["chunk"])
    part = int(reply.get("part", 0))
    kind = chunk.get("type")
    if kind == "text_delta":
        return TextDelta(index=int(chunk["index"]), text=str(chunk["text"]), part=part)
    if kind == "tool_use_start":
        return ToolUseStart(index=int(chunk["index"]), id=str(chunk["id"]),
                            name=str(chunk["name"]), part=part)
    if kind == "input_json_delta":
        return InputJsonDelta(index=int(chunk["index"]),
                              partial_json=str(chunk["partial_json"]), part=part)
    return UnknownChunk(type=str(kind), fields=chunk, part=part)
