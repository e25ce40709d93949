#include "request_tracker/request_tracker_adapter.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <set>

#include "common/crypto.hpp"
#include "common/retry.hpp"
#include "request_tracker/request_tracker_detail.hpp"

namespace closeloop::adapters::request_tracker {

using namespace detail;
using nlohmann::json;

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
                          "write_due", "webhook_secret", "endpoint"},
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
                           {"category", "sentiment", "language", "priority_reason", "csat", "sla_first_reply_due", "sla_resolution_due", "tags", "idempotency_key"},
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

  if (auto it = j.find("write_due"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) return config_error(prefix + ".write_due", "expected true or false, got " + describe_value(*it));
    s.write_due = it->get<bool>();
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
  // Outbound calls only to the configured base URL's origin (no SSRF through payload links).
  if (auto r = opts.allow(s.base_url); !r) return config_error(prefix + ".base_url", r.err().message);
  return std::unique_ptr<request_tracker_adapter>(
      new request_tracker_adapter(tenant.id, host.id, env, std::move(s), http::client(std::move(opts))));
}

std::string request_tracker_adapter::rest_url(std::string_view path) const {
  return s_.base_url + std::string(rest_prefix) + std::string(path);
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
      if (!map_fields(*fields, mf) || (mf.cfs.empty() && mf.due.empty())) return nullptr;
      json host = json::object();
      if (!mf.cfs.empty()) host["CustomFields"] = mf.cfs;
      if (!mf.due.empty()) host["Due"] = mf.due;
      return host;
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

namespace {

// An RFC 3339 time as RT keeps its dates: UTC "YYYY-MM-DD HH:MM:SS" (what SetDue stores; RT
// shows it in each user's own time zone). Seconds are enough for a due time.
result<std::string> rt_time(const json& v) {
  if (!v.is_string()) return make_error(errc::invalid_argument, "expected an RFC 3339 time, got " + describe_value(v));
  auto t = parse_rfc3339(v.get<std::string>());
  if (!t) return make_error(errc::invalid_argument, "expected an RFC 3339 time: " + t.err().message);
  std::string out = format_rfc3339(*t).substr(0, 19);
  out[10] = ' ';
  return out;
}

}  // namespace

// params.fields (canonical names) -> RT custom-field values through the host's custom_fields map.
// Unmapped names are listed in `skipped`. Used by set_fields and by render_for_host.
result<void> request_tracker_adapter::map_fields(const json& fields, mapped_fields& m) const {
  json& cfs = m.cfs;
  auto& wanted = m.wanted;
  auto& multi = m.multi;
  std::string& skipped = m.skipped;
  cfs = json::object();
  for (const auto& [name, value] : fields.items()) {
    if (name == "sla_resolution_due" && s_.write_due) {
      auto due = rt_time(value);
      if (!due) return make_error(errc::invalid_argument, "set_fields: fields.sla_resolution_due: " + due.err().message);
      m.due = std::move(*due);
      if (!s_.custom_fields.count(name)) continue;  // RT's Due is where it goes
    }
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
  if (wanted.empty() && mf.due.empty()) {
    return action_outcome::failed("set_fields: none of the fields (" + skipped +
                                  ") is mapped to an RT custom field (see custom_fields in the host settings)");
  }
  json changes = json::object();
  if (!wanted.empty()) changes["CustomFields"] = cfs;
  if (!mf.due.empty()) changes["Due"] = mf.due;
  auto r = put_and_read(a.ticket_id, changes);
  if (r.failure) return *r.failure;
  if (!mf.due.empty()) {
    // REST2 shows Due as "2026-11-23T09:00:00Z".
    if (auto got = rt_time(r.ticket.value("Due", json())); !got || *got != mf.due) {
      return action_outcome::failed("RT did not set Due to " + mf.due + " UTC (it shows \"" +
                                        scalar_text(r.ticket.value("Due", json())) + "\")" +
                                        (r.messages.empty() ? std::string() : ": " + r.messages),
                                    r.status);
    }
  }
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
      case action_type::suggest_kb_articles:
      case action_type::post_webhook:
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
