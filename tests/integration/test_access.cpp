// Access control and the audit log through the real `closeloop` binary: every route of the route
// table over real HTTP (no token -> 401, a lower role or another tenant -> 403, its role -> past
// the check), tokens from `closeloop token create` (shown once, not in the database file),
// revocation and expiry, the admin API, /metrics with a token, and the audit log
// (`closeloop audit verify|list`): config loads, token changes, host writes of the worker, and an
// edited or deleted row found by verify.
#include <regex>
#include <set>

#include <catch2/catch.hpp>

#include "../adapters/loopback_server.hpp"
#include "harness.hpp"
#include "server/routes.hpp"

using namespace closeloop::itest;
using Catch::Contains;

namespace {

constexpr std::string_view other_tenant = "globex";

json two_tenant_config(const config_options& co) {
  json cfg = make_config(co);
  json other = cfg["tenants"][0];
  other["id"] = other_tenant;
  cfg["tenants"].push_back(other);
  return cfg;
}

command_result cli(const temp_dir& dir, const server_process& srv, std::vector<std::string> args) {
  std::vector<std::string> argv = {CLOSELOOP_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--config", srv.config_path().string(), "--db", srv.db_path().string()});
  return run_command(argv, dir.path());
}

// `closeloop token create`: the token is the only line on stdout.
std::string create_token(const temp_dir& dir, const server_process& srv, std::string_view tenant, std::string_view role,
                         std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"token", "create", "--tenant", std::string(tenant), "--role", std::string(role)};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = cli(dir, srv, args);
  INFO(r.all());
  REQUIRE(r.exit_code() == 0);
  std::string tok = r.out;
  while (!tok.empty() && (tok.back() == '\n' || tok.back() == '\r')) tok.pop_back();
  REQUIRE(std::regex_match(tok, std::regex("clt_[0-9a-f]{16}_[0-9a-f]{64}")));
  return tok;
}

closeloop::result<closeloop::adapters::http::response> call(const std::string& method, const std::string& url,
                                                              const std::string& token, std::string body = {}) {
  closeloop::adapters::http::request req;
  req.method = method;
  req.url = url;
  if (!token.empty()) req.headers.emplace_back("authorization", "Bearer " + token);
  if (method == "POST" || method == "PUT" || method == "PATCH") {
    req.headers.emplace_back("content-type", "application/json");
    req.body = body.empty() ? "{}" : std::move(body);
  }
  return make_client(5s).send(req);
}

std::vector<std::string> methods_of(unsigned bits) {
  using namespace closeloop::server;
  std::vector<std::string> out;
  if (bits & m_get) out.push_back("GET");
  if (bits & m_post) out.push_back("POST");
  if (bits & m_put) out.push_back("PUT");
  if (bits & m_delete) out.push_back("DELETE");
  if (bits & m_patch) out.push_back("PATCH");
  return out;
}

std::string id_of(const std::string& token) { return token.substr(4, 16); }

}  // namespace

