#pragma once
// When to send a survey: business hours in the tenant's time zone, deterministic sampling, the
// per-person throttle (normalised e-mail) and quotas per segment and period. Pure functions;
// the cross-ticket state (who was surveyed when, how much of a quota is used) is read through
// `ledger`, which the store implements over the transaction that records the decision, so two
// workers can never both spend the same person's or quota's allowance.
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "closeloop/result.hpp"

namespace closeloop::survey {

using json = nlohmann::json;
using timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

struct business_hours {
  std::string time_zone;  // IANA name; empty: send at any time
  std::array<bool, 7> days{false, true, true, true, true, true, false};  // [0] = Sunday
  int start_minute = 9 * 60;  // local time of day the window opens
  int end_minute = 18 * 60;   // and closes (exclusive); 24:00 = midnight
  bool empty() const noexcept { return time_zone.empty(); }
};

// An error naming the zone when it is not a time zone the system knows.
result<void> check_time_zone(std::string_view zone);
// The first instant at or after t within the business hours (t itself when hours are empty or
// no day is open). Local times are computed with the zone's rules, DST included.
timestamp next_open(timestamp t, const business_hours& h);
// t plus `d` of open time: only the business hours count (an SLA target of 8 business hours set
// on Friday 17:00 falls due on Monday 16:00). t + d when the hours are empty or never open.
timestamp add_open_time(timestamp t, std::chrono::milliseconds d, const business_hours& h);
// The start of the day / week (Monday) / month containing t, in `zone` (UTC when empty).
timestamp period_start(timestamp t, std::string_view period, std::string_view zone);

struct throttle_policy {
  std::chrono::seconds window{30 * 24 * 3600};  // 0: no throttle
  bool fold_gmail = false;  // gmail.com / googlemail.com: dots and +suffix of the local part ignored
  bool strip_plus = false;  // every domain: +suffix of the local part ignored
};
// Lower-case, trimmed; with the options above folded. Empty when the text is no address.
std::string normalize_email(std::string_view email, const throttle_policy& p);

struct quota {
  std::string group;  // the segment: tickets of this queue/group; empty: every ticket
  int max = 0;
  std::string period = "month";  // day | week | month
  std::string segment() const { return group.empty() ? std::string("*") : "group:" + group; }
};

// Whether the ticket is in the sample: a hash of tenant/host/ticket compared with the rate, so
// a replay or a second worker decides the same.
bool sampled(std::string_view tenant, std::string_view host, std::string_view ticket, double rate) noexcept;

// What the store remembers about one person (per tenant, across tickets and hosts).
struct person_record {
  std::optional<timestamp> last_sent_at;
  json last_answer;  // {host, ticket, seq, score, negative, at} of the latest answer, or null
};

// Cross-ticket reads, answered inside the transaction that records the decision.
class ledger {
 public:
  virtual ~ledger() = default;
  virtual person_record person(const std::string& tenant, const std::string& person_key) const = 0;
  virtual std::int64_t quota_used(const std::string& tenant, const std::string& segment,
                                  timestamp period_start) const = 0;
  // The customer (requester e-mail) opted out of surveys in this tenant (closeloop privacy).
  virtual bool opted_out(const std::string& tenant, const std::string& email) const {
    (void)tenant, (void)email;
    return false;
  }
};

// Cross-ticket writes a decision asks the store to make in the same transaction.
struct ledger_update {
  std::string person_key;
  std::optional<timestamp> sent_at;     // an invitation goes out: the throttle runs from here
  json answer;                          // the person's latest answer (null: unchanged)
  struct quota_use {
    std::string segment;
    timestamp period_start;
  };
  std::vector<quota_use> quota;  // one invitation counted in each
  json recovery;                 // {host, ticket, seq, outcome}: an earlier survey's recovery outcome
};

// One row of the survey lifecycle (store table `surveys`), as a patch: unset fields keep their
// stored value.
struct record {
  int seq = 0;  // per ticket: the solve that caused it
  std::string definition, kind, status, person_key, segment, language;
  std::optional<timestamp> scheduled_at, due_at, sent_at, reminded_at, answered_at, expired_at, cancelled_at;
  std::optional<int> score;
  json response;  // {answers, comment, submission_id, sentiment, category, edits} (null: unchanged)
  std::string recovery;  // "", "pending", "won_back", "not_won_back"
  std::string note;      // why it was skipped / cancelled
};

}  // namespace closeloop::survey
