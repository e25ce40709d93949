// Secrets by reference in the config, and the "security" / "privacy" sections.
#include "secret_refs.hpp"

#include <array>
#include <filesystem>
#include <random>
#include <regex>

namespace closeloop {
namespace {

constexpr std::array<std::string_view, 8> k_secret_keys{"webhook_secret", "secret",   "token",   "api_token",
                                                        "oauth_token",    "password", "api_key", "link_secret"};

bool secret_key_name(std::string_view k) {
  for (auto s : k_secret_keys)
    if (s == k) return true;
  return false;
}

std::string escape_pointer(const std::string& k) {
  std::string out;
  for (char c : k) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

void walk(json& node, const std::string& pointer, const std::string& path, const std::string& tenant,
          const std::string& host, const std::function<void(secret_field&)>& visit) {
  if (node.is_object()) {
    for (auto& [k, v] : node.items()) {
      const std::string p = pointer + "/" + escape_pointer(k);
      const std::string rel = path.empty() ? k : path + "." + k;
      if (secret_key_name(k) && (v.is_string() || (v.is_object() && v.contains("ref")))) {
        secret_field f{p, tenant, host, rel, &v};
        visit(f);
      } else if (v.is_object() || v.is_array()) {
        walk(v, p, rel, tenant, host, visit);
      }
    }
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      // An array item with an id (webhooks) is named by its id in the key path.
      std::string rel = path;
      if (node[i].is_object() && node[i].contains("id") && node[i]["id"].is_string())
        rel += "." + node[i]["id"].get<std::string>();
      else
        rel += "." + std::to_string(i);
      walk(node[i], pointer + "/" + std::to_string(i), rel, tenant, host, visit);
    }
  }
}

// An object's "id" when it is a string, else "": this runs before the schema check, so the
// document may hold anything there (json::value() would throw on an object or a number).
std::string id_of(const json& o) {
  auto it = o.find("id");
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string placeholder() {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string s(40, 'A');
  for (auto& c : s) c = alphabet[rng() % (sizeof(alphabet) - 1)];
  return s;
}

}  // namespace

void visit_secret_fields(json& doc, const std::function<void(secret_field&)>& visit) {
  // The one server-wide secret: the bearer token of /metrics (stored with `secret set --server`).
  if (auto server = doc.find("server"); server != doc.end() && server->is_object()) {
    if (auto t = server->find("metrics_token"); t != server->end() && (t->is_string() || t->is_object())) {
      secret_field f{"/server/metrics_token", "", "", "server.metrics_token", &*t};
      visit(f);
    }
  }
  auto tenants = doc.find("tenants");
  if (tenants == doc.end() || !tenants->is_array()) return;
  for (std::size_t i = 0; i < tenants->size(); ++i) {
    json& t = (*tenants)[i];
    if (!t.is_object()) continue;
    const std::string tid = id_of(t);
    const std::string tp = "/tenants/" + std::to_string(i);
    for (auto& [k, v] : t.items()) {
      if (k == "hosts" && v.is_array()) {
        for (std::size_t h = 0; h < v.size(); ++h) {
          if (!v[h].is_object()) continue;
          walk(v[h], tp + "/hosts/" + std::to_string(h), "", tid, id_of(v[h]), visit);
        }
      } else if (secret_key_name(k) && (v.is_string() || v.is_object())) {
        secret_field f{tp + "/" + escape_pointer(k), tid, "", k, &v};
        visit(f);
      } else if (v.is_object() || v.is_array()) {
        walk(v, tp + "/" + escape_pointer(k), k, tid, "", visit);
      }
    }
  }
}

result<void> resolve_secret_refs(config& c, const secret_lookup& lookup) {
  if (c.secret_refs.empty()) return {};
  json doc = c.source;
  for (const auto& r : c.secret_refs) {
    auto value = lookup(r);
    if (!value) return make_error(value.err().code, "config: " + r.pointer + ": " + value.err().message);
    doc[json::json_pointer(r.pointer)] = *value;
  }
  auto rebuilt = parse_config(doc.dump(), c.base_dir);
  if (!rebuilt) {
    // Never echo a value: the schema's message names the pointer and the rule only.
    return make_error(errc::invalid_config, rebuilt.err().message + " (a value from the secret store)");
  }
  // Only the tenants and the server's metrics token change: what the caller set on top of the
  // file (serve's --db, --port) stays.
  c.tenants = std::move(rebuilt->tenants);
  c.server.metrics_token = std::move(rebuilt->server.metrics_token);
  c.secret_refs.clear();
  return {};
}

namespace config_detail {

result<std::vector<secret_ref>> take_secret_refs(json& doc, std::vector<std::string>& plaintext) {
  static const std::regex name_re("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
  std::vector<secret_ref> refs;
  std::optional<error> bad;
  visit_secret_fields(doc, [&](secret_field& f) {
    if (bad) return;
    if (f.value->is_string()) {
      if (!f.value->get<std::string>().empty()) plaintext.push_back(f.pointer);
      return;
    }
    const json& o = *f.value;
    if (o.size() != 1 || !o.contains("ref") || !o["ref"].is_string() ||
        !std::regex_match(o["ref"].get<std::string>(), name_re)) {
      bad = make_error(errc::invalid_config,
                       "config: " + f.pointer + ": a secret is a string or {\"ref\": NAME} (NAME: letters, digits, "
                       ". _ -, up to 128) naming a value stored with `closeloop secret set`");
      return;
    }
    refs.push_back({f.pointer, f.tenant, f.host, o["ref"].get<std::string>()});
    *f.value = placeholder();
  });
  if (bad) return *bad;
  return refs;
}

void map_security_privacy(const json& doc, const std::string& base_dir, config& c) {
  namespace fs = std::filesystem;
  auto resolve = [&](const std::string& p) {
    if (p.empty() || fs::path(p).is_absolute()) return p;
    return (fs::path(base_dir.empty() ? "." : base_dir) / p).lexically_normal().string();
  };
  if (auto s = doc.find("security"); s != doc.end()) {
    if (auto k = s->find("key_file"); k != s->end()) c.security.key_file = resolve(k->get<std::string>());
    if (auto k = s->find("previous_key_files"); k != s->end())
      for (const auto& f : *k) c.security.previous_key_files.push_back(resolve(f.get<std::string>()));
  }
  if (auto p = doc.find("privacy"); p != doc.end()) {
    if (auto r = p->find("retention"); r != p->end()) {
      c.privacy.events_days = r->value("events_days", c.privacy.events_days);
      c.privacy.texts_days = r->value("texts_days", c.privacy.texts_days);
      c.privacy.survey_answers_days = r->value("survey_answers_days", c.privacy.survey_answers_days);
    }
    if (auto i = p->find("purge_interval_s"); i != p->end())
      c.privacy.purge_interval = std::chrono::seconds{i->get<std::int64_t>()};
    c.privacy.purge_batch = p->value("purge_batch", c.privacy.purge_batch);
  }
}

}  // namespace config_detail
}  // namespace closeloop
