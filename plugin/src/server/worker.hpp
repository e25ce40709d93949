#pragma once
// The worker runs deferred work: it fires due timers (as timer.fired events through the engine)
// and executes due outbox actions through the host's adapter, with retries, exponential backoff
// with jitter, and the host's Retry-After. It runs on its own threads, never in a request.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "server/breaker.hpp"
#include "server/retention.hpp"
#include "server/services.hpp"

namespace closeloop::server {

class worker {
 public:
  explicit worker(services& svc, int threads = 2);
  ~worker();
  void start();
  void stop();  // finishes the actions in hand, then returns

  // One pass (fire timers, run one batch); returns how many items were handled. For tests/CLI.
  int run_once();

  // The hosts' circuit breakers (state also in /metrics and, for doctor, in the store).
  const circuit_breakers& breakers() const noexcept { return breakers_; }

 private:
  int fire_timers();
  int run_actions();
  void loop();
  void publish(const circuit_info& c);  // metrics, log, store

  services& svc_;
  int threads_;
  std::vector<std::thread> pool_;
  std::mutex mu_;
  std::mutex timers_mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  std::mutex rng_mu_;
  std::mt19937_64 rng_{std::random_device{}()};
  retention_purge purge_;  // privacy.retention, run from loop()
  circuit_breakers breakers_;
};

}  // namespace closeloop::server
