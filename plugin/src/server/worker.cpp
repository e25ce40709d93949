#include "server/worker.hpp"

#include <spdlog/spdlog.h>

#include "common/retry.hpp"
#include "server/audit_events.hpp"
#include "server/customer_health.hpp"
#include "server/kb.hpp"
#include "server/outbound.hpp"
#include "server/monitoring.hpp"
#include "server/survey.hpp"

namespace closeloop::server {

namespace {

void publish_gauge(services& svc, const circuit_info& c) {
  const std::string labels = "tenant=\"" + label_value(c.tenant) + "\",host=\"" + label_value(c.host) + "\"";
  svc.stats().set_gauge("closeloop_host_circuit_state", labels,
                        c.state == circuit_state::closed ? 0 : c.state == circuit_state::open ? 1 : 2);
}

}  // namespace

void worker::publish(const circuit_info& c) {
  publish_gauge(svc_, c);
  const std::string labels = "tenant=\"" + label_value(c.tenant) + "\",host=\"" + label_value(c.host) + "\"";
  if (c.state == circuit_state::open) {
    svc_.stats().inc("closeloop_host_circuit_opened_total", labels);
    spdlog::warn("circuit open tenant={} host={} after {} consecutive failure(s); its actions wait until {}: {}",
                 c.tenant, c.host, c.failures, format_rfc3339(c.retry_at), c.last_error);
  } else if (c.state == circuit_state::half_open) {
    spdlog::info("circuit half-open tenant={} host={}: one probe", c.tenant, c.host);
  } else {
    spdlog::info("circuit closed tenant={} host={}: the host answers again", c.tenant, c.host);
  }
  if (auto* oa = svc_.outbox_admin()) {
    circuit_row r{c.tenant, c.host, std::string(to_string(c.state)), c.failures, c.opened_at, c.retry_at,
                  svc_.clk().now(), c.last_error};
    if (auto w = oa->save_circuit(r); !w) spdlog::error("cannot record circuit tenant={} host={}: {}", c.tenant, c.host, w.err().message);
  }
}

worker::worker(services& svc, int threads)
    : svc_(svc),
      threads_(std::max(1, threads)),
      breakers_({svc.cfg().worker.breaker_failures, svc.cfg().worker.breaker_cooldown}) {
  svc_.stats().describe("closeloop_host_circuit_state", "gauge",
                        "Per-host circuit breaker: 0 closed, 1 open (actions wait), 2 half-open (one probe).");
  svc_.stats().describe("closeloop_host_circuit_opened_total", "counter", "Times a host's circuit opened.");
  svc_.stats().describe("closeloop_actions_deferred_total", "counter",
                        "Actions handed back unattempted because their host's circuit was open.");
  // Circuits open when the previous run stopped stay open until their cool-down ends.
  if (auto* oa = svc_.outbox_admin(); oa && breakers_.options().failures > 0) {
    if (auto rows = oa->circuits()) {
      for (const auto& r : *rows) {
        circuit_info c{r.tenant, r.host, circuit_state_from_string(r.state).value_or(circuit_state::closed),
                       r.failures, r.opened_at, r.retry_at, r.last_error};
        if (c.state == circuit_state::closed) continue;
        breakers_.restore(c);
        publish_gauge(svc_, c);
      }
    }
  }
}

worker::~worker() { stop(); }

void worker::start() {
  stop_ = false;
  for (int i = 0; i < threads_; ++i) pool_.emplace_back([this] { loop(); });
}

void worker::stop() {
  stop_ = true;
  cv_.notify_all();
  for (auto& t : pool_)
    if (t.joinable()) t.join();
  pool_.clear();
}

void worker::loop() {
  while (!stop_) {
    int handled = 0;
    try {
      purge_.run_if_due(svc_);
      handled = run_once();
    } catch (const std::exception& e) {  // defensive: a worker thread must not die silently
      spdlog::error("worker pass failed: {}", e.what());
    }
    if (handled > 0) continue;
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, svc_.cfg().worker.poll_interval, [this] { return stop_.load(); });
  }
}

