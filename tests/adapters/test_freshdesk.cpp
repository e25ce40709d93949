// The freshdesk adapter against its documented contract (adapters/freshdesk/README.md and
// ../shared/reference/vendor-contracts.md §3): the rule's secret header + basic auth, the
// automation webhook body, and API v2 calls against a loopback stand-in.
#include <fstream>

#include <catch2/catch.hpp>

#include "common/adapter.hpp"
#include "common/crypto.hpp"
#include "freshdesk/freshdesk_adapter.hpp"
#include "loopback_server.hpp"
#include "vendor_test_support.hpp"

using namespace closeloop;
using namespace closeloop::adapters;
using closeloop::test::loopback_server;
using closeloop::test::recorded_request;
using closeloop::test::scripted_response;
using std::chrono::milliseconds;
using namespace closeloop::test::vendor;

namespace {

const std::string hook_secret = "fd-shared-secret-0123456789";
const std::string api_key = "fdApiKey123";
const std::string api_auth = "Basic " + crypto::base64_encode(api_key + ":X");

json base_settings(const std::string& base_url = "https://acme.freshdesk.com") {
  return {{"id", "fd"},
          {"vendor", "freshdesk"},
          {"base_url", base_url},
          {"api_key", api_key},
          {"webhook", {{"secret", hook_secret}, {"user", "closeloop"}, {"password", "hook-pass"}}},
          {"groups", {{"Escalations", 77}}},
          {"agents", {{"lead", 501}}},
          {"kb", {{"folder_id", 9}}}};
}

// What a Freshdesk "Trigger webhook" action sends: the custom header and the rule's basic auth.
inbound_request webhook(const std::string& body, const std::string& event = "",
                        const std::string& secret = hook_secret, const std::string& basic = "closeloop:hook-pass") {
  inbound_request req;
  req.method = "POST";
  req.target = "/webhooks/acme/fd" + (event.empty() ? std::string() : "?event=" + event);
  req.body = body;
  req.received_at = at("2026-11-22T10:00:00Z");
  req.headers = {{"content-type", "application/json"},
                 {"x-closeloop-secret", secret},
                 {"authorization", "Basic " + crypto::base64_encode(basic)}};
  return req;
}

// The simple-mode body the README documents (fields picked from Freshdesk's placeholder list).
json simple_body(json fields) {
  json base = {{"ticket_id", 4711},
               {"ticket_subject", "Printer on fire"},
               {"ticket_description", "<div>The printer <b>is</b> on fire &amp; smoking.</div>"},
               {"ticket_status", "Open"},
               {"ticket_priority", "Low"},
               {"ticket_source", "Email"},
               {"ticket_tags", "hardware, office"},
               {"ticket_group_name", "Support"},
               {"ticket_requester_name", "Emily Adams"},
               {"ticket_requester_email", "emily@example.com"},
               {"ticket_agent_name", "Emma Taylor"},
               {"ticket_agent_email", "emma@acme.example"}};
  if (fields.is_object()) base.update(fields);
  return {{"freshdesk_webhook", base}};
}

action make_action(action_type t, json params, std::string ticket = "4711") {
  action a;
  a.type = t;
  a.idempotency_key = "acme/fd/" + ticket + "/fd:4711:created/" + std::string(to_string(t));
  a.tenant = "acme";
  a.host = "fd";
  a.ticket_id = std::move(ticket);
  a.params = std::move(params);
  return a;
}

void check_api_call(const recorded_request& r, const std::string& method, const std::string& target) {
  closeloop::test::vendor::check_api_call(r, method, target, api_auth);
}

}  // namespace

