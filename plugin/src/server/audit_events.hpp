#pragma once
// The audit entries serve and its worker write (closeloop/audit.hpp holds the log itself):
// the configuration serve runs with, and every write the worker makes to a host. Both are off
// the webhook ingest path. A failure to record is logged, never fatal.
#include <string>
#include <string_view>

#include "common/adapter.hpp"
#include "server/services.hpp"

namespace closeloop::server::audit_events {

// "config.load" at start (and "config.reload" for a reload): the file's SHA-256, also logged.
// Returns the digest ("" when the file cannot be read).
std::string config_loaded(services& svc, const std::string& path, std::string_view action = "config.load");

// The worker finished an outbox item (done, or failed for good): action type, ticket, outcome,
// attempts, the host's HTTP status and the id it created. Never the action's text.
void host_write(services& svc, const outbox_item& item, const adapters::action_outcome& out);

}  // namespace closeloop::server::audit_events
