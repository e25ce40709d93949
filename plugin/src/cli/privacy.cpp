// closeloop privacy opt-out|opt-in|export|erase|purge (README "Privacy"), and the registration of
// the secret commands (secrets.cpp). Exports and erasures are audited; the audit row names the
// customer by a hash of the address, never the address.
#include "cli/privacy.hpp"

#include <fstream>
#include <iostream>

#include "cli/commands.hpp"
#include "closeloop/audit.hpp"
#include "closeloop/privacy_store.hpp"
#include "closeloop/store.hpp"

namespace closeloop::cli {

void add_privacy_commands(CLI::App& app, privacy_commands& c) {
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("-c,--config", c.config_path, "Configuration file (JSON)")->required();
    cmd->add_option("--db", c.db_path, "SQLite database file instead of the configured one");
  };
  auto* secret = app.add_subcommand("secret", "Secrets sealed in the database (AES-256-GCM): keygen, set, list, delete, import");
  secret->require_subcommand(1);
  c.keygen = secret->add_subcommand("keygen", "Write a new random 256-bit key (base64) to a new file, mode 0600");
  c.keygen->add_option("--out", c.out, "Key file to create (never overwritten)")->required();
  c.set = secret->add_subcommand("set", "Store a secret read from stdin under tenant, host and name");
  common(c.set);
  auto* set_tenant = c.set->add_option("--tenant", c.tenant, "Tenant id");
  auto* set_server = c.set->add_flag("--server", c.server_scope, "A server-wide secret (server.metrics_token) instead of a tenant's");
  set_server->excludes(set_tenant);
  c.set->add_option("--host", c.host, "Host id (omit for a tenant-level secret such as policy.survey.link_secret)")
      ->needs(set_tenant);
  c.set->add_option("--name", c.name, "Name the config refers to: {\"ref\": NAME}")->required();
  c.list = secret->add_subcommand("list", "List stored secrets (names and key ids, never values)");
  common(c.list);
  c.list->add_option("--tenant", c.tenant, "Only this tenant");
  c.del = secret->add_subcommand("delete", "Delete a stored secret");
  common(c.del);
  auto* del_tenant = c.del->add_option("--tenant", c.tenant, "Tenant id");
  c.del->add_flag("--server", c.server_scope, "A server-wide secret instead of a tenant's")->excludes(del_tenant);
  c.del->add_option("--host", c.host, "Host id (omit for a tenant-level secret)")->needs(del_tenant);
  c.del->add_option("--name", c.name, "Name")->required();
  c.import = secret->add_subcommand("import", "Move the secrets written in clear in the config into the store");
  common(c.import);
  c.import->add_option("--out", c.out, "Also write the config with {\"ref\": ...} in place of each value here");
  c.rekey = app.add_subcommand("rekey", "Re-seal every stored secret under a new key, in one transaction");
  common(c.rekey);
  c.rekey->add_option("--new-key-file", c.new_key_file, "The new key (closeloop secret keygen --out FILE)")->required();

  auto* privacy = app.add_subcommand("privacy", "A customer's consent, data export and erasure; the retention purge");
  privacy->require_subcommand(1);
  auto customer = [&](CLI::App* cmd) {
    common(cmd);
    cmd->add_option("--customer", c.customer, "The customer's e-mail address")->required();
    cmd->add_option("--tenant", c.tenant, "Only this tenant (default: every tenant of the config)");
  };
  c.opt_out = privacy->add_subcommand("opt-out", "The customer gets no more surveys");
  customer(c.opt_out);
  c.opt_in = privacy->add_subcommand("opt-in", "The customer may be surveyed again");
  customer(c.opt_in);
  c.exporter = privacy->add_subcommand("export", "Everything held about the customer, as JSON");
  customer(c.exporter);
  c.exporter->add_option("--out", c.out, "Output file (default: stdout)");
  c.erase = privacy->add_subcommand("erase", "Remove or anonymise everything about the customer, in the file's bytes too");
  customer(c.erase);
  c.purge = privacy->add_subcommand("purge", "Run the retention purge (privacy.retention) now, to the end");
  common(c.purge);
}

