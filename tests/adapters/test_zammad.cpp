// The zammad adapter against its documented contract (adapters/zammad/README.md and
// ../shared/reference/vendor-contracts.md §4): X-Hub-Signature sha1, the trigger webhook's
// default payload (zammad-admin-documentation manage/webhook/payload.rst), and API v1 calls
// against a loopback stand-in.
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "common/adapter.hpp"
#include "common/crypto.hpp"
#include "loopback_server.hpp"
#include "vendor_test_support.hpp"
#include "zammad/zammad_adapter.hpp"

using namespace closeloop;
using namespace closeloop::adapters;
using closeloop::test::loopback_server;
using closeloop::test::recorded_request;
using closeloop::test::scripted_response;
using std::chrono::milliseconds;
using namespace closeloop::test::vendor;

namespace {

const std::string token_secret = "zammad-hmac-token-0123456789";
const std::string api_token = "zmToken123";

json base_settings(const std::string& base_url = "https://zammad.example.com") {
  return {{"id", "zm"},
          {"vendor", "zammad"},
          {"base_url", base_url},
          {"auth", {{"token", api_token}}},
          {"webhook_secret", token_secret},
          {"kb", {{"knowledge_base_id", 1}, {"category_id", 2}, {"visibility", "internal"}}}};
}

// What Zammad sends: X-Hub-Signature = "sha1=" + hex HMAC-SHA1(token, raw body), computed here.
inbound_request webhook(const std::string& body, const std::string& event = "", const std::string& secret = token_secret) {
  inbound_request req;
  req.method = "POST";
  req.target = "/webhooks/acme/zm" + (event.empty() ? std::string() : "?event=" + event);
  req.body = body;
  req.received_at = at("2026-11-22T10:00:00Z");
  req.headers = {{"content-type", "application/json"},
                 {"user-agent", "Zammad User Agent"},
                 {"x-zammad-trigger", "closeloop: ticket created"},
                 {"x-zammad-delivery", "c0ffee00-1111-2222-3333-444455556666"},
                 {"x-hub-signature", "sha1=" + crypto::hex_encode(crypto::hmac_sha1(secret, body))}};
  return req;
}

// The default payload in the documented shape (payload.rst, trimmed to what we read).
json payload(json ticket_patch = json::object(), json article = json::object()) {
  json ticket = {{"id", 81},
                 {"number", "10081"},
                 {"title", "Printer on fire"},
                 {"state", "new"},
                 {"priority", {{"id", 2}, {"name", "2 normal"}}},
                 {"group", {{"id", 3}, {"name", "Service Desk"}}},
                 {"customer", {{"id", 8}, {"email", "emily@example.com"}, {"firstname", "Emily"}, {"lastname", "Adams"}}},
                 {"customer_id", 8},
                 {"create_article_type", "email"},
                 {"article_count", 1},
                 {"article_ids", {104}},
                 {"created_at", "2026-11-22T09:00:00.000Z"},
                 {"updated_at", "2026-11-22T09:00:01.000Z"}};
  if (ticket_patch.is_object()) ticket.update(ticket_patch);
  json a = {{"id", 104},
            {"ticket_id", 81},
            {"body", "The printer <b>is</b> on fire.<div><br></div>"},
            {"content_type", "text/html"},
            {"internal", false},
            {"sender", "Customer"},
            {"type", "email"},
            {"created_at", "2026-11-22T09:00:00.500Z"},
            {"created_by", {{"id", 8}, {"email", "emily@example.com"}, {"firstname", "Emily"}, {"lastname", "Adams"}}}};
  if (article.is_null()) return {{"ticket", ticket}};
  if (article.is_object()) a.update(article);
  return {{"ticket", ticket}, {"article", a}};
}

action make_action(action_type t, json params, std::string ticket = "81") {
  action a;
  a.type = t;
  a.idempotency_key = "acme/zm/" + ticket + "/zammad:81:created:a104/" + std::string(to_string(t));
  a.tenant = "acme";
  a.host = "zm";
  a.ticket_id = std::move(ticket);
  a.params = std::move(params);
  return a;
}

void check_api_call(const recorded_request& r, const std::string& method, const std::string& target) {
  closeloop::test::vendor::check_api_call(r, method, target, "Token token=" + api_token);
}

}  // namespace

