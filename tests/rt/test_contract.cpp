// The request_tracker adapter without an RT: settings, the scrip signature (computed here as the
// scrip does, reference §1.6), translate() of the scrip payloads in tests/fixtures/request_tracker/,
// and 5xx / Retry-After mapping against a scripted loopback server.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/adapter.hpp"
#include "common/crypto.hpp"
#include "loopback_server.hpp"
#include "request_tracker/request_tracker_adapter.hpp"

using namespace closeloop;
using namespace closeloop::adapters;
using closeloop::adapters::request_tracker::request_tracker_adapter;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const std::filesystem::path source_dir{CLOSELOOP_SOURCE_DIR};
const std::string secret = "rt scrip secret, 32 bytes long!!";

tenant_config acme() {
  tenant_config t;
  t.id = "acme";
  return t;
}

host_config rt_host(json settings) {
  host_config h;
  h.id = "rt";
  h.vendor = "request_tracker";
  settings["id"] = h.id;
  settings["vendor"] = h.vendor;
  h.settings = std::move(settings);
  return h;
}

json minimal_settings() {
  return {{"base_url", "http://127.0.0.1:9"}, {"auth", {{"token", "1-14-0123456789abcdef0123456789abcdef"}}},
          {"webhook_secret", secret}};
}

std::unique_ptr<request_tracker_adapter> make_rt(json settings = minimal_settings(), milliseconds timeout = seconds{3}) {
  adapter_env env;
  env.http_timeout = timeout;
  auto a = request_tracker_adapter::create(acme(), rt_host(std::move(settings)), env);
  if (!a) FAIL(a.err().message);
  return std::move(a).value();
}

error config_error(json settings) {
  auto a = request_tracker_adapter::create(acme(), rt_host(std::move(settings)), adapter_env{});
  REQUIRE_FALSE(a);
  CHECK(a.err().code == errc::invalid_config);
  return a.err();
}

timestamp now_ms() { return std::chrono::time_point_cast<milliseconds>(std::chrono::system_clock::now()); }
std::int64_t unix_s(timestamp t) { return std::chrono::duration_cast<seconds>(t.time_since_epoch()).count(); }

// What the scrip sends: X-Plugin-Signature: sha256=<hex HMAC-SHA256(secret, ts + "." + body)>.
inbound_request signed_request(const std::string& body, timestamp at = now_ms(), const std::string& key = secret) {
  const std::string ts = std::to_string(unix_s(at));
  inbound_request req;
  req.method = "POST";
  req.target = "/webhooks/acme/rt";
  req.body = body;
  req.headers = {{"content-type", "application/json"},
                 {"x-plugin-timestamp", ts},
                 {"x-plugin-signature", "sha256=" + crypto::hex_encode(crypto::hmac_sha256(key, ts + "." + body))}};
  return req;
}

std::string fixture(const std::string& name) {
  std::ifstream in(source_dir / "tests/fixtures/request_tracker" / name, std::ios::binary);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<event> translate_fixture(const request_tracker_adapter& a, const std::string& name) {
  inbound_request req = signed_request(fixture(name));
  REQUIRE(a.verify(req, now_ms()));
  auto evs = a.translate(req);
  if (!evs) FAIL(name << ": " << evs.err().message);
  for (const auto& ev : *evs) {
    auto valid = validate_against_schema("event", to_json(ev));
    INFO(name << ": " << to_json(ev).dump());
    CHECK(valid);
    CHECK(ev.tenant == "acme");
    CHECK(ev.host == "rt");
  }
  return std::move(evs).value();
}

action make_action(action_type type, json params, std::string ticket = "7") {
  action a;
  a.type = type;
  a.idempotency_key = "acme:rt:txn:33:" + std::string(to_string(type));
  a.tenant = "acme";
  a.host = "rt";
  a.ticket_id = std::move(ticket);
  a.params = std::move(params);
  return a;
}

}  // namespace