// Customer health after the actions: a band change is written at most once per pass.
int worker::run_once() {
  return fire_timers() + run_actions() + customer_health::sync(svc_) + monitoring::tick(svc_);
}

int worker::fire_timers() {
  // One thread fires timers at a time; the others go on with actions. (A timer fired twice
  // anyway would be recognised as a duplicate event.)
  std::unique_lock lk(timers_mu_, std::try_to_lock);
  if (!lk.owns_lock()) return 0;
  auto due = svc_.db().due_timers(svc_.clk().now(), svc_.cfg().worker.batch);
  if (!due) {
    spdlog::error("cannot read timers: {}", due.err().message);
    return 0;
  }
  int n = 0;
  for (const auto& t : *due) {
    tenant_runtime* rt = svc_.tenant(t.tenant);
    if (!rt) continue;  // tenant removed from config: leave the timer for when it returns
    event ev;
    ev.type = event_type::timer_fired;
    ev.tenant = t.tenant;
    ev.host = t.host;
    ev.ticket_id = t.ticket_id;
    ev.host_event_id = "timer:" + std::to_string(t.id);  // firing twice is recognised as a duplicate
    ev.occurred_at = t.due_at;
    ev.data = {{"kind", t.kind}, {"timer_id", t.id}};
    if (t.payload.contains("survey")) ev.data["survey"] = t.payload["survey"];
    auto r = svc_.db().ingest(ev, svc_.decider(*rt));
    if (!r) {
      spdlog::error("timer {} not fired tenant={} ticket={}: {}", t.id, t.tenant, t.ticket_id, r.err().message);
      continue;
    }
    ++n;
    if (r->duplicate) continue;
    spdlog::info("timer fired tenant={} host={} ticket={} event={} kind={} actions={}", t.tenant, t.host, t.ticket_id,
                 ev.host_event_id, t.kind, r->actions.size());
  }
  return n;
}

int worker::run_actions() {
  const auto& wc = svc_.cfg().worker;
  auto claimed = svc_.db().claim_due(svc_.clk().now(), wc.batch, wc.lease);
  if (!claimed) {
    spdlog::error("cannot claim outbox actions: {}", claimed.err().message);
    return 0;
  }
  for (const auto& item : *claimed) run_action(item);
  return static_cast<int>(claimed->size());
}

void worker::run_action(const outbox_item& item) {
  action a = item.act;  // the invitation's text is written into it before sending
  adapters::adapter* ad = svc_.adapter_for(a.tenant, a.host);
  const std::string vendor = ad ? std::string(ad->vendor()) : "none";
  timestamp now = svc_.clk().now();
  if (a.type == action_type::send_survey && !consent_allows(item, vendor, now)) return;
  // The circuit the attempt is judged under: the host's, or the webhook receiver's own.
  const bool webhook = outbound::handles(a);
  const std::string circuit = webhook ? outbound::circuit_of(a) : a.host;
  if (ad && !circuit_admits(item, circuit, now)) return;
  bool to_host = false;
  const adapters::action_outcome out = execute(a, ad, webhook, to_host);
  now = svc_.clk().now();
  if (ad) {
    if (auto changed = breakers_.record(a.tenant, circuit, to_host ? judge(out) : host_verdict::no_signal,
                                        out.message, now))
      publish(*changed);
  }
  const char* outcome_label = settle(item, out, now);
  svc_.stats().inc("closeloop_actions_executed_total", "vendor=\"" + vendor + "\",outcome=\"" + outcome_label + "\"");
}

