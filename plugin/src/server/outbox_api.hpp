#pragma once
// The dead-letter admin API (routes.cpp, role admin of the tenant in the path): the same view and
// replay as `closeloop outbox list|retry`, on the tenant's own actions only. Retries are audited
// ("outbox.retry", the calling token as actor).
#include "server/handlers.hpp"
#include "server/routes.hpp"
#include "server/services.hpp"

namespace closeloop::server::outbox_api {

// GET /api/v1/tenants/{tenant}/outbox[?status=failed&limit=N] -> {"tenant", "actions": [...]}, newest first
void list(const http_request& req, services& svc, const route_params& p, respond_fn respond);
// POST /api/v1/tenants/{tenant}/outbox/{id}/retry -> {"retried": [action]}; 404 unknown, 409 not failed
void retry_one(const http_request& req, services& svc, const route_params& p, respond_fn respond);
// POST /api/v1/tenants/{tenant}/outbox/retry-failed -> {"retried": [ids]}
void retry_failed(const http_request& req, services& svc, const route_params& p, respond_fn respond);

}  // namespace closeloop::server::outbox_api