TEST_CASE("request_tracker: settings are validated and defaulted", "[rt][contract]") {
  auto a = make_rt();
  CHECK(a->vendor() == "request_tracker");
  const auto& s = a->config();
  CHECK(s.base_url == "http://127.0.0.1:9");
  CHECK(s.auth_header == "token 1-14-0123456789abcdef0123456789abcdef");
  CHECK(s.queue == "General");
  CHECK(s.article_class == "closeloop");
  CHECK(s.priority_normal == 0);
  CHECK(s.priority_urgent == 50);
  CHECK(s.priority_critical == 100);
  CHECK(s.custom_fields.at("priority_reason") == "Priority reason");
  CHECK(s.custom_fields.at("tags") == "Tags");
  CHECK(s.custom_fields.at("sla_first_reply_due") == "First reply due");
  CHECK(s.write_due);
  CHECK(a->rest_url("/ticket/1") == "http://127.0.0.1:9/REST/2.0/ticket/1");

  json basic = minimal_settings();
  basic["auth"] = {{"user", "closeloop"}, {"password", "pw"}};
  basic["base_url"] = "https://rt.example.com/rt/";
  basic["custom_fields"] = {{"category", "Kategorie"}};
  basic["priority_map"] = {{"urgent", 70}};
  auto b = make_rt(basic);
  CHECK(b->config().auth_header == "Basic " + crypto::base64_encode("closeloop:pw"));
  CHECK(b->config().base_url == "https://rt.example.com/rt");
  CHECK(b->config().custom_fields.at("category") == "Kategorie");
  CHECK(b->config().custom_fields.at("sentiment") == "Sentiment");
  CHECK(b->config().priority_urgent == 70);
  CHECK(b->config().priority_critical == 100);

  // make_adapter knows the vendor.
  auto via_registry = make_adapter(acme(), rt_host(minimal_settings()), adapter_env{});
  REQUIRE(via_registry);
  CHECK((*via_registry)->vendor() == "request_tracker");
}

TEST_CASE("request_tracker: bad settings name the key", "[rt][contract]") {
  json s = minimal_settings();
  s.erase("base_url");
  CHECK_THAT(config_error(s).message, Catch::StartsWith("tenants[acme].hosts[rt].base_url: required"));
  s = minimal_settings();
  s["base_url"] = "ftp://rt.example.com";
  CHECK_THAT(config_error(s).message, Catch::StartsWith("tenants[acme].hosts[rt].base_url: expected an http(s) URL"));
  s["base_url"] = "http://rt.example.com/REST/2.0";
  CHECK_THAT(config_error(s).message, Catch::Contains("without /REST/2.0"));
  s = minimal_settings();
  s.erase("auth");
  CHECK_THAT(config_error(s).message, Catch::StartsWith("tenants[acme].hosts[rt].auth: required"));
  s["auth"] = {{"token", "t"}, {"user", "u"}, {"password", "p"}};
  CHECK_THAT(config_error(s).message, Catch::Contains("not both"));
  s["auth"] = {{"user", "u"}};
  CHECK_THAT(config_error(s).message, Catch::StartsWith("tenants[acme].hosts[rt].auth: "));
  s["auth"] = {{"token", "has space"}};
  CHECK_THAT(config_error(s).message, Catch::StartsWith("tenants[acme].hosts[rt].auth.token: "));
  s["auth"] = {{"key", "x"}};
  CHECK_THAT(config_error(s).message, Catch::StartsWith("tenants[acme].hosts[rt].auth.key: unknown key"));
  s = minimal_settings();
  s["priority_map"] = {{"urgent", -1}};
  CHECK_THAT(config_error(s).message, Catch::StartsWith("tenants[acme].hosts[rt].priority_map.urgent: "));
  s = minimal_settings();
  s["custom_fields"] = {{"urgency", "Urgency"}};
  CHECK_THAT(config_error(s).message, Catch::StartsWith("tenants[acme].hosts[rt].custom_fields.urgency: unknown key"));
  s = minimal_settings();
  s["write_due"] = "yes";
  CHECK_THAT(config_error(s).message,
             Catch::StartsWith("tenants[acme].hosts[rt].write_due: expected true or false, got \"yes\""));
  s = minimal_settings();
  s["webhook_secret"] = "short";
  CHECK_THAT(config_error(s).message, Catch::StartsWith("tenants[acme].hosts[rt].webhook_secret: "));
  s = minimal_settings();
  s["endpoint"] = {{"url", "http://x"}};
  CHECK_THAT(config_error(s).message, Catch::StartsWith("tenants[acme].hosts[rt].endpoint.url: unknown key"));
  s = minimal_settings();
  s["queues"] = "General";
  CHECK_THAT(config_error(s).message, Catch::StartsWith("tenants[acme].hosts[rt].queues: unknown key"));
  // No secret anywhere in a message.
  s = minimal_settings();
  s["auth"] = {{"token", "1-14-secret secret"}};
  CHECK_THAT(config_error(s).message, !Catch::Contains("1-14-secret"));
}

