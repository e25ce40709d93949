// `closeloop`: serve, replay, migrate, doctor, receive, train, eval, classify, --version.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/access.hpp"
#include "cli/apps.hpp"
#include "cli/commands.hpp"
#include "cli/monitor.hpp"
#include "cli/learn.hpp"
#include "cli/privacy.hpp"
#include "server/log_scrub.hpp"
#include "cli/outbox.hpp"

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

  export_options exo;
  auto* exporter = app.add_subcommand(
      "export", "Write what agents and customers taught closeloop as labelled JSON lines for `closeloop train`");
  exporter->add_option("-c,--config", exo.config_path, "Configuration file (JSON)")->required();
  exporter->add_option("--db", exo.db_path, "SQLite database file instead of the configured one");
  exporter->add_option("--tenant", exo.tenant, "Tenant id")->required();
  exporter->add_option("--task", exo.task, "category (agent corrections, confirmed categories) or sentiment "
                                           "(survey comments labelled by their score)");
  exporter->add_flag("--corrected-only", exo.corrected_only, "category: only what agents corrected");
  exporter->add_option("--out", exo.out, "Output file (default: stdout)");

  receive_options rco;
  health_cli_options ho;
  auto* health = app.add_subcommand("health", "Customer health / churn risk: score, band and reasons per customer");
  health->add_option("-c,--config", ho.config_path, "Configuration file (JSON)")->required();
  health->add_option("--db", ho.db_path, "SQLite database file instead of the configured one");
  health->add_option("--tenant", ho.tenant, "Tenant id")->required();
  health->add_option("--customer", ho.customer, "One customer (e-mail); default: every customer of the tenant");
  health->add_flag("--json", ho.json_out, "JSON instead of text");

  kb_report_cli_options kbo;
  auto* kb = app.add_subcommand("kb", "The knowledge loop: `kb report` judges articles by their tickets' outcomes");
  kb->require_subcommand(1);
  auto* kb_report = kb->add_subcommand("report", "Per article: survey answers and reopen rate of its tickets; weak ones flagged");
  kb_report->add_option("-c,--config", kbo.config_path, "Configuration file (JSON)")->required();
  kb_report->add_option("--db", kbo.db_path, "SQLite database file instead of the configured one");
  kb_report->add_option("--tenant", kbo.tenant, "Tenant id")->required();
  kb_report->add_option("--min-tickets", kbo.min_tickets, "Judge an article from this many tickets on (default 3)")
      ->check(CLI::Range(1, 100000));
  kb_report->add_option("--weak-score", kbo.weak_avg_score, "Mean survey answer at or below which it is weak (default 3)");
  kb_report->add_option("--weak-reopen", kbo.weak_reopen_rate, "Reopen rate at or above which it is weak (default 0.3)")
      ->check(CLI::Range(0.0, 1.0));
  kb_report->add_flag("--json", kbo.json_out, "JSON instead of text");

  auto* receive = app.add_subcommand("receive", "Receive and print the generic adapter's signed actions");
  receive->add_option("-c,--config", rco.config_path, "Take the secret of the config's generic host");
  receive->add_option("--secret", rco.secret, "Standard Webhooks secret (whsec_...)");
  receive->add_option("--listen", rco.listen, "Address to listen on");
  receive->add_option("--port", rco.port, "Port to listen on");

  auto add_data_flags = [](CLI::App* cmd, data_flags& f) {
    cmd->add_option("--text-column", f.text_column, "Text column/key (default: text, review, instruction, ...)");
    cmd->add_option("--label-column", f.label_column, "Label column/key (default: label, category, intent, cat)");
    cmd->add_option("--max-rows", f.max_rows, "Read at most this many rows of each file");
  };
  train_options tro;
  auto* train = app.add_subcommand("train", "Train a model from labelled text (CSV/TSV, JSON lines, JSON list)");
  train->add_option("--task", tro.task, "category, sentiment or urgency")->required();
  train->add_option("--input", tro.input, "Labelled examples")->required();
  train->add_option("--out", tro.out, "Model file to write")->required();
  train->add_option("--calibrate", tro.calibrate, "Labelled file with the reject label (oos) to pick the reject threshold");
  train->add_option("--members", tro.members, "fastText members next to the hashed linear model (default 1)");
  train->add_option("--threads", tro.threads, "Training threads (default 2)");
  train->add_flag("--no-quantize", tro.no_quantize, "Keep full-precision vectors (larger file)");
  train->add_flag("-q,--quiet", tro.quiet, "No progress on stderr");
  add_data_flags(train, tro.data);

  eval_options evo;
  auto* eval = app.add_subcommand("eval", "Train on one file (or load --model), evaluate on another");
  eval->add_option("--task", evo.task, "category, sentiment or urgency")->required();
  eval->add_option("--train", evo.train, "Labelled training examples");
  eval->add_option("--model", evo.model, "An existing model instead of --train");
  eval->add_option("--test", evo.test, "Labelled test examples")->required();
  eval->add_option("--calibrate", evo.calibrate, "Labelled file with the reject label (oos) to pick the reject threshold");
  eval->add_option("--save-model", evo.save_model, "Also write the trained model here");
  eval->add_option("--members", evo.members, "fastText members next to the hashed linear model (default 1)");
  eval->add_option("--threads", evo.threads, "Training threads (default 2)");
  eval->add_flag("--json", evo.json, "One JSON object on stdout");
  eval->add_flag("--no-quantize", evo.no_quantize, "Keep full-precision vectors (faster to train)");
  eval->add_flag("-q,--quiet", evo.quiet, "No progress on stderr");
  add_data_flags(eval, evo.data);

  classify_options clo;
  auto* classify = app.add_subcommand("classify", "Classify JSON lines {\"text\": ...} from stdin, one JSON line out each");
  classify->add_option("--model-dir", clo.model_dir, "Directory with category.model");
  classify->add_option("--task", clo.task, "all (default), language or category");

  access_commands acc;
  add_access_commands(app, acc);
  monitor_commands mon;
  add_monitor_commands(app, mon);

  outbox_commands obx;
  add_outbox_commands(app, obx);

  privacy_commands prv;
  add_privacy_commands(app, prv);

  app_commands apps;
  add_app_commands(app, apps);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  auto logger = spdlog::stderr_logger_mt("closeloop");
  logger->set_formatter(std::make_unique<closeloop::server::scrubbing_formatter>(closeloop::server::k_log_pattern));
  spdlog::set_default_logger(logger);

  if (auto rc = run_access_commands(acc)) return *rc;
  if (auto rc = run_monitor_commands(mon)) return *rc;
  if (auto rc = run_outbox_commands(obx)) return *rc;
  if (auto rc = run_privacy_commands(prv)) return *rc;
  if (auto rc = run_app_commands(apps)) return *rc;
  if (*serve) return run_serve(so);
  if (*replay) return run_replay(ro);
  if (*migrate) return run_migrate(mo);
  if (*doctor) return run_doctor(dopt);
  if (*receive) return run_receive(rco);
  if (*exporter) return run_export(exo);
  if (*kb_report) return run_kb_report(kbo);
  if (*health) return run_health(ho);
  if (*train) return run_train(tro);
  if (*eval) return run_eval(evo);
  if (*classify) return run_classify(clo);
  return 2;
}