TEST_CASE("freshdesk: settings are validated and errors name the key", "[adapter][freshdesk]") {
  CHECK(make(base_settings())->vendor() == "freshdesk");
  json s = base_settings();
  s.erase("base_url");
  CHECK(config_error(s).starts_with("tenants[acme].hosts[fd].base_url: required"));
  s = base_settings("https://acme.freshdesk.com/api/v2");
  CHECK(config_error(s).starts_with("tenants[acme].hosts[fd].base_url: give the root URL, without /api/v2"));
  s = base_settings();
  s.erase("api_key");
  CHECK(config_error(s).starts_with("tenants[acme].hosts[fd].api_key: required"));
  s = base_settings();
  s["webhook"].erase("password");
  CHECK(config_error(s).starts_with("tenants[acme].hosts[fd].webhook: needs secret, user and password"));
  s = base_settings();
  s["webhook"]["secret"] = "short";
  CHECK(config_error(s).starts_with("tenants[acme].hosts[fd].webhook.secret: must be at least 16"));
  s = base_settings();
  s["priority_map"] = {{"urgent", 7}};
  CHECK(config_error(s).starts_with("tenants[acme].hosts[fd].priority_map.urgent: expected an integer 1..4"));
  s = base_settings();
  s["groups"] = {{"Billing", "twelve"}};
  CHECK(config_error(s).starts_with("tenants[acme].hosts[fd].groups.Billing: expected a positive integer id"));
  s = base_settings();
  s["kb"] = {{"folder", 1}};
  CHECK(config_error(s) == "tenants[acme].hosts[fd].kb.folder: unknown key");
  s = base_settings();
  s["api_token"] = "x";
  CHECK(config_error(s) == "tenants[acme].hosts[fd].api_token: unknown key");
}

TEST_CASE("freshdesk: verify needs both the secret header and the rule's basic auth", "[adapter][freshdesk]") {
  auto a = make(base_settings());
  const std::string body = simple_body({}).dump();
  const timestamp now = at("2026-11-22T10:00:00Z");
  CHECK(a->verify(webhook(body), now));

  auto refused = [&](inbound_request req, const std::string& reason) {
    auto v = a->verify(req, now);
    REQUIRE_FALSE(v);
    CHECK(v.err().code == errc::unauthorized);
    CHECK(v.err().message == reason);
    CHECK(v.err().message.find(hook_secret) == std::string::npos);
    CHECK(v.err().message.find("hook-pass") == std::string::npos);
  };
  refused(webhook(body, "", "fd-shared-secret-0123456780"), "X-Closeloop-Secret does not match (wrong secret)");
  refused(webhook(body, "", hook_secret, "closeloop:wrong"),
          "Authorization: the basic-auth user or password does not match");
  refused(webhook(body, "", hook_secret, "intruder:hook-pass"),
          "Authorization: the basic-auth user or password does not match");
  auto no_secret = webhook(body);
  no_secret.headers.erase(no_secret.headers.begin() + 1);
  refused(no_secret, "missing X-Closeloop-Secret header");
  auto no_auth = webhook(body);
  no_auth.headers.pop_back();
  refused(no_auth, "missing Authorization header (the rule's basic auth on the webhook URL)");
  auto bearer = webhook(body);
  bearer.headers.back().second = "Bearer abc";
  refused(bearer, "Authorization: expected HTTP Basic credentials");

  // Without webhook settings nothing is accepted.
  json s = base_settings();
  s.erase("webhook");
  auto closed = make(s);
  auto v = closed->verify(webhook(body), now);
  REQUIRE_FALSE(v);
  CHECK(v.err().message.find("inbound webhooks are refused") != std::string::npos);
}

