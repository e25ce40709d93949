// The canonical model: RFC 3339, event/action JSON round trips and field-naming errors.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "closeloop/model.hpp"

using namespace closeloop;
using namespace std::chrono;

namespace {

timestamp utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0, int ms = 0) {
  return timestamp{sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s} + milliseconds{ms}};
}

std::string message_of_event(const std::string& text) {
  auto r = parse_event(text);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::invalid_argument);
  return r.err().message;
}

std::string message_of_action(const std::string& text) {
  auto r = parse_action(text);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::invalid_argument);
  return r.err().message;
}

const char* minimal_event =
    R"({"type":"ticket.created","tenant":"acme","host":"generic","ticket_id":"42",)"
    R"("host_event_id":"txn-1","occurred_at":"2026-11-22T10:00:00Z"})";

}  // namespace

TEST_CASE("parse_rfc3339 accepts Z, offsets and fractions", "[unit]") {
  CHECK(*parse_rfc3339("2026-11-22T10:00:00Z") == utc(2026, 11, 22, 10));
  CHECK(*parse_rfc3339("2026-11-22t10:00:00z") == utc(2026, 11, 22, 10));
  CHECK(*parse_rfc3339("2026-11-22T18:00:00.250+08:00") == utc(2026, 11, 22, 10, 0, 0, 250));
  CHECK(*parse_rfc3339("2026-11-22T04:30:00-05:30") == utc(2026, 11, 22, 10));
  CHECK(*parse_rfc3339("2026-11-22T10:00:00.5Z") == utc(2026, 11, 22, 10, 0, 0, 500));
  CHECK(*parse_rfc3339("2026-11-22T10:00:00.123999Z") == utc(2026, 11, 22, 10, 0, 0, 123));  // truncated
  CHECK(*parse_rfc3339("2026-12-31T23:30:00-01:00") == utc(2027, 1, 1, 0, 30));  // offset crosses a year
  CHECK(*parse_rfc3339("1970-01-01T00:00:00Z") == timestamp{});
  CHECK(*parse_rfc3339("0000-01-01T00:00:00Z") == utc(0, 1, 1));
}

TEST_CASE("parse_rfc3339 knows the calendar", "[unit]") {
  CHECK(parse_rfc3339("2028-02-29T00:00:00Z"));  // leap year
  CHECK(parse_rfc3339("2000-02-29T00:00:00Z"));  // divisible by 400
  CHECK_FALSE(parse_rfc3339("2026-02-29T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2100-02-29T00:00:00Z"));  // divisible by 100, not by 400
  CHECK_FALSE(parse_rfc3339("2026-04-31T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-13-01T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-00-10T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-11-00T00:00:00Z"));
}

TEST_CASE("parse_rfc3339 rejects what is not RFC 3339", "[unit]") {
  for (const char* bad : {"", "yesterday", "2026-11-22", "2026-11-22T10:00:00", "2026-11-22 10:00:00Z",
                          "2026-11-22T24:00:00Z", "2026-11-22T10:60:00Z", "2026-11-22T10:00:60Z",
                          "2026-11-22T10:00:00.Z", "2026-11-22T10:00:00+0800", "2026-11-22T10:00:00+24:00",
                          "2026-11-22T10:00:00+08:60", "2026-11-22T10:00:00Z ", " 2026-11-22T10:00:00Z",
                          "26-11-22T10:00:00Z", "2026-1-22T10:00:00Z", "2026-11-22T10:00:00UTC",
                          "+2026-11-22T10:00:00Z", "2026-11-22T10:00:00+08"}) {
    INFO("input: \"" << bad << "\"");
    auto r = parse_rfc3339(bad);
    CHECK_FALSE(r);
    if (!r) CHECK(r.err().code == errc::invalid_argument);
  }
}

TEST_CASE("format_rfc3339 is UTC with milliseconds and round-trips", "[unit]") {
  CHECK(format_rfc3339(utc(2026, 11, 22, 10)) == "2026-11-22T10:00:00.000Z");
  CHECK(format_rfc3339(utc(2026, 11, 22, 10, 0, 0, 250)) == "2026-11-22T10:00:00.250Z");
  CHECK(format_rfc3339(*parse_rfc3339("2026-11-22T18:00:00.250+08:00")) == "2026-11-22T10:00:00.250Z");
  CHECK(format_rfc3339(timestamp{} - milliseconds{1}) == "1969-12-31T23:59:59.999Z");
  for (const auto t : {utc(2028, 2, 29, 23, 59, 59, 999), utc(1999, 12, 31), utc(2026, 1, 1, 0, 0, 0, 1)}) {
    CHECK(*parse_rfc3339(format_rfc3339(t)) == t);
  }
}

