#include "request_tracker/request_tracker_adapter.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <set>

#include "common/crypto.hpp"
#include "common/retry.hpp"

namespace closeloop::adapters::request_tracker {
namespace {

using nlohmann::json;

constexpr std::string_view rest_prefix = "/REST/2.0";
// Canonical field names set_fields may carry (plus idempotency_key, the transaction CF).
constexpr std::string_view canonical_fields[] = {"category", "sentiment", "language", "priority_reason", "csat", "tags"};

error config_error(const std::string& key, const std::string& msg) {
  return make_error(errc::invalid_config, key + ": " + msg);
}

error bad_payload(const std::string& where, const std::string& msg) {
  return make_error(errc::invalid_argument, where + ": " + msg);
}

// A string setting: nullptr when absent, an error when present but not a non-empty string.
result<const std::string*> string_setting(const json& obj, const char* name, const std::string& key) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return static_cast<const std::string*>(nullptr);
  if (!it->is_string()) return config_error(key, std::string("expected a string, got ") + it->type_name());
  if (it->get_ref<const std::string&>().empty()) return config_error(key, "must not be empty");
  return it->get_ptr<const std::string*>();
}

result<void> only_keys(const json& obj, std::initializer_list<std::string_view> allowed, const std::string& key) {
  for (const auto& [k, v] : obj.items()) {
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      return config_error(key + "." + k, "unknown key");
    }
  }
  return {};
}