TEST_CASE("freshdesk: translate maps the automation rules' bodies to canonical events", "[adapter][freshdesk]") {
  auto a = make(base_settings());

  SECTION("created (simple mode, event in the URL)") {
    auto r = a->translate(webhook(simple_body({}).dump(), "created"));
    INFO((r ? std::string() : r.err().message));
    REQUIRE(r);
    REQUIRE(r->size() == 1);
    const event& e = r->front();
    CHECK(e.type == event_type::ticket_created);
    CHECK(e.tenant == "acme");
    CHECK(e.host == "fd");
    CHECK(e.ticket_id == "4711");
    CHECK(e.host_event_id == "fd:4711:created");
    CHECK(e.occurred_at == at("2026-11-22T10:00:00Z"));
    CHECK(e.subject == "Printer on fire");
    CHECK(e.text == "The printer is on fire & smoking.");
    CHECK(e.channel == "email");
    CHECK(e.group == "Support");
    CHECK(e.tags == std::vector<std::string>{"hardware", "office"});
    CHECK(e.requester.email == "emily@example.com");
    CHECK(e.requester.role == "customer");
    CHECK(e.author.role == "customer");
    // The canonical JSON is valid (the server stores exactly this).
    CHECK(event_from_json(to_json(e)));
  }
  SECTION("customer reply, agent reply and private note") {
    auto reply = a->translate(webhook(
        simple_body({{"ticket_latest_public_comment", "<p>Still burning!</p>"}}).dump(), "customer_reply"));
    REQUIRE(reply);
    CHECK(reply->front().type == event_type::ticket_commented);
    CHECK(reply->front().visibility == "public");
    CHECK(reply->front().author.role == "customer");
    CHECK(reply->front().text == "Still burning!");
    CHECK(reply->front().host_event_id.starts_with("fd:4711:customer_reply:"));

    auto agent = a->translate(webhook(simple_body({{"ticket_latest_public_comment", "On our way"}}).dump(), "agent_reply"));
    REQUIRE(agent);
    CHECK(agent->front().author.role == "agent");
    CHECK(agent->front().author.email == "emma@acme.example");

    auto note = a->translate(webhook(simple_body({{"ticket_latest_private_comment", "call facilities"}}).dump(), "note"));
    REQUIRE(note);
    CHECK(note->front().visibility == "internal");
    CHECK(note->front().text == "call facilities");
  }
  SECTION("resolved carries the agent's last reply as the resolution; reopened; closed; updated") {
    auto solved = a->translate(webhook(
        simple_body({{"ticket_status", "Resolved"},
                     {"ticket_latest_public_comment", "<p>Unplug it, then replace the fuser unit.</p>"}})
            .dump(),
        "resolved"));
    REQUIRE(solved);
    CHECK(solved->front().type == event_type::ticket_solved);
    CHECK(solved->front().data["resolution"] == "Unplug it, then replace the fuser unit.");
    auto reopened = a->translate(webhook(simple_body({{"ticket_status", "Open"}}).dump(), "reopened"));
    REQUIRE(reopened);
    CHECK(reopened->front().type == event_type::ticket_reopened);
    auto closed = a->translate(webhook(simple_body({{"ticket_status", "Closed"}}).dump(), "closed"));
    REQUIRE(closed);
    CHECK(closed->front().type == event_type::ticket_closed);
    auto updated = a->translate(webhook(simple_body({{"ticket_priority", "Urgent"}}).dump(), "updated"));
    REQUIRE(updated);
    CHECK(updated->front().type == event_type::ticket_updated);
    CHECK(updated->front().changes["priority"]["to"] == "urgent");
  }
  SECTION("advanced mode: a flat body with event and occurred_at") {
    json flat = simple_body({})["freshdesk_webhook"];
    flat["event"] = "resolved";
    flat["occurred_at"] = "2026-11-22T09:30:00Z";
    auto r = a->translate(webhook(flat.dump()));
    REQUIRE(r);
    CHECK(r->front().type == event_type::ticket_solved);
    CHECK(r->front().occurred_at == at("2026-11-22T09:30:00Z"));
  }
}

TEST_CASE("freshdesk: the same delivery dedupes, a different change does not", "[adapter][freshdesk]") {
  auto a = make(base_settings());
  const std::string body = simple_body({{"ticket_latest_public_comment", "first"}}).dump();
  auto one = a->translate(webhook(body, "customer_reply"));
  auto again = a->translate(webhook(body, "customer_reply"));
  auto other = a->translate(webhook(simple_body({{"ticket_latest_public_comment", "second"}}).dump(), "customer_reply"));
  REQUIRE(one);
  REQUIRE(again);
  REQUIRE(other);
  CHECK(one->front().host_event_id == again->front().host_event_id);
  CHECK(one->front().host_event_id != other->front().host_event_id);
}

