"""Starts a real fake-provider and tollgated for the tests (as tools/lib.sh does).

Both come from $TOLLGATE_BIN_DIR and log into a file in the test's temporary
directory; each start waits for its ready line, polling the log with a
deadline stretched by $TOLLGATE_TEST_TIME_SCALE.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional

import zmq

TIME_SCALE = float(os.environ.get("TOLLGATE_TEST_TIME_SCALE", "1") or "1")


def scaled(seconds: float) -> float:
    """A deadline for something that must happen, stretched under sanitizers."""
    return seconds * TIME_SCALE


def bin_dir() -> Path:
    value = os.environ.get("TOLLGATE_BIN_DIR")
    if not value:
        raise RuntimeError("set TOLLGATE_BIN_DIR to the directory holding tollgated")
    return Path(value)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.01):
    """Polls ``predicate`` until it returns a true value or ``timeout`` passes."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


class Process:
    """A child whose output goes to ``log``; stopped with SIGTERM, then waited for."""

    def __init__(self, argv: List[str], log: Path, env: Dict[str, str]) -> None:
        self.log = log
        with open(log, "wb") as out:
            merged = {**os.environ, **env}  # a value of None: unset
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         env={k: v for k, v in merged.items() if v is not None})

    def wait_for_line(self, pattern: str, timeout: float = 20.0) -> re.Match:
        regex = re.compile(pattern)

        def found() -> Optional[re.Match]:
            match = regex.search(self.log.read_text(errors="replace"))
            if match is None and self.proc.poll() is not None:
                raise AssertionError(f"{self.log.name} exited:\n{self.log.read_text()}")
            return match
        return wait_until(found, timeout, f"{pattern!r} in {self.log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=scaled(20))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class FakeProvider(Process):
    def __init__(self, workdir: Path, faults: List[str] = ()) -> None:
        # A thread per open connection: enough for 200 calls at once.
        argv = [str(bin_dir() / "fake-provider"), "--port", "0", "--threads", "256"]
        for fault in faults:
            argv += ["--fault", fault]
        super().__init__(argv, workdir / "fake-provider.log", {})
        self.addr = self.wait_for_line(r"listening (\S+)").group(1)

    def set_faults(self, faults: list) -> None:
        """Replaces the fault script (POST /_control/faults)."""
        import json
        import urllib.request
        request = urllib.request.Request(f"http://{self.addr}/_control/faults",
                                         data=json.dumps(faults).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=scaled(10)) as answer:
            assert answer.status == 200, answer.status

    def faults(self) -> list:
        """The fault script as it stands (a fault's ``times`` counts down as it fires)."""
        import json
        import urllib.request
        with urllib.request.urlopen(f"http://{self.addr}/_control/faults",
                                    timeout=scaled(10)) as answer:
            return json.loads(answer.read())

    def stats(self) -> dict:
        import json
        import urllib.request
        with urllib.request.urlopen(f"http://{self.addr}/_control/stats",
                                    timeout=scaled(10)) as answer:
            return json.loads(answer.read())


class Tollgated(Process):
    """tollgated with both providers at ``fake``, ephemeral loopback endpoints."""

    def __init__(self, workdir: Path, fake: FakeProvider, env: Dict[str, str] = None,
                 args: List[str] = ()) -> None:
        data = workdir / "data"
        data.mkdir(exist_ok=True)
        settings = {
            "ANTHROPIC_BASE_URL": f"http://{fake.addr}",
            "OPENAI_BASE_URL": f"http://{fake.addr}/v1",
            "ANTHROPIC_API_KEY": "test-anthropic", "OPENAI_API_KEY": "test-openai",
            "TOLLGATE_LISTEN": "tcp://127.0.0.1:0", "TOLLGATE_EVENTS": "tcp://127.0.0.1:0",
            "TOLLGATE_HTTP": "off", "TOLLGATE_DATA_DIR": str(data),
        }
        settings.update(env or {})
        super().__init__([str(bin_dir() / "tollgated"), *args], workdir / "tollgated.log",
                         settings)
        ready = self.wait_for_line(r"ready requests=(\S+) events=(\S+)")
        self.requests, self.events = ready.group(1), ready.group(2)
        self.fake = fake


def start(workdir: Path, env: Dict[str, str] = None, faults: List[str] = (),
          args: List[str] = ()) -> Tollgated:
    """A fake provider and a tollgated using it; stop with ``stop(daemon)``."""
    workdir.mkdir(parents=True, exist_ok=True)
    fake = FakeProvider(workdir, faults)
    try:
        return Tollgated(workdir, fake, env, args)
    except BaseException:
        fake.stop()
        raise


def stop(daemon: Tollgated) -> None:
    daemon.stop()
    daemon.fake.stop()


def curve_keypair() -> tuple:
    public, secret = zmq.curve_keypair()
    return public.decode(), secret.decode()
