#include "generic/generic_adapter.hpp"

#include <exception>

#include "common/retry.hpp"

namespace closeloop::adapters::generic {
namespace {

using nlohmann::json;

error config_error(const std::string& key, const std::string& msg) {
  return make_error(errc::invalid_config, key + ": " + msg);
}

// A string setting: nullptr when absent, an error when present but not a string.
result<const std::string*> string_setting(const json& obj, const char* name, const std::string& key) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return static_cast<const std::string*>(nullptr);
  if (!it->is_string()) return config_error(key, std::string("expected a string, got ") + it->type_name());
  return it->get_ptr<const std::string*>();
}

// "[json.exception.parse_error.101] parse error at line 1, column 5: ..." -> "parse error at ...".
std::string parser_message(const std::exception& e) {
  std::string_view what = e.what();
  if (!what.empty() && what.front() == '[') {
    if (auto close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
  }
  return std::string(what);
}

result<void> check_matches(json& j, const char* field, const std::string& expected, const char* url_part) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    j[field] = expected;
    return {};
  }
  if (!it->is_string()) {
    return make_error(errc::invalid_argument,
                      std::string("event.") + field + ": expected a string, got " + it->type_name());
  }
  const auto& given = it->get_ref<const std::string&>();
  if (given != expected) {
    return make_error(errc::invalid_argument, std::string("event.") + field + " \"" + given +
                                                  "\" does not match the URL's " + url_part + " \"" + expected + "\"");
  }
  return {};
}

}  // namespace

result<std::unique_ptr<generic_adapter>> generic_adapter::create(const tenant_config& tenant, const host_config& host,
                                                                 const adapter_env& env) {
  const std::string prefix = "tenants[" + tenant.id + "].hosts[" + host.id + "]";
  const json& s = host.settings;
  if (!s.is_object()) return config_error(prefix, std::string("expected an object, got ") + s.type_name());

  auto secret = string_setting(s, "webhook_secret", prefix + ".webhook_secret");
  if (!secret) return std::move(secret).err();
  if (*secret == nullptr) {
    return config_error(prefix + ".webhook_secret", "required (a Standard Webhooks secret, \"whsec_<base64>\")");
  }
  auto inbound = standard_webhooks::signer::from_secret(**secret);
  if (!inbound) return config_error(prefix + ".webhook_secret", inbound.err().message);

  std::optional<http::url> endpoint;
  std::optional<standard_webhooks::signer> outbound;
  http::client_options opts;
  opts.timeout = env.http_timeout;
  if (auto ep = s.find("endpoint"); ep != s.end() && !ep->is_null()) {
    const std::string ep_key = prefix + ".endpoint";
    if (!ep->is_object()) return config_error(ep_key, std::string("expected an object, got ") + ep->type_name());
    auto url_text = string_setting(*ep, "url", ep_key + ".url");
    if (!url_text) return std::move(url_text).err();
    if (*url_text == nullptr) return config_error(ep_key + ".url", "required when endpoint is set");
    auto parsed = http::parse_url(**url_text);
    if (!parsed) return config_error(ep_key + ".url", "expected an http(s) URL: " + parsed.err().message);
    endpoint = std::move(parsed).value();
    opts.allowed_origins = {endpoint->origin()};  // outbound calls go to the endpoint's origin only

    auto out_secret = string_setting(*ep, "secret", ep_key + ".secret");
    if (!out_secret) return std::move(out_secret).err();
    if (*out_secret != nullptr) {
      auto signer = standard_webhooks::signer::from_secret(**out_secret);
      if (!signer) return config_error(ep_key + ".secret", signer.err().message);
      outbound = std::move(signer).value();
    }
    auto ca_file = string_setting(*ep, "ca_file", ep_key + ".ca_file");
    if (!ca_file) return std::move(ca_file).err();
    if (*ca_file != nullptr) opts.ca_file = **ca_file;
  }
  if (!outbound) outbound = *inbound;

  return std::unique_ptr<generic_adapter>(new generic_adapter(tenant.id, host.id, env, std::move(inbound).value(),
                                                              std::move(endpoint), std::move(*outbound),
                                                              http::client(std::move(opts))));
}

timestamp generic_adapter::now() const {
  if (fixed_now_) return *fixed_now_;
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

result<void> generic_adapter::verify(const inbound_request& req, timestamp now) const {
  return inbound_.verify(req.headers, req.body, now, env_.signature_tolerance);
}

result<std::vector<event>> generic_adapter::translate(const inbound_request& req) const {
  try {
    json j;
    try {
      j = json::parse(req.body);
    } catch (const json::parse_error& e) {
      return make_error(errc::invalid_argument, "body is not valid JSON: " + parser_message(e));
    }
    if (!j.is_object()) {
      return make_error(errc::invalid_argument,
                        std::string("body: expected one canonical event (a JSON object), got ") + j.type_name());
    }
    if (auto r = check_matches(j, "tenant", tenant_, "tenant"); !r) return r.err();
    if (auto r = check_matches(j, "host", host_, "host"); !r) return r.err();
    auto id = j.find("host_event_id");
    if (id == j.end() || id->is_null() || (id->is_string() && id->get_ref<const std::string&>().empty())) {
      if (const std::string* wid = req.header(standard_webhooks::id_header)) j["host_event_id"] = *wid;
    }
    auto ev = event_from_json(j);
    if (!ev) return std::move(ev).err();
    std::vector<event> out;
    out.push_back(std::move(ev).value());
    return out;
  } catch (const std::exception& e) {
    return make_error(errc::invalid_argument, std::string("event: ") + parser_message(e));
  }
}

action_outcome generic_adapter::execute(const action& a) {
  if (!endpoint_) {
    return action_outcome::failed("tenants[" + tenant_ + "].hosts[" + host_ +
                                  "].endpoint.url is not configured: cannot send " + std::string(to_string(a.type)));
  }
  if (a.idempotency_key.empty()) return action_outcome::failed("action has no idempotency_key");
  if ((!a.tenant.empty() && a.tenant != tenant_) || (!a.host.empty() && a.host != host_)) {
    return action_outcome::failed("action for " + a.tenant + "/" + a.host + " sent to the adapter of " + tenant_ + "/" +
                                  host_);
  }
  try {
    const timestamp t = now();
    http::request req;
    req.method = "POST";
    req.url = endpoint_->str();
    // Invalid UTF-8 in a free-text field must not throw: replace it.
    req.body = to_json(a).dump(-1, ' ', false, json::error_handler_t::replace);
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
    // webhook-id = the idempotency key: a retry of the same action carries the same id, so the
    // receiver can drop duplicates (Standard Webhooks "Idempotency").
    req.headers = standard_webhooks::make_headers(outbound_, a.idempotency_key, seconds, req.body);
    req.headers.emplace_back("content-type", "application/json");
    req.headers.emplace_back("accept", "application/json");
    return outcome_from(client_.send(req, env_.http_timeout), t);
  } catch (const std::exception& e) {
    return action_outcome::failed(std::string("cannot send the action: ") + e.what());
  }
}

result<std::string> generic_adapter::check_reachable() {
  if (!endpoint_) {
    return make_error(errc::invalid_config,
                      "tenants[" + tenant_ + "].hosts[" + host_ + "].endpoint.url is not configured (inbound only)");
  }
  http::request req;
  req.method = "GET";
  req.url = endpoint_->str();
  auto r = client_.send(req, env_.http_timeout);
  if (!r) return std::move(r).err();
  return "reached " + endpoint_->str() + ": HTTP " + std::to_string(r->status);
}

}  // namespace closeloop::adapters::generic
