#include <filesystem>
#include <fstream>
#include <map>
#include <iostream>

#include "cli/commands.hpp"
#include "closeloop/audit.hpp"
#include "closeloop/store.hpp"
#include "server/learning.hpp"

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

}  // namespace closeloop::cli
