#pragma once
// Per-host circuit breakers for the worker (issue 9 item 6). A host (tenant + host id) is
//  - closed: actions run; consecutive retryable failures are counted, any answer from the host
//    resets the count;
//  - open after `failures` consecutive retryable failures: its actions are not attempted (and not
//    charged an attempt: the worker hands them back due at retry_at) until the cool-down ends;
//  - half-open then: exactly one action is let through as a probe; success closes the circuit,
//    a retryable failure opens it for another cool-down. Others wait while the probe runs.
// Thread-safe; pure in-memory state with an injected time, so the worker persists transitions.
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "closeloop/model.hpp"
#include "common/adapter.hpp"

namespace closeloop::server {

enum class circuit_state { closed, open, half_open };
std::string_view to_string(circuit_state s) noexcept;
std::optional<circuit_state> circuit_state_from_string(std::string_view s) noexcept;

struct breaker_options {
  int failures = 5;  // consecutive retryable failures that open the circuit; 0: never opens
  std::chrono::milliseconds cooldown{30000};
};

struct circuit_info {
  std::string tenant, host;
  circuit_state state = circuit_state::closed;
  int failures = 0;  // consecutive retryable failures
  timestamp opened_at{}, retry_at{};
  std::string last_error;
};

// How an action's outcome counts for its host's circuit.
enum class host_verdict {
  answered,   // the host answered (2xx, or a 4xx other than 408/425/429): it is up
  failed,     // a retryable failure: no answer (connect, timeout), 408 or 5xx
  no_signal,  // neither: 425/429 (rate limited but up), or a failure that never reached it
};
host_verdict judge(const adapters::action_outcome& out) noexcept;

class circuit_breakers {
 public:
  explicit circuit_breakers(breaker_options o) : opts_(o) {}

  struct admission {
    bool go = true;
    bool probe = false;    // the half-open probe: its outcome decides the circuit
    timestamp retry_at{};  // when !go: when to look again
  };
  admission admit(const std::string& tenant, const std::string& host, timestamp now);

  // Returns the circuit when its state changed (for logs, metrics and the store).
  std::optional<circuit_info> record(const std::string& tenant, const std::string& host, host_verdict v,
                                     const std::string& error, timestamp now);

  // Restores a circuit written before a restart (an open circuit stays open until its retry_at).
  void restore(const circuit_info& c);
  std::vector<circuit_info> snapshot() const;
  const breaker_options& options() const noexcept { return opts_; }

 private:
  struct entry {
    circuit_info info;
    bool probe_in_flight = false;
    timestamp probe_started{};
  };
  entry& at(const std::string& tenant, const std::string& host);

  breaker_options opts_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, entry> circuits_;
};

}  // namespace closeloop::server
