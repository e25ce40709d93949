#pragma once
// The scheduled retention purge (config privacy.retention): the worker calls run_if_due on each
// loop; every purge_interval it deletes old events and finished work and removes old texts and
// survey answers, in bounded batches (closeloop/privacy_store.hpp), on its own connection.
#include <cstdint>
#include <memory>
#include <mutex>

#include "closeloop/privacy_store.hpp"

namespace closeloop::server {

class services;

class retention_purge {
 public:
  // Rows touched; 0 when nothing is configured, not due, or another thread is purging.
  std::int64_t run_if_due(services& svc);

 private:
  std::mutex mu_;
  timestamp next_{};
  std::unique_ptr<privacy_store> ps_;
};

}  // namespace closeloop::server
