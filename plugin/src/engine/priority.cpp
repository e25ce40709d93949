// Priority from the customer's tier and the service level; SLA due times (priority.hpp).
#include "priority.hpp"

#include <algorithm>

#include "closeloop/text.hpp"

namespace closeloop::priority_rules {
namespace {

std::optional<double> target(const sla_policy& sla, const std::string& tier, priority p, bool first_reply) {
  const auto i = static_cast<std::size_t>(p);
  if (auto it = sla.tiers.find(tier); !tier.empty() && it != sla.tiers.end()) {
    const auto& v = first_reply ? it->second.first_reply_h[i] : it->second.resolution_h[i];
    if (v) return v;
  }
  return first_reply ? sla.targets.first_reply_h[i] : sla.targets.resolution_h[i];
}

std::optional<timestamp> due(const sla_policy& sla, timestamp created, std::optional<double> hours) {
  if (!hours) return std::nullopt;
  const auto span = std::chrono::milliseconds(static_cast<std::int64_t>(*hours * 3600.0 * 1000.0 + 0.5));
  return survey::add_open_time(created, span, sla.hours);
}

std::optional<timestamp> min_of(const std::optional<timestamp>& a, const std::optional<timestamp>& b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

}  // namespace

void apply_tier(const policy& pol, const std::string& tier, classification& c) {
  if (tier.empty()) return;
  const auto it = pol.tier_priority.find(tier);
  if (it == pol.tier_priority.end()) return;
  raise_priority(c, it->second,
                 "customer tier " + tier + " (minimum " + std::string(to_string(it->second)) + ")");
}

void apply_sla(const policy& pol, const ticket_state& state, timestamp at, classification& c) {
  if (!pol.sla.enabled) return;
  if (state.sla_first_reply_due && !state.first_reply_at) {
    const auto left = *state.sla_first_reply_due - at;
    const auto near = std::chrono::milliseconds(static_cast<std::int64_t>(pol.sla.near_due_h * 3600.0 * 1000.0));
    if (left <= std::chrono::milliseconds::zero())
      raise_priority(c, priority::urgent, "first reply overdue by " + format_span(-left));
    else if (left <= near)
      raise_priority(c, priority::urgent, "first reply due in " + format_span(left));
  }
  const bool solved = state.status == "solved" || state.status == "closed";
  if (state.sla_resolution_due && !solved && at >= *state.sla_resolution_due)
    raise_priority(c, priority::urgent, "resolution overdue by " + format_span(at - *state.sla_resolution_due));
}

due_times compute_due(const policy& pol, timestamp created, priority p, const std::string& tier) {
  if (!pol.sla.enabled) return {};
  return {due(pol.sla, created, target(pol.sla, tier, p, true)), due(pol.sla, created, target(pol.sla, tier, p, false))};
}

due_times earliest(const due_times& old, const due_times& next) {
  return {min_of(old.first_reply, next.first_reply), min_of(old.resolution, next.resolution)};
}

std::string format_due(timestamp t) {
  std::string s = format_rfc3339(t);
  if (const auto dot = s.rfind(".000Z"); dot != std::string::npos && dot + 5 == s.size()) s = s.substr(0, dot) + "Z";
  return s;
}

}  // namespace closeloop::priority_rules
