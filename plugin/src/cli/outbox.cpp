// `closeloop outbox list [--status S] [--tenant T] [--limit N] [--json]` and
// `closeloop outbox retry (ID | --all-failed) [--tenant T] [--json]`.
#include "cli/outbox.hpp"

#include <iostream>

#include "cli/commands.hpp"
#include "closeloop/audit.hpp"
#include "closeloop/outbox_admin.hpp"
#include "closeloop/store.hpp"

namespace closeloop::cli {

namespace {

timestamp wall_now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

void print_row(const outbox_row& r) {
  std::cout << "#" << r.id << "  " << to_string(r.status) << "  " << r.tenant << "/" << r.host << "  ticket "
            << r.ticket_id << "  " << r.type << "  attempts " << r.attempts;
  if (!r.requeues.empty()) std::cout << "  retried " << r.requeues.size() << "x";
  if (r.status == outbox_status::pending) std::cout << "  due " << format_rfc3339(r.next_attempt_at);
  std::cout << "\n    key " << r.idempotency_key << "\n";
  if (!r.last_error.empty()) std::cout << "    last error: " << r.last_error << "\n";
  for (const auto& q : r.requeues) {
    std::cout << "    retried " << format_rfc3339(q.at) << " by " << q.actor << " after " << q.attempts
              << " attempt(s): " << q.last_error << "\n";
  }
}

// Opens (and migrates) the store's file, then the admin view on it.
std::unique_ptr<outbox_admin> open_admin(const outbox_commands& c, const char* cmd, int& rc, std::string* db_path = nullptr) {
  auto cfg = load_or_report(c.config_path);
  if (!cfg) {
    rc = 2;
    return nullptr;
  }
  if (!c.tenant.empty() && !cfg->find_tenant(c.tenant)) {
    std::cerr << "closeloop outbox " << cmd << ": --tenant: \"" << c.tenant << "\" is not in " << c.config_path
              << "\n";
    rc = 2;
    return nullptr;
  }
  store_options so;
  so.path = c.db_path.empty() ? cfg->store.path : c.db_path;
  if (db_path != nullptr) *db_path = so.path;
  {
    auto db = store::open(so);  // creates or upgrades the schema
    if (!db) {
      std::cerr << "closeloop outbox " << cmd << ": " << db.err().message << "\n";
      rc = 1;
      return nullptr;
    }
  }
  auto oa = outbox_admin::open(so.path);
  if (!oa) {
    std::cerr << "closeloop outbox " << cmd << ": " << oa.err().message << "\n";
    rc = 1;
    return nullptr;
  }
  return std::move(*oa);
}

// Retries are admin actions: recorded in the audit log (README "Audit log") with the CLI user.
void audit_retry(const std::string& db_path, const std::string& tenant, const std::string& target,
                 const json& detail) {
  auto al = audit_log::open(db_path);
  auto r = al ? (*al)->append(cli_actor(), tenant, "outbox.retry", target, detail) : result<audit_entry>(al.err());
  if (!r) std::cerr << "closeloop: WARNING: not recorded in the audit log: " << r.err().message << "\n";
}

int run_list(const outbox_commands& c) {
  outbox_filter f;
  if (!c.status.empty()) f.status = outbox_status_from_string(c.status);  // checked by CLI11
  f.tenant = c.tenant;
  f.limit = c.limit;
  int rc = 0;
  auto oa = open_admin(c, "list", rc);
  if (!oa) return rc;
  auto rows = oa->list(f);
  if (!rows) {
    std::cerr << "closeloop outbox list: " << rows.err().message << "\n";
    return 1;
  }
  if (c.json_out) {
    json out = json::array();
    for (const auto& r : *rows) out.push_back(r.to_json());
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return 0;
  }
  if (rows->empty()) {
    std::cout << "no actions" << (c.status.empty() ? "" : " with status " + c.status)
              << (c.tenant.empty() ? "" : " for tenant " + c.tenant) << "\n";
    return 0;
  }
  for (const auto& r : *rows) print_row(r);
  std::cout << rows->size() << " action(s), newest first" << (static_cast<int>(rows->size()) == c.limit ? " (--limit reached)" : "")
            << "\n";
  return 0;
}

int run_retry(const outbox_commands& c) {
  if (c.id.has_value() == c.all_failed) {
    std::cerr << "closeloop outbox retry: give either an action ID or --all-failed\n";
    return 2;
  }
  int rc = 0;
  std::string db_path;
  auto oa = open_admin(c, "retry", rc, &db_path);
  if (!oa) return rc;
  const std::string actor = cli_actor();
  const timestamp now = wall_now();
  if (c.id) {
    auto r = oa->requeue(*c.id, c.tenant, actor, now);
    if (!r) {
      std::cerr << "closeloop outbox retry: " << r.err().message << "\n";
      return 1;
    }
    audit_retry(db_path, r->tenant, r->host + "/" + r->ticket_id,
                {{"id", r->id}, {"type", r->type}, {"idempotency_key", r->idempotency_key}, {"via", "cli"}});
    if (c.json_out) {
      std::cout << json{{"retried", json::array({r->to_json()})}}.dump(2) << "\n";
    } else {
      std::cout << "re-queued #" << r->id << " (" << r->type << ", ticket " << r->ticket_id << ", " << r->tenant << "/"
                << r->host << "): due now, same idempotency key " << r->idempotency_key << "\n";
    }
    return 0;
  }
  auto ids = oa->requeue_failed(c.tenant, actor, now);
  if (!ids) {
    std::cerr << "closeloop outbox retry: " << ids.err().message << "\n";
    return 1;
  }
  if (!ids->empty()) audit_retry(db_path, c.tenant, "outbox", {{"ids", *ids}, {"count", ids->size()}, {"via", "cli"}});
  if (c.json_out) {
    std::cout << json{{"retried", *ids}}.dump() << "\n";
  } else if (ids->empty()) {
    std::cout << "no failed actions" << (c.tenant.empty() ? "" : " for tenant " + c.tenant) << "\n";
  } else {
    std::cout << "re-queued " << ids->size() << " failed action(s):";
    for (auto id : *ids) std::cout << " #" << id;
    std::cout << " (due now, idempotency keys kept)\n";
  }
  return 0;
}

}  // namespace

void add_outbox_commands(CLI::App& app, outbox_commands& c) {
  auto* outbox = app.add_subcommand("outbox", "Dead letters: list the outbox's actions, retry failed ones");
  outbox->require_subcommand(1);
  c.list = outbox->add_subcommand("list", "List actions (newest first) with their attempts, errors and retries");
  c.retry = outbox->add_subcommand("retry", "Re-queue failed actions (same idempotency keys: no duplicates)");
  for (CLI::App* sub : {c.list, c.retry}) {
    sub->add_option("-c,--config", c.config_path, "Configuration file (JSON)")->required();
    sub->add_option("--db", c.db_path, "SQLite database file instead of the configured one");
    sub->add_option("--tenant", c.tenant, "Only this tenant's actions");
    sub->add_flag("--json", c.json_out, "JSON instead of text");
  }
  c.list->add_option("--status", c.status, "Only actions with this status")
      ->check(CLI::IsMember({"pending", "running", "done", "failed", "cancelled", "applied"}));
  c.list->add_option("--limit", c.limit, "At most this many (default 100)")->check(CLI::Range(1, 1000000));
  c.retry->add_option("id", c.id, "The action's id (as `outbox list` shows it, without #)");
  c.retry->add_flag("--all-failed", c.all_failed, "Every failed action (of --tenant, when given)");
}

std::optional<int> run_outbox_commands(const outbox_commands& c) {
  if (c.list && *c.list) return run_list(c);
  if (c.retry && *c.retry) return run_retry(c);
  return std::nullopt;
}

}  // namespace closeloop::cli
