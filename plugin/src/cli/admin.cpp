#include <filesystem>
#include <fstream>
#include <map>
#include <iostream>

#include "cli/commands.hpp"
#include "closeloop/audit.hpp"
#include "closeloop/category_model.hpp"
#include "closeloop/store.hpp"
#include "server/learning.hpp"
#include "server/services.hpp"

namespace closeloop::cli {

int run_migrate(const migrate_options& o) {
  auto cfg = load_or_report(o.config_path);
  if (!cfg) return 2;
  store_options so;
  so.path = o.db_path.empty() ? cfg->store.path : o.db_path;
  auto db = store::open(so);
  if (!db) {
    std::cerr << "closeloop migrate: " << db.err().message << "\n";
    return 1;
  }
  std::cout << "database " << so.path << " is at schema version " << (*db)->schema_version() << "\n";
  return 0;
}

int run_export(const export_options& o) {
  auto cfg = load_or_report(o.config_path);
  if (!cfg) return 2;
  if (!cfg->find_tenant(o.tenant)) {
    std::cerr << "closeloop export: --tenant: \"" << o.tenant << "\" is not in " << o.config_path << "\n";
    return 2;
  }
  store_options so;
  so.path = o.db_path.empty() ? cfg->store.path : o.db_path;
  auto db = store::open(so);
  if (!db) {
    std::cerr << "closeloop export: " << db.err().message << "\n";
    return 1;
  }
  server::export_options eo;
  eo.tenant = o.tenant;
  eo.task = o.task;
  eo.corrected_only = o.corrected_only;
  auto rows = server::export_learning_data(**db, eo);
  if (!rows) {
    std::cerr << "closeloop export: " << rows.err().message << "\n";
    return rows.err().code == errc::invalid_argument ? 2 : 1;
  }
  std::ofstream file;
  if (!o.out.empty()) {
    file.open(o.out, std::ios::trunc);
    if (!file) {
      std::cerr << "closeloop export: cannot write " << o.out << "\n";
      return 1;
    }
  }
  std::ostream& out = o.out.empty() ? std::cout : file;
  std::map<std::string, int> by_source;
  for (const auto& r : *rows) {
    out << json{{"text", r.text}, {"label", r.label}, {"source", r.source}, {"ticket", r.ticket}}.dump(
               -1, ' ', false, json::error_handler_t::replace)
        << "\n";
    ++by_source[r.source];
  }
  // Data leaving closeloop is an audited admin action (README "Audit log").
  if (auto al = audit_log::open(so.path); !al) {
    std::cerr << "closeloop export: WARNING: not recorded in the audit log: " << al.err().message << "\n";
  } else if (auto r = (*al)->append(cli_actor(), o.tenant, "export", o.out.empty() ? "stdout" : o.out,
                                    {{"task", o.task}, {"corrected_only", o.corrected_only}, {"rows", rows->size()}});
             !r) {
    std::cerr << "closeloop export: WARNING: not recorded in the audit log: " << r.err().message << "\n";
  }
  std::cerr << "closeloop export: " << rows->size() << " " << o.task << " example(s)";
  for (const auto& [src, n] : by_source) std::cerr << ", " << n << " " << src;
  std::cerr << "\n";
  return out ? 0 : 1;
}

int run_doctor(const doctor_options& o) {
  int problems = 0;
  auto ok = [](const std::string& s) { std::cout << "  ok    " << s << "\n"; };
  auto bad = [&](const std::string& s) {
    std::cout << "  FAIL  " << s << "\n";
    ++problems;
  };
  std::cout << "closeloop doctor\n";
  auto cfg = load_config_file(o.config_path);
  if (!cfg) {
    bad("configuration: " + cfg.err().message);
    std::cout << "1 problem found\n";
    return 1;
  }
  ok("configuration " + o.config_path + " is valid (" + std::to_string(cfg->tenants.size()) + " tenant(s))");
  if (!o.db_path.empty()) cfg->store.path = o.db_path;
  if (cfg->server.tls) ok("TLS certificate and key are readable: " + cfg->server.tls->cert_file);
  else std::cout << "  note  serving plain HTTP: put closeloop behind a TLS proxy or set server.tls\n";

  auto svc = server::services::create(*cfg);
  if (!svc) {
    bad(svc.err().message);
  } else {
    auto& db = (*svc)->db();
    auto c = db.stats();
    ok("database " + cfg->store.path + " opens (schema version " + std::to_string(db.schema_version()) + ", " +
       std::to_string(c.events) + " events, " + std::to_string(c.outbox_pending) + " actions pending, " +
       std::to_string(c.timers_pending) + " timers pending)");
    if (c.outbox_failed > 0) {
      bad(std::to_string(c.outbox_failed) + " action(s) failed for good; the latest:");
      if (auto failed = db.outbox(outbox_status::failed, 5))
        for (const auto& f : *failed)
          std::cout << "          #" << f.id << " " << to_string(f.act.type) << " ticket " << f.act.ticket_id
                    << " (" << f.act.tenant << "/" << f.act.host << "): " << f.last_error << "\n";
    }
    for (const auto& t : cfg->tenants) {
      if (t.pol.survey.enabled && t.pol.survey.link_secret.empty())
        bad("tenant " + t.id + ": surveys are enabled but policy.survey.link_secret is not set, so no invitation "
            "can carry a signed answer link (set at least 16 random characters)");
      if (!t.classifier.category_model_path.empty()) {
        rule_classifier probe(t.classifier);
        if (auto m = probe.model())
          ok("tenant " + t.id + ": category model " + t.classifier.category_model_path + " (" +
             std::to_string(m->labels().size()) + " categories, gate " +
             (m->gate().active ? "active: writes the category" : "inactive: suggests only") + ")");
        else
          bad("tenant " + t.id + ": category model: " + probe.model_error());
      }
      if (!t.classifier.sentiment_model_path.empty()) {
        rule_classifier probe(t.classifier);
        if (auto m = probe.sentiment_model())
          ok("tenant " + t.id + ": sentiment model " + t.classifier.sentiment_model_path + " (labels " +
             [&] {
               std::string l;
               for (const auto& x : m->labels()) l += (l.empty() ? "" : ", ") + x;
               return l;
             }() + ")");
        else
          bad("tenant " + t.id + ": sentiment model: " + probe.sentiment_model_error());
      }
      for (const auto& h : t.hosts) {
        std::string name = "host " + t.id + "/" + h.id + " (" + h.vendor + ")";
        if (o.offline) {
          std::cout << "  skip  " << name << ": --offline\n";
          continue;
        }
        auto* ad = (*svc)->adapter_for(t.id, h.id);
        auto r = ad->check_reachable();
        if (r) ok(name + ": " + *r);
        else bad(name + ": " + r.err().message);
      }
    }
  }
  std::cout << (problems == 0 ? "no problems found" : std::to_string(problems) + " problem(s) found") << "\n";
  return problems == 0 ? 0 : 1;
}

}  // namespace closeloop::cli