TEST_CASE("freshdesk: translate refuses bad bodies with the field named", "[adapter][freshdesk]") {
  auto a = make(base_settings());
  auto refused = [&](const std::string& body, const std::string& event, const std::string& starts) {
    auto r = a->translate(webhook(body, event));
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::invalid_argument);
    INFO(r.err().message);
    CHECK(r.err().message.starts_with(starts));
  };
  refused("{not json", "created", "body is not valid JSON");
  refused("[1,2]", "created", "body: expected a Freshdesk webhook object");
  refused(simple_body({}).dump(), "", "body.freshdesk_webhook.event: required");
  refused(simple_body({}).dump(), "deleted", "body.freshdesk_webhook.event: unknown \"deleted\"");
  json no_id = simple_body({});
  no_id["freshdesk_webhook"].erase("ticket_id");
  refused(no_id.dump(), "created", "body.freshdesk_webhook.ticket_id: required");
  refused(simple_body({{"ticket_id", "abc"}}).dump(), "created", "body.freshdesk_webhook.ticket_id: expected a Freshdesk ticket id");
  refused(simple_body({{"tenant", "other"}}).dump(), "created", "body.freshdesk_webhook.tenant: \"other\" does not match");
  refused(simple_body({{"ticket_subject", json::array()}}).dump(), "created", "body.freshdesk_webhook.ticket_subject: expected a string");
  // Another vendor's payload (a Zammad trigger body) is not a Freshdesk webhook.
  refused(R"({"ticket":{"id":81,"title":"x"},"article":{"id":104}})", "created", "body.ticket_id: required");
}

TEST_CASE("freshdesk: execute writes priority, fields and tags through API v2", "[adapter][freshdesk]") {
  loopback_server fd;
  auto a = make(base_settings(fd.url("")));

  fd.push(json_reply(200, {{"id", 4711}, {"priority", 4}}));
  auto o = a->execute(make_action(action_type::set_priority, {{"priority", "critical"}}));
  INFO(o.message);
  CHECK(o.k == action_outcome::kind::done);
  auto reqs = fd.requests();
  REQUIRE(reqs.size() == 1);
  check_api_call(reqs[0], "PUT", "/api/v2/tickets/4711");
  CHECK(body_of(reqs[0]) == json{{"priority", 4}});

  // Freshdesk kept another value: failed, saying so.
  fd.push(json_reply(200, {{"id", 4711}, {"priority", 1}}));
  auto kept = a->execute(make_action(action_type::set_priority, {{"priority", "urgent"}}));
  CHECK(kept.k == action_outcome::kind::failed);
  CHECK(kept.message.find("kept priority = 1") != std::string::npos);

  // Fields: custom fields by their cf_ names; tags merged with the ticket's current ones.
  fd.push(json_reply(200, {{"id", 4711}, {"tags", {"vip"}}}));
  fd.push(json_reply(200, {{"id", 4711}, {"custom_fields", {{"cf_category", "outage"}, {"cf_sentiment", "negative"}}}}));
  auto f = a->execute(make_action(
      action_type::set_fields,
      {{"fields", {{"category", "outage"}, {"sentiment", "negative"}, {"category_confidence", 0.9}, {"tags", {"fire"}}}}}));
  INFO(f.message);
  CHECK(f.k == action_outcome::kind::done);
  CHECK(f.message == "not mapped, skipped: category_confidence");
  reqs = fd.requests();
  REQUIRE(reqs.size() == 4);
  check_api_call(reqs[2], "GET", "/api/v2/tickets/4711");
  check_api_call(reqs[3], "PUT", "/api/v2/tickets/4711");
  const json put = body_of(reqs[3]);
  CHECK(put["custom_fields"] == json{{"cf_category", "outage"}, {"cf_sentiment", "negative"}});
  CHECK(put["tags"] == json{"vip", "fire"});

  // Nothing mapped: failed, naming the fields.
  auto none = a->execute(make_action(action_type::set_fields, {{"fields", {{"mood", "ok"}}}}));
  CHECK(none.k == action_outcome::kind::failed);
  CHECK(none.message.find("none of the fields (mood)") != std::string::npos);
}

