// closeloop health: customer health / churn risk from the store (README "Customer health").
#include <iostream>

#include "cli/commands.hpp"
#include "closeloop/health_store.hpp"
#include "closeloop/store.hpp"
#include "server/customer_health.hpp"

namespace closeloop::cli {
namespace {

void print_text(const health::assessment& a) {
  std::cout << a.customer << ": " << health::to_string(a.level) << " (score " << a.score << "/100; " << a.tickets
            << " tickets, " << a.answers << " answers)\n";
  for (const auto& r : a.reasons) std::cout << "  " << (r.points > 0 ? "+" : "") << r.points << "  " << r.text << "\n";
}

}  // namespace

int run_health(const health_cli_options& o) {
  auto cfg = load_or_report(o.config_path);
  if (!cfg) return 2;
  const tenant_config* t = cfg->find_tenant(o.tenant);
  if (!t) {
    std::cerr << "closeloop health: --tenant: \"" << o.tenant << "\" is not in " << o.config_path << "\n";
    return 2;
  }
  store_options so;
  so.path = o.db_path.empty() ? cfg->store.path : o.db_path;
  auto db = store::open(so);  // creates/migrates the health tables of an older file
  if (!db) {
    std::cerr << "closeloop health: " << db.err().message << "\n";
    return 1;
  }
  auto hs = health_store::open(so.path);
  if (!hs) {
    std::cerr << "closeloop health: " << hs.err().message << "\n";
    return 1;
  }
  std::vector<std::string> customers;
  if (!o.customer.empty()) {
    if (o.customer.find('@') == std::string::npos) {
      std::cerr << "closeloop health: --customer: expected an e-mail address, got \"" << o.customer << "\"\n";
      return 2;
    }
    customers.push_back(health::normalize_customer(o.customer));
  } else {
    auto all = (*hs)->customers(o.tenant);
    if (!all) {
      std::cerr << "closeloop health: " << all.err().message << "\n";
      return 1;
    }
    customers = std::move(*all);
  }
  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  json out = json::array();
  int shown = 0;
  for (const auto& c : customers) {
    auto a = server::customer_health::assess(**hs, *t, c, now);
    if (!a) {
      std::cerr << "closeloop health: " << a.err().message << "\n";
      return 1;
    }
    if (a->tickets == 0 && a->answers == 0) {
      if (!o.customer.empty()) {
        std::cerr << "closeloop health: no ticket of \"" << c << "\" in tenant " << o.tenant << " within "
                  << t->health.window.count() / 86400 << " days\n";
        return 1;
      }
      continue;
    }
    ++shown;
    if (o.json_out) out.push_back(health::to_json(*a));
    else print_text(*a);
  }
  if (o.json_out) {
    std::cout << (o.customer.empty() ? json{{"tenant", o.tenant}, {"customers", out}} : out.at(0))
                     .dump(2, ' ', false, json::error_handler_t::replace)
              << "\n";
  } else if (o.customer.empty()) {
    std::cout << shown << " customers of tenant " << o.tenant << "\n";
  }
  return 0;
}

}  // namespace closeloop::cli