TEST_CASE("request_tracker: verify accepts the scrip's signature", "[rt][contract]") {
  auto a = make_rt();
  const std::string body = fixture("create.json");
  const timestamp now = now_ms();
  CHECK(a->verify(signed_request(body, now), now));
  // Upper-case hex and a scheme in capitals are the same signature.
  auto upper = signed_request(body, now);
  std::string& sig = upper.headers[2].second;
  for (char& c : sig) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(a->verify(upper, now));
  // Within the tolerance on either side.
  CHECK(a->verify(signed_request(body, now - seconds{299}), now));
  CHECK(a->verify(signed_request(body, now + seconds{299}), now));
}

TEST_CASE("request_tracker: verify refuses tampered, stale, unsigned and mis-signed requests", "[rt][contract]") {
  auto a = make_rt();
  const std::string body = fixture("create.json");
  const timestamp now = now_ms();
  auto refused = [&](const inbound_request& req) {
    auto r = a->verify(req, now);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::unauthorized);
    return r.err().message;
  };

  auto tampered = signed_request(body, now);
  tampered.body.replace(tampered.body.find("Printer"), 7, "Scanner");
  CHECK(refused(tampered) == "X-Plugin-Signature does not match (wrong secret or modified body)");

  CHECK(refused(signed_request(body, now, "another secret of 32 bytes!!!!!!")) ==
        "X-Plugin-Signature does not match (wrong secret or modified body)");

  // The timestamp is signed: moving it breaks the signature.
  auto moved = signed_request(body, now);
  moved.headers[1].second = std::to_string(unix_s(now) + 1);
  CHECK(refused(moved) == "X-Plugin-Signature does not match (wrong secret or modified body)");

  CHECK(refused(signed_request(body, now - seconds{301})) == "X-Plugin-Timestamp is older than 300 s");
  CHECK(refused(signed_request(body, now + seconds{301})) == "X-Plugin-Timestamp is more than 300 s in the future");

  auto no_ts = signed_request(body, now);
  no_ts.headers.erase(no_ts.headers.begin() + 1);
  CHECK(refused(no_ts) == "missing X-Plugin-Timestamp header");
  auto no_sig = signed_request(body, now);
  no_sig.headers.pop_back();
  CHECK(refused(no_sig) == "missing X-Plugin-Signature header");

  auto bad_ts = signed_request(body, now);
  bad_ts.headers[1].second = "2026-11-20T10:00:00Z";
  CHECK(refused(bad_ts) == "X-Plugin-Timestamp is not a Unix time in seconds");

  for (std::string bad : {"sha1=abcd", "sha256=xyz", "deadbeef", "v1,abc", ""}) {
    auto r = signed_request(body, now);
    r.headers[2].second = bad;
    CHECK(refused(r) == "X-Plugin-Signature: expected sha256=<64 hex digits>");
  }
  // The expected value never appears in a message.
  const std::string ts = std::to_string(unix_s(now));
  const std::string expected = crypto::hex_encode(crypto::hmac_sha256(secret, ts + "." + tampered.body));
  CHECK_THAT(refused(tampered), !Catch::Contains(expected.substr(0, 16)));

  // Without a webhook_secret nothing is accepted.
  json s = minimal_settings();
  s.erase("webhook_secret");
  auto no_secret = make_rt(s);
  auto r = no_secret->verify(signed_request(body, now), now);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::unauthorized);
}

