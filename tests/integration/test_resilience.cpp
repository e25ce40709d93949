// Fault tolerance (issue 9 item 6) through the real `closeloop serve` and CLI on a real SQLite file:
// the per-host circuit breaker against a loopback host that fails and recovers (requests counted
// at the host), and the dead-letter view and replay (`closeloop outbox list|retry`).
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "../adapters/loopback_server.hpp"
#include "harness.hpp"

using namespace closeloop;
using namespace closeloop::itest;

namespace {

// The generic host's receiver: answers 503 while failing, else 200; counts what it answered.
struct flaky_host {
  test::loopback_server server;
  std::atomic<bool> failing{true};
  std::mutex mu;
  std::map<std::string, int> ok_by_key;  // webhook-id -> 2xx answers
  std::atomic<int> requests{0};

  flaky_host() {
    server.set_handler([this](const test::recorded_request& r) {
      ++requests;
      if (failing) return test::scripted_response{503, {{"retry-after", "0"}}, "maintenance"};
      std::lock_guard lk(mu);
      if (const auto* id = r.header("webhook-id")) ++ok_by_key[*id];
      return test::scripted_response{200, {}, "ok"};
    });
  }
  std::map<std::string, int> delivered() {
    std::lock_guard lk(mu);
    return ok_by_key;
  }
};

json resilience_config(const std::string& endpoint, int breaker_failures, int cooldown_ms, int max_attempts) {
  config_options co;
  co.endpoint_url = endpoint;
  co.worker_batch = 4;
  json cfg = make_config(co);
  cfg["worker"]["breaker_failures"] = breaker_failures;
  cfg["worker"]["breaker_cooldown_ms"] = cooldown_ms;
  cfg["worker"]["max_attempts"] = max_attempts;
  return cfg;
}

double metric(const server_process& srv, const std::string& series) {
  auto r = http_get(srv.base_url() + "/metrics", 3s);
  if (!r || r->status != 200) return -1;
  const auto at = r->body.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(r->body.substr(at + series.size() + 2));
}

void post_tickets(const server_process& srv, const std::string& prefix, int n) {
  for (int i = 0; i < n; ++i) {
    const std::string id = prefix + std::to_string(i);
    const std::string body = event_json("ticket.created", id).dump();
    auto r = post_signed(srv, "ev-" + id, body);
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 202);
  }
}

command_result closeloop_cli(const temp_dir& dir, std::vector<std::string> args) {
  std::vector<std::string> argv{CLOSELOOP_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, dir.path(), 30s);
}

const std::string circuit_series = "closeloop_host_circuit_state{tenant=\"acme\",host=\"generic\"}";

}  // namespace

TEST_CASE("breaker: a failing host's circuit opens, stops the calls, half-opens, closes; nothing lost",
          "[integration][resilience]") {
  flaky_host host;
  temp_dir dir("breaker");
  constexpr int cooldown_ms = 2500;
  // A KB suggestion with no article to suggest (the generic host has no knowledge base) is done
  // without a call to the host: every other attempt charged is a request the host received.
  const std::string host_work = " FROM outbox WHERE type <> 'suggest_kb_articles'";
  server_process srv(dir, resilience_config(host.server.url("/actions"), 3, cooldown_ms, 50));
  srv.start();
  post_tickets(srv, "b", 4);  // several actions each, all for acme/generic

  INFO("closed: calls go out until 3 consecutive failures, then the circuit opens");
  REQUIRE(eventually([&] { return metric(srv, circuit_series) == 1; }, 10s));
  std::this_thread::sleep_for(200ms);  // an action already on the wire when it opened may still land
  const int at_open = host.requests.load();
  CHECK(at_open >= 3);
  CHECK(at_open <= 5);  // 3 failures + at most one in flight per worker thread

  INFO("open: no call reaches the host during the cool-down; the actions wait, uncharged");
  std::this_thread::sleep_for(std::chrono::milliseconds(cooldown_ms / 2));
  CHECK(host.requests.load() == at_open);
  {
    db_view db(dir / "closeloop.db");
    CHECK(db.scalar("SELECT count(*) FROM host_circuits WHERE tenant = 'acme' AND host = 'generic'"
                    " AND state = 'open' AND failures >= 3") == 1);
    CHECK(db.outbox("pending") > 0);
    CHECK(db.outbox("failed") == 0);
    // Every attempt charged is a request the host received: deferred actions were not charged.
    CHECK(db.scalar("SELECT sum(attempts)" + host_work) == at_open);
  }
  CHECK(metric(srv, "closeloop_actions_deferred_total{tenant=\"acme\",host=\"generic\"}") > 0);

  INFO("half-open after the cool-down: exactly one probe; it fails, so the circuit opens again");
  REQUIRE(eventually([&] { return host.requests.load() > at_open; }, std::chrono::milliseconds(cooldown_ms + 5000)));
  std::this_thread::sleep_for(std::chrono::milliseconds(cooldown_ms / 2));
  CHECK(host.requests.load() == at_open + 1);
  CHECK(metric(srv, circuit_series) == 1);
  CHECK(metric(srv, "closeloop_host_circuit_opened_total{tenant=\"acme\",host=\"generic\"}") == 2);

  INFO("the host recovers: the next probe succeeds, the circuit closes and everything is delivered once");
  host.failing = false;
  REQUIRE(eventually(
      [&] {
        db_view db(dir / "closeloop.db");
        return db.outbox("pending") == 0 && db.outbox("running") == 0;
      },
      std::chrono::milliseconds(cooldown_ms + 15000)));
  CHECK(metric(srv, circuit_series) == 0);
  db_view db(dir / "closeloop.db");
  CHECK(db.outbox("failed") == 0);
  CHECK(db.scalar("SELECT count(*) FROM host_circuits WHERE state = 'closed' AND failures = 0") == 1);
  CHECK(db.scalar("SELECT count(*) FROM outbox WHERE type = 'suggest_kb_articles' AND status = 'done'") == 4);
  CHECK(db.scalar("SELECT sum(attempts)" + host_work) == host.requests.load());
  const auto delivered = host.delivered();
  const auto executed = db.scalar("SELECT count(*)" + host_work + " AND status = 'done' AND attempts > 0");
  CHECK(static_cast<std::int64_t>(delivered.size()) == executed);
  for (const auto& [key, n] : delivered) {
    INFO(key);
    CHECK(n == 1);
  }
  CHECK_THAT(srv.stderr_text() + srv.stdout_text(),
             Catch::Contains("circuit open tenant=acme host=generic") && Catch::Contains("circuit closed"));
}

