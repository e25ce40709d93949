// Alerts and scheduled reports end to end over real sockets: a rule over real rollups (SQLite)
// raises a red alert delivered as a signed webhook, a Slack-compatible message, an e-mail through
// a real SMTP conversation with a loopback SMTP server, and an internal note on a tracking ticket;
// evaluating again raises nothing new; the alert is acknowledged; healthy figures resolve it.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <mutex>

#include "closeloop/store.hpp"
#include "common/crypto.hpp"
#include "loopback_server.hpp"
#include "monitor/service.hpp"
#include "smtp_server.hpp"

using namespace closeloop;
using namespace closeloop::monitor;
using nlohmann::json;

namespace {

struct temp_db {
  std::filesystem::path dir;
  std::string path;
  std::unique_ptr<store> st;
  std::unique_ptr<monitor_db> db;
  temp_db() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "closeloop-mon-XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
    path = (dir / "m.db").string();
    auto s = store::open(store_options{path});
    REQUIRE(s);
    st = std::move(*s);
    auto m = monitor_db::open(path);
    REQUIRE(m);
    db = std::move(*m);
  }
  ~temp_db() {
    db.reset();
    st.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// n csat answers per day over the 7 days before `today`, `good` of each 10 scoring 4-5.
std::vector<fact> week_of(std::int64_t today, int per_day, int good_of_10, const std::string& prefix) {
  std::vector<fact> out;
  for (int d = 1; d <= 7; ++d)
    for (int i = 0; i < per_day; ++i) {
      fact f;
      f.tenant = "acme";
      f.host = "zendesk";
      f.ticket_id = prefix + std::to_string(d) + "-" + std::to_string(i);
      f.day = today - d;
      f.solved = f.surveyed = true;
      f.kind = "csat";
      f.group = "Billing";
      f.score = i % 10 < good_of_10 ? 5 : 2;
      out.push_back(f);
    }
  return out;
}

monitoring_config config_for(const test::loopback_server& hooks, int smtp_port) {
  json mon = {{"channels",
               {{"hook", {{"type", "webhook"}, {"url", hooks.url("/alerts")}, {"secret", "0123456789abcdef0123"}}},
                {"slack", {{"type", "slack"}, {"url", hooks.url("/slack")}}},
                {"mail",
                 {{"type", "email"},
                  {"smtp_host", "127.0.0.1"},
                  {"smtp_port", smtp_port},
                  {"from", "closeloop@example.com"},
                  {"to", {"lead@example.com", "ops@example.com"}}}},
                {"tracker", {{"type", "host_note"}, {"host", "zendesk"}, {"ticket", "900"}}}}},
              {"alerts",
               {{{"id", "csat-billing"},
                 {"owner", "lead@example.com"},
                 {"segment", {{"by", "group"}, {"value", "Billing"}}},
                 {"min_sample", 30},
                 {"deliver", {"hook", "slack", "mail", "tracker"}},
                 {"conditions", {{{"metric", "csat"}, {"type", "absolute"}, {"yellow", 80}, {"red", 70}}}}}}},
              {"reports", {{{"name", "weekly"}, {"period", "week"}, {"deliver", {"mail"}}}}}};
  auto c = parse_monitoring(mon, "/tenants/0/monitoring");
  REQUIRE(c);
  return *c;
}

}  // namespace

TEST_CASE("monitor: a red alert is delivered on every channel, acknowledged and resolved", "[integration][monitor]") {
  temp_db t;
  test::loopback_server hooks;
  itest::smtp_server smtp;
  const timestamp now = *parse_rfc3339("2026-11-23T08:00:00Z");
  const std::int64_t today = day_of(now);
  REQUIRE(t.db->put_facts(week_of(today, 10, 5, "a")));  // CSAT 50 % over 70 answers
  auto cfg = config_for(hooks, smtp.port());
  std::vector<std::string> notes;
  host_note_fn note = [&](const std::string& host, const std::string& ticket, const std::string& body) -> result<void> {
    notes.push_back(host + "#" + ticket + ": " + body);
    return {};
  };

  auto p = evaluate_alerts(*t.db, "acme", cfg, now, note);
  INFO(json(p.log).dump());
  CHECK(p.raised == 1);
  CHECK(p.delivery_failures == 0);
  auto alerts = list_alerts(*t.db, "acme", "open", 10);
  REQUIRE(alerts->size() == 1);
  const alert_row a = alerts->front();
  CHECK(a.level == "red");
  CHECK(a.owner == "lead@example.com");

  // Signed webhook: the signature verifies over timestamp "." body with the channel's secret.
  REQUIRE(hooks.wait_for_requests(2));
  auto reqs = hooks.requests();
  const auto* hook = reqs[0].target == "/alerts" ? &reqs[0] : &reqs[1];
  REQUIRE(hook->target == "/alerts");
  const std::string ts = *hook->header("x-closeloop-timestamp");
  CHECK(*hook->header("x-closeloop-signature") == webhook_signature("0123456789abcdef0123", ts, hook->body));
  CHECK(*hook->header("x-closeloop-signature") ==
        "sha256=" + adapters::crypto::hex_encode(adapters::crypto::hmac_sha256("0123456789abcdef0123", ts + "." + hook->body)));
  json body = json::parse(hook->body);
  CHECK(body["level"] == "red");
  CHECK(body["id"] == a.id);
  CHECK(body["detail"]["conditions"][0]["value"].get<double>() == Approx(50));
  // Slack-compatible incoming webhook: {"text": ...}.
  const auto& slack = reqs[0].target == "/slack" ? reqs[0] : reqs[1];
  REQUIRE(slack.target == "/slack");
  CHECK(json::parse(slack.body)["text"].get<std::string>().find("RED") != std::string::npos);
  // E-mail: a real SMTP conversation.
  REQUIRE(smtp.wait_for(1));
  auto mail = smtp.messages().front();
  CHECK(mail.from == "<closeloop@example.com>");
  CHECK(mail.rcpt == std::vector<std::string>{"<lead@example.com>", "<ops@example.com>"});
  CHECK(mail.data.find("Subject: [closeloop] RED: csat-billing (acme, group Billing)") != std::string::npos);
  CHECK(mail.commands.front().rfind("EHLO ", 0) == 0);
  CHECK(mail.commands.back() == "DATA");  // recorded when the message ends; QUIT follows
  // Internal note on the tracking ticket.
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].rfind("zendesk#900: [closeloop] RED", 0) == 0);

  // Evaluating again: still red, nothing new raised or sent.
  p = evaluate_alerts(*t.db, "acme", cfg, now, note);
  CHECK(p.raised == 0);
  CHECK(notes.size() == 1);
  CHECK(smtp.messages().size() == 1);

  // Acknowledged by its owner; another tenant cannot see or acknowledge it.
  auto acked = ack_alert(*t.db, "acme", a.id, "lead@example.com", now);
  REQUIRE(acked);
  CHECK(acked->status == "acknowledged");
  CHECK(acked->acked_by == "lead@example.com");
  auto foreign = ack_alert(*t.db, "globex", a.id, "mallory", now);
  REQUIRE_FALSE(foreign);
  CHECK(foreign.err().code == errc::not_found);

  // The figures recover (the same tickets now answered well): resolved.
  REQUIRE(t.db->put_facts(week_of(today, 10, 10, "a")));
  p = evaluate_alerts(*t.db, "acme", cfg, now, note);
  CHECK(p.resolved == 1);
  CHECK(get_alert(*t.db, "acme", a.id)->status == "resolved");
}

