// closeloop_bench_report: a report over N survey responses from the pre-aggregated rollups, against
// the same report computed by scanning every fact (the reference), in the same run.
//
//   closeloop_bench_report [--responses N] [--days D] [--runs R] [--runs-scan S] [--db FILE]
//
// 1. Generates N answered surveys (csat 60 %, nps 25 %, ces 15 %) plus N/4 surveyed
//    non-responders (every fifth ticket) over D days, in the order a helpdesk solves them (day by
//    day), 300 agents, 12 groups, 25 categories, 5 channels, 6 languages, 4 tiers (fixed seed), and
//    writes them through monitor_db::put_facts in chunks of 50 000 — the same path that keeps the
//    daily, weekly and monthly rollups in step — timing it.
// 2. Builds the full report (totals, the weekly trend, six segment dimensions = 8 queries) R times
//    as planned (months, weeks, edge days), R times from the daily rollups only (the design before
//    the coarser levels), R times as the JSON document the API builds, and S times by a full scan
//    of ticket_facts; checks that all answers agree tally by tally and counts the rollup rows read.
// 3. Prints one JSON line and one human line: median times, the ratios, goal 200 ms (the document).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "closeloop/store.hpp"
#include "monitor/facts.hpp"
#include "monitor/report.hpp"
#include "monitor/rollups.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

using namespace closeloop;
using namespace closeloop::monitor;
using clk = std::chrono::steady_clock;

