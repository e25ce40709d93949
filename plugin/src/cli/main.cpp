// `closeloop`: serve, replay, migrate, doctor, --version.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  using namespace closeloop::cli;
  CLI::App app{"closeloop: closes the customer-feedback loop inside your helpdesk"};
  app.set_version_flag("--version", std::string("closeloop ") + CLOSELOOP_VERSION_STRING);
  app.require_subcommand(1);

  serve_options so;
  auto* serve = app.add_subcommand("serve", "Run the bridge server (webhooks, metrics) and the worker");
  serve->add_option("-c,--config", so.config_path, "Configuration file (JSON)")->required();
  serve->add_option("--port", so.port, "Listen on this port instead of the configured one (0: any free port)");
  serve->add_option("--port-file", so.port_file, "Write the bound port to this file once listening");
  serve->add_option("--db", so.db_path, "SQLite database file instead of the configured one");
  serve->add_flag("--no-worker", so.no_worker, "Do not run deferred actions (ingest only)");

  replay_options ro;
  auto* replay = app.add_subcommand("replay", "Send event files, signed, to a running server and print its decisions");
  replay->add_option("-c,--config", ro.config_path, "Configuration file (JSON): secret and address")->required();
  replay->add_option("--url", ro.url, "Server base URL (default: from the config's listen address and port)");
  replay->add_option("--tenant", ro.tenant, "Tenant id (default: the event's, else the first tenant)");
  replay->add_option("--host", ro.host, "Host id (default: the event's, else the tenant's first host)");
  replay->add_flag("--rebase-time", ro.rebase_time, "Stamp each event with the time it is sent (demo)");
  replay->add_option("files", ro.files, "Event JSON files or directories (their *.json, sorted)")->required();

  migrate_options mo;
  auto* migrate = app.add_subcommand("migrate", "Create or upgrade the database schema");
  migrate->add_option("-c,--config", mo.config_path, "Configuration file (JSON)")->required();
  migrate->add_option("--db", mo.db_path, "SQLite database file instead of the configured one");

  doctor_options dopt;
  auto* doctor = app.add_subcommand("doctor", "Check configuration, database and hosts, in plain words");
  doctor->add_option("-c,--config", dopt.config_path, "Configuration file (JSON)")->required();
  doctor->add_option("--db", dopt.db_path, "SQLite database file instead of the configured one");
  doctor->add_flag("--offline", dopt.offline, "Do not contact the configured hosts");

  receive_options rco;
  auto* receive = app.add_subcommand("receive", "Receive and print the generic adapter's signed actions");
  receive->add_option("-c,--config", rco.config_path, "Take the secret of the config's generic host");
  receive->add_option("--secret", rco.secret, "Standard Webhooks secret (whsec_...)");
  receive->add_option("--listen", rco.listen, "Address to listen on");
  receive->add_option("--port", rco.port, "Port to listen on");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  auto logger = spdlog::stderr_logger_mt("closeloop");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);

  if (*serve) return run_serve(so);
  if (*replay) return run_replay(ro);
  if (*migrate) return run_migrate(mo);
  if (*doctor) return run_doctor(dopt);
  if (*receive) return run_receive(rco);
  return 2;
}