TEST_CASE("request_tracker: translate maps scrip payloads to canonical events", "[rt][contract]") {
  auto a = make_rt();

  SECTION("Create -> ticket.created") {
    auto evs = translate_fixture(*a, "create.json");
    REQUIRE(evs.size() == 1);
    const event& e = evs[0];
    CHECK(e.type == event_type::ticket_created);
    CHECK(e.ticket_id == "7");
    CHECK(e.host_event_id == "txn:33");
    CHECK(format_rfc3339(e.occurred_at) == "2026-11-20T10:00:00.000Z");
    CHECK(e.subject == "Printer on fire");
    CHECK(e.text == "The printer in room 4 is on fire. Please help!");
    CHECK(e.group == "General");
    CHECK(e.channel == "email");
    CHECK(e.requester.email == "alice@example.com");
    CHECK(e.requester.name == "Alice Liddell");
    CHECK(e.requester.role == "customer");
    CHECK(e.author.id == "22");
    CHECK(e.author.role == "customer");
  }
  SECTION("Correspond -> ticket.commented public, by the customer") {
    auto evs = translate_fixture(*a, "correspond-customer.json");
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].type == event_type::ticket_commented);
    CHECK(evs[0].visibility == "public");
    CHECK(evs[0].host_event_id == "txn:40");
    CHECK(evs[0].text == "Any news? It is still burning.");
    CHECK(evs[0].author.role == "customer");  // creator e-mail matches the requestor (any case)
    CHECK(format_rfc3339(evs[0].occurred_at) == "2026-11-20T10:05:00.000Z");
  }
  SECTION("Comment -> ticket.commented internal, by an agent") {
    auto evs = translate_fixture(*a, "comment-agent.json");
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].type == event_type::ticket_commented);
    CHECK(evs[0].visibility == "internal");
    CHECK(evs[0].author.role == "agent");
    CHECK(evs[0].author.name == "root");
  }
  SECTION("Status -> resolved is ticket.solved") {
    auto evs = translate_fixture(*a, "status-resolved.json");
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].type == event_type::ticket_solved);
    CHECK(evs[0].host_event_id == "txn:43");
    CHECK(evs[0].changes == json{{"status", {{"from", "open"}, {"to", "resolved"}}}});
    CHECK(evs[0].author.role == "agent");
    CHECK(evs[0].data["resolution"] ==
          "The fire is out: we unplugged the printer and replaced its power supply.");
  }
  SECTION("Status resolved -> open is ticket.reopened") {
    auto evs = translate_fixture(*a, "status-reopened.json");
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].type == event_type::ticket_reopened);
    CHECK(evs[0].author.role == "system");
  }
  SECTION("Status -> rejected is ticket.closed") {
    auto evs = translate_fixture(*a, "status-rejected.json");
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].type == event_type::ticket_closed);
    CHECK(evs[0].ticket_id == "8");
  }
  SECTION("Status new -> open is ticket.updated") {
    auto evs = translate_fixture(*a, "status-new-to-open.json");
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].type == event_type::ticket_updated);
    CHECK(evs[0].changes == json{{"status", {{"from", "new"}, {"to", "open"}}}});
  }
  SECTION("Set Priority -> ticket.updated") {
    auto evs = translate_fixture(*a, "set-priority.json");
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].type == event_type::ticket_updated);
    CHECK(evs[0].changes == json{{"priority", {{"from", "0"}, {"to", "100"}}}});
  }
  SECTION("CustomField Tags -> ticket.updated with the canonical name") {
    auto evs = translate_fixture(*a, "customfield-tags.json");
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].type == event_type::ticket_updated);
    CHECK(evs[0].changes == json{{"tags", {{"from", nullptr}, {"to", "hardware"}}}});
  }
  SECTION("a batch keeps its order and drops transactions closeloop does not use") {
    auto evs = translate_fixture(*a, "batch.json");
    REQUIRE(evs.size() == 2);
    CHECK(evs[0].type == event_type::ticket_reopened);
    CHECK(evs[0].host_event_id == "txn:42");
    CHECK(evs[1].type == event_type::ticket_commented);
    CHECK(evs[1].host_event_id == "txn:40");
    CHECK(evs[1].author.role == "customer");
  }
  SECTION("AddWatcher -> nothing") {
    CHECK(translate_fixture(*a, "add-watcher.json").empty());
  }
  SECTION("the same transaction delivered twice has the same host_event_id") {
    auto one = translate_fixture(*a, "create.json");
    auto two = translate_fixture(*a, "create.json");
    CHECK(one.at(0).host_event_id == two.at(0).host_event_id);
  }
}

