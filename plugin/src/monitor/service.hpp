#pragma once
// The monitoring loop the worker runs (and the CLI): tenant `monitoring` config, the alert and
// report tables, alert evaluation with raise / escalate / resolve, scheduled reports.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "closeloop/model.hpp"
#include "monitor/alerts.hpp"
#include "monitor/delivery.hpp"
#include "monitor/facts.hpp"
#include "monitor/report.hpp"

namespace closeloop::monitor {

struct report_schedule {
  std::string name;
  period per = period::week;
  std::vector<std::string> deliver;  // channel ids
};

// tenant.monitoring (schemas/config.schema.json). Defaults here.
struct monitoring_config {
  int evaluate_every_s = 300;
  std::vector<alert_rule> alerts;
  std::map<std::string, channel> channels;
  std::vector<report_schedule> reports;
};
result<monitoring_config> parse_monitoring(const nlohmann::json& monitoring, const std::string& where);

// ---- alert rows -----------------------------------------------------------------------------
struct alert_row {
  std::int64_t id = 0;
  std::string tenant, rule, level, owner, status;  // status: open | acknowledged | resolved
  std::int64_t period_start = 0;
  nlohmann::json detail = nlohmann::json::object();
  std::int64_t raised_at_ms = 0;
  std::string acked_by;
  std::optional<std::int64_t> acked_at_ms;
  nlohmann::json delivery = nlohmann::json::array();
};
nlohmann::json to_json(const alert_row& a);

// status "" = any; newest first.
result<std::vector<alert_row>> list_alerts(monitor_db& db, const std::string& tenant, const std::string& status, int limit);
result<alert_row> get_alert(monitor_db& db, const std::string& tenant, std::int64_t id);
// Acknowledges an open alert of the tenant (not_found for another tenant's id; acknowledging again
// keeps the first acknowledgement).
result<alert_row> ack_alert(monitor_db& db, const std::string& tenant, std::int64_t id, const std::string& by,
                            timestamp now);

// ---- stored reports -------------------------------------------------------------------------
struct stored_report {
  std::int64_t id = 0;
  std::string tenant, name, period;
  std::int64_t from_day = 0, to_day = 0, created_ms = 0;
  nlohmann::json report;
  std::string html;
  nlohmann::json delivery = nlohmann::json::array();
};
result<std::vector<stored_report>> list_reports(monitor_db& db, const std::string& tenant, int limit);  // without html/report
result<stored_report> get_report(monitor_db& db, const std::string& tenant, std::int64_t id);

// ---- one pass -------------------------------------------------------------------------------
struct pass_result {
  int raised = 0, resolved = 0, reports = 0, delivery_failures = 0, redelivered = 0;
  std::vector<std::string> log;
};
// Evaluates every rule of the tenant at `now` (windows end yesterday): a new or worse level raises
// an alert (delivered on the rule's channels), green resolves the rule's open alerts. First, an
// open alert's delivery that failed in a retryable way (peer unreachable, HTTP 5xx/408/429, SMTP
// 4xx) is tried again on that channel, once per pass, up to 6 attempts; each delivery entry keeps
// {channel, ok, attempts, error, retry}.
pass_result evaluate_alerts(monitor_db& db, const std::string& tenant, const monitoring_config& cfg, timestamp now,
                            const host_note_fn& host_note);
// Builds, stores and sends each scheduled report whose last complete period has no stored report.
// First, a stored report's delivery that failed in a retryable way is tried again on that channel
// only, like an alert's (once per pass, up to 6 attempts; the message is rebuilt from the row); its
// row's `delivery` keeps the same {channel, ok, attempts, error, retry} entries.
pass_result run_scheduled_reports(monitor_db& db, const std::string& tenant, const monitoring_config& cfg,
                                  timestamp now, const host_note_fn& host_note, const std::string& base_url);

}  // namespace closeloop::monitor
