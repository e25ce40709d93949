#pragma once
// The rollup levels behind reports (migrations 6 and 9): metric_rollups holds the same additive
// tallies per tenant × dimension × value × bucket at three levels — `level` day, week or month,
// `day` the bucket's first day (the day itself, its Monday, the 1st of its month). Every level is
// kept in step in the transaction that writes the facts (monitor_db::refresh / put_facts); the
// key (tenant, dim, level, day, value) makes a date range of one level one range scan.
//
// plan_rollups() covers a report's range with the fewest rows that can still be grouped by the
// report's period: whole months, then whole weeks, then single days at the edges. A bucket is used
// only where it lies inside one period of the report (a month never feeds a weekly trend; a week
// straddling two months never feeds a monthly one), so every answer equals the daily level's and
// the full scan's.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "monitor/metrics.hpp"

namespace SQLite {
class Database;
}

namespace closeloop::monitor {

enum class rollup_level { day, week, month };
std::string_view to_string(rollup_level l) noexcept;  // the `level` column: day | week | month

// Days [from, to] (inclusive) read from one level: whole buckets of that level only.
struct rollup_span {
  rollup_level level = rollup_level::day;
  std::int64_t from = 0, to = 0;
  bool operator==(const rollup_span&) const = default;
};

// The spans that tile [from_day, to_day] exactly once, coarsest first where the period allows it.
// `daily_only`: one daily span (what reports read before the coarser levels; the tests' reference).
std::vector<rollup_span> plan_rollups(std::int64_t from_day, std::int64_t to_day, period per, bool daily_only = false);

namespace rollup_detail {

// (level, tenant, dim, bucket start, value) -> the tally to add.
using key = std::tuple<rollup_level, std::string, dimension, std::int64_t, std::string>;
using deltas = std::map<key, tally>;
// (segment value, period start) -> the sum over the report's rows.
using sums = std::map<std::pair<std::string, std::int64_t>, tally>;

// Adds (sign +1) or subtracts (-1) a fact's contribution at every level and dimension.
void add_fact(deltas& d, const fact& f, int sign);
// Upserts the deltas; a row whose tickets drop to 0 is deleted.
void write(SQLite::Database& db, const deltas& d);
// Deletes a tenant's rows at every level (before rebuilding them from the facts).
void clear(SQLite::Database& db, const std::string& tenant);
// Adds the rows of one span, grouped by segment and `per`, to `acc`; returns how many rows it read.
std::int64_t read(SQLite::Database& db, const std::string& tenant, dimension by, period per, const rollup_span& s,
                  sums& acc);

}  // namespace rollup_detail
}  // namespace closeloop::monitor
