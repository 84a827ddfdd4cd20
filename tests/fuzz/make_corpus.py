#!/usr/bin/python3
"""Writes the seed corpora: corpus/decoder/ for fuzz_decoder (valid and
invalid request bodies), corpus/anthropic_response/ and
corpus/openai_response/ for the provider response parsers (the input layout
is described in fuzz_provider_response.cpp).

Writes beside this script. Needs python3-msgpack
(Debian's /usr/bin/python3 has it):
    /usr/bin/python3 tests/fuzz/make_corpus.py
"""
import json
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
    "ledger_events": {"op": "ledger_events", "limit": 10, "since_ms": 0},
    # Section 9: a streamed call and cancel (target as an id: string or int).
    "call_stream": dict(call, stream=True),
    "cancel": {"op": "cancel", "id": 2, "target": 1},
    "cancel_str": {"op": "cancel", "target": "req-7"},
    "cancel_bad_target": {"op": "cancel", "target": [1]},
    "bad_version": {"v": 2, "op": "ping"},
    "unknown_op": {"op": "fly"},
    "bad_temperature": dict(call, temperature=3.5),
    "unknown_nested": {"op": "ping", "x": [[[{"a": b"\x00\x01"}]]]},
}

# Section 8 (PROTOCOL.md): content blocks, system blocks, tools,
# tool_choice, stop_sequences, top_p; valid and each broken on purpose.
tool_use = {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
            "input": {"city": "Paris", "days": [1, 2.5, None, True], "opts": {"unit": "C"}}}
tool_turns = [
    {"role": "user", "content": [
        {"type": "text", "text": "weather?", "cache_control": {"type": "ephemeral"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}}]},
    {"role": "assistant", "content": [{"type": "text", "text": "checking"}, tool_use]},
    {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
        {"type": "text", "text": "and tomorrow?"}]},
]
tool_call = {"op": "call", "id": 8, "ai_name": "imperium", "messages": tool_turns,
             "system": [{"type": "text", "text": "be brief"}],
             "tools": [{"name": "get_weather", "description": "the forecast",
                        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                         "required": ["city"]},
                        "cache_control": {"type": "ephemeral"}}],
             "tool_choice": {"type": "auto"}, "stop_sequences": ["END", "\n\nHuman:"], "top_p": 0.9,
             "max_tokens": 300}
result_blocks = dict(tool_call, messages=tool_turns[:2] + [{"role": "user", "content": [
    {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
     "content": [{"type": "text", "text": "failed"},
                 {"type": "image", "source": {"type": "url", "url": "http://example.com/x.png"}}]}]}])
seeds.update({
    "call_tools": tool_call,
    "call_tool_result_blocks": result_blocks,
    "call_tool_choice_tool": dict(tool_call, tool_choice={"type": "tool", "name": "get_weather"}),
    "call_tool_choice_any_no_tools": dict(tool_call, tools=[], tool_choice={"type": "any"}),
    "call_unanswered_tool_use": dict(tool_call, messages=tool_turns[:2] + [{"role": "user", "content": "hm"}]),
    "call_orphan_tool_result": dict(tool_call, messages=[tool_turns[2]]),
    "call_tool_use_in_user_turn": dict(tool_call, messages=[{"role": "user", "content": [tool_use]}]),
    "call_bad_base64": dict(tool_call, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "a!b="}}]}]),
    "call_bin_in_input": dict(tool_call, messages=[tool_turns[0], dict(tool_turns[1], content=[
        dict(tool_use, input={"blob": b"\x00\x01"})]), tool_turns[2]]),
    "call_deep_schema": dict(tool_call, tools=[{"name": "deep", "input_schema": {"a": {"a": {"a": {"a": {
        "a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": 1}}}}}}}}}}}}}}}}}}]),
    "call_too_many_stops": dict(tool_call, stop_sequences=[str(i) for i in range(9)]),
    "call_duplicate_tools": dict(tool_call, tools=tool_call["tools"] * 2),
})

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
    # A ping with an extra field whose map keys are maps, 20 deep: once
    # made to_json write 2^20 times more than it read (each level escaped the one inside it).
    "nested_map_keys": bytes.fromhex("82a26f70a470696e67a17881") + b"\x81" * 20
    + bytes.fromhex("a16101") + b"\x01" * 20,
}
for name, body in raw.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(body)


