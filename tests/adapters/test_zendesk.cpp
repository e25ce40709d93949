// The zendesk adapter beyond the conformance suite (tests/adapters/conformance/zendesk/): settings
// validation, cursor paging of audits and section articles (idempotency found on a later page),
// Help Center search paging, OAuth, 409 and doctor, against a scripted loopback server.
#include <catch2/catch.hpp>

#include "common/adapter.hpp"
#include "common/crypto.hpp"
#include "loopback_server.hpp"
#include "zendesk/zendesk_adapter.hpp"

using namespace closeloop;
using namespace closeloop::adapters;
using closeloop::adapters::zendesk::zendesk_adapter;
using std::chrono::seconds;

namespace {

tenant_config acme() {
  tenant_config t;
  t.id = "acme";
  return t;
}

host_config zd_host(json settings) {
  host_config h;
  h.id = "zd";
  h.vendor = "zendesk";
  settings["id"] = h.id;
  settings["vendor"] = h.vendor;
  h.settings = std::move(settings);
  return h;
}

json minimal(const std::string& base = "http://127.0.0.1:9") {
  return {{"base_url", base},
          {"auth", {{"email", "agent@acme.example"}, {"api_token", "tok"}}},
          {"webhook_secret", "secret"},
          {"help_center", {{"section_id", 5}, {"permission_group_id", 6}}}};
}

std::unique_ptr<zendesk_adapter> make(json settings) {
  adapter_env env;
  env.http_timeout = seconds{3};
  auto a = zendesk_adapter::create(acme(), zd_host(std::move(settings)), env);
  if (!a) FAIL(a.err().message);
  return std::move(a).value();
}

std::string config_error(json settings) {
  auto a = zendesk_adapter::create(acme(), zd_host(std::move(settings)), adapter_env{});
  REQUIRE_FALSE(a);
  CHECK(a.err().code == errc::invalid_config);
  return a.err().message;
}

action note(const std::string& key) {
  action a;
  a.type = action_type::add_internal_note;
  a.idempotency_key = key;
  a.tenant = "acme";
  a.host = "zd";
  a.ticket_id = "35436";
  a.params = {{"body", "closeloop: urgent"}};
  return a;
}

test::scripted_response json_response(int status, const json& body) {
  test::scripted_response r;
  r.status = status;
  r.body = body.dump();
  r.headers = {{"content-type", "application/json"}};
  return r;
}

}  // namespace

TEST_CASE("zendesk: settings are validated and defaulted", "[adapter][zendesk]") {
  auto a = make(minimal("https://acme.zendesk.com/"));
  const auto& s = a->config();
  CHECK(s.base_url == "https://acme.zendesk.com");
  CHECK(s.auth_header == "Basic " + crypto::base64_encode("agent@acme.example/token:tok"));
  CHECK(s.priority_map.at("urgent") == "high");
  CHECK(s.priority_map.at("critical") == "urgent");
  REQUIRE(s.help_center);
  CHECK(s.help_center->locale == "en-us");
  CHECK_FALSE(s.help_center->user_segment_id);
  CHECK(s.max_pages == 10);

  json oauth = minimal();
  oauth["auth"] = {{"oauth_token", "abc"}};
  CHECK(make(oauth)->config().auth_header == "Bearer abc");
}

TEST_CASE("zendesk: bad settings name the key", "[adapter][zendesk]") {
  json s = minimal();
  s["auth"] = {{"email", "agent@acme.example"}};
  CHECK_THAT(config_error(s), Catch::Contains("tenants[acme].hosts[zd].auth.api_token"));
  s["auth"] = {{"email", "a@b.c"}, {"api_token", "t"}, {"oauth_token", "o"}};
  CHECK_THAT(config_error(s), Catch::Contains("not both"));
  s = minimal();
  s["base_url"] = "ftp://acme.zendesk.com";
  CHECK_THAT(config_error(s), Catch::Contains(".base_url"));
  s = minimal();
  s["priority_map"] = {{"urgent", "asap"}};
  CHECK_THAT(config_error(s), Catch::Contains(".priority_map.urgent"));
  s = minimal();
  s["custom_fields"] = {{"category", "Category"}};
  CHECK_THAT(config_error(s), Catch::Contains(".custom_fields.category"));
  s = minimal();
  s["help_center"] = {{"permission_group_id", 6}};
  CHECK_THAT(config_error(s), Catch::Contains(".help_center.section_id"));
  s = minimal();
  s["subdomain"] = "acme";
  CHECK_THAT(config_error(s), Catch::Contains("tenants[acme].hosts[zd].subdomain: unknown key"));
  s = minimal();
  s["auth"]["api_token"] = "very-secret-token";
  s["max_pages"] = 0;
  const std::string msg = config_error(s);
  CHECK_THAT(msg, Catch::Contains(".max_pages"));
  CHECK_THAT(msg, !Catch::Contains("very-secret-token"));
}

TEST_CASE("zendesk: a comment already written is found on a later audit page", "[adapter][zendesk]") {
  test::loopback_server zd;
  auto a = make(minimal(zd.url("")));
  zd.push(json_response(200, {{"audits", json::array({{{"id", 1}, {"metadata", {{"custom", json::object()}}}}})},
                              {"meta", {{"has_more", true}, {"after_cursor", "c2"}}},
                              {"links", {{"next", zd.url("/api/v2/tickets/35436/audits?page[size]=100&page[after]=c2")}}}}));
  zd.push(json_response(200, {{"audits", json::array({{{"id", 2}, {"metadata", {{"custom", {{"closeloop_key", "k1"}}}}}}})},
                              {"meta", {{"has_more", false}}},
                              {"links", {{"next", nullptr}}}}));
  auto out = a->execute(note("k1"));
  CHECK(out.k == action_outcome::kind::done);
  CHECK_THAT(out.message, Catch::Contains("audit 2"));
  const auto reqs = zd.requests();
  REQUIRE(reqs.size() == 2);  // no PUT: the comment is there already
  CHECK(reqs[1].target == "/api/v2/tickets/35436/audits?page[size]=100&page[after]=c2");
  CHECK(*reqs[1].header("authorization") == a->config().auth_header);
}