TEST_CASE("monitor: a delivery that failed is tried again on the next passes until it goes through; "
          "a refusal is not retried, and retries stop after 6 attempts",
          "[integration][monitor]") {
  temp_db t;
  test::loopback_server hooks;
  const timestamp now = *parse_rfc3339("2026-11-23T08:00:00Z");
  REQUIRE(t.db->put_facts(week_of(day_of(now), 10, 5, "r")));  // CSAT 50 %: red
  json mon = {{"channels",
               {{"hook", {{"type", "webhook"}, {"url", hooks.url("/alerts")}, {"secret", "0123456789abcdef0123"}}},
                {"slack", {{"type", "slack"}, {"url", hooks.url("/slack")}}},
                {"dead", {{"type", "slack"}, {"url", hooks.url("/dead")}}}}},
              {"alerts",
               {{{"id", "csat-all"},
                 {"min_sample", 30},
                 {"deliver", {"hook", "slack", "dead"}},
                 {"conditions", {{{"metric", "csat"}, {"type", "absolute"}, {"yellow", 80}, {"red", 70}}}}}}}};
  auto cfg = parse_monitoring(mon, "/tenants/0/monitoring");
  REQUIRE(cfg);
  // The webhook receiver is down for the first try, Slack refuses the message (400: not retried),
  // the third receiver is down for good.
  std::map<std::string, int> seen;
  std::mutex mu;
  hooks.set_handler([&](const test::recorded_request& r) {
    std::lock_guard lk(mu);
    const int n = ++seen[r.target];
    if (r.target == "/alerts") return n == 1 ? test::scripted_response{503, {}, "down"} : test::scripted_response{};
    if (r.target == "/slack") return test::scripted_response{400, {}, "invalid_payload"};
    return test::scripted_response{502, {}, "bad gateway"};
  });
  auto count = [&](const std::string& target) {
    std::lock_guard lk(mu);
    return seen[target];
  };
  auto entry = [&](const alert_row& a, const std::string& ch) {
    for (const auto& d : a.delivery)
      if (d.value("channel", "") == ch) return d;
    return json();
  };

  auto p = evaluate_alerts(*t.db, "acme", *cfg, now, nullptr);
  INFO(json(p.log).dump());
  REQUIRE(p.raised == 1);
  CHECK(p.delivery_failures == 3);
  auto a = list_alerts(*t.db, "acme", "open", 10)->front();
  CHECK(entry(a, "hook") == json{{"channel", "hook"}, {"ok", false}, {"attempts", 1}, {"retry", true},
                                 {"error", "HTTP 503 from " + hooks.url("/alerts")}});
  CHECK(entry(a, "slack")["retry"] == false);

  // The next pass: the webhook goes through at its second attempt; Slack's refusal is not retried.
  p = evaluate_alerts(*t.db, "acme", *cfg, now, nullptr);
  CHECK(p.raised == 0);
  CHECK(p.redelivered == 1);
  a = list_alerts(*t.db, "acme", "open", 10)->front();
  CHECK(entry(a, "hook") == json{{"channel", "hook"}, {"ok", true}, {"attempts", 2}});
  CHECK(count("/alerts") == 2);
  CHECK(count("/slack") == 1);
  // Both webhook attempts carried the same alert.
  auto reqs = hooks.requests();
  std::vector<json> bodies;
  for (const auto& r : reqs)
    if (r.target == "/alerts") bodies.push_back(json::parse(r.body));
  REQUIRE(bodies.size() == 2);
  CHECK(bodies[0]["id"] == bodies[1]["id"]);
  CHECK(bodies[0]["detail"] == bodies[1]["detail"]);

  // The dead receiver is tried once per pass until 6 attempts, then left alone (the entry says why).
  for (int i = 0; i < 8; ++i) evaluate_alerts(*t.db, "acme", *cfg, now, nullptr);
  CHECK(count("/dead") == 6);
  a = list_alerts(*t.db, "acme", "open", 10)->front();
  CHECK(entry(a, "dead")["attempts"] == 6);
  CHECK(entry(a, "dead")["ok"] == false);
  CHECK(count("/alerts") == 2);
}

