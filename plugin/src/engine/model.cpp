// The canonical model's JSON form. The parsers accept and reject exactly what
// schemas/event.schema.json and schemas/action.schema.json do (tests/unit/test_schemas.cpp walks
// the fixtures through both). Errors are values naming the field path; nothing throws out.
#include "closeloop/model.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <initializer_list>
#include <utility>

namespace closeloop {

std::string describe_value(const json& v) {
  if (v.is_object()) return v.empty() ? "an empty object" : "an object";
  if (v.is_array()) return v.empty() ? "an empty array" : "an array";
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 80) {  // cut on a UTF-8 character boundary: the message may end up in JSON
    std::size_t n = 77;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s = s.substr(0, n) + "...";
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// RFC 3339
// ---------------------------------------------------------------------------------------------

namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Reads exactly n digits at text[pos..pos+n) into out.
bool read_digits(std::string_view text, std::size_t pos, std::size_t n, int& out) noexcept {
  if (pos + n > text.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!is_digit(text[i])) return false;
    v = v * 10 + (text[i] - '0');
  }
  out = v;
  return true;
}

error bad_time(std::string_view text, std::string_view why) {
  std::string msg = "invalid RFC 3339 date-time \"";
  std::size_t n = std::min<std::size_t>(text.size(), 64);
  while (n < text.size() && n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  msg.append(text.substr(0, n));
  msg += "\": ";
  msg += why;
  return make_error(errc::invalid_argument, std::move(msg));
}

}  // namespace

// Grammar (RFC 3339 section 5.6): full-date "T" partial-time time-offset, where
//   full-date    = YYYY-MM-DD          (a real calendar day)
//   partial-time = hh:mm:ss[.fraction] (seconds 00-59: leap seconds are not representable)
//   time-offset  = "Z" / ("+" / "-") hh:mm
// "t" and "z" are accepted as RFC 3339 allows. Fractions beyond milliseconds are truncated.
result<timestamp> parse_rfc3339(std::string_view text) {
  using namespace std::chrono;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (text.size() < 20) return bad_time(text, "too short");
  if (!read_digits(text, 0, 4, y) || text[4] != '-' || !read_digits(text, 5, 2, mo) || text[7] != '-' ||
      !read_digits(text, 8, 2, d)) {
    return bad_time(text, "expected YYYY-MM-DD");
  }
  if (text[10] != 'T' && text[10] != 't') return bad_time(text, "expected 'T' after the date");
  if (!read_digits(text, 11, 2, h) || text[13] != ':' || !read_digits(text, 14, 2, mi) || text[16] != ':' ||
      !read_digits(text, 17, 2, s)) {
    return bad_time(text, "expected hh:mm:ss");
  }
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return bad_time(text, "no such calendar day");
  if (h > 23 || mi > 59 || s > 59) return bad_time(text, "time of day out of range");

  std::size_t pos = 19;
  int millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    int scale = 100;
    while (pos < text.size() && is_digit(text[pos])) {
      millis += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad_time(text, "expected digits after '.'");
  }
  if (pos >= text.size()) return bad_time(text, "missing offset (Z or +hh:mm)");
  minutes offset{0};
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int oh = 0, om = 0;
    if (!read_digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !read_digits(text, pos + 4, 2, om)) {
      return bad_time(text, "expected offset as +hh:mm");
    }
    if (oh > 23 || om > 59) return bad_time(text, "offset out of range");
    offset = hours{oh} + minutes{om};
    if (text[pos] == '-') offset = -offset;
    pos += 6;
  } else {
    return bad_time(text, "expected Z or +hh:mm offset");
  }
  if (pos != text.size()) return bad_time(text, "unexpected characters after the offset");

  const sys_days day_point{ymd};
  timestamp t = time_point_cast<milliseconds>(day_point) + hours{h} + minutes{mi} + seconds{s} +
                milliseconds{millis};
  return timestamp{t - offset};
}

std::string format_rfc3339(timestamp t) {
  using namespace std::chrono;
  const sys_days day_point = floor<days>(t);
  const year_month_day ymd{day_point};
  const hh_mm_ss<milliseconds> tod{t - day_point};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                static_cast<int>(tod.seconds().count()), static_cast<int>(tod.subseconds().count()));
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------------------------

