// closeloop_bench_report: a report over N survey responses from the pre-aggregated rollups, against
// the same report computed by scanning every fact (the reference), in the same run.
//
//   closeloop_bench_report [--responses N] [--days D] [--runs R] [--db FILE]
//
// 1. Generates N answered surveys (csat 60 %, nps 25 %, ces 15 %) plus N/4 surveyed
//    non-responders over D days, 300 agents, 12 groups, 25 categories, 5 channels, 6 languages,
//    4 tiers (fixed seed), and writes them through monitor_db::put_facts in chunks of 50 000 —
//    the same path that keeps metric_daily in step — timing it.
// 2. Builds the full report (totals, the weekly trend, six segment dimensions) R times from the
//    rollups and R times from a full scan of ticket_facts; checks that both agree.
// 3. Prints one JSON line and one human line: median times, the ratio scan/rollup, goal 200 ms.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "closeloop/store.hpp"
#include "monitor/facts.hpp"
#include "monitor/report.hpp"

using namespace closeloop;
using namespace closeloop::monitor;
using clk = std::chrono::steady_clock;

namespace {

double ms_since(clk::time_point t0) { return std::chrono::duration<double, std::milli>(clk::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The report's eight queries, from the rollups or from the facts.
std::vector<std::vector<report_row>> run_report(monitor_db& db, const report_spec& s, bool scan) {
  std::vector<std::vector<report_row>> out;
  auto one = [&](dimension d, period p) {
    report_query q{s.tenant, d, p, s.from_day, s.to_day};
    auto r = scan ? db.query_full_scan(q) : db.query(q);
    if (!r) {
      std::fprintf(stderr, "query failed: %s\n", r.err().message.c_str());
      std::exit(1);
    }
    out.push_back(std::move(*r));
  };
  one(dimension::all, period::all);
  one(dimension::all, s.per);
  for (dimension d : s.segments) one(d, period::all);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  long responses = 1'000'000;
  int days = 365, runs = 5;
  std::string path;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--responses") responses = std::atol(argv[i + 1]);
    else if (a == "--days") days = std::atoi(argv[i + 1]);
    else if (a == "--runs") runs = std::atoi(argv[i + 1]);
    else if (a == "--db") path = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (responses < 1 || days < 1 || runs < 1) {
    std::fprintf(stderr, "--responses, --days and --runs must be positive\n");
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
  for (long i = 0; i < total; ++i) {
    fact f;
    f.tenant = "acme";
    f.host = "zendesk";
    f.ticket_id = std::to_string(i);
    f.day = first_day + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(days));
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
    if (i < responses) {
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

  report_spec spec;
  spec.tenant = "acme";
  spec.per = period::week;
  spec.from_day = first_day;
  spec.to_day = first_day + days - 1;

  // 2. measure
  std::vector<double> fast, slow;
  std::vector<std::vector<report_row>> a, b;
  for (int i = 0; i < runs; ++i) {
    auto t = clk::now();
    a = run_report(db, spec, false);
    fast.push_back(ms_since(t));
  }
  for (int i = 0; i < runs; ++i) {
    auto t = clk::now();
    b = run_report(db, spec, true);
    slow.push_back(ms_since(t));
  }
  // The whole report document (JSON) as the API and CLI build it, from the rollups.
  std::vector<double> doc;
  for (int i = 0; i < runs; ++i) {
    auto t = clk::now();
    auto r = build_report(db, spec);
    if (!r) return 1;
    doc.push_back(ms_since(t));
  }
  bool same = a.size() == b.size();
  for (std::size_t i = 0; same && i < a.size(); ++i) {
    same = a[i].size() == b[i].size();
    for (std::size_t k = 0; same && k < a[i].size(); ++k)
      same = a[i][k].segment == b[i][k].segment && a[i][k].period_start == b[i][k].period_start && a[i][k].t == b[i][k].t;
  }
  const std::int64_t answered = a[0].empty() ? 0 : a[0][0].t.answered;
  std::size_t rollup_rows = 0;
  for (const auto& q : a) rollup_rows += q.size();
  const double f = median(fast), s = median(slow), d = median(doc);
  std::printf(
      "{\"bench\":\"report\",\"responses\":%lld,\"facts\":%ld,\"days\":%d,\"runs\":%d,\"load_facts_per_s\":%.0f,"
      "\"report_rollup_ms\":%.2f,\"report_document_ms\":%.2f,\"report_full_scan_ms\":%.2f,\"ratio_scan_over_rollup\":%.1f,"
      "\"result_rows\":%zu,\"same_answer\":%s,\"goal_ms\":200,\"goal_met\":%s}\n",
      static_cast<long long>(answered), total, days, runs, total / (load_ms / 1000), f, d, s, s / f, rollup_rows,
      same ? "true" : "false", d <= 200 ? "true" : "false");
  std::printf("report over %lld responses: %.1f ms from rollups (%.1f ms as the JSON document), %.1f ms by full scan "
              "(ratio %.1fx); same answer: %s; goal <= 200 ms: %s\n",
              static_cast<long long>(answered), f, d, s, s / f, same ? "yes" : "NO", d <= 200 ? "met" : "NOT met");
  st->reset();
  mdb->reset();
  if (own_file) {
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
  }
  return same && answered == responses ? 0 : 1;
}
