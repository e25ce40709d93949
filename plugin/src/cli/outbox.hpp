#pragma once
// `closeloop outbox list|retry` (outbox.cpp): the dead-letter view of the outbox and its replay.
#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace closeloop::cli {

struct outbox_commands {
  std::string config_path, db_path, tenant, status;
  std::optional<std::int64_t> id;
  int limit = 100;
  bool all_failed = false, json_out = false;
  CLI::App *list = nullptr, *retry = nullptr;
};

void add_outbox_commands(CLI::App& app, outbox_commands& c);
// The exit status of the chosen outbox command; nullopt when neither was chosen.
std::optional<int> run_outbox_commands(const outbox_commands& c);

}  // namespace closeloop::cli