namespace {

constexpr std::array<std::pair<event_type, std::string_view>, 9> event_type_names{{
    {event_type::ticket_created, "ticket.created"},
    {event_type::ticket_commented, "ticket.commented"},
    {event_type::ticket_updated, "ticket.updated"},
    {event_type::ticket_solved, "ticket.solved"},
    {event_type::ticket_closed, "ticket.closed"},
    {event_type::ticket_reopened, "ticket.reopened"},
    {event_type::survey_answered, "survey.answered"},
    {event_type::survey_expired, "survey.expired"},
    {event_type::timer_fired, "timer.fired"},
}};

constexpr std::array<std::pair<action_type, std::string_view>, 13> action_type_names{{
    {action_type::set_priority, "set_priority"},
    {action_type::set_fields, "set_fields"},
    {action_type::add_internal_note, "add_internal_note"},
    {action_type::post_public_reply, "post_public_reply"},
    {action_type::assign_group, "assign_group"},
    {action_type::reopen, "reopen"},
    {action_type::schedule_survey, "schedule_survey"},
    {action_type::send_survey, "send_survey"},
    {action_type::cancel_survey, "cancel_survey"},
    {action_type::create_kb_article, "create_kb_article"},
    {action_type::raise_alert, "raise_alert"},
    {action_type::suggest_kb_articles, "suggest_kb_articles"},
    {action_type::post_webhook, "post_webhook"},
}};

}  // namespace

std::string_view to_string(event_type t) noexcept {
  for (const auto& [k, name] : event_type_names) {
    if (k == t) return name;
  }
  return "unknown";
}

std::optional<event_type> event_type_from_string(std::string_view s) noexcept {
  for (const auto& [k, name] : event_type_names) {
    if (name == s) return k;
  }
  return std::nullopt;
}

std::string_view to_string(action_type t) noexcept {
  for (const auto& [k, name] : action_type_names) {
    if (k == t) return name;
  }
  return "unknown";
}

std::optional<action_type> action_type_from_string(std::string_view s) noexcept {
  for (const auto& [k, name] : action_type_names) {
    if (name == s) return k;
  }
  return std::nullopt;
}

std::string_view to_string(priority p) noexcept {
  switch (p) {
    case priority::normal: return "normal";
    case priority::urgent: return "urgent";
    case priority::critical: return "critical";
  }
  return "normal";
}

std::string_view label_zh(priority p) noexcept {
  switch (p) {
    case priority::normal: return "一般";
    case priority::urgent: return "紧急";
    case priority::critical: return "重大";
  }
  return "一般";
}

std::optional<priority> priority_from_string(std::string_view s) noexcept {
  if (s == "normal") return priority::normal;
  if (s == "urgent") return priority::urgent;
  if (s == "critical") return priority::critical;
  return std::nullopt;
}

std::string customer_tier(const event& ev) {
  for (const auto& t : ev.tags)
    if (t.size() > 5 && t.compare(0, 5, "tier:") == 0) return t.substr(5);
  if (auto it = ev.data.find("customer_tier"); it != ev.data.end() && it->is_string()) return it->get<std::string>();
  return "";
}

// ---------------------------------------------------------------------------------------------
// JSON reading helpers: each check returns an error naming the field path.
// ---------------------------------------------------------------------------------------------

namespace {

std::string show(const json& v) { return describe_value(v); }

error fail(const std::string& path, const std::string& what) {
  return make_error(errc::invalid_argument, path + ": " + what);
}

std::string quoted_list(std::initializer_list<std::string_view> items) {
  std::string out;
  for (auto it = items.begin(); it != items.end(); ++it) {
    if (it != items.begin()) out += ", ";
    out += '"';
    out += *it;
    out += '"';
  }
  return out;
}

// Rejects keys not in `allowed`; names the first unknown key (in document order).
result<void> check_keys(const json& obj, const std::string& path, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : obj.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return fail(path, "unknown key \"" + key + "\"");
    }
  }
  return {};
}

