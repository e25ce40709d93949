// closeloop report / closeloop alerts (monitor.hpp).
#include "cli/monitor.hpp"

#include <fstream>
#include <iostream>

#include "cli/commands.hpp"
#include "closeloop/audit.hpp"
#include "closeloop/store.hpp"
#include "monitor/service.hpp"
#include "server/monitoring.hpp"
#include "server/services.hpp"

namespace closeloop::cli {

using namespace closeloop::monitor;

void add_monitor_commands(CLI::App& app, monitor_commands& c) {
  auto common = [&](CLI::App* s) {
    s->add_option("-c,--config", c.config_path, "Configuration file (JSON)")->required();
    s->add_option("--db", c.db_path, "SQLite database file instead of the configured one");
    s->add_option("--tenant", c.tenant, "Tenant id")->required();
  };
  c.report = app.add_subcommand("report", "Satisfaction report (CSAT, NPS, CES, rates, times, segments) as HTML, JSON or CSV");
  common(c.report);
  c.report->add_option("--period", c.period, "Trend by day, week or month (default week)")
      ->check(CLI::IsMember({"day", "week", "month"}));
  c.report->add_option("--from", c.from, "First day (YYYY-MM-DD; default: 12 periods back)");
  c.report->add_option("--to", c.to, "Last day (YYYY-MM-DD; default today)");
  c.report->add_option("--format", c.format, "html (default), json or csv")->check(CLI::IsMember({"html", "json", "csv"}));
  c.report->add_option("--out", c.out, "Write to this file instead of standard output");

  auto* alerts = app.add_subcommand("alerts", "Satisfaction alerts: list, acknowledge, suggest thresholds, evaluate now");
  alerts->require_subcommand(1);
  c.list = alerts->add_subcommand("list", "The tenant's alerts, newest first");
  common(c.list);
  c.list->add_option("--status", c.status, "open, acknowledged or resolved")
      ->check(CLI::IsMember({"open", "acknowledged", "resolved"}));
  c.list->add_flag("--json", c.json_out, "JSON instead of text");
  c.ack = alerts->add_subcommand("ack", "Acknowledge an alert (recorded in the audit log)");
  common(c.ack);
  c.ack->add_option("--id", c.id, "Alert id")->required();
  c.ack->add_option("--by", c.by, "Who acknowledges (default: the login name)");
  c.suggest = alerts->add_subcommand("suggest", "Thresholds suggested from history, to confirm into monitoring.alerts");
  common(c.suggest);
  c.suggest->add_option("--metric", c.metric, "One metric (default csat, nps, ces, response_rate, reopen_rate)");
  c.suggest->add_option("--by", c.segment_by, "Segment dimension (default all)");
  c.suggest->add_option("--value", c.segment_value, "Segment value");
  c.suggest->add_option("--window-days", c.window_days, "Window length (default 7)")->check(CLI::Range(1, 366));
  c.suggest->add_option("--windows", c.windows, "Windows of history (default 12)")->check(CLI::Range(3, 104));
  c.suggest->add_option("--min-sample", c.min_sample, "Windows with fewer answers are ignored (default 30)");
  c.evaluate = alerts->add_subcommand("evaluate", "Bring the figures up to date and evaluate the tenant's rules now (delivers)");
  common(c.evaluate);
}

namespace {

std::string login_actor() {
  const char* user = std::getenv("USER");
  return std::string("cli:") + (user && *user ? user : "unknown");
}

struct opened {
  config cfg;
  std::unique_ptr<store> st;
  std::unique_ptr<monitor_db> db;
};

std::optional<opened> open_all(const monitor_commands& c, const char* cmd) {
  auto cfg = load_or_report(c.config_path);
  if (!cfg) return std::nullopt;
  if (!cfg->find_tenant(c.tenant)) {
    std::cerr << "closeloop " << cmd << ": --tenant: \"" << c.tenant << "\" is not in " << c.config_path << "\n";
    return std::nullopt;
  }
  store_options so;
  so.path = c.db_path.empty() ? cfg->store.path : c.db_path;
  auto st = store::open(so);  // creates/migrates the monitoring tables of an older file
  if (!st) {
    std::cerr << "closeloop " << cmd << ": " << st.err().message << "\n";
    return std::nullopt;
  }
  auto db = monitor_db::open(so.path);
  if (!db) {
    std::cerr << "closeloop " << cmd << ": " << db.err().message << "\n";
    return std::nullopt;
  }
  // The figures include every event stored so far.
  for (;;) {
    auto n = (*db)->refresh(20000);
    if (!n) {
      std::cerr << "closeloop " << cmd << ": " << n.err().message << "\n";
      return std::nullopt;
    }
    if (*n == 0) break;
  }
  opened o{std::move(*cfg), std::move(*st), std::move(*db)};
  return o;
}

void audit_cli(const monitor_commands& c, const std::string& action, const std::string& target, const json& detail) {
  const std::string path = c.db_path.empty() ? load_or_report(c.config_path)->store.path : c.db_path;
  auto al = audit_log::open(path);
  if (!al) return;
  if (auto r = (*al)->append(login_actor(), c.tenant, action, target, detail); !r)
    std::cerr << "closeloop: WARNING: not recorded in the audit log: " << r.err().message << "\n";
}

int run_report(const monitor_commands& c) {
  auto o = open_all(c, "report");
  if (!o) return 2;
  report_spec spec;
  spec.tenant = c.tenant;
  spec.per = *period_from_string(c.period);
  const std::int64_t today = day_of(std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
  spec.to_day = today;
  if (!c.to.empty()) {
    auto d = parse_day(c.to);
    if (!d) {
      std::cerr << "closeloop report: --to: " << d.err().message << "\n";
      return 2;
    }
    spec.to_day = *d;
  }
  if (!c.from.empty()) {
    auto d = parse_day(c.from);
    if (!d) {
      std::cerr << "closeloop report: --from: " << d.err().message << "\n";
      return 2;
    }
    spec.from_day = *d;
  } else {
    spec.from_day = spec.per == period::day ? spec.to_day - 29 : period_start(spec.to_day, spec.per);
    for (int i = 0; spec.per != period::day && i < 11; ++i) spec.from_day = period_start(spec.from_day - 1, spec.per);
  }
  auto doc = build_report(*o->db, spec);
  if (!doc) {
    std::cerr << "closeloop report: " << doc.err().message << "\n";
    return 2;
  }
  std::string text = c.format == "json" ? doc->dump(2) + "\n" : c.format == "csv" ? report_csv(*doc) : report_html(*doc, "");
  if (c.out.empty()) {
    std::cout << text;
  } else {
    std::ofstream f(c.out, std::ios::binary);
    f << text;
    if (!f) {
      std::cerr << "closeloop report: cannot write " << c.out << "\n";
      return 1;
    }
    std::cerr << "closeloop report: " << c.tenant << " " << (*doc)["from"].get<std::string>() << ".."
              << (*doc)["to"].get<std::string>() << " written to " << c.out << "\n";
  }
  audit_cli(c, "report.export", "report", {{"from", (*doc)["from"]}, {"to", (*doc)["to"]}, {"format", c.format}, {"via", "cli"}});
  return 0;
}

int run_list(const monitor_commands& c) {
  auto o = open_all(c, "alerts list");
  if (!o) return 2;
  auto rows = list_alerts(*o->db, c.tenant, c.status, 500);
  if (!rows) {
    std::cerr << "closeloop alerts list: " << rows.err().message << "\n";
    return 1;
  }
  if (c.json_out) {
    json list = json::array();
    for (const auto& a : *rows) list.push_back(to_json(a));
    std::cout << list.dump(2) << "\n";
    return 0;
  }
  if (rows->empty()) std::cout << "no alerts for " << c.tenant << "\n";
  for (const auto& a : *rows)
    std::cout << "#" << a.id << "  " << a.level << "  " << a.status << "  " << a.rule << "  owner "
              << (a.owner.empty() ? "(none)" : a.owner) << "  " << a.detail.value("summary", "")
              << (a.acked_by.empty() ? "" : "  acknowledged by " + a.acked_by) << "\n";
  return 0;
}

int run_ack(const monitor_commands& c) {
  auto o = open_all(c, "alerts ack");
  if (!o) return 2;
  const std::string by = c.by.empty() ? login_actor() : c.by;
  auto a = ack_alert(*o->db, c.tenant, c.id, by,
                     std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
  if (!a) {
    std::cerr << "closeloop alerts ack: " << a.err().message << "\n";
    return a.err().code == errc::not_found ? 2 : 1;
  }
  audit_cli(c, "alert.ack", "alert:" + std::to_string(c.id), {{"by", by}, {"rule", a->rule}, {"level", a->level}, {"via", "cli"}});
  std::cout << "alert #" << a->id << " " << a->status << " by " << a->acked_by << "\n";
  return 0;
}

int run_suggest(const monitor_commands& c) {
  auto d = dimension_from_string(c.segment_by);
  if (!d) {
    std::cerr << "closeloop alerts suggest: --by: one of all, agent, group, category, channel, language, tier\n";
    return 2;
  }
  if (!c.metric.empty() && !is_metric(c.metric)) {
    std::cerr << "closeloop alerts suggest: --metric: unknown \"" << c.metric << "\"\n";
    return 2;
  }
  auto o = open_all(c, "alerts suggest");
  if (!o) return 2;
  const std::int64_t last =
      day_of(std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now())) - 1;
  auto w = window_tallies(*o->db, c.tenant, *d, c.segment_value, last, c.window_days, c.windows);
  if (!w) {
    std::cerr << "closeloop alerts suggest: " << w.err().message << "\n";
    return 1;
  }
  std::vector<std::string> metrics =
      c.metric.empty() ? std::vector<std::string>{"csat", "nps", "ces", "response_rate", "reopen_rate"}
                       : std::vector<std::string>{c.metric};
  std::cout << suggest_thresholds(*w, metrics, c.min_sample).dump(2) << "\n";
  return 0;
}

int run_evaluate(const monitor_commands& c) {
  auto o = open_all(c, "alerts evaluate");
  if (!o) return 2;
  auto svc = server::services::create(o->cfg, /*open_store=*/false);  // adapters for host notes
  if (!svc) {
    std::cerr << "closeloop alerts evaluate: " << svc.err().message << "\n";
    return 2;
  }
  const auto* mc = (*svc)->monitoring(c.tenant);
  const timestamp now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  auto r = evaluate_alerts(*o->db, c.tenant, *mc, now, server::monitoring::host_note_for(**svc, c.tenant));
  for (const auto& l : r.log) std::cout << l << "\n";
  std::cout << r.raised << " raised, " << r.resolved << " resolved, " << r.delivery_failures << " delivery failure(s)\n";
  return r.delivery_failures > 0 ? 1 : 0;
}

}  // namespace

std::optional<int> run_monitor_commands(const monitor_commands& c) {
  if (c.report && *c.report) return run_report(c);
  if (c.list && *c.list) return run_list(c);
  if (c.ack && *c.ack) return run_ack(c);
  if (c.suggest && *c.suggest) return run_suggest(c);
  if (c.evaluate && *c.evaluate) return run_evaluate(c);
  return std::nullopt;
}

}  // namespace closeloop::cli
