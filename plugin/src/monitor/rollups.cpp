// Rollup levels: the plan of a report's reads and the SQL of the three rollup tables (rollups.hpp).
#include "monitor/rollups.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

namespace closeloop::monitor {
namespace {

// tally members in metric_rollups' column order (after tenant, dim, value, day; then h0..h10, level).
struct column {
  const char* name;
  std::int64_t tally::* member;
};
constexpr column k_columns[] = {
    {"tickets", &tally::tickets},     {"solved", &tally::solved},       {"reopened", &tally::reopened},
    {"surveyed", &tally::surveyed},   {"answered", &tally::answered},   {"csat_n", &tally::csat_n},
    {"csat_good", &tally::csat_good}, {"nps_n", &tally::nps_n},         {"nps_pro", &tally::nps_pro},
    {"nps_det", &tally::nps_det},     {"ces_n", &tally::ces_n},         {"ces_sum", &tally::ces_sum},
    {"frt_n", &tally::frt_n},         {"frt_sum_s", &tally::frt_sum_s}, {"res_n", &tally::res_n},
    {"res_sum_s", &tally::res_sum_s}, {"sent_pos", &tally::sent_pos},   {"sent_neu", &tally::sent_neu},
    {"sent_neg", &tally::sent_neg},   {"inf_n", &tally::inf_n},         {"inf_good", &tally::inf_good},
};
constexpr int k_ncols = static_cast<int>(std::size(k_columns));
constexpr rollup_level k_levels[] = {rollup_level::day, rollup_level::week, rollup_level::month};

std::string column_list() {
  std::string s;
  for (const auto& c : k_columns) s += std::string(s.empty() ? "" : ", ") + c.name;
  for (int i = 0; i <= 10; ++i) s += ", h" + std::to_string(i);
  return s;
}

tally read_tally(SQLite::Statement& q, int first) {
  tally t;
  for (int i = 0; i < k_ncols; ++i) t.*(k_columns[i].member) = q.getColumn(first + i).getInt64();
  for (int i = 0; i <= 10; ++i) t.nps_hist[static_cast<std::size_t>(i)] = q.getColumn(first + k_ncols + i).getInt64();
  return t;
}

period period_of(rollup_level l) noexcept {
  switch (l) {
    case rollup_level::day: return period::day;
    case rollup_level::week: return period::week;
    case rollup_level::month: return period::month;
  }
  return period::day;
}

// May buckets of `l` inside [from, to] be grouped by `per`? Only if each lies inside one period.
bool usable(rollup_level l, period per, std::int64_t from, std::int64_t to) noexcept {
  return per == period::all || per == period_of(l) || period_start(from, per) == period_start(to, per);
}

// Coarser levels first (months, then weeks); what they leave at the edges goes one level down.
void cover(std::int64_t from, std::int64_t to, period per, int next, std::vector<rollup_span>& out) {
  static constexpr rollup_level k_coarse[] = {rollup_level::month, rollup_level::week};
  if (from > to) return;
  for (; next < 2; ++next) {
    const rollup_level l = k_coarse[next];
    if (!usable(l, per, from, to)) continue;
    const period lp = period_of(l);
    std::int64_t first = period_start(from, lp);  // the first whole bucket starts here
    if (first < from) first = period_end(first, lp);
    const std::int64_t end = period_start(to + 1, lp);  // the last whole bucket ends before here
    if (first >= end) continue;
    cover(from, first - 1, per, next + 1, out);
    out.push_back({l, first, end - 1});
    cover(end, to, per, next + 1, out);
    return;
  }
  out.push_back({rollup_level::day, from, to});
}

}  // namespace

std::string_view to_string(rollup_level l) noexcept {
  switch (l) {
    case rollup_level::day: return "day";
    case rollup_level::week: return "week";
    case rollup_level::month: return "month";
  }
  return "day";
}

std::vector<rollup_span> plan_rollups(std::int64_t from_day, std::int64_t to_day, period per, bool daily_only) {
  std::vector<rollup_span> out;
  if (from_day > to_day) return out;
  if (daily_only) out.push_back({rollup_level::day, from_day, to_day});
  else cover(from_day, to_day, per, 0, out);
  return out;
}

namespace rollup_detail {

void add_fact(deltas& d, const fact& f, int sign) {
  for (rollup_level l : k_levels) {
    const std::int64_t start = period_start(f.day, period_of(l));
    for (dimension dim : all_dimensions()) d[{l, f.tenant, dim, start, value_of(f, dim)}].add(f, sign);
  }
}

void write(SQLite::Database& db, const deltas& d) {
  const std::string cols = column_list();
  std::string set;
  for (const auto& c : k_columns) set += std::string(set.empty() ? "" : ", ") + c.name + " = " + c.name + " + excluded." + c.name;
  for (int i = 0; i <= 10; ++i) {
    const std::string h = "h" + std::to_string(i);
    set += ", " + h + " = " + h + " + excluded." + h;
  }
  std::string values = "?, ?, ?, ?, ?";
  for (int i = 0; i < k_ncols + 11; ++i) values += ", ?";
  SQLite::Statement up(db, "INSERT INTO metric_rollups (tenant, dim, level, day, value, " + cols + ") VALUES (" + values +
                               ") ON CONFLICT (tenant, dim, level, day, value) DO UPDATE SET " + set);
  SQLite::Statement del(db,
                        "DELETE FROM metric_rollups WHERE tenant = ? AND dim = ? AND level = ? AND day = ? AND value = ?"
                        " AND tickets <= 0");
  auto bind_key = [](SQLite::Statement& s, const key& k) {
    const auto& [level, tenant, dim, day, value] = k;
    s.reset();
    s.bind(1, tenant);
    s.bind(2, std::string(to_string(dim)));
    s.bind(3, std::string(to_string(level)));
    s.bind(4, day);
    s.bind(5, value);
  };
  for (const auto& [k, t] : d) {
    if (t.empty()) continue;
    bind_key(up, k);
    for (int i = 0; i < k_ncols; ++i) up.bind(6 + i, t.*(k_columns[i].member));
    for (int i = 0; i <= 10; ++i) up.bind(6 + k_ncols + i, t.nps_hist[static_cast<std::size_t>(i)]);
    up.exec();
    if (t.tickets < 0) {
      bind_key(del, k);
      del.exec();
    }
  }
}

void clear(SQLite::Database& db, const std::string& tenant) {
  SQLite::Statement del(db, "DELETE FROM metric_rollups WHERE tenant = ?");
  del.bind(1, tenant);
  del.exec();
}

std::int64_t read(SQLite::Database& db, const std::string& tenant, dimension by, period per, const rollup_span& s,
                  sums& acc) {
  SQLite::Statement q(db, "SELECT value, day, " + column_list() +
                              " FROM metric_rollups WHERE tenant = ? AND dim = ? AND level = ? AND day BETWEEN ? AND ?");
  q.bind(1, tenant);
  q.bind(2, std::string(to_string(by)));
  q.bind(3, std::string(to_string(s.level)));
  q.bind(4, s.from);
  q.bind(5, s.to);
  std::int64_t n = 0;
  while (q.executeStep()) {
    acc[{q.getColumn(0).getString(), period_start(q.getColumn(1).getInt64(), per)}] += read_tally(q, 2);
    ++n;
  }
  return n;
}

}  // namespace rollup_detail
}  // namespace closeloop::monitor
