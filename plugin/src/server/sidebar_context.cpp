#include "server/sidebar_context.hpp"

#include "common/crypto.hpp"
#include "server/routes.hpp"
#include "server/survey_html.hpp"

namespace closeloop::server::sidebar {
namespace {

namespace crypto = adapters::crypto;
constexpr std::string_view k_prefix = "v1.";
constexpr std::string_view k_domain = "closeloop-sidebar.v1.";
constexpr std::int64_t k_skew_s = 60;

error bad(std::string why) { return make_error(errc::unauthorized, "sidebar context: " + why); }

std::int64_t unix_seconds(timestamp t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string signature(std::string_view secret, std::string_view payload) {
  std::string msg(k_domain);
  msg.append(payload);
  return crypto::hex_encode(crypto::hmac_sha256(secret, msg));
}

}  // namespace

std::string sign_context(const context& c, std::string_view secret) {
  json j = {{"tenant", c.tenant}, {"host", c.host}, {"ticket", c.ticket}, {"agent", c.agent},
            {"iat", c.iat},       {"exp", c.exp}};
  if (!c.lang.empty()) j["lang"] = c.lang;
  const std::string payload = crypto::base64url_encode(j.dump());
  return std::string(k_prefix) + payload + "." + signature(secret, payload);
}

result<context> verify_context(std::string_view ctx, services& svc, timestamp now) {
  if (ctx.size() > 4096) return bad("longer than 4096 characters");
  if (!ctx.starts_with(k_prefix)) return bad("unknown format (expected v1.<payload>.<signature>)");
  ctx.remove_prefix(k_prefix.size());
  const auto dot = ctx.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == ctx.size()) return bad("no signature");
  const std::string_view payload = ctx.substr(0, dot), sig = ctx.substr(dot + 1);
  auto raw = crypto::base64url_decode(payload);
  if (!raw) return bad("payload is not base64url");
  context c;
  try {
    const json j = json::parse(*raw);
    c.tenant = j.at("tenant").get<std::string>();
    c.host = j.at("host").get<std::string>();
    c.ticket = j.at("ticket").is_number_integer() ? std::to_string(j.at("ticket").get<std::int64_t>())
                                                  : j.at("ticket").get<std::string>();
    c.agent = j.value("agent", std::string());
    c.lang = j.value("lang", std::string());
    c.iat = j.at("iat").get<std::int64_t>();
    c.exp = j.at("exp").get<std::int64_t>();
  } catch (const json::exception& e) {
    return bad(std::string("payload is not the expected JSON (tenant, host, ticket, iat, exp): ") + e.what());
  }
  if (c.tenant.empty() || c.host.empty() || c.ticket.empty()) return bad("tenant, host and ticket must not be empty");
  const tenant_runtime* rt = svc.tenant(c.tenant);
  // The same answer for an unknown tenant as for a bad signature: a context does not reveal
  // which tenants exist.
  if (!rt || !rt->cfg || rt->cfg->sidebar.secret.empty()) return bad("signature does not verify");
  if (!crypto::constant_time_equal(signature(rt->cfg->sidebar.secret, payload), sig))
    return bad("signature does not verify");
  const std::int64_t t = unix_seconds(now);
  if (t >= c.exp) return bad("expired " + std::to_string(t - c.exp) + " s ago");
  if (c.iat > t + k_skew_s) return bad("issued in the future (iat " + std::to_string(c.iat - t) + " s ahead)");
  if (c.exp - c.iat > rt->cfg->sidebar.context_ttl.count())
    return bad("lifetime " + std::to_string(c.exp - c.iat) + " s is over the tenant's sidebar.context_ttl_s (" +
               std::to_string(rt->cfg->sidebar.context_ttl.count()) + ")");
  if (!svc.adapter_for(c.tenant, c.host)) return bad("tenant \"" + c.tenant + "\" has no host \"" + c.host + "\"");
  return c;
}

std::string claimed_tenant(std::string_view ctx) {
  if (!ctx.starts_with(k_prefix)) return {};
  ctx.remove_prefix(k_prefix.size());
  auto raw = crypto::base64url_decode(ctx.substr(0, ctx.find('.')));
  if (!raw) return {};
  const json j = json::parse(*raw, nullptr, false);
  if (!j.is_object() || !j.contains("tenant") || !j["tenant"].is_string()) return {};
  return j["tenant"].get<std::string>();
}

std::string form_token(std::string_view secret, std::string_view ctx, std::string_view sid) {
  std::string msg = "closeloop-sidebar-form\n";
  msg.append(ctx).append("\n").append(sid);
  return crypto::hex_encode(crypto::hmac_sha256(secret, msg));
}

std::string context_param(const http_request& req) {
  if (auto q = query_param(req.target(), "ctx")) return *q;
  if (req.method() == http::verb::post) {
    for (const auto& [name, value] : survey::html::parse_form(req.body()))
      if (name == "ctx") return value;
  }
  return {};
}

std::optional<result<auth::principal>> context_verifier(const http_request& req, services& svc) {
  const std::string ctx = context_param(req);
  if (ctx.empty()) return std::nullopt;
  auto c = verify_context(ctx, svc, svc.clk().now());
  if (!c) return result<auth::principal>(c.err());
  auth::principal p;
  p.kind = "host_context";
  p.id = c->host + ":" + (c->agent.empty() ? std::string("agent") : c->agent);
  p.tenant = c->tenant;
  p.r = auth::role::agent;
  p.label = c->agent;
  return result<auth::principal>(std::move(p));
}

}  // namespace closeloop::server::sidebar