TEST_CASE("every route of the table: no token 401, lower role or other tenant 403, its role passes the check",
          "[integration][auth]") {
  using namespace closeloop::server;
  temp_dir dir("access");
  server_process srv(dir, two_tenant_config(config_options{}));
  srv.start();
  const std::map<std::string, std::string> tokens = {
      {"viewer", create_token(dir, srv, tenant_id, "viewer")},
      {"agent", create_token(dir, srv, tenant_id, "agent")},
      {"admin", create_token(dir, srv, tenant_id, "admin")},
  };
  const std::string foreign_admin = create_token(dir, srv, other_tenant, "admin");
  const std::vector<std::string> ladder = {"viewer", "agent", "admin"};

  int role_routes = 0, checked = 0;
  for (const route& r : routes()) {
    const std::string path = expand_pattern(
        r.pattern, {{"tenant", std::string(tenant_id)}, {"host", std::string(host_id)}, {"ticket", "1"},
                    {"id", "0000000000000000"}, {"token", "cl1.x.y"}});
    for (const std::string& method : methods_of(r.methods)) {
      INFO(method << " " << path << " (" << to_string(r.need) << ")");
      const std::string url = srv.base_url() + path;
      if (auto need = required_role(r.need)) {
        ++role_routes;
        auto none = call(method, url, "");
        REQUIRE(none);
        CHECK(none->status == 401);
        REQUIRE(none->header("www-authenticate") != nullptr);
        CHECK_THAT(*none->header("www-authenticate"), Contains("Bearer"));
        auto junk = call(method, url, "clt_0123456789abcdef_" + std::string(64, 'a'));
        REQUIRE(junk);
        CHECK(junk->status == 401);
        // Another tenant's admin: refused whatever its role.
        auto foreign = call(method, url, foreign_admin);
        REQUIRE(foreign);
        CHECK(foreign->status == 403);
        CHECK_THAT(foreign->body, Contains("globex"));
        for (std::size_t k = 0; k < ladder.size(); ++k) {
          const auto role = *closeloop::parse_api_role(ladder[k]);
          auto res = call(method, url, tokens.at(ladder[k]));
          REQUIRE(res);
          INFO("as " << ladder[k] << ": " << res->status << " " << res->body);
          if (static_cast<int>(role) < static_cast<int>(*need)) {
            CHECK(res->status == 403);
            CHECK(parse_body(*res).value("required_role", "") == closeloop::to_string(*need));
          } else {
            CHECK(res->status != 401);
            CHECK(res->status != 403);
          }
          ++checked;
        }
      } else {
        // Public, signed and metrics routes ignore API tokens: an admin token opens nothing more.
        auto with_admin = call(method, url, tokens.at("admin"));
        auto without = call(method, url, "");
        REQUIRE((with_admin && without));
        if (r.pattern == "/sidebar") {
          // The sidebar takes a signed host context or, instead, an agent-or-better token of the
          // tenant: without either it is 401; with the admin token it gets past authentication.
          CHECK(without->status >= 400);  // 401 for the page; a POST that is no form is 415 first
          CHECK(with_admin->status != 401);
          CHECK(with_admin->status != 403);
        } else {
          CHECK(with_admin->status == without->status);
        }
        if (r.need == access::public_access || r.need == access::metrics) CHECK(without->status == 200);
        if (r.pattern.starts_with("/webhooks/")) CHECK(without->status == 401);  // the host's signature is missing
        if (r.pattern.starts_with("/s/")) CHECK(without->status >= 400);  // a forged link opens nothing
      }
    }
  }
  CHECK(role_routes >= 6);
  CHECK(checked == role_routes * 3);
  // Not in the table: 404, whatever the token.
  auto unknown = call("GET", srv.base_url() + "/api/v1/tenants/acme/nothing", tokens.at("admin"));
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
}

TEST_CASE("tokens: shown once, kept only hashed, listed without secrets, revoked and expired ones refused",
          "[integration][auth][cli]") {
  temp_dir dir("tokens");
  server_process srv(dir, make_config(config_options{}));
  srv.start();
  const std::string report = srv.base_url() + "/api/v1/tenants/acme/kb/report";
  const std::string viewer = create_token(dir, srv, tenant_id, "viewer", {"--label", "grafana"});
  const std::string shortlived = create_token(dir, srv, tenant_id, "viewer", {"--expires-in", "2s"});
  auto ok = call("GET", report, viewer);
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(call("GET", report, shortlived)->status == 200);

  auto listed = cli(dir, srv, {"token", "list", "--tenant", "acme"});
  INFO(listed.all());
  REQUIRE(listed.exit_code() == 0);
  CHECK_THAT(listed.out, Contains(id_of(viewer)) && Contains("grafana") && Contains("viewer"));
  CHECK(listed.out.find(viewer.substr(21)) == std::string::npos);

  auto revoked = cli(dir, srv, {"token", "revoke", id_of(viewer)});
  INFO(revoked.all());
  REQUIRE(revoked.exit_code() == 0);
  auto after = call("GET", report, viewer);
  REQUIRE(after);
  CHECK(after->status == 401);
  CHECK_THAT(after->body, Contains("revoked"));
  REQUIRE(after->header("www-authenticate") != nullptr);
  CHECK_THAT(*after->header("www-authenticate"), Contains("invalid_token"));
  CHECK(cli(dir, srv, {"token", "revoke", "ffffffffffffffff"}).exit_code() == 2);

  std::this_thread::sleep_for(2100ms);
  auto expired = call("GET", report, shortlived);
  REQUIRE(expired);
  CHECK(expired->status == 401);
  CHECK_THAT(expired->body, Contains("expired"));

  // Bad input named, nothing created.
  auto bad_role = cli(dir, srv, {"token", "create", "--tenant", "acme", "--role", "root"});
  CHECK(bad_role.exit_code() == 2);
  CHECK_THAT(bad_role.err, Contains("--role"));
  auto bad_tenant = cli(dir, srv, {"token", "create", "--tenant", "nope", "--role", "viewer"});
  CHECK(bad_tenant.exit_code() == 2);
  CHECK_THAT(bad_tenant.err, Contains("--tenant"));
  auto bad_expiry = cli(dir, srv, {"token", "create", "--tenant", "acme", "--role", "viewer", "--expires-in", "soon"});
  CHECK(bad_expiry.exit_code() == 2);
  CHECK_THAT(bad_expiry.err, Contains("--expires-in"));

  // Neither token (nor its secret half) is anywhere in the database file or its WAL.
  srv.signal(SIGTERM);
  REQUIRE(srv.wait(15s));
  const std::string bytes = read_text(srv.db_path()) + read_text(srv.db_path().string() + "-wal");
  REQUIRE(bytes.size() > 4096);
  for (const auto& t : {viewer, shortlived}) {
    CHECK(bytes.find(t) == std::string::npos);
    CHECK(bytes.find(t.substr(21)) == std::string::npos);
  }
}