TEST_CASE("monitor: healthy figures or too few answers raise no alert", "[integration][monitor]") {
  temp_db t;
  test::loopback_server hooks;
  itest::smtp_server smtp;
  const timestamp now = *parse_rfc3339("2026-11-23T08:00:00Z");
  auto cfg = config_for(hooks, smtp.port());
  REQUIRE(t.db->put_facts(week_of(day_of(now), 2, 1, "few")));  // CSAT 50 %, but 14 answers < 30
  auto p = evaluate_alerts(*t.db, "acme", cfg, now, nullptr);
  CHECK(p.raised == 0);
  REQUIRE(t.db->put_facts(week_of(day_of(now), 10, 9, "ok")));  // + 70 answers at 90 %
  p = evaluate_alerts(*t.db, "acme", cfg, now, nullptr);
  CHECK(p.raised == 0);
  CHECK(list_alerts(*t.db, "acme", "", 10)->empty());
  CHECK(hooks.requests().empty());
  CHECK(smtp.messages().empty());
}

TEST_CASE("monitor: a refused SMTP recipient is reported with the server's reply", "[integration][monitor]") {
  itest::smtp_server smtp(/*refuse_rcpt=*/true);
  channel ch;
  ch.type = "email";
  ch.smtp_port = smtp.port();
  ch.from = "closeloop@example.com";
  ch.to = {"nobody@example.com"};
  auto r = send_mail(ch, message{"subject", "text", "", json::object()});
  REQUIRE_FALSE(r);
  CHECK(r.err().message.find("RCPT TO refused: 550 5.1.1 no such user") != std::string::npos);
  ch.to = {"evil@example.com>\r\nRCPT TO:<other@example.com"};
  CHECK_FALSE(send_mail(ch, message{}));
}

