#pragma once
// Reports: the figures of one tenant over a date range — totals, the trend per period, every
// segment dimension, the NPS distribution — as JSON (the dashboard API), CSV (export) and a
// self-contained HTML page with inline SVG charts (report_html.cpp). Built from the rollups.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "monitor/facts.hpp"

namespace closeloop::monitor {

struct report_spec {
  std::string tenant;
  std::string title;  // default "Satisfaction report"
  period per = period::week;
  std::int64_t from_day = 0, to_day = 0;  // inclusive
  std::vector<dimension> segments{dimension::agent,   dimension::group,    dimension::category,
                                  dimension::channel, dimension::language, dimension::tier};
};

// The range of the last complete `per` before `today` (day: yesterday; week: last Monday..Sunday;
// month: last month), or for `all`: every day up to yesterday.
report_spec last_complete(const std::string& tenant, period per, std::int64_t today);

// {tenant, title, period, from, to, totals, trend: [{period, ...}], segments: {dim: [{segment, ...}]},
//  nps_distribution}; each figure block is to_json(tally). Inferred CSAT is its own key.
result<nlohmann::json> build_report(monitor_db& db, const report_spec& spec);

// CSV: one line per figure block (section, segment, period, counts..., figures...). Cells that a
// spreadsheet would run as a formula (=, +, -, @ first) are prefixed with '.
std::string report_csv(const nlohmann::json& report);
std::string facts_csv(const std::vector<fact>& facts);
std::string csv_cell(std::string_view s);

// A self-contained HTML page (no script, no external asset): headline figures, the trend chart,
// one bar chart + table per segment dimension, the NPS distribution; `drill_base` (may be empty)
// prefixes links to the tickets behind a figure (…/metrics/tickets?...).
std::string report_html(const nlohmann::json& report, const std::string& drill_base);

}  // namespace closeloop::monitor
