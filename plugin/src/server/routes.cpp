// The route table of closeloop serve and the dispatcher (routes.hpp). Every route is here.
#include "server/routes.hpp"

#include <array>
#include <stdexcept>
#include <vector>

#include "server/admin_api.hpp"
#include "server/customer_health.hpp"
#include "server/kb.hpp"
#include "server/monitoring.hpp"
#include "server/outbox_api.hpp"
#include "server/sidebar.hpp"
#include "server/survey_optout.hpp"
#include "server/survey_page.hpp"

namespace closeloop::server {
namespace {

void survey_page(const http_request& req, services& svc, const route_params&, respond_fn respond) {
  survey::handle(req, svc, std::move(respond));
}

void survey_opt_out(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  survey::handle_opt_out(req, svc, p.at("token"), std::move(respond));
}

// clang-format off
const std::array k_routes{
    route{m_get, "/healthz", access::public_access, handlers::healthz,
          "liveness: {\"status\":\"ok\",\"version\":...}"},
    route{m_get, "/metrics", access::metrics, handlers::metrics,
          "Prometheus text (server.metrics_token when set)"},
    route{m_post, "/webhooks/{tenant}/{host}", access::signed_access, handlers::webhook,
          "an event from a host, signed as the host's vendor signs it"},
    route{m_get | m_post, "/s/{token}", access::signed_access, survey_page,
          "the survey page and its answer, behind the signed invitation link"},
    route{m_get | m_post, "/s/{token}/opt-out", access::signed_access, survey_opt_out,
          "stop surveys to the ticket's requester (GET asks, POST with the form token records; any signed link)"},
    route{m_get, "/api/v1/tenants/{tenant}/hosts/{host}/tickets/{ticket}/suggestions", access::agent,
          kb::handle_suggestions, "the top KB articles for a ticket (agent sidebar)"},
    route{m_get | m_post, "/sidebar", access::signed_access, sidebar::handle,
          "the agent sidebar page (?ctx= signed host context, or an agent token with ?tenant&host&ticket); "
          "POST: a correction form"},
    route{m_post, "/api/v1/tenants/{tenant}/hosts/{host}/tickets/{ticket}/sidebar-context", access::agent,
          sidebar::handle_mint, "a signed sidebar context for the ticket (the Zendesk and Freshdesk apps)"},
    route{m_get, "/api/v1/tenants/{tenant}/customers/{customer}/health", access::viewer, customer_health::handle_get,
          "a customer's health: score, band and reasons (customer = percent-encoded e-mail)"},
    route{m_get, "/api/v1/tenants/{tenant}/kb/report", access::viewer, kb::handle_report,
          "per KB article: tickets, mean survey answer, reopen rate, weak flag"},
    route{m_get, "/api/v1/tenants/{tenant}/tokens", access::admin, admin_api::list_tokens,
          "the tenant's API tokens (never their secrets)"},
    route{m_post, "/api/v1/tenants/{tenant}/tokens", access::admin, admin_api::create_token,
          "create an API token of the tenant; the token is in the answer, once"},
    route{m_delete, "/api/v1/tenants/{tenant}/tokens/{id}", access::admin, admin_api::revoke_token,
          "revoke one of the tenant's API tokens"},
    route{m_get, "/api/v1/tenants/{tenant}/audit", access::admin, admin_api::list_audit,
          "the tenant's audit log entries [?since=RFC3339&action=A&limit=N]"},
    route{m_get, "/api/v1/tenants/{tenant}/outbox", access::admin, outbox_api::list,
          "the tenant's outbox actions, newest first, with errors and retries [?status=failed&limit=N]"},
    route{m_post, "/api/v1/tenants/{tenant}/outbox/{id}/retry", access::admin, outbox_api::retry_one,
          "re-queue one failed action (same idempotency key); audited"},
    route{m_post, "/api/v1/tenants/{tenant}/outbox/retry-failed", access::admin, outbox_api::retry_failed,
          "re-queue every failed action of the tenant; audited"},
    route{m_get, "/api/v1/tenants/{tenant}/metrics", access::viewer, monitoring::handle_metrics,
          "satisfaction figures per segment and period [?by&value&period&from&to&format=json|csv]"},
    route{m_get, "/api/v1/tenants/{tenant}/metrics/tickets", access::viewer, monitoring::handle_tickets,
          "the tickets behind a figure [?by&value&metric&from&to&limit&offset&format=json|csv]"},
    route{m_get, "/api/v1/tenants/{tenant}/report", access::viewer, monitoring::handle_report,
          "the satisfaction report, live [?period&from&to&format=html|json|csv]"},
    route{m_get, "/api/v1/tenants/{tenant}/reports", access::viewer, monitoring::handle_reports,
          "the stored (scheduled) reports"},
    route{m_get, "/api/v1/tenants/{tenant}/reports/{id}", access::viewer, monitoring::handle_stored_report,
          "one stored report [?format=json|html]"},
    route{m_get, "/api/v1/tenants/{tenant}/alerts", access::viewer, monitoring::handle_alerts,
          "the tenant's alerts [?status=open|acknowledged|resolved]"},
    route{m_post, "/api/v1/tenants/{tenant}/alerts/{id}/ack", access::agent, monitoring::handle_ack,
          "acknowledge an alert [body {\"by\": name}]; audited"},
    route{m_get, "/api/v1/tenants/{tenant}/alerts/suggestions", access::admin, monitoring::handle_suggestions,
          "alert thresholds suggested from history, for an admin to confirm [?metric&by&value&window_days&windows]"},
};
// clang-format on

// "/a/b/c" -> {"a", "b", "c"}; "/a//" -> {"a", "", ""}.
std::vector<std::string_view> split_path(std::string_view p) {
  std::vector<std::string_view> out;
  if (p.empty() || p.front() != '/') return out;
  p.remove_prefix(1);
  while (true) {
    auto slash = p.find('/');
    out.push_back(p.substr(0, slash));
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  return out;
}

bool match_pattern(std::string_view pattern, std::string_view path, route_params& params) {
  const auto want = split_path(pattern), got = split_path(path);
  if (want.empty() || want.size() != got.size()) return false;
  std::map<std::string, std::string, std::less<>> found;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const std::string_view w = want[i];
    if (w.size() > 2 && w.front() == '{' && w.back() == '}') {
      if (got[i].empty()) return false;
      found.emplace(std::string(w.substr(1, w.size() - 2)), std::string(got[i]));
    } else if (w != got[i]) {
      return false;
    }
  }
  params.path = std::move(found);
  return true;
}

unsigned method_bit(http::verb v) {
  switch (v) {
    case http::verb::get:
    case http::verb::head: return m_get;
    case http::verb::post: return m_post;
    case http::verb::put: return m_put;
    case http::verb::delete_: return m_delete;
    case http::verb::patch: return m_patch;
    default: return 0;
  }
}

std::string allow_header(unsigned methods) {
  std::string out;
  auto add = [&](const char* m) { out += (out.empty() ? "" : ", ") + std::string(m); };
  if (methods & m_get) add("GET"), add("HEAD");
  if (methods & m_post) add("POST");
  if (methods & m_put) add("PUT");
  if (methods & m_delete) add("DELETE");
  if (methods & m_patch) add("PATCH");
  return out;
}

}  // namespace

const char* to_string(access a) noexcept {
  switch (a) {
    case access::public_access: return "public";
    case access::signed_access: return "signed";
    case access::metrics: return "metrics";
    case access::viewer: return "viewer";
    case access::agent: return "agent";
    case access::admin: return "admin";
  }
  return "admin";
}

std::optional<auth::role> required_role(access a) noexcept {
  switch (a) {
    case access::viewer: return auth::role::viewer;
    case access::agent: return auth::role::agent;
    case access::admin: return auth::role::admin;
    default: return std::nullopt;
  }
}

const std::string& route_params::at(std::string_view name) const {
  auto it = path.find(name);
  if (it == path.end()) throw std::out_of_range("route has no {" + std::string(name) + "}");
  return it->second;
}

std::span<const route> routes() { return k_routes; }

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view qs = target.substr(q + 1);
  while (!qs.empty()) {
    auto amp = qs.find('&');
    std::string_view kv = qs.substr(0, amp);
    auto eq = kv.find('=');
    if (kv.substr(0, eq) == name) {
      std::string_view raw = eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1);
      std::string out;
      for (std::size_t i = 0; i < raw.size(); ++i) {
        auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
        if (raw[i] == '%' && i + 2 < raw.size() && hex(raw[i + 1]) && hex(raw[i + 2])) {
          out.push_back(static_cast<char>(std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16)));
          i += 2;
        } else {
          out.push_back(raw[i] == '+' ? ' ' : raw[i]);
        }
      }
      return out;
    }
    if (amp == std::string_view::npos) break;
    qs.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

