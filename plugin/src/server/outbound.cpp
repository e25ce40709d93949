#include "server/outbound.hpp"

#include "common/http_client.hpp"
#include "common/retry.hpp"
#include "common/standard_webhooks.hpp"

namespace closeloop::server::outbound {

namespace sw = adapters::standard_webhooks;
using adapters::action_outcome;

bool handles(const action& a) noexcept { return a.type == action_type::post_webhook; }

std::string circuit_of(const action& a) { return "webhook:" + a.params.value("webhook", std::string()); }

std::string body_of(const action& a, timestamp now) {
  const json body = {{"type", a.params.value("event", "")},
                     {"timestamp", format_rfc3339(now)},
                     {"data", a.params.value("payload", json::object())}};
  // Invalid UTF-8 in a customer's comment must not throw: replace it.
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

action_outcome execute(services& svc, const action& a) {
  const tenant_config* t = svc.cfg().find_tenant(a.tenant);
  if (!t) return action_outcome::failed("no tenant \"" + a.tenant + "\" configured");
  const std::string id = a.params.value("webhook", "");
  const outbound_webhook* hook = t->pol.find_webhook(id);
  if (!hook) {
    return action_outcome::failed("tenant \"" + a.tenant + "\" has no webhook \"" + id +
                                  "\" (tenants[].webhooks) any more: the delivery is dropped");
  }
  auto signer = sw::signer::from_secret(hook->secret);
  if (!signer) return action_outcome::failed("webhook \"" + id + "\": secret: " + signer.err().message);
  try {
    const timestamp now = svc.clk().now();
    adapters::http::request req;
    req.method = "POST";
    req.url = hook->url;
    req.body = body_of(a, now);
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    req.headers = sw::make_headers(*signer, a.idempotency_key, seconds, req.body);
    req.headers.emplace_back("content-type", "application/json");
    adapters::http::client_options opts;
    opts.timeout = svc.cfg().worker.http_timeout;
    opts.ca_file = hook->ca_file;
    // Only the configured URL's origin: a redirect elsewhere is refused (no SSRF through it).
    if (auto allowed = opts.allow(hook->url); !allowed)
      return action_outcome::failed("webhook \"" + id + "\": url: " + allowed.err().message);
    adapters::http::client client(std::move(opts));
    return adapters::outcome_from(client.send(req, svc.cfg().worker.http_timeout), now);
  } catch (const std::exception& e) {
    return action_outcome::failed("webhook \"" + id + "\": cannot send: " + e.what());
  }
}

}  // namespace closeloop::server::outbound
