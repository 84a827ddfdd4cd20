"""The examples in examples/python_*.py run against a real tollgated."""
import os
import subprocess
import sys
from pathlib import Path

import daemon

PACKAGE = Path(__file__).resolve().parents[1]
EXAMPLES = PACKAGE.parents[1] / "examples"


def example_env(d):
    return {**os.environ, "PYTHONPATH": str(PACKAGE), "TOLLGATE_ENDPOINT": d.requests,
            "TOLLGATE_EVENTS": d.events}


def run(d, name, *args):
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=example_env(d),
                          capture_output=True, text=True, timeout=daemon.scaled(60))


def test_the_tools_producer_does_a_two_turn_tool_call(tollgated):
    done = run(tollgated, "python_tools_producer.py", tollgated.requests, "example-tools")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "turn 1: anthropic called ['get_weather']"
    assert lines[1].startswith("turn 2: anthropic end_turn")
    # The fake answers a tool result turn with the result it carried.
    assert lines[2].startswith("tool result: {") and "\"celsius\": 18" in lines[2]


def test_the_fanout_makes_100_calls_on_one_async_client(tollgated):
    done = run(tollgated, "python_fanout.py")  # the endpoint from the environment
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("100 of 100 calls ok")


def test_the_alert_subscriber_prints_alerts(tollgated, tmp_path):
    out = tmp_path / "subscriber.out"
    with open(out, "w") as sink:
        proc = subprocess.Popen([sys.executable, str(EXAMPLES / "python_alert_subscriber.py"),
                                 tollgated.requests, tollgated.events, "--count", "1"],
                                env=example_env(tollgated), stdout=sink,
                                stderr=subprocess.STDOUT, text=True)
    try:
        daemon.wait_until(lambda: "subscribed" in out.read_text() or proc.poll() is not None,
                          20, "the subscriber to start")
        import tollgate
        with tollgate.Client(tollgated.requests, timeout=daemon.scaled(10)) as client:
            client.call("example-alerts", "use tokens")
            n = 0

            def printed():
                nonlocal n
                n += 1
                client.set_limit("example-alerts", "anthropic", 100_000_000)
                client.set_limit("example-alerts", "anthropic", 2 + n % 10)
                try:
                    proc.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    return False
                return True
            daemon.wait_until(printed, 20, "the subscriber to print an alert")
        text = out.read_text()
        assert proc.returncode == 0, text
        assert "alert." in text and "example-alerts/anthropic" in text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
