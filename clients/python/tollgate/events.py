"""Event subscribers that never lose an alert silently.

ZeroMQ drops events for a subscriber that falls behind (its RCVHWM, the
daemon's ``TOLLGATE_EVENTS_HWM``). Every event carries ``seq``, one more
than the event before, so a subscriber that sees every topic can tell when
it missed some. These subscribers therefore subscribe to everything and
filter by ``prefix`` here (``detect_gaps=False`` subscribes to ``prefix``
only, and sees no gaps). On a gap (or ``seq`` going back: a daemon
restart) they read the kept alerts with the ``alerts`` op from the time of
the last alert seen (inclusive; the subscriber's start if none) and yield
those not seen yet, oldest first, with ``recovered=True``, before the event
that showed the gap. Other topics (``usage.``, ``provider.``) cannot be read
back; ``gaps`` counts the gaps seen.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import (TYPE_CHECKING, Any, AsyncIterator, Deque, Dict, Iterator, List,
                    Optional, Set, Tuple)

import msgpack
import zmq
import zmq.asyncio

from ._base import KeyPair, checked, configure_socket
from .types import Event

if TYPE_CHECKING:
    from .aio import AsyncClient
    from .client import Client

RECOVERY_LIMIT = 10000  # alerts read per gap (the op's maximum)
_SEEN_MAX = 10000  # alert keys remembered before old ones are pruned
_SEEN_HORIZON_MS = 600_000
_KEY_FIELDS = ("level", "ai_name", "provider", "period", "threshold", "used", "limit", "at_ms")


def alert_key(body: Dict[str, Any]) -> Tuple[Any, ...]:
    """What tells two alerts apart (the live event has ``seq``, the kept one not)."""
    return tuple(body.get(k) for k in _KEY_FIELDS)


class GapTracker:
    """The bookkeeping of both subscribers: ``seq``, alerts seen, what to recover."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.last_seq: Optional[int] = None
        self.gaps = 0
        self.since_ms = int(time.time() * 1000)
        self.recovery_due = False  # a gap was seen; its alerts are not read yet
        self._seen: Set[Tuple[Any, ...]] = set()

    def note_seq(self, body: Dict[str, Any]) -> None:
        """Records ``seq``; a gap before this event makes a recovery due."""
        seq = body.get("seq")
        if not isinstance(seq, int):
            return
        if self.last_seq is not None and seq != self.last_seq + 1:
            self.gaps += 1
            self.recovery_due = True
        self.last_seq = seq

    def recovered(self, alerts: List[Dict[str, Any]]) -> List[Event]:
        """The alerts (the op's reply, newest first) not seen yet, oldest first."""
        self.recovery_due = False
        out = []
        for body in reversed(alerts):
            topic = "alert." + str(body.get("level"))
            if self.first_sight(topic, body) and topic.startswith(self.prefix):
                out.append(Event(topic, body, recovered=True))
        return out

    def first_sight(self, topic: str, body: Dict[str, Any]) -> bool:
        """Remembers an alert; False if it was seen before (other topics: True)."""
        if not topic.startswith("alert."):
            return True
        key = alert_key(body)
        if key in self._seen:
            return False
        at_ms = body.get("at_ms")
        if isinstance(at_ms, int) and at_ms > self.since_ms:
            self.since_ms = at_ms
        self._seen.add(key)
        if len(self._seen) > _SEEN_MAX:
            # Live events lag the alerts op by at most the queues' length;
            # keys much older than the newest alert cannot come again.
            horizon = self.since_ms - _SEEN_HORIZON_MS
            self._seen = {k for k in self._seen if not isinstance(k[-1], int) or k[-1] >= horizon}
        return True

    def wanted(self, topic: str) -> bool:
        return topic.startswith(self.prefix)


def _connect_sub(sock: Any, endpoint: str, prefix: str, server_key: Optional[str],
                 client_keys: Optional[KeyPair], detect_gaps: bool, rcvhwm: Optional[int],
                 rcvbuf: Optional[int]) -> None:
    """Sets up a subscriber's SUB socket (either kind of context) and connects it."""
    configure_socket(sock, server_key, client_keys)
    if rcvbuf is not None:
        sock.setsockopt(zmq.RCVBUF, rcvbuf)
    if rcvhwm is not None:
        sock.setsockopt(zmq.RCVHWM, rcvhwm)
    sock.setsockopt(zmq.SUBSCRIBE, b"" if detect_gaps else prefix.encode())
    sock.connect(endpoint)


