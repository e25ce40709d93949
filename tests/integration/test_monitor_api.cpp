// The monitoring API and `closeloop report` through the real `closeloop` binary: events posted as
// signed webhooks are counted by the worker's facts refresh, the metrics, drill-down, CSV export and
// report routes answer a viewer token of the tenant, and a token of tenant A never sees tenant B's
// figures (403), whatever the route; acknowledging an alert needs the agent role and is audited.
#include <regex>

#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace closeloop::itest;
using Catch::Contains;

namespace {

json two_tenants() {
  config_options co;
  json cfg = make_config(co);
  json other = cfg["tenants"][0];
  other["id"] = "globex";
  cfg["tenants"].push_back(other);
  return cfg;
}

command_result cli(const temp_dir& dir, const server_process& srv, std::vector<std::string> args) {
  std::vector<std::string> argv = {CLOSELOOP_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--config", srv.config_path().string(), "--db", srv.db_path().string()});
  return run_command(argv, dir.path());
}

std::string token_for(const temp_dir& dir, const server_process& srv, const std::string& tenant, const std::string& role) {
  auto r = cli(dir, srv, {"token", "create", "--tenant", tenant, "--role", role});
  INFO(r.all());
  REQUIRE(r.exit_code() == 0);
  std::string tok = r.out;
  while (!tok.empty() && (tok.back() == '\n' || tok.back() == '\r')) tok.pop_back();
  return tok;
}

closeloop::result<closeloop::adapters::http::response> api(const server_process& srv, const std::string& method,
                                                             const std::string& path, const std::string& token,
                                                             std::string body = {}) {
  closeloop::adapters::http::request req;
  req.method = method;
  req.url = srv.base_url() + path;
  if (!token.empty()) req.headers.emplace_back("authorization", "Bearer " + token);
  if (method == "POST") {
    req.headers.emplace_back("content-type", "application/json");
    req.body = body.empty() ? "{}" : std::move(body);
  }
  return make_client(5s).send(req);
}

void post_event(const server_process& srv, const std::string& id, json ev) {
  auto r = post_signed(srv, id, ev.dump());
  INFO(id << ": " << (r ? r->body : r.err().message));
  REQUIRE(r);
  REQUIRE((r->status == 202 || r->status == 200));
}

}  // namespace

TEST_CASE("monitor api: figures per tenant, drill-down, CSV, report; another tenant's token sees nothing",
          "[integration][monitor]") {
  temp_dir dir("monitor-api");
  server_process srv(dir, two_tenants());
  srv.start();
  // Four acme tickets: created, an agent's public reply, solved.
  for (int i = 1; i <= 4; ++i) {
    const std::string t = "m" + std::to_string(i);
    post_event(srv, t + "-c", event_json("ticket.created", t));
    json reply = event_json("ticket.commented", t, "Here is how to fix it.");
    reply["author"] = {{"id", "agent-1"}, {"name", "Ann"}, {"role", "agent"}};
    post_event(srv, t + "-r", reply);
    json solved = event_json("ticket.solved", t);
    solved["author"] = {{"id", "agent-1"}, {"name", "Ann"}, {"role", "agent"}};
    post_event(srv, t + "-s", solved);
  }
  const std::string acme_viewer = token_for(dir, srv, "acme", "viewer");
  const std::string acme_agent = token_for(dir, srv, "acme", "agent");
  const std::string globex_viewer = token_for(dir, srv, "globex", "viewer");

  // The worker refreshes the facts in the background.
  json totals;
  for (auto deadline = steady::now() + 10s; steady::now() < deadline; std::this_thread::sleep_for(50ms)) {
    auto r = api(srv, "GET", "/api/v1/tenants/acme/metrics?period=all", acme_viewer);
    REQUIRE(r);
    REQUIRE(r->status == 200);
    json j = json::parse(r->body);
    if (!j["rows"].empty() && j["rows"][0]["tickets"] == 4) {
      totals = j["rows"][0];
      break;
    }
  }
  INFO(totals.dump());
  REQUIRE(totals.is_object());
  CHECK(totals["solved"] == 4);
  CHECK(totals["first_response_s"].is_number());
  CHECK(totals["csat"].is_null());  // no answers: no figure, not 0

  auto by_agent = api(srv, "GET", "/api/v1/tenants/acme/metrics?by=agent&period=all", acme_viewer);
  REQUIRE(by_agent);
  json ba = json::parse(by_agent->body);
  REQUIRE(ba["rows"].size() == 1);
  CHECK(ba["rows"][0]["segment"] == "Ann");

  auto drill = api(srv, "GET", "/api/v1/tenants/acme/metrics/tickets?by=agent&value=Ann&metric=solved", acme_viewer);
  REQUIRE(drill);
  REQUIRE(drill->status == 200);
  CHECK(json::parse(drill->body)["tickets"].size() == 4);

  auto csv = api(srv, "GET", "/api/v1/tenants/acme/metrics/tickets?format=csv", acme_viewer);
  REQUIRE(csv);
  CHECK(csv->status == 200);
  CHECK(*csv->header("content-type") == "text/csv; charset=utf-8");
  CHECK(std::count(csv->body.begin(), csv->body.end(), '\n') == 5);  // header + 4 tickets

  auto html = api(srv, "GET", "/api/v1/tenants/acme/report?period=day", acme_viewer);
  REQUIRE(html);
  CHECK(html->status == 200);
  CHECK_THAT(html->body, Contains("<svg"));
  CHECK_THAT(*html->header("content-security-policy"), Contains("default-src 'none'"));

  // Tenant isolation: globex's token is refused on acme's figures on every monitoring route, and
  // globex's own figures hold nothing of acme's.
  for (const char* path : {"/api/v1/tenants/acme/metrics", "/api/v1/tenants/acme/metrics/tickets",
                           "/api/v1/tenants/acme/report", "/api/v1/tenants/acme/reports", "/api/v1/tenants/acme/alerts",
                           "/api/v1/tenants/acme/reports/1"}) {
    auto r = api(srv, "GET", path, globex_viewer);
    REQUIRE(r);
    INFO(path << ": " << r->body);
    CHECK(r->status == 403);
    CHECK(r->body.find("\"tickets\"") == std::string::npos);
    auto anon = api(srv, "GET", path, "");
    CHECK(anon->status == 401);
  }
  auto own = api(srv, "GET", "/api/v1/tenants/globex/metrics?period=all", globex_viewer);
  REQUIRE(own);
  CHECK(own->status == 200);
  CHECK(json::parse(own->body)["rows"].empty());
  auto own_drill = api(srv, "GET", "/api/v1/tenants/globex/metrics/tickets", globex_viewer);
  CHECK(json::parse(own_drill->body)["tickets"].empty());

  // Bad parameters are named.
  auto bad = api(srv, "GET", "/api/v1/tenants/acme/metrics?by=planet", acme_viewer);
  CHECK(bad->status == 400);
  CHECK_THAT(bad->body, Contains("by: one of"));
  bad = api(srv, "GET", "/api/v1/tenants/acme/metrics?from=2026-02-30", acme_viewer);
  CHECK(bad->status == 400);
  CHECK_THAT(bad->body, Contains("from: no such date"));

  // Acknowledging needs the agent role; an unknown alert is 404.
  auto ack = api(srv, "POST", "/api/v1/tenants/acme/alerts/1/ack", acme_viewer);
  CHECK(ack->status == 403);
  ack = api(srv, "POST", "/api/v1/tenants/acme/alerts/999/ack", acme_agent, R"({"by":"lead"})");
  CHECK(ack->status == 404);

  // The CSV export was audited.
  auto audit = cli(dir, srv, {"audit", "list", "--tenant", "acme"});
  INFO(audit.all());
  CHECK_THAT(audit.out, Contains("metrics.export"));

  // closeloop report on the command line: the same figures.
  auto rep = cli(dir, srv, {"report", "--tenant", "acme", "--period", "day", "--format", "json"});
  INFO(rep.all());
  REQUIRE(rep.exit_code() == 0);
  json doc = json::parse(rep.out);
  CHECK(doc["totals"]["tickets"] == 4);
  CHECK(doc["segments"]["agent"][0]["segment"] == "Ann");
  auto unknown = cli(dir, srv, {"report", "--tenant", "nope"});
  CHECK(unknown.exit_code() == 2);
  CHECK_THAT(unknown.err, Contains("\"nope\" is not in"));
}