// "[json.exception.parse_error.101] parse error at line 1, column 5: ..." -> "parse error at ...".
std::string parser_message(const std::exception& e) {
  std::string_view what = e.what();
  if (!what.empty() && what.front() == '[') {
    if (auto close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
  }
  return std::string(what);
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// Percent-encodes one path segment (RFC 3986 unreserved characters pass through).
std::string encode_segment(std::string_view s) {
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
std::string scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return {};
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

// An RT id given as a JSON integer or a string of digits.
std::optional<std::string> id_text(const json& v) {
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return std::to_string(v.get<std::int64_t>());
  if (v.is_string() && all_digits(v.get_ref<const std::string&>())) return v.get<std::string>();
  return std::nullopt;
}

// RT answers a PUT with an array of messages, one per change (200 even when a change failed).
std::string rt_messages(const http::response& r) {
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

const json* find_custom_field(const json& record, const std::string& name) {
  auto it = record.find("CustomFields");
  if (it == record.end() || !it->is_array()) return nullptr;
  for (const auto& cf : *it) {
    if (cf.is_object() && cf.value("name", std::string()) == name) return &cf;
  }
  return nullptr;
}

std::vector<std::string> cf_values(const json& cf) {
  std::vector<std::string> out;
  if (auto it = cf.find("values"); it != cf.end() && it->is_array()) {
    for (const auto& v : *it) out.push_back(trim(scalar_text(v)));
  }
  return out;
}

// The id of a REST2 reference ({"id": "1", "type": "queue", ...}) or of a record (its "id").
std::string ref_id(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) return {};
  if (it->is_object()) return scalar_text(it->value("id", json()));
  return scalar_text(*it);
}

// RT's transaction "Created" ("2026-11-20 10:00:00", UTC) or an RFC 3339 date-time.
result<timestamp> parse_rt_time(const std::string& text) {
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

bool inactive_status(std::string_view s) {
  return s == "resolved" || s == "rejected" || s == "deleted" || s == "closed";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// create

result<std::unique_ptr<request_tracker_adapter>> request_tracker_adapter::create(const tenant_config& tenant,
                                                                                 const host_config& host,
                                                                                 const adapter_env& env) {
  const std::string prefix = "tenants[" + tenant.id + "].hosts[" + host.id + "]";
  const json& j = host.settings;
  if (!j.is_object()) return config_error(prefix, std::string("expected an object, got ") + j.type_name());
  if (auto r = only_keys(j,
                         {"id", "vendor", "base_url", "auth", "queue", "article_class", "priority_map", "custom_fields",
                          "webhook_secret", "endpoint"},
                         prefix);
      !r) {
    return r.err();
  }
  settings s;

  auto base = string_setting(j, "base_url", prefix + ".base_url");
  if (!base) return std::move(base).err();
  if (*base == nullptr) return config_error(prefix + ".base_url", "required (RT's web root, e.g. https://rt.example.com)");
  auto parsed = http::parse_url(**base);
  if (!parsed) return config_error(prefix + ".base_url", "expected an http(s) URL: " + parsed.err().message);
  if (parsed->target.find('?') != std::string::npos) {
    return config_error(prefix + ".base_url", "must not carry a query string");
  }
  s.base_url = parsed->str();
  while (!s.base_url.empty() && s.base_url.back() == '/') s.base_url.pop_back();
  if (s.base_url.size() >= rest_prefix.size() &&
      s.base_url.compare(s.base_url.size() - rest_prefix.size(), rest_prefix.size(), rest_prefix) == 0) {
    return config_error(prefix + ".base_url", "give RT's web root, without /REST/2.0");
  }

  {
    const std::string key = prefix + ".auth";
    auto it = j.find("auth");
    if (it == j.end() || it->is_null()) {
      return config_error(key, "required: {\"token\": \"...\"} or {\"user\": \"...\", \"password\": \"...\"}");
    }
    if (!it->is_object()) return config_error(key, std::string("expected an object, got ") + it->type_name());
    if (auto r = only_keys(*it, {"token", "user", "password"}, key); !r) return r.err();
    auto token = string_setting(*it, "token", key + ".token");
    if (!token) return std::move(token).err();
    auto user = string_setting(*it, "user", key + ".user");
    if (!user) return std::move(user).err();
    auto password = string_setting(*it, "password", key + ".password");
    if (!password) return std::move(password).err();
    if (*token != nullptr) {
      if (*user != nullptr || *password != nullptr) {
        return config_error(key, "give either token or user + password, not both");
      }
      const std::string& t = **token;
      if (std::any_of(t.begin(), t.end(), [](unsigned char c) { return c <= ' ' || c >= 0x7f; })) {
        return config_error(key + ".token", "must not contain spaces or control characters");
      }
      s.auth_header = "token " + t;
    } else {
      if (*user == nullptr || *password == nullptr) {
        return config_error(key, "expected {\"token\": \"...\"} or both user and password");
      }
      if ((*user)->find(':') != std::string::npos) return config_error(key + ".user", "must not contain ':'");
      s.auth_header = "Basic " + crypto::base64_encode(**user + ":" + **password);
    }
  }

  auto queue = string_setting(j, "queue", prefix + ".queue");
  if (!queue) return std::move(queue).err();
  if (*queue != nullptr) s.queue = **queue;
  auto cls = string_setting(j, "article_class", prefix + ".article_class");
  if (!cls) return std::move(cls).err();
  if (*cls != nullptr) s.article_class = **cls;

  if (auto it = j.find("priority_map"); it != j.end() && !it->is_null()) {
    const std::string key = prefix + ".priority_map";
    if (!it->is_object()) return config_error(key, std::string("expected an object, got ") + it->type_name());
    if (auto r = only_keys(*it, {"normal", "urgent", "critical"}, key); !r) return r.err();
    for (auto [name, slot] : {std::pair{"normal", &s.priority_normal}, std::pair{"urgent", &s.priority_urgent},
                              std::pair{"critical", &s.priority_critical}}) {
      auto v = it->find(name);
      if (v == it->end()) continue;
      if (!v->is_number_integer() || v->get<std::int64_t>() < 0 || v->get<std::int64_t>() > 1000000) {
        return config_error(key + "." + name, "expected an RT priority (an integer 0..1000000)");
      }
      *slot = v->get<std::int64_t>();
    }
  }

  if (auto it = j.find("custom_fields"); it != j.end() && !it->is_null()) {
    const std::string key = prefix + ".custom_fields";
    if (!it->is_object()) return config_error(key, std::string("expected an object, got ") + it->type_name());
    if (auto r = only_keys(*it,
                           {"category", "sentiment", "language", "priority_reason", "csat", "tags", "idempotency_key"},
                           key);
        !r) {
      return r.err();
    }
    for (const auto& [canonical, rt_name] : it->items()) {
      auto v = string_setting(*it, canonical.c_str(), key + "." + canonical);
      if (!v) return std::move(v).err();
      if (*v != nullptr) s.custom_fields[canonical] = **v;
    }
  }

  auto secret = string_setting(j, "webhook_secret", prefix + ".webhook_secret");
  if (!secret) return std::move(secret).err();
  if (*secret != nullptr) {
    if ((*secret)->size() < 16) return config_error(prefix + ".webhook_secret", "must be at least 16 characters");
    s.webhook_secret = **secret;
  }

  if (auto ep = j.find("endpoint"); ep != j.end() && !ep->is_null()) {
    const std::string key = prefix + ".endpoint";
    if (!ep->is_object()) return config_error(key, std::string("expected an object, got ") + ep->type_name());
    if (auto r = only_keys(*ep, {"ca_file"}, key); !r) return r.err();
    auto ca = string_setting(*ep, "ca_file", key + ".ca_file");
    if (!ca) return std::move(ca).err();
    if (*ca != nullptr) s.ca_file = **ca;
  }

  http::client_options opts;
  opts.timeout = env.http_timeout;
  opts.ca_file = s.ca_file;
  opts.user_agent = "closeloop/0.1 (request_tracker)";  // never Mozilla-like: RT would redirect to its login page
  return std::unique_ptr<request_tracker_adapter>(
      new request_tracker_adapter(tenant.id, host.id, env, std::move(s), http::client(std::move(opts))));
}

std::string request_tracker_adapter::rest_url(std::string_view path) const {
  return s_.base_url + std::string(rest_prefix) + std::string(path);
}

// ---------------------------------------------------------------------------------------------
// inbound

result<void> request_tracker_adapter::verify(const inbound_request& req, timestamp now) const {
  if (s_.webhook_secret.empty()) {
    return make_error(errc::unauthorized, "webhook_secret is not configured for this host: inbound webhooks are refused");
  }
  const std::string* ts = req.header(timestamp_header);
  if (ts == nullptr) return make_error(errc::unauthorized, "missing X-Plugin-Timestamp header");
  const std::string* sig = req.header(signature_header);
  if (sig == nullptr) return make_error(errc::unauthorized, "missing X-Plugin-Signature header");

  std::int64_t seconds = 0;
  if (!all_digits(*ts) || ts->size() > 12 ||
      std::from_chars(ts->data(), ts->data() + ts->size(), seconds).ec != std::errc()) {
    return make_error(errc::unauthorized, "X-Plugin-Timestamp is not a Unix time in seconds");
  }
  const auto tolerance_s = std::chrono::duration_cast<std::chrono::seconds>(env_.signature_tolerance).count();
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (now_s - seconds > tolerance_s) {
    return make_error(errc::unauthorized, "X-Plugin-Timestamp is older than " + std::to_string(tolerance_s) + " s");
  }
  if (seconds - now_s > tolerance_s) {
    return make_error(errc::unauthorized,
                      "X-Plugin-Timestamp is more than " + std::to_string(tolerance_s) + " s in the future");
  }

  constexpr std::string_view scheme = "sha256=";
  if (sig->size() != scheme.size() + 64 || !iequals(std::string_view(*sig).substr(0, scheme.size()), scheme)) {
    return make_error(errc::unauthorized, "X-Plugin-Signature: expected sha256=<64 hex digits>");
  }
  auto given = crypto::hex_decode(std::string_view(*sig).substr(scheme.size()));
  if (!given) return make_error(errc::unauthorized, "X-Plugin-Signature: expected sha256=<64 hex digits>");
  std::string signed_content;
  signed_content.reserve(ts->size() + 1 + req.body.size());
  signed_content.append(*ts).append(".").append(req.body);
  const std::string expected = crypto::hmac_sha256(s_.webhook_secret, signed_content);
  if (!crypto::constant_time_equal(*given, expected)) {
    return make_error(errc::unauthorized, "X-Plugin-Signature does not match (wrong secret or modified body)");
  }
  return {};
}

namespace {

// Reads the scrip's payload fields with errors that name them.
struct payload_reader {
  const json& j;
  std::string where;  // "body" or "body[3]"

  result<std::string> optional_string(const char* name) const {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) return std::string();
    if (!it->is_string()) return bad_payload(where + "." + name, std::string("expected a string, got ") + it->type_name());
    return it->get<std::string>();
  }
  result<std::string> required_id(const char* name) const {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) return bad_payload(where + "." + name, "required");
    auto id = id_text(*it);
    if (!id) return bad_payload(where + "." + name, "expected an RT id (an integer or a string of digits)");
    return *id;
  }
  result<party> person(const char* name) const {
    party p;
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) return p;
    if (!it->is_object()) return bad_payload(where + "." + name, std::string("expected an object, got ") + it->type_name());
    payload_reader sub{*it, where + "." + name};
    auto email = sub.optional_string("email");
    if (!email) return std::move(email).err();
    auto pname = sub.optional_string("name");
    if (!pname) return std::move(pname).err();
    auto role = sub.optional_string("role");
    if (!role) return std::move(role).err();
    if (auto id = it->find("id"); id != it->end() && !id->is_null()) {
      if (!id->is_string() && !id->is_number_integer()) {
        return bad_payload(where + "." + name + ".id", "expected a string or an integer");
      }
      p.id = scalar_text(*id);
    }
    p.email = *email;
    p.name = *pname;
    p.role = *role;
    if (!p.role.empty() && p.role != "customer" && p.role != "agent" && p.role != "system") {
      return bad_payload(where + "." + name + ".role", "expected customer, agent or system, got \"" + p.role + "\"");
    }
    return p;
  }
};

std::string canonical_set_field(const std::string& rt_field) {
  if (rt_field == "Priority") return "priority";
  if (rt_field == "Queue") return "group";
  if (rt_field == "Owner") return "owner";
  if (rt_field == "Subject") return "subject";
  std::string out;
  for (char c : rt_field) out += ascii_lower(c);
  return out;
}

}  // namespace

result<std::vector<event>> request_tracker_adapter::translate(const inbound_request& req) const {
  try {
    json body;
    try {
      body = json::parse(req.body);
    } catch (const json::parse_error& e) {
      return make_error(errc::invalid_argument, "body is not valid JSON: " + parser_message(e));
    }
    std::vector<std::pair<const json*, std::string>> items;
    if (body.is_object()) {
      items.emplace_back(&body, "body");
    } else if (body.is_array()) {
      for (std::size_t i = 0; i < body.size(); ++i) items.emplace_back(&body[i], "body[" + std::to_string(i) + "]");
    } else {
      return make_error(errc::invalid_argument,
                        std::string("body: expected an RT transaction (a JSON object) or an array of them, got ") +
                            body.type_name());
    }

    std::vector<event> out;
    for (const auto& [item, where] : items) {
      const json& j = *item;
      if (!j.is_object()) return bad_payload(where, std::string("expected an object, got ") + j.type_name());
      payload_reader r{j, where};

      auto kind = r.optional_string("event");
      if (!kind) return std::move(kind).err();
      if (!kind->empty() && *kind != "rt.transaction") continue;  // not ours to translate

      for (auto [field, expected] : {std::pair{"tenant", &tenant_}, std::pair{"host", &host_}}) {
        auto given = r.optional_string(field);
        if (!given) return std::move(given).err();
        if (!given->empty() && *given != *expected) {
          return bad_payload(where + "." + field, "\"" + *given + "\" does not match the URL's " + field + " \"" +
                                                      *expected + "\"");
        }
      }
      auto ticket = r.required_id("ticket_id");
      if (!ticket) return std::move(ticket).err();
      auto txn = r.required_id("transaction_id");
      if (!txn) return std::move(txn).err();
      auto type = r.optional_string("type");
      if (!type) return std::move(type).err();
      if (type->empty()) return bad_payload(where + ".type", "required (RT's transaction type, e.g. Create)");
      auto created = r.optional_string("created");
      if (!created) return std::move(created).err();
      if (created->empty()) return bad_payload(where + ".created", "required (the transaction's Created time)");
      auto when = parse_rt_time(*created);
      if (!when) return bad_payload(where + ".created", std::move(when).err().message);

      event ev;
      ev.tenant = tenant_;
      ev.host = host_;
      ev.ticket_id = *ticket;
      ev.host_event_id = "txn:" + *txn;
      ev.occurred_at = *when;
      auto requester = r.person("requestor");
      if (!requester) return std::move(requester).err();
      ev.requester = std::move(requester).value();
      if (!ev.requester.empty() && ev.requester.role.empty()) ev.requester.role = "customer";
      auto author = r.person("creator");
      if (!author) return std::move(author).err();
      ev.author = std::move(author).value();
      if (!ev.author.empty() && ev.author.role.empty()) {
        if (ev.author.name == "RT_System") ev.author.role = "system";
        else if (!ev.author.email.empty() && !ev.requester.email.empty() && iequals(ev.author.email, ev.requester.email))
          ev.author.role = "customer";
        else ev.author.role = "agent";
      }
      for (auto [name, slot] : {std::pair{"subject", &ev.subject}, std::pair{"content", &ev.text},
                                std::pair{"channel", &ev.channel}, std::pair{"queue", &ev.group}}) {
        auto v = r.optional_string(name);
        if (!v) return std::move(v).err();
        *slot = std::move(v).value();
      }
      if (ev.group.empty()) ev.group = s_.queue;

      auto field = r.optional_string("field");
      if (!field) return std::move(field).err();
      const json old_value = j.value("old", json());
      const json new_value = j.value("new", json());
      for (auto [name, v] : {std::pair{"old", &old_value}, std::pair{"new", &new_value}}) {
        if (!v->is_null() && !v->is_string() && !v->is_number()) {
          return bad_payload(where + "." + name, std::string("expected a string, a number or null, got ") +
                                                     v->type_name());
        }
      }

      if (*type == "Create") {
        ev.type = event_type::ticket_created;
        if (ev.channel.empty()) ev.channel = "email";
      } else if (*type == "Correspond" || *type == "Comment") {
        ev.type = event_type::ticket_commented;
        ev.visibility = *type == "Correspond" ? "public" : "internal";
      } else if (*type == "Status" || (*type == "Set" && *field == "Status")) {
        const std::string from = scalar_text(old_value);
        const std::string to = scalar_text(new_value);
        if (to.empty()) return bad_payload(where + ".new", "required for a Status transaction (the new status)");
        if (to == "resolved") {
          ev.type = event_type::ticket_solved;
          // The scrip adds the agent's last reply, from which closeloop may draft a KB article.
          auto resolution = r.optional_string("resolution");
          if (!resolution) return std::move(resolution).err();
          if (!resolution->empty()) ev.data = {{"resolution", std::move(resolution).value()}};
        } else if (inactive_status(to)) {
          ev.type = event_type::ticket_closed;
        } else if (inactive_status(from)) {
          ev.type = event_type::ticket_reopened;
        } else {
          ev.type = event_type::ticket_updated;
        }
        ev.changes = {{"status", {{"from", old_value}, {"to", new_value}}}};
      } else if (*type == "Set" || *type == "CustomField") {
        if (field->empty()) return bad_payload(where + ".field", "required for a " + *type + " transaction");
        std::string name;
        if (*type == "Set") {
          name = canonical_set_field(*field);
        } else {
          name = *field;
          for (const auto& [canonical, rt_name] : s_.custom_fields) {
            if (rt_name == *field && canonical != "idempotency_key") name = canonical;
          }
        }
        ev.type = event_type::ticket_updated;
        ev.changes = {{name, {{"from", old_value}, {"to", new_value}}}};
      } else {
        continue;  // AddWatcher, EmailRecord, ...: nothing closeloop acts on
      }
      out.push_back(std::move(ev));
    }
    return out;
  } catch (const std::exception& e) {
    return make_error(errc::invalid_argument, std::string("body: ") + parser_message(e));
  }
}

// ---------------------------------------------------------------------------------------------
// outbound

result<http::response> request_tracker_adapter::call(std::string method, std::string_view path, const json* body) const {
  http::request req;
  req.method = std::move(method);
  req.url = rest_url(path);
  req.headers.emplace_back("authorization", s_.auth_header);
  req.headers.emplace_back("accept", "application/json");
  if (body != nullptr) {
    req.headers.emplace_back("content-type", "application/json; charset=utf-8");
    req.body = body->dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return client_.send(req, env_.http_timeout);
}

namespace {

timestamp system_now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

action_outcome outcome_of(const result<http::response>& r) { return outcome_from(r, system_now()); }

bool ok(const result<http::response>& r) { return r && r->status >= 200 && r->status < 300; }

json parse_or_null(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const std::exception&) {
    return json();
  }
}

std::string string_param(const action& a, const char* name) {
  auto it = a.params.find(name);
  if (it == a.params.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

}  // namespace

// PUT the changes, then read the ticket back: RT answers 200 with a list of messages even when
// a change was refused ("Queue Nope does not exist", "Invalid value for custom field"), so the
// read-back is what tells done from failed.
request_tracker_adapter::put_result request_tracker_adapter::put_and_read(const std::string& ticket,
                                                                          const json& changes) const {
  put_result out;
  const std::string path = "/ticket/" + ticket;
  auto put = call("PUT", path, &changes);
  if (!ok(put)) {
    out.failure = outcome_of(put);
    return out;
  }
  out.messages = rt_messages(*put);
  out.status = put->status;
  auto get = call("GET", path, nullptr);
  if (!ok(get)) {
    out.failure = outcome_of(get);
    return out;
  }
  out.ticket = parse_or_null(get->body);
  if (!out.ticket.is_object()) {
    out.failure = action_outcome::failed("RT answered GET " + rest_url(path) + " with something other than a ticket",
                                         get->status);
  }
  return out;
}

std::int64_t request_tracker_adapter::priority_value(priority p) const noexcept {
  return p == priority::critical ? s_.priority_critical : p == priority::urgent ? s_.priority_urgent : s_.priority_normal;
}

json request_tracker_adapter::render_for_host(const action& a) const {
  switch (a.type) {
    case action_type::set_priority: {
      auto p = priority_from_string(string_param(a, "priority"));
      if (!p) return nullptr;
      return {{"Priority", priority_value(*p)}};
    }
    case action_type::set_fields: {
      auto fields = a.params.find("fields");
      if (fields == a.params.end() || !fields->is_object()) return nullptr;
      mapped_fields mf;
      if (!map_fields(*fields, mf) || mf.cfs.empty()) return nullptr;
      return {{"CustomFields", mf.cfs}};
    }
    case action_type::add_internal_note: {
      auto body = string_param(a, "body");
      if (body.empty()) return nullptr;
      return {{"Comment", body}};
    }
    case action_type::assign_group: {
      auto group = string_param(a, "group");
      if (group.empty()) return nullptr;
      return {{"Queue", group}};
    }
    default:
      return nullptr;
  }
}

action_outcome request_tracker_adapter::set_priority(const action& a) const {
  const std::string p = string_param(a, "priority");
  const auto prio = priority_from_string(p);
  if (!prio) return action_outcome::failed("set_priority: params.priority must be normal, urgent or critical");
  const std::int64_t value = priority_value(*prio);
  auto r = put_and_read(a.ticket_id, json{{"Priority", value}});
  if (r.failure) return *r.failure;
  if (scalar_text(r.ticket.value("Priority", json())) != std::to_string(value)) {
    return action_outcome::failed("RT did not set Priority to " + std::to_string(value) +
                                      (r.messages.empty() ? std::string() : ": " + r.messages),
                                  r.status);
  }
  auto done = action_outcome::done(r.status);
  done.message = r.messages;
  return done;
}

// params.fields (canonical names) -> RT custom-field values through the host's custom_fields map.
// Unmapped names are listed in `skipped`. Used by set_fields and by render_for_host.
result<void> request_tracker_adapter::map_fields(const json& fields, mapped_fields& m) const {
  json& cfs = m.cfs;
  auto& wanted = m.wanted;
  auto& multi = m.multi;
  std::string& skipped = m.skipped;
  cfs = json::object();
  for (const auto& [name, value] : fields.items()) {
    auto found = s_.custom_fields.find(name);
    if (found == s_.custom_fields.end() || name == "idempotency_key") {
      skipped += (skipped.empty() ? "" : ", ") + name;
      continue;
    }
    const std::string& cf = found->second;
    std::vector<std::string> values;
    if (value.is_array()) {
      for (const auto& v : value) {
        if (v.is_object() || v.is_array()) return make_error(errc::invalid_argument, "set_fields: fields." + name + ": nested values");
        std::string t = trim(scalar_text(v));
        if (!t.empty()) values.push_back(t);
      }
      cfs[cf] = values;
      multi[cf] = true;
    } else if (value.is_object()) {
      return make_error(errc::invalid_argument, "set_fields: fields." + name + ": expected a value or a list, got an object");
    } else if (name == "tags") {
      std::string t = trim(scalar_text(value));
      if (!t.empty()) values.push_back(t);
      cfs[cf] = values;
      multi[cf] = true;
    } else {
      std::string t = trim(scalar_text(value));
      if (!t.empty()) values.push_back(t);
      cfs[cf] = t;
      multi[cf] = false;
    }
    wanted[cf] = std::move(values);
  }
  return {};
}

action_outcome request_tracker_adapter::set_fields(const action& a) const {
  auto fields = a.params.find("fields");
  if (fields == a.params.end() || !fields->is_object() || fields->empty()) {
    return action_outcome::failed("set_fields: params.fields must be a non-empty object");
  }
  mapped_fields mf;
  if (auto ok_map = map_fields(*fields, mf); !ok_map) return action_outcome::failed(ok_map.err().message);
  const json& cfs = mf.cfs;
  const auto& wanted = mf.wanted;
  auto& multi = mf.multi;
  const std::string& skipped = mf.skipped;
  if (wanted.empty()) {
    return action_outcome::failed("set_fields: none of the fields (" + skipped +
                                  ") is mapped to an RT custom field (see custom_fields in the host settings)");
  }
  auto r = put_and_read(a.ticket_id, json{{"CustomFields", cfs}});
  if (r.failure) return *r.failure;
  for (const auto& [cf, values] : wanted) {
    const json* got = find_custom_field(r.ticket, cf);
    if (got == nullptr) {
      return action_outcome::failed("RT custom field \"" + cf + "\" is not applied to ticket " + a.ticket_id +
                                        "'s queue (or this user cannot see it)" +
                                        (r.messages.empty() ? std::string() : "; RT said: " + r.messages),
                                    r.status);
    }
    auto have = cf_values(*got);
    bool same;
    if (multi[cf]) {
      same = std::set<std::string>(have.begin(), have.end()) == std::set<std::string>(values.begin(), values.end());
    } else {
      same = (values.empty() && have.empty()) || (!values.empty() && !have.empty() && have.front() == values.front());
    }
    if (!same) {
      return action_outcome::failed("RT did not store custom field \"" + cf + "\"" +
                                        (r.messages.empty() ? std::string() : ": " + r.messages),
                                    r.status);
    }
  }
  auto done = action_outcome::done(r.status);
  done.message = r.messages;
  if (!skipped.empty()) done.message += (done.message.empty() ? "" : "; ") + std::string("not mapped, skipped: ") + skipped;
  return done;
}

// The id of a queue, or a failure (stored in `failure`) when RT does not know it.
result<std::string> request_tracker_adapter::queue_id(const std::string& name, action_outcome& failure) const {
  auto r = call("GET", "/queue/" + encode_segment(name), nullptr);
  if (!ok(r)) {
    failure = outcome_of(r);
    if (r && r->status == 404) failure = action_outcome::failed("RT queue \"" + name + "\" does not exist", 404);
    return make_error(errc::upstream, failure.message);
  }
  const json q = parse_or_null(r->body);
  std::string id = q.is_object() ? scalar_text(q.value("id", json())) : std::string();
  if (id.empty()) {
    failure = action_outcome::failed("RT answered GET queue \"" + name + "\" without an id", r->status);
    return make_error(errc::upstream, failure.message);
  }
  return id;
}

action_outcome request_tracker_adapter::assign_group(const action& a) const {
  const std::string group = string_param(a, "group");
  if (group.empty()) return action_outcome::failed("assign_group: params.group (an RT queue name) is required");
  action_outcome failure;
  auto qid = queue_id(group, failure);
  if (!qid) return failure;
  auto r = put_and_read(a.ticket_id, json{{"Queue", *qid}});
  if (r.failure) return *r.failure;
  if (ref_id(r.ticket, "Queue") != *qid) {
    return action_outcome::failed("RT did not move the ticket to queue \"" + group + "\"" +
                                      (r.messages.empty() ? std::string() : ": " + r.messages),
                                  r.status);
  }
  auto done = action_outcome::done(r.status);
  done.message = r.messages;
  return done;
}

action_outcome request_tracker_adapter::reopen(const action& a) const {
  json changes = {{"Status", "open"}};
  const std::string owner = string_param(a, "owner");
  const std::string group = string_param(a, "group");
  std::string qid;
  if (!owner.empty()) changes["Owner"] = owner;
  if (!group.empty()) {
    action_outcome failure;
    auto q = queue_id(group, failure);
    if (!q) return failure;
    qid = *q;
    changes["Queue"] = qid;
  }
  auto r = put_and_read(a.ticket_id, changes);
  if (r.failure) return *r.failure;
  const std::string said = r.messages.empty() ? std::string() : ": " + r.messages;
  if (scalar_text(r.ticket.value("Status", json())) != "open") {
    return action_outcome::failed("RT did not reopen ticket " + a.ticket_id + said, r.status);
  }
  if (!owner.empty() && !iequals(ref_id(r.ticket, "Owner"), owner)) {
    return action_outcome::failed("RT did not give ticket " + a.ticket_id + " to \"" + owner + "\"" + said, r.status);
  }
  if (!qid.empty() && ref_id(r.ticket, "Queue") != qid) {
    return action_outcome::failed("RT did not move ticket " + a.ticket_id + " to queue \"" + group + "\"" + said,
                                  r.status);
  }
  auto done = action_outcome::done(r.status);
  done.message = r.messages;
  return done;
}

// Comment (internal) or correspond (public). Idempotent through a transaction custom field that
// carries the action's key: a retry finds the earlier transaction and does not post twice.
action_outcome request_tracker_adapter::post_message(const action& a, const std::string& kind,
                                                     const std::string& body) const {
  const auto key_cf = s_.custom_fields.find("idempotency_key");
  const bool marked = key_cf != s_.custom_fields.end() && !key_cf->second.empty();
  if (marked) {
    const json query = json::array({
        {{"field", "CF.{" + key_cf->second + "}"}, {"value", a.idempotency_key}},
        {{"field", "ObjectType"}, {"value", "RT::Ticket"}},
        {{"field", "ObjectId"}, {"value", a.ticket_id}},
    });
    auto found = call("POST", "/transactions?per_page=100&fields=Type,CustomFields", &query);
    if (!ok(found)) return outcome_of(found);
    const json page = parse_or_null(found->body);
    if (page.is_object() && page.contains("items") && page["items"].is_array()) {
      // RT skips a limit on an unknown CF, so check the value on each transaction found.
      for (const auto& txn : page["items"]) {
        const json* cf = find_custom_field(txn, key_cf->second);
        if (cf == nullptr) continue;
        auto values = cf_values(*cf);
        if (std::find(values.begin(), values.end(), a.idempotency_key) != values.end()) {
          auto done = action_outcome::done(found->status);
          done.message = "already in RT as transaction " + scalar_text(txn.value("id", json()));
          return done;
        }
      }
    }
  }
  json msg = {{"Content", body}, {"ContentType", "text/plain"}};
  // A survey invitation carries its own mail subject; other messages keep the ticket's.
  if (a.type == action_type::send_survey) {
    if (auto subject = string_param(a, "subject"); !subject.empty()) msg["Subject"] = subject;
  }
  if (marked) msg["TxnCustomFields"] = {{key_cf->second, a.idempotency_key}};
  auto r = call("POST", "/ticket/" + a.ticket_id + "/" + kind, &msg);
  if (!ok(r)) return outcome_of(r);
  auto done = action_outcome::done(r->status);
  done.message = rt_messages(*r);
  return done;
}

result<std::string> request_tracker_adapter::class_id(const std::string& name) const {
  auto r = call("GET", "/class/" + encode_segment(name), nullptr);
  if (!r) return std::move(r).err();
  if (r->status == 404) return make_error(errc::not_found, "RT article class \"" + name + "\" does not exist");
  if (r->status < 200 || r->status >= 300) {
    return make_error(errc::upstream, "RT answered GET class \"" + name + "\" with HTTP " + std::to_string(r->status) +
                                          ": " + host_message(*r),
                      r->status >= 500);
  }
  const json c = parse_or_null(r->body);
  std::string id = c.is_object() ? scalar_text(c.value("id", json())) : std::string();
  if (id.empty()) return make_error(errc::upstream, "RT answered GET class \"" + name + "\" without an id");
  return id;
}

action_outcome request_tracker_adapter::create_kb_article(const action& a) const {
  const std::string title = string_param(a, "title");
  const std::string body = string_param(a, "body");
  if (title.empty() || body.empty()) return action_outcome::failed("create_kb_article: params.title and params.body are required");
  // Idempotent by title within the class: an article of the same name is the same article.
  auto cls = class_id(s_.article_class);
  if (!cls && cls.err().code == errc::unavailable) return outcome_from_error(cls.err());
  if (cls) {
    article_search search;
    search.query = json::array({{{"field", "Name"}, {"operator", "="}, {"value", title}}});
    search.per_page = 100;
    search.max_pages = 5;
    auto hits = search_articles(search);
    if (!hits) {
      if (hits.err().retryable) return action_outcome::retry(hits.err().message);
      return action_outcome::failed(hits.err().message);
    }
    for (const auto& h : *hits) {
      if (h.name == title) {
        auto done = action_outcome::done(200);
        done.message = "already in RT as article " + h.id;
        return done;
      }
    }
  }
  json article = {{"Class", s_.article_class}, {"Name", title}, {"CustomFields", {{"Content", body}}}};
  if (auto summary = string_param(a, "summary"); !summary.empty()) article["Summary"] = summary;
  auto r = call("POST", "/article", &article);
  if (!ok(r)) return outcome_of(r);
  const json created = parse_or_null(r->body);
  const std::string id = created.is_object() ? scalar_text(created.value("id", json())) : std::string();
  if (id.empty()) return action_outcome::failed("RT answered POST /article without an article id: " + host_message(*r), r->status);
  auto done = action_outcome::done(r->status);
  done.message = "created article " + id;
  return done;
}

result<std::vector<article_hit>> request_tracker_adapter::search_articles(const article_search& search) const {
  try {
    if (!search.query.is_array()) {
      return make_error(errc::invalid_argument, "article search: query must be a JSON array of {field, operator, value}");
    }
    if (search.per_page < 1 || search.per_page > 100) {
      return make_error(errc::invalid_argument, "article search: per_page must be 1..100");
    }
    json query = search.query;
    if (search.in_article_class) {
      auto cls = class_id(s_.article_class);
      if (!cls) return std::move(cls).err();
      query.push_back({{"field", "Class"}, {"value", *cls}});
    }
    std::vector<article_hit> out;
    for (int page = 1; page <= std::max(1, search.max_pages); ++page) {
      // RT's next_page URL is built from its WebBaseURL (and mangles the query string), so the
      // next page is asked for by number on our own base URL.
      const std::string path = "/articles?page=" + std::to_string(page) + "&per_page=" + std::to_string(search.per_page) +
                               "&fields=Name,Summary,Class";
      auto r = call("POST", path, &query);
      if (!r) return std::move(r).err();
      if (r->status < 200 || r->status >= 300) {
        return make_error(errc::upstream,
                          "RT answered the article search with HTTP " + std::to_string(r->status) + ": " +
                              host_message(*r),
                          r->status >= 500 || r->status == 408 || r->status == 429);
      }
      const json body = parse_or_null(r->body);
      if (!body.is_object() || !body.contains("items") || !body["items"].is_array()) {
        return make_error(errc::upstream, "RT answered the article search without an items list");
      }
      for (const auto& item : body["items"]) {
        if (!item.is_object()) continue;
        article_hit h;
        h.id = scalar_text(item.value("id", json()));
        h.name = scalar_text(item.value("Name", json()));
        h.summary = scalar_text(item.value("Summary", json()));
        h.class_id = ref_id(item, "Class");
        out.push_back(std::move(h));
      }
      if (!body.contains("next_page") || body["items"].empty()) break;
    }
    return out;
  } catch (const std::exception& e) {
    return make_error(errc::internal, std::string("article search: ") + e.what());
  }
}

action_outcome request_tracker_adapter::execute(const action& a) {
  if (a.idempotency_key.empty()) return action_outcome::failed("action has no idempotency_key");
  if ((!a.tenant.empty() && a.tenant != tenant_) || (!a.host.empty() && a.host != host_)) {
    return action_outcome::failed("action for " + a.tenant + "/" + a.host + " sent to the adapter of " + tenant_ + "/" +
                                  host_);
  }
  if (a.type != action_type::raise_alert && !all_digits(a.ticket_id) && a.type != action_type::create_kb_article) {
    return action_outcome::failed("ticket_id \"" + a.ticket_id + "\" is not an RT ticket number");
  }
  try {
    switch (a.type) {
      case action_type::set_priority:
        return set_priority(a);
      case action_type::set_fields:
        return set_fields(a);
      case action_type::add_internal_note: {
        const std::string body = string_param(a, "body");
        if (body.empty()) return action_outcome::failed("add_internal_note: params.body is required");
        return post_message(a, "comment", body);
      }
      case action_type::post_public_reply: {
        const std::string body = string_param(a, "body");
        if (body.empty()) return action_outcome::failed("post_public_reply: params.body is required");
        return post_message(a, "correspond", body);
      }
      case action_type::send_survey: {
        const std::string body = string_param(a, "body");
        if (body.empty()) return action_outcome::failed("send_survey needs the invitation text (params.body)");
        return post_message(a, "correspond", body);
      }
      case action_type::assign_group:
        return assign_group(a);
      case action_type::reopen:
        return reopen(a);
      case action_type::create_kb_article:
        return create_kb_article(a);
      case action_type::schedule_survey:
      case action_type::cancel_survey:
      case action_type::raise_alert:
        break;
    }
    return action_outcome::failed(std::string(to_string(a.type)) +
                                  " is not carried out by the request_tracker adapter (closeloop handles it itself)");
  } catch (const std::exception& e) {
    return action_outcome::failed(std::string("cannot execute ") + std::string(to_string(a.type)) + ": " + e.what());
  }
}

result<std::string> request_tracker_adapter::check_reachable() {
  try {
    const std::string url = rest_url("/rt");
    auto r = call("GET", "/rt", nullptr);
    if (!r) return make_error(r.err().code, "GET " + url + ": " + r.err().message, r.err().retryable);
    if (r->status == 401 || r->status == 403) {
      return make_error(errc::unauthorized, "GET " + url + ": RT refused the credentials: HTTP " +
                                                std::to_string(r->status) + ": " + host_message(*r));
    }
    if (r->status < 200 || r->status >= 300) {
      return make_error(errc::upstream,
                        "GET " + url + ": HTTP " + std::to_string(r->status) + ": " + host_message(*r),
                        r->status >= 500);
    }
    const json j = parse_or_null(r->body);
    if (!j.is_object() || !j.contains("Version")) {
      return make_error(errc::upstream, "GET " + url + ": HTTP " + std::to_string(r->status) +
                                            " but no RT version in the answer (is base_url RT's web root?)");
    }
    return "reached RT " + scalar_text(j["Version"]) + " at " + url + ": HTTP " + std::to_string(r->status);
  } catch (const std::exception& e) {
    return make_error(errc::internal, std::string("check_reachable: ") + e.what());
  }
}

}  // namespace closeloop::adapters::request_tracker