result<void> check_object(const json& v, const std::string& path) {
  if (!v.is_object()) return fail(path, std::string("expected an object, got ") + show(v));
  return {};
}

// Optional string member: absent -> out unchanged. non_empty: "" is rejected.
result<void> read_string(const json& obj, std::string_view key, const std::string& path, std::string& out,
                         bool required = false, bool non_empty = false) {
  const auto it = obj.find(key);
  const std::string field = path + "." + std::string(key);
  if (it == obj.end()) {
    if (required) return fail(field, "required but missing");
    return {};
  }
  if (!it->is_string()) return fail(field, std::string("expected a string, got ") + show(*it));
  const auto& s = it->get_ref<const std::string&>();
  if (non_empty && s.empty()) return fail(field, "expected a non-empty string, got \"\"");
  out = s;
  return {};
}

result<void> read_enum(const json& obj, std::string_view key, const std::string& path, std::string& out,
                       std::initializer_list<std::string_view> allowed, bool required = false) {
  const auto it = obj.find(key);
  const std::string field = path + "." + std::string(key);
  if (it == obj.end()) {
    if (required) return fail(field, "required but missing");
    return {};
  }
  if (!it->is_string() ||
      std::find(allowed.begin(), allowed.end(), it->get_ref<const std::string&>()) == allowed.end()) {
    return fail(field, "expected one of " + quoted_list(allowed) + ", got " + show(*it));
  }
  out = it->get<std::string>();
  return {};
}

result<void> read_string_array(const json& obj, std::string_view key, const std::string& path,
                               std::vector<std::string>* out = nullptr) {
  const auto it = obj.find(key);
  if (it == obj.end()) return {};
  const std::string field = path + "." + std::string(key);
  if (!it->is_array()) return fail(field, std::string("expected an array of strings, got ") + show(*it));
  std::vector<std::string> values;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& item = (*it)[i];
    if (!item.is_string()) {
      return fail(field + "[" + std::to_string(i) + "]", std::string("expected a string, got ") + show(item));
    }
    values.push_back(item.get<std::string>());
  }
  if (out) *out = std::move(values);
  return {};
}

result<void> read_timestamp(const json& obj, std::string_view key, const std::string& path,
                            std::optional<timestamp>& out, bool required = false) {
  const auto it = obj.find(key);
  const std::string field = path + "." + std::string(key);
  if (it == obj.end()) {
    if (required) return fail(field, "required but missing");
    return {};
  }
  if (it->is_string()) {
    auto t = parse_rfc3339(it->get_ref<const std::string&>());
    if (t) {
      out = *t;
      return {};
    }
  }
  return fail(field, std::string("expected an RFC 3339 date-time, got ") + show(*it));
}

// Returns the error of a failed step from the enclosing function.
#define CLOSELOOP_TRY(expr)                \
  do {                                     \
    if (auto r_ = (expr); !r_) return r_.err(); \
  } while (false)

