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
  // The steps of one claimed action, in order (run_action). Each returns false when the action
  // is settled for this pass (cancelled, deferred, or left for a retry) and nothing else is done.
  void run_action(const outbox_item& item);
  bool consent_allows(const outbox_item& item, const std::string& vendor, timestamp now);
  bool circuit_admits(const outbox_item& item, const std::string& circuit, timestamp now);
  // Calls the host (or the tenant's webhook receiver, or the KB path); `to_host`: the outcome is
  // the peer's answer, so it counts for the circuit.
  adapters::action_outcome execute(action& a, adapters::adapter* ad, bool webhook, bool& to_host);
  // Records the outcome (done / retry with backoff / failed) and returns its metrics label.
  const char* settle(const outbox_item& item, const adapters::action_outcome& out, timestamp now);
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
