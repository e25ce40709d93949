#pragma once
// The canonical model: every host's lifecycle events and every decision are expressed in these
// types. JSON forms are specified by schemas/event.schema.json and schemas/action.schema.json;
// the parsers below accept and reject exactly what the schemas do (tests/unit/test_schemas.cpp).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "closeloop/result.hpp"

namespace closeloop {

using json = nlohmann::json;
using timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

// RFC 3339 ("2026-11-22T10:00:00Z", "2026-11-22T18:00:00.250+08:00") <-> timestamp.
result<timestamp> parse_rfc3339(std::string_view text);
std::string format_rfc3339(timestamp t);  // always UTC, millisecond precision

enum class event_type {
  ticket_created,
  ticket_commented,
  ticket_updated,
  ticket_solved,
  ticket_closed,
  ticket_reopened,
  survey_answered,
  survey_expired,
  timer_fired,
};
std::string_view to_string(event_type t) noexcept;  // "ticket.created", ...
std::optional<event_type> event_type_from_string(std::string_view s) noexcept;

enum class action_type {
  set_priority,
  set_fields,
  add_internal_note,
  post_public_reply,
  assign_group,
  reopen,
  schedule_survey,
  send_survey,
  cancel_survey,
  create_kb_article,
  raise_alert,
  suggest_kb_articles,  // the worker searches closeloop's KB index and notes the top articles
  post_webhook,  // the worker signs params.payload (Standard Webhooks) and POSTs it to the tenant's webhook
};
std::string_view to_string(action_type t) noexcept;  // "set_priority", ...
std::optional<action_type> action_type_from_string(std::string_view s) noexcept;

// normal / urgent / critical  (一般 / 紧急 / 重大)
enum class priority { normal = 0, urgent = 1, critical = 2 };
std::string_view to_string(priority p) noexcept;
std::string_view label_zh(priority p) noexcept;
std::optional<priority> priority_from_string(std::string_view s) noexcept;

struct party {
  std::string id;
  std::string email;
  std::string name;
  std::string role;  // "customer", "agent", "system" (empty when unknown)
  bool empty() const noexcept { return id.empty() && email.empty() && name.empty(); }
};

struct event {
  event_type type = event_type::ticket_created;
  std::string tenant;
  std::string host;           // host id inside the tenant (for one host per vendor: the vendor id)
  std::string ticket_id;
  std::string host_event_id;  // host transaction / delivery id: unique per (tenant, host)
  timestamp occurred_at{};
  party requester;
  party author;            // who caused the event, when the host says
  std::string subject;
  std::string text;        // body of the message (created / commented / survey comment)
  std::string visibility;  // "public" or "internal" (ticket.commented)
  std::string channel;     // "email", "web", "chat", "phone", "api", ...
  std::string group;       // queue / group the ticket is in
  std::vector<std::string> tags;
  json changes = json::object();  // ticket.updated: {"field": {"from": x, "to": y}}
  json data = json::object();     // survey.answered / survey.expired / timer.fired details
};

// The customer's value tier an event carries: a tag "tier:<x>", else data.customer_tier; "" when
// neither. One rule for the engine's priority and the monitor's tier segment.
std::string customer_tier(const event& ev);

struct action {
  action_type type = action_type::add_internal_note;
  std::string idempotency_key;  // derived from the cause: a retry or replay never doubles it
  std::string tenant;
  std::string host;
  std::string ticket_id;
  std::string caused_by;  // host_event_id of the event that produced it
  bool immediate = false;  // an in-process host may apply it inside the triggering request
  std::optional<timestamp> not_before;  // deferred work (e.g. a survey due time)
  json params = json::object();
};

// JSON (de)serialisation. Parsers return an error naming the offending field.
json to_json(const party& p);
json to_json(const event& e);
json to_json(const action& a);
result<event> event_from_json(const json& j);
result<action> action_from_json(const json& j);
result<event> parse_event(std::string_view text);   // text -> json -> event

// A short rendering of a value for error messages: scalars as JSON (cut at 80 bytes on a UTF-8
// boundary), containers by kind ("an object", "an empty array").
std::string describe_value(const json& v);
result<action> parse_action(std::string_view text);

}  // namespace closeloop