TEST_CASE("zammad: settings are validated and errors name the key", "[adapter][zammad]") {
  CHECK(make(base_settings())->vendor() == "zammad");
  json s = base_settings();
  s["auth"] = {{"token", "a"}, {"oauth_token", "b"}};
  CHECK(config_error(s).starts_with("tenants[acme].hosts[zm].auth: give exactly one of"));
  s = base_settings();
  s.erase("auth");
  CHECK(config_error(s).starts_with("tenants[acme].hosts[zm].auth: required"));
  s = base_settings("https://zammad.example.com/api/v1/");
  CHECK(config_error(s).starts_with("tenants[acme].hosts[zm].base_url: give the root URL, without /api/v1"));
  s = base_settings();
  s["webhook_secret"] = "short";
  CHECK(config_error(s).starts_with("tenants[acme].hosts[zm].webhook_secret: must be at least 16"));
  s = base_settings();
  s["custom_fields"] = {{"category", "Closeloop Category"}};
  CHECK(config_error(s).starts_with("tenants[acme].hosts[zm].custom_fields.category: expected a Zammad attribute name"));
  s = base_settings();
  s["kb"]["visibility"] = "secret";
  CHECK(config_error(s).starts_with("tenants[acme].hosts[zm].kb.visibility: expected draft, internal or public"));
  s = base_settings();
  s["kb"].erase("category_id");
  CHECK(config_error(s).starts_with("tenants[acme].hosts[zm].kb: needs knowledge_base_id and category_id"));
  s = base_settings();
  s["signature"] = "sha1";
  CHECK(config_error(s) == "tenants[acme].hosts[zm].signature: unknown key");
}

TEST_CASE("zammad: verify checks X-Hub-Signature sha1 exactly", "[adapter][zammad]") {
  auto a = make(base_settings());
  const std::string body = payload().dump();
  const timestamp now = at("2026-11-22T10:00:00Z");
  CHECK(a->verify(webhook(body), now));

  auto refused = [&](inbound_request req, const std::string& reason) {
    auto v = a->verify(req, now);
    REQUIRE_FALSE(v);
    CHECK(v.err().code == errc::unauthorized);
    CHECK(v.err().message == reason);
  };
  auto tampered = webhook(body);
  tampered.body = payload({{"title", "Printer fixed"}}).dump();
  refused(tampered, "X-Hub-Signature does not match (wrong token or modified body)");
  refused(webhook(body, "", "another-token-0123456789"), "X-Hub-Signature does not match (wrong token or modified body)");
  auto missing = webhook(body);
  missing.headers.pop_back();
  refused(missing, "missing X-Hub-Signature header (set the webhook's HMAC SHA1 Signature Token)");
  // Not "close enough": sha256, upper-case prefix, or a truncated digest are refused.
  auto sha256 = webhook(body);
  sha256.headers.back().second = "sha256=" + crypto::hex_encode(crypto::hmac_sha256(token_secret, body));
  refused(sha256, "X-Hub-Signature: expected sha1=<40 hex digits>");
  auto upper = webhook(body);
  upper.headers.back().second = "SHA1=" + upper.headers.back().second.substr(5);
  refused(upper, "X-Hub-Signature: expected sha1=<40 hex digits>");
  auto garbage = webhook(body);
  garbage.headers.back().second = "sha1=" + std::string(40, 'z');
  refused(garbage, "X-Hub-Signature: expected sha1=<40 hex digits>");
  // Upper-case hex digits are the same digest.
  auto upper_hex = webhook(body);
  std::string& v = upper_hex.headers.back().second;
  for (std::size_t i = 5; i < v.size(); ++i) v[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(v[i])));
  CHECK(a->verify(upper_hex, now));

  json s = base_settings();
  s.erase("webhook_secret");
  auto r = make(s)->verify(webhook(body), now);
  REQUIRE_FALSE(r);
  CHECK(r.err().message.find("inbound webhooks are refused") != std::string::npos);
}

