"""The synchronous, thread-safe client.

One DEALER socket per client, owned by one I/O thread: a ZeroMQ socket
must not be used from two threads. Callers (any number of threads) put
their requests on a queue, wake the I/O thread through a pipe, and wait on
a per-request inbox; the I/O thread sends, receives and hands each reply to
the inbox registered under its ``id``. ``close()`` (or leaving the ``with``
block) stops and joins the thread.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from typing import (TYPE_CHECKING, Any, Deque, Dict, Iterator, List, Optional, Sequence,
                    Tuple, Union, cast)

import msgpack
import zmq

from ._base import (DEFAULT_TIMEOUT, KeyPair, Message, Ops, call_body, checked,
                    configure_socket, curve_options, request_body, request_ids,
                    result_of, retry_count)
from .errors import ClientClosed, ClientTimeout
from .types import CallResult, StreamItem, parse_chunk

if TYPE_CHECKING:
    from .events import Subscriber

log = logging.getLogger("tollgate")

_CLOSED = object()  # put in an inbox when the client closes under a waiter


class Client(Ops[Dict[str, Any]]):
    """A connection to tollgated's request socket, safe to share across threads.

    Args:
        endpoint: the daemon's ``TOLLGATE_LISTEN`` endpoint.
        server_key: the daemon's public key (Z85); turns CurveZMQ on.
        client_keys: this client's (public, secret) Z85 pair; a new pair from
            ``zmq.curve_keypair()`` when None and ``server_key`` is set.
        timeout: seconds to wait for a reply before :class:`ClientTimeout`.
    """

    def __init__(self, endpoint: str, *, server_key: Optional[str] = None,
                 client_keys: Optional[KeyPair] = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = endpoint
        self.server_key = server_key
        self.client_keys = curve_options(server_key, client_keys)
        self.timeout = timeout
        self.late_replies = 0  # replies that came after their caller gave up
        self._ids = request_ids()
        self._ctx = zmq.Context()
        # (id of a waiting caller or None, body); see _serve.
        self._outbox: "queue.SimpleQueue[Tuple[Any, bytes]]" = queue.SimpleQueue()
        self._pending: Dict[Any, "queue.SimpleQueue[Any]"] = {}
        self._lock = threading.Lock()
        self._closing = False
        self._failure: Optional[BaseException] = None  # the I/O thread died of it
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        self._started = threading.Event()
        self._thread_error: Optional[BaseException] = None
        # Always joined by close(). daemon=True only so that a program that
        # forgets close() can still exit: Python joins non-daemon threads
        # before it runs atexit handlers (where tollgate.compat closes its
        # client), so a plain thread would hang such a program forever.
        self._thread = threading.Thread(target=self._run, name="tollgate-io", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._thread_error is not None:
            self.close()
            raise self._thread_error

    @property
    def public_key(self) -> Optional[str]:
        """This client's CurveZMQ public key (None without CurveZMQ)."""
        return None if self.client_keys is None else self.client_keys[0]

    # -- the I/O thread -------------------------------------------------

    def _run(self) -> None:
        try:
            sock = self._ctx.socket(zmq.DEALER)
            configure_socket(sock, self.server_key, self.client_keys)
            sock.setsockopt(zmq.SNDHWM, 0)
            sock.setsockopt(zmq.RCVHWM, 0)
            sock.connect(self.endpoint)
        except BaseException as e:  # handed to the constructor, which raises it
            self._thread_error = e
            self._started.set()
            return
        self._started.set()
        try:
            self._serve(sock)
        except BaseException as e:  # a ZeroMQ failure: every waiter gets it
            log.error("tollgate: the I/O thread of %s failed: %r", self.endpoint, e)
            self._fail_pending(e)
        finally:
            sock.close(0)

    def _fail_pending(self, error: BaseException) -> None:
        with self._lock:
            self._failure = error
            waiting = list(self._pending.values())
        for inbox in waiting:
            inbox.put(error)

    def _serve(self, sock: "zmq.Socket[bytes]") -> None:
        # Sends never block this thread: a DEALER with no usable peer (not
        # connected yet, or refused at the CURVE handshake) would block a
        # send forever, and with it every reply and close(). What cannot be
        # sent now waits in `backlog`, in order, until the socket is writable;
        # a request whose caller has given up by then is dropped, not sent
        # late (entries without an id, cancels, are always sent).
        backlog: Deque[Tuple[Any, bytes]] = deque()
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        while True:
            poller.register(sock, zmq.POLLIN | (zmq.POLLOUT if backlog else 0))  # updates
            ready = dict(poller.poll())
            if self._wake_r in ready:
                self._drain_wakeups()
            if self._closing:
                return
            while True:
                try:
                    backlog.append(self._outbox.get_nowait())
                except queue.Empty:
                    break
            self._send_backlog(sock, backlog)
            if ready.get(sock, 0) & zmq.POLLIN:
                self._receive_all(sock)

    def _send_backlog(self, sock: "zmq.Socket[bytes]", backlog: Deque[Tuple[Any, bytes]]) -> None:
        while backlog:
            request_id, body = backlog[0]
            with self._lock:
                given_up = request_id is not None and request_id not in self._pending
            if not given_up:
                try:
                    sock.send_multipart([b"", body], zmq.NOBLOCK)
                except zmq.Again:
                    return
            backlog.popleft()

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            return  # the pipe is empty: every wake-up is read

    def _receive_all(self, sock: "zmq.Socket[bytes]") -> None:
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                reply = msgpack.unpackb(frames[-1], raw=False)
            except ValueError as e:
                log.error("tollgate: undecodable reply from %s: %s", self.endpoint, e)
                continue
            with self._lock:
                inbox = self._pending.get(reply.get("id"))
                if inbox is None:
                    self.late_replies += 1
            if inbox is not None:
                inbox.put(reply)

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass  # the pipe is full of wake-ups already: the thread will wake

    # -- requests ---------------------------------------------------------

    def _register(self, body: Dict[str, Any]) -> "queue.SimpleQueue[Any]":
        inbox: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        with self._lock:
            if self._closing or self._failure is not None:
                raise ClientClosed(f"the client is closed ({self._failure!r})"
                                   if self._failure else "the client is closed",
                                   request_id=body.get("id"))
            self._pending[body["id"]] = inbox
        self._outbox.put((body["id"], msgpack.packb(body, use_bin_type=True)))
        self._wake()
        return inbox

    def _unregister(self, request_id: Any) -> None:
        with self._lock:
            self._pending.pop(request_id, None)

    def _receive(self, inbox: "queue.SimpleQueue[Any]", request_id: Any,
                 deadline: float) -> Dict[str, Any]:
        try:
            reply = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise ClientTimeout(f"no reply to request {request_id!r} from {self.endpoint} "
                                "in time", request_id=request_id) from None
        if reply is _CLOSED:
            raise ClientClosed("the client was closed while waiting", request_id=request_id)
        if isinstance(reply, BaseException):
            raise ClientClosed(f"the client's I/O thread failed: {reply!r}",
                               request_id=request_id) from reply
        return cast(Dict[str, Any], reply)

    def request(self, body: Dict[str, Any], timeout: Optional[float] = None) -> Dict[str, Any]:
        """Sends one request map (``id`` set here) and returns its reply map as is."""
        body = dict(body, id=self._ids.next())
        inbox = self._register(body)
        try:
            return self._receive(inbox, body["id"],
                                 time.monotonic() + (timeout or self.timeout))
        finally:
            self._unregister(body["id"])

    def _op(self, op: str, **fields: Any) -> Dict[str, Any]:
        return checked(self.request(request_body(op, **fields)))

    def call(self, ai_name: str, prompt: Optional[str] = None, *,
             messages: Optional[Sequence[Message]] = None,
             system: Union[str, Sequence[Dict[str, Any]], None] = None,
             max_tokens: Optional[int] = None, temperature: Optional[float] = None,
             preferred_provider: Optional[str] = None, model: Optional[str] = None,
             idempotency_key: Optional[str] = None, timeout_ms: Optional[int] = None,
             tools: Optional[Sequence[Dict[str, Any]]] = None,
             tool_choice: Optional[Dict[str, Any]] = None,
             stop_sequences: Optional[Sequence[str]] = None, top_p: Optional[float] = None,
             cache: bool = False, timeout: Optional[float] = None,
             retries: int = 0) -> CallResult:
        """Runs a prompt (or a conversation) and returns the typed result.

        The protocol fields are as in PROTOCOL.md sections 3, 8 and 10.
        ``timeout`` is this client's wait in seconds (default: the client's);
        after it, the call is resent up to ``retries`` times with the same
        ``idempotency_key`` (a uuid4 unless given), so the daemon runs and
        charges it once; then :class:`ClientTimeout` is raised.
        """
        body = call_body(ai_name, prompt, messages=messages, system=system,
                         max_tokens=max_tokens, temperature=temperature,
                         preferred_provider=preferred_provider, model=model,
                         idempotency_key=idempotency_key, timeout_ms=timeout_ms,
                         tools=tools, tool_choice=tool_choice,
                         stop_sequences=stop_sequences, top_p=top_p, cache=cache)
        for attempt in retry_count(retries):
            try:
                return result_of(self.request(body, timeout))
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
               cache: bool = False, timeout: Optional[float] = None) -> "Stream":
        """A streamed call: iterate it for chunks, then the :class:`CallResult`.

        Takes the protocol fields of :meth:`call` (no ``retries``: a stream
        is not resent). The request is sent at once; iterate the stream to
        read it. Leaving the iteration early cancels the call in the daemon.
        """
        body = call_body(ai_name, prompt, messages=messages, system=system,
                         max_tokens=max_tokens, temperature=temperature,
                         preferred_provider=preferred_provider, model=model,
                         idempotency_key=idempotency_key, timeout_ms=timeout_ms,
                         tools=tools, tool_choice=tool_choice,
                         stop_sequences=stop_sequences, top_p=top_p, cache=cache, stream=True)
        body["id"] = self._ids.next()
        return Stream(self, body, timeout or self.timeout)

    def cancel(self, target: Any) -> Dict[str, Any]:
        """Cancels a call of this client still in flight; the reply says ``found``."""
        return self._op("cancel", target=target)

    def subscribe(self, prefix: str, events_endpoint: str, **options: Any) -> "Subscriber":
        """A :class:`tollgate.events.Subscriber` that re-reads missed alerts with this client."""
        from .events import Subscriber
        return Subscriber(events_endpoint, self, prefix=prefix, server_key=self.server_key,
                          client_keys=self.client_keys, **options)

    # -- closing ------------------------------------------------------------

    def close(self) -> None:
        """Stops and joins the I/O thread; waiting callers get :class:`ClientClosed`."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            waiting: List["queue.SimpleQueue[Any]"] = list(self._pending.values())
        self._wake()
        self._thread.join()
        for inbox in waiting:
            inbox.put(_CLOSED)
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._ctx.term()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Stream:
    """The parts of one streamed call; ``id`` names it for :meth:`Client.cancel`.

    Iterate it once. Its inbox is registered from the start (the call is
    sent at once) until the iteration ends or the client closes.
    """

    def __init__(self, client: Client, body: Dict[str, Any], timeout: float) -> None:
        self.id: str = body["id"]
        self._client = client
        self._inbox = client._register(body)
        self._deadline = time.monotonic() + timeout
        self._done = False

    def __iter__(self) -> Iterator[StreamItem]:
        try:
            while not self._done:
                reply = self._client._receive(self._inbox, self.id, self._deadline)
                if reply.get("ok") and "chunk" in reply:
                    yield parse_chunk(reply)
                    continue
                self._done = True
                yield result_of(reply)
        finally:
            self._finish()

    def cancel(self) -> Dict[str, Any]:
        """Cancels this call; the stream then ends with :class:`Cancelled`."""
        return self._client.cancel(self.id)

    def _finish(self) -> None:
        self._client._unregister(self.id)
        if not self._done and not self._client._closing:
            # Left early (break, an exception): stop the daemon's work too.
            # The reply to this cancel is not awaited; it arrives as a late reply.
            self._done = True
            body = dict(request_body("cancel", target=self.id), id=self._client._ids.next())
            self._client._outbox.put((None, msgpack.packb(body, use_bin_type=True)))
            self._client._wake()
