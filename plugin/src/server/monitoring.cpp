// Monitoring routes and the worker's monitoring pass (monitoring.hpp).
#include "server/monitoring.hpp"

#include <spdlog/spdlog.h>

#include "monitor/report.hpp"
#include "monitor/service.hpp"

namespace closeloop::server::monitoring {
namespace {

using namespace closeloop::monitor;

http_response text_response(const http_request& req, const std::string& type, std::string body,
                            const std::string& filename = "") {
  http_response res{http::status::ok, req.version()};
  res.set(http::field::server, "closeloop");
  res.set(http::field::content_type, type);
  res.set(http::field::cache_control, "no-store");
  if (type.rfind("text/html", 0) == 0)
    res.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'");
  if (!filename.empty()) res.set(http::field::content_disposition, "attachment; filename=\"" + filename + "\"");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// The tenant must exist and the monitoring tables be open.
monitor_db* ready(const http_request& req, services& svc, const std::string& tenant, respond_fn& respond) {
  if (!svc.tenant(tenant)) {
    respond(json_error(req, http::status::not_found, "not_found", "unknown tenant \"" + tenant + "\""));
    return nullptr;
  }
  if (!svc.monitor()) {
    respond(json_error(req, http::status::service_unavailable, "no_store", "monitoring needs a file store"));
    return nullptr;
  }
  return svc.monitor();
}

struct range {
  std::int64_t from = 0, to = 0;
  period per = period::week;
  dimension by = dimension::all;
  std::string value, format = "json";
};

// from/to default to the last 30 days (today included); errors name the parameter.
result<range> parse_range(const http_request& req, services& svc, const char* default_format) {
  range r;
  const std::string_view t = req.target();
  const std::int64_t today = day_of(svc.clk().now());
  r.to = today;
  r.from = today - 29;
  if (auto v = query_param(t, "from")) {
    auto d = parse_day(*v);
    if (!d) return make_error(errc::invalid_argument, "from: " + d.err().message);
    r.from = *d;
  }
  if (auto v = query_param(t, "to")) {
    auto d = parse_day(*v);
    if (!d) return make_error(errc::invalid_argument, "to: " + d.err().message);
    r.to = *d;
  }
  if (r.from > r.to) return make_error(errc::invalid_argument, "from is after to");
  if (r.to - r.from > 3660) return make_error(errc::invalid_argument, "a range of at most 10 years");
  if (auto v = query_param(t, "period")) {
    auto p = period_from_string(*v);
    if (!p) return make_error(errc::invalid_argument, "period: one of day, week, month, all (not \"" + *v + "\")");
    r.per = *p;
  }
  if (auto v = query_param(t, "by")) {
    auto d = dimension_from_string(*v);
    if (!d)
      return make_error(errc::invalid_argument,
                        "by: one of all, agent, group, category, channel, language, tier (not \"" + *v + "\")");
    r.by = *d;
  }
  r.value = query_param(t, "value").value_or("");
  r.format = query_param(t, "format").value_or(default_format);
  return r;
}

void bad_request(const http_request& req, respond_fn& respond, const error& e) {
  respond(json_error(req, e.code == errc::invalid_argument ? http::status::bad_request : http::status::service_unavailable,
                     e.code == errc::invalid_argument ? "invalid_argument" : "store", e.message));
}

void audit(services& svc, const route_params& p, const std::string& tenant, const std::string& action,
           const std::string& target, const json& detail) {
  if (!svc.audit() || !p.who) return;
  if (auto r = svc.audit()->append(p.who->actor(), tenant, action, target, detail); !r)
    spdlog::error("audit: cannot record {} {} by {}: {}", action, target, p.who->actor(), r.err().message);
}

}  // namespace

void handle_metrics(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  auto* db = ready(req, svc, tenant, respond);
  if (!db) return;
  auto r = parse_range(req, svc, "json");
  if (!r) return bad_request(req, respond, r.err());
  if (r->format != "json" && r->format != "csv")
    return bad_request(req, respond, make_error(errc::invalid_argument, "format: json or csv"));
  auto rows = db->query({tenant, r->by, r->per, r->from, r->to});
  if (!rows) return bad_request(req, respond, rows.err());
  json out = {{"tenant", tenant},         {"by", to_string(r->by)},     {"period", to_string(r->per)},
              {"from", day_string(r->from)}, {"to", day_string(r->to)}, {"rows", json::array()}};
  for (const auto& row : *rows) {
    if (r->by != dimension::all && !r->value.empty() && row.segment != r->value) continue;
    json j = to_json(row.t);
    j["segment"] = row.segment;
    j["period"] = r->per == period::all ? json() : json(day_string(row.period_start));
    out["rows"].push_back(std::move(j));
  }
  if (r->format == "csv") {
    // The same rows as CSV: one trend-like section per segment.
    json doc = {{"from", out["from"]}, {"to", out["to"]}, {"segments", {{std::string(to_string(r->by)), out["rows"]}}}};
    std::string body = report_csv(doc);
    audit(svc, p, tenant, "metrics.export", "metrics", {{"by", to_string(r->by)}, {"from", out["from"]}, {"to", out["to"]}});
    return respond(text_response(req, "text/csv; charset=utf-8", std::move(body), "metrics-" + tenant + ".csv"));
  }
  respond(json_response(req, http::status::ok, out));
}

void handle_tickets(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  auto* db = ready(req, svc, tenant, respond);
  if (!db) return;
  auto r = parse_range(req, svc, "json");
  if (!r) return bad_request(req, respond, r.err());
  drill_query q;
  q.tenant = tenant;
  q.by = r->by;
  q.value = r->value;
  q.from_day = r->from;
  q.to_day = r->to;
  q.metric = query_param(req.target(), "metric").value_or("");
  try {
    if (auto v = query_param(req.target(), "limit")) q.limit = std::stoi(*v);
    if (auto v = query_param(req.target(), "offset")) q.offset = std::stoi(*v);
  } catch (const std::exception&) {
    return bad_request(req, respond, make_error(errc::invalid_argument, "limit and offset are numbers"));
  }
  auto rows = db->drill(q);
  if (!rows) return bad_request(req, respond, rows.err());
  if (r->format == "csv") {
    audit(svc, p, tenant, "metrics.export", "tickets",
          {{"by", to_string(q.by)}, {"value", q.value}, {"metric", q.metric}, {"rows", rows->size()}});
    return respond(text_response(req, "text/csv; charset=utf-8", facts_csv(*rows), "tickets-" + tenant + ".csv"));
  }
  json list = json::array();
  for (const auto& f : *rows) list.push_back(to_json(f));
  respond(json_response(req, http::status::ok,
                        {{"tenant", tenant}, {"metric", q.metric.empty() ? "tickets" : q.metric}, {"by", to_string(q.by)},
                         {"value", q.value}, {"from", day_string(q.from_day)}, {"to", day_string(q.to_day)},
                         {"limit", q.limit}, {"offset", q.offset}, {"tickets", list}}));
}

void handle_report(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  auto* db = ready(req, svc, tenant, respond);
  if (!db) return;
  auto r = parse_range(req, svc, "html");
  if (!r) return bad_request(req, respond, r.err());
  report_spec spec;
  spec.tenant = tenant;
  spec.per = r->per == period::all ? period::week : r->per;
  spec.from_day = r->from;
  spec.to_day = r->to;
  auto doc = build_report(*db, spec);
  if (!doc) return bad_request(req, respond, doc.err());
  if (r->format == "json") return respond(json_response(req, http::status::ok, *doc));
  if (r->format == "csv") {
    audit(svc, p, tenant, "report.export", "report", {{"from", (*doc)["from"]}, {"to", (*doc)["to"]}});
    return respond(text_response(req, "text/csv; charset=utf-8", report_csv(*doc), "report-" + tenant + ".csv"));
  }
  if (r->format != "html") return bad_request(req, respond, make_error(errc::invalid_argument, "format: html, json or csv"));
  respond(text_response(req, "text/html; charset=utf-8", report_html(*doc, "/api/v1/tenants/" + tenant + "/metrics/tickets")));
}

void handle_reports(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  auto* db = ready(req, svc, tenant, respond);
  if (!db) return;
  auto rows = list_reports(*db, tenant, 100);
  if (!rows) return bad_request(req, respond, rows.err());
  json list = json::array();
  for (const auto& r : *rows)
    list.push_back({{"id", r.id}, {"name", r.name}, {"period", r.period}, {"from", day_string(r.from_day)},
                    {"to", day_string(r.to_day)}, {"created_at", format_rfc3339(timestamp{std::chrono::milliseconds{r.created_ms}})},
                    {"delivery", r.delivery}});
  respond(json_response(req, http::status::ok, {{"tenant", tenant}, {"reports", list}}));
}

void handle_stored_report(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  auto* db = ready(req, svc, tenant, respond);
  if (!db) return;
  std::int64_t id = 0;
  try {
    id = std::stoll(p.at("id"));
  } catch (const std::exception&) {
    return respond(json_error(req, http::status::not_found, "not_found", "no report " + p.at("id")));
  }
  auto r = get_report(*db, tenant, id);
  if (!r) {
    return respond(json_error(req, r.err().code == errc::not_found ? http::status::not_found : http::status::service_unavailable,
                              r.err().code == errc::not_found ? "not_found" : "store", r.err().message));
  }
  const std::string format = query_param(req.target(), "format").value_or("json");
  if (format == "html") return respond(text_response(req, "text/html; charset=utf-8", r->html));
  respond(json_response(req, http::status::ok,
                        {{"id", r->id}, {"name", r->name}, {"period", r->period}, {"delivery", r->delivery}, {"report", r->report}}));
}

void handle_alerts(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  auto* db = ready(req, svc, tenant, respond);
  if (!db) return;
  const std::string status = query_param(req.target(), "status").value_or("");
  if (!status.empty() && status != "open" && status != "acknowledged" && status != "resolved")
    return bad_request(req, respond, make_error(errc::invalid_argument, "status: open, acknowledged or resolved"));
  auto rows = list_alerts(*db, tenant, status, 200);
  if (!rows) return bad_request(req, respond, rows.err());
  json list = json::array();
  for (const auto& a : *rows) list.push_back(to_json(a));
  respond(json_response(req, http::status::ok, {{"tenant", tenant}, {"alerts", list}}));
}

void handle_ack(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  auto* db = ready(req, svc, tenant, respond);
  if (!db) return;
  std::int64_t id = 0;
  try {
    id = std::stoll(p.at("id"));
  } catch (const std::exception&) {
    return respond(json_error(req, http::status::not_found, "not_found", "no alert " + p.at("id")));
  }
  // Who acknowledges: the body's "by" (the person), else the credential's label.
  std::string by = p.who ? (p.who->label.empty() ? p.who->actor() : p.who->label) : "";
  if (!req.body().empty()) {
    json b = json::parse(req.body(), nullptr, false);
    if (b.is_discarded() || !b.is_object())
      return bad_request(req, respond, make_error(errc::invalid_argument, "the body must be a JSON object"));
    if (b.contains("by")) {
      if (!b["by"].is_string() || b["by"].get<std::string>().empty())
        return bad_request(req, respond, make_error(errc::invalid_argument, "by: a non-empty string"));
      by = b["by"].get<std::string>();
    }
  }
  auto a = ack_alert(*db, tenant, id, by, svc.clk().now());
  if (!a) {
    return respond(json_error(req, a.err().code == errc::not_found ? http::status::not_found : http::status::bad_request,
                              a.err().code == errc::not_found ? "not_found" : "invalid_argument", a.err().message));
  }
  audit(svc, p, tenant, "alert.ack", "alert:" + std::to_string(id), {{"by", by}, {"rule", a->rule}, {"level", a->level}});
  respond(json_response(req, http::status::ok, to_json(*a)));
}

void handle_suggestions(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  auto* db = ready(req, svc, tenant, respond);
  if (!db) return;
  auto r = parse_range(req, svc, "json");
  if (!r) return bad_request(req, respond, r.err());
  int window_days = 7, windows = 12;
  std::int64_t min_sample = 30;
  try {
    if (auto v = query_param(req.target(), "window_days")) window_days = std::stoi(*v);
    if (auto v = query_param(req.target(), "windows")) windows = std::stoi(*v);
    if (auto v = query_param(req.target(), "min_sample")) min_sample = std::stoll(*v);
  } catch (const std::exception&) {
    return bad_request(req, respond, make_error(errc::invalid_argument, "window_days, windows and min_sample are numbers"));
  }
  if (window_days < 1 || window_days > 366 || windows < 3 || windows > 104)
    return bad_request(req, respond, make_error(errc::invalid_argument, "window_days 1..366 and windows 3..104"));
  const std::int64_t last = day_of(svc.clk().now()) - 1;
  auto w = window_tallies(*db, tenant, r->by, r->value, last, window_days, windows);
  if (!w) return bad_request(req, respond, w.err());
  std::vector<std::string> metrics;
  if (auto m = query_param(req.target(), "metric")) {
    if (!is_metric(*m)) return bad_request(req, respond, make_error(errc::invalid_argument, "metric: unknown \"" + *m + "\""));
    metrics.push_back(*m);
  } else {
    metrics = {"csat", "nps", "ces", "response_rate", "reopen_rate"};
  }
  respond(json_response(req, http::status::ok,
                        {{"tenant", tenant}, {"window_days", window_days}, {"windows", windows},
                         {"segment", {{"by", to_string(r->by)}, {"value", r->value}}},
                         {"note", "suggestions only: copy a condition into monitoring.alerts to use it"},
                         {"suggestions", suggest_thresholds(*w, metrics, min_sample)}}));
}

monitor::host_note_fn host_note_for(services& svc, const std::string& tenant) {
  return [&svc, tenant](const std::string& host, const std::string& ticket, const std::string& body) -> result<void> {
    adapters::adapter* ad = svc.adapter_for(tenant, host);
    if (!ad) return make_error(errc::not_found, "tenant \"" + tenant + "\" has no host \"" + host + "\"");
    action a;
    a.type = action_type::add_internal_note;
    a.tenant = tenant;
    a.host = host;
    a.ticket_id = ticket;
    a.idempotency_key = "monitor-note:" + std::to_string(std::hash<std::string>{}(body));
    a.caused_by = "monitor";
    a.params = {{"body", body}};
    auto out = ad->execute(a);
    if (out.k == adapters::action_outcome::kind::done) return {};
    return make_error(errc::upstream, "host note: " + out.message, out.k == adapters::action_outcome::kind::retry);
  };
}

int tick(services& svc) {
  auto* db = svc.monitor();
  if (!db) return 0;
  auto& runs = svc.monitor_runs();
  std::unique_lock lk(runs.mu, std::try_to_lock);
  if (!lk.owns_lock()) return 0;  // another worker thread is on it
  constexpr int batch = 2000;
  auto n = db->refresh(batch);
  if (!n) {
    spdlog::warn("monitor: facts not refreshed: {}", n.err().message);
    return 0;
  }
  const timestamp now = svc.clk().now();
  for (const auto& t : svc.cfg().tenants) {
    const auto* mc = svc.monitoring(t.id);
    if (!mc || (mc->alerts.empty() && mc->reports.empty())) continue;
    auto it = runs.last_pass.find(t.id);
    if (it != runs.last_pass.end() && now - it->second < std::chrono::seconds(mc->evaluate_every_s)) continue;
    runs.last_pass[t.id] = now;
    auto note = host_note_for(svc, t.id);
    auto a = evaluate_alerts(*db, t.id, *mc, now, note);
    auto r = run_scheduled_reports(*db, t.id, *mc, now, note, svc.public_base_url());
    for (const auto& l : a.log) spdlog::info("monitor tenant={} {}", t.id, l);
    for (const auto& l : r.log) spdlog::info("monitor tenant={} {}", t.id, l);
  }
  return *n >= batch ? 1 : 0;
}

}  // namespace closeloop::server::monitoring