TEST_CASE("zendesk: audit paging stops at max_pages, then writes", "[adapter][zendesk]") {
  test::loopback_server zd;
  json s = minimal(zd.url(""));
  s["max_pages"] = 2;
  auto a = make(s);
  for (int i = 0; i < 2; ++i) {
    zd.push(json_response(200, {{"audits", json::array()},
                                {"meta", {{"has_more", true}}},
                                {"links", {{"next", zd.url("/api/v2/tickets/35436/audits?page[after]=x")}}}}));
  }
  zd.push(json_response(200, {{"ticket", {{"id", 35436}}}}));
  auto out = a->execute(note("k2"));
  CHECK(out.k == action_outcome::kind::done);
  const auto reqs = zd.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[2].method == "PUT");
  CHECK(json::parse(reqs[2].body)["ticket"]["metadata"]["closeloop_key"] == "k2");
}

TEST_CASE("zendesk: an article with the key's label counts as created", "[adapter][zendesk]") {
  test::loopback_server zd;
  auto a = make(minimal(zd.url("")));
  action kb;
  kb.type = action_type::create_kb_article;
  kb.idempotency_key = "acme/zd/kb/fp1";
  kb.ticket_id = "35436";
  kb.params = {{"title", "Printer on fire"}, {"body", "Unplug it."}};
  zd.push(json_response(200, {{"articles", json::array({{{"id", 77}, {"title", "Other"}, {"label_names", json::array()}}})},
                              {"meta", {{"has_more", true}}},
                              {"links", {{"next", zd.url("/api/v2/help_center/en-us/sections/5/articles?page[after]=b")}}}}));
  zd.push(json_response(200, {{"articles", json::array({{{"id", 78}, {"title", "Printer on fire (edited)"},
                                                         {"label_names", {zendesk_adapter::key_label(kb.idempotency_key)}}}})},
                              {"meta", {{"has_more", false}}}}));
  auto out = a->execute(kb);
  CHECK(out.k == action_outcome::kind::done);
  CHECK_THAT(out.message, Catch::Contains("article 78"));
  CHECK(zd.requests().size() == 2);
}

TEST_CASE("zendesk: Help Center search follows next_page", "[adapter][zendesk]") {
  test::loopback_server zd;
  auto a = make(minimal(zd.url("")));
  zd.push(json_response(200, {{"results", json::array({{{"id", 1}, {"title", "Reset your password"}}})},
                              {"next_page", zd.url("/api/v2/help_center/articles/search?page=2&query=reset")}}));
  zd.push(json_response(200, {{"results", json::array({{{"id", 2}, {"title", "Reset 2FA"}, {"draft", false}}})},
                              {"next_page", nullptr}}));
  auto hits = a->search_articles("reset password");
  REQUIRE(hits);
  REQUIRE(hits->size() == 2);
  CHECK((*hits)[1].title == "Reset 2FA");
  CHECK(zd.requests()[0].target == "/api/v2/help_center/articles/search?per_page=100&query=reset%20password&locale=en-us");
}

TEST_CASE("zendesk: 409 UpdateConflict is retried, doctor names the account", "[adapter][zendesk]") {
  test::loopback_server zd;
  auto a = make(minimal(zd.url("")));
  action p;
  p.type = action_type::set_priority;
  p.idempotency_key = "k";
  p.ticket_id = "35436";
  p.params = {{"priority", "critical"}};
  zd.push(json_response(409, {{"error", "UpdateConflict"}, {"description", "Ticket was updated by someone else"}}));
  auto out = a->execute(p);
  CHECK(out.k == action_outcome::kind::retry);
  CHECK_THAT(out.message, Catch::Contains("UpdateConflict: Ticket was updated"));

  zd.push(json_response(200, {{"user", {{"email", "agent@acme.example"}}}}));
  auto r = a->check_reachable();
  REQUIRE(r);
  CHECK_THAT(*r, Catch::Contains("as agent@acme.example: HTTP 200"));
  zd.push(json_response(401, {{"error", "Couldn't authenticate you"}}));
  auto bad = a->check_reachable();
  REQUIRE_FALSE(bad);
  CHECK(bad.err().code == errc::unauthorized);
}

TEST_CASE("zendesk: verify refuses a timestamp that is not ISO-8601 and an unconfigured secret", "[adapter][zendesk]") {
  auto a = make(minimal());
  const timestamp now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  inbound_request req;
  req.body = "{}";
  req.headers = {{"x-zendesk-webhook-signature", crypto::base64_encode(crypto::hmac_sha256("secret", "1700000000{}"))},
                 {"x-zendesk-webhook-signature-timestamp", "1700000000"}};
  auto r = a->verify(req, now);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.err().message, Catch::Contains("not an ISO-8601"));

  json s = minimal();
  s.erase("webhook_secret");
  auto no_secret = make(s);
  auto refused = no_secret->verify(req, now);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.err().message, Catch::Contains("webhook_secret is not configured"));
}