const route* match_route(std::string_view path, route_params& params) {
  for (const route& r : k_routes)
    if (match_pattern(r.pattern, path, params)) return &r;
  return nullptr;
}

std::string expand_pattern(std::string_view pattern, const std::map<std::string, std::string, std::less<>>& values) {
  std::string out;
  std::size_t k = 0;
  while (k < pattern.size()) {
    if (pattern[k] == '{') {
      auto close = pattern.find('}', k);
      if (close == std::string_view::npos) break;
      auto it = values.find(pattern.substr(k + 1, close - k - 1));
      out += it == values.end() ? std::string("x") : it->second;
      k = close + 1;
    } else {
      out += pattern[k++];
    }
  }
  return out;
}

void handle_request(const http_request& req, services& svc, respond_fn respond) {
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  // The route of this path and method; a path several routes share (GET and POST of one
  // collection) is one entry per method.
  route_params params;
  const route* r = nullptr;
  const route* any_method = nullptr;
  unsigned allowed = 0;
  for (const route& candidate : k_routes) {
    route_params p;
    if (!match_pattern(candidate.pattern, path, p)) continue;
    if (!any_method) any_method = &candidate;
    allowed |= candidate.methods;
    if (method_bit(req.method()) & candidate.methods) {
      r = &candidate;
      params = std::move(p);
      break;
    }
  }
  if (!any_method) {
    respond(json_error(req, http::status::not_found, "not_found", "no route for " + std::string(path)));
    return;
  }
  if (!r) {
    const std::string allow = allow_header(allowed);
    auto res = json_error(req, http::status::method_not_allowed, "method_not_allowed",
                          "use " + allow + " for " + std::string(any_method->pattern));
    res.set(http::field::allow, allow);
    respond(std::move(res));
    return;
  }
  if (auto need = required_role(r->need)) {
    auto it = params.path.find("tenant");
    // A role route without {tenant} is a programming error the route test catches; refuse.
    auto a = it == params.path.end()
                 ? auth::authz{std::nullopt, auth::forbidden(req, "route has no tenant to authorize for")}
                 : auth::authorize(req, svc, it->second, *need, r->verifier);
    if (!a) {
      respond(std::move(a.denied));
      return;
    }
    params.who = std::move(a.who);
  } else if (r->need == access::metrics) {
    auto a = auth::authorize_metrics(req, svc);
    if (!a) {
      respond(std::move(a.denied));
      return;
    }
  }
  r->handler(req, svc, params, std::move(respond));
}

}  // namespace closeloop::server
