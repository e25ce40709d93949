#include "server/breaker.hpp"

#include <algorithm>

namespace closeloop::server {

std::string_view to_string(circuit_state s) noexcept {
  switch (s) {
    case circuit_state::closed:
      return "closed";
    case circuit_state::open:
      return "open";
    case circuit_state::half_open:
      return "half_open";
  }
  return "closed";
}

std::optional<circuit_state> circuit_state_from_string(std::string_view s) noexcept {
  for (auto st : {circuit_state::closed, circuit_state::open, circuit_state::half_open})
    if (to_string(st) == s) return st;
  return std::nullopt;
}

host_verdict judge(const adapters::action_outcome& out) noexcept {
  using kind = adapters::action_outcome::kind;
  const int s = out.http_status;
  if (out.k == kind::done) return host_verdict::answered;
  if (out.k == kind::retry) {
    if (s == 425 || s == 429) return host_verdict::no_signal;  // rate limited: up, Retry-After paces it
    return host_verdict::failed;                               // 0 (no answer), 408, 5xx
  }
  // failed for good: an answer from the host says it is up; no answer (a certificate the
  // operator must fix, a refused URL) says nothing about it.
  return s > 0 ? host_verdict::answered : host_verdict::no_signal;
}

circuit_breakers::entry& circuit_breakers::at(const std::string& tenant, const std::string& host) {
  auto [it, fresh] = circuits_.try_emplace({tenant, host});
  if (fresh) {
    it->second.info.tenant = tenant;
    it->second.info.host = host;
  }
  return it->second;
}

circuit_breakers::admission circuit_breakers::admit(const std::string& tenant, const std::string& host,
                                                    timestamp now) {
  if (opts_.failures <= 0) return {};
  std::lock_guard lk(mu_);
  auto it = circuits_.find({tenant, host});
  if (it == circuits_.end()) return {};
  entry& e = it->second;
  switch (e.info.state) {
    case circuit_state::closed:
      return {};
    case circuit_state::open:
      if (now < e.info.retry_at) return {false, false, e.info.retry_at};
      e.info.state = circuit_state::half_open;
      [[fallthrough]];
    case circuit_state::half_open: {
      // A probe that never reported (its worker died) gives way after a cool-down.
      if (e.probe_in_flight && now < e.probe_started + opts_.cooldown) {
        const auto wait = std::min<std::chrono::milliseconds>(opts_.cooldown, std::chrono::seconds{1});
        return {false, false, now + wait};
      }
      e.probe_in_flight = true;
      e.probe_started = now;
      return {true, true, {}};
    }
  }
  return {};
}

std::optional<circuit_info> circuit_breakers::record(const std::string& tenant, const std::string& host,
                                                     host_verdict v, const std::string& error, timestamp now) {
  if (opts_.failures <= 0 || v == host_verdict::no_signal) {
    if (v == host_verdict::no_signal && opts_.failures > 0) {
      std::lock_guard lk(mu_);
      if (auto it = circuits_.find({tenant, host}); it != circuits_.end()) it->second.probe_in_flight = false;
    }
    return std::nullopt;
  }
  std::lock_guard lk(mu_);
  if (v == host_verdict::answered) {
    auto it = circuits_.find({tenant, host});
    if (it == circuits_.end()) return std::nullopt;  // never failed: nothing to reset
    entry& e = it->second;
    const bool changed = e.info.state != circuit_state::closed;
    e.info.state = circuit_state::closed;
    e.info.failures = 0;
    e.probe_in_flight = false;
    if (!changed) return std::nullopt;
    e.info.retry_at = {};
    return e.info;
  }
  entry& e = at(tenant, host);
  ++e.info.failures;
  e.info.last_error = error;
  const bool was_probe = e.info.state == circuit_state::half_open;
  e.probe_in_flight = false;
  if (e.info.state == circuit_state::open) return std::nullopt;  // a straggler from before it opened
  if (was_probe || e.info.failures >= opts_.failures) {
    e.info.state = circuit_state::open;
    e.info.opened_at = now;
    e.info.retry_at = now + opts_.cooldown;
    return e.info;
  }
  return std::nullopt;
}

void circuit_breakers::restore(const circuit_info& c) {
  std::lock_guard lk(mu_);
  entry& e = at(c.tenant, c.host);
  e.info = c;
  if (e.info.state == circuit_state::half_open) e.info.state = circuit_state::open;  // its probe died with us
  e.probe_in_flight = false;
}

std::vector<circuit_info> circuit_breakers::snapshot() const {
  std::lock_guard lk(mu_);
  std::vector<circuit_info> out;
  for (const auto& [key, e] : circuits_) out.push_back(e.info);
  return out;
}

}  // namespace closeloop::server