def _decode(frames: List[bytes]) -> Tuple[str, Dict[str, Any]]:
    return frames[0].decode("utf-8", "replace"), msgpack.unpackb(frames[-1], raw=False)


class Subscriber:
    """Events of one topic prefix, with missed alerts read back (see the module).

    Use it from one thread. ``client`` answers the ``alerts`` op.
    ``rcvhwm`` and ``rcvbuf`` set the SUB socket's receive limits.
    """

    def __init__(self, events_endpoint: str, client: "Client", *, prefix: str = "alert.",
                 server_key: Optional[str] = None, client_keys: Optional[KeyPair] = None,
                 detect_gaps: bool = True, rcvhwm: Optional[int] = None,
                 rcvbuf: Optional[int] = None) -> None:
        self._client = client
        self.tracker = GapTracker(prefix)
        self._ready: Deque[Event] = deque()
        self._held: Optional[Tuple[str, Dict[str, Any]]] = None
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.SUB)
        _connect_sub(self._sock, events_endpoint, prefix, server_key, client_keys, detect_gaps,
                     rcvhwm, rcvbuf)

    @property
    def gaps(self) -> int:
        """How many gaps in ``seq`` were seen."""
        return self.tracker.gaps

    def get(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, or None when none came within ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._take()  # what an earlier error left
        while not self._ready:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self._sock.poll(None if wait is None else int(wait * 1000)):
                return None
            self._held = _decode(self._sock.recv_multipart())
            self.tracker.note_seq(self._held[1])
            self._take()
        return self._ready.popleft()

    def _take(self) -> None:
        # The event is held until the recovery it made due succeeded, so an
        # error (a client timeout) leaves both to the next get().
        if self.tracker.recovery_due:
            reply = checked(self._client.alerts(since_ms=self.tracker.since_ms,
                                                limit=RECOVERY_LIMIT))
            self._ready.extend(self.tracker.recovered(reply["alerts"]))
        if self._held is not None:
            topic, body = self._held
            self._held = None
            if self.tracker.wanted(topic) and self.tracker.first_sight(topic, body):
                self._ready.append(Event(topic, body))

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self.get()
            assert event is not None
            yield event

    def close(self) -> None:
        """Closes the SUB socket."""
        self._sock.close(0)
        self._ctx.term()

    def __enter__(self) -> "Subscriber":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncSubscriber:
    """:class:`Subscriber` for asyncio: ``async for event in subscriber``."""

    def __init__(self, events_endpoint: str, client: "AsyncClient", *,
                 prefix: str = "alert.", server_key: Optional[str] = None,
                 client_keys: Optional[KeyPair] = None, detect_gaps: bool = True,
                 rcvhwm: Optional[int] = None, rcvbuf: Optional[int] = None) -> None:
        self._client = client
        self.tracker = GapTracker(prefix)
        self._ready: Deque[Event] = deque()
        self._held: Optional[Tuple[str, Dict[str, Any]]] = None
        self._ctx = zmq.asyncio.Context()
        self._sock = self._ctx.socket(zmq.SUB)
        _connect_sub(self._sock, events_endpoint, prefix, server_key, client_keys, detect_gaps,
                     rcvhwm, rcvbuf)

    @property
    def gaps(self) -> int:
        return self.tracker.gaps

    async def get(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, or None when none came within ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(self._next(), timeout)
        except asyncio.TimeoutError:
            return None

    async def _next(self) -> Event:
        # Safe to cancel at every await (get()'s timeout): the event is held
        # and the recovery stays due until they are done.
        while not self._ready:
            if self._held is None and not self.tracker.recovery_due:
                self._held = _decode(await self._sock.recv_multipart())
                self.tracker.note_seq(self._held[1])
            if self.tracker.recovery_due:
                reply = await self._client.alerts(since_ms=self.tracker.since_ms,
                                                  limit=RECOVERY_LIMIT)
                self._ready.extend(self.tracker.recovered(reply["alerts"]))
            if self._held is not None:
                topic, body = self._held
                self._held = None
                if self.tracker.wanted(topic) and self.tracker.first_sight(topic, body):
                    self._ready.append(Event(topic, body))
        return self._ready.popleft()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self._next()

    async def __aenter__(self) -> "AsyncSubscriber":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes the SUB socket."""
        self._sock.close(0)
        self._ctx.term()
