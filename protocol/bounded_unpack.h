// Internal to protocol/: unpack one msgpack value from untrusted bytes.
//
// msgpack-c allocates a container's element array as soon as it reads the
// header, so 5 bytes (`dd ff ff ff ff`) can ask for ~96 GB, and its default
// depth is unbounded. unpack_bounded first walks the bytes with a visitor
// that allocates nothing and stops at once when the nesting exceeds
// max_depth or the containers declare more elements in total than the body
// has bytes (every element takes at least one byte). Only bodies that pass
// are unpacked, with msgpack limits derived from the body size, so the
// memory used is bounded by a small multiple of the body size.
//
// Strings, bin and ext in the result point into `bytes`, which must outlive
// the object; containers live in `zone`. Any thread.
#pragma once

#include <cstddef>
#include <string_view>

#include <msgpack.hpp>

#include "protocol/error.h"

namespace tollgate::protocol::detail {

struct Unpacked {
  msgpack::object object;
  size_t consumed = 0;  // bytes of the first value; < bytes.size() means trailing bytes
};

// `what` names the input in messages ("request body", "reply body").
Result<Unpacked> unpack_bounded(msgpack::zone& zone, std::string_view bytes, size_t max_depth,
                                std::string_view what);

// A zone chunk size suited to unpacking `body_size` bytes.
size_t zone_chunk_size(size_t body_size);

// "map", "str", "positive integer", ... for messages.
std::string_view type_name(const msgpack::object& o);

}  // namespace tollgate::protocol::detail