TEST_CASE("zammad: translate maps the trigger payload to canonical events", "[adapter][zammad]") {
  auto a = make(base_settings());

  SECTION("created: inferred from the ticket's first article") {
    auto r = a->translate(webhook(payload().dump()));
    INFO((r ? std::string() : r.err().message));
    REQUIRE(r);
    REQUIRE(r->size() == 1);
    const event& e = r->front();
    CHECK(e.type == event_type::ticket_created);
    CHECK(e.tenant == "acme");
    CHECK(e.host == "zm");
    CHECK(e.ticket_id == "81");
    CHECK(e.host_event_id == "zammad:81:created:a104");
    CHECK(e.occurred_at == at("2026-11-22T09:00:00.500Z"));
    CHECK(e.subject == "Printer on fire");
    CHECK(e.text == "The printer is on fire.");
    CHECK(e.channel == "email");
    CHECK(e.group == "Service Desk");
    CHECK(e.requester.email == "emily@example.com");
    CHECK(e.requester.name == "Emily Adams");
    CHECK(e.author.role == "customer");
    CHECK(event_from_json(to_json(e)));
  }
  SECTION("commented: a later article, internal or public") {
    auto note = a->translate(webhook(
        payload({{"article_count", 3}, {"article_ids", {104, 105, 106}}, {"state", "open"}},
                {{"id", 106}, {"internal", true}, {"sender", "Agent"}, {"type", "note"}, {"body", "check the fuser"},
                 {"content_type", "text/plain"}, {"created_by", {{"id", 5}, {"email", "emma@acme.example"}}}})
            .dump()));
    REQUIRE(note);
    CHECK(note->front().type == event_type::ticket_commented);
    CHECK(note->front().visibility == "internal");
    CHECK(note->front().author.role == "agent");
    CHECK(note->front().text == "check the fuser");
    CHECK(note->front().host_event_id == "zammad:81:commented:a106");
  }
  SECTION("solved with ?event=solved: the agent's closing reply is the resolution") {
    auto solved = a->translate(webhook(
        payload({{"state", "closed"}, {"article_count", 2}, {"article_ids", {104, 107}}},
                {{"id", 107}, {"sender", "Agent"}, {"body", "<p>Replace the fuser unit.</p>"}})
            .dump(),
        "solved"));
    REQUIRE(solved);
    CHECK(solved->front().type == event_type::ticket_solved);
    CHECK(solved->front().data["resolution"] == "Replace the fuser unit.");
    CHECK(solved->front().host_event_id == "zammad:81:solved:a107");
  }
  SECTION("state changes without an article: solved, reopened, closed, updated") {
    auto solved = a->translate(webhook(payload({{"state", "closed"}, {"updated_at", "2026-11-22T11:00:00Z"}}, nullptr).dump()));
    REQUIRE(solved);
    CHECK(solved->front().type == event_type::ticket_solved);
    CHECK(solved->front().host_event_id == "zammad:81:solved:u2026-11-22T11:00:00Z");
    CHECK(solved->front().occurred_at == at("2026-11-22T11:00:00Z"));
    CHECK_FALSE(solved->front().data.contains("resolution"));
    auto reopened = a->translate(webhook(payload({{"state", "open"}}, nullptr).dump(), "reopened"));
    REQUIRE(reopened);
    CHECK(reopened->front().type == event_type::ticket_reopened);
    auto merged = a->translate(webhook(payload({{"state", "merged"}}, nullptr).dump()));
    REQUIRE(merged);
    CHECK(merged->front().type == event_type::ticket_closed);
    auto updated = a->translate(webhook(payload({{"state", "open"}, {"priority", {{"name", "3 high"}}}}, nullptr).dump()));
    REQUIRE(updated);
    CHECK(updated->front().type == event_type::ticket_updated);
    CHECK(updated->front().changes["priority"]["to"] == "3 high");
  }
  SECTION("the same change delivered twice has the same id (a new X-Zammad-Delivery does not matter)") {
    auto one = a->translate(webhook(payload().dump()));
    auto req = webhook(payload().dump());
    req.headers[3].second = "another-delivery";
    auto two = a->translate(req);
    REQUIRE(one);
    REQUIRE(two);
    CHECK(one->front().host_event_id == two->front().host_event_id);
  }
}