TEST_CASE("outbox: dead letters are listed and retried with the same idempotency keys",
          "[integration][resilience]") {
  flaky_host host;
  temp_dir dir("outbox");
  // No breaker here (0): every action uses up its 2 attempts and fails for good.
  server_process srv(dir, resilience_config(host.server.url("/actions"), 0, 1000, 2));
  srv.start();
  post_tickets(srv, "d", 2);
  const std::string body = event_json("ticket.solved", "d0").dump();
  REQUIRE(post_signed(srv, "ev-d0-solved", body));
  const fs::path db_file = dir / "closeloop.db";
  const std::string config = (dir / "config.json").string();

  INFO("every executed action fails for good after 2 attempts (the survey too, 1 s after solve)");
  REQUIRE(eventually(
      [&] {
        db_view db(db_file);
        return db.outbox("pending") == 0 && db.outbox("running") == 0 && db.timers_due(0) == 0 &&
               db.outbox("failed") > 0 &&
               db.scalar("SELECT count(*) FROM outbox WHERE type = 'send_survey' AND status = 'failed'") == 1;
      },
      20s));
  std::int64_t failed = 0;
  {
    db_view db(db_file);
    failed = db.outbox("failed");
  }

  auto list = closeloop_cli(dir, {"outbox", "list", "--config", config, "--db", db_file.string(), "--status",
                                  "failed", "--json"});
  INFO(list.all());
  REQUIRE(list.exit_code() == 0);
  const json rows = json::parse(list.out);
  REQUIRE(rows.is_array());
  CHECK(static_cast<std::int64_t>(rows.size()) == failed);
  for (const auto& r : rows) {
    CHECK(r["status"] == "failed");
    CHECK(r["attempts"] == 2);
    CHECK_THAT(r["last_error"].get<std::string>(), Catch::Contains("gave up after 2 attempts") &&
                                                       Catch::Contains("maintenance"));
  }
  std::int64_t survey_id = 0;
  std::string survey_key;
  for (const auto& r : rows) {
    if (r["type"] == "send_survey") {
      survey_id = r["id"].get<std::int64_t>();
      survey_key = r["idempotency_key"];
    }
  }
  REQUIRE(survey_id > 0);

  auto text = closeloop_cli(dir, {"outbox", "list", "--config", config, "--db", db_file.string()});
  CHECK(text.exit_code() == 0);
  CHECK_THAT(text.out, Catch::Contains("#" + std::to_string(survey_id) + "  failed  acme/generic  ticket d0  send_survey"));

  INFO("bad input is refused with a clear error");
  auto bad_status = closeloop_cli(dir, {"outbox", "list", "--config", config, "--status", "broken"});
  CHECK(bad_status.exit_code() != 0);
  CHECK_THAT(bad_status.all(), Catch::Contains("broken"));
  auto bad_tenant = closeloop_cli(dir, {"outbox", "list", "--config", config, "--tenant", "globex"});
  CHECK(bad_tenant.exit_code() == 2);
  CHECK_THAT(bad_tenant.err, Catch::Contains("--tenant: \"globex\" is not in"));
  auto neither = closeloop_cli(dir, {"outbox", "retry", "--config", config, "--db", db_file.string()});
  CHECK(neither.exit_code() == 2);
  CHECK_THAT(neither.err, Catch::Contains("either an action ID or --all-failed"));
  auto missing = closeloop_cli(dir, {"outbox", "retry", "999999", "--config", config, "--db", db_file.string()});
  CHECK(missing.exit_code() == 1);
  CHECK_THAT(missing.err, Catch::Contains("no action #999999"));

  INFO("the host is back: retry the survey alone, while serve runs");
  host.failing = false;
  auto one = closeloop_cli(dir, {"outbox", "retry", std::to_string(survey_id), "--config", config, "--db",
                                 db_file.string()});
  INFO(one.all());
  REQUIRE(one.exit_code() == 0);
  CHECK_THAT(one.out, Catch::Contains("re-queued #" + std::to_string(survey_id)) && Catch::Contains(survey_key));
  REQUIRE(eventually([&] { return host.delivered().count(survey_key) == 1; }, 10s));
  REQUIRE(eventually(
      [&] {
        db_view db(db_file);
        return db.scalar("SELECT count(*) FROM outbox WHERE id = " + std::to_string(survey_id) +
                         " AND status = 'done'") == 1;
      },
      5s));

  auto again = closeloop_cli(dir, {"outbox", "retry", std::to_string(survey_id), "--config", config, "--db",
                                   db_file.string()});
  CHECK(again.exit_code() == 1);
  CHECK_THAT(again.err, Catch::Contains("is done, not failed"));

  INFO("then every other failed action, through the admin API (a viewer token may not)");
  auto token = [&](const char* role) {
    auto t = closeloop_cli(dir, {"token", "create", "--tenant", "acme", "--role", role, "--config", config, "--db",
                                 db_file.string()});
    INFO(t.all());
    REQUIRE(t.exit_code() == 0);
    return t.out.substr(0, t.out.find('\n'));
  };
  const std::string admin = token("admin"), viewer = token("viewer");
  auto api = [&](const std::string& method, const std::string& path, const std::string& bearer) {
    adapters::http::request req;
    req.method = method;
    req.url = srv.base_url() + path;
    req.headers = {{"authorization", "Bearer " + bearer}};
    auto r = make_client(5s).send(req);
    REQUIRE(r);
    return *r;
  };
  CHECK(api("GET", "/api/v1/tenants/acme/outbox?status=failed", viewer).status == 403);
  CHECK(api("POST", "/api/v1/tenants/acme/outbox/retry-failed", viewer).status == 403);
  auto listed = api("GET", "/api/v1/tenants/acme/outbox?status=failed", admin);
  INFO(listed.body);
  REQUIRE(listed.status == 200);
  CHECK(static_cast<std::int64_t>(parse_body(listed)["actions"].size()) == failed - 1);
  CHECK(api("GET", "/api/v1/tenants/acme/outbox?status=broken", admin).status == 400);
  CHECK(api("POST", "/api/v1/tenants/acme/outbox/" + std::to_string(survey_id) + "/retry", admin).status == 409);
  auto retried = api("POST", "/api/v1/tenants/acme/outbox/retry-failed", admin);
  INFO(retried.body);
  REQUIRE(retried.status == 200);
  CHECK(static_cast<std::int64_t>(parse_body(retried)["retried"].size()) == failed - 1);
  REQUIRE(eventually(
      [&] {
        db_view db(db_file);
        return db.outbox("pending") == 0 && db.outbox("running") == 0 && db.outbox("failed") == 0;
      },
      15s));
  {
    db_view db(db_file);
    CHECK(db.scalar("SELECT count(*) FROM audit_log WHERE action = 'outbox.retry' AND actor LIKE 'cli:%'") == 1);
    CHECK(db.scalar("SELECT count(*) FROM audit_log WHERE action = 'outbox.retry' AND actor LIKE 'token:%'") == 1);
  }
  auto none = closeloop_cli(dir, {"outbox", "retry", "--all-failed", "--config", config, "--db", db_file.string()});
  CHECK(none.exit_code() == 0);
  CHECK_THAT(none.out, Catch::Contains("no failed actions"));

  INFO("each action reached the host once with a 2xx, under its original key; one survey invitation");
  const auto delivered = host.delivered();
  CHECK(static_cast<std::int64_t>(delivered.size()) == failed);
  for (const auto& [key, n] : delivered) {
    INFO(key);
    CHECK(n == 1);
  }
  db_view db(db_file);
  CHECK(db.scalar("SELECT count(*) FROM outbox WHERE type = 'send_survey'") == 1);
  CHECK(db.scalar("SELECT count(*) FROM outbox_requeues") == failed);

  INFO("the history of the retried row: who, and what the first round came to");
  auto shown = closeloop_cli(dir, {"outbox", "list", "--config", config, "--db", db_file.string(), "--status", "done",
                                   "--json"});
  REQUIRE(shown.exit_code() == 0);
  bool seen = false;
  for (const auto& r : json::parse(shown.out)) {
    if (r["id"] != survey_id) continue;
    seen = true;
    REQUIRE(r["requeues"].size() == 1);
    CHECK(r["requeues"][0]["attempts"] == 2);
    CHECK_THAT(r["requeues"][0]["actor"].get<std::string>(), Catch::StartsWith("cli:"));
    CHECK_THAT(r["requeues"][0]["last_error"].get<std::string>(), Catch::Contains("maintenance"));
    CHECK(r["attempts"] == 1);
  }
  CHECK(seen);
}