TEST_CASE("request_tracker: translate refuses malformed payloads naming the field", "[rt][contract]") {
  auto a = make_rt();
  auto refused = [&](const std::string& body) {
    inbound_request req = signed_request(body);
    auto r = a->translate(req);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::invalid_argument);
    return r.err().message;
  };
  json base = json::parse(fixture("create.json"));
  CHECK_THAT(refused("{not json"), Catch::StartsWith("body is not valid JSON"));
  CHECK_THAT(refused("42"), Catch::StartsWith("body: expected an RT transaction"));
  json j = base;
  j.erase("ticket_id");
  CHECK(refused(j.dump()) == "body.ticket_id: required");
  j = base;
  j["ticket_id"] = "seven";
  CHECK_THAT(refused(j.dump()), Catch::StartsWith("body.ticket_id: expected an RT id"));
  j = base;
  j.erase("transaction_id");
  CHECK(refused(j.dump()) == "body.transaction_id: required");
  j = base;
  j["created"] = "yesterday";
  CHECK_THAT(refused(j.dump()), Catch::StartsWith("body.created: "));
  j = base;
  j["tenant"] = "globex";
  CHECK_THAT(refused(j.dump()), Catch::StartsWith("body.tenant: \"globex\" does not match"));
  j = base;
  j["host"] = "other";
  CHECK_THAT(refused(j.dump()), Catch::StartsWith("body.host: "));
  j = base;
  j["creator"]["role"] = "boss";
  CHECK_THAT(refused(j.dump()), Catch::StartsWith("body.creator.role: "));
  j = base;
  j["subject"] = 5;
  CHECK_THAT(refused(j.dump()), Catch::StartsWith("body.subject: expected a string"));
  json arr = json::array({base, 5});
  CHECK_THAT(refused(arr.dump()), Catch::StartsWith("body[1]: expected an object"));
  // Matching tenant/host and other event kinds are fine.
  j = base;
  j["tenant"] = "acme";
  j["host"] = "rt";
  CHECK(a->translate(signed_request(j.dump())));
  j["event"] = "rt.something_else";
  auto none = a->translate(signed_request(j.dump()));
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("request_tracker: execute refuses what it cannot do, without calling RT", "[rt][contract]") {
  test::loopback_server server;
  json s = minimal_settings();
  s["base_url"] = server.url("");
  auto a = make_rt(s);
  auto failed = [&](const action& act) {
    auto o = a->execute(act);
    CHECK(o.k == action_outcome::kind::failed);
    return o.message;
  };
  CHECK(failed(make_action(action_type::send_survey, {{"survey", "csat"}})) ==
        "send_survey needs the invitation text (params.body)");
  CHECK_THAT(failed(make_action(action_type::set_priority, {{"priority", "normal"}}, "abc")),
             Catch::Contains("not an RT ticket number"));
  CHECK_THAT(failed(make_action(action_type::raise_alert, {{"level", "red"}, {"message", "x"}})),
             Catch::Contains("not carried out by the request_tracker adapter"));
  auto wrong_tenant = make_action(action_type::set_priority, {{"priority", "normal"}});
  wrong_tenant.tenant = "globex";
  CHECK_THAT(failed(wrong_tenant), Catch::Contains("sent to the adapter of acme/rt"));
  CHECK_THAT(failed(make_action(action_type::set_fields, {{"fields", {{"category_confidence", 0.5}}}})),
             Catch::Contains("none of the fields (category_confidence) is mapped"));
  CHECK_THAT(failed(make_action(action_type::set_fields, {{"fields", {{"sla_resolution_due", "Monday"}}}})),
             Catch::StartsWith("set_fields: fields.sla_resolution_due: expected an RFC 3339 time"));
  CHECK(server.requests().empty());
}

TEST_CASE("request_tracker: SLA due times — resolution into RT's Due, first reply into its CF", "[rt][contract]") {
  const json fields = {{"sla_first_reply_due", "2026-11-21T09:00:00Z"},
                       {"sla_resolution_due", "2026-11-23T09:00:00.250Z"},
                       {"language", "en"}};
  // The native door's changes (the extension applies them in RT's own process).
  auto a = make_rt();
  CHECK(a->render_for_host(make_action(action_type::set_fields, {{"fields", fields}})) ==
        json{{"CustomFields", {{"First reply due", "2026-11-21T09:00:00Z"}, {"Language", "en"}}},
             {"Due", "2026-11-23 09:00:00"}});
  // Only the due time (a reopening restarts it): still something to write.
  CHECK(a->render_for_host(make_action(action_type::set_fields, {{"fields", {{"sla_resolution_due", "2026-11-28T01:02:03+08:00"}}}})) ==
        json{{"Due", "2026-11-27 17:02:03"}});
  // A site whose RT sets Due itself.
  json s = minimal_settings();
  s["write_due"] = false;
  auto own_sla = make_rt(s);
  CHECK(own_sla->render_for_host(make_action(action_type::set_fields, {{"fields", fields}})) ==
        json{{"CustomFields", {{"First reply due", "2026-11-21T09:00:00Z"}, {"Language", "en"}}}});
  CHECK(own_sla->render_for_host(make_action(action_type::set_fields, {{"fields", {{"sla_resolution_due", "2026-11-28T01:02:03Z"}}}})) ==
        nullptr);
}

