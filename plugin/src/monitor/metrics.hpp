#pragma once
// Satisfaction metrics as pure functions: a ticket's facts (one row of ticket_facts), the additive
// tally of many facts (one row of the metric_rollups table, or their sum over a period/segment),
// and the figures computed from a tally. No I/O; the store side is monitor_db (facts.hpp).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "closeloop/model.hpp"
#include "closeloop/result.hpp"

namespace closeloop::monitor {

// Days are UTC day numbers (days since 1970-01-01).
std::int64_t day_of(timestamp t) noexcept;
std::int64_t day_of_ms(std::int64_t ms) noexcept;
std::string day_string(std::int64_t day);        // "2026-11-22"
result<std::int64_t> parse_day(std::string_view);  // "2026-11-22" -> day; error names the text

enum class period { day, week, month, all };
std::string_view to_string(period p) noexcept;
std::optional<period> period_from_string(std::string_view s) noexcept;
// First day of the period holding `day`: weeks start on Monday, months on the 1st; `all` -> 0.
std::int64_t period_start(std::int64_t day, period p) noexcept;
// First day of the next period (the end, exclusive); `all` -> a far future day.
std::int64_t period_end(std::int64_t start, period p) noexcept;

// What one ticket contributes. A ticket counts in one day: its first solve, else its creation.
struct fact {
  std::string tenant, host, ticket_id;
  std::int64_t day = 0;
  std::optional<std::int64_t> created_at_ms, solved_at_ms, first_response_s, resolution_s, answered_at_ms;
  std::string agent, group, category, channel, language, tier, sentiment;
  bool solved = false;
  int reopens = 0;
  bool surveyed = false;  // an invitation went out
  std::string kind;       // the survey's kind (csat | nps | ces | custom), "" without a survey
  std::optional<int> score;  // the answer's score: set only for an answered survey
  bool operator==(const fact&) const = default;
};
nlohmann::json to_json(const fact& f);

enum class dimension { all, agent, group, category, channel, language, tier };
std::string_view to_string(dimension d) noexcept;
std::optional<dimension> dimension_from_string(std::string_view s) noexcept;
const std::array<dimension, 7>& all_dimensions() noexcept;
std::string_view column_of(dimension d) noexcept;   // ticket_facts column ("grp" for group); "" for all
const std::string& value_of(const fact& f, dimension d) noexcept;  // "" for all

// Additive sums; everything a figure needs. Subtracting a fact (sign -1) undoes adding it.
struct tally {
  std::int64_t tickets = 0, solved = 0, reopened = 0, surveyed = 0, answered = 0;
  std::int64_t csat_n = 0, csat_good = 0;             // csat answers, of them 4-5 of 5
  std::int64_t nps_n = 0, nps_pro = 0, nps_det = 0;   // nps answers, promoters 9-10, detractors 0-6
  std::int64_t ces_n = 0, ces_sum = 0;
  std::int64_t frt_n = 0, frt_sum_s = 0, res_n = 0, res_sum_s = 0;
  std::int64_t sent_pos = 0, sent_neu = 0, sent_neg = 0;  // the tickets' sentiment
  std::int64_t inf_n = 0, inf_good = 0;  // non-responders with a sentiment; of them positive
  std::array<std::int64_t, 11> nps_hist{};  // nps answers by score 0..10
  void add(const fact& f, int sign = 1);
  tally& operator+=(const tally& o);
  bool empty() const noexcept;
  bool operator==(const tally&) const = default;
};

// The figures; each absent when its sample is empty. Percentages are 0..100.
struct figures {
  std::optional<double> csat;            // % of csat answers scoring 4-5
  std::optional<double> nps;             // % promoters - % detractors
  std::optional<double> ces;             // mean ces score
  std::optional<double> response_rate;  // % of surveyed tickets answered
  std::optional<double> reopen_rate;    // % of solved tickets reopened at least once
  std::optional<double> first_response_s, resolution_s;  // means, seconds
  std::optional<double> negative_share, positive_share;  // % of tickets with a sentiment
  // Inferred CSAT: % positive sentiment among surveyed non-responders. Never mixed into csat.
  std::optional<double> inferred_csat;
};
figures compute(const tally& t);

// Metric names (alerts, drill-down, the API): csat, nps, ces, response_rate, reopen_rate,
// first_response_s, resolution_s, negative_share, positive_share, inferred_csat, tickets, answered.
const std::vector<std::string>& metric_names();
bool is_metric(std::string_view name) noexcept;
std::optional<double> metric_value(const tally& t, std::string_view name);
std::int64_t sample_size(const tally& t, std::string_view name);  // the denominator of the figure
bool higher_is_better(std::string_view name) noexcept;  // false for reopen_rate, times, negative_share

nlohmann::json to_json(const tally& t);  // counts + figures (null when absent)

}  // namespace closeloop::monitor
