// The rollup levels of monitoring (plugin/src/monitor/rollups.*): the plan that reads whole months
// and weeks where a report's period allows, answers equal to the daily level's and to a full scan
// across week and month boundaries, late facts and corrections reaching every level, and
// migration 9 filling the weekly and monthly levels from existing daily rows.
#include <algorithm>
#include <random>

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include "monitor/facts.hpp"
#include "monitor/rollups.hpp"
#include "store_test_support.hpp"

using namespace closeloop;
using namespace closeloop::monitor;
using store_test::temp_dir;

namespace {

std::int64_t day(const char* s) { return *parse_day(s); }

std::string show(const std::vector<rollup_span>& plan) {
  std::string s;
  for (const auto& p : plan)
    s += std::string(to_string(p.level)) + " " + day_string(p.from) + ".." + day_string(p.to) + "; ";
  return s;
}

// 3000 tickets from 2026-01-15 (a Thursday) to 2026-05-10 (a Sunday): across four month ends,
// February included, and weeks that straddle them. Fixed seed; segments with few tickets too.
std::vector<fact> spread_data_set() {
  std::mt19937 rng(7);
  const std::int64_t first = day("2026-01-15"), days = day("2026-05-10") - first + 1;
  const char* kinds[] = {"csat", "nps", "ces", "csat"};
  const char* sentiments[] = {"positive", "neutral", "negative", ""};
  std::vector<fact> out;
  for (int i = 0; i < 3000; ++i) {
    fact f;
    f.tenant = "acme";
    f.host = i % 3 == 0 ? "rt" : "zendesk";
    f.ticket_id = std::to_string(i);
    f.day = first + static_cast<std::int64_t>(rng() % static_cast<unsigned>(days));
    f.solved = rng() % 10 != 0;
    f.reopens = rng() % 7 == 0 ? 1 + static_cast<int>(rng() % 2) : 0;
    if (rng() % 5 != 0) f.first_response_s = static_cast<std::int64_t>(30 + rng() % 5000);
    if (f.solved) f.resolution_s = static_cast<std::int64_t>(600 + rng() % 100000);
    f.agent = "agent-" + std::to_string(rng() % 9);
    f.group = rng() % 4 == 0 ? "" : "group-" + std::to_string(rng() % 3);
    f.category = "cat-" + std::to_string(rng() % 5);
    f.channel = rng() % 2 == 0 ? "email" : "chat";
    f.language = rng() % 3 == 0 ? "zh-CN" : "en";
    f.tier = i == 17 ? "platinum" : rng() % 2 == 0 ? "free" : "pro";  // one ticket alone in its tier
    f.sentiment = sentiments[rng() % 4];
    if (rng() % 4 != 0) {
      f.surveyed = true;
      f.kind = kinds[rng() % 4];
      if (rng() % 5 != 0) {
        f.score = f.kind == "nps" ? static_cast<int>(rng() % 11) : f.kind == "ces" ? 1 + static_cast<int>(rng() % 7)
                                                                              : 1 + static_cast<int>(rng() % 5);
      }
    }
    out.push_back(f);
  }
  return out;
}

// Ranges that start and end inside weeks and months, on their edges, and cover none or several.
const std::vector<std::pair<const char*, const char*>>& ranges() {
  static const std::vector<std::pair<const char*, const char*>> r{
      {"2026-01-01", "2026-12-31"},  // everything, whole months around it
      {"2026-01-15", "2026-05-10"},  // exactly the data
      {"2026-01-20", "2026-04-08"},  // mid-week to mid-week, across three month ends
      {"2026-02-01", "2026-02-28"},  // one whole month (February starts on a Sunday)
      {"2026-02-23", "2026-03-08"},  // two whole weeks straddling a month end
      {"2026-03-04", "2026-03-04"},  // one day
      {"2026-03-30", "2026-04-05"},  // one week across a month end
      {"2026-04-01", "2026-04-30"},  // one month starting mid-week
      {"2025-06-01", "2026-02-10"},  // a range that starts before the data
  };
  return r;
}

void check_same(const std::vector<report_row>& a, const std::vector<report_row>& b, const std::string& what) {
  INFO(what);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].segment == b[i].segment);
    CHECK(a[i].period_start == b[i].period_start);
    CHECK(a[i].t == b[i].t);
  }
}

// Every report over ranges() × dimensions × periods: rollups (planned) == daily level == full scan.
void check_all_answers(monitor_db& m) {
  for (const auto& [from, to] : ranges())
    for (dimension by : all_dimensions())
      for (period per : {period::day, period::week, period::month, period::all}) {
        report_query q{"acme", by, per, day(from), day(to)};
        const std::string what = std::string(from) + ".." + to + " by " + std::string(to_string(by)) + " per " +
                                 std::string(to_string(per));
        auto planned = m.query(q);
        q.daily_only = true;
        auto daily = m.query(q);
        auto scan = m.query_full_scan(q);
        REQUIRE(planned);
        REQUIRE(daily);
        REQUIRE(scan);
        check_same(*planned, *daily, what + " (planned vs daily)");
        check_same(*planned, *scan, what + " (planned vs full scan)");
      }
}

