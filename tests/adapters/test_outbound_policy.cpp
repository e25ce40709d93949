// Outbound policy (issue 9 item 3): closeloop calls only the configured host base URLs, verifies
// certificates and never follows redirects. Each case counts the requests that reached the
// loopback server closeloop must NOT call, so a refusal that still connected would fail.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>

#include "common/adapter.hpp"
#include "common/http_client.hpp"
#include "common/retry.hpp"
#include "loopback_server.hpp"
#include "self_signed.hpp"
#include "zendesk/zendesk_adapter.hpp"

using namespace closeloop;
using namespace closeloop::adapters;
using closeloop::test::loopback_server;
using closeloop::test::scripted_response;
using std::chrono::milliseconds;

namespace {

tenant_config acme() {
  tenant_config t;
  t.id = "acme";
  return t;
}

host_config host_of(std::string id, std::string vendor, json settings) {
  host_config h;
  h.id = std::move(id);
  h.vendor = std::move(vendor);
  settings["id"] = h.id;
  settings["vendor"] = h.vendor;
  h.settings = std::move(settings);
  return h;
}

adapter_env short_env() {
  adapter_env e;
  e.http_timeout = milliseconds{3000};
  return e;
}

std::unique_ptr<adapter> generic_to(const std::string& endpoint_url, json extra = json::object()) {
  json s = {{"webhook_secret", "whsec_b3V0Ym91bmQtcG9saWN5LXRlc3Qtc2VjcmV0LTMyYg=="},
            {"endpoint", {{"url", endpoint_url}}}};
  for (auto& [k, v] : extra.items()) s["endpoint"][k] = v;
  auto a = make_adapter(acme(), host_of("g", "generic", s), short_env());
  INFO((a ? std::string() : a.err().message));
  REQUIRE(a);
  return std::move(a).value();
}

action a_note(const std::string& key) {
  action a;
  a.type = action_type::add_internal_note;
  a.idempotency_key = key;
  a.tenant = "acme";
  a.host = "g";
  a.ticket_id = "42";
  a.caused_by = "ev-1";
  a.params = {{"body", "hello"}};
  return a;
}

scripted_response json_answer(int status, const json& body) {
  return {status, {{"content-type", "application/json"}}, body.dump()};
}

}  // namespace

TEST_CASE("outbound: the client's allow-list refuses other origins before any I/O", "[adapter][common][ssrf]") {
  loopback_server allowed;
  loopback_server elsewhere;
  http::client_options o;
  o.timeout = milliseconds{3000};
  REQUIRE(o.allow(allowed.url("/api")));
  http::client c(o);

  SECTION("the configured origin is called") {
    auto r = c.send({"GET", allowed.url("/api/v2/tickets/1"), {}, ""});
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(allowed.requests().size() == 1);
  }
  SECTION("the same host on another port is another origin: refused, naming both") {
    auto r = c.send({"GET", elsewhere.url("/steal"), {}, ""});
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::invalid_argument);
    CHECK_FALSE(r.err().retryable);
    CHECK_THAT(r.err().message, Catch::Contains("outbound call refused") && Catch::Contains(elsewhere.url("/steal")) &&
                                    Catch::Contains("http://127.0.0.1:" + std::to_string(allowed.port())));
  }
  SECTION("another scheme or host is refused too") {
    auto r1 = c.send({"GET", "https://127.0.0.1:" + std::to_string(allowed.port()) + "/", {}, ""});
    REQUIRE_FALSE(r1);
    CHECK_THAT(r1.err().message, Catch::Contains("outbound call refused"));
    auto r2 = c.send({"GET", "http://localhost:" + std::to_string(allowed.port()) + "/", {}, ""});
    REQUIRE_FALSE(r2);
    CHECK_THAT(r2.err().message, Catch::Contains("outbound call refused"));
  }
  CHECK(elsewhere.requests().empty());
}