TEST_CASE("admin API: tokens created and revoked over HTTP are audited with the calling token as actor",
          "[integration][auth][audit]") {
  temp_dir dir("adminapi");
  server_process srv(dir, two_tenant_config(config_options{}));
  srv.start();
  const std::string admin = create_token(dir, srv, tenant_id, "admin");
  const std::string foreign = create_token(dir, srv, other_tenant, "viewer");
  const std::string tokens_url = srv.base_url() + "/api/v1/tenants/acme/tokens";

  auto created = call("POST", tokens_url, admin, R"({"role":"agent","label":"sidebar","expires_in_s":3600})");
  REQUIRE(created);
  INFO(created->body);
  REQUIRE(created->status == 201);
  const json c = parse_body(*created);
  const std::string agent = c.at("token");
  CHECK(c["role"] == "agent");
  CHECK(c["created_by"] == "token:" + id_of(admin));
  auto sug = call("GET", srv.base_url() + "/api/v1/tenants/acme/hosts/generic/tickets/9/suggestions", agent);
  REQUIRE(sug);
  CHECK(sug->status == 404);  // past the role check; the ticket is unknown

  auto bad = call("POST", tokens_url, admin, R"({"role":"owner"})");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK_THAT(bad->body, Contains("role"));

  auto list = call("GET", tokens_url, admin);
  REQUIRE(list);
  CHECK(list->status == 200);
  CHECK(list->body.find(agent.substr(21)) == std::string::npos);
  CHECK(parse_body(*list)["tokens"].size() == 2);

  // Another tenant's token cannot be revoked from here (404: not this tenant's).
  auto cross = call("DELETE", tokens_url + "/" + id_of(foreign), admin);
  REQUIRE(cross);
  CHECK(cross->status == 404);
  CHECK(call("GET", srv.base_url() + "/api/v1/tenants/globex/kb/report", foreign)->status == 200);

  auto rv = call("DELETE", tokens_url + "/" + std::string(c.at("id")), admin);
  REQUIRE(rv);
  CHECK(rv->status == 200);
  CHECK(call("GET", srv.base_url() + "/api/v1/tenants/acme/kb/report", agent)->status == 401);

  auto audit = call("GET", srv.base_url() + "/api/v1/tenants/acme/audit?action=token.", admin);
  REQUIRE(audit);
  REQUIRE(audit->status == 200);
  const json entries = parse_body(*audit)["entries"];
  INFO(entries.dump(2));
  REQUIRE(entries.size() == 3);  // admin's creation (cli), agent's creation (api), its revocation (api)
  CHECK(entries[0]["action"] == "token.create");
  CHECK_THAT(entries[0]["actor"].get<std::string>(), Contains("cli:"));
  CHECK(entries[1]["actor"] == "token:" + id_of(admin));
  CHECK(entries[1]["detail"]["via"] == "api");
  CHECK(entries[2]["action"] == "token.revoke");
  CHECK(entries[2]["target"] == c.at("id"));
  // The other tenant's entries are not in this tenant's log.
  for (const auto& e : entries) CHECK(e["tenant"] == "acme");
}

