#pragma once
// The tenant's outbound webhooks (config tenants[].webhooks): the worker's execution of
// post_webhook. The payload is sent as
//   {"type": <event>, "timestamp": <RFC 3339>, "data": <payload>}
// signed with Standard Webhooks; webhook-id is the action's idempotency key, so a retried delivery
// carries the same id and the receiver can drop the duplicate.
#include "server/services.hpp"

namespace closeloop::server::outbound {

bool handles(const action& a) noexcept;  // post_webhook

// The circuit a delivery is judged under: "webhook:<id>". A tenant's webhook receiver and its
// helpdesk fail independently: a dead receiver must not hold back host writes, nor an open host
// circuit the answer webhooks.
std::string circuit_of(const action& a);

// One delivery attempt: 2xx done; 408/425/429/5xx and transport errors retry (Retry-After
// honoured); other statuses, an unknown webhook id or a malformed secret fail with why.
adapters::action_outcome execute(services& svc, const action& a);

// The request body for an action (exposed for tests and `closeloop outbox`).
std::string body_of(const action& a, timestamp now);

}  // namespace closeloop::server::outbound
