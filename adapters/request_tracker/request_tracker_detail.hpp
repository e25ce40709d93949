#pragma once
// Helpers shared by the request_tracker adapter's outbound (request_tracker_adapter.cpp, and the
// articles in request_tracker_kb.cpp) and inbound (request_tracker_inbound.cpp) halves: settings
// and payload errors, RT's JSON shapes (references, custom fields, messages), RT's time format.
// Internal to this folder.
#include <algorithm>
#include <charconv>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/model.hpp"
#include "closeloop/result.hpp"
#include "common/http_client.hpp"
#include "common/retry.hpp"
#include "common/vendor_util.hpp"

namespace closeloop::adapters::request_tracker::detail {

using nlohmann::json;
using util::ok;
using util::parse_or_null;
using util::string_param;

// An HTTP outcome as an action's outcome (retryable or not, Retry-After), now = the system clock.
inline action_outcome outcome_of(const result<http::response>& r) { return outcome_from(r, util::system_now()); }

constexpr std::string_view rest_prefix = "/REST/2.0";
// Canonical field names set_fields may carry (plus idempotency_key, the transaction CF).
constexpr std::string_view canonical_fields[] = {"category", "sentiment", "language", "priority_reason", "csat", "sla_first_reply_due", "sla_resolution_due", "tags"};

inline error config_error(const std::string& key, const std::string& msg) {
  return make_error(errc::invalid_config, key + ": " + msg);
}

inline error bad_payload(const std::string& where, const std::string& msg) {
  return make_error(errc::invalid_argument, where + ": " + msg);
}

// A string setting: nullptr when absent, an error when present but not a non-empty string.
inline result<const std::string*> string_setting(const json& obj, const char* name, const std::string& key) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return static_cast<const std::string*>(nullptr);
  if (!it->is_string()) return config_error(key, std::string("expected a string, got ") + it->type_name());
  if (it->get_ref<const std::string&>().empty()) return config_error(key, "must not be empty");
  return it->get_ptr<const std::string*>();
}

inline result<void> only_keys(const json& obj, std::initializer_list<std::string_view> allowed, const std::string& key) {
  for (const auto& [k, v] : obj.items()) {
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      return config_error(key + "." + k, "unknown key");
    }
  }
  return {};
}

// "[json.exception.parse_error.101] parse error at line 1, column 5: ..." -> "parse error at ...".
inline std::string parser_message(const std::exception& e) {
  std::string_view what = e.what();
  if (!what.empty() && what.front() == '[') {
    if (auto close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
  }
  return std::string(what);
}

inline bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

inline std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// Percent-encodes one path segment (RFC 3986 unreserved characters pass through).
inline std::string encode_segment(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// A JSON scalar as RT shows it: strings as-is, numbers and booleans as text, null as "".
inline std::string scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return {};
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

// An RT id given as a JSON integer or a string of digits.
inline std::optional<std::string> id_text(const json& v) {
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return std::to_string(v.get<std::int64_t>());
  if (v.is_string() && all_digits(v.get_ref<const std::string&>())) return v.get<std::string>();
  return std::nullopt;
}

// RT answers a PUT with an array of messages, one per change (200 even when a change failed).
inline std::string rt_messages(const http::response& r) {
  try {
    const json j = json::parse(r.body);
    if (j.is_array()) {
      std::string out;
      for (const auto& m : j) {
        if (m.is_string() && !m.get_ref<const std::string&>().empty()) {
          out += (out.empty() ? "" : "; ") + m.get<std::string>();
        }
      }
      return out;
    }
  } catch (const std::exception&) {
  }
  return host_message(r);
}

inline const json* find_custom_field(const json& record, const std::string& name) {
  auto it = record.find("CustomFields");
  if (it == record.end() || !it->is_array()) return nullptr;
  for (const auto& cf : *it) {
    if (cf.is_object() && cf.value("name", std::string()) == name) return &cf;
  }
  return nullptr;
}

inline std::vector<std::string> cf_values(const json& cf) {
  std::vector<std::string> out;
  if (auto it = cf.find("values"); it != cf.end() && it->is_array()) {
    for (const auto& v : *it) out.push_back(trim(scalar_text(v)));
  }
  return out;
}

// The id of a REST2 reference ({"id": "1", "type": "queue", ...}) or of a record (its "id").
inline std::string ref_id(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) return {};
  if (it->is_object()) return scalar_text(it->value("id", json()));
  return scalar_text(*it);
}

// RT's transaction "Created" ("2026-11-20 10:00:00", UTC) or an RFC 3339 date-time.
inline result<timestamp> parse_rt_time(const std::string& text) {
  std::string t = text;
  if (t.size() == 19 && t[10] == ' ') {
    t[10] = 'T';
    t += 'Z';
  }
  auto r = parse_rfc3339(t);
  if (!r) return bad_payload("created", "expected RT's \"YYYY-MM-DD HH:MM:SS\" (UTC) or an RFC 3339 date-time, got \"" +
                                            text + "\"");
  return r;
}

inline bool inactive_status(std::string_view s) {
  return s == "resolved" || s == "rejected" || s == "deleted" || s == "closed";
}

}  // namespace closeloop::adapters::request_tracker::detail
