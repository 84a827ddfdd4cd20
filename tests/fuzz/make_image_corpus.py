#!/usr/bin/python3
"""Writes corpus/image_size/ for fuzz_image_size: the first bytes of a PNG,
JPEG (with an EXIF thumbnail), GIF and WebP (VP8, VP8L, VP8X) file, as
the parser reads them. Writes beside this script:
    python3 tests/fuzz/make_image_corpus.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "image_size")


def png(w, h):
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", w, h) + \
        b"\x08\x06\x00\x00\x00" + b"\x00" * 4


def segment(marker, payload):
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg(w, h, thumbnail=b""):
    sof = segment(0xC0, b"\x08" + struct.pack(">HH", h, w) + b"\x01\x01\x11\x00")
    out = b"\xff\xd8" + segment(0xE0, b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00")
    if thumbnail:
        out += segment(0xE1, b"Exif\x00\x00" + thumbnail)
    return out + segment(0xDB, b"\x01" * 65) + sof + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")


def gif(w, h):
    return b"GIF89a" + struct.pack("<HH", w, h) + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff" + \
        b"\x21\xf9\x04\x00\x00\x00\x00\x00" + b"\x2c" + struct.pack("<HHHH", 0, 0, w + 5, h) + \
        b"\x00\x02\x02\x4c\x01\x00\x3b"


def webp(chunk, payload):
    return b"RIFF" + struct.pack("<I", 12 + len(payload)) + b"WEBP" + chunk + \
        struct.pack("<I", len(payload)) + payload


seeds = {
    "png": png(640, 480),
    "jpeg": jpeg(1920, 1080),
    "jpeg_exif_thumbnail": jpeg(4000, 3000, jpeg(160, 120)),
    "gif": gif(320, 240),
    "webp_vp8": webp(b"VP8 ", b"\x10\x02\x00\x9d\x01\x2a" + struct.pack("<HH", 1024, 768)),
    "webp_vp8l": webp(b"VP8L", b"\x2f" + struct.pack("<I", 99 | (49 << 14))),
    "webp_vp8x": webp(b"VP8X", b"\x10\x00\x00\x00" + struct.pack("<I", 2999)[:3] +
                      struct.pack("<I", 1999)[:3]),
}
os.makedirs(OUT, exist_ok=True)
for name, body in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(body)
