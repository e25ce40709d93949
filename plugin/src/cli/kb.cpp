// closeloop kb report: per KB article, the survey answers and reopen rate of the tickets it was
// suggested for or used on; weak articles flagged (README "Knowledge base").
#include <iomanip>
#include <iostream>

#include "cli/commands.hpp"
#include "closeloop/kb_store.hpp"
#include "closeloop/store.hpp"
#include "server/kb.hpp"

namespace closeloop::cli {

int run_kb_report(const kb_report_cli_options& o) {
  auto cfg = load_or_report(o.config_path);
  if (!cfg) return 2;
  if (!cfg->find_tenant(o.tenant)) {
    std::cerr << "closeloop kb report: --tenant: \"" << o.tenant << "\" is not in " << o.config_path << "\n";
    return 2;
  }
  store_options so;
  so.path = o.db_path.empty() ? cfg->store.path : o.db_path;
  auto db = store::open(so);  // creates/migrates the KB tables of an older file
  if (!db) {
    std::cerr << "closeloop kb report: " << db.err().message << "\n";
    return 1;
  }
  auto kb = kb_store::open(so.path);
  if (!kb) {
    std::cerr << "closeloop kb report: " << kb.err().message << "\n";
    return 1;
  }
  kb_report_options ro;
  ro.min_tickets = o.min_tickets;
  ro.weak_avg_score = o.weak_avg_score;
  ro.weak_reopen_rate = o.weak_reopen_rate;
  const json rep = server::kb::report_json(**kb, o.tenant, ro);
  if (rep.contains("error")) {
    std::cerr << "closeloop kb report: " << rep["error"].get<std::string>() << "\n";
    return 1;
  }
  if (o.json_out) {
    std::cout << rep.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::cout << "KB articles of tenant " << o.tenant << " (judged from " << o.min_tickets << " tickets on)\n";
  for (const auto& a : rep["articles"]) {
    std::cout << (a["weak"].get<bool>() ? "WEAK " : "     ") << a["host"].get<std::string>() << "/"
              << a["article_id"].get<std::string>() << " \"" << a["title"].get<std::string>() << "\": "
              << a["tickets"] << " tickets (" << a["suggested"] << " suggested, " << a["used"] << " used), ";
    if (a["avg_score"].is_number())
      std::cout << "mean answer " << std::fixed << std::setprecision(2) << a["avg_score"].get<double>() << " of "
                << a["answered"] << ", ";
    else
      std::cout << "no answers, ";
    if (a["reopen_rate"].is_number())
      std::cout << "reopened " << a["reopened"] << "/" << a["solved"];
    else
      std::cout << "none solved";
    if (a["weak"].get<bool>()) std::cout << " — " << a["why"].get<std::string>();
    std::cout << "\n";
  }
  std::cout << rep["weak"].size() << " weak of " << rep["articles"].size() << " articles\n";
  return 0;
}

}  // namespace closeloop::cli
