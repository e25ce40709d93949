#include "server/handlers.hpp"

#include <atomic>
#include <memory>
#include <mutex>

#include <spdlog/spdlog.h>

#include "server/routes.hpp"

namespace closeloop::server {
namespace {

adapters::inbound_request to_inbound(const http_request& req) {
  adapters::inbound_request in;
  in.method = std::string(req.method_string());
  in.target = std::string(req.target());
  for (const auto& f : req) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    in.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  in.body = req.body();
  return in;
}

http::status status_for(const error& e) {
  switch (e.code) {
    case errc::unauthorized: return http::status::unauthorized;
    case errc::not_found: return http::status::not_found;
    case errc::too_large: return http::status::payload_too_large;
    case errc::unsupported: return http::status::unprocessable_entity;
    case errc::invalid_argument: return http::status::bad_request;
    case errc::storage:
    case errc::unavailable: return http::status::service_unavailable;
    default: return http::status::internal_server_error;
  }
}

json action_summary(const action& a) {
  json j = {{"type", to_string(a.type)}, {"idempotency_key", a.idempotency_key}, {"params", a.params}};
  if (a.immediate) j["immediate"] = true;
  if (a.not_before) j["not_before"] = format_rfc3339(*a.not_before);
  return j;
}

// Collects the outcome of every event in one delivery and answers once all are committed.
struct delivery : std::enable_shared_from_this<delivery> {
  http_request req;
  respond_fn respond;
  services* svc = nullptr;
  std::string tenant;
  std::vector<json> results;
  std::optional<error> failure;
  std::size_t remaining = 0;
  bool any_new = false;
  bool explain = false;
  adapters::adapter* host_adapter = nullptr;  // set for ?apply=host: the host applies immediate actions
  json host_actions = json::array();
  std::mutex mu;