TEST_CASE("zammad: translate refuses bad payloads with the field named", "[adapter][zammad]") {
  auto a = make(base_settings());
  auto refused = [&](const std::string& body, const std::string& event, const std::string& starts) {
    auto r = a->translate(webhook(body, event));
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::invalid_argument);
    INFO(r.err().message);
    CHECK(r.err().message.starts_with(starts));
  };
  refused("{\"ticket\":", "", "body is not valid JSON");
  refused("[]", "", "body: expected Zammad's trigger payload");
  // Another vendor's payload (a Freshdesk rule body) is not a Zammad trigger payload.
  refused(R"({"freshdesk_webhook":{"ticket_id":4711}})", "", "body.ticket: required");
  json no_id = payload();
  no_id["ticket"].erase("id");
  refused(no_id.dump(), "", "body.ticket.id: required");
  refused(payload({{"id", "eighty-one"}}).dump(), "", "body.ticket.id: expected a Zammad ticket id");
  refused(payload({}, nullptr).dump(), "created", "body.article: required for a created event");
  refused(payload().dump(), "deleted", "event: unknown \"deleted\"");
  refused(payload({}, {{"created_at", "yesterday"}}).dump(), "", "body.article.created_at: expected an RFC 3339");
  refused(payload({{"title", 42}}).dump(), "", "body.ticket.title: expected a string");
}

TEST_CASE("zammad: execute writes priority, attributes and tags", "[adapter][zammad]") {
  loopback_server zm;
  auto a = make(base_settings(zm.url("")));
  zm.push(json_reply(200, {{"id", 81}, {"priority_id", 3}}));
  auto o = a->execute(make_action(action_type::set_priority, {{"priority", "urgent"}}));
  INFO(o.message);
  CHECK(o.k == action_outcome::kind::done);
  auto reqs = zm.requests();
  REQUIRE(reqs.size() == 1);
  check_api_call(reqs[0], "PUT", "/api/v1/tickets/81");
  CHECK(body_of(reqs[0]) == json{{"priority_id", 3}});

  zm.push(json_reply(200, {{"id", 81}, {"closeloop_category", "outage"}, {"closeloop_language", "en"}}));
  zm.push(json_reply(201, true));
  zm.push(json_reply(201, true));
  auto f = a->execute(make_action(action_type::set_fields, {{"fields", {{"category", "outage"}, {"language", "en"}, {"category_confidence", 0.8}, {"tags", {"fire", "hardware"}}}}}));
  INFO(f.message);
  CHECK(f.k == action_outcome::kind::done);
  CHECK(f.message == "not mapped, skipped: category_confidence");
  reqs = zm.requests();
  REQUIRE(reqs.size() == 4);
  check_api_call(reqs[1], "PUT", "/api/v1/tickets/81");
  CHECK(body_of(reqs[1]) == json{{"closeloop_category", "outage"}, {"closeloop_language", "en"}});
  check_api_call(reqs[2], "POST", "/api/v1/tags/add");
  CHECK(body_of(reqs[2]) == json{{"item", "fire"}, {"object", "Ticket"}, {"o_id", 81}});
  CHECK(body_of(reqs[3])["item"] == "hardware");

  // An attribute missing from the object manager: Zammad drops it silently, so say so.
  zm.push(json_reply(200, {{"id", 81}}));
  auto missing = a->execute(make_action(action_type::set_fields, {{"fields", {{"sentiment", "negative"}}}}));
  CHECK(missing.k == action_outcome::kind::failed);
  CHECK(missing.message.find("has no attribute \"closeloop_sentiment\"") != std::string::npos);
}

