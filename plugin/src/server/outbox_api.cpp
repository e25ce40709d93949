#include "server/outbox_api.hpp"

#include <charconv>

#include <spdlog/spdlog.h>

namespace closeloop::server::outbox_api {
namespace {

closeloop::outbox_admin* need_admin(const http_request& req, services& svc, const std::string& tenant,
                                    respond_fn& respond) {
  if (!svc.tenant(tenant)) {
    respond(json_error(req, http::status::not_found, "unknown_tenant", "no tenant \"" + tenant + "\""));
    return nullptr;
  }
  if (!svc.outbox_admin()) {
    respond(json_error(req, http::status::service_unavailable, "no_store", "the outbox view needs a file store"));
    return nullptr;
  }
  return svc.outbox_admin();
}

void audit_retry(services& svc, const auth::principal& who, const std::string& tenant, const std::string& target,
                 const json& detail) {
  if (!svc.audit()) return;
  if (auto r = svc.audit()->append(who.actor(), tenant, "outbox.retry", target, detail); !r)
    spdlog::error("audit: cannot record outbox.retry {} by {}: {}", target, who.actor(), r.err().message);
}

}  // namespace

void list(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  auto* oa = need_admin(req, svc, tenant, respond);
  if (!oa) return;
  outbox_filter f;
  f.tenant = tenant;
  const std::string_view target = req.target();
  if (auto s = query_param(target, "status")) {
    f.status = outbox_status_from_string(*s);
    if (!f.status) {
      respond(json_error(req, http::status::bad_request, "bad_status",
                         "status must be pending, running, done, failed, cancelled or applied, got \"" + *s + "\""));
      return;
    }
  }
  if (auto l = query_param(target, "limit")) {
    auto [end, ec] = std::from_chars(l->data(), l->data() + l->size(), f.limit);
    if (ec != std::errc() || end != l->data() + l->size() || f.limit < 1 || f.limit > 10000) {
      respond(json_error(req, http::status::bad_request, "bad_limit", "limit must be an integer 1..10000, got \"" + *l + "\""));
      return;
    }
  }
  auto rows = oa->list(f);
  if (!rows) {
    respond(json_error(req, http::status::service_unavailable, "store", rows.err().message));
    return;
  }
  json actions = json::array();
  for (const auto& r : *rows) actions.push_back(r.to_json());
  respond(json_response(req, http::status::ok, {{"tenant", tenant}, {"actions", std::move(actions)}}));
}

void retry_one(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  auto* oa = need_admin(req, svc, tenant, respond);
  if (!oa) return;
  const std::string& id_text = p.at("id");
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (ec != std::errc() || end != id_text.data() + id_text.size() || id <= 0) {
    respond(json_error(req, http::status::bad_request, "bad_id", "the action id must be a positive integer, got \"" + id_text + "\""));
    return;
  }
  auto r = oa->requeue(id, tenant, p.who->actor(), svc.clk().now());
  if (!r) {
    const auto st = r.err().code == errc::not_found  ? http::status::not_found
                    : r.err().code == errc::conflict ? http::status::conflict
                                                     : http::status::service_unavailable;
    respond(json_error(req, st, r.err().code == errc::conflict ? "not_failed" : "unknown_action", r.err().message));
    return;
  }
  audit_retry(svc, *p.who, tenant, r->host + "/" + r->ticket_id,
              {{"id", r->id}, {"type", r->type}, {"idempotency_key", r->idempotency_key}, {"via", "api"}});
  respond(json_response(req, http::status::ok, {{"retried", json::array({r->to_json()})}}));
}

void retry_failed(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  auto* oa = need_admin(req, svc, tenant, respond);
  if (!oa) return;
  auto ids = oa->requeue_failed(tenant, p.who->actor(), svc.clk().now());
  if (!ids) {
    respond(json_error(req, http::status::service_unavailable, "store", ids.err().message));
    return;
  }
  if (!ids->empty()) audit_retry(svc, *p.who, tenant, "outbox", {{"ids", *ids}, {"count", ids->size()}, {"via", "api"}});
  respond(json_response(req, http::status::ok, {{"retried", *ids}}));
}

}  // namespace closeloop::server::outbox_api
