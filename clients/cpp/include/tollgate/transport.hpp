// tollgate::detail::Transport: one DEALER socket to tollgated, requests
// sent with unique ids and replies matched by id (PROTOCOL.md section 1:
// replies may come in any order).
//
// A message whose id is neither the one awaited nor a stream still open
// (a late reply to a request that timed out on the client side, or to a
// resend of it) is discarded and counted in stale(). Messages of an open
// stream that arrive while another request is awaited (a cancel sent from
// the stream's callback) are kept for it.
//
// Not thread-safe: one thread at a time (ZeroMQ sockets are not).
#pragma once

#include <zmq.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <msgpack.hpp>
#include <zmq.hpp>

#include "tollgate/result.hpp"
#include "tollgate/value.hpp"

namespace tollgate {

struct Options {
  // How long to wait for a reply (for a stream: for each message).
  std::chrono::milliseconds timeout{60000};
  // CurveZMQ: the daemon's public key, 40 characters of Z85. Empty: plain.
  std::string server_key;
  // With server_key: this client's key pair (Z85), whose public key is in
  // the daemon's TOLLGATE_CURVE_CLIENTS_FILE (it refuses other keys).
  std::string client_public, client_secret;
};

namespace detail {

using Clock = std::chrono::steady_clock;

inline std::string random_hex(std::mt19937_64& rng, int words) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (int w = 0; w < words; ++w) {
    uint64_t x = rng();
    for (int i = 0; i < 16; ++i, x >>= 4) out.push_back(digits[x & 15]);
  }
  return out;
}

class Transport {
 public:
  Transport(const std::string& endpoint, const Options& options) : ctx_(1) {
    std::random_device seed;
    rng_.seed((static_cast<uint64_t>(seed()) << 32) ^ seed());
    prefix_ = random_hex(rng_, 1).substr(0, 8);
    try {
      socket_ = zmq::socket_t(ctx_, zmq::socket_type::dealer);
      socket_.set(zmq::sockopt::linger, 0);
      if (!options.server_key.empty()) setup_curve(options);
      if (!setup_error_) socket_.connect(endpoint);
    } catch (const zmq::error_t& e) {
      setup_error_ = Error{kTransport, "cannot connect to '" + endpoint + "': " + e.what(), {}, "", false};
    }
  }

  // A new request id: unique for this client, distinct across clients.
  std::string next_id() { return prefix_ + "-" + std::to_string(++counter_); }
  // 128 random bits, for idempotency keys.
  std::string random_key() { return "tg-" + random_hex(rng_, 2); }
  uint64_t stale() const { return stale_; }

  // Sends {v, id, op} plus `fields` (a map).
  std::optional<Error> send(const std::string& id, const std::string& op, const Value& fields) {
    if (setup_error_) return with_id(*setup_error_, id);
    Value body = fields.is_map() ? fields : Value(Value::Map{});
    body["v"] = 1;
    body["id"] = id;
    body["op"] = op;
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    body.pack(pk);
    try {
      // ["", body], as a REQ socket would send it.
      if (!socket_.send(zmq::message_t(), zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
          !socket_.send(zmq::message_t(buf.data(), buf.size()), zmq::send_flags::dontwait)) {
        return Error{kTransport, "send queue full (is tollgated running?)", {}, id, false};
      }
    } catch (const zmq::error_t& e) {
      return Error{kTransport, std::string("send failed: ") + e.what(), {}, id, false};
    }
    return std::nullopt;
  }

  // The next message for `id` (a stream part or a reply), or a
  // client_timeout / transport error when none came before `deadline`.
  Result<Value> receive(const std::string& id, Clock::time_point deadline) {
    if (setup_error_) return with_id(*setup_error_, id);
    auto kept = kept_.find(id);
    if (kept != kept_.end() && !kept->second.empty()) {
      Value v = std::move(kept->second.front());
      kept->second.pop_front();
      return v;
    }
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() < 0) left = std::chrono::milliseconds(0);
      std::optional<Value> msg;
      try {
        zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, left) == 0) {
          return Error{kClientTimeout, "no reply from tollgated within the client timeout", {}, id, false};
        }
        msg = read_one();
      } catch (const zmq::error_t& e) {
        return Error{kTransport, std::string("receive failed: ") + e.what(), {}, id, false};
      }
      if (!msg) continue;
      std::string got = id_of(*msg);
      if (got == id) return std::move(*msg);
      if (open_.count(got)) {
        kept_[got].push_back(std::move(*msg));
      } else {
        ++stale_;
      }
    }
  }

  // While a stream is open its messages are kept when another id is awaited.
  void open_stream(const std::string& id) { open_.insert(id); }
  void close_stream(const std::string& id) {
    open_.erase(id);
    kept_.erase(id);
  }

 private:
  void setup_curve(const Options& o) {
    set_key(ZMQ_CURVE_SERVERKEY, o.server_key, "server_key");
    set_key(ZMQ_CURVE_PUBLICKEY, o.client_public, "client_public");
    set_key(ZMQ_CURVE_SECRETKEY, o.client_secret, "client_secret");
  }

  void set_key(int option, const std::string& z85, const char* what) {
    if (setup_error_) return;
    if (z85.size() != 40 || zmq_setsockopt(socket_.handle(), option, z85.data(), z85.size()) != 0) {
      setup_error_ = Error{kTransport, std::string("Options::") + what + " must be 40 characters of Z85", {}, "", false};
    }
  }

  // Reads one multipart message; its last frame is the body. Nothing when
  // that is not a msgpack map (counted as stale: no request can claim it).
  std::optional<Value> read_one() {
    std::vector<zmq::message_t> frames;
    do {
      zmq::message_t frame;
      if (!socket_.recv(frame, zmq::recv_flags::dontwait)) break;
      frames.push_back(std::move(frame));
    } while (socket_.get(zmq::sockopt::rcvmore));
    if (frames.empty()) return std::nullopt;
    try {
      const zmq::message_t& body = frames.back();
      msgpack::object_handle oh = msgpack::unpack(static_cast<const char*>(body.data()), body.size());
      Value v = Value::from_msgpack(oh.get());
      if (v.is_map()) return v;
    } catch (const std::exception&) {
      // Not msgpack: not a protocol message, so no request can claim it.
    }
    ++stale_;
    return std::nullopt;
  }

  static std::string id_of(const Value& msg) {
    const Value& id = msg["id"];
    if (id.is_string()) return id.as_string();
    if (id.is_int()) return std::to_string(id.as_int());
    return "";
  }

  static Error with_id(Error e, const std::string& id) {
    e.request_id = id;
    return e;
  }

  zmq::context_t ctx_;
  zmq::socket_t socket_;
  std::optional<Error> setup_error_;
  std::mt19937_64 rng_;
  std::string prefix_;
  uint64_t counter_ = 0;
  uint64_t stale_ = 0;
  std::set<std::string> open_;
  std::map<std::string, std::deque<Value>> kept_;
};

}  // namespace detail
}  // namespace tollgate
