// closeloop token create|list|revoke, closeloop audit verify|list (README "Access control",
// "Audit log"). Token changes are recorded in the audit log with the CLI user as actor.
#include "cli/access.hpp"

#include <charconv>
#include <iomanip>
#include <iostream>

#include "cli/commands.hpp"
#include "closeloop/audit.hpp"
#include "closeloop/store.hpp"
#include "closeloop/token_store.hpp"
#include "server/admin_api.hpp"

namespace closeloop::cli {
namespace {

timestamp now_ms() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::string opt_text(const std::optional<timestamp>& t) { return t ? format_rfc3339(*t) : "-"; }

struct opened {
  config cfg;
  std::unique_ptr<store> db;  // keeps the file migrated and open
  std::unique_ptr<token_store> tokens;
  std::unique_ptr<audit_log> audit;
};

std::optional<opened> open_all(const access_commands& c, const char* cmd) {
  auto cfg = load_or_report(c.config_path);
  if (!cfg) return std::nullopt;
  opened o{std::move(*cfg), nullptr, nullptr, nullptr};
  store_options so;
  so.path = c.db_path.empty() ? o.cfg.store.path : c.db_path;
  auto db = store::open(so);
  if (!db) {
    std::cerr << "closeloop " << cmd << ": " << db.err().message << "\n";
    return std::nullopt;
  }
  o.db = std::move(*db);
  auto ts = token_store::open(so.path);
  auto al = audit_log::open(so.path);
  if (!ts || !al) {
    std::cerr << "closeloop " << cmd << ": " << (!ts ? ts.err().message : al.err().message) << "\n";
    return std::nullopt;
  }
  o.tokens = std::move(*ts);
  o.audit = std::move(*al);
  return o;
}

bool audit_or_warn(audit_log& a, const std::string& tenant, const std::string& action, const std::string& target,
                   const json& detail) {
  if (auto r = a.append(cli_actor(), tenant, action, target, detail); !r) {
    std::cerr << "closeloop: WARNING: not recorded in the audit log: " << r.err().message << "\n";
    return false;
  }
  return true;
}

int token_create(const access_commands& c) {
  auto o = open_all(c, "token create");
  if (!o) return 2;
  if (!o->cfg.find_tenant(c.tenant)) {
    std::cerr << "closeloop token create: --tenant: \"" << c.tenant << "\" is not in " << c.config_path << "\n";
    return 2;
  }
  auto role = parse_api_role(c.role);
  if (!role) {
    std::cerr << "closeloop token create: --role: expected viewer, agent or admin, got \"" << c.role << "\"\n";
    return 2;
  }
  const auto now = now_ms();
  std::optional<timestamp> expires;
  if (!c.expires_in.empty()) {
    auto s = parse_duration_s(c.expires_in);
    if (!s) {
      std::cerr << "closeloop token create: --expires-in: expected a positive duration like 30d, 12h, 90m, 45s, "
                   "got \""
                << c.expires_in << "\"\n";
      return 2;
    }
    expires = now + std::chrono::seconds(*s);
  }
  auto t = o->tokens->create(c.tenant, *role, c.label, expires, cli_actor(), now);
  if (!t) {
    std::cerr << "closeloop token create: " << t.err().message << "\n";
    return 1;
  }
  audit_or_warn(*o->audit, c.tenant, "token.create", t->info.id,
                {{"role", c.role}, {"label", c.label}, {"expires_at", expires ? json(format_rfc3339(*expires)) : json()},
                 {"via", "cli"}});
  if (c.json_out) {
    json j = server::admin_api::token_json(t->info);
    j["token"] = t->secret;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << t->secret << "\n";
    std::cerr << "token " << t->info.id << " for tenant " << c.tenant << ", role " << c.role
              << (expires ? ", expires " + format_rfc3339(*expires) : std::string(", no expiry"))
              << ". It is shown only now: closeloop keeps only its hash.\n";
  }
  return 0;
}

int token_list(const access_commands& c) {
  auto o = open_all(c, "token list");
  if (!o) return 2;
  auto rows = o->tokens->list(c.tenant);
  if (!rows) {
    std::cerr << "closeloop token list: " << rows.err().message << "\n";
    return 1;
  }
  if (c.json_out) {
    json list = json::array();
    for (const auto& t : *rows) list.push_back(server::admin_api::token_json(t));
    std::cout << list.dump(2) << "\n";
    return 0;
  }
  const auto now = now_ms();
  std::cout << std::left << std::setw(18) << "ID" << std::setw(14) << "TENANT" << std::setw(8) << "ROLE"
            << std::setw(10) << "STATE" << std::setw(26) << "CREATED" << std::setw(26) << "LAST USED"
            << std::setw(26) << "EXPIRES" << "LABEL\n";
  for (const auto& t : *rows) {
    const char* state = t.revoked_at ? "revoked" : (t.expires_at && *t.expires_at <= now) ? "expired" : "active";
    std::cout << std::left << std::setw(18) << t.id << std::setw(14) << t.tenant << std::setw(8) << to_string(t.role)
              << std::setw(10) << state << std::setw(26) << format_rfc3339(t.created_at) << std::setw(26)
              << opt_text(t.last_used_at) << std::setw(26) << opt_text(t.expires_at) << t.label << "\n";
  }
  std::cout << rows->size() << " token(s)\n";
  return 0;
}

int token_revoke(const access_commands& c) {
  auto o = open_all(c, "token revoke");
  if (!o) return 2;
  auto found = o->tokens->find(c.id);
  if (!found) {
    std::cerr << "closeloop token revoke: " << found.err().message << "\n";
    return 1;
  }
  if (!*found) {
    std::cerr << "closeloop token revoke: no token with id \"" << c.id << "\" (closeloop token list shows them)\n";
    return 2;
  }
  if ((*found)->revoked_at) {
    std::cout << "token " << c.id << " was already revoked at " << format_rfc3339(*(*found)->revoked_at) << "\n";
    return 0;
  }
  auto t = o->tokens->revoke(c.id, now_ms());
  if (!t) {
    std::cerr << "closeloop token revoke: " << t.err().message << "\n";
    return 1;
  }
  audit_or_warn(*o->audit, t->tenant, "token.revoke", t->id, {{"role", to_string(t->role)}, {"via", "cli"}});
  std::cout << "token " << t->id << " (tenant " << t->tenant << ", " << to_string(t->role) << ") revoked\n";
  return 0;
}

int audit_verify(const access_commands& c) {
  auto o = open_all(c, "audit verify");
  if (!o) return 2;
  auto v = o->audit->verify();
  if (!v) {
    std::cerr << "closeloop audit verify: " << v.err().message << "\n";
    return 1;
  }
  if (c.json_out) {
    std::cout << json{{"ok", v->ok},
                      {"rows", v->rows},
                      {"first_bad", v->first_bad ? json(*v->first_bad) : json()},
                      {"reason", v->reason},
                      {"head_seq", v->head_seq},
                      {"head_hash", v->head_hash}}
                     .dump(2)
              << "\n";
  } else if (v->ok) {
    std::cout << "audit log intact: " << v->rows << " row(s), head #" << v->head_seq << " " << v->head_hash << "\n";
  } else {
    std::cout << "audit log BROKEN at row #" << *v->first_bad << ": " << v->reason << " (" << v->head_seq
              << " row(s) before it verify; last good hash " << v->head_hash << ")\n";
  }
  return v->ok ? 0 : 3;
}

int audit_list(const access_commands& c) {
  auto o = open_all(c, "audit list");
  if (!o) return 2;
  audit_filter f;
  f.tenant = c.tenant;
  f.action = c.action;
  f.limit = c.limit;
  if (!c.since.empty()) {
    if (auto d = parse_duration_s(c.since)) {
      f.since = now_ms() - std::chrono::seconds(*d);
    } else if (auto t = parse_rfc3339(c.since)) {
      f.since = *t;
    } else {
      std::cerr << "closeloop audit list: --since: expected an RFC 3339 time or a duration like 7d, got \"" << c.since
                << "\"\n";
      return 2;
    }
  }
  auto rows = o->audit->list(f);
  if (!rows) {
    std::cerr << "closeloop audit list: " << rows.err().message << "\n";
    return 1;
  }
  for (const auto& e : *rows) {
    if (c.json_out) {
      std::cout << server::admin_api::audit_json(e).dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      continue;
    }
    std::cout << "#" << e.seq << " " << format_rfc3339(e.at) << " " << (e.tenant.empty() ? "-" : e.tenant) << " "
              << e.actor << " " << e.action << " " << (e.target.empty() ? "-" : e.target) << " "
              << e.detail.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  }
  if (!c.json_out) std::cerr << rows->size() << " entr" << (rows->size() == 1 ? "y" : "ies") << "\n";
  return 0;
}

}  // namespace

std::optional<long long> parse_duration_s(const std::string& text) {
  if (text.size() < 2) return std::nullopt;
  long long n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
  if (ec != std::errc() || end != text.data() + text.size() - 1 || n <= 0) return std::nullopt;
  long long unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: return std::nullopt;
  }
  if (n > 20LL * 366 * 86400 / unit) return std::nullopt;  // beyond 20 years: a typo
  return n * unit;
}