// nlohmann's messages start with "[json.exception.parse_error.101] "; keep the readable part.
std::string json_message(const std::exception& ex) {
  std::string s = ex.what();
  if (!s.empty() && s.front() == '[') {
    if (const auto close = s.find("] "); close != std::string::npos) s.erase(0, close + 2);
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// party / event
// ---------------------------------------------------------------------------------------------

json to_json(const party& p) {
  json j = json::object();
  if (!p.id.empty()) j["id"] = p.id;
  if (!p.email.empty()) j["email"] = p.email;
  if (!p.name.empty()) j["name"] = p.name;
  if (!p.role.empty()) j["role"] = p.role;
  return j;
}

namespace {

bool party_is_blank(const party& p) noexcept { return p.empty() && p.role.empty(); }

result<party> party_from_json(const json& j, const std::string& path) {
  CLOSELOOP_TRY(check_object(j, path));
  CLOSELOOP_TRY(check_keys(j, path, {"id", "email", "name", "role"}));
  party p;
  CLOSELOOP_TRY(read_string(j, "id", path, p.id));
  CLOSELOOP_TRY(read_string(j, "email", path, p.email));
  CLOSELOOP_TRY(read_string(j, "name", path, p.name));
  CLOSELOOP_TRY(read_enum(j, "role", path, p.role, {"customer", "agent", "system"}));
  return p;
}

result<void> read_party(const json& obj, std::string_view key, const std::string& path, party& out) {
  const auto it = obj.find(key);
  if (it == obj.end()) return {};
  auto p = party_from_json(*it, path + "." + std::string(key));
  if (!p) return p.err();
  out = std::move(*p);
  return {};
}

result<void> read_object(const json& obj, std::string_view key, const std::string& path, json& out) {
  const auto it = obj.find(key);
  if (it == obj.end()) return {};
  const std::string field = path + "." + std::string(key);
  if (!it->is_object()) return fail(field, std::string("expected an object, got ") + show(*it));
  out = *it;
  return {};
}

// A survey definition id (schemas/survey.schema.json "identifier"): built-in csat/nps/ces or
// the tenant's own.
result<void> read_survey_id(const json& obj, const std::string& path, std::string& out) {
  CLOSELOOP_TRY(read_string(obj, "survey", path, out, true, true));
  const bool ok = out.size() <= 63 && (std::islower(static_cast<unsigned char>(out[0])) || std::isdigit(static_cast<unsigned char>(out[0]))) &&
                  std::all_of(out.begin(), out.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
                  });
  if (!ok) return fail(path + ".survey", "expected a survey id (a-z, 0-9, _ and -), got " + show(json(out)));
  return {};
}

result<event> event_from_json_impl(const json& j) {
  const std::string path = "event";
  if (!j.is_object()) return fail(path, std::string("expected a JSON object, got ") + show(j));
  CLOSELOOP_TRY(check_keys(j, path,
                           {"type", "tenant", "host", "ticket_id", "host_event_id", "occurred_at", "requester",
                            "author", "subject", "text", "visibility", "channel", "group", "tags", "changes",
                            "data"}));
  event e;
  {
    const auto it = j.find("type");
    if (it == j.end()) return fail(path + ".type", "required but missing");
    std::optional<event_type> t;
    if (it->is_string()) t = event_type_from_string(it->get_ref<const std::string&>());
    if (!t) return fail(path + ".type", "unknown event type " + show(*it));
    e.type = *t;
  }
  CLOSELOOP_TRY(read_string(j, "tenant", path, e.tenant, true, true));
  CLOSELOOP_TRY(read_string(j, "host", path, e.host, true, true));
  CLOSELOOP_TRY(read_string(j, "ticket_id", path, e.ticket_id, true, true));
  CLOSELOOP_TRY(read_string(j, "host_event_id", path, e.host_event_id, true, true));
  {
    std::optional<timestamp> t;
    CLOSELOOP_TRY(read_timestamp(j, "occurred_at", path, t, true));
    e.occurred_at = *t;
  }
  CLOSELOOP_TRY(read_party(j, "requester", path, e.requester));
  CLOSELOOP_TRY(read_party(j, "author", path, e.author));
  CLOSELOOP_TRY(read_string(j, "subject", path, e.subject));
  CLOSELOOP_TRY(read_string(j, "text", path, e.text));
  CLOSELOOP_TRY(read_enum(j, "visibility", path, e.visibility, {"public", "internal"}));
  CLOSELOOP_TRY(read_string(j, "channel", path, e.channel));
  CLOSELOOP_TRY(read_string(j, "group", path, e.group));
  CLOSELOOP_TRY(read_string_array(j, "tags", path, &e.tags));
  CLOSELOOP_TRY(read_object(j, "changes", path, e.changes));
  CLOSELOOP_TRY(read_object(j, "data", path, e.data));

  // Per-type rules.
  const std::string data_path = path + ".data";
  switch (e.type) {
    case event_type::ticket_commented:
      if (!j.contains("visibility")) return fail(path + ".visibility", "required for ticket.commented");
      break;
    case event_type::survey_answered: {
      if (!j.contains("data")) return fail(data_path, "required for survey.answered");
      std::string survey;
      CLOSELOOP_TRY(read_survey_id(e.data, data_path, survey));
      const auto score = e.data.find("score");
      if (score == e.data.end()) return fail(data_path + ".score", "required for survey.answered");
      if (!score->is_number() && !score->is_null())
        return fail(data_path + ".score", std::string("expected a number or null, got ") + show(*score));
      break;
    }
    case event_type::timer_fired: {
      if (!j.contains("data")) return fail(data_path, "required for timer.fired");
      std::string kind;
      CLOSELOOP_TRY(read_string(e.data, "kind", data_path, kind, true));
      break;
    }
    default: break;
  }
  return e;
}

}  // namespace

json to_json(const event& e) {
  json j = json::object();
  j["type"] = std::string(to_string(e.type));
  j["tenant"] = e.tenant;
  j["host"] = e.host;
  j["ticket_id"] = e.ticket_id;
  j["host_event_id"] = e.host_event_id;
  j["occurred_at"] = format_rfc3339(e.occurred_at);
  if (!party_is_blank(e.requester)) j["requester"] = to_json(e.requester);
  if (!party_is_blank(e.author)) j["author"] = to_json(e.author);
  if (!e.subject.empty()) j["subject"] = e.subject;
  if (!e.text.empty()) j["text"] = e.text;
  if (!e.visibility.empty()) j["visibility"] = e.visibility;
  if (!e.channel.empty()) j["channel"] = e.channel;
  if (!e.group.empty()) j["group"] = e.group;
  if (!e.tags.empty()) j["tags"] = e.tags;
  if (e.changes.is_object() && !e.changes.empty()) j["changes"] = e.changes;
  // survey.answered and timer.fired require data; keep it even when (wrongly) empty so the
  // parser names the missing key rather than the missing object.
  if ((e.data.is_object() && !e.data.empty()) || e.type == event_type::survey_answered ||
      e.type == event_type::timer_fired) {
    j["data"] = e.data.is_object() ? e.data : json::object();
  }
  return j;
}

result<event> event_from_json(const json& j) {
  try {
    return event_from_json_impl(j);
  } catch (const std::exception& ex) {  // nlohmann type errors: should not happen, never escape
    return make_error(errc::invalid_argument, "event: " + json_message(ex));
  }
}

result<event> parse_event(std::string_view text) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::exception& ex) {
    return make_error(errc::invalid_argument, "event: not valid JSON: " + json_message(ex));
  }
  return event_from_json(j);
}