TEST_CASE("zammad: notes and the survey e-mail are articles, posted once", "[adapter][zammad]") {
  loopback_server zm;
  auto a = make(base_settings(zm.url("")));
  action note = make_action(action_type::add_internal_note, {{"body", "closeloop: priority urgent (紧急)"}});
  zm.push(json_reply(200, json::array({{{"id", 104}, {"body", "hello"}}})));
  zm.push(json_reply(201, {{"id", 110}}));
  auto o = a->execute(note);
  INFO(o.message);
  CHECK(o.k == action_outcome::kind::done);
  auto reqs = zm.requests();
  REQUIRE(reqs.size() == 2);
  check_api_call(reqs[0], "GET", "/api/v1/ticket_articles/by_ticket/81");
  check_api_call(reqs[1], "POST", "/api/v1/ticket_articles");
  const json posted = body_of(reqs[1]);
  CHECK(posted["ticket_id"] == 81);
  CHECK(posted["type"] == "note");
  CHECK(posted["internal"] == true);
  CHECK(posted["content_type"] == "text/html");
  CHECK(posted["body"].get<std::string>().find(marker_of(note.idempotency_key)) != std::string::npos);

  zm.push(json_reply(200, json::array({{{"id", 110}, {"body", posted["body"]}}})));
  auto again = a->execute(note);
  CHECK(again.k == action_outcome::kind::done);
  CHECK(again.message == "already on Zammad ticket 81 as article 110");
  CHECK(zm.requests().size() == 3);

  // The survey: an e-mail article to the ticket's customer.
  zm.push(json_reply(200, json::array()));
  zm.push(json_reply(200, {{"id", 81}, {"customer_id", 8}, {"title", "Printer on fire"}}));
  zm.push(json_reply(200, {{"id", 8}, {"email", "emily@example.com"}}));
  zm.push(json_reply(201, {{"id", 111}}));
  auto survey = a->execute(make_action(action_type::send_survey, {{"body", "Rate us: https://cl.example/s/t?score=5"}, {"subject", "How did we do?"}}));
  INFO(survey.message);
  CHECK(survey.k == action_outcome::kind::done);
  reqs = zm.requests();
  REQUIRE(reqs.size() == 7);
  check_api_call(reqs[4], "GET", "/api/v1/tickets/81");
  check_api_call(reqs[5], "GET", "/api/v1/users/8");
  check_api_call(reqs[6], "POST", "/api/v1/ticket_articles");
  const json mail = body_of(reqs[6]);
  CHECK(mail["type"] == "email");
  CHECK(mail["internal"] == false);
  CHECK(mail["to"] == "emily@example.com");
  CHECK(mail["subject"] == "How did we do?");
  CHECK(mail["body"].get<std::string>().find("<a href=\"https://cl.example/s/t?score=5\">") != std::string::npos);
}

TEST_CASE("zammad: reopen and assign_group by name or id", "[adapter][zammad]") {
  loopback_server zm;
  auto a = make(base_settings(zm.url("")));
  zm.push(json_reply(200, {{"id", 81}, {"state_id", 2}, {"owner_id", 5}, {"group_id", 3}}));
  auto o = a->execute(make_action(action_type::reopen, {{"owner", "emma@acme.example"}, {"group", "Escalations"}}));
  INFO(o.message);
  CHECK(o.k == action_outcome::kind::done);
  check_api_call(zm.requests().back(), "PUT", "/api/v1/tickets/81");
  CHECK(body_of(zm.requests().back()) == json{{"state", "open"}, {"owner", "emma@acme.example"}, {"group", "Escalations"}});
  zm.push(json_reply(200, {{"id", 81}, {"group_id", 7}}));
  auto g = a->execute(make_action(action_type::assign_group, {{"group", "7"}}));
  CHECK(g.k == action_outcome::kind::done);
  CHECK(body_of(zm.requests().back()) == json{{"group_id", 7}});
}

