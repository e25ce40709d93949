#include "freshdesk/freshdesk_adapter.hpp"

#include <algorithm>
#include <exception>

#include "common/crypto.hpp"
#include "common/retry.hpp"
#include "common/vendor_util.hpp"

namespace closeloop::adapters::freshdesk {

using namespace util;
using nlohmann::json;

namespace {

constexpr std::string_view api_prefix = "/api/v2";
constexpr int max_pages = 10;  // listing bound: 10 pages of 100

}  // namespace

std::string freshdesk_message(const http::response& r) {
  std::string msg = host_message(r);
  const json j = parse_or_null(r.body);
  if (j.is_object()) {
    if (auto errs = j.find("errors"); errs != j.end() && errs->is_array()) {
      std::string details;
      for (const auto& e : *errs) {
        if (!e.is_object()) continue;
        std::string one = scalar_text(e.value("field", json()));
        std::string text = scalar_text(e.value("message", json()));
        if (one.empty()) one = text;
        else if (!text.empty()) one += ": " + text;
        if (!one.empty()) details += (details.empty() ? "" : "; ") + one;
      }
      if (!details.empty()) msg += ": " + details;
    }
  }
  return msg.size() > 1000 ? msg.substr(0, 1000) : msg;
}

namespace {

// common/retry's mapping, with Freshdesk's field errors in the message.
action_outcome outcome_of(const result<http::response>& r) {
  action_outcome o = outcome_from(r, system_now());
  if (r && (r->status < 200 || r->status >= 300)) o.message = freshdesk_message(*r);
  return o;
}

}  // namespace

result<std::unique_ptr<freshdesk_adapter>> freshdesk_adapter::create(const tenant_config& tenant, const host_config& host,
                                                                     const adapter_env& env) {
  const std::string prefix = "tenants[" + tenant.id + "].hosts[" + host.id + "]";
  const json& j = host.settings;
  if (!j.is_object()) return config_error(prefix, std::string("expected an object, got ") + j.type_name());
  if (auto r = only_keys(j,
                         {"id", "vendor", "base_url", "api_key", "webhook", "priority_map", "custom_fields", "groups",
                          "agents", "kb", "endpoint"},
                         prefix);
      !r) {
    return r.err();
  }
  settings s;

  auto base = root_url_setting(j, prefix + ".base_url", api_prefix, "https://acme.freshdesk.com");
  if (!base) return std::move(base).err();
  s.base_url = std::move(base).value();

  auto key = string_setting(j, "api_key", prefix + ".api_key");
  if (!key) return std::move(key).err();
  if (*key == nullptr) return config_error(prefix + ".api_key", "required (an agent's API key, Profile settings)");
  if (!printable_token(**key) || (*key)->find(':') != std::string::npos) {
    return config_error(prefix + ".api_key", "must not contain ':', spaces or control characters");
  }
  s.auth_header = "Basic " + crypto::base64_encode(**key + ":X");

  auto hook = object_setting(j, "webhook", prefix + ".webhook");
  if (!hook) return std::move(hook).err();
  if (*hook != nullptr) {
    const std::string k = prefix + ".webhook";
    const json& w = **hook;
    if (auto r = only_keys(w, {"secret", "user", "password"}, k); !r) return r.err();
    auto secret = string_setting(w, "secret", k + ".secret");
    if (!secret) return std::move(secret).err();
    auto user = string_setting(w, "user", k + ".user");
    if (!user) return std::move(user).err();
    auto password = string_setting(w, "password", k + ".password");
    if (!password) return std::move(password).err();
    if (*secret == nullptr || *user == nullptr || *password == nullptr) {
      return config_error(k, "needs secret, user and password: Freshdesk signs nothing, so the rule must send both "
                             "the X-Closeloop-Secret header and basic auth");
    }
    if ((*secret)->size() < 16) return config_error(k + ".secret", "must be at least 16 characters");
    if (!printable_token(**secret)) return config_error(k + ".secret", "must not contain spaces or control characters");
    if ((*user)->find(':') != std::string::npos) return config_error(k + ".user", "must not contain ':'");
    s.webhook_secret = **secret;
    s.webhook_basic = **user + ":" + **password;
  }

  if (auto it = j.find("priority_map"); it != j.end() && !it->is_null()) {
    if (auto r = priority_map_setting(*it, prefix + ".priority_map", 1, 4, s.priority); !r) return r.err();
  }

  auto cfs = object_setting(j, "custom_fields", prefix + ".custom_fields");
  if (!cfs) return std::move(cfs).err();
  if (*cfs != nullptr) {
    const std::string k = prefix + ".custom_fields";
    if (auto r = only_keys(**cfs, {"category", "sentiment", "language", "priority_reason", "csat", "sla_first_reply_due", "sla_resolution_due"}, k); !r) return r.err();
    for (const auto& [canonical, name] : (*cfs)->items()) {
      auto v = string_setting(**cfs, canonical.c_str(), k + "." + canonical);
      if (!v) return std::move(v).err();
      if (*v != nullptr) s.custom_fields[canonical] = **v;
    }
  }

  auto groups = id_map_setting(j, "groups", prefix + ".groups");
  if (!groups) return std::move(groups).err();
  s.groups = std::move(groups).value();
  auto agents = id_map_setting(j, "agents", prefix + ".agents");
  if (!agents) return std::move(agents).err();
  s.agents = std::move(agents).value();

  auto kb = object_setting(j, "kb", prefix + ".kb");
  if (!kb) return std::move(kb).err();
  if (*kb != nullptr) {
    if (auto r = only_keys(**kb, {"folder_id"}, prefix + ".kb"); !r) return r.err();
    auto folder = id_setting(**kb, "folder_id", prefix + ".kb.folder_id");
    if (!folder) return std::move(folder).err();
    s.kb_folder_id = *folder;
  }

  auto ca = endpoint_ca_file(j, prefix);
  if (!ca) return std::move(ca).err();
  s.ca_file = std::move(ca).value();

  http::client_options opts;
  opts.timeout = env.http_timeout;
  opts.ca_file = s.ca_file;
  opts.user_agent = "closeloop/0.1 (freshdesk)";
  // Outbound calls only to the configured base URL's origin (no SSRF through payload links).
  if (auto r = opts.allow(s.base_url); !r) return config_error(prefix + ".base_url", r.err().message);
  return std::unique_ptr<freshdesk_adapter>(
      new freshdesk_adapter(tenant.id, host.id, env, std::move(s), http::client(std::move(opts))));
}

std::string freshdesk_adapter::api_url(std::string_view path) const {
  return s_.base_url + std::string(api_prefix) + std::string(path);
}

result<http::response> freshdesk_adapter::call(std::string method, std::string_view path, const json* body) const {
  return client_.send(json_request(std::move(method), api_url(path), s_.auth_header, body), env_.http_timeout);
}

std::optional<std::int64_t> freshdesk_adapter::lookup(const std::map<std::string, std::int64_t>& names,
                                                      const std::string& name) const {
  if (auto it = names.find(name); it != names.end()) return it->second;
  if (all_digits(name) && name.size() <= 18) return std::stoll(name);
  return std::nullopt;
}

// PUT /tickets/:id; Freshdesk answers 200 with the updated ticket (or 400 with field errors).
action_outcome freshdesk_adapter::update_ticket(const action& a, const json& changes, const char* what) const {
  auto r = call("PUT", "/tickets/" + a.ticket_id, &changes);
  if (!ok(r)) return outcome_of(r);
  const json t = parse_or_null(r->body);
  if (!t.is_object()) return action_outcome::failed(std::string(what) + ": Freshdesk answered the update without a ticket", r->status);
  for (const auto& [field, value] : changes.items()) {
    if (field == "custom_fields" || field == "tags") continue;  // checked by the caller
    if (t.contains(field) && t[field] != value) {
      return action_outcome::failed(std::string(what) + ": Freshdesk kept " + field + " = " + t[field].dump() +
                                        " (asked for " + value.dump() + ")",
                                    r->status);
    }
  }
  return action_outcome::done(r->status);
}

action_outcome freshdesk_adapter::set_priority(const action& a) const {
  const auto p = priority_from_string(string_param(a, "priority"));
  if (!p) return action_outcome::failed("set_priority: params.priority must be normal, urgent or critical");
  return update_ticket(a, json{{"priority", s_.priority[static_cast<int>(*p)]}}, "set_priority");
}

action_outcome freshdesk_adapter::set_fields(const action& a) const {
  auto fields = a.params.find("fields");
  if (fields == a.params.end() || !fields->is_object() || fields->empty()) {
    return action_outcome::failed("set_fields: params.fields must be a non-empty object");
  }
  json custom = json::object();
  std::vector<std::string> tags;
  bool has_tags = false;
  std::string skipped;
  for (const auto& [name, value] : fields->items()) {
    if (name == "tags") {
      has_tags = true;
      if (value.is_array()) {
        for (const auto& v : value) {
          if (std::string t = scalar_text(v); !t.empty()) tags.push_back(t);
        }
      } else if (std::string t = scalar_text(value); !t.empty()) {
        tags.push_back(t);
      }
      continue;
    }
    auto cf = s_.custom_fields.find(name);
    if (cf == s_.custom_fields.end()) {
      skipped += (skipped.empty() ? "" : ", ") + name;
      continue;
    }
    if (value.is_object()) return action_outcome::failed("set_fields: fields." + name + ": expected a value or a list, got an object");
    if (value.is_array()) {
      std::string joined;
      for (const auto& v : value) joined += (joined.empty() ? "" : ", ") + scalar_text(v);
      custom[cf->second] = joined;
    } else {
      custom[cf->second] = value;
    }
  }
  if (custom.empty() && !has_tags) {
    return action_outcome::failed("set_fields: none of the fields (" + skipped +
                                  ") is mapped to a Freshdesk custom field (see custom_fields in the host settings)");
  }
  json changes = json::object();
  if (!custom.empty()) changes["custom_fields"] = custom;
  if (has_tags) {
    // Freshdesk's "tags" replaces the set: read the current tags and add ours.
    auto cur = call("GET", "/tickets/" + a.ticket_id, nullptr);
    if (!ok(cur)) return outcome_of(cur);
    const json t = parse_or_null(cur->body);
    std::vector<std::string> all;
    if (t.is_object() && t.contains("tags") && t["tags"].is_array()) {
      for (const auto& v : t["tags"]) all.push_back(scalar_text(v));
    }
    for (const auto& tag : tags) {
      if (std::find(all.begin(), all.end(), tag) == all.end()) all.push_back(tag);
    }
    changes["tags"] = all;
  }
  auto r = call("PUT", "/tickets/" + a.ticket_id, &changes);
  if (!ok(r)) return outcome_of(r);
  const json t = parse_or_null(r->body);
  if (!custom.empty() && t.is_object() && t.contains("custom_fields") && t["custom_fields"].is_object()) {
    for (const auto& [cf, want] : custom.items()) {
      auto got = t["custom_fields"].find(cf);
      if (got == t["custom_fields"].end()) {
        return action_outcome::failed("Freshdesk ticket " + a.ticket_id + " has no custom field \"" + cf + "\"", r->status);
      }
    }
  }
  auto done = action_outcome::done(r->status);
  if (!skipped.empty()) done.message = "not mapped, skipped: " + skipped;
  return done;
}

action_outcome freshdesk_adapter::assign_group(const action& a) const {
  const std::string group = string_param(a, "group");
  if (group.empty()) return action_outcome::failed("assign_group: params.group is required");
  auto id = lookup(s_.groups, group);
  if (!id) {
    return action_outcome::failed("assign_group: group \"" + group +
                                  "\" is neither a Freshdesk group id nor in groups (host settings)");
  }
  return update_ticket(a, json{{"group_id", *id}}, "assign_group");
}

action_outcome freshdesk_adapter::reopen(const action& a) const {
  json changes = {{"status", 2}};  // 2 Open
  if (const std::string owner = string_param(a, "owner"); !owner.empty()) {
    auto id = lookup(s_.agents, owner);
    if (!id) return action_outcome::failed("reopen: owner \"" + owner + "\" is neither a Freshdesk agent id nor in agents (host settings)");
    changes["responder_id"] = *id;
  }
  if (const std::string group = string_param(a, "group"); !group.empty()) {
    auto id = lookup(s_.groups, group);
    if (!id) return action_outcome::failed("reopen: group \"" + group + "\" is neither a Freshdesk group id nor in groups (host settings)");
    changes["group_id"] = *id;
  }
  return update_ticket(a, changes, "reopen");
}

result<bool> freshdesk_adapter::conversation_has(const std::string& ticket, const std::string& marker,
                                                 action_outcome& failure) const {
  for (int page = 1; page <= max_pages; ++page) {
    auto r = call("GET", "/tickets/" + ticket + "/conversations?page=" + std::to_string(page) + "&per_page=100", nullptr);
    if (!ok(r)) {
      failure = outcome_of(r);
      return make_error(errc::upstream, failure.message);
    }
    const json list = parse_or_null(r->body);
    if (!list.is_array()) {
      failure = action_outcome::failed("Freshdesk answered the conversation list with something other than a list", r->status);
      return make_error(errc::upstream, failure.message);
    }
    for (const auto& c : list) {
      if (!c.is_object()) continue;
      for (const char* f : {"body", "body_text"}) {
        if (auto it = c.find(f); it != c.end() && it->is_string() && it->get_ref<const std::string&>().find(marker) != std::string::npos) {
          return true;
        }
      }
    }
    if (list.empty() || !link_has_next(*r)) break;
  }
  return false;
}

// A private note (POST /tickets/:id/notes) or a public reply (POST /tickets/:id/reply). Freshdesk
// has no idempotency key, so the body carries a marker and a retry looks for it first.
action_outcome freshdesk_adapter::post_conversation(const action& a, bool is_public, const std::string& body) const {
  const std::string marker = idempotency_marker(a.idempotency_key);
  action_outcome failure;
  auto found = conversation_has(a.ticket_id, marker, failure);
  if (!found) return failure;
  if (*found) {
    auto done = action_outcome::done(200);
    done.message = "already on Freshdesk ticket " + a.ticket_id + " (" + marker + ")";
    return done;
  }
  json msg = {{"body", text_to_html(body) + "<p style=\"color:#999999;font-size:11px\">" + marker + "</p>"}};
  if (!is_public) msg["private"] = true;
  auto r = call("POST", "/tickets/" + a.ticket_id + (is_public ? "/reply" : "/notes"), &msg);
  if (!ok(r)) return outcome_of(r);
  auto done = action_outcome::done(r->status);
  const json created = parse_or_null(r->body);
  if (created.is_object() && created.contains("id")) done.message = "conversation " + scalar_text(created["id"]);
  return done;
}

action_outcome freshdesk_adapter::create_kb_article(const action& a) const {
  if (!s_.kb_folder_id) {
    return action_outcome::failed("create_kb_article: tenants[" + tenant_ + "].hosts[" + host_ +
                                  "].kb.folder_id is not configured (the Solutions folder for closeloop's drafts)");
  }
  const std::string title = string_param(a, "title");
  const std::string body = string_param(a, "body");
  if (title.empty() || body.empty()) return action_outcome::failed("create_kb_article: params.title and params.body are required");
  const std::string folder = "/solutions/folders/" + std::to_string(*s_.kb_folder_id) + "/articles";
  // Idempotent by title within the folder: list it (all pages, bounded) before creating.
  for (int page = 1; page <= max_pages; ++page) {
    auto r = call("GET", folder + "?page=" + std::to_string(page) + "&per_page=100", nullptr);
    if (!ok(r)) return outcome_of(r);
    const json list = parse_or_null(r->body);
    if (!list.is_array()) return action_outcome::failed("Freshdesk answered the folder's article list with something other than a list", r->status);
    for (const auto& art : list) {
      if (art.is_object() && scalar_text(art.value("title", json())) == title) {
        auto done = action_outcome::done(r->status);
        done.created_id = scalar_text(art.value("id", json()));
        done.message = "already in Freshdesk as article " + done.created_id;
        return done;
      }
    }
    if (list.empty() || !link_has_next(*r)) break;
  }
  const bool draft = a.params.value("draft", true);
  std::string html = string_param(a, "body_html");
  if (html.empty()) html = text_to_html(body);
  json article = {{"title", title}, {"description", html}, {"status", draft ? 1 : 2}};  // 1 draft, 2 published
  if (auto tags = a.params.find("tags"); tags != a.params.end() && tags->is_array() && !tags->empty()) article["tags"] = *tags;
  auto r = call("POST", folder, &article);
  if (!ok(r)) return outcome_of(r);
  const json created = parse_or_null(r->body);
  const std::string id = created.is_object() ? scalar_text(created.value("id", json())) : std::string();
  if (id.empty()) return action_outcome::failed("Freshdesk answered the article create without an id: " + host_message(*r), r->status);
  auto done = action_outcome::done(r->status);
  done.created_id = id;
  done.message = "created article " + id + (draft ? " (draft)" : "");
  return done;
}

result<kb_page> freshdesk_adapter::list_articles(const std::string& cursor, int limit) {
  try {
    if (!s_.kb_folder_id) {
      return make_error(errc::unsupported, "list_articles: tenants[" + tenant_ + "].hosts[" + host_ + "].kb.folder_id is not configured");
    }
    int page = 1;
    if (!cursor.empty()) {
      if (!all_digits(cursor) || cursor.size() > 6 || (page = std::stoi(cursor)) < 1) {
        return make_error(errc::invalid_argument, "list_articles: cursor \"" + cursor + "\" is not a Freshdesk page number");
      }
    }
    if (limit < 1 || limit > 100) return make_error(errc::invalid_argument, "list_articles: limit must be 1..100");
    auto r = call("GET", "/solutions/folders/" + std::to_string(*s_.kb_folder_id) + "/articles?page=" + std::to_string(page) +
                             "&per_page=" + std::to_string(limit),
                  nullptr);
    if (!r) return std::move(r).err();
    if (r->status < 200 || r->status >= 300) {
      return make_error(errc::upstream,
                        "Freshdesk answered the article list with HTTP " + std::to_string(r->status) + ": " + freshdesk_message(*r),
                        r->status >= 500 || r->status == 408 || r->status == 425 || r->status == 429);
    }
    const json list = parse_or_null(r->body);
    if (!list.is_array()) return make_error(errc::upstream, "Freshdesk answered the article list with something other than a list");
    kb_page out;
    for (const auto& art : list) {
      if (!art.is_object()) continue;
      kb_article a;
      a.id = scalar_text(art.value("id", json()));
      if (a.id.empty()) continue;
      a.title = scalar_text(art.value("title", json()));
      a.body = scalar_text(art.value("description_text", json()));
      if (a.body.empty()) a.body = html_to_text(scalar_text(art.value("description", json())));
      a.url = s_.base_url + "/a/solutions/articles/" + a.id;
      a.draft = art.value("status", 2) == 1;
      out.articles.push_back(std::move(a));
    }
    if (!list.empty() && link_has_next(*r)) out.next_cursor = std::to_string(page + 1);
    return out;
  } catch (const std::exception& e) {
    return make_error(errc::internal, std::string("list_articles: ") + e.what());
  }
}

action_outcome freshdesk_adapter::execute(const action& a) {
  const action_handlers h{
      [this](const action& x) { return set_priority(x); },
      [this](const action& x) { return set_fields(x); },
      [this](const action& x) { return assign_group(x); },
      [this](const action& x) { return reopen(x); },
      [this](const action& x) { return create_kb_article(x); },
      [this](const action& x, bool is_public, const std::string& body) { return post_conversation(x, is_public, body); },
  };
  return dispatch(a, tenant_, host_, vendor_id, "Freshdesk", h);
}

result<std::string> freshdesk_adapter::check_reachable() {
  try {
    const std::string url = api_url("/agents/me");
    auto r = call("GET", "/agents/me", nullptr);
    auto got = reached(r, url, "Freshdesk", r ? freshdesk_message(*r) : std::string());
    if (!got) return std::move(got).err();
    const json me = parse_or_null((*got)->body);
    std::string who;
    if (me.is_object() && me.contains("contact") && me["contact"].is_object()) who = scalar_text(me["contact"].value("email", json()));
    return "reached Freshdesk at " + url + ": HTTP " + std::to_string((*got)->status) + (who.empty() ? "" : " (agent " + who + ")");
  } catch (const std::exception& e) {
    return make_error(errc::internal, std::string("check_reachable: ") + e.what());
  }
}

}  // namespace closeloop::adapters::freshdesk
