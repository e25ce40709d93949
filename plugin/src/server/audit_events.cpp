#include "server/audit_events.hpp"

#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

namespace closeloop::server::audit_events {

std::string config_loaded(services& svc, const std::string& path, std::string_view action) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  const std::string digest = f ? sha256_hex(ss.str()) : std::string();
  spdlog::info("config {} {} sha256={} tenants={}", action, path, digest.empty() ? "unreadable" : digest,
               svc.cfg().tenants.size());
  if (audit_log* a = svc.audit()) {
    json tenants = json::array();
    for (const auto& t : svc.cfg().tenants) tenants.push_back(t.id);
    if (auto r = a->append("serve", "", std::string(action), path, {{"sha256", digest}, {"tenants", tenants}}); !r)
      spdlog::error("audit: {} not recorded: {}", action, r.err().message);
  }
  return digest;
}

void host_write(services& svc, const outbox_item& item, const adapters::action_outcome& out) {
  audit_log* a = svc.audit();
  if (!a) return;
  const action& act = item.act;
  const char* outcome = out.k == adapters::action_outcome::kind::done ? "done"
                        : out.k == adapters::action_outcome::kind::retry ? "gave_up"
                                                                          : "failed";
  json detail = {{"type", to_string(act.type)},
                 {"ticket", act.ticket_id},
                 {"outbox_id", item.id},
                 {"idempotency_key", act.idempotency_key},
                 {"outcome", outcome},
                 {"attempts", item.attempts}};
  if (out.http_status) detail["http_status"] = out.http_status;
  if (!out.created_id.empty()) detail["created_id"] = out.created_id;
  if (auto r = a->append("worker", act.tenant, "host.write", act.host + "/" + act.ticket_id, detail); !r)
    spdlog::error("audit: host.write of outbox #{} not recorded: {}", item.id, r.err().message);
}

}  // namespace closeloop::server::audit_events