TEST_CASE("outbound: a URL from a vendor payload pointing elsewhere is refused (Zendesk next_page)",
          "[adapter][zendesk][ssrf]") {
  loopback_server zd;
  loopback_server internal;  // stands for an internal service an attacker would like us to call
  json settings = {{"base_url", zd.url("")},
                   {"auth", {{"email", "agent@acme.example"}, {"api_token", "tok"}}},
                   {"webhook_secret", "secret"},
                   {"help_center", {{"section_id", 5}, {"permission_group_id", 6}}}};
  auto made = zendesk::zendesk_adapter::create(acme(), host_of("zd", "zendesk", settings), short_env());
  REQUIRE(made);
  auto& a = **made;
  zd.push(json_answer(200, {{"results", json::array({{{"id", 1}, {"title", "Reset your password"}}})},
                            {"next_page", internal.url("/admin/delete-everything")}}));
  auto hits = a.search_articles("reset password");
  REQUIRE_FALSE(hits);
  CHECK_THAT(hits.err().message,
             Catch::Contains("outbound call refused") && Catch::Contains(internal.url("/admin/delete-everything")));
  CHECK(zd.requests().size() == 1);  // the configured base URL was called (first page)
  CHECK(internal.requests().empty());

  INFO("control: a next_page on the configured origin is followed");
  zd.push(json_answer(200, {{"results", json::array({{{"id", 1}, {"title", "A"}}})},
                            {"next_page", zd.url("/api/v2/help_center/articles/search?page=2")}}));
  zd.push(json_answer(200, {{"results", json::array({{{"id", 2}, {"title", "B"}}})}, {"next_page", nullptr}}));
  auto ok = a.search_articles("reset password");
  REQUIRE(ok);
  CHECK(ok->size() == 2);
}

TEST_CASE("outbound: a redirect is never followed, to another origin or not", "[adapter][generic][ssrf]") {
  loopback_server endpoint;
  loopback_server target;
  auto a = generic_to(endpoint.url("/actions"));
  endpoint.push({302, {{"location", target.url("/actions")}}, ""});
  auto out = a->execute(a_note("redirect-1"));
  CHECK(out.k == action_outcome::kind::failed);
  CHECK(out.http_status == 302);
  CHECK_THAT(out.message, Catch::Contains("redirect to \"" + target.url("/actions") + "\" not followed"));
  CHECK(endpoint.requests().size() == 1);
  CHECK(target.requests().empty());

  endpoint.push({307, {{"location", endpoint.url("/actions2")}}, ""});
  auto same = a->execute(a_note("redirect-2"));
  CHECK(same.k == action_outcome::kind::failed);
  CHECK_THAT(same.message, Catch::Contains("not followed"));
  CHECK(endpoint.requests().size() == 2);  // not a third request to /actions2
}

TEST_CASE("outbound: the configured base URL is the allow-list, whatever it points at", "[adapter][ssrf]") {
  // Loopback is allowed here because the configuration says so: the allow-list is the configured
  // base URLs, not an IP block list (tests and on-premises helpdesks live on private addresses).
  loopback_server rt;
  json settings = {{"base_url", rt.url("")}, {"auth", {{"token", "secret-token"}}}, {"queue", "General"}};
  auto made = make_adapter(acme(), host_of("rt", "request_tracker", settings), short_env());
  INFO((made ? std::string() : made.err().message));
  REQUIRE(made);
  rt.push(json_answer(200, {{"Version", "5.0.3"}}));
  auto reach = (*made)->check_reachable();
  INFO((reach ? *reach : reach.err().message));
  CHECK(reach);
  CHECK(rt.requests().size() == 1);

  INFO("a base URL closeloop cannot call is a config error naming the key");
  json bad = settings;
  bad["base_url"] = "ftp://rt.example.com";
  auto refused = make_adapter(acme(), host_of("rt", "request_tracker", bad), short_env());
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::invalid_config);
  CHECK_THAT(refused.err().message, Catch::Contains("tenants[acme].hosts[rt].base_url"));
}

TEST_CASE("outbound: a host with a self-signed certificate is refused, nothing is sent", "[adapter][generic][tls]") {
  const auto cert = test::make_self_signed();
  auto ctx = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
  ctx->use_certificate_chain(boost::asio::buffer(cert.cert_pem));
  ctx->use_private_key(boost::asio::buffer(cert.key_pem), boost::asio::ssl::context::pem);
  loopback_server endpoint(ctx);

  auto a = generic_to(endpoint.url("/actions"));
  auto out = a->execute(a_note("tls-1"));
  CHECK(out.k == action_outcome::kind::failed);  // an operator must fix it: not retried
  CHECK(out.http_status == 0);
  CHECK_THAT(out.message, Catch::Contains("certificate verify failed"));
  CHECK(endpoint.requests().empty());  // the handshake failed before any request was written

  INFO("control: trusted through the host's endpoint.ca_file, the same action is delivered");
  const auto dir = std::filesystem::temp_directory_path() /
                   ("closeloop-outbound-" + std::to_string(std::random_device{}()) + std::to_string(endpoint.port()));
  std::filesystem::create_directories(dir);
  const auto ca_file = (dir / "ca.pem").string();
  std::ofstream(ca_file) << cert.cert_pem;
  auto trusted = generic_to(endpoint.url("/actions"), {{"ca_file", ca_file}});
  auto ok = trusted->execute(a_note("tls-1"));
  CHECK(ok.k == action_outcome::kind::done);
  CHECK(endpoint.requests().size() == 1);
  std::filesystem::remove_all(dir);
}