TEST_CASE("enumerations convert both ways", "[unit]") {
  for (int i = 0; i <= static_cast<int>(event_type::timer_fired); ++i) {
    const auto t = static_cast<event_type>(i);
    CHECK(event_type_from_string(to_string(t)) == t);
  }
  for (int i = 0; i <= static_cast<int>(action_type::post_webhook); ++i) {
    const auto t = static_cast<action_type>(i);
    CHECK(action_type_from_string(to_string(t)) == t);
  }
  CHECK(to_string(event_type::survey_answered) == "survey.answered");
  CHECK(to_string(action_type::create_kb_article) == "create_kb_article");
  CHECK_FALSE(event_type_from_string("ticket.deleted"));
  CHECK_FALSE(action_type_from_string("Set_Priority"));
  CHECK(priority_from_string("urgent") == priority::urgent);
  CHECK_FALSE(priority_from_string("high"));
  CHECK(to_string(priority::critical) == "critical");
  CHECK(label_zh(priority::normal) == "一般");
  CHECK(label_zh(priority::urgent) == "紧急");
  CHECK(label_zh(priority::critical) == "重大");
}

TEST_CASE("an event round-trips through JSON exactly", "[unit]") {
  event e;
  e.type = event_type::ticket_commented;
  e.tenant = "acme";
  e.host = "generic";
  e.ticket_id = "1001";
  e.host_event_id = "evt-2";
  e.occurred_at = utc(2026, 11, 2, 8, 40, 12, 500);
  e.requester = {"cust-17", "alice@northwind.example", "Alice Chen", "customer"};
  e.author = {"", "", "", "system"};  // a party with only a role is kept
  e.subject = "Production is down";
  e.text = "还是不行 — still down";
  e.visibility = "public";
  e.channel = "email";
  e.group = "Operations";
  e.tags = {"vip", "enterprise"};
  e.changes = {{"status", {{"from", "open"}, {"to", "pending"}}}};
  e.data = {{"note", 1}};

  const json j = to_json(e);
  auto back = event_from_json(j);
  REQUIRE(back);
  CHECK(to_json(*back) == j);
  CHECK(back->occurred_at == e.occurred_at);
  CHECK(back->requester.email == "alice@northwind.example");
  CHECK(back->author.role == "system");
  CHECK(back->tags == e.tags);
  CHECK(back->changes == e.changes);
  CHECK(j["occurred_at"] == "2026-11-02T08:40:12.500Z");

  // ...and through text.
  auto reparsed = parse_event(j.dump());
  REQUIRE(reparsed);
  CHECK(to_json(*reparsed) == j);
}

TEST_CASE("to_json omits empty optional event fields", "[unit]") {
  auto e = parse_event(minimal_event);
  REQUIRE(e);
  const json j = to_json(*e);
  CHECK(j.size() == 6);
  for (const char* key : {"requester", "author", "subject", "text", "visibility", "channel", "group", "tags",
                          "changes", "data"}) {
    CHECK_FALSE(j.contains(key));
  }
  auto with_empties = parse_event(
      R"({"type":"ticket.created","tenant":"acme","host":"generic","ticket_id":"42","host_event_id":"txn-1",)"
      R"("occurred_at":"2026-11-22T10:00:00Z","tags":[],"changes":{},"data":{},"requester":{},"subject":""})");
  REQUIRE(with_empties);
  CHECK(to_json(*with_empties) == j);
}

TEST_CASE("an action round-trips through JSON exactly", "[unit]") {
  action a;
  a.type = action_type::schedule_survey;
  a.idempotency_key = "acme:generic:evt-3:schedule_survey";
  a.tenant = "acme";
  a.host = "generic";
  a.ticket_id = "1001";
  a.caused_by = "evt-3";
  a.not_before = utc(2026, 11, 3, 10, 5);
  a.params = {{"survey", "csat"}, {"due_at", "2026-11-03T10:05:00.000Z"}};
  const json j = to_json(a);
  CHECK_FALSE(j.contains("immediate"));
  CHECK(j["not_before"] == "2026-11-03T10:05:00.000Z");
  auto back = action_from_json(j);
  REQUIRE(back);
  CHECK(to_json(*back) == j);
  CHECK(back->not_before == a.not_before);
  CHECK_FALSE(back->immediate);

  action b;
  b.type = action_type::set_priority;
  b.idempotency_key = "k";
  b.tenant = "acme";
  b.host = "generic";
  b.ticket_id = "7";
  b.immediate = true;
  b.params = {{"priority", "urgent"}, {"label", std::string(label_zh(priority::urgent))}, {"reasons", {"outage"}}};
  const json jb = to_json(b);
  CHECK(jb["immediate"] == true);
  CHECK_FALSE(jb.contains("caused_by"));
  CHECK_FALSE(jb.contains("not_before"));
  auto back_b = parse_action(jb.dump());
  REQUIRE(back_b);
  CHECK(to_json(*back_b) == jb);
}