TEST_CASE("zammad: a KB answer is created once and made internal", "[adapter][zammad]") {
  loopback_server zm;
  auto a = make(base_settings(zm.url("")));
  action kb = make_action(action_type::create_kb_article,
                          {{"title", "Printer on fire"}, {"body", "Problem\n\nIt burns.\n\nSolution\n\nUnplug it."}, {"draft", true}});
  zm.push(json_reply(200, {{"KnowledgeBaseAnswer", {{"1", {{"id", 1}, {"category_id", 2}, {"published_at", nullptr}, {"internal_at", nullptr}}}}},
                           {"KnowledgeBaseAnswerTranslation", {{"1", {{"id", 1}, {"answer_id", 1}, {"title", "Reset a password"}}}}}}));
  zm.push(json_reply(200, {{"id", 7}, {"assets", json::object()}}));
  zm.push(json_reply(200, {{"id", 7}}));
  auto o = a->execute(kb);
  INFO(o.message);
  CHECK(o.k == action_outcome::kind::done);
  CHECK(o.message == "created answer 7 (internal)");
  CHECK(o.created_id == "7");
  auto reqs = zm.requests();
  REQUIRE(reqs.size() == 3);
  check_api_call(reqs[0], "POST", "/api/v1/knowledge_bases/init");
  check_api_call(reqs[1], "POST", "/api/v1/knowledge_bases/1/answers");
  const json ans = body_of(reqs[1]);
  CHECK(ans["category_id"] == 2);
  CHECK(ans["translations_attributes"][0]["title"] == "Printer on fire");
  CHECK(ans["translations_attributes"][0]["kb_locale_id"] == 1);
  CHECK(ans["translations_attributes"][0]["content_attributes"]["body"] ==
        "<p>Problem</p><p>It burns.</p><p>Solution</p><p>Unplug it.</p>");
  check_api_call(reqs[2], "POST", "/api/v1/knowledge_bases/1/answers/7/internal");

  // Found by title, created earlier but the visibility step was lost: finish it, create nothing.
  zm.push(json_reply(200, {{"KnowledgeBaseAnswer", {{"7", {{"id", 7}, {"category_id", 2}, {"internal_at", nullptr}, {"published_at", nullptr}}}}},
                           {"KnowledgeBaseAnswerTranslation", {{"7", {{"id", 7}, {"answer_id", 7}, {"title", "Printer on fire"}}}}}}));
  zm.push(json_reply(200, {{"id", 7}}));
  auto again = a->execute(kb);
  CHECK(again.k == action_outcome::kind::done);
  CHECK(again.message == "already in Zammad as answer 7");
  CHECK(again.created_id == "7");
  reqs = zm.requests();
  REQUIRE(reqs.size() == 5);
  check_api_call(reqs[4], "POST", "/api/v1/knowledge_bases/1/answers/7/internal");
}

TEST_CASE("zammad: OAuth bearer and basic auth are sent as configured", "[adapter][zammad]") {
  loopback_server zm;
  json s = base_settings(zm.url(""));
  s["auth"] = {{"oauth_token", "oauth-abc"}};
  zm.push(json_reply(200, {{"id", 3}, {"login", "closeloop@acme.example"}}));
  auto reached = make(s)->check_reachable();
  REQUIRE(reached);
  CHECK(*reached == "reached Zammad at " + zm.url("/api/v1/users/me") + ": HTTP 200 (user closeloop@acme.example)");
  check_api_call(zm.requests().back(), "GET", "/api/v1/users/me", "Bearer oauth-abc");
  s["auth"] = {{"user", "closeloop"}, {"password", "pw"}};
  zm.push(json_reply(401, {{"error", "authentication failed"}}));
  auto denied = make(s)->check_reachable();
  REQUIRE_FALSE(denied);
  CHECK(denied.err().code == errc::unauthorized);
  check_api_call(zm.requests().back(), "GET", "/api/v1/users/me", "Basic " + crypto::base64_encode("closeloop:pw"));
}

