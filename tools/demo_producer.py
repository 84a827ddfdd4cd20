#!/usr/bin/python3
"""The demo's producer and subscriber (see tools/demo.sh).

Pushes prompts for two agents over a DEALER socket until `imperium` falls
back from Anthropic to OpenAI, printing every alert and usage event from the
PUB socket as it arrives, then prints a summary.
"""
import sys
import time

import msgpack
import zmq

requests_ep, events_ep = sys.argv[1], sys.argv[2]
ctx = zmq.Context()
req = ctx.socket(zmq.DEALER)
req.connect(requests_ep)
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"")
sub.connect(events_ep)
next_id = 0


def ask(body, timeout_ms=30000):
    global next_id
    next_id += 1
    body = dict(body, id=next_id)
    req.send(msgpack.packb(body))
    if not req.poll(timeout_ms):
        sys.exit("demo: no answer from tollgated")
    return msgpack.unpackb(req.recv(), raw=False)


def print_events():
    while sub.poll(0):
        topic, body = sub.recv_multipart()
        e = msgpack.unpackb(body, raw=False)
        topic = topic.decode()
        if topic.startswith("alert."):
            print(f"  [event {e['seq']:>3}] ALERT {e['level']:<9} {e['ai_name']}/{e['provider']}: "
                  f"{e['percentage']:.1f}% ({e['used']}/{e['limit']})")
        elif topic.startswith("usage."):
            print(f"  [event {e['seq']:>3}] usage {e['ai_name']:<8} {e['provider']:<9} "
                  f"{e['total_tokens']:>4} tokens ({e['reason']})")
        else:
            print(f"  [event {e['seq']:>3}] {topic} {e}")


# Let the subscription settle (ZeroMQ's slow joiner) with a harmless reset.
for _ in range(100):
    ask({"op": "reset", "ai_name": "demo-sync", "force": True})
    if sub.poll(50):
        sub.recv_multipart()
        break

prompts = ["Summarise today's deployment log.", "Draft a reply to the on-call page.",
           "List three risks in the migration plan.", "Explain the failing test in one line."]
fell_back = False
n = 0
start = time.time()
while not fell_back and n < 400:
    for agent in ("imperium", "imperium", "guardian"):
        n += 1
        r = ask({"op": "call", "ai_name": agent, "prompt": prompts[n % len(prompts)],
                 "max_tokens": 300})
        if not r["ok"]:
            print(f"call {n}: {agent}: {r['error']['code']}: {r['error']['message']}")
            continue
        if agent == "imperium" and r["provider"] == "openai" and not fell_back:
            fell_back = True
            print(f"call {n}: imperium moved to openai (reason {r['reason']})")
        print_events()
time.sleep(0.2)  # let the last events arrive before the summary
print_events()

s = ask({"op": "summary"})
print(f"\nsummary for {s['period']} after {n} calls in {time.time() - start:.1f}s")
print(f"  {'agent':<10} {'provider':<10} {'used':>7} {'limit':>7} {'%':>6}")
for a in s["agents"]:
    if a["ai_name"].startswith("demo-"):
        continue
    for p, u in a["providers"].items():
        bar = "#" * int(u["percentage"] / 5)
        print(f"  {a['ai_name']:<10} {p:<10} {u['used']:>7} {u['limit']:>7} {u['percentage']:>5.1f}% {bar}")
    print(f"  {'':<10} level: {a['level']}")
t = s["totals"]
print(f"  totals: {t['used']} tokens, {t['requests']} requests, ${t['cost_usd']:.4f}")