TEST_CASE("/metrics: open by default, behind server.metrics_token when set", "[integration][auth]") {
  temp_dir dir("metrics");
  config_options co;
  co.extra_server = {{"metrics_token", "scrape-token-0123456789"}};
  server_process srv(dir, make_config(co));
  srv.start();
  const std::string url = srv.base_url() + "/metrics";
  auto none = call("GET", url, "");
  REQUIRE(none);
  CHECK(none->status == 401);
  CHECK(call("GET", url, "scrape-token-012345678X")->status == 401);
  auto ok = call("GET", url, "scrape-token-0123456789");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK_THAT(ok->body, Contains("closeloop_http_requests_total"));
  CHECK(call("GET", srv.base_url() + "/healthz", "")->status == 200);
}

TEST_CASE("/metrics: server.metrics_token as a stored secret ({\"ref\"}, secret import / list, --server)",
          "[integration][auth][secrets]") {
  temp_dir dir("metrics-ref");
  const fs::path key = dir.path() / "key";
  const fs::path db = dir.path() / "closeloop.db";
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), CLOSELOOP_BINARY);
    return run_command(args, dir.path());
  };
  REQUIRE(run({"secret", "keygen", "--out", key.string()}).exit_code() == 0);
  const std::string token = "scrape-token-stored-0123456789";
  config_options co;
  co.extra_server = {{"metrics_token", token}};
  json cfg = make_config(co);
  cfg["store"] = {{"path", db.string()}};
  cfg["security"] = {{"key_file", key.string()}};
  const fs::path plain = dir.path() / "plain.json", refs = dir.path() / "refs.json";
  write_text(plain, cfg.dump(2));

  auto doc = run({"doctor", "--config", plain.string(), "--offline"});
  CHECK_THAT(doc.out, Contains("secret written in clear in the config at /server/metrics_token"));
  auto imp = run({"secret", "import", "--config", plain.string(), "--out", refs.string()});
  INFO(imp.all());
  REQUIRE(imp.exit_code() == 0);
  CHECK_THAT(imp.out, Contains("/server/metrics_token  ->  {\"ref\": \"server.metrics_token\"}"));
  const json with_refs = json::parse(read_text(refs));
  CHECK(with_refs["server"]["metrics_token"] == json{{"ref", "server.metrics_token"}});
  CHECK(read_text(refs).find(token) == std::string::npos);
  auto listed = run({"secret", "list", "--config", refs.string()});
  CHECK_THAT(listed.out, Contains("(server)\t-\tserver.metrics_token\t"));
  auto ok_doctor = run({"doctor", "--config", refs.string(), "--offline"});
  INFO(ok_doctor.all());
  CHECK_THAT(ok_doctor.out, Contains("stored secret(s) the config refers to open"));
  CHECK(ok_doctor.out.find("/server/metrics_token") == std::string::npos);

  // `secret set` names where a value goes: a tenant, or --server (not both, no --host without a tenant).
  auto nowhere = run({"secret", "set", "--config", refs.string(), "--name", "x"});
  CHECK(nowhere.exit_code() == 2);
  CHECK_THAT(nowhere.err, Contains("--tenant ID or --server"));
  CHECK(run({"secret", "set", "--config", refs.string(), "--server", "--tenant", "acme", "--name", "x"}).exit_code() != 0);
  CHECK(run({"secret", "set", "--config", refs.string(), "--server", "--host", "generic", "--name", "x"}).exit_code() != 0);

  {
    server_process srv(dir, with_refs, db);
    srv.start();
    const std::string url = srv.base_url() + "/metrics";
    CHECK(call("GET", url, "")->status == 401);
    auto ok = call("GET", url, token);
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK_THAT(ok->body, Contains("closeloop_http_requests_total"));
  }

  // Deleted from the store: doctor names the reference that no longer opens.
  auto del = run({"secret", "delete", "--config", refs.string(), "--server", "--name", "server.metrics_token"});
  INFO(del.all());
  CHECK(del.exit_code() == 0);
  auto missing = run({"doctor", "--config", refs.string(), "--offline"});
  CHECK(missing.exit_code() == 1);
  CHECK_THAT(missing.out, Contains("/server/metrics_token"));
}

