#include "workers/notify/memory_outbox.h"

namespace tollgate::notify {

uint64_t MemoryOutbox::add(const OutboxItem& alert, const std::vector<std::string>& destinations) {
  std::lock_guard lock(mu_);
  const uint64_t first = next_id_;
  for (const auto& d : destinations) {
    OutboxItem row = alert;
    row.id = next_id_++;
    row.destination = d;
    rows_[{d, row.id}] = row;
  }
  changed_.notify_all();
  return first;
}

std::vector<OutboxItem> MemoryOutbox::pending(const std::string& destination, uint64_t after_id,
                                              size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<OutboxItem> out;
  for (auto it = rows_.upper_bound({destination, after_id});
       it != rows_.end() && it->first.first == destination && out.size() < limit; ++it) {
    out.push_back(it->second);
  }
  return out;
}

void MemoryOutbox::done(uint64_t id, const std::string& destination) {
  std::lock_guard lock(mu_);
  rows_.erase({destination, id});
  done_.emplace_back(id, destination);
  changed_.notify_all();
}

uint64_t MemoryOutbox::depth() {
  std::lock_guard lock(mu_);
  return rows_.size();
}

std::vector<std::pair<uint64_t, std::string>> MemoryOutbox::done_calls() const {
  std::lock_guard lock(mu_);
  return done_;
}

bool MemoryOutbox::wait_for_depth(uint64_t depth, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return rows_.size() == depth; });
}

}  // namespace tollgate::notify
