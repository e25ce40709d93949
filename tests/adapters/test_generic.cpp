#include <catch2/catch.hpp>

#include "common/adapter.hpp"
#include "common/crypto.hpp"
#include "common/standard_webhooks.hpp"
#include "generic/generic_adapter.hpp"
#include "loopback_server.hpp"

using namespace closeloop;
using namespace closeloop::adapters;
using closeloop::test::loopback_server;
using closeloop::test::scripted_response;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const std::string inbound_secret = "whsec_" + crypto::base64_encode("generic inbound secret, 32 bytes");
const std::string outbound_secret = "whsec_" + crypto::base64_encode("generic outbound secret 32 bytes");

tenant_config acme() {
  tenant_config t;
  t.id = "acme";
  return t;
}

host_config host_with(json settings) {
  host_config h;
  h.id = "h1";
  h.vendor = "generic";
  settings["id"] = h.id;
  settings["vendor"] = h.vendor;
  h.settings = std::move(settings);
  return h;
}

adapter_env env_with_timeout(milliseconds t = milliseconds{3000}) {
  adapter_env env;
  env.http_timeout = t;
  return env;
}

std::unique_ptr<adapter> make(json settings, adapter_env env = env_with_timeout()) {
  auto a = make_adapter(acme(), host_with(std::move(settings)), env);
  REQUIRE(a);
  return std::move(a).value();
}

error config_error(json settings) {
  auto a = make_adapter(acme(), host_with(std::move(settings)), env_with_timeout());
  REQUIRE_FALSE(a);
  CHECK(a.err().code == errc::invalid_config);
  return a.err();
}

timestamp now_ms() { return std::chrono::time_point_cast<milliseconds>(std::chrono::system_clock::now()); }

inbound_request signed_request(const std::string& body, const std::string& id = "delivery-1",
                               timestamp at = now_ms()) {
  inbound_request req;
  req.method = "POST";
  req.target = "/webhooks/acme/h1";
  req.body = body;
  const auto ts = std::chrono::duration_cast<seconds>(at.time_since_epoch()).count();
  auto s = standard_webhooks::signer::from_secret(inbound_secret);
  REQUIRE(s);
  req.headers = standard_webhooks::make_headers(*s, id, ts, body);
  req.headers.emplace_back("content-type", "application/json");
  return req;
}

action note_action(std::string key = "acme:h1:evt-1:add_internal_note") {
  action a;
  a.type = action_type::add_internal_note;
  a.idempotency_key = std::move(key);
  a.tenant = "acme";
  a.host = "h1";
  a.ticket_id = "42";
  a.caused_by = "evt-1";
  a.params = {{"body", "Customer is unhappy: 紧急"}};
  return a;
}

const char* created_event = R"({"type":"ticket.created","ticket_id":"42","occurred_at":"2026-11-22T10:00:00Z",
  "subject":"Printer on fire","text":"Please help","requester":{"email":"a@example.com"}})";

}  // namespace

TEST_CASE("generic: settings are validated and errors name the key", "[adapter][generic]") {
  CHECK(config_error(json::object()).message ==
        "tenants[acme].hosts[h1].webhook_secret: required (a Standard Webhooks secret, \"whsec_<base64>\")");
  CHECK_THAT(config_error({{"webhook_secret", 5}}).message,
             Catch::StartsWith("tenants[acme].hosts[h1].webhook_secret: expected a string"));
  CHECK_THAT(config_error({{"webhook_secret", "s3cret"}}).message,
             Catch::StartsWith("tenants[acme].hosts[h1].webhook_secret: the secret is not base64"));
  CHECK_THAT(config_error({{"webhook_secret", inbound_secret}, {"endpoint", {{"url", "ftp://x/"}}}}).message,
             Catch::StartsWith("tenants[acme].hosts[h1].endpoint.url: expected an http(s) URL"));
  CHECK_THAT(config_error({{"webhook_secret", inbound_secret}, {"endpoint", json::object()}}).message,
             Catch::StartsWith("tenants[acme].hosts[h1].endpoint.url: required"));
  CHECK_THAT(config_error({{"webhook_secret", inbound_secret}, {"endpoint", "http://x/"}}).message,
             Catch::StartsWith("tenants[acme].hosts[h1].endpoint: expected an object"));
  CHECK_THAT(
      config_error({{"webhook_secret", inbound_secret}, {"endpoint", {{"url", "http://x/"}, {"secret", "nope!"}}}})
          .message,
      Catch::StartsWith("tenants[acme].hosts[h1].endpoint.secret:"));

  auto a = make({{"webhook_secret", inbound_secret}});  // inbound only is fine
  CHECK(a->vendor() == "generic");
}

