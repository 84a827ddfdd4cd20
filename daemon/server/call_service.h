// CallService: what the Dispatcher needs from whoever runs `call` requests
// (the worker pool in workers/). The loop thread calls start(); the
// service answers later through the Mailbox under the same token, together
// with the events the call produced.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "daemon/core/config.h"
#include "protocol/codec.h"

namespace tollgate {

class CallService {
 public:
  virtual ~CallService() = default;
  // Loop thread. Returns the reply when it is known at once (refusals,
  // idempotent replays); nullopt when it will come through the Mailbox.
  virtual std::optional<std::string> start(uint64_t token, const protocol::RequestId& id,
                                           protocol::CallRequest request,
                                           const std::shared_ptr<const Config>& config) = 0;
  // Loop thread, SIGHUP.
  virtual void reconfigure(const std::shared_ptr<const Config>& config) = 0;
  // Loop thread: emergency shutdown on (with its reason) or off.
  virtual void set_shutdown(std::optional<std::string> reason) = 0;
};

}  // namespace tollgate
