#pragma once
// Everything a request handler or the worker needs, built once from the configuration:
// the store, one engine + classifier per tenant, one adapter per configured host, metrics.
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "closeloop/clock.hpp"
#include "closeloop/config.hpp"
#include "closeloop/engine.hpp"
#include "closeloop/audit.hpp"
#include "closeloop/health_store.hpp"
#include "closeloop/privacy_store.hpp"
#include "closeloop/kb_store.hpp"
#include "closeloop/outbox_admin.hpp"
#include "closeloop/store.hpp"
#include "closeloop/token_store.hpp"
#include "common/adapter.hpp"
#include "monitor/service.hpp"
#include "server/metrics.hpp"

namespace closeloop::server {

struct tenant_runtime {
  const tenant_config* cfg = nullptr;
  std::unique_ptr<rule_classifier> clf;
  std::unique_ptr<engine> eng;
  std::map<std::string, std::unique_ptr<adapters::adapter>, std::less<>> adapters;  // host id -> adapter
};

class services {
 public:
  // Builds tenants and adapters; opens (and migrates) the store unless open_store is false.
  static result<std::unique_ptr<services>> create(config cfg, bool open_store = true);

  const config& cfg() const noexcept { return cfg_; }
  store& db() noexcept { return *db_; }
  bool has_store() const noexcept { return db_ != nullptr; }
  // The KB index and ticket-article links (same file as the store); null without a store.
  kb_store* kb() noexcept { return kb_.get(); }
  // Customer health facts and bands (same file; server/customer_health.hpp); null without a file store.
  health_store* health() noexcept { return health_.get(); }
  // The dead-letter view/replay and the hosts' circuit rows (same file); null without a file store.
  closeloop::outbox_admin* outbox_admin() noexcept { return outbox_admin_.get(); }
  // API tokens and the audit log (same file; server/auth.hpp, closeloop/audit.hpp); null without
  // a file store.
  token_store* tokens() noexcept { return tokens_.get(); }
  // Consent (opt-out) reads for the worker's check at send time (same file); null without a file store.
  privacy_store* privacy() noexcept { return privacy_.get(); }
  audit_log* audit() noexcept { return audit_.get(); }
  // Monitoring (plugin/src/monitor): facts, rollups, alerts, reports (same file); null without a
  // file store. monitoring(t): the tenant's parsed `monitoring` config (nullptr: unknown tenant).
  monitor::monitor_db* monitor() noexcept { return monitor_.get(); }
  const monitor::monitoring_config* monitoring(std::string_view tenant) const;
  struct monitor_schedule {  // when the worker last evaluated each tenant's rules and reports
    std::mutex mu;
    std::map<std::string, timestamp, std::less<>> last_pass;
  };
  monitor_schedule& monitor_runs() noexcept { return monitor_runs_; }
  const clock& clk() const noexcept { return clock_; }
  metrics& stats() noexcept { return metrics_; }

  tenant_runtime* tenant(std::string_view id);
  adapters::adapter* adapter_for(std::string_view tenant, std::string_view host);
  ledger_decide_fn decider(const tenant_runtime& t) const;  // with the survey ledger
  // The same for one event, classified now on the calling thread when the engine would classify
  // it, so that the store's one serial thread only decides (the webhook path, per event).
  ledger_decide_fn decider(const tenant_runtime& t, const event& ev) const;

  // Where customers reach this server (survey links): server.public_base_url, or else the
  // address serve actually listens on (set once bound), without a trailing '/'.
  std::string public_base_url() const;
  void set_bound_base_url(std::string url);

  // Where store completions continue (the HTTP server's threads), so the store's committer thread
  // only commits. Without an executor the work runs inline.
  using task = std::function<void()>;
  void set_executor(std::function<void(task)> post) { post_ = std::move(post); }
  void post(task t) const {
    if (post_) post_(std::move(t));
    else t();
  }

 private:
  explicit services(config cfg) : cfg_(std::move(cfg)) {}
  config cfg_;
  std::unique_ptr<store> db_;
  std::unique_ptr<kb_store> kb_;
  std::unique_ptr<health_store> health_;
  std::unique_ptr<closeloop::outbox_admin> outbox_admin_;
  std::unique_ptr<token_store> tokens_;
  std::unique_ptr<privacy_store> privacy_;
  std::unique_ptr<audit_log> audit_;
  std::unique_ptr<monitor::monitor_db> monitor_;
  std::map<std::string, monitor::monitoring_config, std::less<>> monitoring_;
  monitor_schedule monitor_runs_;
  system_clock clock_;
  std::function<void(task)> post_;
  mutable std::mutex base_mu_;
  std::string bound_base_url_;
  metrics metrics_;
  std::map<std::string, tenant_runtime, std::less<>> tenants_;
};

}  // namespace closeloop::server