void add_access_commands(CLI::App& app, access_commands& c) {
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("-c,--config", c.config_path, "Configuration file (JSON)")->required();
    cmd->add_option("--db", c.db_path, "SQLite database file instead of the configured one");
  };
  auto* token = app.add_subcommand("token", "API tokens per tenant (roles viewer < agent < admin)");
  token->require_subcommand(1);
  c.token_create = token->add_subcommand("create", "Create a token; prints it once (only its hash is kept)");
  common(c.token_create);
  c.token_create->add_option("--tenant", c.tenant, "Tenant id")->required();
  c.token_create->add_option("--role", c.role, "viewer, agent or admin")->required();
  c.token_create->add_option("--label", c.label, "What or who it is for");
  c.token_create->add_option("--expires-in", c.expires_in, "Lifetime: 30d, 12h, 90m, 45s, 2w (default: none)");
  c.token_create->add_flag("--json", c.json_out, "JSON with the token and its details");
  c.token_list = token->add_subcommand("list", "List tokens (never their secrets)");
  common(c.token_list);
  c.token_list->add_option("--tenant", c.tenant, "Only this tenant's");
  c.token_list->add_flag("--json", c.json_out, "JSON instead of a table");
  c.token_revoke = token->add_subcommand("revoke", "Revoke a token by id");
  common(c.token_revoke);
  c.token_revoke->add_option("id", c.id, "Token id (closeloop token list)")->required();

  auto* audit = app.add_subcommand("audit", "The hash-chained audit log");
  audit->require_subcommand(1);
  c.audit_verify = audit->add_subcommand("verify", "Walk the chain; name the first bad row (exit 3)");
  common(c.audit_verify);
  c.audit_verify->add_flag("--json", c.json_out, "JSON result");
  c.audit_list = audit->add_subcommand("list", "Print audit entries, oldest first");
  common(c.audit_list);
  c.audit_list->add_option("--tenant", c.tenant, "Only this tenant's");
  c.audit_list->add_option("--since", c.since, "From this RFC 3339 time, or this long ago (7d, 12h)");
  c.audit_list->add_option("--action", c.action, "Only this action (a prefix ending in '.', e.g. token.)");
  c.audit_list->add_option("--limit", c.limit, "At most this many (default 1000)")->check(CLI::Range(1, 1000000));
  c.audit_list->add_flag("--json", c.json_out, "JSON lines");
}

std::optional<int> run_access_commands(const access_commands& c) {
  if (c.token_create && *c.token_create) return token_create(c);
  if (c.token_list && *c.token_list) return token_list(c);
  if (c.token_revoke && *c.token_revoke) return token_revoke(c);
  if (c.audit_verify && *c.audit_verify) return audit_verify(c);
  if (c.audit_list && *c.audit_list) return audit_list(c);
  return std::nullopt;
}

}  // namespace closeloop::cli
