// `closeloop doctor`: the hosts' circuit breakers as the worker last recorded them (resilience).
#include "cli/doctor.hpp"
#include "closeloop/outbox_admin.hpp"
#include "server/services.hpp"

namespace closeloop::cli {

void check_circuits(server::services& svc, doctor_report& r) {
  auto* oa = svc.outbox_admin();
  if (oa == nullptr) return;
  auto rows = oa->circuits();
  if (!rows) {
    r.fail("circuit breakers: " + rows.err().message);
    return;
  }
  int closed = 0;
  for (const auto& c : *rows) {
    if (c.state == "closed") {
      ++closed;
      continue;
    }
    // A webhook receiver's circuit is "webhook:<id>" (server/outbound.hpp).
    const std::string what = c.host.starts_with("webhook:") ? "webhook " + c.tenant + "/" + c.host.substr(8)
                                                            : "host " + c.tenant + "/" + c.host;
    r.fail(what + ": circuit " + (c.state == "open" ? "open" : "half-open") + " since " +
           format_rfc3339(c.opened_at) + " after " + std::to_string(c.failures) +
           " consecutive failure(s): its actions wait, not attempted and not charged an attempt, until " +
           format_rfc3339(c.retry_at) + ", then one probe");
    r.detail("last error: " + c.last_error);
  }
  if (closed > 0 && closed == static_cast<int>(rows->size()))
    r.ok("circuit breakers: all " + std::to_string(closed) + " host(s) that ever failed are closed again");
}

}  // namespace closeloop::cli