TEST_CASE("generic: verify uses Standard Webhooks with the configured tolerance", "[adapter][generic]") {
  adapter_env env = env_with_timeout();
  env.signature_tolerance = seconds{60};
  auto a = make({{"webhook_secret", inbound_secret}}, env);
  const timestamp t = now_ms();
  auto req = signed_request(created_event, "d-1", t);
  CHECK(a->verify(req, t));
  auto late = a->verify(req, t + seconds{120});
  REQUIRE_FALSE(late);
  CHECK(late.err().code == errc::unauthorized);
  CHECK(late.err().message == "webhook-timestamp is older than 60 s");

  req.body += " ";
  auto tampered = a->verify(req, t);
  REQUIRE_FALSE(tampered);
  CHECK_THAT(tampered.err().message, Catch::Contains("wrong secret or modified body"));
}

TEST_CASE("generic: translate fills tenant, host and the delivery id", "[adapter][generic]") {
  auto a = make({{"webhook_secret", inbound_secret}});
  auto events = a->translate(signed_request(created_event, "delivery-77"));
  REQUIRE(events);
  REQUIRE(events->size() == 1);
  const event& e = events->front();
  CHECK(e.type == event_type::ticket_created);
  CHECK(e.tenant == "acme");
  CHECK(e.host == "h1");
  CHECK(e.host_event_id == "delivery-77");
  CHECK(e.ticket_id == "42");
  CHECK(e.subject == "Printer on fire");
  CHECK(e.requester.email == "a@example.com");

  // An explicit host_event_id wins; matching tenant/host are fine.
  json j = json::parse(created_event);
  j["tenant"] = "acme";
  j["host"] = "h1";
  j["host_event_id"] = "txn-9";
  auto explicit_id = a->translate(signed_request(j.dump(), "delivery-78"));
  REQUIRE(explicit_id);
  CHECK(explicit_id->front().host_event_id == "txn-9");
}

TEST_CASE("generic: translate refuses a payload for another tenant or host", "[adapter][generic]") {
  auto a = make({{"webhook_secret", inbound_secret}});
  json j = json::parse(created_event);
  j["tenant"] = "globex";
  auto r = a->translate(signed_request(j.dump()));
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::invalid_argument);
  CHECK(r.err().message == "event.tenant \"globex\" does not match the URL's tenant \"acme\"");

  j["tenant"] = "acme";
  j["host"] = "h2";
  auto h = a->translate(signed_request(j.dump()));
  REQUIRE_FALSE(h);
  CHECK(h.err().message == "event.host \"h2\" does not match the URL's host \"h1\"");
}

TEST_CASE("generic: translate reports malformed JSON and invalid events", "[adapter][generic]") {
  auto a = make({{"webhook_secret", inbound_secret}});
  auto r = a->translate(signed_request(R"({"type":"ticket.created", "ticket_id": })"));
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::invalid_argument);
  CHECK_THAT(r.err().message, Catch::StartsWith("body is not valid JSON: "));
  CHECK_THAT(r.err().message, Catch::Contains("line 1, column 40"));

  auto arr = a->translate(signed_request("[1,2]"));
  REQUIRE_FALSE(arr);
  CHECK_THAT(arr.err().message, Catch::Contains("expected one canonical event (a JSON object), got array"));

  auto unknown = a->translate(signed_request(R"({"type":"ticket.exploded","ticket_id":"1",
      "occurred_at":"2026-11-22T10:00:00Z"})"));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.err().code == errc::invalid_argument);
  CHECK_THAT(unknown.err().message, Catch::Contains("event.type"));
}

