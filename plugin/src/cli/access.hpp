#pragma once
// `closeloop token create|list|revoke` and `closeloop audit verify|list` (access.cpp).
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace closeloop::cli {

struct access_commands {
  std::string config_path, db_path, tenant, role, label, expires_in, id, since, action;
  int limit = 1000;
  bool json_out = false;
  CLI::App *token_create = nullptr, *token_list = nullptr, *token_revoke = nullptr;
  CLI::App *audit_verify = nullptr, *audit_list = nullptr;
};

void add_access_commands(CLI::App& app, access_commands& c);
// The exit status of the chosen access command; nullopt when none of them was chosen.
std::optional<int> run_access_commands(const access_commands& c);

// "30d", "12h", "90m", "45s", "2w" -> seconds; nullopt when malformed or not positive.
std::optional<long long> parse_duration_s(const std::string& text);

}  // namespace closeloop::cli
