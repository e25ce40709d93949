// Monitoring config, alert and report rows, the evaluation pass and scheduled reports (service.hpp).
#include "monitor/service.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

namespace closeloop::monitor {

using nlohmann::json;

namespace {

error db_error(std::string_view what) {
  try {
    throw;
  } catch (const std::exception& e) {
    return make_error(errc::storage, std::string(what) + ": " + e.what());
  }
}

std::int64_t ms_of(timestamp t) { return t.time_since_epoch().count(); }

const char* const k_alert_cols =
    "id, tenant, rule, level, owner, status, period_start, detail, raised_at_ms, acked_by, acked_at_ms, delivery";

alert_row read_alert(SQLite::Statement& q) {
  alert_row a;
  a.id = q.getColumn(0).getInt64();
  a.tenant = q.getColumn(1).getString();
  a.rule = q.getColumn(2).getString();
  a.level = q.getColumn(3).getString();
  a.owner = q.getColumn(4).getString();
  a.status = q.getColumn(5).getString();
  a.period_start = q.getColumn(6).getInt64();
  a.detail = json::parse(q.getColumn(7).getString(), nullptr, false);
  a.raised_at_ms = q.getColumn(8).getInt64();
  a.acked_by = q.getColumn(9).getString();
  if (!q.getColumn(10).isNull()) a.acked_at_ms = q.getColumn(10).getInt64();
  a.delivery = json::parse(q.getColumn(11).getString(), nullptr, false);
  return a;
}

std::string at_string(std::int64_t ms) { return format_rfc3339(timestamp{std::chrono::milliseconds{ms}}); }

// One delivery attempt on channel `id`, recorded in `d` ({channel, ok, attempts, error, retry}):
// a failure the peer may get over (unreachable, 5xx, 429, SMTP 4xx) is marked for a retry.
void deliver_one(const monitoring_config& cfg, const std::string& id, const message& m, const host_note_fn& host_note,
                 json& d, int& failures, std::vector<std::string>& log) {
  auto it = cfg.channels.find(id);
  result<void> r = it == cfg.channels.end() ? result<void>(make_error(errc::invalid_config, "unknown channel " + id))
                                            : deliver(it->second, m, host_note);
  d["channel"] = id;
  d["ok"] = static_cast<bool>(r);
  d["attempts"] = d.value("attempts", 0) + 1;
  if (r) {
    d.erase("error");
    d.erase("retry");
    return;
  }
  d["error"] = r.err().message;
  d["retry"] = r.err().retryable;
  ++failures;
  log.push_back("delivery on " + id + " failed (attempt " + std::to_string(d["attempts"].get<int>()) +
                "): " + r.err().message);
}

json deliver_all(const monitoring_config& cfg, const std::vector<std::string>& ids, const message& m,
                 const host_note_fn& host_note, int& failures, std::vector<std::string>& log) {
  json out = json::array();
  for (const auto& id : ids) {
    json d = json::object();
    deliver_one(cfg, id, m, host_note, d, failures, log);
    out.push_back(std::move(d));
  }
  return out;
}

// What an alert says, from its row (the first delivery and every retry send the same message).
message alert_message(const alert_row& a) {
  const json& d = a.detail.is_object() ? a.detail : json::object();
  const json seg = d.value("segment", json::object());
  const std::string by = seg.value("by", "all");
  const std::string seg_text = by == "all" ? "all tickets" : by + " " + seg.value("value", "");
  const json window = d.value("window", json::object());
  message m;
  m.subject = "[closeloop] " + std::string(a.level == "red" ? "RED" : "YELLOW") + ": " + d.value("rule_name", a.rule) +
              " (" + a.tenant + ", " + seg_text + ")";
  m.text = d.value("summary", "") + "\nWindow: " + window.value("from", "") + " to " + window.value("to", "") +
           "\nOwner: " + (a.owner.empty() ? "(none)" : a.owner) + "\nAlert " + std::to_string(a.id) +
           " — acknowledge: closeloop alerts ack --tenant " + a.tenant + " --id " + std::to_string(a.id) +
           " --by NAME, or POST /api/v1/tenants/" + a.tenant + "/alerts/" + std::to_string(a.id) + "/ack";
  m.payload = {{"type", "closeloop.alert"}, {"id", a.id},        {"tenant", a.tenant}, {"rule", a.rule},
               {"level", a.level},          {"owner", a.owner}, {"detail", d}};
  return m;
}

// `table`: alerts or reports (a fixed name, never input); `what` names the row in the log.
void save_delivery(monitor_db& db, const char* table, std::int64_t id, const std::string& what, const json& delivery,
                   pass_result& out) {
  auto lk = db.lock();
  try {
    SQLite::Statement up(db.db(), std::string("UPDATE ") + table + " SET delivery = ? WHERE id = ?");
    up.bind(1, delivery.dump());
    up.bind(2, id);
    up.exec();
  } catch (...) {
    out.log.push_back(what + ": " + db_error("delivery").message);
  }
}

// A delivery that failed in a way worth retrying is tried again, once per pass, up to
// k_delivery_attempts attempts in all; a channel that got the message is never sent it again.
constexpr int k_delivery_attempts = 6;

bool retry_due(const json& d) {
  return d.is_object() && !d.value("ok", true) && d.value("retry", false) &&
         d.value("attempts", 1) < k_delivery_attempts;
}

bool any_retry_due(const json& delivery) {
  if (!delivery.is_array()) return false;
  for (const auto& d : delivery)
    if (retry_due(d)) return true;
  return false;
}

// Retries the due entries of one row's `delivery` with its message; saves the row if it tried.
void redeliver_row(monitor_db& db, const char* table, std::int64_t id, const std::string& what, json& delivery,
                   const message& m, const monitoring_config& cfg, const host_note_fn& host_note, pass_result& out) {
  bool tried = false;
  for (auto& d : delivery) {
    if (!retry_due(d)) continue;
    const int before = out.delivery_failures;
    deliver_one(cfg, d.value("channel", ""), m, host_note, d, out.delivery_failures, out.log);
    if (out.delivery_failures == before) {
      ++out.redelivered;
      out.log.push_back(what + " delivered on " + d.value("channel", "") + " at attempt " +
                        std::to_string(d["attempts"].get<int>()));
    }
    tried = true;
  }
  if (tried) save_delivery(db, table, id, what, delivery, out);
}

// Open (not yet acknowledged) alerts whose delivery failed in a way worth retrying.
void redeliver(monitor_db& db, const std::string& tenant, const monitoring_config& cfg, const host_note_fn& host_note,
               pass_result& out) {
  auto open = list_alerts(db, tenant, "open", 200);
  if (!open) {
    out.log.push_back("alert redelivery: " + open.err().message);
    return;
  }
  for (auto& a : *open)
    if (any_retry_due(a.delivery))
      redeliver_row(db, "alerts", a.id, "alert " + a.rule, a.delivery, alert_message(a), cfg, host_note, out);
}

// What a scheduled report says, from its row (the first delivery and every retry send the same).
message report_message(const stored_report& rep, const std::string& base_url) {
  const json& r = rep.report;
  const json t = r.value("totals", json::object());
  auto f = [&](const char* k) {
    return t.contains(k) && t[k].is_number() ? std::to_string(static_cast<int>(t[k].get<double>() + 0.5)) : std::string("-");
  };
  message m;
  m.subject = "[closeloop] " + r.value("title", std::string("Satisfaction report")) + " " + rep.tenant + " " +
              day_string(rep.from_day) + ".." + day_string(rep.to_day);
  m.text = "CSAT " + f("csat") + " % (" + std::to_string(t.value("csat_n", 0)) + " answers), NPS " + f("nps") +
           ", response rate " + f("response_rate") + " %, reopen rate " + f("reopen_rate") + " %, " +
           std::to_string(t.value("tickets", 0)) + " tickets." +
           (base_url.empty() ? "" : "\nReport: " + base_url + "/api/v1/tenants/" + rep.tenant + "/reports/" + std::to_string(rep.id));
  m.html = rep.html;
  m.payload = {{"type", "closeloop.report"}, {"id", rep.id}, {"tenant", rep.tenant}, {"name", rep.name}, {"report", r}};
  return m;
}

// Stored reports whose delivery failed in a way worth retrying (the newest 50 are looked at).
void redeliver_reports(monitor_db& db, const std::string& tenant, const monitoring_config& cfg,
                       const host_note_fn& host_note, const std::string& base_url, pass_result& out) {
  auto recent = list_reports(db, tenant, 50);
  if (!recent) {
    out.log.push_back("report redelivery: " + recent.err().message);
    return;
  }
  for (const auto& head : *recent) {
    if (!any_retry_due(head.delivery)) continue;
    auto rep = get_report(db, tenant, head.id);
    if (!rep) {
      out.log.push_back("report " + head.name + ": " + rep.err().message);
      continue;
    }
    redeliver_row(db, "reports", rep->id, "report " + rep->name + " " + std::to_string(rep->id), rep->delivery,
                  report_message(*rep, base_url), cfg, host_note, out);
  }
}

}  // namespace

result<monitoring_config> parse_monitoring(const json& mon, const std::string& where) {
  monitoring_config c;
  if (!mon.is_object()) return c;
  c.evaluate_every_s = mon.value("evaluate_every_s", c.evaluate_every_s);
  auto ch = parse_channels(mon, where);
  if (!ch) return ch.err();
  c.channels = std::move(*ch);
  auto rules = parse_alert_rules(mon, where);
  if (!rules) return rules.err();
  c.alerts = std::move(*rules);
  const json& reps = mon.value("reports", json::array());
  for (std::size_t i = 0; i < reps.size(); ++i) {
    report_schedule s;
    s.name = reps[i].value("name", "");
    auto p = period_from_string(reps[i].value("period", "week"));
    if (!p || *p == period::all)
      return make_error(errc::invalid_config, "config: " + where + "/reports/" + std::to_string(i) +
                                                  "/period: day, week or month");
    s.per = *p;
    for (const auto& d : reps[i].value("deliver", json::array())) {
      std::string id = d.get<std::string>();
      if (!c.channels.count(id))
        return make_error(errc::invalid_config, "config: " + where + "/reports/" + std::to_string(i) +
                                                    "/deliver: unknown channel \"" + id + "\"");
      s.deliver.push_back(id);
    }
    c.reports.push_back(std::move(s));
  }
  return c;
}

json to_json(const alert_row& a) {
  return {{"id", a.id},
          {"tenant", a.tenant},
          {"rule", a.rule},
          {"level", a.level},
          {"owner", a.owner},
          {"status", a.status},
          {"window_start", day_string(a.period_start)},
          {"detail", a.detail},
          {"raised_at", at_string(a.raised_at_ms)},
          {"acked_by", a.acked_by},
          {"acked_at", a.acked_at_ms ? json(at_string(*a.acked_at_ms)) : json()},
          {"delivery", a.delivery}};
}

result<std::vector<alert_row>> list_alerts(monitor_db& db, const std::string& tenant, const std::string& status,
                                           int limit) {
  auto lk = db.lock();
  try {
    SQLite::Statement q(db.db(), std::string("SELECT ") + k_alert_cols +
                                     " FROM alerts WHERE tenant = ? AND (? = '' OR status = ?) ORDER BY id DESC LIMIT ?");
    q.bind(1, tenant);
    q.bind(2, status);
    q.bind(3, status);
    q.bind(4, limit);
    std::vector<alert_row> out;
    while (q.executeStep()) out.push_back(read_alert(q));
    return out;
  } catch (...) {
    return db_error("alerts list");
  }
}

result<alert_row> get_alert(monitor_db& db, const std::string& tenant, std::int64_t id) {
  auto lk = db.lock();
  try {
    SQLite::Statement q(db.db(), std::string("SELECT ") + k_alert_cols + " FROM alerts WHERE tenant = ? AND id = ?");
    q.bind(1, tenant);
    q.bind(2, id);
    if (!q.executeStep()) return make_error(errc::not_found, "no alert " + std::to_string(id) + " in tenant " + tenant);
    return read_alert(q);
  } catch (...) {
    return db_error("alert get");
  }
}

result<alert_row> ack_alert(monitor_db& db, const std::string& tenant, std::int64_t id, const std::string& by,
                            timestamp now) {
  if (by.empty()) return make_error(errc::invalid_argument, "who acknowledges the alert must be named");
  {
    auto lk = db.lock();
    try {
      SQLite::Statement q(db.db(),
                          "UPDATE alerts SET status = 'acknowledged', acked_by = ?, acked_at_ms = ?"
                          " WHERE tenant = ? AND id = ? AND status = 'open'");
      q.bind(1, by);
      q.bind(2, ms_of(now));
      q.bind(3, tenant);
      q.bind(4, id);
      q.exec();
    } catch (...) {
      return db_error("alert ack");
    }
  }
  return get_alert(db, tenant, id);
}

result<std::vector<stored_report>> list_reports(monitor_db& db, const std::string& tenant, int limit) {
  auto lk = db.lock();
  try {
    SQLite::Statement q(db.db(),
                        "SELECT id, name, period, from_day, to_day, created_ms, delivery FROM reports WHERE tenant = ?"
                        " ORDER BY id DESC LIMIT ?");
    q.bind(1, tenant);
    q.bind(2, limit);
    std::vector<stored_report> out;
    while (q.executeStep()) {
      stored_report r;
      r.id = q.getColumn(0).getInt64();
      r.tenant = tenant;
      r.name = q.getColumn(1).getString();
      r.period = q.getColumn(2).getString();
      r.from_day = q.getColumn(3).getInt64();
      r.to_day = q.getColumn(4).getInt64();
      r.created_ms = q.getColumn(5).getInt64();
      r.delivery = json::parse(q.getColumn(6).getString(), nullptr, false);
      out.push_back(std::move(r));
    }
    return out;
  } catch (...) {
    return db_error("reports list");
  }
}

result<stored_report> get_report(monitor_db& db, const std::string& tenant, std::int64_t id) {
  auto lk = db.lock();
  try {
    SQLite::Statement q(db.db(),
                        "SELECT id, name, period, from_day, to_day, created_ms, delivery, json, html FROM reports"
                        " WHERE tenant = ? AND id = ?");
    q.bind(1, tenant);
    q.bind(2, id);
    if (!q.executeStep()) return make_error(errc::not_found, "no report " + std::to_string(id) + " in tenant " + tenant);
    stored_report r;
    r.id = q.getColumn(0).getInt64();
    r.tenant = tenant;
    r.name = q.getColumn(1).getString();
    r.period = q.getColumn(2).getString();
    r.from_day = q.getColumn(3).getInt64();
    r.to_day = q.getColumn(4).getInt64();
    r.created_ms = q.getColumn(5).getInt64();
    r.delivery = json::parse(q.getColumn(6).getString(), nullptr, false);
    r.report = json::parse(q.getColumn(7).getString(), nullptr, false);
    r.html = q.getColumn(8).getString();
    return r;
  } catch (...) {
    return db_error("report get");
  }
}

pass_result evaluate_alerts(monitor_db& db, const std::string& tenant, const monitoring_config& cfg, timestamp now,
                            const host_note_fn& host_note) {
  pass_result out;
  redeliver(db, tenant, cfg, host_note, out);  // what failed on earlier passes first
  const std::int64_t last_day = day_of(now) - 1;
  for (const auto& rule : cfg.alerts) {
    int history = 2;
    for (const auto& c : rule.conditions) history = std::max(history, c.history + 1);
    auto w = window_tallies(db, tenant, rule.by, rule.value, last_day, rule.window_days, history);
    if (!w) {
      out.log.push_back("alert " + rule.id + ": " + w.err().message);
      continue;
    }
    const evaluation e = evaluate(rule, *w);
    const std::int64_t window_start = last_day - rule.window_days + 1;
    std::optional<alert_row> current;
    {
      auto lk = db.lock();
      try {
        SQLite::Statement q(db.db(), std::string("SELECT ") + k_alert_cols +
                                         " FROM alerts WHERE tenant = ? AND rule = ? AND status IN ('open', 'acknowledged')"
                                         " ORDER BY id DESC LIMIT 1");
        q.bind(1, tenant);
        q.bind(2, rule.id);
        if (q.executeStep()) current = read_alert(q);
        if (e.lvl == level::green) {
          if (current) {
            SQLite::Statement r(db.db(),
                                "UPDATE alerts SET status = 'resolved' WHERE tenant = ? AND rule = ? AND status IN ('open', 'acknowledged')");
            r.bind(1, tenant);
            r.bind(2, rule.id);
            out.resolved += r.exec();
            out.log.push_back("alert " + rule.id + " resolved: back to green");
          }
          continue;
        }
        if (current && level_from_string(current->level).value_or(level::green) >= e.lvl) continue;  // already raised
      } catch (...) {
        out.log.push_back("alert " + rule.id + ": " + db_error("alerts").message);
        continue;
      }
    }
    json detail = to_json(e);
    detail["rule_name"] = rule.name;
    detail["segment"] = {{"by", to_string(rule.by)}, {"value", rule.value}};
    detail["window"] = {{"from", day_string(window_start)}, {"to", day_string(last_day)}, {"days", rule.window_days}};
    std::int64_t id = 0;
    {
      auto lk = db.lock();
      try {
        SQLite::Transaction tx(db.db());
        if (current) {
          SQLite::Statement r(db.db(), "UPDATE alerts SET status = 'resolved' WHERE id = ?");  // superseded by a worse level
          r.bind(1, current->id);
          r.exec();
        }
        SQLite::Statement ins(db.db(),
                              "INSERT INTO alerts (tenant, rule, level, owner, period_start, detail, status, raised_at_ms)"
                              " VALUES (?, ?, ?, ?, ?, ?, 'open', ?) ON CONFLICT (tenant, rule, period_start, level) DO UPDATE"
                              " SET status = 'open', detail = excluded.detail, raised_at_ms = excluded.raised_at_ms,"
                              " acked_by = '', acked_at_ms = NULL RETURNING id");
        ins.bind(1, tenant);
        ins.bind(2, rule.id);
        ins.bind(3, std::string(to_string(e.lvl)));
        ins.bind(4, rule.owner);
        ins.bind(5, window_start);
        ins.bind(6, detail.dump());
        ins.bind(7, ms_of(now));
        if (ins.executeStep()) id = ins.getColumn(0).getInt64();
        ins.reset();
        tx.commit();
      } catch (...) {
        out.log.push_back("alert " + rule.id + ": " + db_error("alerts").message);
        continue;
      }
    }
    ++out.raised;
    alert_row row;
    row.id = id;
    row.tenant = tenant;
    row.rule = rule.id;
    row.level = std::string(to_string(e.lvl));
    row.owner = rule.owner;
    row.detail = detail;
    const message m = alert_message(row);
    json delivery = deliver_all(cfg, rule.deliver, m, host_note, out.delivery_failures, out.log);
    out.log.push_back("alert " + rule.id + " raised " + std::string(to_string(e.lvl)) + ": " + e.summary);
    save_delivery(db, "alerts", id, "alert " + rule.id, delivery, out);
  }
  return out;
}

pass_result run_scheduled_reports(monitor_db& db, const std::string& tenant, const monitoring_config& cfg,
                                  timestamp now, const host_note_fn& host_note, const std::string& base_url) {
  pass_result out;
  redeliver_reports(db, tenant, cfg, host_note, base_url, out);  // what failed on earlier passes first
  for (const auto& s : cfg.reports) {
    report_spec spec = last_complete(tenant, s.per, day_of(now));
    spec.title = (s.per == period::day ? "Daily" : s.per == period::week ? "Weekly" : "Monthly") +
                 std::string(" satisfaction report");
    // Weekly reports show days, monthly ones weeks.
    spec.per = s.per == period::month ? period::week : period::day;
    {
      auto lk = db.lock();
      try {
        SQLite::Statement q(db.db(), "SELECT 1 FROM reports WHERE tenant = ? AND name = ? AND from_day = ?");
        q.bind(1, tenant);
        q.bind(2, s.name);
        q.bind(3, spec.from_day);
        if (q.executeStep()) continue;  // already made
      } catch (...) {
        out.log.push_back("report " + s.name + ": " + db_error("reports").message);
        continue;
      }
    }
    auto r = build_report(db, spec);
    if (!r) {
      out.log.push_back("report " + s.name + ": " + r.err().message);
      continue;
    }
    const std::string drill = base_url.empty() ? "" : base_url + "/api/v1/tenants/" + tenant + "/metrics/tickets";
    const std::string html = report_html(*r, drill);
    std::int64_t id = 0;
    {
      auto lk = db.lock();
      try {
        SQLite::Statement ins(db.db(),
                              "INSERT INTO reports (tenant, name, period, from_day, to_day, created_ms, json, html, delivery)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, name, from_day) DO NOTHING RETURNING id");
        ins.bind(1, tenant);
        ins.bind(2, s.name);
        ins.bind(3, std::string(to_string(s.per)));
        ins.bind(4, spec.from_day);
        ins.bind(5, spec.to_day);
        ins.bind(6, ms_of(now));
        ins.bind(7, r->dump());
        ins.bind(8, html);
        // Each channel pending until its first attempt is recorded: a worker that dies before
        // that leaves the report to the next pass's retries, not unsent.
        json pending = json::array();
        for (const auto& c : s.deliver)
          pending.push_back({{"channel", c}, {"ok", false}, {"attempts", 0}, {"retry", true}, {"error", "not sent yet"}});
        ins.bind(9, pending.dump());
        if (!ins.executeStep()) continue;  // another worker made it meanwhile
        id = ins.getColumn(0).getInt64();
      } catch (...) {
        out.log.push_back("report " + s.name + ": " + db_error("reports").message);
        continue;
      }
    }
    ++out.reports;
    stored_report rep;
    rep.id = id;
    rep.tenant = tenant;
    rep.name = s.name;
    rep.from_day = spec.from_day;
    rep.to_day = spec.to_day;
    rep.report = std::move(*r);
    rep.html = html;
    json delivery = deliver_all(cfg, s.deliver, report_message(rep, base_url), host_note, out.delivery_failures, out.log);
    save_delivery(db, "reports", id, "report " + s.name + " " + std::to_string(id), delivery, out);
    out.log.push_back("report " + s.name + " " + day_string(spec.from_day) + " stored as " + std::to_string(id));
  }
  return out;
}

}  // namespace closeloop::monitor