namespace {

timestamp now_ms() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

}  // namespace

std::optional<cli_stores> open_cli_stores(const privacy_commands& c, const char* cmd) {
  auto cfg = load_or_report(c.config_path);
  if (!cfg) return std::nullopt;
  cli_stores o{std::move(*cfg), {}, nullptr, nullptr, nullptr, nullptr};
  if (!c.db_path.empty()) o.cfg.store.path = c.db_path;
  if (!c.tenant.empty()) {
    if (!o.cfg.find_tenant(c.tenant)) {
      std::cerr << "closeloop " << cmd << ": --tenant: \"" << c.tenant << "\" is not in the config\n";
      return std::nullopt;
    }
    o.tenants.push_back(c.tenant);
  } else {
    for (const auto& t : o.cfg.tenants) o.tenants.push_back(t.id);
  }
  if (!c.customer.empty() && normalize_customer_email(c.customer).empty()) {
    std::cerr << "closeloop " << cmd << ": --customer: \"" << c.customer << "\" is not an e-mail address\n";
    return std::nullopt;
  }
  store_options so;
  so.path = o.cfg.store.path;
  auto db = store::open(so);
  if (!db) {
    std::cerr << "closeloop " << cmd << ": " << db.err().message << "\n";
    return std::nullopt;
  }
  o.db = std::move(*db);
  auto ss = secret_store::open(so.path);
  auto ps = privacy_store::open(so.path);
  auto al = audit_log::open(so.path);
  if (!ss || !ps || !al) {
    std::cerr << "closeloop " << cmd << ": " << (!ss ? ss.err().message : !ps ? ps.err().message : al.err().message)
              << "\n";
    return std::nullopt;
  }
  o.secrets = std::move(*ss);
  o.privacy = std::move(*ps);
  o.audit = std::move(*al);
  return o;
}

bool audit_cli(audit_log& a, const std::string& tenant, const std::string& action, const std::string& target,
               const json& detail) {
  if (auto r = a.append(cli_actor(), tenant, action, target, detail); !r) {
    std::cerr << "closeloop: not recorded in the audit log: " << r.err().message << "\n";
    return false;
  }
  return true;
}

