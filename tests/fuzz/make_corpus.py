#!/usr/bin/python3
"""Writes the seed corpus for fuzz_decoder (valid and invalid request bodies).

Writes into corpus/decoder/ beside this script. Needs python3-msgpack
(Debian's /usr/bin/python3 has it):
    /usr/bin/python3 tests/fuzz/make_corpus.py
"""
import os

import msgpack

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "decoder")

call = {"v": 1, "id": 1, "op": "call", "ai_name": "imperium", "prompt": "hello",
        "max_tokens": 100, "temperature": 0.7}
seeds = {
    "ping": {"op": "ping"},
    "ping_str_id": {"v": 1, "id": "req-7", "op": "ping"},
    "call_prompt": call,
    "call_messages": {"op": "call", "id": -3, "ai_name": "guardian",
                      "messages": [{"role": "user", "content": "hi"},
                                   {"role": "assistant", "content": "hello"}],
                      "system": "be brief", "preferred_provider": "openai",
                      "model": "gpt-4.1", "idempotency_key": "k1", "timeout_ms": 5000},
    "usage": {"op": "usage", "ai_name": "imperium"},
    "summary": {"op": "summary"},
    "provider_status": {"op": "provider_status", "ai_name": "imperium"},
    "recommend": {"op": "recommend", "ai_name": "imperium"},
    "emergency_status": {"op": "emergency_status"},
    "alerts": {"op": "alerts", "limit": 10, "since_ms": 0, "ai_name": "*"},
    "history": {"op": "history", "ai_name": "imperium", "months": 6},
    "reset": {"op": "reset", "ai_name": "imperium", "provider": "anthropic"},
    "bad_version": {"v": 2, "op": "ping"},
    "unknown_op": {"op": "fly"},
    "bad_temperature": dict(call, temperature=3.5),
    "unknown_nested": {"op": "ping", "x": [[[{"a": b"\x00\x01"}]]]},
}
for name, body in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(msgpack.packb(body, use_bin_type=True))

raw = {
    "huge_array32": bytes.fromhex("ddffffffff"),
    "huge_map32": bytes.fromhex("dfffffffff"),
    "deep_nesting": b"\x91" * 200 + b"\x01",
    "trailing": msgpack.packb({"op": "ping"}) + b"\x00",
    "not_a_map": msgpack.packb([1, 2, 3]),
    "truncated_call": msgpack.packb(call)[:20],
    "int_keys": bytes.fromhex("82a26f70a470696e670102"),
    "float32_temperature": msgpack.packb(call, use_single_float=True),
}
for name, body in raw.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(body)