bool worker::consent_allows(const outbox_item& item, const std::string& vendor, timestamp now) {
  // Consent is checked again at send time: the customer may have opted out while it waited.
  const action& a = item.act;
  auto withdrawn = survey::withdrawn_by_consent(svc_, a, item.id);
  if (!withdrawn) {
    (void)svc_.db().mark_retry(item.id, now + svc_.cfg().worker.backoff_base, withdrawn.err().message);
    spdlog::warn("survey consent not checked tenant={} ticket={}: {}", a.tenant, a.ticket_id, withdrawn.err().message);
    return false;
  }
  if (!*withdrawn) return true;
  if (auto c = svc_.db().mark_cancelled(item.id, **withdrawn); !c)
    spdlog::error("cannot cancel action {}: {}", item.id, c.err().message);
  spdlog::info("action cancelled tenant={} host={} ticket={} action=send_survey: {}", a.tenant, a.host, a.ticket_id,
               **withdrawn);
  svc_.stats().inc("closeloop_actions_executed_total", "vendor=\"" + vendor + "\",outcome=\"cancelled\"");
  return false;
}

bool worker::circuit_admits(const outbox_item& item, const std::string& circuit, timestamp now) {
  const action& a = item.act;
  const auto adm = breakers_.admit(a.tenant, circuit, now);
  if (!adm.go) {  // the circuit is open: not attempted, not charged an attempt
    if (auto d = svc_.db().mark_deferred(item.id, adm.retry_at); !d)
      spdlog::error("cannot defer action {}: {}", item.id, d.err().message);
    svc_.stats().inc("closeloop_actions_deferred_total",
                     "tenant=\"" + label_value(a.tenant) + "\",host=\"" + label_value(circuit) + "\"");
    return false;
  }
  if (adm.probe) {
    for (const auto& c : breakers_.snapshot())
      if (c.tenant == a.tenant && c.host == circuit) publish(c);
  }
  return true;
}

adapters::action_outcome worker::execute(action& a, adapters::adapter* ad, bool webhook, bool& to_host) {
  to_host = false;
  if (!ad) return adapters::action_outcome::failed("no host \"" + a.host + "\" configured for tenant \"" + a.tenant + "\"");
  if (a.type == action_type::send_survey) {
    if (auto ready = survey::prepare_invitation(svc_, a); !ready)
      return adapters::action_outcome::failed(ready.err().message);  // the invitation cannot be written
  }
  to_host = true;
  if (webhook) return outbound::execute(svc_, a);  // the tenant's own webhook, judged under its circuit
  if (kb::handles(a)) return kb::execute(svc_, *ad, a);  // dedupe / suggest against closeloop's KB index first
  return ad->execute(a);
}

const char* worker::settle(const outbox_item& item, const adapters::action_outcome& out, timestamp now) {
  const auto& wc = svc_.cfg().worker;
  const action& a = item.act;
  if (out.k == adapters::action_outcome::kind::done) {
    (void)svc_.db().mark_done(item.id, now);
    audit_events::host_write(svc_, item, out);
    spdlog::info("action done tenant={} host={} ticket={} event={} action={} attempt={}", a.tenant, a.host,
                 a.ticket_id, a.caused_by, to_string(a.type), item.attempts);
    return "done";
  }
  if (out.k == adapters::action_outcome::kind::retry && item.attempts < wc.max_attempts) {
    std::chrono::milliseconds delay;
    {
      std::lock_guard lk(rng_mu_);
      delay = adapters::backoff_delay(item.attempts, wc.backoff_base, wc.backoff_max, rng_);
    }
    if (out.retry_after && *out.retry_after > delay) delay = *out.retry_after;
    (void)svc_.db().mark_retry(item.id, now + delay, out.message);
    spdlog::warn("action retry tenant={} host={} ticket={} event={} action={} attempt={} in={}ms: {}", a.tenant,
                 a.host, a.ticket_id, a.caused_by, to_string(a.type), item.attempts, delay.count(), out.message);
    return "retry";
  }
  std::string why = out.k == adapters::action_outcome::kind::retry
                        ? "gave up after " + std::to_string(item.attempts) + " attempts: " + out.message
                        : out.message;
  (void)svc_.db().mark_failed(item.id, why);
  audit_events::host_write(svc_, item, out);
  spdlog::error("action failed tenant={} host={} ticket={} event={} action={}: {}", a.tenant, a.host, a.ticket_id,
                a.caused_by, to_string(a.type), why);
  return "failed";
}

}  // namespace closeloop::server
