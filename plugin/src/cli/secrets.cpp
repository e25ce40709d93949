// closeloop secret keygen|set|list|delete|import and closeloop rekey (README "Secrets"). Values
// are read from stdin, never argv, and never printed. Changes are recorded in the audit log.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/commands.hpp"
#include "cli/privacy.hpp"
#include "closeloop/audit.hpp"
#include "closeloop/secret_config.hpp"
#include "closeloop/store.hpp"

namespace closeloop::cli {

std::optional<config> load_resolved_or_report(const std::string& path, const std::string& db_path) {
  auto cfg = load_or_report(path);
  if (!cfg) return std::nullopt;
  if (!db_path.empty()) cfg->store.path = db_path;
  if (cfg->secret_refs.empty()) return cfg;
  store_options so;
  so.path = cfg->store.path;
  if (auto db = store::open(so); !db) {
    std::cerr << "closeloop: " << db.err().message << "\n";
    return std::nullopt;
  }
  if (auto r = resolve_stored_secrets(*cfg); !r) {
    std::cerr << "closeloop: " << r.err().message << "\n";
    return std::nullopt;
  }
  return cfg;
}

namespace {

std::optional<key_ring> ring_or_report(const config& cfg, const char* cmd) {
  auto ring = load_key_ring(cfg.security.key_file, cfg.security.previous_key_files);
  if (!ring) {
    std::cerr << "closeloop " << cmd << ": " << ring.err().message << "\n";
    return std::nullopt;
  }
  return std::move(*ring);
}

// Where `secret set` stores: a tenant of the config (and one of its hosts), or --server.
bool known_place(const config& cfg, const privacy_commands& c, const char* cmd) {
  const std::string& tenant = c.tenant;
  const std::string& host = c.host;
  if (c.server_scope) return true;
  if (tenant.empty()) {
    std::cerr << "closeloop " << cmd << ": --tenant ID or --server (a server-wide secret such as server.metrics_token)"
              << " is required\n";
    return false;
  }
  const tenant_config* t = cfg.find_tenant(tenant);
  if (!t) {
    std::cerr << "closeloop " << cmd << ": --tenant: \"" << tenant << "\" is not in the config\n";
    return false;
  }
  if (!host.empty() && !t->find_host(host)) {
    std::cerr << "closeloop " << cmd << ": --host: \"" << host << "\" is not a host of tenant " << tenant << "\n";
    return false;
  }
  return true;
}

int run_keygen(const privacy_commands& c) {
  auto key = generate_secret_key_base64();
  if (!key) {
    std::cerr << "closeloop secret keygen: " << key.err().message << "\n";
    return 1;
  }
  // 0600 and never over an existing key: losing a key loses every secret sealed with it.
  const int fd = ::open(c.out.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    std::cerr << "closeloop secret keygen: cannot create " << c.out << ": " << std::strerror(errno)
              << (errno == EEXIST ? " (an existing key is never overwritten)" : "") << "\n";
    return 1;
  }
  const std::string line = *key + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return 1;
  auto parsed = parse_secret_key(*key, "new key");
  std::cout << "wrote a new 256-bit key to " << c.out << " (key id " << (parsed ? parsed->id : "?")
            << "); set security.key_file to it\n";
  return 0;
}

int run_set(const privacy_commands& c) {
  auto o = open_cli_stores(c, "secret set");
  if (!o || !known_place(o->cfg, c, "secret set")) return 2;
  auto ring = ring_or_report(o->cfg, "secret set");
  if (!ring) return 2;
  if (isatty(STDIN_FILENO)) std::cerr << "value (then Enter and Ctrl-D): " << std::flush;
  std::string value((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  if (value.empty()) {
    std::cerr << "closeloop secret set: no value on stdin (e.g. `printf %s \"$TOKEN\" | closeloop secret set ...`)\n";
    return 2;
  }
  if (auto r = o->secrets->put(*ring, c.tenant, c.host, c.name, value); !r) {
    std::cerr << "closeloop secret set: " << r.err().message << "\n";
    return 1;
  }
  audit_cli(*o->audit, c.tenant, "secret.set", (c.host.empty() ? "" : c.host + "/") + c.name,
        {{"key_id", ring->current()->id}});
  std::cout << "stored secret \"" << c.name << "\" for " << (c.server_scope ? "the server" : "tenant " + c.tenant)
            << (c.host.empty() ? "" : " host " + c.host)
            << " (key " << ring->current()->id << "); refer to it as {\"ref\": \"" << c.name << "\"}\n";
  return 0;
}

int run_list(const privacy_commands& c) {
  auto o = open_cli_stores(c, "secret list");
  if (!o) return 2;
  auto rows = o->secrets->list(c.tenant);
  if (!rows) {
    std::cerr << "closeloop secret list: " << rows.err().message << "\n";
    return 1;
  }
  std::cout << "tenant\thost\tname\tkey_id\tupdated\n";
  for (const auto& e : *rows)
    std::cout << (e.tenant.empty() ? "(server)" : e.tenant) << "\t" << (e.host.empty() ? "-" : e.host) << "\t" << e.name << "\t" << e.key_id << "\t"
              << format_rfc3339(e.updated_at) << "\n";
  return 0;
}

int run_delete(const privacy_commands& c) {
  auto o = open_cli_stores(c, "secret delete");
  if (!o) return 2;
  if (c.tenant.empty() && !c.server_scope) {  // (a tenant no longer in the config may still be cleaned up)
    std::cerr << "closeloop secret delete: --tenant ID or --server is required\n";
    return 2;
  }
  auto r = o->secrets->remove(c.tenant, c.host, c.name);
  if (!r) {
    std::cerr << "closeloop secret delete: " << r.err().message << "\n";
    return 1;
  }
  if (!*r) {
    std::cerr << "closeloop secret delete: no secret \"" << c.name << "\" for "
              << (c.server_scope ? "the server" : "tenant " + c.tenant)
              << (c.host.empty() ? "" : " host " + c.host) << "\n";
    return 1;
  }
  audit_cli(*o->audit, c.tenant, "secret.delete", (c.host.empty() ? "" : c.host + "/") + c.name, json::object());
  std::cout << "deleted secret \"" << c.name << "\"\n";
  return 0;
}

// Moves every secret written in clear in the config into the store and prints the reference to
// put in its place (or writes the whole rewritten config with --out).
int run_import(const privacy_commands& c) {
  auto o = open_cli_stores(c, "secret import");
  if (!o) return 2;
  auto ring = ring_or_report(o->cfg, "secret import");
  if (!ring) return 2;
  json doc = o->cfg.source;
  int moved = 0;
  std::optional<error> failed;
  visit_secret_fields(doc, [&](secret_field& f) {
    if (failed || !f.value->is_string() || f.value->get<std::string>().empty()) return;
    if (auto r = o->secrets->put(*ring, f.tenant, f.host, f.path, f.value->get<std::string>()); !r) {
      failed = r.err();
      return;
    }
    audit_cli(*o->audit, f.tenant, "secret.import", (f.host.empty() ? "" : f.host + "/") + f.path,
          {{"key_id", ring->current()->id}});
    *f.value = json{{"ref", f.path}};
    std::cout << f.pointer << "  ->  {\"ref\": \"" << f.path << "\"}\n";
    ++moved;
  });
  if (failed) {
    std::cerr << "closeloop secret import: " << failed->message << "\n";
    return 1;
  }
  std::cout << moved << " secret(s) stored under key " << ring->current()->id << "\n";
  if (!c.out.empty()) {
    std::ofstream f(c.out, std::ios::trunc);
    if (!(f << doc.dump(2) << "\n")) {
      std::cerr << "closeloop secret import: cannot write " << c.out << "\n";
      return 1;
    }
    std::cout << "wrote the config with references to " << c.out << "\n";
  } else if (moved > 0) {
    std::cout << "replace each value above by its reference (or run again with --out FILE)\n";
  }
  return 0;
}

int run_rekey(const privacy_commands& c) {
  auto o = open_cli_stores(c, "rekey");
  if (!o) return 2;
  auto ring = ring_or_report(o->cfg, "rekey");
  if (!ring) return 2;
  auto fresh = load_secret_key_file(c.new_key_file);
  if (!fresh) {
    std::cerr << "closeloop rekey: --new-key-file: " << fresh.err().message << "\n";
    return 2;
  }
  auto n = o->secrets->rekey(*ring, *fresh);
  if (!n) {
    std::cerr << "closeloop rekey: " << n.err().message << "\n";
    return 1;
  }
  audit_cli(*o->audit, "", "secret.rekey", fresh->id, {{"values", *n}, {"from", ring->current()->id}});
  std::cout << "re-sealed " << *n << " secret(s) under key " << fresh->id << "; now set security.key_file to "
            << c.new_key_file << " and keep the old key in security.previous_key_files until every "
            << "closeloop process has restarted\n";
  return 0;
}

}  // namespace

std::optional<int> run_secret_commands(const privacy_commands& c) {
  if (c.keygen && *c.keygen) return run_keygen(c);
  if (c.set && *c.set) return run_set(c);
  if (c.list && *c.list) return run_list(c);
  if (c.del && *c.del) return run_delete(c);
  if (c.import && *c.import) return run_import(c);
  if (c.rekey && *c.rekey) return run_rekey(c);
  return std::nullopt;
}

}  // namespace closeloop::cli
