// The configuration loader: schema first (schemas/config.schema.json, so unknown keys and wrong
// types are named by JSON pointer), then cross-field checks, then the JSON is mapped into the
// structs of config.hpp. Keys absent from the file keep the defaults of config.hpp: this file
// holds no default of its own.
#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <system_error>

#include "closeloop/config.hpp"
#include "secret_refs.hpp"

namespace closeloop {

const host_config* tenant_config::find_host(std::string_view host_id) const noexcept {
  for (const auto& h : hosts) {
    if (h.id == host_id) return &h;
  }
  return nullptr;
}

const tenant_config* config::find_tenant(std::string_view tenant_id) const noexcept {
  for (const auto& t : tenants) {
    if (t.id == tenant_id) return &t;
  }
  return nullptr;
}

namespace {

namespace fs = std::filesystem;

error config_error(const std::string& pointer, const std::string& what) {
  return make_error(errc::invalid_config, "config: " + pointer + ": " + what);
}

std::string json_message(const std::exception& ex) {
  std::string s = ex.what();
  if (!s.empty() && s.front() == '[') {
    if (const auto close = s.find("] "); close != std::string::npos) s.erase(0, close + 2);
  }
  return s;
}

std::string lower_ascii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Relative paths in the file are relative to the file's directory (base_dir). SQLite's
// ":memory:" is not a path.
std::string resolve_path(const std::string& p, const std::string& base_dir) {
  if (p.empty() || p == ":memory:") return p;
  const fs::path path(p);
  if (path.is_absolute()) return p;
  return (fs::path(base_dir.empty() ? "." : base_dir) / path).lexically_normal().string();
}

bool readable_file(const std::string& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return false;
  std::ifstream in(p, std::ios::binary);
  return in.good();
}

template <typename T>
void set_if(const json& obj, const char* key, T& out) {
  if (const auto it = obj.find(key); it != obj.end()) out = it->get<T>();
}

void set_ms(const json& obj, const char* key, milliseconds& out) {
  if (const auto it = obj.find(key); it != obj.end()) out = milliseconds{it->get<std::int64_t>()};
}

void set_s(const json& obj, const char* key, std::chrono::seconds& out) {
  if (const auto it = obj.find(key); it != obj.end()) out = std::chrono::seconds{it->get<std::int64_t>()};
}

server_config map_server(const json& j, const std::string& base_dir) {
  server_config s;
  set_if(j, "listen", s.listen);
  if (const auto it = j.find("port"); it != j.end()) s.port = static_cast<std::uint16_t>(it->get<unsigned>());
  set_if(j, "port_file", s.port_file);
  if (const auto it = j.find("tls"); it != j.end()) {
    tls_config tls;
    tls.cert_file = resolve_path(it->at("cert_file").get<std::string>(), base_dir);
    tls.key_file = resolve_path(it->at("key_file").get<std::string>(), base_dir);
    s.tls = std::move(tls);
  }
  if (const auto it = j.find("body_limit_bytes"); it != j.end()) s.body_limit_bytes = it->get<std::size_t>();
  set_ms(j, "read_timeout_ms", s.read_timeout);
  set_ms(j, "idle_timeout_ms", s.idle_timeout);
  if (const auto it = j.find("signature_tolerance_s"); it != j.end()) {
    s.signature_tolerance = std::chrono::seconds{it->get<std::int64_t>()};
  }
  set_if(j, "threads", s.threads);
  set_if(j, "public_base_url", s.public_base_url);
  set_if(j, "metrics_token", s.metrics_token);
  s.port_file = resolve_path(s.port_file, base_dir);
  return s;
}

store_config map_store(const json& j, const std::string& base_dir) {
  store_config s;
  set_if(j, "path", s.path);
  set_if(j, "max_batch", s.max_batch);
  set_if(j, "synchronous", s.synchronous);
  s.path = resolve_path(s.path, base_dir);
  return s;
}

worker_config map_worker(const json& j) {
  worker_config w;
  set_if(j, "enabled", w.enabled);
  set_ms(j, "poll_interval_ms", w.poll_interval);
  set_if(j, "batch", w.batch);
  set_if(j, "max_attempts", w.max_attempts);
  set_ms(j, "backoff_base_ms", w.backoff_base);
  set_ms(j, "backoff_max_ms", w.backoff_max);
  set_ms(j, "lease_ms", w.lease);
  set_ms(j, "http_timeout_ms", w.http_timeout);
  set_if(j, "breaker_failures", w.breaker_failures);
  set_ms(j, "breaker_cooldown_ms", w.breaker_cooldown);
  return w;
}

policy map_policy(const json& j) {
  policy p;
  if (const auto it = j.find("survey"); it != j.end()) {
    set_if(*it, "enabled", p.survey.enabled);
    set_if(*it, "kind", p.survey.kind);
    set_s(*it, "delay_s", p.survey.delay);
    set_s(*it, "max_age_s", p.survey.max_age);
    set_if(*it, "skip_tags", p.survey.skip_tags);
    set_if(*it, "link_secret", p.survey.link_secret);
    set_s(*it, "link_ttl_s", p.survey.link_ttl);
    if (const auto e = it->find("escalation"); e != it->end()) {
      auto& esc = p.survey.escalation;
      set_if(*e, "enabled", esc.enabled);
      if (const auto m = e->find("max_score"); m != e->end()) esc.max_score = m->get<int>();
      set_if(*e, "owner", esc.owner);
      set_if(*e, "group", esc.group);
    }
  }
  if (const auto it = j.find("kb"); it != j.end()) {
    set_if(*it, "enabled", p.kb.enabled);
    if (const auto m = it->find("min_resolution_chars"); m != it->end())
      p.kb.min_resolution_chars = m->get<std::size_t>();
    set_if(*it, "min_category_confidence", p.kb.min_category_confidence);
    set_if(*it, "require_steps", p.kb.require_steps);
    set_if(*it, "reopen_window_days", p.kb.reopen_window_days);
    set_if(*it, "require_good_survey", p.kb.require_good_survey);
    if (const auto m = it->find("max_messages"); m != it->end()) p.kb.max_messages = m->get<std::size_t>();
    set_if(*it, "draft", p.kb.draft);
    set_if(*it, "tags", p.kb.tags);
    set_if(*it, "dedupe_threshold", p.kb.dedupe_threshold);
    if (const auto sg = it->find("suggest"); sg != it->end()) {
      set_if(*sg, "enabled", p.kb.suggest.enabled);
      set_if(*sg, "note", p.kb.suggest.note);
      set_if(*sg, "limit", p.kb.suggest.limit);
      set_if(*sg, "min_similarity", p.kb.suggest.min_similarity);
    }
  }
  set_if(j, "write_fields", p.write_fields);
  set_if(j, "explain_in_note", p.explain_in_note);
  if (const auto it = j.find("routing"); it != j.end()) {
    for (const auto& [category, group] : it->items()) p.routing[category] = group.get<std::string>();
  }
  return p;
}

std::optional<int> minute_of(const json& obj, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  const std::string hhmm = it->get<std::string>();  // "HH:MM", checked by the schema
  return std::stoi(hhmm.substr(0, 2)) * 60 + std::stoi(hhmm.substr(3, 2));
}

// A business_hours object (schema definition "business_hours"); `where` is its JSON pointer.
result<void> map_business_hours(const json& j, const std::string& where, survey::business_hours& h) {
  h.time_zone = j.at("time_zone").get<std::string>();
  if (auto ok = survey::check_time_zone(h.time_zone); !ok) return config_error(where + "/time_zone", ok.err().message);
  if (const auto d = j.find("days"); d != j.end()) {
    static constexpr std::array<std::string_view, 7> names{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    h.days.fill(false);
    for (const auto& day : *d)
      for (std::size_t k = 0; k < names.size(); ++k)
        if (day.get<std::string>() == names[k]) h.days[k] = true;
  }
  if (auto m = minute_of(j, "start")) h.start_minute = *m;
  if (auto m = minute_of(j, "end")) h.end_minute = *m;
  if (h.end_minute <= h.start_minute) return config_error(where + "/end", "must be later than start");
  return {};
}

// policy.sla (defaults: sla_policy in closeloop/engine.hpp) and policy.tier_priority.
void map_sla_hours(const json& j, const char* key, std::array<std::optional<double>, 3>& into) {
  const auto it = j.find(key);
  if (it == j.end()) return;
  for (const priority p : {priority::normal, priority::urgent, priority::critical})
    if (const auto v = it->find(std::string(to_string(p))); v != it->end())
      into[static_cast<std::size_t>(p)] = v->get<double>();
}
result<void> map_sla(const json& pol, const std::string& where, policy& p) {
  if (const auto it = pol.find("tier_priority"); it != pol.end())
    for (const auto& [tier, level] : it->items())
      p.tier_priority[tier] = priority_from_string(level.get<std::string>()).value_or(priority::normal);
  const auto it = pol.find("sla");
  if (it == pol.end()) return {};
  sla_policy& sla = p.sla;
  sla.enabled = true;
  map_sla_hours(*it, "first_reply_h", sla.targets.first_reply_h);
  map_sla_hours(*it, "resolution_h", sla.targets.resolution_h);
  if (const auto t = it->find("tiers"); t != it->end())
    for (const auto& [tier, targets] : t->items()) {
      sla_targets own;  // unset values fall back to the tenant's targets
      map_sla_hours(targets, "first_reply_h", own.first_reply_h);
      map_sla_hours(targets, "resolution_h", own.resolution_h);
      sla.tiers[tier] = own;
    }
  set_if(*it, "near_due_h", sla.near_due_h);
  if (const auto h = it->find("business_hours"); h != it->end())
    if (auto ok = map_business_hours(*h, where + "/sla/business_hours", sla.hours); !ok) return ok.err();
  return {};
}

// policy.survey's definitions and send rules; `where` is the JSON pointer of policy.survey.
result<void> map_survey(const json& j, const std::string& where, survey_policy& sp) {
  set_if(j, "definition", sp.definition);
  set_if(j, "fallback_language", sp.fallback_language);
  if (const auto it = j.find("definitions"); it != j.end()) {
    for (std::size_t i = 0; i < it->size(); ++i) {
      const std::string p = where + "/definitions/" + std::to_string(i);
      if (auto valid = validate_against_schema("survey", (*it)[i]); !valid) {
        std::string m = valid.err().message;
        if (m.starts_with("survey: /")) m = m.substr(8);
        else if (m.starts_with("survey: ")) m = ": " + m.substr(8);
        return make_error(errc::invalid_config, "config: " + p + m);
      }
      auto d = survey::definition_from_json((*it)[i], p);
      if (!d) return make_error(errc::invalid_config, "config: " + d.err().message.substr(18));
      if (survey::builtin(d->id) || sp.definitions.contains(d->id))
        return config_error(p + "/id", "survey \"" + d->id + "\" is already defined (built-ins: csat, nps, ces)");
      sp.definitions.emplace(d->id, std::move(*d));
    }
  }
  if (!sp.definition.empty() && !sp.find_definition(sp.definition))
    return config_error(where + "/definition", "no survey \"" + sp.definition + "\" (built-ins: csat, nps, ces)");
  if (const auto it = j.find("business_hours"); it != j.end())
    if (auto ok = map_business_hours(*it, where + "/business_hours", sp.hours); !ok) return ok.err();
  set_if(j, "skip_groups", sp.skip_groups);
  set_if(j, "internal_domains", sp.internal_domains);
  for (auto& d : sp.internal_domains) d = lower_ascii(d);
  set_if(j, "skip_spam", sp.skip_spam);
  set_if(j, "skip_auto_closed", sp.skip_auto_closed);
  set_if(j, "sample_rate", sp.sample_rate);
  if (const auto it = j.find("throttle"); it != j.end()) {
    set_s(*it, "window_s", sp.throttle.window);
    set_if(*it, "fold_gmail", sp.throttle.fold_gmail);
    set_if(*it, "strip_plus", sp.throttle.strip_plus);
  }
  if (const auto it = j.find("quotas"); it != j.end()) {
    for (const auto& q : *it) {
      survey::quota quota;
      set_if(q, "group", quota.group);
      set_if(q, "max", quota.max);
      set_if(q, "period", quota.period);
      sp.quotas.push_back(std::move(quota));
    }
  }
  if (const auto it = j.find("reminder"); it != j.end()) {
    set_if(*it, "enabled", sp.reminder_enabled);
    set_s(*it, "delay_s", sp.reminder_delay);
  }
  set_s(j, "edit_window_s", sp.edit_window);
  set_s(j, "recovery_s", sp.recovery);
  if (const auto it = j.find("review"); it != j.end()) {
    set_if(*it, "url", sp.review_url);
    if (const auto m = it->find("min_score"); m != it->end()) sp.review_min_score = m->get<int>();
  }
  return {};
}

tenant_config map_tenant(const json& j, const std::string& base_dir) {
  tenant_config t;
  t.id = j.at("id").get<std::string>();
  if (const auto it = j.find("hosts"); it != j.end()) {
    for (const auto& h : *it) {
      host_config host;
      host.id = h.at("id").get<std::string>();
      host.vendor = h.at("vendor").get<std::string>();
      host.settings = h;
      // A file named in the host's settings is resolved like every other path.
      if (auto ep = host.settings.find("endpoint"); ep != host.settings.end() && ep->is_object()) {
        if (auto ca = ep->find("ca_file"); ca != ep->end() && ca->is_string()) {
          *ca = resolve_path(ca->get<std::string>(), base_dir);
        }
      }
      t.hosts.push_back(std::move(host));
    }
  }
  if (const auto it = j.find("policy"); it != j.end()) t.pol = map_policy(*it);
  if (const auto it = j.find("webhooks"); it != j.end()) {
    for (const auto& w : *it) {
      outbound_webhook hook;
      hook.id = w.at("id").get<std::string>();
      hook.url = w.at("url").get<std::string>();
      hook.secret = w.at("secret").get<std::string>();
      hook.events = w.at("events").get<std::vector<std::string>>();
      if (const auto ca = w.find("ca_file"); ca != w.end()) hook.ca_file = resolve_path(ca->get<std::string>(), base_dir);
      set_if(w, "include_customer", hook.include_customer);
      t.pol.webhooks.push_back(std::move(hook));
    }
  }
  if (const auto it = j.find("monitoring"); it != j.end()) t.monitoring = *it;
  if (const auto it = j.find("health"); it != j.end())
    if (auto h = health::options::from_json(*it)) t.health = *h;  // the schema checked the types
  if (const auto it = j.find("sidebar"); it != j.end()) {
    t.sidebar.secret = it->value("secret", std::string());
    t.sidebar.context_ttl = std::chrono::seconds(it->value("context_ttl_s", 600));
  }
  if (const auto it = j.find("category_model"); it != j.end())
    t.classifier.category_model_path = resolve_path(it->get<std::string>(), base_dir);
  if (const auto it = j.find("sentiment_model"); it != j.end())
    t.classifier.sentiment_model_path = resolve_path(it->get<std::string>(), base_dir);
  if (const auto it = j.find("urgency_model"); it != j.end())
    t.classifier.urgency_model_path = resolve_path(it->get<std::string>(), base_dir);
  if (const auto it = j.find("categories"); it != j.end()) {
    for (const auto& [category, keywords] : it->items()) {
      auto& list = t.classifier.categories[category];
      for (const auto& k : keywords) list.push_back(lower_ascii(k.get<std::string>()));
    }
  }
  return t;
}

// Checks the schema cannot express. Pointers name the offending value.
result<void> cross_checks(const config& c) {
  std::set<std::string> tenant_ids;
  for (std::size_t i = 0; i < c.tenants.size(); ++i) {
    const auto& t = c.tenants[i];
    const std::string tp = "/tenants/" + std::to_string(i);
    if (!tenant_ids.insert(t.id).second) return config_error(tp + "/id", "duplicate tenant id \"" + t.id + "\"");
    std::set<std::string> host_ids;
    for (std::size_t k = 0; k < t.hosts.size(); ++k) {
      const auto& h = t.hosts[k];
      if (!host_ids.insert(h.id).second) {
        return config_error(tp + "/hosts/" + std::to_string(k) + "/id",
                            "duplicate host id \"" + h.id + "\" in tenant \"" + t.id + "\"");
      }
    }
    if (const auto& esc = t.pol.survey.escalation; esc.max_score) {
      const survey::definition& sent = t.pol.survey.sent_definition();
      const survey::question* sq = sent.score();
      auto [lo, hi] = sq ? std::pair{sq->min, sq->max} : survey_policy::score_range(t.pol.survey.kind);
      if (*esc.max_score < lo || *esc.max_score >= hi) {
        return config_error(tp + "/policy/survey/escalation/max_score",
                            "must be " + std::to_string(lo) + ".." + std::to_string(hi - 1) + " for a " +
                                sent.id + " survey");
      }
    }
    if (t.health.churn_risk <= t.health.at_risk)
      return config_error(tp + "/health/churn_risk", "must be above at_risk (" + std::to_string(t.health.at_risk) + ")");
    std::set<std::string> webhook_ids;
    for (std::size_t k = 0; k < t.pol.webhooks.size(); ++k) {
      if (!webhook_ids.insert(t.pol.webhooks[k].id).second)
        return config_error(tp + "/webhooks/" + std::to_string(k) + "/id",
                            "duplicate webhook id \"" + t.pol.webhooks[k].id + "\" in tenant \"" + t.id + "\"");
    }
    for (const auto& [category, group] : t.pol.routing) {
      if (category != "other" && !t.classifier.categories.contains(category)) {
        return config_error(tp + "/policy/routing",
                            "category \"" + category + "\" is not one of the tenant's categories (nor \"other\")");
      }
    }
  }
  if (c.server.tls) {
    if (!readable_file(c.server.tls->cert_file)) {
      return config_error("/server/tls/cert_file", "cannot read \"" + c.server.tls->cert_file + "\"");
    }
    if (!readable_file(c.server.tls->key_file)) {
      return config_error("/server/tls/key_file", "cannot read \"" + c.server.tls->key_file + "\"");
    }
  }
  if (c.worker.backoff_max < c.worker.backoff_base) {
    return config_error("/worker/backoff_max_ms", "must not be smaller than backoff_base_ms (" +
                                                      std::to_string(c.worker.backoff_base.count()) + ")");
  }
  return {};
}

result<config> build(const json& source, const std::string& base_dir) {
  json j = source;
  std::vector<std::string> plaintext;
  auto refs = config_detail::take_secret_refs(j, plaintext);  // {"ref": NAME} -> placeholder
  if (!refs) return refs.err();
  if (auto valid = validate_against_schema("config", j); !valid) return valid.err();
  try {
    config c;
    c.secret_refs = std::move(*refs);
    c.plaintext_secrets = std::move(plaintext);
    c.source = source;
    c.base_dir = base_dir;
    config_detail::map_security_privacy(j, base_dir, c);
    set_if(j, "log_level", c.log_level);
    c.server = map_server(j.value("server", json::object()), base_dir);
    c.store = map_store(j.value("store", json::object()), base_dir);
    c.worker = map_worker(j.value("worker", json::object()));
    for (const auto& t : j.at("tenants")) c.tenants.push_back(map_tenant(t, base_dir));
    for (std::size_t i = 0; i < c.tenants.size(); ++i) {
      const json& tj = j.at("tenants")[i];
      if (tj.contains("policy"))
        if (auto sla = map_sla(tj["policy"], "/tenants/" + std::to_string(i) + "/policy", c.tenants[i].pol); !sla)
          return sla.err();
      if (!tj.contains("policy") || !tj["policy"].contains("survey")) continue;
      auto mapped = map_survey(tj["policy"]["survey"], "/tenants/" + std::to_string(i) + "/policy/survey",
                               c.tenants[i].pol.survey);
      if (!mapped) return mapped.err();
    }
    if (auto checked = cross_checks(c); !checked) return checked.err();
    return c;
  } catch (const std::exception& ex) {  // the schema should have ruled these out
    return make_error(errc::invalid_config, "config: " + json_message(ex));
  }
}

}  // namespace

result<config> parse_config(std::string_view json_text, const std::string& base_dir) {
  json j;
  try {
    j = json::parse(json_text.begin(), json_text.end());
  } catch (const json::exception& ex) {
    return make_error(errc::invalid_config, "config: not valid JSON: " + json_message(ex));
  }
  return build(j, base_dir);
}

result<config> load_config_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return make_error(errc::invalid_config, "config: cannot read \"" + path + "\": no such file");
  }
  if (fs::is_directory(path, ec)) {
    return make_error(errc::invalid_config, "config: cannot read \"" + path + "\": it is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(errc::invalid_config, "config: cannot read \"" + path + "\": permission denied?");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error(errc::invalid_config, "config: cannot read \"" + path + "\"");

  json j;
  try {
    j = json::parse(text.str());
  } catch (const json::exception& ex) {
    return make_error(errc::invalid_config, "config: \"" + path + "\" is not valid JSON: " + json_message(ex));
  }
  // Relative paths inside the file are relative to its directory, made absolute so that a later
  // change of working directory does not move them.
  fs::path dir = fs::absolute(fs::path(path), ec).parent_path();
  if (ec) dir = fs::path(path).parent_path();
  auto c = build(j, dir.empty() ? std::string(".") : dir.lexically_normal().string());
  if (!c) {
    error e = std::move(c).err();
    e.message += " (in \"" + path + "\")";
    return e;
  }
  return c;
}

}  // namespace closeloop
