#include "server/auth.hpp"

#include <spdlog/spdlog.h>

#include "common/crypto.hpp"

namespace closeloop::server::auth {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

}  // namespace

std::string_view bearer_token(const http_request& req) {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return {};
  std::string_view v(it->value().data(), it->value().size());
  constexpr std::string_view scheme = "Bearer";
  if (v.size() <= scheme.size() || !iequals(v.substr(0, scheme.size()), scheme) || v[scheme.size()] != ' ') return {};
  v.remove_prefix(scheme.size());
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

http_response unauthorized(const http_request& req, std::string_view message, bool invalid_token) {
  auto res = json_error(req, http::status::unauthorized, "unauthorized", message);
  res.set(http::field::www_authenticate,
          invalid_token ? R"(Bearer realm="closeloop", error="invalid_token")" : R"(Bearer realm="closeloop")");
  return res;
}

http_response forbidden(const http_request& req, std::string_view message, std::optional<role> required) {
  json body = {{"error", "forbidden"}, {"message", message}};
  if (required) body["required_role"] = to_string(*required);
  return json_response(req, http::status::forbidden, body);
}

authz authorize(const http_request& req, services& svc, std::string_view tenant, role need, verifier extra) {
  authz out;
  std::optional<principal> who;
  if (extra) {
    if (auto v = extra(req, svc)) {
      if (!*v) {
        out.denied = unauthorized(req, v->err().message, true);
        return out;
      }
      who = std::move(**v);
    }
  }
  if (!who) {
    const std::string_view token = bearer_token(req);
    if (token.empty()) {
      out.denied = unauthorized(req, "this route needs an API token: Authorization: Bearer <token> "
                                     "(closeloop token create)", false);
      return out;
    }
    token_store* ts = svc.tokens();
    if (!ts) {
      out.denied = unauthorized(req, "API tokens need a file store (store.path is :memory:)", true);
      return out;
    }
    auto t = ts->verify(token, svc.clk().now());
    if (!t) {
      if (t.err().code != errc::unauthorized) {
        // The store failed: that is ours, not the caller's; say so and let them retry.
        spdlog::error("auth: token check failed: {}", t.err().message);
        out.denied = json_error(req, http::status::service_unavailable, "store", "cannot check the token now");
        out.denied.set(http::field::retry_after, "1");
        return out;
      }
      out.denied = unauthorized(req, t.err().message, true);
      return out;
    }
    who = principal{"token", t->id, t->tenant, t->role, t->label};
  }
  if (who->tenant != tenant) {
    out.denied = forbidden(req, "this credential is for tenant \"" + who->tenant + "\", not \"" + std::string(tenant) + "\"");
    return out;
  }
  if (static_cast<int>(who->r) < static_cast<int>(need)) {
    out.denied = forbidden(req,
                           std::string("this route needs role ") + to_string(need) + "; the credential has " +
                               to_string(who->r),
                           need);
    return out;
  }
  out.who = std::move(who);
  return out;
}

authz authorize_metrics(const http_request& req, services& svc) {
  authz out;
  const std::string& want = svc.cfg().server.metrics_token;
  if (want.empty()) {
    out.who = principal{"public", "metrics", "", role::viewer, ""};
    return out;
  }
  const std::string_view got = bearer_token(req);
  if (got.empty()) {
    out.denied = unauthorized(req, "/metrics needs server.metrics_token: Authorization: Bearer <token>", false);
    return out;
  }
  if (!adapters::crypto::constant_time_equal(got, want)) {
    out.denied = unauthorized(req, "wrong metrics token", true);
    return out;
  }
  out.who = principal{"metrics_token", "metrics", "", role::viewer, ""};
  return out;
}

}  // namespace closeloop::server::auth