// Every rollup row of every level, in key order, as text.
std::vector<std::string> rollup_rows(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  std::vector<std::string> out;
  SQLite::Statement q(db, "SELECT * FROM metric_rollups ORDER BY tenant, dim, level, day, value");
  while (q.executeStep()) {
    std::string row;
    for (int i = 0; i < q.getColumnCount(); ++i) row += "|" + q.getColumn(i).getString();
    out.push_back(std::move(row));
  }
  return out;
}

std::int64_t count(const std::string& path, const std::string& sql) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  return db.execAndGet(sql).getInt64();
}

}  // namespace

TEST_CASE("monitor rollups: the plan reads whole months and weeks where the period allows", "[unit][monitor]") {
  using L = rollup_level;
  const std::int64_t from = day("2025-11-24"), to = day("2026-11-23");  // the benchmark's year
  const std::vector<rollup_span> year_all{{L::week, day("2025-11-24"), day("2025-11-30")},
                                          {L::month, day("2025-12-01"), day("2026-10-31")},
                                          {L::day, day("2026-11-01"), day("2026-11-01")},
                                          {L::week, day("2026-11-02"), day("2026-11-22")},
                                          {L::day, day("2026-11-23"), day("2026-11-23")}};
  CHECK(show(plan_rollups(from, to, period::all)) == show(year_all));
  // By month: the same, since the edges each lie inside one month.
  CHECK(show(plan_rollups(from, to, period::month)) == show(year_all));
  // By week: never a month (it would straddle weeks).
  const std::vector<rollup_span> year_week{{L::week, day("2025-11-24"), day("2026-11-22")},
                                           {L::day, day("2026-11-23"), day("2026-11-23")}};
  CHECK(show(plan_rollups(from, to, period::week)) == show(year_week));
  CHECK(show(plan_rollups(from, to, period::day)) == show({{L::day, from, to}}));
  CHECK(show(plan_rollups(from, to, period::all, true)) == show({{L::day, from, to}}));
  // By month over a range without a whole month: a week straddling Nov/Dec is not used.
  CHECK(show(plan_rollups(day("2026-11-20"), day("2026-12-10"), period::month)) ==
        show({{L::day, day("2026-11-20"), day("2026-12-10")}}));
  CHECK(plan_rollups(to, from, period::all).empty());

  // Any range, any period: the spans tile it exactly once, each holds whole buckets of its level,
  // and each bucket lies inside one period of the report.
  std::mt19937 rng(11);
  for (int i = 0; i < 4000; ++i) {
    const std::int64_t a = day("2023-12-20") + static_cast<std::int64_t>(rng() % 1200);
    const std::int64_t b = a + static_cast<std::int64_t>(rng() % (i % 2 ? 40 : 900));
    for (period per : {period::day, period::week, period::month, period::all}) {
      const auto plan = plan_rollups(a, b, per);
      INFO(day_string(a) << ".." << day_string(b) << " per " << to_string(per) << ": " << show(plan));
      REQUIRE_FALSE(plan.empty());
      std::int64_t next = a;
      std::vector<rollup_span> sorted = plan;
      std::sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) { return x.from < y.from; });
      for (const auto& s : sorted) {
        REQUIRE(s.from == next);
        REQUIRE(s.to >= s.from);
        next = s.to + 1;
        if (s.level == L::day) continue;
        const period lp = s.level == L::week ? period::week : period::month;
        for (std::int64_t start = s.from; start <= s.to; start = period_end(start, lp)) {
          REQUIRE(period_start(start, lp) == start);
          const std::int64_t last = period_end(start, lp) - 1;
          REQUIRE(last <= s.to);
          REQUIRE(period_start(start, per) == period_start(last, per));
        }
      }
      REQUIRE(next == b + 1);
    }
  }
}

TEST_CASE("monitor rollups: weekly and monthly levels answer like the daily level across boundaries",
          "[unit][monitor]") {
  temp_dir dir;
  const std::string path = dir.file("m.db");
  auto s = store_test::open_store(path);
  auto m = monitor_db::open(path);
  REQUIRE(m);
  const auto facts = spread_data_set();
  for (std::size_t i = 0; i < facts.size(); i += 700)  // several transactions, like refresh()
    REQUIRE((*m)->put_facts(std::vector<fact>(facts.begin() + static_cast<long>(i),
                                              facts.begin() + static_cast<long>(std::min(i + 700, facts.size())))));
  check_all_answers(**m);
  // The coarser levels hold fewer rows: that is what makes a year's report cheap.
  const auto daily = count(path, "SELECT COUNT(*) FROM metric_rollups WHERE dim = 'all' AND level = 'day'");
  const auto weekly = count(path, "SELECT COUNT(*) FROM metric_rollups WHERE dim = 'all' AND level = 'week'");
  const auto monthly = count(path, "SELECT COUNT(*) FROM metric_rollups WHERE dim = 'all' AND level = 'month'");
  CHECK(daily == day("2026-05-10") - day("2026-01-15") + 1);
  CHECK(weekly == 17);  // the weeks of 2026-01-12 .. 2026-05-04
  CHECK(monthly == 5);
  // Totals of one month read from the monthly level equal the sum of its facts.
  tally feb;
  for (const auto& f : facts)
    if (f.day >= day("2026-02-01") && f.day <= day("2026-02-28")) feb.add(f);
  auto r = (*m)->query({"acme", dimension::all, period::all, day("2026-02-01"), day("2026-02-28")});
  REQUIRE(r->size() == 1);
  CHECK(r->front().t == feb);
}

