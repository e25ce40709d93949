#pragma once
// Alert rules (tenant config `monitoring.alerts`, schemas/config.schema.json) and their pure
// evaluation. A rule watches one segment (all tickets, or one value of a dimension) over rolling
// windows of `window_days` ending yesterday; each condition judges one metric:
//   absolute  — the value is worse than `yellow` / `red` (below for CSAT-like metrics, above for
//               reopen rate and times);
//   relative  — worse than the previous window by at least `yellow` / `red` percent;
//   dynamic   — outside the control limits of the last `history` windows: mean ± k·σ
//               (`method` "control") or the EWMA (`lambda`) ± k·σ (`method` "ewma"), k = yellow/red.
// A window (and every history window) needs `min_sample` answers of the metric, else the
// condition is not judged (green, saying so). `combine` "any" takes the worst level, "all" the
// mildest (every indicator must agree). Levels: green < yellow < red.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "closeloop/result.hpp"
#include "monitor/facts.hpp"

namespace closeloop::monitor {

enum class level { green = 0, yellow = 1, red = 2 };
std::string_view to_string(level l) noexcept;
std::optional<level> level_from_string(std::string_view s) noexcept;

struct alert_condition {
  std::string metric;
  std::string type = "absolute";  // absolute | relative | dynamic
  std::optional<double> yellow, red;  // dynamic: sigmas (default 2 and 3)
  std::string method = "ewma";       // dynamic: ewma | control
  double lambda = 0.3;               // dynamic ewma weight of the newest window
  int history = 8;                   // dynamic: windows before the current one
  std::optional<std::int64_t> min_sample;  // overrides the rule's
};

struct alert_rule {
  std::string id, name, owner;
  dimension by = dimension::all;
  std::string value;             // the segment when by != all
  int window_days = 7;
  std::int64_t min_sample = 30;
  bool combine_all = false;      // "all": every condition must fire
  std::vector<alert_condition> conditions;
  std::vector<std::string> deliver;  // channel ids (monitoring.channels)
};

struct condition_result {
  std::string metric, type;
  level lvl = level::green;
  bool judged = false;                 // false: too small a sample or no history
  std::optional<double> value, baseline, yellow_limit, red_limit;
  std::int64_t sample = 0;
  std::string reason;
};

struct evaluation {
  level lvl = level::green;
  std::vector<condition_result> results;
  std::string summary;  // one line naming what fired
};
nlohmann::json to_json(const evaluation& e);

// windows[0] = the current window, windows[1] = the one before, ... (oldest last).
evaluation evaluate(const alert_rule& rule, const std::vector<tally>& windows);

// The tallies of `count` consecutive windows of `window_days` each, the newest ending on `last_day`
// (inclusive), for one segment; newest first.
result<std::vector<tally>> window_tallies(monitor_db& db, const std::string& tenant, dimension by,
                                          const std::string& value, std::int64_t last_day, int window_days, int count);

// Threshold suggestions from history (for an admin to confirm into the config): per metric, the
// mean and σ of the last `windows` windows and absolute yellow/red at 2σ/3σ on the bad side,
// relative yellow/red from the largest window-to-window worsening seen.
nlohmann::json suggest_thresholds(const std::vector<tally>& history, const std::vector<std::string>& metrics,
                                  std::int64_t min_sample);

// Parses monitoring.alerts (already schema-checked) with the cross-field checks the schema cannot
// make (unique ids, known delivery channels, yellow milder than red); errors name the pointer.
result<std::vector<alert_rule>> parse_alert_rules(const nlohmann::json& monitoring, const std::string& where);

}  // namespace closeloop::monitor
