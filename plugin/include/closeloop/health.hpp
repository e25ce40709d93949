#pragma once
// Customer health / churn risk (README "Customer health"): a score 0..100 per customer (the
// normalised requester e-mail) from what the store knows about the customer's recent tickets —
// negative survey answers, the sentiment trend, repeat contacts, reopens and SLA breaches (the
// first public agent reply or the resolution after the due time the engine recorded; a ticket
// without due times falls back to "no first reply within first_response") — with the reasons,
// like priority reasons. Pure: the store gathers the facts (closeloop/health_store.hpp), this scores.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/model.hpp"
#include "closeloop/result.hpp"

namespace closeloop::health {

enum class band { healthy, at_risk, churn_risk };
std::string_view to_string(band b) noexcept;  // "healthy", "at_risk", "churn_risk"
std::optional<band> band_from_string(std::string_view s) noexcept;

// The tenant's "health" object (schemas/config.schema.json); every default lives here.
struct options {
  bool enabled = true;
  std::chrono::seconds window{90 * 24 * 3600};          // only facts this recent count
  int at_risk = 30;                                     // score from which the customer is at risk
  int churn_risk = 60;                                  // ... and a churn risk
  std::chrono::seconds first_response{24 * 3600};       // without SLA due times: a later first reply is a breach
  std::chrono::seconds repeat_within{7 * 24 * 3600};    // a new ticket this soon after the last is a repeat
  std::string field = "customer_health";                // host field written on a band change ("" = none)
  std::string tag_prefix = "health-";                   // tag <prefix><band> added on a change ("" = none)
  bool write = true;                                    // write band changes to the host at all
  // Points per fact and their caps.
  int per_negative_answer = 20, negative_answer_cap = 40;
  int per_positive_answer = 5, positive_answer_cap = 15;  // subtracted
  int per_negative_ticket = 8, negative_ticket_cap = 16;
  int worsening = 10, improving = 5;                       // sentiment trend (improving subtracts)
  int per_repeat = 6, repeat_cap = 18;
  int per_reopen = 10, reopen_cap = 30;
  int per_breach = 8, breach_cap = 24;

  // From the tenant's "health" JSON (already schema-checked); unknown/missing keys keep defaults.
  static result<options> from_json(const json& j);
};

struct ticket_facts {
  std::string host, ticket_id, subject;
  timestamp created_at{};
  std::string sentiment;  // positive / neutral / negative / ""
  std::string status;
  std::vector<timestamp> reopened_at;
  std::optional<timestamp> first_agent_reply;
  std::optional<timestamp> solved_at;
  // The SLA due times the engine recorded in the ticket's state (policy.sla); unset: none.
  std::optional<timestamp> first_reply_due, resolution_due;
};

struct answer_facts {
  std::string host, ticket_id, kind;  // kind: csat / nps / ces
  int score = 0;
  timestamp at{};
};

struct inputs {
  std::string customer;  // normalised e-mail
  std::vector<ticket_facts> tickets;
  std::vector<answer_facts> answers;
};

struct reason {
  std::string code;  // negative_answers, positive_answers, negative_sentiment, worsening, improving, repeat_contacts, reopens, sla_breaches, late_first_reply
  int points = 0;    // added to the score (negative: taken off)
  std::string text;  // English, human-readable ("2 negative survey answers: csat 1 on #12, ...")
};

struct assessment {
  std::string customer;
  int score = 0;  // 0 (healthy) .. 100
  band level = band::healthy;
  std::vector<reason> reasons;  // in order of weight, largest first
  int tickets = 0, answers = 0, negative_answers = 0, reopens = 0, repeats = 0, breaches = 0;
};

// The answer score at or below which an answer is negative, by kind (the tenant's escalation
// thresholds: csat 2, nps 6, ces 3 by default).
using bad_threshold_fn = std::function<int(std::string_view kind)>;

assessment assess(const inputs& in, const options& o, timestamp now, const bad_threshold_fn& bad_at_or_below);
band band_for(int score, const options& o) noexcept;
json to_json(const assessment& a);

// "  Alice@Example.COM " -> "alice@example.com" (the store's key for a customer).
std::string normalize_customer(std::string_view email);

}  // namespace closeloop::health