TEST_CASE("audit log: config load, token changes and the worker's host writes are recorded; verify finds an edited "
          "and a deleted row",
          "[integration][audit][cli]") {
  temp_dir dir("audit");
  closeloop::test::loopback_server sink;
  config_options co;
  co.endpoint_url = sink.url("/actions");
  server_process srv(dir, make_config(co));
  srv.start();
  const std::string admin = create_token(dir, srv, tenant_id, "admin", {"--label", "ops"});

  // A ticket whose actions go to the host (the generic endpoint): each delivery is audited.
  const std::string body = event_json("ticket.created", "T-1", "The invoice charged me twice, refund please").dump();
  auto r = post_signed(srv, "evt-audit-1", body);
  REQUIRE(r);
  REQUIRE(r->status == 202);
  REQUIRE_FALSE(parse_body(*r)["events"][0]["actions"].empty());
  // Every outbox item finished (the KB suggestion is due 5 s after creation), and audited.
  auto finished = [&] { return db_view(srv.db_path()).scalar("SELECT count(*) FROM outbox WHERE status IN ('done', 'failed')"); };
  REQUIRE(eventually([&] { return db_view(srv.db_path()).scalar("SELECT count(*) FROM outbox WHERE status IN ('pending', 'running')") == 0; }, 20s));
  REQUIRE(finished() > 0);
  REQUIRE_FALSE(sink.requests().empty());

  auto listed = cli(dir, srv, {"audit", "list", "--tenant", "acme", "--json"});
  INFO(listed.all());
  REQUIRE(listed.exit_code() == 0);
  std::vector<json> rows;
  std::istringstream lines(listed.out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) rows.push_back(json::parse(line));
  std::set<std::string> types;
  int writes = 0;
  for (const auto& e : rows) {
    if (e["action"] != "host.write") continue;
    ++writes;
    CHECK(e["actor"] == "worker");
    CHECK(e["target"] == "generic/T-1");
    CHECK(e["detail"]["ticket"] == "T-1");
    CHECK(e["detail"]["outcome"] == "done");
    types.insert(e["detail"]["type"].get<std::string>());
  }
  CHECK(writes == finished());
  CHECK_FALSE(types.empty());
  CHECK(rows.front()["action"] == "token.create");

  // The configuration serve started with, by digest.
  auto all = cli(dir, srv, {"audit", "list", "--since", "1h"});
  REQUIRE(all.exit_code() == 0);
  CHECK_THAT(all.out, Contains("config.load") && Contains(srv.config_path().string()));
  CHECK_THAT(srv.stderr_text(), Contains("sha256="));

  auto good = cli(dir, srv, {"audit", "verify"});
  INFO(good.all());
  CHECK(good.exit_code() == 0);
  CHECK_THAT(good.out, Contains("intact"));

  srv.signal(SIGTERM);
  REQUIRE(srv.wait(15s));
  std::int64_t rows_total = 0;
  {
    SQLite::Database raw(srv.db_path().string(), SQLite::OPEN_READWRITE);
    rows_total = raw.execAndGet("SELECT max(seq) FROM audit_log").getInt64();
    REQUIRE(rows_total >= 3);
    // The table refuses edits; a tamperer drops the trigger first.
    CHECK_THROWS(raw.exec("UPDATE audit_log SET actor = 'x' WHERE seq = 2"));
    raw.exec("DROP TRIGGER audit_log_no_update");
    raw.exec("UPDATE audit_log SET target = 'someone-else' WHERE seq = 2");
  }
  auto edited = cli(dir, srv, {"audit", "verify"});
  INFO(edited.all());
  CHECK(edited.exit_code() == 3);
  CHECK_THAT(edited.out, Contains("row #2"));
  {
    SQLite::Database raw(srv.db_path().string(), SQLite::OPEN_READWRITE);
    raw.exec("DROP TRIGGER audit_log_no_delete");
    raw.exec("DELETE FROM audit_log WHERE seq = 2");
  }
  auto deleted = cli(dir, srv, {"audit", "verify", "--json"});
  INFO(deleted.all());
  CHECK(deleted.exit_code() == 3);
  const json v = json::parse(deleted.out);
  CHECK(v["ok"] == false);
  CHECK(v["first_bad"] == 3);
  CHECK_THAT(v["reason"].get<std::string>(), Contains("row 2 is missing"));
}