TEST_CASE("freshdesk: notes and replies carry a marker and are not posted twice", "[adapter][freshdesk]") {
  loopback_server fd;
  auto a = make(base_settings(fd.url("")));
  action note = make_action(action_type::add_internal_note, {{"body", "closeloop: priority critical (重大)"}});
  const std::string marker = marker_of(note.idempotency_key);

  // First time: the conversations (two pages, Link rel="next") do not have it; the note is posted.
  fd.push(json_reply(200, json::array({{{"id", 1}, {"body", "<p>hello</p>"}, {"body_text", "hello"}}}),
                     {{"link", "<" + fd.url("/api/v2/tickets/4711/conversations?page=2&per_page=100") + ">; rel=\"next\""}}));
  fd.push(json_reply(200, json::array({{{"id", 2}, {"body", "<p>other</p>"}}})));
  fd.push(json_reply(201, {{"id", 3}, {"private", true}}));
  auto o = a->execute(note);
  INFO(o.message);
  CHECK(o.k == action_outcome::kind::done);
  auto reqs = fd.requests();
  REQUIRE(reqs.size() == 3);
  check_api_call(reqs[0], "GET", "/api/v2/tickets/4711/conversations?page=1&per_page=100");
  check_api_call(reqs[1], "GET", "/api/v2/tickets/4711/conversations?page=2&per_page=100");
  check_api_call(reqs[2], "POST", "/api/v2/tickets/4711/notes");
  const json posted = body_of(reqs[2]);
  CHECK(posted["private"] == true);
  CHECK(posted["body"].get<std::string>().find("<p>closeloop: priority critical (重大)</p>") == 0);
  CHECK(posted["body"].get<std::string>().find(marker) != std::string::npos);

  // A retry after a lost answer finds the marker and posts nothing.
  fd.push(json_reply(200, json::array({{{"id", 3}, {"body", posted["body"]}}})));
  auto again = a->execute(note);
  CHECK(again.k == action_outcome::kind::done);
  CHECK(again.message.find("already on Freshdesk ticket 4711") == 0);
  CHECK(fd.requests().size() == 4);

  // The survey invitation is a public reply, its link clickable.
  fd.push(json_reply(200, json::array()));
  fd.push(json_reply(201, {{"id", 4}}));
  auto survey = a->execute(make_action(action_type::send_survey,
                                       {{"body", "How did we do?\nhttps://cl.example/s/abc?score=5"}, {"subject", "x"}}));
  CHECK(survey.k == action_outcome::kind::done);
  reqs = fd.requests();
  REQUIRE(reqs.size() == 6);
  check_api_call(reqs[5], "POST", "/api/v2/tickets/4711/reply");
  CHECK(body_of(reqs[5])["body"].get<std::string>().find(
            "<a href=\"https://cl.example/s/abc?score=5\">https://cl.example/s/abc?score=5</a>") != std::string::npos);
  CHECK_FALSE(body_of(reqs[5]).contains("private"));
}

TEST_CASE("freshdesk: reopen and assign_group resolve names through the settings", "[adapter][freshdesk]") {
  loopback_server fd;
  auto a = make(base_settings(fd.url("")));
  fd.push(json_reply(200, {{"id", 4711}, {"status", 2}, {"responder_id", 501}, {"group_id", 77}}));
  auto o = a->execute(make_action(action_type::reopen, {{"owner", "lead"}, {"group", "Escalations"}, {"reason", "bad csat"}}));
  INFO(o.message);
  CHECK(o.k == action_outcome::kind::done);
  auto reqs = fd.requests();
  REQUIRE(reqs.size() == 1);
  check_api_call(reqs[0], "PUT", "/api/v2/tickets/4711");
  CHECK(body_of(reqs[0]) == json{{"status", 2}, {"responder_id", 501}, {"group_id", 77}});

  auto unknown = a->execute(make_action(action_type::reopen, {{"owner", "nobody"}}));
  CHECK(unknown.k == action_outcome::kind::failed);
  CHECK(unknown.message.find("owner \"nobody\" is neither a Freshdesk agent id nor in agents") != std::string::npos);

  fd.push(json_reply(200, {{"id", 4711}, {"group_id", 12}}));
  auto g = a->execute(make_action(action_type::assign_group, {{"group", "12"}}));
  CHECK(g.k == action_outcome::kind::done);
  CHECK(body_of(fd.requests().back()) == json{{"group_id", 12}});
}

