// CallService: what the Dispatcher needs from whoever runs `call` requests
// (the worker pool in workers/). The loop thread calls start(); a call not
// answered at once ends later in a CallOutcome that the service hands to
// its CallSink (daemon/server/call_sink.h) under the same token.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "daemon/core/config.h"
#include "daemon/server/call_sink.h"
#include "protocol/codec.h"

namespace tollgate {

class CallService {
 public:
  virtual ~CallService() = default;
  // Loop thread. Returns the answer when it is known at once (refusals,
  // idempotent replays); nullopt when it will come through the CallSink.
  virtual std::optional<CallResult> start(uint64_t token, const protocol::RequestId& id,
                                          protocol::CallRequest request,
                                          const std::shared_ptr<const Config>& config) = 0;
  // Loop thread: ends the call under `token` if it is still running (the
  // `cancel` op, a streaming client gone or too far behind): it is answered
  // `why` once what it reserved is settled (PROTOCOL.md section 9).
  virtual void cancel(uint64_t token, protocol::Error why) = 0;
  // Loop thread, SIGHUP.
  virtual void reconfigure(const std::shared_ptr<const Config>& config) = 0;
  // Loop thread: emergency shutdown on (with its reason) or off.
  virtual void set_shutdown(std::optional<std::string> reason) = 0;
};

}  // namespace tollgate
