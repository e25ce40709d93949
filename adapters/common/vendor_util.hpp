#pragma once
// Helpers the SaaS vendor adapters (freshdesk, zammad) share: settings validation with errors
// that name the key, payload field readers, HTML <-> text for vendors that store HTML, the
// Link header's rel="next", and the idempotency marker put into notes and replies.
#include <algorithm>
#include <functional>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "closeloop/model.hpp"
#include "closeloop/result.hpp"
#include "common/adapter.hpp"
#include "common/http_client.hpp"

namespace closeloop::adapters::util {

using nlohmann::json;

inline error config_error(const std::string& key, const std::string& msg) {
  return make_error(errc::invalid_config, key + ": " + msg);
}

// A string setting: nullptr when absent, an error when present but not a non-empty string.
result<const std::string*> string_setting(const json& obj, const char* name, const std::string& key);

// An object setting: nullptr when absent, an error when present but not an object.
result<const json*> object_setting(const json& obj, const char* name, const std::string& key);

// Every key of obj must be in allowed; the error names the first unknown one.
result<void> only_keys(const json& obj, std::initializer_list<std::string_view> allowed, const std::string& key);

// "[json.exception.parse_error.101] parse error at line 1, column 5: ..." -> "parse error at ...".
std::string parser_message(const std::exception& e);

inline error bad_payload(const std::string& where, const std::string& msg) {
  return make_error(errc::invalid_argument, where + ": " + msg);
}

// A positive integer id setting (a JSON integer or a string of digits): nullopt when absent.
result<std::optional<std::int64_t>> id_setting(const json& obj, const char* name, const std::string& key);

// {"name": id, ...}: names (non-empty) to positive integer ids.
result<std::map<std::string, std::int64_t>> id_map_setting(const json& obj, const char* name, const std::string& key);

// {"normal": n, "urgent": n, "critical": n} with each n in [lo, hi]; missing keys keep the defaults.
result<void> priority_map_setting(const json& obj, const std::string& key, std::int64_t lo, std::int64_t hi,
                                  std::int64_t (&values)[3]);

bool all_digits(std::string_view s);

// Percent-encodes a query value or path segment (RFC 3986 unreserved characters pass through).
std::string url_encode(std::string_view s);

// The value of one query parameter in a request target ("/webhooks/a/b?event=solved"), decoded;
// nullopt when absent.
std::optional<std::string> query_param(std::string_view target, std::string_view name);

// A JSON scalar as text: strings as-is, numbers and booleans as text, null as "".
std::string scalar_text(const json& v);

// A positive id given as a JSON integer or a string of digits.
std::optional<std::string> id_text(const json& v);

// Plain text -> HTML: escaped, paragraphs on blank lines, <br> for single newlines, and bare
// http(s) URLs made into links (so a survey link is clickable in the vendor's mail).
std::string text_to_html(std::string_view text);

// HTML -> plain text: tags dropped (block tags and <br> become newlines), the common entities
// and numeric character references decoded, runs of blank lines collapsed, trimmed.
std::string html_to_text(std::string_view html);

// True when a Link header (RFC 8288) carries a rel="next" link.
bool link_has_next(const http::response& r);

// The short marker that makes a note or reply findable after a lost answer: "closeloop-ref:<16 hex>"
// (a hash of the idempotency key, so keys of any length give one short visible token).
std::string idempotency_marker(std::string_view idempotency_key);

// A string action parameter, or "" when absent or not a string.
std::string string_param(const action& a, const char* name);

timestamp system_now();

// A webhook body parsed, or invalid_argument "body is not valid JSON: <parser position>".
result<json> parse_json_body(const std::string& body);

bool ok(const result<http::response>& r);  // an answer with a 2xx status
json parse_or_null(const std::string& text);  // the JSON, or null when it is not JSON
bool printable_token(const std::string& s);  // no spaces, no control characters, ASCII only

// A vendor's root URL setting (required): an http(s) URL without a query string, returned
// without trailing '/'; refused when it ends with the API prefix (api_suffix, e.g. "/api/v2").
result<std::string> root_url_setting(const json& obj, const std::string& key, std::string_view api_suffix,
                                     const char* example);

// endpoint.ca_file (the only endpoint key of the SaaS vendors): "" when absent.
result<std::string> endpoint_ca_file(const json& host, const std::string& prefix);

// A JSON API request: the auth header, Accept and (with a body) Content-Type application/json.
http::request json_request(std::string method, std::string url, const std::string& authorization, const json* body);

// The checks every SaaS adapter's execute starts with: an idempotency key, an action meant for
// this adapter's tenant and host, and a numeric ticket id where the action acts on a ticket.
// A failure outcome, or nullopt when the action may go ahead.
std::optional<action_outcome> precheck(const action& a, const std::string& tenant, const std::string& host,
                                       std::string_view vendor_label);

// What a SaaS adapter does per action type. post_message gets the checked params.body and
// whether the message is public (post_public_reply, send_survey) or an internal note.
struct action_handlers {
  std::function<action_outcome(const action&)> set_priority, set_fields, assign_group, reopen, create_kb_article;
  std::function<action_outcome(const action&, bool is_public, const std::string& body)> post_message;
};

// execute for the SaaS adapters: precheck, then the handler for the action's type; exceptions
// become failed; the types closeloop carries out itself (surveys, alerts, suggestions) fail
// saying so, without a vendor call.
action_outcome dispatch(const action& a, const std::string& tenant, const std::string& host, std::string_view vendor,
                        std::string_view vendor_label, const action_handlers& h);

// check_reachable's mapping: no answer -> the transport error, 401/403 -> unauthorized, other
// non-2xx -> upstream; on 2xx the response. Messages say what was tried ("GET <url>: ...").
result<const http::response*> reached(const result<http::response>& r, const std::string& url,
                                      std::string_view vendor_label, const std::string& vendor_message);

}  // namespace closeloop::adapters::util
