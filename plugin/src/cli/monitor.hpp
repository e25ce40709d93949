#pragma once
// `closeloop report` and `closeloop alerts list|ack|suggest|evaluate` (monitor.cpp): satisfaction
// reports and alerts from the command line (README "Monitoring and reports").
#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace closeloop::cli {

struct monitor_commands {
  std::string config_path, db_path, tenant;
  // report
  std::string period = "week", from, to, format = "html", out;
  // alerts
  std::string status, by, metric, segment_by = "all", segment_value;
  std::int64_t id = 0;
  int window_days = 7, windows = 12;
  std::int64_t min_sample = 30;
  bool json_out = false;
  CLI::App *report = nullptr, *list = nullptr, *ack = nullptr, *suggest = nullptr, *evaluate = nullptr;
};

void add_monitor_commands(CLI::App& app, monitor_commands& c);
// The exit status of the chosen command; nullopt when none of them was chosen.
std::optional<int> run_monitor_commands(const monitor_commands& c);

}  // namespace closeloop::cli
