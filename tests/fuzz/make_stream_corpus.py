#!/usr/bin/python3
"""Writes corpus/sse_stream/ for fuzz_sse_stream: the documented streams of
tests/unit/fixtures/streams (with LF and with CRLF line ends), a BOM with
CR line ends and a comment, and an error event of each format, each behind
the split header fuzz_sse_stream.cpp describes. Writes beside this script:
    python3 tests/fuzz/make_stream_corpus.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "unit", "fixtures", "streams")
OUT = os.path.join(HERE, "corpus", "sse_stream")


def seed(name, stream, cuts):
    head = bytes([len(cuts)]) + b"".join(struct.pack("<H", c) for c in cuts)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(head + stream)


def main():
    os.makedirs(OUT, exist_ok=True)
    for fixture in ["anthropic_tool_use.sse", "openai_text.sse", "openai_tool_calls.sse"]:
        with open(os.path.join(FIXTURES, fixture), "rb") as f:
            stream = f.read()
        base = fixture[: -len(".sse")]
        seed(base, stream, [7, 100, 613, 1999])
        seed(base + "_crlf", stream.replace(b"\n", b"\r\n"), [1, 2, 3, 500, 501])
    seed("bom_cr_comment", b'\xef\xbb\xbf: hi\rdata: {"type":"message_stop"}\r\r', [1, 2])
    seed("anthropic_error", b'event: error\ndata: {"type": "error", "error": '
         b'{"type": "overloaded_error", "message": "Overloaded"}}\n\n', [10])
    seed("openai_error", b'data: {"error": {"message": "boom", "type": "server_error", '
         b'"code": null}}\n\n', [3])


if __name__ == "__main__":
    main()