TEST_CASE("generic: execute POSTs the action, signed, with the idempotency key as webhook-id",
          "[adapter][generic]") {
  loopback_server server;
  auto a = make({{"webhook_secret", inbound_secret},
                 {"endpoint", {{"url", server.url("/closeloop/actions")}, {"secret", outbound_secret}}}});
  server.push({200, {}, R"({"status":"applied"})"});
  const action act = note_action();
  auto out = a->execute(act);
  CHECK(out.k == action_outcome::kind::done);
  CHECK(out.http_status == 200);

  REQUIRE(server.wait_for_requests(1));
  const auto req = server.requests().front();
  CHECK(req.method == "POST");
  CHECK(req.target == "/closeloop/actions");
  CHECK(*req.header("content-type") == "application/json");
  CHECK(*req.header("webhook-id") == act.idempotency_key);
  // What the receiver got verifies with our own verify() and the endpoint secret...
  CHECK(standard_webhooks::verify(outbound_secret, req.headers, req.body, now_ms()));
  // ...and not with the inbound secret.
  CHECK_FALSE(standard_webhooks::verify(inbound_secret, req.headers, req.body, now_ms()));
  // The body is the canonical action.
  auto back = parse_action(req.body);
  REQUIRE(back);
  CHECK(back->idempotency_key == act.idempotency_key);
  CHECK(back->type == action_type::add_internal_note);
  CHECK(back->params["body"] == "Customer is unhappy: 紧急");

  // A retry of the same action carries the same webhook-id.
  server.push({200, {}, ""});
  CHECK(a->execute(act).k == action_outcome::kind::done);
  REQUIRE(server.wait_for_requests(2));
  CHECK(*server.requests()[1].header("webhook-id") == act.idempotency_key);
}

TEST_CASE("generic: the endpoint secret defaults to webhook_secret", "[adapter][generic]") {
  loopback_server server;
  auto a = make({{"webhook_secret", inbound_secret}, {"endpoint", {{"url", server.url("/in")}}}});
  CHECK(a->execute(note_action()).k == action_outcome::kind::done);
  REQUIRE(server.wait_for_requests(1));
  const auto req = server.requests().front();
  CHECK(standard_webhooks::verify(inbound_secret, req.headers, req.body, now_ms()));
}

TEST_CASE("generic: execute maps the receiver's answers", "[adapter][generic]") {
  loopback_server server;
  auto a = make({{"webhook_secret", inbound_secret}, {"endpoint", {{"url", server.url("/in")}}}});

  server.push({400, {{"content-type", "application/json"}}, R"({"message":"ticket 42 is closed"})"});
  auto bad = a->execute(note_action());
  CHECK(bad.k == action_outcome::kind::failed);
  CHECK(bad.http_status == 400);
  CHECK(bad.message == "ticket 42 is closed");

  server.push({429, {{"retry-after", "12"}}, "slow down"});
  auto limited = a->execute(note_action());
  CHECK(limited.k == action_outcome::kind::retry);
  CHECK(limited.http_status == 429);
  REQUIRE(limited.retry_after);
  CHECK(*limited.retry_after == milliseconds{12000});

  server.push({503, {}, "maintenance"});
  auto down = a->execute(note_action());
  CHECK(down.k == action_outcome::kind::retry);
  CHECK(down.message == "maintenance");

  scripted_response silent;
  silent.never_answer = true;
  server.push(silent);
  auto slow = make({{"webhook_secret", inbound_secret}, {"endpoint", {{"url", server.url("/in")}}}},
                   env_with_timeout(milliseconds{300}));
  auto timed_out = slow->execute(note_action());
  CHECK(timed_out.k == action_outcome::kind::retry);
  CHECK(timed_out.http_status == 0);
  CHECK_THAT(timed_out.message, Catch::Contains("timed out after 300 ms"));

  auto no_key = note_action("");
  CHECK(a->execute(no_key).k == action_outcome::kind::failed);
  auto inbound_only = make({{"webhook_secret", inbound_secret}});
  auto nowhere = inbound_only->execute(note_action());
  CHECK(nowhere.k == action_outcome::kind::failed);
  CHECK_THAT(nowhere.message, Catch::Contains("endpoint.url is not configured"));
}

TEST_CASE("generic: check_reachable reports what it tried", "[adapter][generic]") {
  loopback_server server;
  server.push({405, {}, "POST only"});
  auto a = make({{"webhook_secret", inbound_secret}, {"endpoint", {{"url", server.url("/in")}}}});
  auto r = a->check_reachable();
  REQUIRE(r);
  CHECK(*r == "reached " + server.url("/in") + ": HTTP 405");

  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acc(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acc.local_endpoint().port();
  acc.close();
  auto down = make({{"webhook_secret", inbound_secret},
                    {"endpoint", {{"url", "http://127.0.0.1:" + std::to_string(port) + "/in"}}}});
  auto d = down->check_reachable();
  REQUIRE_FALSE(d);
  CHECK(d.err().code == errc::unavailable);
  CHECK_THAT(d.err().message, Catch::Contains("connecting to 127.0.0.1:" + std::to_string(port)));

  auto inbound_only = make({{"webhook_secret", inbound_secret}});
  auto n = inbound_only->check_reachable();
  REQUIRE_FALSE(n);
  CHECK_THAT(n.err().message, Catch::Contains("endpoint.url is not configured"));
}
