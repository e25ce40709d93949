#pragma once
// `closeloop secret keygen|set|list|delete|import`, `closeloop rekey` (secrets.cpp) and
// `closeloop privacy opt-out|opt-in|export|erase|purge` (privacy.cpp).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "closeloop/audit.hpp"
#include "closeloop/config.hpp"
#include "closeloop/privacy_store.hpp"
#include "closeloop/secrets.hpp"
#include "closeloop/store.hpp"

namespace closeloop::cli {

class doctor_report;

struct privacy_commands {
  std::string config_path, db_path, tenant, host, name, out, customer, new_key_file;
  bool force = false;
  bool server_scope = false;  // secret set/delete --server: a server-wide secret (server.metrics_token)
  CLI::App *keygen = nullptr, *set = nullptr, *list = nullptr, *del = nullptr, *import = nullptr, *rekey = nullptr;
  CLI::App *opt_out = nullptr, *opt_in = nullptr, *exporter = nullptr, *erase = nullptr, *purge = nullptr;
};

void add_privacy_commands(CLI::App& app, privacy_commands& c);
// The exit status of the chosen command; nullopt when none of them was chosen.
std::optional<int> run_privacy_commands(const privacy_commands& c);
std::optional<int> run_secret_commands(const privacy_commands& c);

// What the secret and privacy commands work on: the config, the tenants chosen (--tenant, else
// all), the store (migrated, kept open) and its secrets, privacy and audit views.
struct cli_stores {
  config cfg;
  std::vector<std::string> tenants;
  std::unique_ptr<store> db;
  std::unique_ptr<secret_store> secrets;
  std::unique_ptr<privacy_store> privacy;
  std::unique_ptr<audit_log> audit;
};
// Prints the error (naming the command) and returns nullopt on failure.
std::optional<cli_stores> open_cli_stores(const privacy_commands& c, const char* cmd);
// Appends an audit entry with the CLI user as actor; false (and a message) when it cannot.
bool audit_cli(audit_log& a, const std::string& tenant, const std::string& action, const std::string& target,
               const json& detail);

// doctor: the key loads and opens every stored secret the config refers to; secrets written in
// clear in the config are a note with the command that moves them into the store.
void check_secrets(const config& cfg, doctor_report& r);

// Loads the config and resolves its {"ref": NAME} secrets from the store (migrating it first);
// prints the error on failure.
std::optional<config> load_resolved_or_report(const std::string& path, const std::string& db_path = {});

}  // namespace closeloop::cli
