// zendesk: settings (create), outbound actions (execute), article search and doctor. The inbound
// half (verify, translate) is zendesk_inbound.cpp.
#include "zendesk/zendesk_adapter.hpp"

#include <algorithm>
#include <exception>

#include "common/crypto.hpp"
#include "common/retry.hpp"
#include "common/vendor_util.hpp"

namespace closeloop::adapters::zendesk {
namespace {

using namespace util;
using nlohmann::json;

constexpr std::string_view zendesk_priorities[] = {"low", "normal", "high", "urgent"};
// Canonical fields that become tags closeloop_<field>_<value> when no ticket field is mapped.
constexpr std::string_view taggable_fields[] = {"category", "sentiment", "language"};

// Zendesk's errors: {"error": "RecordInvalid", "description": "Record validation errors",
// "details": {"base": [{"description": "..."}]}} or {"error": {"title", "message"}}; keep all of it
// that says something, else host_message's rendering.
std::string zendesk_message(const http::response& r) {
  const json j = parse_or_null(r.body);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    std::string m = j["error"].get<std::string>();
    if (j.contains("description") && j["description"].is_string()) m += ": " + j["description"].get<std::string>();
    if (j.contains("details") && j["details"].is_object()) {
      for (const auto& [field, list] : j["details"].items()) {
        if (!list.is_array()) continue;
        for (const auto& d : list) {
          if (d.is_object() && d.contains("description") && d["description"].is_string()) {
            m += "; " + field + ": " + d["description"].get<std::string>();
          }
        }
      }
    }
    return m;
  }
  return host_message(r);
}

// outcome_from_http with Zendesk's own words and one Zendesk exception: 409 Conflict
// ("UpdateConflict", two updates of one ticket at once) is retried, as Zendesk asks.
action_outcome outcome_of(const result<http::response>& r) {
  if (!r) return outcome_from_error(r.err());
  action_outcome out = outcome_from_http(*r, system_now());
  if (out.k != action_outcome::kind::done) out.message = zendesk_message(*r);
  if (r->status == 409) out.k = action_outcome::kind::retry;
  return out;
}

// A tag Zendesk accepts: lower case, spaces and commas become '_'.
std::string tag_text(std::string_view s) {
  std::string out;
  for (char c : s) {
    c = ascii_lower(c);
    out += (c == ' ' || c == ',' || c == '\t' || c == '\n') ? '_' : c;
  }
  return out;
}

std::string id_string(const json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  if (v.is_string()) return v.get<std::string>();
  return {};
}

result<void> read_auth(const json& j, const std::string& prefix, settings& s) {
  const std::string key = prefix + ".auth";
  auto auth = object_setting(j, "auth", key);
  if (!auth) return std::move(auth).err();
  if (*auth == nullptr) {
    return config_error(key, "required: {\"email\": \"...\", \"api_token\": \"...\"} or {\"oauth_token\": \"...\"}");
  }
  const json& a = **auth;
  if (auto r = only_keys(a, {"email", "api_token", "oauth_token"}, key); !r) return r.err();
  auto email = string_setting(a, "email", key + ".email");
  if (!email) return std::move(email).err();
  auto token = string_setting(a, "api_token", key + ".api_token");
  if (!token) return std::move(token).err();
  auto oauth = string_setting(a, "oauth_token", key + ".oauth_token");
  if (!oauth) return std::move(oauth).err();
  if (*oauth != nullptr) {
    if (*email != nullptr || *token != nullptr) {
      return config_error(key, "give either email + api_token or oauth_token, not both");
    }
    s.auth_header = "Bearer " + **oauth;
    return {};
  }
  if (*email == nullptr) return config_error(key + ".email", "required with api_token (the agent's e-mail address)");
  if (*token == nullptr) return config_error(key + ".api_token", "required with email (an API token)");
  if ((*email)->find('@') == std::string::npos) return config_error(key + ".email", "expected an e-mail address");
  s.auth_header = "Basic " + crypto::base64_encode(**email + "/token:" + **token);
  return {};
}

result<void> read_help_center(const json& j, const std::string& prefix, settings& s) {
  const std::string key = prefix + ".help_center";
  auto hc = object_setting(j, "help_center", key);
  if (!hc) return std::move(hc).err();
  if (*hc == nullptr) return {};
  const json& h = **hc;
  if (auto r = only_keys(h, {"locale", "section_id", "permission_group_id", "user_segment_id", "labels"}, key); !r) {
    return r.err();
  }
  help_center_settings out;
  auto locale = string_setting(h, "locale", key + ".locale");
  if (!locale) return std::move(locale).err();
  if (*locale != nullptr) out.locale = **locale;
  auto section = id_setting(h, "section_id", key + ".section_id");
  if (!section) return std::move(section).err();
  if (!*section) return config_error(key + ".section_id", "required (the Help Center section articles are drafted in)");
  out.section_id = **section;
  auto group = id_setting(h, "permission_group_id", key + ".permission_group_id");
  if (!group) return std::move(group).err();
  if (!*group) return config_error(key + ".permission_group_id", "required (Help Center asks for it on every article)");
  out.permission_group_id = **group;
  auto segment = id_setting(h, "user_segment_id", key + ".user_segment_id");
  if (!segment) return std::move(segment).err();
  out.user_segment_id = *segment;
  if (auto it = h.find("labels"); it != h.end() && !it->is_null()) {
    if (!it->is_array()) return config_error(key + ".labels", std::string("expected an array, got ") + it->type_name());
    out.labels.clear();
    for (const auto& l : *it) {
      if (!l.is_string() || l.get_ref<const std::string&>().empty()) {
        return config_error(key + ".labels", "expected non-empty strings, got " + describe_value(l));
      }
      out.labels.push_back(l.get<std::string>());
    }
  }
  s.help_center = std::move(out);
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// create

result<std::unique_ptr<zendesk_adapter>> zendesk_adapter::create(const tenant_config& tenant, const host_config& host,
                                                                 const adapter_env& env) {
  const std::string prefix = "tenants[" + tenant.id + "].hosts[" + host.id + "]";
  const json& j = host.settings;
  if (!j.is_object()) return config_error(prefix, std::string("expected an object, got ") + j.type_name());
  if (auto r = only_keys(j,
                         {"id", "vendor", "base_url", "auth", "webhook_secret", "priority_map", "custom_fields",
                          "field_tags", "groups", "help_center", "max_pages", "endpoint"},
                         prefix);
      !r) {
    return r.err();
  }
  settings s;
  auto base = string_setting(j, "base_url", prefix + ".base_url");
  if (!base) return std::move(base).err();
  if (*base == nullptr) return config_error(prefix + ".base_url", "required (e.g. https://acme.zendesk.com)");
  auto parsed = http::parse_url(**base);
  if (!parsed) return config_error(prefix + ".base_url", "expected an http(s) URL: " + parsed.err().message);
  if (parsed->target != "/") return config_error(prefix + ".base_url", "give the account's root URL, without a path");
  s.base_url = parsed->str();
  while (!s.base_url.empty() && s.base_url.back() == '/') s.base_url.pop_back();

  if (auto r = read_auth(j, prefix, s); !r) return r.err();

  auto secret = string_setting(j, "webhook_secret", prefix + ".webhook_secret");
  if (!secret) return std::move(secret).err();
  if (*secret != nullptr) s.webhook_secret = **secret;

  auto pm = object_setting(j, "priority_map", prefix + ".priority_map");
  if (!pm) return std::move(pm).err();
  if (*pm != nullptr) {
    if (auto r = only_keys(**pm, {"normal", "urgent", "critical"}, prefix + ".priority_map"); !r) return r.err();
    for (const auto& [k, v] : (*pm)->items()) {
      const std::string key = prefix + ".priority_map." + k;
      if (!v.is_string() || std::find(std::begin(zendesk_priorities), std::end(zendesk_priorities),
                                      v.get<std::string>()) == std::end(zendesk_priorities)) {
        return config_error(key, "expected one of low, normal, high, urgent, got " + describe_value(v));
      }
      s.priority_map[k] = v.get<std::string>();
    }
  }
  auto cf = object_setting(j, "custom_fields", prefix + ".custom_fields");
  if (!cf) return std::move(cf).err();
  if (*cf != nullptr) {
    if (auto r = only_keys(**cf, {"category", "sentiment", "language", "priority_reason", "csat", "sla_first_reply_due", "sla_resolution_due"},
                           prefix + ".custom_fields");
        !r) {
      return r.err();
    }
    auto m = id_map_setting(j, "custom_fields", prefix + ".custom_fields");
    if (!m) return std::move(m).err();
    s.custom_fields = std::move(m).value();
  }
  if (auto it = j.find("field_tags"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) return config_error(prefix + ".field_tags", "expected true or false, got " + describe_value(*it));
    s.field_tags = it->get<bool>();
  }
  auto groups = object_setting(j, "groups", prefix + ".groups");
  if (!groups) return std::move(groups).err();
  if (*groups != nullptr) {
    auto m = id_map_setting(j, "groups", prefix + ".groups");
    if (!m) return std::move(m).err();
    s.groups = std::move(m).value();
  }
  if (auto r = read_help_center(j, prefix, s); !r) return r.err();
  auto pages = id_setting(j, "max_pages", prefix + ".max_pages");
  if (!pages) return std::move(pages).err();
  if (*pages) {
    if (**pages > 100) return config_error(prefix + ".max_pages", "at most 100");
    s.max_pages = static_cast<int>(**pages);
  }
  auto ep = object_setting(j, "endpoint", prefix + ".endpoint");
  if (!ep) return std::move(ep).err();
  if (*ep != nullptr) {
    if (auto r = only_keys(**ep, {"ca_file"}, prefix + ".endpoint"); !r) return r.err();
    auto ca = string_setting(**ep, "ca_file", prefix + ".endpoint.ca_file");
    if (!ca) return std::move(ca).err();
    if (*ca != nullptr) s.ca_file = **ca;
  }
  http::client_options opts;
  opts.timeout = env.http_timeout;
  opts.ca_file = s.ca_file;
  opts.user_agent = "closeloop/0.1 (zendesk)";
  // Outbound calls only to the configured base URL's origin (no SSRF through payload links).
  if (auto r = opts.allow(s.base_url); !r) return config_error(prefix + ".base_url", r.err().message);
  return std::unique_ptr<zendesk_adapter>(
      new zendesk_adapter(tenant.id, host.id, env, std::move(s), http::client(std::move(opts))));
}

std::string zendesk_adapter::key_label(const std::string& idempotency_key) {
  return "closeloop-" + crypto::hex_encode(crypto::hmac_sha256("closeloop kb label", idempotency_key)).substr(0, 16);
}

// ---------------------------------------------------------------------------------------------
// execute

result<http::response> zendesk_adapter::call(const std::string& method, const std::string& path_or_url,
                                             const json* body) const {
  http::request req;
  req.method = method;
  req.url = path_or_url.rfind("http", 0) == 0 ? path_or_url : s_.base_url + path_or_url;
  req.headers = {{"authorization", s_.auth_header}, {"accept", "application/json"}};
  if (body != nullptr) {
    req.headers.emplace_back("content-type", "application/json");
    req.body = body->dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return client_.send(req, env_.http_timeout);
}

action_outcome zendesk_adapter::update_ticket(const action& a, json ticket) const {
  const json body = {{"ticket", std::move(ticket)}};
  auto r = call("PUT", "/api/v2/tickets/" + a.ticket_id, &body);
  if (!ok(r)) return outcome_of(r);
  return action_outcome::done(r->status);
}

// A comment is the one write that is not idempotent by itself. Each comment carries the action's
// key in its audit's custom metadata (ticket.metadata); before writing, the ticket's audits are
// read (cursor pages of 100, at most max_pages) and a comment with the key counts as written.
action_outcome zendesk_adapter::post_comment(const action& a, const std::string& body, bool is_public) const {
  std::string next = "/api/v2/tickets/" + a.ticket_id + "/audits?page[size]=100";
  for (int page = 0; page < s_.max_pages && !next.empty(); ++page) {
    auto r = call("GET", next, nullptr);
    if (!ok(r)) return outcome_of(r);
    const json j = parse_or_null(r->body);
    if (!j.is_object()) return action_outcome::failed("Zendesk answered the audit list with something other than JSON", r->status);
    for (const auto& audit : j.value("audits", json::array())) {
      const json custom = audit.value("metadata", json::object()).value("custom", json::object());
      if (custom.is_object() && custom.value("closeloop_key", json()) == a.idempotency_key) {
        auto done = action_outcome::done(r->status);
        done.message = "already in Zendesk as audit " + id_string(audit.value("id", json()));
        return done;
      }
    }
    const bool more = j.value("meta", json::object()).value("has_more", false);
    const json links = j.value("links", json::object());
    next = more && links.contains("next") && links["next"].is_string() ? links["next"].get<std::string>() : std::string();
  }
  json ticket = {{"comment", {{"body", body}, {"public", is_public}}},
                 {"metadata", {{"closeloop_key", a.idempotency_key}}}};
  return update_ticket(a, std::move(ticket));
}

action_outcome zendesk_adapter::set_priority(const action& a) const {
  const auto p = priority_from_string(string_param(a, "priority"));
  if (!p) return action_outcome::failed("set_priority: params.priority must be normal, urgent or critical");
  return update_ticket(a, {{"priority", s_.priority_map.at(std::string(to_string(*p)))}});
}

action_outcome zendesk_adapter::set_fields(const action& a) const {
  auto it = a.params.find("fields");
  if (it == a.params.end() || !it->is_object() || it->empty()) {
    return action_outcome::failed("set_fields: params.fields must be a non-empty object");
  }
  json custom = json::array();
  json tags = json::array();
  std::string skipped;
  for (const auto& [name, value] : it->items()) {
    if (name == "tags") {
      for (const auto& t : value.is_array() ? value : json::array({value})) {
        if (t.is_string() && !t.get_ref<const std::string&>().empty()) tags.push_back(tag_text(t.get<std::string>()));
      }
      continue;
    }
    if (auto f = s_.custom_fields.find(name); f != s_.custom_fields.end()) {
      custom.push_back({{"id", f->second}, {"value", value}});
      continue;
    }
    const bool taggable = std::find(std::begin(taggable_fields), std::end(taggable_fields), name) != std::end(taggable_fields);
    if (s_.field_tags && taggable && value.is_string() && !value.get_ref<const std::string&>().empty()) {
      tags.push_back(tag_text("closeloop_" + name + "_" + value.get<std::string>()));
      continue;
    }
    skipped += (skipped.empty() ? "" : ", ") + name;
  }
  if (custom.empty() && tags.empty()) {
    return action_outcome::failed("set_fields: no Zendesk ticket field is mapped for " + skipped +
                                  " (settings custom_fields)");
  }
  json ticket = json::object();
  if (!custom.empty()) ticket["custom_fields"] = std::move(custom);
  if (!tags.empty()) ticket["additional_tags"] = std::move(tags);  // adds, never replaces the set
  auto out = update_ticket(a, std::move(ticket));
  if (out.k == action_outcome::kind::done && !skipped.empty()) out.message = "not mapped, skipped: " + skipped;
  return out;
}

std::optional<std::int64_t> zendesk_adapter::group_id(const std::string& name) const {
  if (auto it = s_.groups.find(name); it != s_.groups.end()) return it->second;
  if (!name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      name.size() < 19) {
    return std::stoll(name);
  }
  return std::nullopt;
}

action_outcome zendesk_adapter::assign_group(const action& a) const {
  const std::string g = string_param(a, "group");
  auto id = group_id(g);
  if (!id) return action_outcome::failed("assign_group: no Zendesk group id for \"" + g + "\" (settings groups)");
  return update_ticket(a, {{"group_id", *id}});
}

action_outcome zendesk_adapter::reopen(const action& a) const {
  json ticket = {{"status", "open"}};
  std::string note;
  if (const std::string owner = string_param(a, "owner"); !owner.empty()) {
    if (owner.find('@') != std::string::npos) {
      ticket["assignee_email"] = owner;
    } else {
      note += "owner \"" + owner + "\" is not an e-mail address, not assigned; ";
    }
  }
  if (const std::string g = string_param(a, "group"); !g.empty()) {
    if (auto id = group_id(g)) {
      ticket["group_id"] = *id;
    } else {
      note += "no Zendesk group id for \"" + g + "\"; ";
    }
  }
  auto out = update_ticket(a, std::move(ticket));
  if (out.k == action_outcome::kind::done && !note.empty()) out.message = note.substr(0, note.size() - 2);
  return out;
}

// Drafts one Help Center article per idempotency key. The key's label (key_label) marks it; the
// section's articles (drafts included, cursor pages) are read first and an article with the
// label, or with the same title, counts as already created.
action_outcome zendesk_adapter::create_kb_article(const action& a) const {
  if (!s_.help_center) {
    return action_outcome::failed("create_kb_article: tenants[" + tenant_ + "].hosts[" + host_ +
                                  "].help_center is not configured (section_id, permission_group_id)");
  }
  const help_center_settings& hc = *s_.help_center;
  const std::string title = string_param(a, "title");
  const std::string text = string_param(a, "body");
  if (title.empty() || text.empty()) return action_outcome::failed("create_kb_article: params.title and params.body are required");
  const std::string label = key_label(a.idempotency_key);
  const std::string section = "/api/v2/help_center/" + hc.locale + "/sections/" + std::to_string(hc.section_id) + "/articles";
  std::string next = section + "?page[size]=100";
  for (int page = 0; page < s_.max_pages && !next.empty(); ++page) {
    auto r = call("GET", next, nullptr);
    if (!ok(r)) return outcome_of(r);
    const json j = parse_or_null(r->body);
    if (!j.is_object()) return action_outcome::failed("Zendesk answered the article list with something other than JSON", r->status);
    for (const auto& art : j.value("articles", json::array())) {
      const json labels = art.value("label_names", json::array());
      const bool same_label = labels.is_array() && std::find(labels.begin(), labels.end(), label) != labels.end();
      if (same_label || art.value("title", json()) == title) {
        auto done = action_outcome::done(r->status);
        done.created_id = id_string(art.value("id", json()));
        done.message = "already in Zendesk as article " + done.created_id;
        return done;
      }
    }
    const bool more = j.value("meta", json::object()).value("has_more", false);
    const json links = j.value("links", json::object());
    next = more && links.contains("next") && links["next"].is_string() ? links["next"].get<std::string>() : std::string();
  }
  json labels = hc.labels;
  for (const auto& t : a.params.value("tags", json::array())) {
    if (t.is_string() && !t.get_ref<const std::string&>().empty()) labels.push_back(tag_text(t.get<std::string>()));
  }
  labels.push_back(label);
  json article = {{"title", title},
                  {"body", a.params.contains("body_html") && a.params["body_html"].is_string()
                               ? a.params["body_html"].get<std::string>()
                               : text_to_html(text)},
                  {"locale", hc.locale},
                  {"permission_group_id", hc.permission_group_id},
                  {"user_segment_id", hc.user_segment_id ? json(*hc.user_segment_id) : json(nullptr)},
                  {"draft", a.params.value("draft", true)},
                  {"label_names", std::move(labels)}};
  const json body = {{"article", std::move(article)}};
  auto r = call("POST", section, &body);
  if (!ok(r)) return outcome_of(r);
  const json created = parse_or_null(r->body);
  const std::string id = created.is_object() ? id_string(created.value("article", json::object()).value("id", json())) : "";
  if (id.empty()) return action_outcome::failed("Zendesk answered the article create without an article id", r->status);
  auto done = action_outcome::done(r->status);
  done.created_id = id;
  done.message = "created article " + id;
  return done;
}

action_outcome zendesk_adapter::execute(const action& a) {
  try {
    if (a.idempotency_key.empty()) return action_outcome::failed("action has no idempotency_key");
    if ((!a.tenant.empty() && a.tenant != tenant_) || (!a.host.empty() && a.host != host_)) {
      return action_outcome::failed("action for " + a.tenant + "/" + a.host + " sent to the adapter of " + tenant_ +
                                    "/" + host_);
    }
    const bool numeric = !a.ticket_id.empty() && a.ticket_id.size() < 19 &&
                         std::all_of(a.ticket_id.begin(), a.ticket_id.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!numeric) return action_outcome::failed("Zendesk ticket ids are numbers, got \"" + a.ticket_id + "\"");
    switch (a.type) {
      case action_type::set_priority: return set_priority(a);
      case action_type::set_fields: return set_fields(a);
      case action_type::assign_group: return assign_group(a);
      case action_type::reopen: return reopen(a);
      case action_type::add_internal_note:
      case action_type::post_public_reply:
      case action_type::send_survey: {
        const std::string body = string_param(a, "body");
        if (body.empty()) {
          return action_outcome::failed(std::string(to_string(a.type)) +
                                        (a.type == action_type::send_survey ? " needs the invitation text (params.body)"
                                                                            : " needs params.body"));
        }
        return post_comment(a, body, a.type != action_type::add_internal_note);
      }
      case action_type::create_kb_article: return create_kb_article(a);
      default:  // schedule_survey, cancel_survey, raise_alert, ...
        return action_outcome::failed(std::string(to_string(a.type)) + " is closeloop's own work, not a Zendesk call");
    }
  } catch (const std::exception& e) {
    return action_outcome::failed(std::string("zendesk: ") + e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// article search, doctor

result<std::vector<article_hit>> zendesk_adapter::search_articles(const std::string& query) const {
  try {
    if (query.empty()) return make_error(errc::invalid_argument, "article search: the query is empty");
    const std::string q = url_encode(query);
    std::string next = "/api/v2/help_center/articles/search?per_page=100&query=" + q;
    if (s_.help_center) next += "&locale=" + s_.help_center->locale;
    std::vector<article_hit> out;
    for (int page = 0; page < s_.max_pages && !next.empty(); ++page) {
      auto r = call("GET", next, nullptr);
      if (!r) return std::move(r).err();
      if (r->status < 200 || r->status >= 300) {
        return make_error(errc::upstream, "Zendesk answered the article search with HTTP " + std::to_string(r->status) +
                                              ": " + zendesk_message(*r),
                          r->status >= 500 || r->status == 429);
      }
      const json j = parse_or_null(r->body);
      if (!j.is_object() || !j.contains("results") || !j["results"].is_array()) {
        return make_error(errc::upstream, "Zendesk answered the article search without a results list");
      }
      for (const auto& art : j["results"]) {
        if (!art.is_object()) continue;
        article_hit h;
        h.id = id_string(art.value("id", json()));
        h.title = art.value("title", json()).is_string() ? art["title"].get<std::string>() : "";
        h.url = art.value("html_url", json()).is_string() ? art["html_url"].get<std::string>() : "";
        h.draft = art.value("draft", false);
        for (const auto& l : art.value("label_names", json::array())) {
          if (l.is_string()) h.labels.push_back(l.get<std::string>());
        }
        out.push_back(std::move(h));
      }
      next = j.contains("next_page") && j["next_page"].is_string() ? j["next_page"].get<std::string>() : std::string();
    }
    return out;
  } catch (const std::exception& e) {
    return make_error(errc::internal, std::string("article search: ") + e.what());
  }
}

result<kb_page> zendesk_adapter::list_articles(const std::string& cursor, int limit) {
  try {
    if (!s_.help_center) {
      return make_error(errc::unsupported, "zendesk: tenants[" + tenant_ + "].hosts[" + host_ +
                                               "].help_center is not configured: no knowledge-base listing");
    }
    if (limit < 1 || limit > 100) return make_error(errc::invalid_argument, "list_articles: limit must be 1..100");
    const bool cursor_ok = std::all_of(cursor.begin(), cursor.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
             c == '=' || c == '.';
    });
    if (!cursor_ok) return make_error(errc::invalid_argument, "list_articles: not a Zendesk cursor: \"" + cursor + "\"");
    const help_center_settings& hc = *s_.help_center;
    std::string path = "/api/v2/help_center/" + hc.locale + "/sections/" + std::to_string(hc.section_id) +
                       "/articles?page[size]=" + std::to_string(limit);
    if (!cursor.empty()) path += "&page[after]=" + cursor;
    auto r = call("GET", path, nullptr);
    if (!r) return std::move(r).err();
    if (r->status < 200 || r->status >= 300) {
      const bool again = r->status >= 500 || r->status == 408 || r->status == 425 || r->status == 429;
      return make_error(errc::upstream, "Zendesk answered the article list with HTTP " + std::to_string(r->status) +
                                            ": " + zendesk_message(*r),
                        again);
    }
    const json j = parse_or_null(r->body);
    if (!j.is_object() || !j.contains("articles") || !j["articles"].is_array()) {
      return make_error(errc::upstream, "Zendesk answered the article list without an articles list");
    }
    kb_page page;
    for (const auto& art : j["articles"]) {
      if (!art.is_object()) continue;
      kb_article k;
      k.id = id_string(art.value("id", json()));
      k.title = art.value("title", json()).is_string() ? art["title"].get<std::string>() : "";
      k.body = art.value("body", json()).is_string() ? art["body"].get<std::string>() : "";
      k.url = art.value("html_url", json()).is_string() ? art["html_url"].get<std::string>() : "";
      k.locale = art.value("locale", json()).is_string() ? art["locale"].get<std::string>() : hc.locale;
      k.draft = art.value("draft", false);
      page.articles.push_back(std::move(k));
    }
    const json meta = j.value("meta", json::object());
    if (meta.value("has_more", false) && meta.contains("after_cursor") && meta["after_cursor"].is_string()) {
      page.next_cursor = meta["after_cursor"].get<std::string>();
    }
    return page;
  } catch (const std::exception& e) {
    return make_error(errc::internal, std::string("list_articles: ") + e.what());
  }
}

result<std::string> zendesk_adapter::check_reachable() {
  const std::string url = s_.base_url + "/api/v2/users/me";
  auto r = call("GET", url, nullptr);
  if (!r) return make_error(r.err().code, "cannot reach " + url + ": " + r.err().message, r.err().retryable);
  if (r->status == 401 || r->status == 403) {
    return make_error(errc::unauthorized, "reached " + url + ": HTTP " + std::to_string(r->status) +
                                              " (the credentials were refused: " + zendesk_message(*r) + ")");
  }
  if (r->status < 200 || r->status >= 300) {
    return make_error(errc::upstream, "reached " + url + ": HTTP " + std::to_string(r->status) + ": " + zendesk_message(*r));
  }
  const json me = parse_or_null(r->body);
  std::string who;
  if (me.is_object() && me.contains("user") && me["user"].is_object() && me["user"].contains("email") &&
      me["user"]["email"].is_string()) {
    who = me["user"]["email"].get<std::string>();
  }
  return "reached " + url + (who.empty() ? std::string() : " as " + who) + ": HTTP " + std::to_string(r->status);
}

}  // namespace closeloop::adapters::zendesk