TEST_CASE("zammad: execute maps Zammad's answers (4xx message, 429, 5xx, timeout)", "[adapter][zammad]") {
  loopback_server zm;
  auto a = make(base_settings(zm.url("")), env(milliseconds{500}));
  const action prio = make_action(action_type::set_priority, {{"priority", "critical"}});
  zm.push(json_reply(422, {{"error", "Invalid value for param 'priority_id': 9"}, {"error_human", "Invalid value"}}));
  auto bad = a->execute(prio);
  CHECK(bad.k == action_outcome::kind::failed);
  CHECK(bad.http_status == 422);
  CHECK(bad.message == "Invalid value for param 'priority_id': 9");
  zm.push({429, {{"retry-after", "5"}}, ""});
  auto limited = a->execute(prio);
  CHECK(limited.k == action_outcome::kind::retry);
  REQUIRE(limited.retry_after);
  CHECK(*limited.retry_after == milliseconds{5000});
  zm.push({502, {}, "bad gateway"});
  CHECK(a->execute(prio).k == action_outcome::kind::retry);
  scripted_response silent;
  silent.never_answer = true;
  zm.push(silent);
  auto slow = a->execute(prio);
  CHECK(slow.k == action_outcome::kind::retry);
  CHECK(slow.http_status == 0);
  CHECK(a->execute(make_action(action_type::raise_alert, {})).k == action_outcome::kind::failed);
}

TEST_CASE("zammad: the example configuration validates and builds the adapter", "[adapter][zammad]") {
  check_example_config("zammad");
}

TEST_CASE("zammad: list_articles reads the category's answers in pages", "[adapter][zammad]") {
  loopback_server zm;
  auto a = make(base_settings(zm.url("")));
  const json init = {{"KnowledgeBaseAnswer",
                      {{"3", {{"id", 3}, {"category_id", 2}, {"published_at", "2026-11-01T00:00:00Z"}, {"archived_at", nullptr}}},
                       {"1", {{"id", 1}, {"category_id", 2}, {"published_at", nullptr}, {"archived_at", nullptr}}},
                       {"9", {{"id", 9}, {"category_id", 5}, {"published_at", nullptr}, {"archived_at", nullptr}}}}}};
  auto answer = [](int id, const char* title, const char* body, bool published) {
    const std::string k = std::to_string(id);
    return json{{"id", id},
                {"assets",
                 {{"KnowledgeBaseAnswer", {{k, {{"id", id}, {"published_at", published ? json("2026-11-01T00:00:00Z") : json()}}}}},
                  {"KnowledgeBaseAnswerTranslation", {{k, {{"id", id}, {"answer_id", id}, {"title", title}, {"content_id", id}}}}},
                  {"KnowledgeBaseAnswerTranslationContent", {{k, {{"id", id}, {"body", body}}}}}}}};
  };
  zm.push(json_reply(200, init));
  zm.push(json_reply(200, answer(1, "Printer on fire", "<p>Unplug it.</p>", false)));
  auto page = a->list_articles("", 1);
  INFO((page ? std::string() : page.err().message));
  REQUIRE(page);
  REQUIRE(page->articles.size() == 1);
  CHECK(page->articles[0].id == "1");
  CHECK(page->articles[0].title == "Printer on fire");
  CHECK(page->articles[0].body == "Unplug it.");
  CHECK(page->articles[0].draft);
  CHECK(page->next_cursor == "1");
  auto reqs = zm.requests();
  check_api_call(reqs[0], "POST", "/api/v1/knowledge_bases/init");
  check_api_call(reqs[1], "GET", "/api/v1/knowledge_bases/1/answers/1?full=1&include_contents=1");
  zm.push(json_reply(200, init));
  zm.push(json_reply(200, answer(3, "Reset a password", "Use the link.", true)));
  auto last = a->list_articles("1", 1);
  REQUIRE(last);
  REQUIRE(last->articles.size() == 1);
  CHECK(last->articles[0].id == "3");
  CHECK_FALSE(last->articles[0].draft);
  CHECK(last->next_cursor.empty());  // answer 9 is in another category
}
