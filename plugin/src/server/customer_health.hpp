#pragma once
// Customer health (README "Customer health"), the I/O half of closeloop/health.hpp: one
// customer's assessment from the store (on demand: a handful of indexed reads), the worker's
// incremental pass (events since the cursor -> the customers they touch -> their band; a band
// change is written to the customer's latest ticket through the adapter as set_fields, never on
// every event), and GET /api/v1/tenants/{tenant}/customers/{customer}/health.
#include <string>

#include "closeloop/health.hpp"
#include "closeloop/health_store.hpp"
#include "server/handlers.hpp"
#include "server/services.hpp"

namespace closeloop::server::customer_health {

// The tenant's health options and its survey escalation thresholds applied to the customer's facts.
result<health::assessment> assess(health_store& hs, const tenant_config& t, const std::string& customer,
                                  timestamp now);

// The set_fields action that writes `band` for the customer on (host, ticket); its idempotency
// key names the customer, the band and the time of the assessment.
action band_action(const tenant_config& t, const health_record& r);

// One incremental pass (the worker calls it): at most `limit` events after the cursor; returns
// how many customers were re-assessed plus how many band changes were written.
int sync(services& svc, int limit = 500);

// GET /api/v1/tenants/{tenant}/customers/{customer}/health
void handle_get(const http_request& req, services& svc, const route_params& p, respond_fn respond);

}  // namespace closeloop::server::customer_health