TEST_CASE("request_tracker: 5xx and 429 are retried, other 4xx fail with RT's message", "[rt][contract]") {
  test::loopback_server server;
  json s = minimal_settings();
  s["base_url"] = server.url("");
  auto a = make_rt(s);
  const auto act = make_action(action_type::set_priority, {{"priority", "urgent"}});

  server.push({503, {{"content-type", "application/json"}}, R"({"message":"database is locked"})"});
  auto o = a->execute(act);
  CHECK(o.k == action_outcome::kind::retry);
  CHECK(o.http_status == 503);
  CHECK(o.message == "database is locked");

  server.push({429, {{"retry-after", "7"}}, ""});
  o = a->execute(act);
  CHECK(o.k == action_outcome::kind::retry);
  REQUIRE(o.retry_after);
  CHECK(*o.retry_after == seconds{7});

  server.push({403, {{"content-type", "application/json"}}, R"({"message":"Permission Denied"})"});
  o = a->execute(act);
  CHECK(o.k == action_outcome::kind::failed);
  CHECK(o.http_status == 403);
  CHECK(o.message == "Permission Denied");

  // The request itself: PUT /REST/2.0/ticket/7 with the token, JSON, no Mozilla user agent.
  REQUIRE(server.wait_for_requests(3));
  const auto req = server.requests().at(0);
  CHECK(req.method == "PUT");
  CHECK(req.target == "/REST/2.0/ticket/7");
  REQUIRE(req.header("authorization"));
  CHECK(*req.header("authorization") == "token 1-14-0123456789abcdef0123456789abcdef");
  REQUIRE(req.header("user-agent"));
  CHECK_THAT(*req.header("user-agent"), !Catch::Contains("Mozilla"));
  CHECK(json::parse(req.body) == json{{"Priority", 50}});
}

TEST_CASE("request_tracker: a timeout is retried within the deadline", "[rt][contract]") {
  test::loopback_server server;
  json s = minimal_settings();
  s["base_url"] = server.url("");
  auto a = make_rt(s, milliseconds{300});
  test::scripted_response silent;
  silent.never_answer = true;
  server.push(silent);
  const auto t0 = std::chrono::steady_clock::now();
  auto o = a->execute(make_action(action_type::add_internal_note, {{"body", "x"}}));
  CHECK(std::chrono::steady_clock::now() - t0 < seconds{2});
  CHECK(o.k == action_outcome::kind::retry);
  CHECK(o.http_status == 0);
}

TEST_CASE("request_tracker: config fixtures — schema, loader and adapter agree", "[rt][contract]") {
  auto read = [](const std::string& rel) {
    std::ifstream in(source_dir / "tests/fixtures/config" / rel, std::ios::binary);
    REQUIRE(in);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  for (const std::string name : {"valid/request-tracker.json", "valid/request-tracker-basic.json"}) {
    INFO(name);
    auto cfg = parse_config(read(name), (source_dir / "tests/fixtures/config/valid").string());
    if (!cfg) FAIL(cfg.err().message);
    const auto& tenant = cfg->tenants.at(0);
    auto a = make_adapter(tenant, tenant.hosts.at(0), adapter_env{});
    if (!a) FAIL(a.err().message);
    CHECK((*a)->vendor() == "request_tracker");
  }
  // Each invalid fixture is refused for its own reason (the message names the pointer).
  const std::vector<std::pair<std::string, std::string>> invalid = {
      {"request-tracker-auth-both.json", "/tenants/0/hosts/0/auth"},
      {"request-tracker-auth-password-only.json", "/tenants/0/hosts/0/auth"},
      {"request-tracker-missing-auth.json", "auth"},
      {"request-tracker-base-url-not-http.json", "/tenants/0/hosts/0/base_url"},
      {"request-tracker-unknown-key.json", "endpoint_url"},
      {"request-tracker-custom-field-unknown.json", "urgency"},
      {"request-tracker-priority-negative.json", "/tenants/0/hosts/0/priority_map/urgent"},
      {"request-tracker-secret-short.json", "/tenants/0/hosts/0/webhook_secret"},
      {"request-tracker-generic-key.json", "url"},
  };
  for (const auto& [name, names] : invalid) {
    auto cfg = parse_config(read("invalid/" + name), ".");
    INFO(name << ": " << (cfg ? std::string("accepted") : cfg.err().message));
    REQUIRE_FALSE(cfg);
    CHECK_THAT(cfg.err().message, Catch::Contains(names));
  }
}
