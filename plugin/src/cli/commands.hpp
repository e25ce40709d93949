#pragma once
#include <optional>
#include <string>
#include <vector>

#include "closeloop/config.hpp"

namespace closeloop::cli {

struct serve_options {
  std::string config_path;
  std::optional<int> port;
  std::string port_file;
  std::string db_path;
  bool no_worker = false;
};
struct replay_options {
  std::string config_path, url, tenant, host;
  std::vector<std::string> files;
  bool rebase_time = false;  // stamp each event with the time it is sent
};
struct receive_options {
  std::string config_path, secret, listen = "127.0.0.1";
  int port = 8089;
};
struct migrate_options {
  std::string config_path, db_path;
};
struct doctor_options {
  std::string config_path, db_path;
  bool offline = false;
};

struct export_options {
  std::string config_path, db_path, tenant, task = "category", out;
  bool corrected_only = false;
};

struct kb_report_cli_options {
  std::string config_path, db_path, tenant;
  int min_tickets = 3;
  double weak_avg_score = 3.0, weak_reopen_rate = 0.3;
  bool json_out = false;
};

struct health_cli_options {
  std::string config_path, db_path, tenant, customer;
  bool json_out = false;
};

int run_serve(const serve_options& o);
int run_health(const health_cli_options& o);
int run_kb_report(const kb_report_cli_options& o);
int run_export(const export_options& o);
int run_replay(const replay_options& o);
int run_migrate(const migrate_options& o);
int run_doctor(const doctor_options& o);
int run_receive(const receive_options& o);

// Loads the config and prints the error (naming the key) on failure.
std::optional<config> load_or_report(const std::string& path);

}  // namespace closeloop::cli
