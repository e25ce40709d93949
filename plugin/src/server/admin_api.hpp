#pragma once
// The admin API (routes.cpp, role admin of the tenant in the path): API tokens and the audit
// log. Every change is recorded in the audit log with the calling token as actor.
#include "server/handlers.hpp"
#include "server/services.hpp"

namespace closeloop::server::admin_api {

// GET /api/v1/tenants/{tenant}/tokens
void list_tokens(const http_request& req, services& svc, const route_params& p, respond_fn respond);
// POST /api/v1/tenants/{tenant}/tokens  {"role": "viewer|agent|admin", "label": "...", "expires_in_s": N}
// -> 201 {"token": "clt_...", "id", "role", "label", "expires_at"}; the token is never shown again.
void create_token(const http_request& req, services& svc, const route_params& p, respond_fn respond);
// DELETE /api/v1/tenants/{tenant}/tokens/{id}
void revoke_token(const http_request& req, services& svc, const route_params& p, respond_fn respond);
// GET /api/v1/tenants/{tenant}/audit[?since=RFC3339&action=A&limit=N]
void list_audit(const http_request& req, services& svc, const route_params& p, respond_fn respond);

// JSON forms shared with the CLI.
json token_json(const api_token& t);
json audit_json(const audit_entry& e);

}  // namespace closeloop::server::admin_api
