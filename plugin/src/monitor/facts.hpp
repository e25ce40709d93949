#pragma once
// monitor_db: the monitoring tables of the store's SQLite file (migration 6): ticket_facts (one
// row per ticket, derived from its events, its state and its latest survey row), metric_rollups
// (the facts' tallies per tenant, dimension, value and day, week or month, kept in step by adding
// the new fact and subtracting the old one; rollups.hpp),
// alerts and stored reports. Its own connection, so refreshing the
// facts never runs on the webhook's path: the worker calls refresh() between its passes and every
// report reads the rollups.
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "closeloop/engine.hpp"
#include "closeloop/model.hpp"
#include "closeloop/result.hpp"
#include "monitor/metrics.hpp"

namespace SQLite {
class Database;
}

namespace closeloop::monitor {

// The ticket's latest survey row (store table `surveys`).
struct survey_summary {
  std::string kind, status;
  std::optional<int> score;
  std::optional<std::int64_t> sent_at_ms, answered_at_ms;
};

// A ticket's facts from its events (oldest first), state and latest survey. Pure.
//  - agent: the author of the first solve (an agent), else of the last public agent reply;
//  - group / channel: the last non-empty on any event; tier: a tag "tier:<x>" or data.customer_tier;
//  - first response: the first public agent comment after creation; resolution: the first solve;
//  - category, language, sentiment: what the engine decided (ticket_state).
fact derive_fact(const std::string& tenant, const std::string& host, const std::string& ticket_id,
                 const std::vector<event>& events, const ticket_state& state,
                 const std::optional<survey_summary>& survey);

struct report_query {
  std::string tenant;
  dimension by = dimension::all;
  period per = period::week;
  std::int64_t from_day = 0, to_day = 0;  // inclusive
  bool daily_only = false;  // read only the daily level (the reference the coarser levels must match)
};

struct report_row {
  std::string segment;  // the dimension's value ("" = not set; for `all`: "")
  std::int64_t period_start = 0;
  tally t;
};

struct drill_query {
  std::string tenant;
  dimension by = dimension::all;
  std::string value;  // the segment (ignored for `all`)
  std::int64_t from_day = 0, to_day = 0;
  std::string metric;  // which tickets behind the figure: see drill_metrics(); "" = all tickets
  int limit = 100, offset = 0;
};
// Drill-down filters: tickets, solved, reopen_rate, surveyed, response_rate, answered, csat,
// csat_good, csat_bad, nps, promoters, passives, detractors, ces, first_response_s, resolution_s,
// negative_share, positive_share, inferred_csat.
const std::vector<std::string>& drill_metrics();

class monitor_db {
 public:
  // Opens the store's file (created and migrated by store::open).
  static result<std::unique_ptr<monitor_db>> open(const std::string& path);
  ~monitor_db();

  // Brings facts and rollups up to date with up to `limit` events stored since the last call, in
  // one transaction (the cursor moves with it). Returns how many events were read (0: current).
  result<int> refresh(int limit = 5000);
  // Writes facts as given (replacing a ticket's earlier fact, rollups adjusted): data loading
  // for benchmarks and imports.
  result<void> put_facts(const std::vector<fact>& facts);
  // Recomputes a tenant's rollups from its facts (a repair; the benchmark's load step).
  result<void> rebuild_rollups(const std::string& tenant);

  // The report's rows, from the rollups: one per segment and period, ordered by segment, period.
  // Whole months and weeks come from the coarser levels where the period allows (plan_rollups).
  result<std::vector<report_row>> query(const report_query& q);
  // The same answer computed from every fact in the range (the reference the rollups must match).
  result<std::vector<report_row>> query_full_scan(const report_query& q);
  // The tickets behind a figure.
  result<std::vector<fact>> drill(const drill_query& q);
  result<std::optional<fact>> get_fact(const std::string& tenant, const std::string& host, const std::string& ticket);
  // Days [first, last] of a tenant's facts; nullopt without any.
  result<std::optional<std::pair<std::int64_t, std::int64_t>>> day_range(const std::string& tenant);

  // For the alert and report tables (alerts.cpp, report_store.cpp): the connection under its lock.
  std::unique_lock<std::mutex> lock() { return std::unique_lock(mu_); }
  SQLite::Database& db() noexcept { return *db_; }

 private:
  explicit monitor_db(std::unique_ptr<SQLite::Database> db);
  std::unique_ptr<SQLite::Database> db_;
  std::mutex mu_;
};

}  // namespace closeloop::monitor
