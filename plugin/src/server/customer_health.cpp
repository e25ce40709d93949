#include "server/customer_health.hpp"

#include <mutex>

#include <spdlog/spdlog.h>

#include "server/routes.hpp"

namespace closeloop::server::customer_health {
namespace {

// "%40" -> "@" in one path segment; nullopt for a broken escape.
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::mutex& sync_mutex() {
  static std::mutex mu;
  return mu;
}

}  // namespace

result<health::assessment> assess(health_store& hs, const tenant_config& t, const std::string& customer,
                                  timestamp now) {
  const std::string key = health::normalize_customer(customer);
  const auto since = now - std::chrono::duration_cast<std::chrono::milliseconds>(t.health.window);
  auto facts = hs.facts(t.id, key, since);
  if (!facts) return std::move(facts).err();
  const survey_policy& sp = t.pol.survey;
  return health::assess(*facts, t.health, now, [&sp](std::string_view kind) {
    if (sp.escalation.max_score && kind == sp.kind) return sp.bad_at_or_below(kind);  // the tenant's own line
    if (const auto* def = sp.find_definition(kind)) return def->negative_at_or_below();
    return sp.bad_at_or_below(kind);
  });
}

action band_action(const tenant_config& t, const health_record& r) {
  action a;
  a.type = action_type::set_fields;
  a.tenant = r.tenant;
  a.host = r.host;
  a.ticket_id = r.ticket_id;
  a.caused_by = "health:" + r.customer;
  a.idempotency_key = "health:" + r.tenant + ":" + r.customer + ":" + r.band + ":" +
                      std::to_string(r.updated_at ? r.updated_at->time_since_epoch().count() : 0);
  json fields = json::object();
  if (!t.health.field.empty()) fields[t.health.field] = r.band;
  if (!t.health.tag_prefix.empty()) fields["tags"] = json::array({t.health.tag_prefix + r.band});
  a.params = {{"fields", fields}, {"reason", "customer health " + r.band + " (score " + std::to_string(r.score) + ")"}};
  return a;
}

int sync(services& svc, int limit) {
  std::unique_lock lk(sync_mutex(), std::try_to_lock);  // one worker thread at a time
  if (!lk.owns_lock() || !svc.health()) return 0;
  health_store& hs = *svc.health();
  auto cur = hs.cursor();
  if (!cur) {
    spdlog::error("health: cannot read the cursor: {}", cur.err().message);
    return 0;
  }
  auto touched = hs.touched_since(*cur, limit);
  if (!touched) {
    spdlog::error("health: cannot read events: {}", touched.err().message);
    return 0;
  }
  int n = 0;
  const auto now = svc.clk().now();
  for (const auto& [tenant_id, customer] : touched->customers) {
    tenant_runtime* rt = svc.tenant(tenant_id);
    if (!rt || !rt->cfg || !rt->cfg->health.enabled) continue;
    auto a = assess(hs, *rt->cfg, customer, now);
    if (!a) {
      spdlog::error("health: tenant={} customer assessment failed: {}", tenant_id, a.err().message);
      return n;  // cursor not moved: tried again next pass
    }
    auto facts = hs.facts(tenant_id, customer, timestamp{});
    health_record r;
    r.tenant = tenant_id;
    r.customer = customer;
    r.score = a->score;
    r.band = std::string(health::to_string(a->level));
    r.reasons = health::to_json(*a)["reasons"];
    if (facts && !facts->tickets.empty()) {
      const auto latest = std::max_element(facts->tickets.begin(), facts->tickets.end(),
                                           [](const auto& x, const auto& y) { return x.created_at < y.created_at; });
      r.host = latest->host;
      r.ticket_id = latest->ticket_id;
    }
    if (auto w = hs.put(r, now); !w) {
      spdlog::error("health: tenant={} cannot store a band: {}", tenant_id, w.err().message);
      return n;
    }
    ++n;
  }
  if (auto s = hs.set_cursor(touched->last_seq); !s) spdlog::error("health: cannot move the cursor: {}", s.err().message);

  // Band changes not yet written to the host (a failed write is retried on the next pass).
  auto pending = hs.unwritten(20);
  if (!pending) return n;
  for (const auto& r : *pending) {
    tenant_runtime* rt = svc.tenant(r.tenant);
    if (!rt || !rt->cfg) continue;
    const tenant_config& t = *rt->cfg;
    adapters::adapter* ad = svc.adapter_for(r.tenant, r.host);
    const bool write = t.health.write && (!t.health.field.empty() || !t.health.tag_prefix.empty());
    if (!write || !ad || r.ticket_id.empty()) {
      (void)hs.mark_written(r.tenant, r.customer, r.band, now);  // nothing to write to: remembered only
      continue;
    }
    const action act = band_action(t, r);
    const auto out = ad->execute(act);
    if (out.k != adapters::action_outcome::kind::done) {
      spdlog::warn("health: tenant={} host={} ticket={} band {} not written yet: {}", r.tenant, r.host, r.ticket_id,
                   r.band, out.message);
      continue;
    }
    (void)hs.mark_written(r.tenant, r.customer, r.band, now);
    if (svc.audit())
      (void)svc.audit()->append("system:health", r.tenant, "health.write", r.host + "/" + r.ticket_id,
                                {{"band", r.band}, {"from", r.written_band}, {"score", r.score}});
    spdlog::info("health: tenant={} host={} ticket={} customer band {} -> {} (score {}) written", r.tenant, r.host,
                 r.ticket_id, r.written_band, r.band, r.score);
    ++n;
  }
  return n;
}

void handle_get(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  const tenant_runtime* rt = svc.tenant(tenant);
  if (!rt || !rt->cfg) {
    respond(json_error(req, http::status::not_found, "unknown_tenant", "no tenant \"" + tenant + "\""));
    return;
  }
  auto customer = percent_decode(p.at("customer"));
  if (!customer || customer->find('@') == std::string::npos) {
    respond(json_error(req, http::status::bad_request, "bad_customer",
                       "the customer is an e-mail address (percent-encoded in the path), got \"" + p.at("customer") + "\""));
    return;
  }
  if (!svc.health()) {
    respond(json_error(req, http::status::service_unavailable, "no_store", "customer health needs a file store"));
    return;
  }
  auto a = assess(*svc.health(), *rt->cfg, *customer, svc.clk().now());
  if (!a) {
    respond(json_error(req, http::status::service_unavailable, "store", a.err().message));
    return;
  }
  if (a->tickets == 0 && a->answers == 0) {
    respond(json_error(req, http::status::not_found, "unknown_customer",
                       "no ticket of \"" + health::normalize_customer(*customer) + "\" in the health window"));
    return;
  }
  json body = health::to_json(*a);
  body["tenant"] = tenant;
  respond(json_response(req, http::status::ok, body));
}

}  // namespace closeloop::server::customer_health