namespace {

double ms_since(clk::time_point t0) { return std::chrono::duration<double, std::milli>(clk::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

enum class way { planned, daily, scan };

// The report's eight queries (what build_report asks), from the rollups or from the facts.
std::vector<report_query> report_queries(const report_spec& s) {
  std::vector<report_query> qs{{s.tenant, dimension::all, period::all, s.from_day, s.to_day},
                               {s.tenant, dimension::all, s.per, s.from_day, s.to_day}};
  for (dimension d : s.segments) qs.push_back({s.tenant, d, period::all, s.from_day, s.to_day});
  return qs;
}

std::vector<std::vector<report_row>> run_report(monitor_db& db, const report_spec& s, way w) {
  std::vector<std::vector<report_row>> out;
  for (report_query q : report_queries(s)) {
    q.daily_only = w == way::daily;
    auto r = w == way::scan ? db.query_full_scan(q) : db.query(q);
    if (!r) {
      std::fprintf(stderr, "query failed: %s\n", r.err().message.c_str());
      std::exit(1);
    }
    out.push_back(std::move(*r));
  }
  return out;
}

// How many rollup rows the report reads (planned, or daily only).
std::int64_t rows_read(monitor_db& db, const report_spec& s, bool daily_only) {
  auto lk = db.lock();
  std::int64_t n = 0;
  for (const auto& q : report_queries(s))
    for (const auto& span : plan_rollups(q.from_day, q.to_day, q.per, daily_only)) {
      SQLite::Statement c(db.db(),
                          "SELECT COUNT(*) FROM metric_rollups WHERE tenant = ? AND dim = ? AND level = ? AND day BETWEEN ? AND ?");
      c.bind(1, q.tenant);
      c.bind(2, std::string(to_string(q.by)));
      c.bind(3, std::string(to_string(span.level)));
      c.bind(4, span.from);
      c.bind(5, span.to);
      if (c.executeStep()) n += c.getColumn(0).getInt64();
    }
  return n;
}

bool same_answer(const std::vector<std::vector<report_row>>& a, const std::vector<std::vector<report_row>>& b) {
  bool same = a.size() == b.size();
  for (std::size_t i = 0; same && i < a.size(); ++i) {
    same = a[i].size() == b[i].size();
    for (std::size_t k = 0; same && k < a[i].size(); ++k)
      same = a[i][k].segment == b[i][k].segment && a[i][k].period_start == b[i][k].period_start && a[i][k].t == b[i][k].t;
  }
  return same;
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace

int main(int argc, char** argv) {
  long responses = 1'000'000;
  int days = 365, runs = 5, runs_scan = 1;
  std::string path;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--responses") responses = std::atol(argv[i + 1]);
    else if (a == "--days") days = std::atoi(argv[i + 1]);
    else if (a == "--runs") runs = std::atoi(argv[i + 1]);
    else if (a == "--runs-scan") runs_scan = std::atoi(argv[i + 1]);
    else if (a == "--db") path = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (responses < 1 || days < 1 || runs < 1 || runs_scan < 1) {
    std::fprintf(stderr, "--responses, --days, --runs and --runs-scan must be positive\n");
    return 2;
  }
  bool own_file = path.empty();
  if (own_file) path = (std::filesystem::temp_directory_path() / ("closeloop-bench-report-" + std::to_string(::getpid()) + ".db")).string();
  std::filesystem::remove(path);
  auto st = store::open(store_options{path, 512, false});
  if (!st) {
    std::fprintf(stderr, "store: %s\n", st.err().message.c_str());
    return 1;
  }
  auto mdb = monitor_db::open(path);
  if (!mdb) {
    std::fprintf(stderr, "monitor: %s\n", mdb.err().message.c_str());
    return 1;
  }
  monitor_db& db = **mdb;

  // 1. data
  std::mt19937_64 rng(20261122);
  const std::int64_t first_day = *parse_day("2025-11-24");
  const long non_responders = responses / 4;
  const long total = responses + non_responders;
  const char* channels[] = {"email", "web", "chat", "phone", "api"};
  const char* languages[] = {"en", "zh-CN", "zh-TW", "de", "fr", "ja"};
  const char* tiers[] = {"free", "pro", "business", "enterprise"};
  const char* sentiments[] = {"positive", "neutral", "negative"};
  auto t0 = clk::now();
  std::vector<fact> chunk;
  chunk.reserve(50'000);
  long answered_so_far = 0;
  for (long i = 0; i < total; ++i) {
    fact f;
    f.tenant = "acme";
    f.host = "zendesk";
    f.ticket_id = std::to_string(i);
    // Day by day, as a helpdesk solves tickets: ticket i on day i * D / total.
    f.day = first_day + static_cast<std::int64_t>(i * static_cast<long>(days) / total);
    f.solved = true;
    f.reopens = rng() % 12 == 0 ? 1 : 0;
    f.first_response_s = static_cast<std::int64_t>(60 + rng() % 7200);
    f.resolution_s = static_cast<std::int64_t>(600 + rng() % 259200);
    f.agent = "agent-" + std::to_string(rng() % 300);
    f.group = "group-" + std::to_string(rng() % 12);
    f.category = "category-" + std::to_string(rng() % 25);
    f.channel = channels[rng() % 5];
    f.language = languages[rng() % 6];
    f.tier = tiers[rng() % 4];
    f.sentiment = sentiments[rng() % 3];
    f.surveyed = true;
    // Every fifth ticket is a surveyed non-responder, until there are N / 4 of them.
    const bool responder = answered_so_far < responses && (i % 5 != 4 || i - answered_so_far >= non_responders);
    if (responder) {
      ++answered_so_far;
      const auto k = rng() % 100;
      if (k < 60) f.kind = "csat", f.score = static_cast<int>(1 + rng() % 5);
      else if (k < 85) f.kind = "nps", f.score = static_cast<int>(rng() % 11);
      else f.kind = "ces", f.score = static_cast<int>(1 + rng() % 7);
    } else {
      f.kind = "csat";
    }
    chunk.push_back(std::move(f));
    if (chunk.size() == 50'000 || i + 1 == total) {
      if (auto r = db.put_facts(chunk); !r) {
        std::fprintf(stderr, "put_facts: %s\n", r.err().message.c_str());
        return 1;
      }
      chunk.clear();
    }
  }
  const double load_ms = ms_since(t0);
  std::fprintf(stderr, "loaded %ld facts (%ld responses) in %.1f s: %.0f facts/s with rollups kept in step\n", total,
               responses, load_ms / 1000, total / (load_ms / 1000));

  // 2. measure
  report_spec spec;
  spec.tenant = "acme";
  spec.per = period::week;
  spec.from_day = first_day;
  spec.to_day = first_day + days - 1;
  const std::string load_before = load_average();
  auto timed = [&](int n, auto&& fn) {
    std::vector<double> v;
    for (int i = 0; i < n; ++i) {
      auto t = clk::now();
      fn();
      v.push_back(ms_since(t));
    }
    return median(v);
  };
  std::vector<std::vector<report_row>> planned, daily, scanned;
  const double f = timed(runs, [&] { planned = run_report(db, spec, way::planned); });
  const double dd = timed(runs, [&] { daily = run_report(db, spec, way::daily); });
  // The whole report document (JSON) as the API and CLI build it, from the rollups.
  const double d = timed(runs, [&] {
    if (auto r = build_report(db, spec); !r) {
      std::fprintf(stderr, "build_report: %s\n", r.err().message.c_str());
      std::exit(1);
    }
  });
  const double s = timed(runs_scan, [&] { scanned = run_report(db, spec, way::scan); });
  const std::string load_after = load_average();
  const bool same = same_answer(planned, scanned) && same_answer(planned, daily);
  const std::int64_t answered = planned[0].empty() ? 0 : planned[0][0].t.answered;
  std::size_t result_rows = 0;
  for (const auto& q : planned) result_rows += q.size();
  const std::int64_t rows_planned = rows_read(db, spec, false), rows_daily = rows_read(db, spec, true);
  std::printf(
      "{\"bench\":\"report\",\"responses\":%lld,\"facts\":%ld,\"days\":%d,\"runs\":%d,\"runs_scan\":%d,"
      "\"load_facts_per_s\":%.0f,\"report_rollup_ms\":%.2f,\"report_daily_only_ms\":%.2f,\"report_document_ms\":%.2f,"
      "\"report_full_scan_ms\":%.2f,\"ratio_scan_over_rollup\":%.1f,\"ratio_daily_over_rollup\":%.1f,"
      "\"rollup_rows_read\":%lld,\"daily_rows_read\":%lld,\"result_rows\":%zu,\"same_answer\":%s,"
      "\"loadavg_before\":\"%s\",\"loadavg_after\":\"%s\",\"goal_ms\":200,\"goal_met\":%s}\n",
      static_cast<long long>(answered), total, days, runs, runs_scan, total / (load_ms / 1000), f, dd, d, s, s / f,
      dd / f, static_cast<long long>(rows_planned), static_cast<long long>(rows_daily), result_rows,
      same ? "true" : "false", load_before.c_str(), load_after.c_str(), d <= 200 ? "true" : "false");
  std::printf(
      "report over %lld responses: %.1f ms from rollups (%.1f ms as the JSON document; %lld rollup rows read), "
      "%.1f ms from daily rollups only (%lld rows), %.1f ms by full scan (ratio scan/rollups %.1fx, daily/rollups "
      "%.1fx); same answer: %s; goal <= 200 ms: %s\n",
      static_cast<long long>(answered), f, d, static_cast<long long>(rows_planned), dd,
      static_cast<long long>(rows_daily), s, s / f, dd / f, same ? "yes" : "NO", d <= 200 ? "met" : "NOT met");
  st->reset();
  mdb->reset();
  if (own_file) {
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
  }
  return same && answered == responses ? 0 : 1;
}
