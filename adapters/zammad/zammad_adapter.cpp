#include "zammad/zammad_adapter.hpp"

#include <algorithm>
#include <exception>

#include "common/crypto.hpp"
#include "common/retry.hpp"
#include "common/vendor_util.hpp"

namespace closeloop::adapters::zammad {

using namespace util;
using nlohmann::json;

namespace {

constexpr std::string_view api_prefix = "/api/v1";

action_outcome outcome_of(const result<http::response>& r) { return outcome_from(r, system_now()); }

bool attribute_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

result<std::unique_ptr<zammad_adapter>> zammad_adapter::create(const tenant_config& tenant, const host_config& host,
                                                               const adapter_env& env) {
  const std::string prefix = "tenants[" + tenant.id + "].hosts[" + host.id + "]";
  const json& j = host.settings;
  if (!j.is_object()) return config_error(prefix, std::string("expected an object, got ") + j.type_name());
  if (auto r = only_keys(j, {"id", "vendor", "base_url", "auth", "webhook_secret", "priority_map", "custom_fields", "kb", "endpoint"},
                         prefix);
      !r) {
    return r.err();
  }
  settings s;

  auto base = root_url_setting(j, prefix + ".base_url", api_prefix, "https://zammad.example.com");
  if (!base) return std::move(base).err();
  s.base_url = std::move(base).value();

  {
    const std::string key = prefix + ".auth";
    auto a = object_setting(j, "auth", key);
    if (!a) return std::move(a).err();
    if (*a == nullptr) {
      return config_error(key, "required: {\"token\": …}, {\"oauth_token\": …} or {\"user\": …, \"password\": …}");
    }
    const json& o = **a;
    if (auto r = only_keys(o, {"token", "oauth_token", "user", "password"}, key); !r) return r.err();
    auto token = string_setting(o, "token", key + ".token");
    if (!token) return std::move(token).err();
    auto oauth = string_setting(o, "oauth_token", key + ".oauth_token");
    if (!oauth) return std::move(oauth).err();
    auto user = string_setting(o, "user", key + ".user");
    if (!user) return std::move(user).err();
    auto password = string_setting(o, "password", key + ".password");
    if (!password) return std::move(password).err();
    const int forms = (*token != nullptr) + (*oauth != nullptr) + (*user != nullptr || *password != nullptr);
    if (forms != 1) return config_error(key, "give exactly one of token, oauth_token, or user + password");
    if (*token != nullptr) {
      if (!printable_token(**token)) return config_error(key + ".token", "must not contain spaces or control characters");
      s.auth_header = "Token token=" + **token;
    } else if (*oauth != nullptr) {
      if (!printable_token(**oauth)) return config_error(key + ".oauth_token", "must not contain spaces or control characters");
      s.auth_header = "Bearer " + **oauth;
    } else {
      if (*user == nullptr || *password == nullptr) return config_error(key, "user and password go together");
      if ((*user)->find(':') != std::string::npos) return config_error(key + ".user", "must not contain ':'");
      s.auth_header = "Basic " + crypto::base64_encode(**user + ":" + **password);
    }
  }

  auto secret = string_setting(j, "webhook_secret", prefix + ".webhook_secret");
  if (!secret) return std::move(secret).err();
  if (*secret != nullptr) {
    if ((*secret)->size() < 16) return config_error(prefix + ".webhook_secret", "must be at least 16 characters");
    s.webhook_secret = **secret;
  }

  if (auto it = j.find("priority_map"); it != j.end() && !it->is_null()) {
    if (auto r = priority_map_setting(*it, prefix + ".priority_map", 1, 1000000, s.priority); !r) return r.err();
  }

  auto cfs = object_setting(j, "custom_fields", prefix + ".custom_fields");
  if (!cfs) return std::move(cfs).err();
  if (*cfs != nullptr) {
    const std::string k = prefix + ".custom_fields";
    if (auto r = only_keys(**cfs, {"category", "sentiment", "language", "priority_reason", "csat", "sla_first_reply_due", "sla_resolution_due"}, k); !r) return r.err();
    for (const auto& [canonical, name] : (*cfs)->items()) {
      auto v = string_setting(**cfs, canonical.c_str(), k + "." + canonical);
      if (!v) return std::move(v).err();
      if (*v != nullptr) {
        if (!attribute_name(**v)) return config_error(k + "." + canonical, "expected a Zammad attribute name (a-z, 0-9, _)");
        s.custom_fields[canonical] = **v;
      }
    }
  }

  auto kb = object_setting(j, "kb", prefix + ".kb");
  if (!kb) return std::move(kb).err();
  if (*kb != nullptr) {
    const std::string k = prefix + ".kb";
    if (auto r = only_keys(**kb, {"knowledge_base_id", "category_id", "locale_id", "visibility"}, k); !r) return r.err();
    auto kb_id = id_setting(**kb, "knowledge_base_id", k + ".knowledge_base_id");
    if (!kb_id) return std::move(kb_id).err();
    auto cat = id_setting(**kb, "category_id", k + ".category_id");
    if (!cat) return std::move(cat).err();
    auto loc = id_setting(**kb, "locale_id", k + ".locale_id");
    if (!loc) return std::move(loc).err();
    if (!*kb_id || !*cat) return config_error(k, "needs knowledge_base_id and category_id (see POST /api/v1/knowledge_bases/init)");
    s.kb_id = *kb_id;
    s.kb_category_id = *cat;
    if (*loc) s.kb_locale_id = **loc;
    auto vis = string_setting(**kb, "visibility", k + ".visibility");
    if (!vis) return std::move(vis).err();
    if (*vis != nullptr) {
      if (**vis != "draft" && **vis != "internal" && **vis != "public") {
        return config_error(k + ".visibility", "expected draft, internal or public, got \"" + **vis + "\"");
      }
      s.kb_visibility = **vis;
    }
  }

  auto ca = endpoint_ca_file(j, prefix);
  if (!ca) return std::move(ca).err();
  s.ca_file = std::move(ca).value();

  http::client_options opts;
  opts.timeout = env.http_timeout;
  opts.ca_file = s.ca_file;
  opts.user_agent = "closeloop/0.1 (zammad)";
  // Outbound calls only to the configured base URL's origin (no SSRF through payload links).
  if (auto r = opts.allow(s.base_url); !r) return config_error(prefix + ".base_url", r.err().message);
  return std::unique_ptr<zammad_adapter>(new zammad_adapter(tenant.id, host.id, env, std::move(s), http::client(std::move(opts))));
}

std::string zammad_adapter::api_url(std::string_view path) const {
  return s_.base_url + std::string(api_prefix) + std::string(path);
}

result<http::response> zammad_adapter::call(std::string method, std::string_view path, const json* body) const {
  return client_.send(json_request(std::move(method), api_url(path), s_.auth_header, body), env_.http_timeout);
}

// PUT /tickets/:id; Zammad answers 200 with the ticket. A value it did not take is a failure.
action_outcome zammad_adapter::update_ticket(const action& a, const json& changes, const char* what) const {
  auto r = call("PUT", "/tickets/" + a.ticket_id, &changes);
  if (!ok(r)) return outcome_of(r);
  const json t = parse_or_null(r->body);
  if (!t.is_object()) return action_outcome::failed(std::string(what) + ": Zammad answered the update without a ticket", r->status);
  for (const auto& [field, value] : changes.items()) {
    if (field == "state" || field == "group" || field == "owner") continue;  // names; Zammad answers with ids
    auto got = t.find(field);
    if (got == t.end()) {
      return action_outcome::failed(std::string(what) + ": Zammad ticket " + a.ticket_id + " has no attribute \"" + field +
                                        "\" (add it in the object manager)",
                                    r->status);
    }
    if (*got != value && scalar_text(*got) != scalar_text(value)) {
      return action_outcome::failed(std::string(what) + ": Zammad kept " + field + " = " + got->dump() + " (asked for " +
                                        value.dump() + ")",
                                    r->status);
    }
  }
  return action_outcome::done(r->status);
}

action_outcome zammad_adapter::set_priority(const action& a) const {
  const auto p = priority_from_string(string_param(a, "priority"));
  if (!p) return action_outcome::failed("set_priority: params.priority must be normal, urgent or critical");
  return update_ticket(a, json{{"priority_id", s_.priority[static_cast<int>(*p)]}}, "set_priority");
}

action_outcome zammad_adapter::set_fields(const action& a) const {
  auto fields = a.params.find("fields");
  if (fields == a.params.end() || !fields->is_object() || fields->empty()) {
    return action_outcome::failed("set_fields: params.fields must be a non-empty object");
  }
  json changes = json::object();
  std::vector<std::string> tags;
  std::string skipped;
  for (const auto& [name, value] : fields->items()) {
    if (name == "tags") {
      if (value.is_array()) {
        for (const auto& v : value) {
          if (std::string t = scalar_text(v); !t.empty()) tags.push_back(t);
        }
      } else if (std::string t = scalar_text(value); !t.empty()) {
        tags.push_back(t);
      }
      continue;
    }
    auto attr = s_.custom_fields.find(name);
    if (attr == s_.custom_fields.end()) {
      skipped += (skipped.empty() ? "" : ", ") + name;
      continue;
    }
    if (value.is_object()) return action_outcome::failed("set_fields: fields." + name + ": expected a value or a list, got an object");
    if (value.is_array()) {
      std::string joined;
      for (const auto& v : value) joined += (joined.empty() ? "" : ", ") + scalar_text(v);
      changes[attr->second] = joined;
    } else {
      changes[attr->second] = value;
    }
  }
  if (changes.empty() && tags.empty()) {
    return action_outcome::failed("set_fields: none of the fields (" + skipped +
                                  ") is mapped to a Zammad ticket attribute (see custom_fields in the host settings)");
  }
  action_outcome out = action_outcome::done(200);
  if (!changes.empty()) {
    out = update_ticket(a, changes, "set_fields");
    if (out.k != action_outcome::kind::done) return out;
  }
  // Tags one by one; adding a tag the ticket already has is harmless (a retry repeats them).
  for (const auto& tag : tags) {
    const json add = {{"item", tag}, {"object", "Ticket"}, {"o_id", std::stoll(a.ticket_id)}};
    auto r = call("POST", "/tags/add", &add);
    if (!ok(r)) return outcome_of(r);
    out.http_status = r->status;
  }
  if (!skipped.empty()) out.message = "not mapped, skipped: " + skipped;
  return out;
}

action_outcome zammad_adapter::assign_group(const action& a) const {
  const std::string group = string_param(a, "group");
  if (group.empty()) return action_outcome::failed("assign_group: params.group is required");
  json changes = all_digits(group) ? json{{"group_id", std::stoll(group)}} : json{{"group", group}};
  return update_ticket(a, changes, "assign_group");
}

action_outcome zammad_adapter::reopen(const action& a) const {
  json changes = {{"state", "open"}};
  if (const std::string owner = string_param(a, "owner"); !owner.empty()) {
    if (all_digits(owner)) changes["owner_id"] = std::stoll(owner);
    else changes["owner"] = owner;  // Zammad looks the login up
  }
  if (const std::string group = string_param(a, "group"); !group.empty()) {
    if (all_digits(group)) changes["group_id"] = std::stoll(group);
    else changes["group"] = group;
  }
  return update_ticket(a, changes, "reopen");
}

// An internal note, or a public e-mail article to the customer (the survey invitation). Zammad
// takes no idempotency key, so the body carries a marker and a retry looks for it first.
action_outcome zammad_adapter::post_article(const action& a, bool is_public, const std::string& body) const {
  const std::string marker = idempotency_marker(a.idempotency_key);
  auto list = call("GET", "/ticket_articles/by_ticket/" + a.ticket_id, nullptr);
  if (!ok(list)) return outcome_of(list);
  const json articles = parse_or_null(list->body);
  if (!articles.is_array()) return action_outcome::failed("Zammad answered the article list with something other than a list", list->status);
  for (const auto& art : articles) {
    if (art.is_object() && scalar_text(art.value("body", json())).find(marker) != std::string::npos) {
      auto done = action_outcome::done(list->status);
      done.message = "already on Zammad ticket " + a.ticket_id + " as article " + scalar_text(art.value("id", json()));
      return done;
    }
  }
  json article = {{"ticket_id", std::stoll(a.ticket_id)},
                  {"body", text_to_html(body) + "<p style=\"color:#999999;font-size:11px\">" + marker + "</p>"},
                  {"content_type", "text/html"}};
  if (is_public) {
    // The customer's address: the ticket's customer_id, then the user.
    auto t = call("GET", "/tickets/" + a.ticket_id, nullptr);
    if (!ok(t)) return outcome_of(t);
    const json ticket = parse_or_null(t->body);
    const std::string customer = ticket.is_object() ? scalar_text(ticket.value("customer_id", json())) : std::string();
    if (customer.empty()) return action_outcome::failed("Zammad ticket " + a.ticket_id + " has no customer_id", t->status);
    auto u = call("GET", "/users/" + customer, nullptr);
    if (!ok(u)) return outcome_of(u);
    const json user = parse_or_null(u->body);
    const std::string email = user.is_object() ? scalar_text(user.value("email", json())) : std::string();
    if (email.empty()) return action_outcome::failed("Zammad user " + customer + " (the ticket's customer) has no e-mail address", u->status);
    std::string subject = string_param(a, "subject");
    if (subject.empty()) subject = scalar_text(ticket.value("title", json()));
    article["type"] = "email";
    article["internal"] = false;
    article["to"] = email;
    article["subject"] = subject;
  } else {
    article["type"] = "note";
    article["internal"] = true;
  }
  auto r = call("POST", "/ticket_articles", &article);
  if (!ok(r)) return outcome_of(r);
  auto done = action_outcome::done(r->status);
  const json created = parse_or_null(r->body);
  if (created.is_object() && created.contains("id")) done.message = "article " + scalar_text(created["id"]);
  return done;
}

action_outcome zammad_adapter::set_answer_visibility(const std::string& answer_id, const std::string& visibility) const {
  if (visibility == "draft") return action_outcome::done(200);
  const std::string event = visibility == "public" ? "publish" : "internal";
  auto r = call("POST", "/knowledge_bases/" + std::to_string(*s_.kb_id) + "/answers/" + answer_id + "/" + event, nullptr);
  if (!ok(r)) return outcome_of(r);
  return action_outcome::done(r->status);
}

action_outcome zammad_adapter::create_kb_article(const action& a) const {
  if (!s_.kb_id || !s_.kb_category_id) {
    return action_outcome::failed("create_kb_article: tenants[" + tenant_ + "].hosts[" + host_ +
                                  "].kb is not configured (knowledge_base_id and category_id)");
  }
  const std::string title = string_param(a, "title");
  const std::string body = string_param(a, "body");
  if (title.empty() || body.empty()) return action_outcome::failed("create_kb_article: params.title and params.body are required");
  // A draft request stays at most internal; otherwise the configured visibility.
  std::string visibility = s_.kb_visibility;
  if (a.params.value("draft", false) && visibility == "public") visibility = "internal";

  // Idempotent by title in the category: the KB overview lists answers and their titles.
  auto init = call("POST", "/knowledge_bases/init", nullptr);
  if (!ok(init)) return outcome_of(init);
  auto kb = kb_assets(*init);
  if (!kb) return action_outcome::failed(kb.err().message, init->status);
  const json& assets = *kb;
  const json answers = assets.value("KnowledgeBaseAnswer", json::object());
  const json translations = assets.value("KnowledgeBaseAnswerTranslation", json::object());
  if (translations.is_object() && answers.is_object()) {
    for (const auto& [id, tr] : translations.items()) {
      if (!tr.is_object() || scalar_text(tr.value("title", json())) != title) continue;
      const std::string answer_id = scalar_text(tr.value("answer_id", json()));
      auto ans = answers.find(answer_id);
      if (ans == answers.end() || !ans->is_object()) continue;
      if (scalar_text(ans->value("category_id", json())) != std::to_string(*s_.kb_category_id)) continue;
      // Already there. Finish an interrupted visibility change, then report it.
      const bool visible = visibility == "draft" ||
                           (visibility == "internal" && (!ans->value("internal_at", json()).is_null() ||
                                                         !ans->value("published_at", json()).is_null())) ||
                           (visibility == "public" && !ans->value("published_at", json()).is_null());
      if (!visible) {
        auto v = set_answer_visibility(answer_id, visibility);
        if (v.k != action_outcome::kind::done) return v;
      }
      auto done = action_outcome::done(init->status);
      done.created_id = answer_id;
      done.message = "already in Zammad as answer " + answer_id;
      return done;
    }
  }

  std::string html = string_param(a, "body_html");
  if (html.empty()) html = text_to_html(body);
  const json answer = {{"category_id", *s_.kb_category_id},
                       {"translations_attributes",
                        json::array({{{"title", title}, {"kb_locale_id", s_.kb_locale_id}, {"content_attributes", {{"body", html}}}}})}};
  auto r = call("POST", "/knowledge_bases/" + std::to_string(*s_.kb_id) + "/answers", &answer);
  if (!ok(r)) return outcome_of(r);
  const json created = parse_or_null(r->body);
  const std::string id = created.is_object() ? scalar_text(created.value("id", json())) : std::string();
  if (id.empty()) return action_outcome::failed("Zammad answered the answer create without an id: " + host_message(*r), r->status);
  auto v = set_answer_visibility(id, visibility);
  if (v.k != action_outcome::kind::done) {
    v.message = "answer " + id + " created, but making it " + visibility + " failed: " + v.message;
    return v;  // a retry finds the answer by title and finishes the visibility change
  }
  auto done = action_outcome::done(r->status);
  done.created_id = id;
  done.message = "created answer " + id + " (" + visibility + ")";
  return done;
}

result<json> zammad_adapter::kb_assets(const http::response& init) const {
  json assets = parse_or_null(init.body);
  if (assets.is_object() && assets.contains("assets") && assets["assets"].is_object()) assets = assets["assets"];
  if (!assets.is_object()) return make_error(errc::upstream, "Zammad answered knowledge_bases/init with something other than an object");
  return assets;
}

result<kb_page> zammad_adapter::list_articles(const std::string& cursor, int limit) {
  try {
    if (!s_.kb_id || !s_.kb_category_id) {
      return make_error(errc::unsupported, "list_articles: tenants[" + tenant_ + "].hosts[" + host_ + "].kb is not configured");
    }
    std::size_t offset = 0;
    if (!cursor.empty()) {
      if (!all_digits(cursor) || cursor.size() > 9) {
        return make_error(errc::invalid_argument, "list_articles: cursor \"" + cursor + "\" is not an offset");
      }
      offset = std::stoul(cursor);
    }
    if (limit < 1 || limit > 100) return make_error(errc::invalid_argument, "list_articles: limit must be 1..100");
    auto init = call("POST", "/knowledge_bases/init", nullptr);
    if (!init) return std::move(init).err();
    if (!ok(init)) {
      return make_error(errc::upstream, "Zammad answered knowledge_bases/init with HTTP " + std::to_string(init->status) + ": " + host_message(*init),
                        init->status >= 500 || init->status == 408 || init->status == 425 || init->status == 429);
    }
    auto kb = kb_assets(*init);
    if (!kb) return std::move(kb).err();
    const json answers = kb->value("KnowledgeBaseAnswer", json::object());
    std::vector<std::int64_t> ids;
    if (answers.is_object()) {
      for (const auto& [id, ans] : answers.items()) {
        if (!ans.is_object() || scalar_text(ans.value("category_id", json())) != std::to_string(*s_.kb_category_id)) continue;
        if (!ans.value("archived_at", json()).is_null()) continue;
        if (all_digits(id) && id.size() <= 18) ids.push_back(std::stoll(id));
      }
    }
    std::sort(ids.begin(), ids.end());
    kb_page out;
    for (std::size_t i = offset; i < ids.size() && i < offset + static_cast<std::size_t>(limit); ++i) {
      const std::string id = std::to_string(ids[i]);
      auto r = call("GET", "/knowledge_bases/" + std::to_string(*s_.kb_id) + "/answers/" + id + "?full=1&include_contents=1", nullptr);
      if (!r) return std::move(r).err();
      if (r->status < 200 || r->status >= 300) {
        return make_error(errc::upstream, "Zammad answered GET answer " + id + " with HTTP " + std::to_string(r->status) + ": " + host_message(*r),
                          r->status >= 500 || r->status == 408 || r->status == 425 || r->status == 429);
      }
      json a = parse_or_null(r->body);
      if (a.is_object() && a.contains("assets") && a["assets"].is_object()) a = a["assets"];
      if (!a.is_object()) return make_error(errc::upstream, "Zammad answered GET answer " + id + " with something other than an object");
      kb_article art;
      art.id = id;
      const json ans = a.value("KnowledgeBaseAnswer", json::object()).value(id, json::object());
      art.draft = ans.value("published_at", json()).is_null();
      std::string content_id;
      const json translations = a.value("KnowledgeBaseAnswerTranslation", json::object());
      for (const auto& [tid, tr] : translations.items()) {
        if (!tr.is_object() || scalar_text(tr.value("answer_id", json())) != id) continue;
        art.title = scalar_text(tr.value("title", json()));
        content_id = scalar_text(tr.value("content_id", json()));
        break;
      }
      const json contents = a.value("KnowledgeBaseAnswerTranslationContent", json::object());
      if (contents.is_object() && contents.contains(content_id)) art.body = html_to_text(scalar_text(contents[content_id].value("body", json())));
      out.articles.push_back(std::move(art));
    }
    if (offset + static_cast<std::size_t>(limit) < ids.size()) out.next_cursor = std::to_string(offset + limit);
    return out;
  } catch (const std::exception& e) {
    return make_error(errc::internal, std::string("list_articles: ") + e.what());
  }
}

action_outcome zammad_adapter::execute(const action& a) {
  const action_handlers h{
      [this](const action& x) { return set_priority(x); },
      [this](const action& x) { return set_fields(x); },
      [this](const action& x) { return assign_group(x); },
      [this](const action& x) { return reopen(x); },
      [this](const action& x) { return create_kb_article(x); },
      [this](const action& x, bool is_public, const std::string& body) { return post_article(x, is_public, body); },
  };
  return dispatch(a, tenant_, host_, vendor_id, "Zammad", h);
}

result<std::string> zammad_adapter::check_reachable() {
  try {
    const std::string url = api_url("/users/me");
    auto r = call("GET", "/users/me", nullptr);
    auto got = reached(r, url, "Zammad", r ? host_message(*r) : std::string());
    if (!got) return std::move(got).err();
    const json me = parse_or_null((*got)->body);
    const std::string who = me.is_object() ? scalar_text(me.value("login", json())) : std::string();
    return "reached Zammad at " + url + ": HTTP " + std::to_string((*got)->status) + (who.empty() ? "" : " (user " + who + ")");
  } catch (const std::exception& e) {
    return make_error(errc::internal, std::string("check_reachable: ") + e.what());
  }
}

}  // namespace closeloop::adapters::zammad