// ---------------------------------------------------------------------------------------------
// action
// ---------------------------------------------------------------------------------------------

namespace {

result<void> check_params(action_type type, const json& p, const std::string& path) {
  std::string ignored;
  std::optional<timestamp> due;
  switch (type) {
    case action_type::set_priority:
      CLOSELOOP_TRY(read_enum(p, "priority", path, ignored, {"normal", "urgent", "critical"}, true));
      CLOSELOOP_TRY(read_string(p, "label", path, ignored));
      CLOSELOOP_TRY(read_string_array(p, "reasons", path));
      break;
    case action_type::set_fields: {
      const auto it = p.find("fields");
      if (it == p.end()) return fail(path + ".fields", "required but missing");
      if (!it->is_object() || it->empty()) {
        return fail(path + ".fields", std::string("expected a non-empty object, got ") + show(*it));
      }
      break;
    }
    case action_type::add_internal_note:
    case action_type::post_public_reply:
      CLOSELOOP_TRY(read_string(p, "body", path, ignored, true, true));
      break;
    case action_type::assign_group:
      CLOSELOOP_TRY(read_string(p, "group", path, ignored, true, true));
      break;
    case action_type::reopen:
      CLOSELOOP_TRY(read_string(p, "reason", path, ignored));
      CLOSELOOP_TRY(read_string(p, "owner", path, ignored));
      CLOSELOOP_TRY(read_string(p, "group", path, ignored));
      break;
    case action_type::schedule_survey:
      CLOSELOOP_TRY(read_survey_id(p, path, ignored));
      CLOSELOOP_TRY(read_timestamp(p, "due_at", path, due, true));
      break;
    case action_type::send_survey:
      CLOSELOOP_TRY(read_survey_id(p, path, ignored));
      break;
    case action_type::cancel_survey:
      CLOSELOOP_TRY(read_string(p, "reason", path, ignored));
      break;
    case action_type::create_kb_article:
      CLOSELOOP_TRY(read_string(p, "title", path, ignored, true, true));
      CLOSELOOP_TRY(read_string(p, "body", path, ignored, true, true));
      break;
    case action_type::raise_alert:
      CLOSELOOP_TRY(read_enum(p, "level", path, ignored, {"green", "yellow", "red"}, true));
      CLOSELOOP_TRY(read_string(p, "message", path, ignored, true, true));
      break;
    case action_type::suggest_kb_articles:
      CLOSELOOP_TRY(read_string(p, "query", path, ignored, true, true));
      break;
    case action_type::post_webhook: {
      json payload;
      CLOSELOOP_TRY(read_string(p, "webhook", path, ignored, true, true));
      CLOSELOOP_TRY(read_string(p, "event", path, ignored, true, true));
      CLOSELOOP_TRY(read_object(p, "payload", path, payload));
      if (!p.contains("payload")) return fail(path + ".payload", "required but missing");
      break;
    }
  }
  return {};
}

result<action> action_from_json_impl(const json& j) {
  const std::string path = "action";
  if (!j.is_object()) return fail(path, std::string("expected a JSON object, got ") + show(j));
  CLOSELOOP_TRY(check_keys(j, path,
                           {"type", "idempotency_key", "tenant", "host", "ticket_id", "caused_by", "immediate",
                            "not_before", "params"}));
  action a;
  {
    const auto it = j.find("type");
    if (it == j.end()) return fail(path + ".type", "required but missing");
    std::optional<action_type> t;
    if (it->is_string()) t = action_type_from_string(it->get_ref<const std::string&>());
    if (!t) return fail(path + ".type", "unknown action type " + show(*it));
    a.type = *t;
  }
  CLOSELOOP_TRY(read_string(j, "idempotency_key", path, a.idempotency_key, true, true));
  CLOSELOOP_TRY(read_string(j, "tenant", path, a.tenant, true, true));
  CLOSELOOP_TRY(read_string(j, "host", path, a.host, true, true));
  CLOSELOOP_TRY(read_string(j, "ticket_id", path, a.ticket_id, true, true));
  CLOSELOOP_TRY(read_string(j, "caused_by", path, a.caused_by));
  if (const auto it = j.find("immediate"); it != j.end()) {
    if (!it->is_boolean()) return fail(path + ".immediate", std::string("expected a boolean, got ") + show(*it));
    a.immediate = it->get<bool>();
  }
  CLOSELOOP_TRY(read_timestamp(j, "not_before", path, a.not_before));
  {
    const auto it = j.find("params");
    if (it == j.end()) return fail(path + ".params", "required but missing");
    if (!it->is_object()) return fail(path + ".params", std::string("expected an object, got ") + show(*it));
    a.params = *it;
  }
  CLOSELOOP_TRY(check_params(a.type, a.params, path + ".params"));
  return a;
}

}  // namespace

json to_json(const action& a) {
  json j = json::object();
  j["type"] = std::string(to_string(a.type));
  j["idempotency_key"] = a.idempotency_key;
  j["tenant"] = a.tenant;
  j["host"] = a.host;
  j["ticket_id"] = a.ticket_id;
  if (!a.caused_by.empty()) j["caused_by"] = a.caused_by;
  if (a.immediate) j["immediate"] = true;
  if (a.not_before) j["not_before"] = format_rfc3339(*a.not_before);
  j["params"] = a.params.is_object() ? a.params : json::object();
  return j;
}

result<action> action_from_json(const json& j) {
  try {
    return action_from_json_impl(j);
  } catch (const std::exception& ex) {
    return make_error(errc::invalid_argument, "action: " + json_message(ex));
  }
}

result<action> parse_action(std::string_view text) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::exception& ex) {
    return make_error(errc::invalid_argument, "action: not valid JSON: " + json_message(ex));
  }
  return action_from_json(j);
}

}  // namespace closeloop
