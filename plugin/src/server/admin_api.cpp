#include "server/admin_api.hpp"

#include <charconv>

#include <spdlog/spdlog.h>

#include "server/routes.hpp"

namespace closeloop::server::admin_api {
namespace {

bool need_stores(const http_request& req, services& svc, const std::string& tenant, respond_fn& respond) {
  if (!svc.tenant(tenant)) {
    respond(json_error(req, http::status::not_found, "unknown_tenant", "no tenant \"" + tenant + "\""));
    return false;
  }
  if (!svc.tokens() || !svc.audit()) {
    respond(json_error(req, http::status::service_unavailable, "no_store", "tokens and audit need a file store"));
    return false;
  }
  return true;
}

json opt_time(const std::optional<timestamp>& t) { return t ? json(format_rfc3339(*t)) : json(); }

// Audit an admin action; a failure to record is logged and turns the answer into a 503 only when
// nothing was changed yet (callers audit after the change, so it is logged loudly instead).
void record(services& svc, const auth::principal& who, const std::string& tenant, const std::string& action,
            const std::string& target, const json& detail) {
  if (auto r = svc.audit()->append(who.actor(), tenant, action, target, detail); !r)
    spdlog::error("audit: cannot record {} {} by {}: {}", action, target, who.actor(), r.err().message);
}

}  // namespace

json token_json(const api_token& t) {
  return {{"id", t.id},
          {"tenant", t.tenant},
          {"role", to_string(t.role)},
          {"label", t.label},
          {"created_by", t.created_by},
          {"created_at", format_rfc3339(t.created_at)},
          {"last_used_at", opt_time(t.last_used_at)},
          {"expires_at", opt_time(t.expires_at)},
          {"revoked_at", opt_time(t.revoked_at)}};
}

json audit_json(const audit_entry& e) {
  return {{"seq", e.seq},       {"at", format_rfc3339(e.at)}, {"actor", e.actor},   {"tenant", e.tenant},
          {"action", e.action}, {"target", e.target},         {"detail", e.detail}, {"hash", e.hash}};
}

void list_tokens(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  if (!need_stores(req, svc, tenant, respond)) return;
  auto rows = svc.tokens()->list(tenant);
  if (!rows) {
    respond(json_error(req, http::status::service_unavailable, "store", rows.err().message));
    return;
  }
  json list = json::array();
  for (const auto& t : *rows) list.push_back(token_json(t));
  respond(json_response(req, http::status::ok, {{"tenant", tenant}, {"tokens", list}}));
}

void create_token(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  if (!need_stores(req, svc, tenant, respond)) return;
  const json body = json::parse(req.body(), nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    respond(json_error(req, http::status::bad_request, "invalid_json",
                       R"(expected a JSON object {"role": "viewer|agent|admin", "label": "...", "expires_in_s": N})"));
    return;
  }
  const auto role_it = body.find("role");
  const auto role = role_it != body.end() && role_it->is_string() ? parse_api_role(role_it->get<std::string>())
                                                                   : std::nullopt;
  if (!role) {
    respond(json_error(req, http::status::bad_request, "invalid_role", "role must be viewer, agent or admin"));
    return;
  }
  std::string label;
  if (auto it = body.find("label"); it != body.end()) {
    if (!it->is_string() || it->get<std::string>().size() > 200) {
      respond(json_error(req, http::status::bad_request, "invalid_label", "label must be a string of at most 200 bytes"));
      return;
    }
    label = it->get<std::string>();
  }
  const auto now = svc.clk().now();
  std::optional<timestamp> expires;
  if (auto it = body.find("expires_in_s"); it != body.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > 10LL * 366 * 86400) {
      respond(json_error(req, http::status::bad_request, "invalid_expiry",
                         "expires_in_s must be an integer number of seconds, 1 .. 10 years"));
      return;
    }
    expires = now + std::chrono::seconds(it->get<std::int64_t>());
  }
  const auth::principal& who = *p.who;
  auto t = svc.tokens()->create(tenant, *role, label, expires, who.actor(), now);
  if (!t) {
    respond(json_error(req, http::status::service_unavailable, "store", t.err().message));
    return;
  }
  record(svc, who, tenant, "token.create", t->info.id,
         {{"role", to_string(*role)}, {"label", label}, {"expires_at", opt_time(expires)}, {"via", "api"}});
  json out = token_json(t->info);
  out["token"] = t->secret;
  respond(json_response(req, http::status::created, out));
}

void revoke_token(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  if (!need_stores(req, svc, tenant, respond)) return;
  const std::string& id = p.at("id");
  auto found = svc.tokens()->find(id);
  if (!found) {
    respond(json_error(req, http::status::service_unavailable, "store", found.err().message));
    return;
  }
  // Another tenant's token is not there, as far as this tenant's admin can tell.
  if (!*found || (*found)->tenant != tenant) {
    respond(json_error(req, http::status::not_found, "unknown_token", "tenant \"" + tenant + "\" has no token \"" + id + "\""));
    return;
  }
  const bool already = (*found)->revoked_at.has_value();
  auto t = svc.tokens()->revoke(id, svc.clk().now());
  if (!t) {
    respond(json_error(req, http::status::service_unavailable, "store", t.err().message));
    return;
  }
  if (!already) record(svc, *p.who, tenant, "token.revoke", id, {{"role", to_string(t->role)}, {"via", "api"}});
  respond(json_response(req, http::status::ok, token_json(*t)));
}

void list_audit(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  if (!need_stores(req, svc, tenant, respond)) return;
  audit_filter f;
  f.tenant = tenant;
  const std::string_view target = req.target();
  if (auto s = query_param(target, "since")) {
    auto t = parse_rfc3339(*s);
    if (!t) {
      respond(json_error(req, http::status::bad_request, "bad_since", "since must be an RFC 3339 time: " + t.err().message));
      return;
    }
    f.since = *t;
  }
  if (auto a = query_param(target, "action")) f.action = *a;
  if (auto l = query_param(target, "limit")) {
    auto [end, ec] = std::from_chars(l->data(), l->data() + l->size(), f.limit);
    if (ec != std::errc() || end != l->data() + l->size() || f.limit < 1 || f.limit > 10000) {
      respond(json_error(req, http::status::bad_request, "bad_limit", "limit must be an integer 1..10000, got \"" + *l + "\""));
      return;
    }
  }
  auto rows = svc.audit()->list(f);
  if (!rows) {
    respond(json_error(req, http::status::service_unavailable, "store", rows.err().message));
    return;
  }
  json list = json::array();
  for (const auto& e : *rows) list.push_back(audit_json(e));
  respond(json_response(req, http::status::ok, {{"tenant", tenant}, {"entries", list}}));
}

}  // namespace closeloop::server::admin_api