TEST_CASE("event errors name the field", "[unit]") {
  const json base = json::parse(minimal_event);
  auto with = [&](const char* key, json value) {
    json j = base;
    j[key] = std::move(value);
    return j.dump();
  };
  auto without = [&](const char* key) {
    json j = base;
    j.erase(key);
    return j.dump();
  };
  CHECK(message_of_event(with("occurred_at", "yesterday")) ==
        R"(event.occurred_at: expected an RFC 3339 date-time, got "yesterday")");
  CHECK(message_of_event(with("ticketid", "42")) == R"(event: unknown key "ticketid")");
  CHECK(message_of_event(without("ticket_id")) == "event.ticket_id: required but missing");
  CHECK(message_of_event(with("tenant", "")) == R"(event.tenant: expected a non-empty string, got "")");
  CHECK(message_of_event(with("host_event_id", 7)) == "event.host_event_id: expected a string, got 7");
  CHECK(message_of_event(with("type", "ticket.deleted")) == R"(event.type: unknown event type "ticket.deleted")");
  CHECK(message_of_event(with("requester", {{"id", "c"}, {"mail", "x"}})) ==
        R"(event.requester: unknown key "mail")");
  CHECK(message_of_event(with("author", {{"role", "boss"}})) ==
        R"(event.author.role: expected one of "customer", "agent", "system", got "boss")");
  CHECK(message_of_event(with("tags", {"a", 1})) == "event.tags[1]: expected a string, got 1");
  CHECK(message_of_event(with("type", "ticket.commented")) == "event.visibility: required for ticket.commented");
  CHECK(message_of_event(with("type", "survey.answered")) == "event.data: required for survey.answered");
  {
    json j = base;
    j["type"] = "survey.answered";
    j["data"] = {{"survey", "csat"}, {"score", "5"}};
    CHECK(message_of_event(j.dump()) == R"(event.data.score: expected a number or null, got "5")");
    j["data"] = {{"survey", "Stars!"}, {"score", 5}};
    CHECK(message_of_event(j.dump()) == R"(event.data.survey: expected a survey id (a-z, 0-9, _ and -), got "Stars!")");
  }
  {
    json j = base;
    j["type"] = "timer.fired";
    j["data"] = json::object();
    CHECK(message_of_event(j.dump()) == "event.data.kind: required but missing");
  }
  CHECK(message_of_event("[1,2]") == "event: expected a JSON object, got an array");
  CHECK(message_of_event("{\"type\":").rfind("event: not valid JSON: ", 0) == 0);
}

TEST_CASE("action errors name the field", "[unit]") {
  const json base = {{"type", "set_priority"},
                     {"idempotency_key", "k"},
                     {"tenant", "acme"},
                     {"host", "generic"},
                     {"ticket_id", "7"},
                     {"params", {{"priority", "urgent"}}}};
  REQUIRE(action_from_json(base));
  auto with = [&](const char* key, json value) {
    json j = base;
    j[key] = std::move(value);
    return j.dump();
  };
  CHECK(message_of_action(with("params", {{"priority", "high"}})) ==
        R"(action.params.priority: expected one of "normal", "urgent", "critical", got "high")");
  CHECK(message_of_action(with("params", json::object())) == "action.params.priority: required but missing");
  CHECK(message_of_action(with("retries", 3)) == R"(action: unknown key "retries")");
  CHECK(message_of_action(with("immediate", "yes")) == R"(action.immediate: expected a boolean, got "yes")");
  CHECK(message_of_action(with("not_before", "soon")) ==
        R"(action.not_before: expected an RFC 3339 date-time, got "soon")");
  CHECK(message_of_action(with("type", "delete_ticket")) == R"(action.type: unknown action type "delete_ticket")");
  {
    json j = base;
    j.erase("idempotency_key");
    CHECK(message_of_action(j.dump()) == "action.idempotency_key: required but missing");
  }
  {
    json j = base;
    j["type"] = "set_fields";
    j["params"] = {{"fields", json::object()}};
    CHECK(message_of_action(j.dump()) == "action.params.fields: expected a non-empty object, got an empty object");
    j["type"] = "schedule_survey";
    j["params"] = {{"survey", "csat"}, {"due_at", "2026-02-30T00:00:00Z"}};
    CHECK(message_of_action(j.dump()) ==
          R"(action.params.due_at: expected an RFC 3339 date-time, got "2026-02-30T00:00:00Z")");
    j["type"] = "raise_alert";
    j["params"] = {{"level", "red"}, {"message", ""}};
    CHECK(message_of_action(j.dump()) == R"(action.params.message: expected a non-empty string, got "")");
  }
}

TEST_CASE("parsers never throw on odd JSON", "[unit]") {
  for (const json& j : {json(nullptr), json(1), json("x"), json::array(), json::object(),
                        json{{"type", nullptr}}, json{{"type", json::object()}}}) {
    CHECK_NOTHROW((void)event_from_json(j));
    CHECK_NOTHROW((void)action_from_json(j));
    CHECK_FALSE(event_from_json(j));
    CHECK_FALSE(action_from_json(j));
  }
  for (const char* text : {"", "{", "\xff\xfe", "{\"type\": \"ticket.created\"} trailing", "nul"}) {
    CHECK_FALSE(parse_event(text));
    CHECK_FALSE(parse_action(text));
  }
}
