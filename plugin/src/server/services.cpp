#include "server/services.hpp"

#include "closeloop/secret_config.hpp"

namespace closeloop::server {

result<std::unique_ptr<services>> services::create(config cfg, bool open_store) {
  if (!cfg.secret_refs.empty()) {  // {"ref": NAME} secrets: open (and migrate) the store, then resolve
    if (!open_store) return make_error(errc::invalid_config, "config: " + cfg.secret_refs.front().pointer +
                                                                 " refers to a stored secret, but no store is opened");
    store_options so;
    so.path = cfg.store.path;
    if (auto db = store::open(so); !db) return db.err();
    if (auto resolved = resolve_stored_secrets(cfg); !resolved) return resolved.err();
  }
  std::unique_ptr<services> s(new services(std::move(cfg)));
  adapters::adapter_env env;
  env.public_base_url = s->cfg_.server.public_base_url;
  env.http_timeout = s->cfg_.worker.http_timeout;
  env.signature_tolerance = s->cfg_.server.signature_tolerance;
  for (const auto& t : s->cfg_.tenants) {
    tenant_runtime rt;
    rt.cfg = &t;
    rt.clf = std::make_unique<rule_classifier>(t.classifier);
    rt.eng = std::make_unique<engine>(t.pol, *rt.clf);
    for (const auto& h : t.hosts) {
      auto a = adapters::make_adapter(t, h, env);
      if (!a) return a.err();
      rt.adapters.emplace(h.id, std::move(*a));
    }
    auto mon = monitor::parse_monitoring(t.monitoring, "/tenants/" + std::to_string(&t - s->cfg_.tenants.data()) + "/monitoring");
    if (!mon) return mon.err();
    s->monitoring_.emplace(t.id, std::move(*mon));
    s->tenants_.emplace(t.id, std::move(rt));
  }
  if (open_store) {
    store_options so;
    so.path = s->cfg_.store.path;
    so.max_batch = s->cfg_.store.max_batch;
    so.synchronous_full = s->cfg_.store.synchronous != "normal";
    auto db = store::open(so);
    if (!db) return db.err();
    s->db_ = std::move(*db);
    // A ":memory:" store has no second connection: the KB loop is then off (kb() is null).
    if (auto kb = kb_store::open(so.path)) s->kb_ = std::move(*kb);
    if (auto hs = health_store::open(so.path)) s->health_ = std::move(*hs);
    if (auto oa = outbox_admin::open(so.path)) s->outbox_admin_ = std::move(*oa);
    if (auto ts = token_store::open(so.path)) s->tokens_ = std::move(*ts);
    if (auto ps = privacy_store::open(so.path)) s->privacy_ = std::move(*ps);
    if (auto al = audit_log::open(so.path)) s->audit_ = std::move(*al);
    if (auto mon = monitor::monitor_db::open(so.path)) s->monitor_ = std::move(*mon);
  }
  auto& m = s->metrics_;
  m.describe("closeloop_http_requests_total", "counter", "HTTP requests by route and status code.");
  m.describe("closeloop_http_request_duration_seconds", "histogram", "Time from request read to response.");
  m.describe("closeloop_webhook_rejected_total", "counter", "Webhooks refused, by reason.");
  m.describe("closeloop_events_total", "counter", "Events ingested, by tenant and result (accepted, duplicate).");
  m.describe("closeloop_actions_executed_total", "counter", "Outbox actions executed, by vendor and outcome.");
  m.describe("closeloop_store_commits", "gauge", "Group commits since start.");
  m.describe("closeloop_store_committed_events", "gauge", "Events committed since start.");
  m.describe("closeloop_outbox_pending", "gauge", "Outbox actions waiting to run.");
  m.describe("closeloop_outbox_failed", "gauge", "Outbox actions that failed for good.");
  m.describe("closeloop_timers_pending", "gauge", "Deferred work (e.g. surveys) waiting for its time.");
  m.describe("closeloop_survey_page_total", "counter", "Survey page requests, by result (shown, second_step, answered, duplicate, already_answered, bad_input, bad_utf8, stale_form, cross_origin, invalid_link, expired, unknown_survey).");
  return s;
}

const monitor::monitoring_config* services::monitoring(std::string_view tenant) const {
  auto it = monitoring_.find(tenant);
  return it == monitoring_.end() ? nullptr : &it->second;
}

tenant_runtime* services::tenant(std::string_view id) {
  auto it = tenants_.find(id);
  return it == tenants_.end() ? nullptr : &it->second;
}

adapters::adapter* services::adapter_for(std::string_view tenant_id, std::string_view host) {
  auto* t = tenant(tenant_id);
  if (!t) return nullptr;
  auto it = t->adapters.find(host);
  return it == t->adapters.end() ? nullptr : it->second.get();
}

ledger_decide_fn services::decider(const tenant_runtime& t) const {
  const engine* eng = t.eng.get();
  const clock* clk = &clock_;
  return [eng, clk](const event& ev, const ticket_state& st, const survey::ledger& l) {
    return eng->decide(ev, st, *clk, &l);
  };
}

ledger_decide_fn services::decider(const tenant_runtime& t, const event& ev) const {
  if (!engine::classifies(ev)) return decider(t);
  std::shared_ptr<const classification> ahead;
  try {
    ahead = std::make_shared<const classification>(t.eng->get_classifier().classify(ev));
  } catch (...) {
    return decider(t);  // the committer classifies it then, and reports what went wrong
  }
  const engine* eng = t.eng.get();
  const clock* clk = &clock_;
  return [eng, clk, ahead, id = ev.host_event_id](const event& e, const ticket_state& st, const survey::ledger& l) {
    return eng->decide(e, st, *clk, &l, e.host_event_id == id ? ahead.get() : nullptr);
  };
}

std::string services::public_base_url() const {
  std::string url = cfg_.server.public_base_url;
  if (url.empty()) {
    std::lock_guard lk(base_mu_);
    url = bound_base_url_;
  }
  if (url.empty()) {
    url = std::string(cfg_.server.tls ? "https://" : "http://") + cfg_.server.listen + ":" +
          std::to_string(cfg_.server.port);
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

void services::set_bound_base_url(std::string url) {
  std::lock_guard lk(base_mu_);
  bound_base_url_ = std::move(url);
}

}  // namespace closeloop::server