  void done(std::size_t index, const event& ev, result<ingest_result> r) {
    std::unique_lock lk(mu);
    if (!r) {
      spdlog::error("event not stored tenant={} host={} ticket={} event={}: {}", ev.tenant, ev.host, ev.ticket_id,
                    ev.host_event_id, r.err().message);
      if (!failure) failure = r.err();
    } else {
      // By default the answer names the decided actions; with ?explain=1 it carries each
      // action's parameters and the engine's reasons (closeloop replay asks for them). Building
      // the long form for every webhook was a large part of the ingest path's CPU.
      json actions = json::array();
      for (const auto& a : r->actions) actions.push_back(explain ? action_summary(a) : json(to_string(a.type)));
      results[index] = {{"host_event_id", ev.host_event_id}, {"ticket_id", ev.ticket_id},
                        {"type", to_string(ev.type)},        {"duplicate", r->duplicate},
                        {"event_seq", r->event_seq},         {"actions", std::move(actions)}};
      if (explain) results[index]["log"] = r->log;
      if (host_adapter)
        for (const auto& a : r->actions) host_actions.push_back(adapters::action_for_host(*host_adapter, a));
      any_new = any_new || !r->duplicate;
      svc->stats().inc("closeloop_events_total", "tenant=\"" + label_value(ev.tenant) + "\",result=\"" +
                                                     (r->duplicate ? "duplicate" : "accepted") + "\"");
      if (r->duplicate)
        spdlog::info("event duplicate tenant={} host={} ticket={} event={}", ev.tenant, ev.host, ev.ticket_id,
                     ev.host_event_id);
      else
        spdlog::info("event accepted tenant={} host={} ticket={} event={} type={} actions={}", ev.tenant, ev.host,
                     ev.ticket_id, ev.host_event_id, to_string(ev.type), r->actions.size());
    }
    if (--remaining != 0) return;
    lk.unlock();
    if (failure) {
      auto res = json_error(req, status_for(*failure), to_string(failure->code), failure->message);
      if (failure->retryable) res.set(http::field::retry_after, "1");
      respond(std::move(res));
      return;
    }
    // 202: stored, work pending. 200: every event was already known (a redelivery).
    json body = {{"status", any_new ? "accepted" : "duplicate"}, {"events", results}};
    if (host_adapter) {
      body["duplicate"] = !any_new;
      body["actions"] = std::move(host_actions);
    }
    respond(json_response(req, any_new ? http::status::accepted : http::status::ok, body));
  }
};

void webhook_impl(const http_request& req, services& svc, const std::string& tenant_id, const std::string& host_id,
                  respond_fn respond) {
  auto reject = [&](http::status st, std::string_view reason_label, const error& e) {
    svc.stats().inc("closeloop_webhook_rejected_total", "reason=\"" + std::string(reason_label) + "\"");
    spdlog::warn("webhook rejected tenant={} host={} status={}: {}", tenant_id, host_id, static_cast<int>(st), e.message);
    respond(json_error(req, st, to_string(e.code), e.message));
  };
  if (req.method() != http::verb::post) {
    auto res = json_error(req, http::status::method_not_allowed, "method_not_allowed", "use POST for webhooks");
    res.set(http::field::allow, "POST");
    respond(std::move(res));
    return;
  }
  tenant_runtime* t = svc.tenant(tenant_id);
  adapters::adapter* ad = svc.adapter_for(tenant_id, host_id);
  if (!t || !ad) {
    reject(http::status::not_found, "unknown_route",
           make_error(errc::not_found, !t ? "unknown tenant \"" + tenant_id + "\""
                                          : "tenant \"" + tenant_id + "\" has no host \"" + host_id + "\""));
    return;
  }
  auto in = to_inbound(req);
  in.received_at = svc.clk().now();
  // The signature is checked before the body is parsed.
  if (auto v = ad->verify(in, svc.clk().now()); !v) {
    reject(http::status::unauthorized, "signature", v.err());
    return;
  }
  auto events = ad->translate(in);
  if (!events) {
    reject(status_for(events.err()), "invalid_event", events.err());
    return;
  }
  if (events->empty()) {
    respond(json_response(req, http::status::ok, {{"status", "ignored"}, {"events", json::array()}}));
    return;
  }
  auto d = std::make_shared<delivery>();
  d->req = req;
  d->respond = std::move(respond);
  d->svc = &svc;
  d->tenant = tenant_id;
  d->results.resize(events->size());
  {
    std::string_view target = req.target();
    auto q = target.find('?');
    std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q);
    d->explain = query.find("explain=1") != std::string_view::npos;
    // ?apply=host: the (signed) caller applies immediate actions inside its own request, as the
    // RT extension's bridge door does; they are recorded as applied and come back rendered.
    if (query.find("apply=host") != std::string_view::npos) d->host_adapter = ad;
  }
  ingest_options opts;
  opts.immediate_applied_by_host = d->host_adapter != nullptr;
  d->remaining = events->size();
  for (std::size_t i = 0; i < events->size(); ++i) {
    event ev = (*events)[i];
    svc.db().ingest_async(ev, svc.decider(*t, ev), opts, [d, i, ev](result<ingest_result> r) {
      auto shared = std::make_shared<result<ingest_result>>(std::move(r));
      d->svc->post([d, i, ev, shared] { d->done(i, ev, std::move(*shared)); });
    });
  }
}

void refresh_store_gauges(services& svc) {
  auto c = svc.db().stats();
  auto& m = svc.stats();
  m.set_gauge("closeloop_store_commits", "", static_cast<double>(c.commits));
  m.set_gauge("closeloop_store_committed_events", "", static_cast<double>(c.committed_events));
  m.set_gauge("closeloop_outbox_pending", "", static_cast<double>(c.outbox_pending));
  m.set_gauge("closeloop_outbox_failed", "", static_cast<double>(c.outbox_failed));
  m.set_gauge("closeloop_timers_pending", "", static_cast<double>(c.timers_pending));
}

}  // namespace

http_response json_response(const http_request& req, http::status status, const json& body) {
  http_response res{status, req.version()};
  res.set(http::field::server, "closeloop");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  res.body() = body.dump(-1, ' ', false, json::error_handler_t::replace);
  res.prepare_payload();
  return res;
}

http_response json_error(const http_request& req, http::status status, std::string_view code, std::string_view message) {
  return json_response(req, status, {{"error", code}, {"message", message}});
}

namespace handlers {

void webhook(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  webhook_impl(req, svc, p.at("tenant"), p.at("host"), std::move(respond));
}

void healthz(const http_request& req, services&, const route_params&, respond_fn respond) {
  respond(json_response(req, http::status::ok, {{"status", "ok"}, {"version", CLOSELOOP_VERSION_STRING}}));
}

void metrics(const http_request& req, services& svc, const route_params&, respond_fn respond) {
  refresh_store_gauges(svc);
  http_response res{http::status::ok, req.version()};
  res.set(http::field::server, "closeloop");
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.keep_alive(req.keep_alive());
  res.body() = svc.stats().render();
  res.prepare_payload();
  respond(std::move(res));
}

}  // namespace handlers

}  // namespace closeloop::server
