// Access control and the audit log, below HTTP: hashed API tokens (token_store), the
// hash-chained audit log (audit_log) and the route table's declarations (server/routes.hpp).
// The same checks over real HTTP are in tests/integration/test_access.cpp.
#include <fstream>
#include <set>
#include <sstream>

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include "closeloop/audit.hpp"
#include "closeloop/token_store.hpp"
#include "server/routes.hpp"
#include "store_test_support.hpp"

using namespace closeloop;
using store_test::at;
using store_test::open_store;
using store_test::temp_dir;

namespace {

std::string file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The database file and its WAL, as bytes: what an attacker with a copy of the file sees.
std::string db_bytes(const std::string& path) { return file_bytes(path) + file_bytes(path + "-wal"); }

}  // namespace

TEST_CASE("api tokens: shown once, stored only as a SHA-256 hash, verified in constant time", "[unit][auth]") {
  temp_dir dir;
  const auto path = dir.file("t.db");
  auto db = open_store(path);
  auto ts = token_store::open(path);
  REQUIRE(ts);
  auto t = (*ts)->create("acme", api_role::agent, "sidebar", std::nullopt, "cli:test", at(0));
  REQUIRE(t);
  INFO(t->secret);
  CHECK(t->secret.size() == 4 + 16 + 1 + 64);
  CHECK(t->secret.starts_with("clt_" + t->info.id + "_"));
  CHECK(token_store::id_of(t->secret) == t->info.id);
  const std::string secret_part = t->secret.substr(4 + 16 + 1);

  // Not in the file in clear (neither the token nor its secret half); its hash is.
  const std::string bytes = db_bytes(path);
  CHECK(bytes.find(t->secret) == std::string::npos);
  CHECK(bytes.find(secret_part) == std::string::npos);
  {
    SQLite::Database raw(path, SQLite::OPEN_READONLY);
    SQLite::Statement q(raw, "SELECT hash FROM api_tokens WHERE id = ?");
    q.bind(1, t->info.id);
    REQUIRE(q.executeStep());
    CHECK(q.getColumn(0).getString() == sha256_hex(t->secret));
  }

  auto ok = (*ts)->verify(t->secret, at(10));
  REQUIRE(ok);
  CHECK(ok->tenant == "acme");
  CHECK(ok->role == api_role::agent);
  CHECK(ok->last_used_at == at(10));

  // One changed character of the secret: same id, wrong hash.
  std::string forged = t->secret;
  forged.back() = forged.back() == '0' ? '1' : '0';
  auto bad = (*ts)->verify(forged, at(11));
  REQUIRE_FALSE(bad);
  CHECK(bad.err().code == errc::unauthorized);
  CHECK(bad.err().message.find(secret_part) == std::string::npos);
  for (const std::string& junk : std::vector<std::string>{"", "clt_", "Bearer x", "clt_zzzzzzzzzzzzzzzz_" + std::string(64, 'a'), t->secret + "0"}) {
    auto r = (*ts)->verify(junk, at(12));
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::unauthorized);
  }

  // Two tokens never share a secret.
  auto t2 = (*ts)->create("acme", api_role::agent, "", std::nullopt, "cli:test", at(0));
  REQUIRE(t2);
  CHECK(t2->secret != t->secret);
  CHECK(t2->info.id != t->info.id);
}

TEST_CASE("api tokens: expiry and revocation refuse the token; list never carries a secret", "[unit][auth]") {
  temp_dir dir;
  const auto path = dir.file("t.db");
  auto db = open_store(path);
  auto ts = token_store::open(path).value();
  auto shortlived = ts->create("acme", api_role::viewer, "ci", at(60), "cli:test", at(0));
  auto admin = ts->create("acme", api_role::admin, "ops", std::nullopt, "cli:test", at(0));
  auto other = ts->create("globex", api_role::admin, "", std::nullopt, "cli:test", at(0));
  REQUIRE((shortlived && admin && other));

  CHECK(ts->verify(shortlived->secret, at(59)));
  auto expired = ts->verify(shortlived->secret, at(60));
  REQUIRE_FALSE(expired);
  CHECK_THAT(expired.err().message, Catch::Contains("expired"));

  REQUIRE(ts->verify(admin->secret, at(1)));
  auto rv = ts->revoke(admin->info.id, at(2));
  REQUIRE(rv);
  CHECK(rv->revoked_at == at(2));
  auto again = ts->revoke(admin->info.id, at(3));  // revoking twice keeps the first time
  REQUIRE(again);
  CHECK(again->revoked_at == at(2));
  auto revoked = ts->verify(admin->secret, at(4));
  REQUIRE_FALSE(revoked);
  CHECK_THAT(revoked.err().message, Catch::Contains("revoked"));
  CHECK(ts->revoke("0000000000000000", at(5)).err().code == errc::not_found);

  auto acme = ts->list("acme");
  REQUIRE(acme);
  CHECK(acme->size() == 2);
  auto all = ts->list();
  REQUIRE(all);
  CHECK(all->size() == 3);
  CHECK(parse_api_role("root") == std::nullopt);
  CHECK(std::string(to_string(api_role::agent)) == "agent");
}