namespace {

// The customer as the audit log names them: a hash, so erasing never has to touch the chain.
std::string audit_target(const std::string& email) {
  return "customer:" + consent_hash(normalize_customer_email(email)).substr(0, 16);
}

int run_consent(const privacy_commands& c, bool out) {
  const char* cmd = out ? "privacy opt-out" : "privacy opt-in";
  auto o = open_cli_stores(c, cmd);
  if (!o) return 2;
  for (const auto& t : o->tenants) {
    if (auto r = o->privacy->set_consent(t, c.customer, out ? "opted_out" : "opted_in", "cli", now_ms()); !r) {
      std::cerr << "closeloop " << cmd << ": " << r.err().message << "\n";
      return 1;
    }
    audit_cli(*o->audit, t, out ? "privacy.opt_out" : "privacy.opt_in", audit_target(c.customer), json::object());
  }
  std::cout << normalize_customer_email(c.customer) << (out ? " opted out of" : " opted in to") << " surveys in "
            << o->tenants.size() << " tenant(s)\n";
  return 0;
}

int run_export(const privacy_commands& c) {
  auto o = open_cli_stores(c, "privacy export");
  if (!o) return 2;
  // Audited first: an export that cannot be recorded is not made.
  for (const auto& t : o->tenants)
    if (!audit_cli(*o->audit, t, "privacy.export", audit_target(c.customer), {{"out", c.out.empty() ? "stdout" : c.out}}))
      return 1;
  auto doc = o->privacy->export_customer(c.customer, o->tenants);
  if (!doc) {
    std::cerr << "closeloop privacy export: " << doc.err().message << "\n";
    return 1;
  }
  (*doc)["generated_at"] = format_rfc3339(now_ms());
  const std::string text = doc->dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  if (c.out.empty()) {
    std::cout << text;
    return std::cout ? 0 : 1;
  }
  std::ofstream f(c.out, std::ios::trunc);
  if (!(f << text)) {
    std::cerr << "closeloop privacy export: cannot write " << c.out << "\n";
    return 1;
  }
  std::cerr << "closeloop privacy export: " << (*doc)["tickets"].size() << " ticket(s) written to " << c.out << "\n";
  return 0;
}

int run_erase(const privacy_commands& c) {
  auto o = open_cli_stores(c, "privacy erase");
  if (!o) return 2;
  o->db.reset();  // the store's own connections are closed so the WAL can be truncated
  auto n = o->privacy->erase_customer(c.customer, o->tenants);
  if (!n) {
    std::cerr << "closeloop privacy erase: " << n.err().message << "\n";
    return 1;
  }
  const json counts = {{"tickets", n->tickets},   {"events", n->events},       {"states", n->states},
                       {"actions", n->outbox},    {"timers", n->timers},       {"surveys", n->surveys},
                       {"people", n->people},     {"kb_articles", n->kb_articles}, {"kb_links", n->kb_links},
                       {"other_rows", n->other}};
  for (const auto& t : o->tenants) audit_cli(*o->audit, t, "privacy.erase", audit_target(c.customer), counts);
  // The opt-out survives the erasure (as a hash): an erased customer is not surveyed again.
  for (const auto& t : o->tenants) (void)o->privacy->set_consent(t, c.customer, "opted_out", "erase", now_ms());
  std::cout << "erased " << normalize_customer_email(c.customer) << ": " << counts.dump() << "\n";
  if (!n->wal_truncated) {
    std::cerr << "closeloop privacy erase: WARNING: another process holds the database, so the write-ahead log "
                 "still has old pages; run the erase again when closeloop serve is stopped or idle\n";
    return 3;
  }
  return 0;
}

int run_purge(const privacy_commands& c) {
  auto o = open_cli_stores(c, "privacy purge");
  if (!o) return 2;
  retention_policy p{o->cfg.privacy.events_days, o->cfg.privacy.texts_days, o->cfg.privacy.survey_answers_days,
                     o->cfg.privacy.purge_batch, 20};
  purge_counts total;
  for (;;) {
    auto r = o->privacy->purge(p, now_ms());
    if (!r) {
      std::cerr << "closeloop privacy purge: " << r.err().message << "\n";
      return 1;
    }
    total.events_deleted += r->events_deleted;
    total.outbox_deleted += r->outbox_deleted;
    total.timers_deleted += r->timers_deleted;
    total.event_texts_removed += r->event_texts_removed;
    total.state_texts_removed += r->state_texts_removed;
    total.survey_answers_removed += r->survey_answers_removed;
    if (!r->more) break;
  }
  std::cout << "purged: " << total.events_deleted << " event(s), " << total.outbox_deleted << " action(s), "
            << total.timers_deleted << " timer(s) deleted; texts removed from " << total.event_texts_removed
            << " event(s) and " << total.state_texts_removed << " ticket(s); " << total.survey_answers_removed
            << " survey answer(s) removed\n";
  return 0;
}

}  // namespace

std::optional<int> run_privacy_commands(const privacy_commands& c) {
  if (auto rc = run_secret_commands(c)) return rc;
  if (c.opt_out && *c.opt_out) return run_consent(c, true);
  if (c.opt_in && *c.opt_in) return run_consent(c, false);
  if (c.exporter && *c.exporter) return run_export(c);
  if (c.erase && *c.erase) return run_erase(c);
  if (c.purge && *c.purge) return run_purge(c);
  return std::nullopt;
}

}  // namespace closeloop::cli