TEST_CASE("monitor rollups: late facts and corrections update every level", "[unit][monitor]") {
  temp_dir dir;
  const std::string path = dir.file("m.db");
  auto s = store_test::open_store(path);
  auto m = monitor_db::open(path);
  REQUIRE(m);
  auto facts = spread_data_set();
  REQUIRE((*m)->put_facts(facts));

  // A late fact for a past day in a closed month and week.
  fact late = facts[5];
  late.ticket_id = "late-1";
  late.day = day("2026-02-27");
  late.agent = "agent-late";
  late.kind = "nps", late.surveyed = true, late.score = 10;
  // A correction: the ticket alone in tier "platinum" moves from its day to another month, another
  // agent and another answer; its old contribution must leave every level.
  fact moved = facts[17];
  REQUIRE(moved.tier == "platinum");
  moved.day = moved.day >= day("2026-03-01") ? day("2026-01-31") : day("2026-04-02");
  moved.agent = "agent-8";
  moved.tier = "gold";
  moved.kind = "csat", moved.surveyed = true, moved.score = 1;
  REQUIRE((*m)->put_facts({late, moved}));

  for (const std::string level : {"day", "week", "month"}) {
    INFO(level);
    const std::string rows = "FROM metric_rollups WHERE level = '" + level + "' AND ";
    CHECK(count(path, "SELECT COUNT(*) " + rows + "dim = 'tier' AND value = 'platinum'") == 0);
    CHECK(count(path, "SELECT COUNT(*) " + rows + "tickets <= 0") == 0);
    CHECK(count(path, "SELECT SUM(tickets) " + rows + "dim = 'agent' AND value = 'agent-late'") == 1);
    CHECK(count(path, "SELECT SUM(tickets) " + rows + "dim = 'all'") == 3001);
  }
  CHECK(count(path, "SELECT h10 FROM metric_rollups WHERE level = 'month' AND dim = 'agent' AND value = 'agent-late'") ==
        1);
  CHECK(count(path, "SELECT day FROM metric_rollups WHERE level = 'week' AND dim = 'agent' AND value = 'agent-late'") ==
        day("2026-02-23"));
  check_all_answers(**m);

  // A second correction back to the first fact restores the first state at every level.
  const auto after = rollup_rows(path);
  REQUIRE((*m)->put_facts({facts[17]}));
  REQUIRE((*m)->put_facts({moved}));
  CHECK(rollup_rows(path) == after);
  // And rebuilding every level from the facts gives the same rows as keeping them in step.
  REQUIRE((*m)->rebuild_rollups("acme"));
  CHECK(rollup_rows(path) == after);
}

TEST_CASE("monitor rollups: migration 9 fills the weekly and monthly levels from the daily rows", "[unit][monitor]") {
  temp_dir dir;
  const std::string path = dir.file("m.db");
  std::vector<std::string> expected;
  {
    auto s = store_test::open_store(path);
    auto m = monitor_db::open(path);
    REQUIRE(m);
    auto facts = spread_data_set();
    for (auto& f : facts) f.day -= 800;  // 2023-11-07 .. 2024-03-01: across a leap February
    REQUIRE((*m)->put_facts(facts));
    expected = rollup_rows(path);
    // Back to what a version-8 file holds: the daily rows only, in metric_daily.
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec(
        "CREATE TABLE metric_daily AS SELECT tenant, dim, value, day, tickets, solved, reopened, surveyed, answered,"
        " csat_n, csat_good, nps_n, nps_pro, nps_det, ces_n, ces_sum, frt_n, frt_sum_s, res_n, res_sum_s, sent_pos,"
        " sent_neu, sent_neg, inf_n, inf_good, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10"
        " FROM metric_rollups WHERE level = 'day';"
        " DROP TABLE metric_rollups; DELETE FROM schema_migrations WHERE version >= 9");
  }
  REQUIRE(count(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'metric_rollups'") == 0);
  REQUIRE(count(path, "SELECT COUNT(*) FROM metric_daily") > 0);
  auto s = store_test::open_store(path);  // migrates 8 -> latest
  CHECK(rollup_rows(path) == expected);
  auto m = monitor_db::open(path);
  REQUIRE(m);
  auto r = (*m)->query({"acme", dimension::agent, period::month, day("2023-01-01"), day("2024-12-31")});
  auto scan = (*m)->query_full_scan({"acme", dimension::agent, period::month, day("2023-01-01"), day("2024-12-31")});
  REQUIRE(r);
  REQUIRE(scan);
  check_same(*r, *scan, "after migration 9");
  CHECK_FALSE(r->empty());
}
