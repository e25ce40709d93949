#pragma once
// The engine's priority inputs beyond the classifier (README "Classification"): the customer's
// value tier (policy.tier_priority) and the service level (policy.sla): due times computed on
// creation, recomputed (never extended) when the priority rises, and a customer message close to
// or past the first-reply due time raising the priority. Pure: times come from the events.
#include <optional>
#include <string>

#include "closeloop/classifier.hpp"
#include "closeloop/engine.hpp"

namespace closeloop::priority_rules {

struct due_times {
  std::optional<timestamp> first_reply, resolution;
  bool operator==(const due_times&) const = default;
};

// The least priority of the tier: "customer tier enterprise (minimum urgent)".
void apply_tier(const policy& pol, const std::string& tier, classification& c);

// On a later customer message at `at`: the first reply (not given yet) past due or due within
// near_due_h raises to at least urgent ("first reply overdue by 3 h"); so does a resolution past
// due on an unsolved ticket.
void apply_sla(const policy& pol, const ticket_state& state, timestamp at, classification& c);

// The due times of a ticket created at `created` with this priority and tier (nothing when the
// tenant has no policy.sla or no target for it).
due_times compute_due(const policy& pol, timestamp created, priority p, const std::string& tier);

// Each due time of `next` no later than the one already recorded in `old` (a raise recomputes
// from creation; it never extends).
due_times earliest(const due_times& old, const due_times& next);

// ISO 8601 UTC as written to the host: "2026-11-23T09:00:00Z" (milliseconds only when not zero).
std::string format_due(timestamp t);

}  // namespace closeloop::priority_rules