TEST_CASE("freshdesk: a KB article is a draft in the configured folder, created once", "[adapter][freshdesk]") {
  loopback_server fd;
  auto a = make(base_settings(fd.url("")));
  action kb = make_action(action_type::create_kb_article,
                          {{"title", "Printer on fire"}, {"body", "Problem\n\nIt burns.\n\nSolution\n\nUnplug it."},
                           {"tags", {"closeloop"}}, {"fingerprint", "fire printer"}},
                          "4711");
  fd.push(json_reply(200, json::array({{{"id", 1}, {"title", "Reset a password"}}})));
  fd.push(json_reply(201, {{"id", 55}, {"title", "Printer on fire"}, {"status", 1}}));
  auto o = a->execute(kb);
  INFO(o.message);
  CHECK(o.k == action_outcome::kind::done);
  CHECK(o.message == "created article 55 (draft)");
  CHECK(o.created_id == "55");
  auto reqs = fd.requests();
  REQUIRE(reqs.size() == 2);
  check_api_call(reqs[0], "GET", "/api/v2/solutions/folders/9/articles?page=1&per_page=100");
  check_api_call(reqs[1], "POST", "/api/v2/solutions/folders/9/articles");
  const json art = body_of(reqs[1]);
  CHECK(art["title"] == "Printer on fire");
  CHECK(art["status"] == 1);
  CHECK(art["description"] == "<p>Problem</p><p>It burns.</p><p>Solution</p><p>Unplug it.</p>");
  CHECK(art["tags"] == json{"closeloop"});

  // Already there (same title): nothing created.
  fd.push(json_reply(200, json::array({{{"id", 55}, {"title", "Printer on fire"}}})));
  auto again = a->execute(kb);
  CHECK(again.k == action_outcome::kind::done);
  CHECK(again.message == "already in Freshdesk as article 55");
  CHECK(again.created_id == "55");
  CHECK(fd.requests().size() == 3);

  json s = base_settings(fd.url(""));
  s.erase("kb");
  auto no_folder = make(s)->execute(kb);
  CHECK(no_folder.k == action_outcome::kind::failed);
  CHECK(no_folder.message.find("kb.folder_id is not configured") != std::string::npos);
}

TEST_CASE("freshdesk: execute maps Freshdesk's answers (4xx message, 429, 5xx, timeout)", "[adapter][freshdesk]") {
  loopback_server fd;
  auto a = make(base_settings(fd.url("")), env(milliseconds{500}));
  const action prio = make_action(action_type::set_priority, {{"priority", "urgent"}});

  fd.push(json_reply(400, {{"description", "Validation failed"},
                           {"errors", {{{"field", "priority"}, {"message", "It should be one of these values: '1,2,3,4'"}, {"code", "invalid_value"}}}}}));
  auto bad = a->execute(prio);
  CHECK(bad.k == action_outcome::kind::failed);
  CHECK(bad.http_status == 400);
  CHECK(bad.message == "Validation failed: priority: It should be one of these values: '1,2,3,4'");

  fd.push(json_reply(401, {{"code", "invalid_credentials"}, {"message", "You have to be logged in to perform this action."}}));
  auto denied = a->execute(prio);
  CHECK(denied.k == action_outcome::kind::failed);
  CHECK(denied.message == "You have to be logged in to perform this action.");

  fd.push({429, {{"retry-after", "37"}}, ""});
  auto limited = a->execute(prio);
  CHECK(limited.k == action_outcome::kind::retry);
  CHECK(limited.http_status == 429);
  REQUIRE(limited.retry_after);
  CHECK(*limited.retry_after == milliseconds{37000});

  fd.push({503, {}, "upstream maintenance"});
  auto down = a->execute(prio);
  CHECK(down.k == action_outcome::kind::retry);
  CHECK(down.message == "upstream maintenance");

  scripted_response silent;
  silent.never_answer = true;
  fd.push(silent);
  const auto t0 = std::chrono::steady_clock::now();
  auto slow = a->execute(prio);
  CHECK(slow.k == action_outcome::kind::retry);
  CHECK(slow.http_status == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds{3});

  // Unsupported and malformed actions fail with a reason, never silently.
  CHECK(a->execute(make_action(action_type::cancel_survey, {})).k == action_outcome::kind::failed);
  CHECK(a->execute(make_action(action_type::set_priority, {{"priority", "urgent"}}, "ABC-1")).message ==
        "ticket_id \"ABC-1\" is not a Freshdesk ticket id");
}