TEST_CASE("audit log: rows chain by hash; UPDATE and DELETE are refused by the table itself", "[unit][audit]") {
  temp_dir dir;
  const auto path = dir.file("a.db");
  auto db = open_store(path);
  auto al = audit_log::open(path).value();
  auto e1 = al->append("cli:root", "acme", "token.create", "abc", {{"role", "admin"}});
  auto e2 = al->append("worker", "acme", "host.write", "zendesk/42", {{"type", "add_internal_note"}, {"outcome", "done"}});
  auto e3 = al->append("serve", "", "config.load", "/etc/closeloop.json", {{"sha256", std::string(64, 'a')}});
  REQUIRE((e1 && e2 && e3));
  CHECK(e1->seq == 1);
  CHECK(e1->prev_hash == audit_log::genesis_hash());
  CHECK(e2->prev_hash == e1->hash);
  CHECK(e3->prev_hash == e2->hash);
  CHECK(audit_log::row_hash(*e2) == e2->hash);
  CHECK_FALSE(al->append("cli:root", "acme", "x", "", json::array()));  // detail must be an object

  auto v = al->verify();
  REQUIRE(v);
  CHECK(v->ok);
  CHECK(v->rows == 3);
  CHECK(v->head_hash == e3->hash);

  audit_filter by_tenant;
  by_tenant.tenant = "acme";
  auto acme = al->list(by_tenant);
  REQUIRE(acme);
  CHECK(acme->size() == 2);
  audit_filter by_action;
  by_action.action = "host.";
  auto writes = al->list(by_action);
  REQUIRE(writes);
  REQUIRE(writes->size() == 1);
  CHECK(writes->front().target == "zendesk/42");

  SQLite::Database raw(path, SQLite::OPEN_READWRITE);
  CHECK_THROWS_WITH(raw.exec("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2"), Catch::Contains("append-only"));
  CHECK_THROWS_WITH(raw.exec("DELETE FROM audit_log WHERE seq = 2"), Catch::Contains("append-only"));
}

TEST_CASE("audit verify names the first edited row, and a deleted one", "[unit][audit]") {
  temp_dir dir;
  const auto path = dir.file("a.db");
  auto db = open_store(path);
  auto al = audit_log::open(path).value();
  for (int i = 0; i < 5; ++i) REQUIRE(al->append("worker", "acme", "host.write", "t/" + std::to_string(i), {{"n", i}}));

  SECTION("an edited detail") {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE);
    raw.exec("DROP TRIGGER audit_log_no_update");
    raw.exec(R"(UPDATE audit_log SET detail = '{"n":99}' WHERE seq = 3)");
    auto v = al->verify();
    REQUIRE(v);
    CHECK_FALSE(v->ok);
    CHECK(v->first_bad == 3);
    CHECK_THAT(v->reason, Catch::Contains("hash"));
    CHECK(v->head_seq == 2);
  }
  SECTION("an edited actor with its hash recomputed: the next row's link breaks") {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE);
    raw.exec("DROP TRIGGER audit_log_no_update");
    auto rows = al->list();
    audit_entry e = (*rows)[1];
    e.actor = "nobody";
    SQLite::Statement up(raw, "UPDATE audit_log SET actor = ?, hash = ? WHERE seq = 2");
    up.bind(1, e.actor);
    up.bind(2, audit_log::row_hash(e));
    up.exec();
    auto v = al->verify();
    REQUIRE(v);
    CHECK_FALSE(v->ok);
    CHECK(v->first_bad == 3);
    CHECK_THAT(v->reason, Catch::Contains("prev_hash"));
  }
  SECTION("a deleted row") {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE);
    raw.exec("DROP TRIGGER audit_log_no_delete");
    raw.exec("DELETE FROM audit_log WHERE seq = 4");
    auto v = al->verify();
    REQUIRE(v);
    CHECK_FALSE(v->ok);
    CHECK(v->first_bad == 5);
    CHECK_THAT(v->reason, Catch::Contains("row 4 is missing"));
  }
  SECTION("a detail rewritten to the same JSON with other spacing") {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE);
    raw.exec("DROP TRIGGER audit_log_no_update");
    raw.exec(R"(UPDATE audit_log SET detail = '{ "n": 0 }' WHERE seq = 1)");
    auto v = al->verify();
    REQUIRE(v);
    CHECK_FALSE(v->ok);
    CHECK(v->first_bad == 1);
  }
}

TEST_CASE("route table: every route declares its access; role routes are tenant-scoped; patterns are distinct",
          "[unit][auth]") {
  using namespace closeloop::server;
  std::set<std::string> seen;
  int role_routes = 0;
  for (const route& r : routes()) {
    INFO(r.pattern);
    CHECK(r.handler != nullptr);
    CHECK(r.methods != 0);
    CHECK_FALSE(r.what.empty());
    CHECK(r.pattern.starts_with("/"));
    // The same pattern may appear once per method.
    for (unsigned bit : {m_get, m_post, m_put, m_delete, m_patch})
      if (r.methods & bit) CHECK(seen.insert(std::string(r.pattern) + "#" + std::to_string(bit)).second);
    if (required_role(r.need)) {
      ++role_routes;
      CHECK(r.pattern.starts_with("/api/"));
      CHECK(r.pattern.find("{tenant}") != std::string_view::npos);
    }
    // Every /api route needs a role: nothing under /api is public or merely signed.
    if (r.pattern.starts_with("/api/")) CHECK(required_role(r.need).has_value());
    // The route's own example path matches it.
    route_params p;
    const route* m = match_route(expand_pattern(r.pattern, {{"tenant", "acme"}}), p);
    REQUIRE(m != nullptr);
    CHECK(m->pattern == r.pattern);
  }
  CHECK(role_routes >= 2);
  route_params p;
  CHECK(match_route("/api/v1/tenants/acme/kb/report/extra", p) == nullptr);
  CHECK(match_route("/api/v1/tenants//kb/report", p) == nullptr);
  REQUIRE(match_route("/webhooks/acme/zendesk", p) != nullptr);
  CHECK(p.at("tenant") == "acme");
  CHECK(p.at("host") == "zendesk");
  CHECK(query_param("/x?since=2026-11-22T10%3A00%3A00Z&limit=5", "since") == "2026-11-22T10:00:00Z");
  CHECK(query_param("/x?limit=5", "since") == std::nullopt);
}
