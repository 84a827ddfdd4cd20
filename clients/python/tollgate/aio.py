"""The asyncio client: one DEALER socket, any number of tasks in flight.

Tasks send on the socket directly (pyzmq's asyncio sockets queue sends
within one event loop) and wait on a per-request queue; one reader task
receives every reply and hands it to the queue registered under its
``id``. Use it from one event loop; ``await client.aclose()`` (or ``async
with``) stops the reader.
"""
from __future__ import annotations

import asyncio
import logging
from typing import (TYPE_CHECKING, Any, AsyncIterator, Awaitable, Dict, Optional, Sequence,
                    Union, cast)

import msgpack
import zmq
import zmq.asyncio

from ._base import (DEFAULT_TIMEOUT, KeyPair, Message, Ops, call_body, checked,
                    configure_socket, curve_options, request_body, request_ids,
                    result_of, retry_count)
from .errors import ClientClosed, ClientTimeout
from .types import CallResult, StreamItem, parse_chunk

if TYPE_CHECKING:
    from .events import AsyncSubscriber

log = logging.getLogger("tollgate")

_CLOSED = object()


class AsyncClient(Ops[Awaitable[Dict[str, Any]]]):
    """A connection to tollgated for asyncio code; every method is a coroutine.

    Arguments as :class:`tollgate.Client`.
    """

    def __init__(self, endpoint: str, *, server_key: Optional[str] = None,
                 client_keys: Optional[KeyPair] = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = endpoint
        self.server_key = server_key
        self.client_keys = curve_options(server_key, client_keys)
        self.timeout = timeout
        self.late_replies = 0
        self._ids = request_ids()
        self._ctx = zmq.asyncio.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        configure_socket(self._sock, server_key, self.client_keys)
        self._sock.setsockopt(zmq.SNDHWM, 0)
        self._sock.setsockopt(zmq.RCVHWM, 0)
        self._sock.connect(endpoint)
        self._pending: Dict[Any, "asyncio.Queue[Any]"] = {}
        self._reader: Optional["asyncio.Task[None]"] = None
        self._closed = False
        self._failure: Optional[BaseException] = None  # the reader died of it

    @property
    def public_key(self) -> Optional[str]:
        """This client's CurveZMQ public key (None without CurveZMQ)."""
        return None if self.client_keys is None else self.client_keys[0]

    async def _read_replies(self) -> None:
        try:
            await self._dispatch_replies()
        except asyncio.CancelledError:
            raise  # aclose()
        except BaseException as e:  # a ZeroMQ failure: every waiter gets it
            log.error("tollgate: the reply reader of %s failed: %r", self.endpoint, e)
            self._failure = e
            for inbox in self._pending.values():
                inbox.put_nowait(e)

    async def _dispatch_replies(self) -> None:
        while True:
            frames = await self._sock.recv_multipart()
            try:
                reply = msgpack.unpackb(frames[-1], raw=False)
            except ValueError as e:
                log.error("tollgate: undecodable reply from %s: %s", self.endpoint, e)
                continue
            inbox = self._pending.get(reply.get("id"))
            if inbox is None:
                self.late_replies += 1  # its caller gave up (a client-side timeout)
            else:
                inbox.put_nowait(reply)

    async def _register(self, body: Dict[str, Any], deadline: float) -> "asyncio.Queue[Any]":
        if self._closed or self._failure is not None:
            raise ClientClosed(f"the client is closed ({self._failure!r})"
                               if self._failure else "the client is closed",
                               request_id=body.get("id"))
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_replies())
        inbox: "asyncio.Queue[Any]" = asyncio.Queue()
        self._pending[body["id"]] = inbox
        # A DEALER with no usable peer (refused at the CURVE handshake)
        # waits to send: that wait counts against the request's deadline too.
        send = self._sock.send_multipart([b"", msgpack.packb(body, use_bin_type=True)])
        try:
            await asyncio.wait_for(send, self._left(deadline))
        except asyncio.TimeoutError:
            raise ClientTimeout(f"request {body['id']!r} could not be sent to {self.endpoint} "
                                "in time", request_id=body["id"]) from None
        return inbox

    @staticmethod
    def _left(deadline: float) -> float:
        return max(0.0, deadline - asyncio.get_running_loop().time())

    async def _receive(self, inbox: "asyncio.Queue[Any]", request_id: Any,
                       deadline: float) -> Dict[str, Any]:
        try:
            reply = await asyncio.wait_for(inbox.get(), self._left(deadline))
        except asyncio.TimeoutError:
            raise ClientTimeout(f"no reply to request {request_id!r} from {self.endpoint} "
                                "in time", request_id=request_id) from None
        if reply is _CLOSED:
            raise ClientClosed("the client was closed while waiting", request_id=request_id)
        if isinstance(reply, BaseException):
            raise ClientClosed(f"the client's reply reader failed: {reply!r}",
                               request_id=request_id) from reply
        return cast(Dict[str, Any], reply)

    async def request(self, body: Dict[str, Any],
                      timeout: Optional[float] = None) -> Dict[str, Any]:
        """Sends one request map (``id`` set here) and returns its reply map as is."""
        body = dict(body, id=self._ids.next())
        deadline = asyncio.get_running_loop().time() + (timeout or self.timeout)
        try:
            inbox = await self._register(body, deadline)
            return await self._receive(inbox, body["id"], deadline)
        finally:
            self._pending.pop(body["id"], None)

    async def _op(self, op: str, **fields: Any) -> Dict[str, Any]:
        return checked(await self.request(request_body(op, **fields)))

    async def call(self, ai_name: str, prompt: Optional[str] = None, *,
                   messages: Optional[Sequence[Message]] = None,
                   system: Union[str, Sequence[Dict[str, Any]], None] = None,
                   max_tokens: Optional[int] = None, temperature: Optional[float] = None,
                   preferred_provider: Optional[str] = None, model: Optional[str] = None,
                   idempotency_key: Optional[str] = None, timeout_ms: Optional[int] = None,
                   tools: Optional[Sequence[Dict[str, Any]]] = None,
                   tool_choice: Optional[Dict[str, Any]] = None,
                   stop_sequences: Optional[Sequence[str]] = None,
                   top_p: Optional[float] = None, cache: bool = False,
                   timeout: Optional[float] = None, retries: int = 0) -> CallResult:
        """As :meth:`tollgate.Client.call` (same fields, ``timeout``, ``retries``)."""
        body = call_body(ai_name, prompt, messages=messages, system=system,
                         max_tokens=max_tokens, temperature=temperature,
                         preferred_provider=preferred_provider, model=model,
                         idempotency_key=idempotency_key, timeout_ms=timeout_ms,
                         tools=tools, tool_choice=tool_choice,
                         stop_sequences=stop_sequences, top_p=top_p, cache=cache)
        for attempt in retry_count(retries):
            try:
                return result_of(await self.request(body, timeout))
            except ClientTimeout:
                if attempt == retries:
                    raise
                log.info("tollgate: no reply in time; resending with idempotency_key %s",
                         body["idempotency_key"])
        raise AssertionError("unreachable")

    def stream(self, ai_name: str, prompt: Optional[str] = None, *,
               messages: Optional[Sequence[Message]] = None,
               system: Union[str, Sequence[Dict[str, Any]], None] = None,
               max_tokens: Optional[int] = None, temperature: Optional[float] = None,
               preferred_provider: Optional[str] = None, model: Optional[str] = None,
               idempotency_key: Optional[str] = None, timeout_ms: Optional[int] = None,
               tools: Optional[Sequence[Dict[str, Any]]] = None,
               tool_choice: Optional[Dict[str, Any]] = None,
               stop_sequences: Optional[Sequence[str]] = None, top_p: Optional[float] = None,
               cache: bool = False, timeout: Optional[float] = None) -> "AsyncStream":
        """A streamed call: ``async for`` it for chunks, then the :class:`CallResult`.

        Takes the protocol fields of :meth:`call` (no ``retries``). The
        request is sent when the iteration (or ``await stream.start()``)
        begins. Leaving the iteration early cancels the call in the daemon.
        """
        body = call_body(ai_name, prompt, messages=messages, system=system,
                         max_tokens=max_tokens, temperature=temperature,
                         preferred_provider=preferred_provider, model=model,
                         idempotency_key=idempotency_key, timeout_ms=timeout_ms,
                         tools=tools, tool_choice=tool_choice,
                         stop_sequences=stop_sequences, top_p=top_p, cache=cache, stream=True)
        body["id"] = self._ids.next()
        return AsyncStream(self, body, timeout or self.timeout)

    async def cancel(self, target: Any) -> Dict[str, Any]:
        """Cancels a call of this client still in flight; the reply says ``found``."""
        return await self._op("cancel", target=target)

    def subscribe(self, prefix: str, events_endpoint: str,
                  **options: Any) -> "AsyncSubscriber":
        """An :class:`tollgate.events.AsyncSubscriber` re-reading missed alerts with this client."""
        from .events import AsyncSubscriber
        return AsyncSubscriber(events_endpoint, self, prefix=prefix,
                               server_key=self.server_key, client_keys=self.client_keys,
                               **options)

    async def aclose(self) -> None:
        """Stops the reader task and closes the socket; waiters get :class:`ClientClosed`."""
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except asyncio.CancelledError:
                pass  # the cancellation asked for just above
        for inbox in self._pending.values():
            inbox.put_nowait(_CLOSED)
        self._sock.close(0)
        self._ctx.term()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class AsyncStream:
    """The parts of one streamed call; ``id`` names it for :meth:`AsyncClient.cancel`."""

    def __init__(self, client: AsyncClient, body: Dict[str, Any], timeout: float) -> None:
        self.id: str = body["id"]
        self._client = client
        self._body = body
        self._timeout = timeout
        self._inbox: Optional["asyncio.Queue[Any]"] = None
        self._done = False

    async def start(self) -> "AsyncStream":
        """Sends the call (iteration does it too); returns self."""
        if self._inbox is None:
            self._deadline = asyncio.get_running_loop().time() + self._timeout
            self._inbox = await self._client._register(self._body, self._deadline)
        return self

    async def __aiter__(self) -> AsyncIterator[StreamItem]:
        await self.start()
        assert self._inbox is not None
        try:
            while not self._done:
                reply = await self._client._receive(self._inbox, self.id, self._deadline)
                if reply.get("ok") and "chunk" in reply:
                    yield parse_chunk(reply)
                    continue
                self._done = True
                yield result_of(reply)
        finally:
            await self._finish()

    async def cancel(self) -> Dict[str, Any]:
        """Cancels this call; the stream then ends with :class:`Cancelled`."""
        return await self._client.cancel(self.id)

    async def _finish(self) -> None:
        self._client._pending.pop(self.id, None)
        if not self._done and not self._client._closed:
            # Left early: stop the daemon's work too; the cancel's reply is not
            # awaited. A socket that cannot send now has no daemon to tell.
            self._done = True
            body = dict(request_body("cancel", target=self.id), id=self._client._ids.next())
            try:
                await self._client._sock.send_multipart(
                    [b"", msgpack.packb(body, use_bin_type=True)], zmq.NOBLOCK)
            except zmq.Again:
                log.warning("tollgate: could not send the cancel of %r", self.id)