TEST_CASE("freshdesk: check_reachable reports what it tried", "[adapter][freshdesk]") {
  loopback_server fd;
  auto a = make(base_settings(fd.url("")));
  fd.push(json_reply(200, {{"id", 1}, {"contact", {{"email", "agent@acme.example"}}}}));
  auto ok = a->check_reachable();
  REQUIRE(ok);
  CHECK(*ok == "reached Freshdesk at " + fd.url("/api/v2/agents/me") + ": HTTP 200 (agent agent@acme.example)");
  check_api_call(fd.requests().back(), "GET", "/api/v2/agents/me");
  fd.push(json_reply(401, {{"code", "invalid_credentials"}, {"message", "You have to be logged in to perform this action."}}));
  auto denied = a->check_reachable();
  REQUIRE_FALSE(denied);
  CHECK(denied.err().code == errc::unauthorized);
  CHECK(denied.err().message.find(api_key) == std::string::npos);
}

TEST_CASE("freshdesk: the example configuration validates and builds the adapter", "[adapter][freshdesk]") {
  check_example_config("freshdesk");
}

TEST_CASE("freshdesk: list_articles pages through the folder", "[adapter][freshdesk]") {
  loopback_server fd;
  auto a = make(base_settings(fd.url("")));
  fd.push(json_reply(200,
                     json::array({{{"id", 55}, {"title", "Printer on fire"}, {"description", "<p>Unplug it.</p>"}, {"status", 1}},
                                  {{"id", 56}, {"title", "Reset a password"}, {"description_text", "Use the link."}, {"status", 2}}}),
                     {{"link", "<" + fd.url("/api/v2/solutions/folders/9/articles?page=2&per_page=2") + ">; rel=\"next\""}}));
  auto page = a->list_articles("", 2);
  INFO((page ? std::string() : page.err().message));
  REQUIRE(page);
  REQUIRE(page->articles.size() == 2);
  CHECK(page->articles[0].id == "55");
  CHECK(page->articles[0].body == "Unplug it.");
  CHECK(page->articles[0].draft);
  CHECK(page->articles[1].body == "Use the link.");
  CHECK_FALSE(page->articles[1].draft);
  CHECK(page->articles[1].url == fd.url("/a/solutions/articles/56"));
  CHECK(page->next_cursor == "2");
  check_api_call(fd.requests().back(), "GET", "/api/v2/solutions/folders/9/articles?page=1&per_page=2");
  fd.push(json_reply(200, json::array({{{"id", 57}, {"title", "Last"}}})));
  auto last = a->list_articles("2", 2);
  REQUIRE(last);
  CHECK(last->next_cursor.empty());
  check_api_call(fd.requests().back(), "GET", "/api/v2/solutions/folders/9/articles?page=2&per_page=2");
  fd.push({429, {{"retry-after", "3"}}, ""});
  auto limited = a->list_articles("", 2);
  REQUIRE_FALSE(limited);
  CHECK(limited.err().retryable);
  CHECK(a->list_articles("x", 2).err().code == errc::invalid_argument);
}