TEST_CASE("monitor: a scheduled weekly report is stored once and mailed with its HTML", "[integration][monitor]") {
  temp_db t;
  test::loopback_server hooks;
  itest::smtp_server smtp;
  const timestamp now = *parse_rfc3339("2026-11-23T08:00:00Z");  // a Monday: last week is 16..22
  REQUIRE(t.db->put_facts(week_of(day_of(now), 10, 8, "r")));
  auto cfg = config_for(hooks, smtp.port());
  auto p = run_scheduled_reports(*t.db, "acme", cfg, now, nullptr, "http://127.0.0.1:8080");
  INFO(json(p.log).dump());
  CHECK(p.reports == 1);
  CHECK(run_scheduled_reports(*t.db, "acme", cfg, now, nullptr, "").reports == 0);  // already made
  auto list = list_reports(*t.db, "acme", 10);
  REQUIRE(list->size() == 1);
  auto rep = get_report(*t.db, "acme", list->front().id);
  REQUIRE(rep);
  CHECK(rep->report["from"] == "2026-11-16");
  CHECK(rep->report["to"] == "2026-11-22");
  CHECK(rep->report["totals"]["csat"].get<double>() == Approx(80));
  CHECK(rep->html.find("<svg") != std::string::npos);
  CHECK_FALSE(get_report(*t.db, "globex", list->front().id));
  REQUIRE(smtp.wait_for(1));
  auto mail = smtp.messages().front();
  CHECK(mail.data.find("multipart/alternative") != std::string::npos);
  CHECK(mail.data.find("text/html") != std::string::npos);
}

TEST_CASE("monitor: a scheduled report's failed delivery is retried on the next passes, only on that channel; "
          "a refusal is not retried",
          "[integration][monitor]") {
  temp_db t;
  test::loopback_server hooks;
  const timestamp now = *parse_rfc3339("2026-11-23T08:00:00Z");
  REQUIRE(t.db->put_facts(week_of(day_of(now), 10, 8, "w")));
  json mon = {{"channels",
               {{"flaky", {{"type", "webhook"}, {"url", hooks.url("/flaky")}, {"secret", "0123456789abcdef0123"}}},
                {"fine", {{"type", "slack"}, {"url", hooks.url("/fine")}}},
                {"refuses", {{"type", "slack"}, {"url", hooks.url("/refuses")}}}}},
              {"reports", {{{"name", "weekly"}, {"period", "week"}, {"deliver", {"flaky", "fine", "refuses"}}}}}};
  auto cfg = parse_monitoring(mon, "/tenants/0/monitoring");
  REQUIRE(cfg);
  // "flaky" answers 503 twice, then accepts; "refuses" answers 400 (not retried).
  std::map<std::string, int> seen;
  std::mutex mu;
  hooks.set_handler([&](const test::recorded_request& r) {
    std::lock_guard lk(mu);
    const int n = ++seen[r.target];
    if (r.target == "/flaky") return n <= 2 ? test::scripted_response{503, {}, "busy"} : test::scripted_response{};
    if (r.target == "/refuses") return test::scripted_response{400, {}, "no"};
    return test::scripted_response{};
  });
  auto count = [&](const std::string& target) {
    std::lock_guard lk(mu);
    return seen[target];
  };
  auto entry = [&](const std::string& ch) {
    auto reps = list_reports(*t.db, "acme", 10);
    REQUIRE(reps->size() == 1);
    for (const auto& d : reps->front().delivery)
      if (d.value("channel", "") == ch) return d;
    return json();
  };

  auto p = run_scheduled_reports(*t.db, "acme", *cfg, now, nullptr, "");
  INFO(json(p.log).dump());
  REQUIRE(p.reports == 1);
  CHECK(p.delivery_failures == 2);
  CHECK(entry("flaky") == json{{"channel", "flaky"}, {"ok", false}, {"attempts", 1}, {"retry", true},
                               {"error", "HTTP 503 from " + hooks.url("/flaky")}});
  CHECK(entry("fine") == json{{"channel", "fine"}, {"ok", true}, {"attempts", 1}});
  CHECK(entry("refuses")["retry"] == false);

  p = run_scheduled_reports(*t.db, "acme", *cfg, now, nullptr, "");
  CHECK(p.reports == 0);
  CHECK(p.redelivered == 0);
  CHECK(entry("flaky")["attempts"] == 2);
  p = run_scheduled_reports(*t.db, "acme", *cfg, now, nullptr, "");
  CHECK(p.redelivered == 1);
  CHECK(entry("flaky") == json{{"channel", "flaky"}, {"ok", true}, {"attempts", 3}});
  for (int i = 0; i < 4; ++i) run_scheduled_reports(*t.db, "acme", *cfg, now, nullptr, "");

  // Delivered once on each channel that took it, the refusal tried once, nothing sent twice.
  CHECK(count("/flaky") == 3);
  CHECK(count("/fine") == 1);
  CHECK(count("/refuses") == 1);
  CHECK(entry("refuses")["attempts"] == 1);
  // Every attempt carried the same report (the message is rebuilt from the stored row).
  std::vector<json> bodies;
  for (const auto& r : hooks.requests())
    if (r.target == "/flaky") bodies.push_back(json::parse(r.body));
  REQUIRE(bodies.size() == 3);
  CHECK(bodies[0]["type"] == "closeloop.report");
  CHECK(bodies[0] == bodies[2]);
  CHECK(bodies[2]["report"]["totals"]["csat"].get<double>() == Approx(80));
}