# Provider answers: byte 0 = index into the fuzzer's status table, byte 1 =
# header bits, then one line per present header, then the body.
STATUSES = [200, 201, 204, 400, 401, 403, 404, 408, 413, 429, 500, 502, 503, 504, 529, 302]
HEADERS = ["retry-after", "retry-after-ms", "anthropic-ratelimit-requests-reset",
           "x-ratelimit-reset-tokens", "x-should-retry"]


def answer(status, body, headers=None):
    headers = headers or {}
    bits = 0
    lines = b""
    for i, name in enumerate(HEADERS):
        if name in headers:
            bits |= 1 << i
            lines += headers[name].encode() + b"\n"
    return bytes([STATUSES.index(status), bits]) + lines + body.encode()


def error(api, kind, message, code=None):
    if api == "anthropic":
        return json.dumps({"type": "error", "error": {"type": kind, "message": message}})
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


provider_seeds = {
    "anthropic_response": {
        "ok": answer(200, json.dumps({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "Hello"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 12, "output_tokens": 5, "cache_creation_input_tokens": 3,
                      "cache_read_input_tokens": None}})),
        "no_usage": answer(200, json.dumps({"content": [{"type": "text", "text": "x"}]})),
        "overloaded": answer(529, error("anthropic", "overloaded_error", "Overloaded"),
                             {"retry-after": "3", "x-should-retry": "true"}),
        "rate_limited": answer(429, error("anthropic", "rate_limit_error", "slow down"),
                               {"anthropic-ratelimit-requests-reset": "2026-11-27T10:00:30Z"}),
        "credit": answer(400, error("anthropic", "invalid_request_error",
                                    "Your credit balance is too low to access the Anthropic API.")),
        "auth": answer(401, error("anthropic", "authentication_error",
                                  "invalid x-api-key sk-fuzz-key-0123456789abcdef")),
        "http_date": answer(503, "upstream connect error",
                            {"retry-after": "Fri, 27 Nov 2026 10:00:00 GMT"}),
    },
    "openai_response": {
        "ok": answer(200, json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4.1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}})),
        "null_content": answer(200, json.dumps({
            "choices": [{"message": {"content": None}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 0}})),
        "quota": answer(429, error("openai", "insufficient_quota",
                                   "You exceeded your current quota", "insufficient_quota")),
        "rate_limited": answer(429, error("openai", "requests", "Rate limit reached", "rate_limit_exceeded"),
                               {"retry-after-ms": "1500", "x-ratelimit-reset-tokens": "6m0s"}),
        "bad_key": answer(401, error("openai", "invalid_request_error",
                                     "Incorrect API key provided: sk-fuzz-***cdef", "invalid_api_key")),
        "server": answer(500, error("openai", "server_error", "The server had an error")),
    },
}
# Full-fidelity answers and requests (section 8), from the documented
# examples the unit tests use: the fuzzer reads every body both as an answer
# and as a request in the provider's format.
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "fixtures", "providers")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.dumps(json.load(f), ensure_ascii=False)


for api, names in {
    "anthropic": ["tool_use_response", "parallel_tool_use_response", "cached_usage_response",
                  "tool_use_request", "tool_results_request", "image_request"],
    "openai": ["tool_calls_response", "parallel_tool_calls_response", "cached_usage_response",
               "refusal_response", "function_call_request", "image_request"],
}.items():
    for name in names:
        provider_seeds[api + "_response"][name] = answer(200, fixture(api + "_" + name + ".json"))
provider_seeds["openai_response"]["raw_arguments"] = answer(200, json.dumps({
    "id": "chatcmpl-raw", "choices": [{"message": {"content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"cut\":"}},
        {"type": "function", "function": {"name": "g", "arguments": {"already": "an object"}}}]},
        "finish_reason": "tool_calls"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 2}}}))
provider_seeds["anthropic_response"]["pause_turn_thinking"] = answer(200, json.dumps({
    "content": [{"type": "thinking", "thinking": "...", "signature": "s"},
                {"type": "text", "text": "partial"}], "stop_reason": "pause_turn",
    "usage": {"input_tokens": 3, "output_tokens": 1, "cache_read_input_tokens": 10}}))

for directory, bodies in provider_seeds.items():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", directory)
    os.makedirs(out, exist_ok=True)
    for name, body in bodies.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(body)
