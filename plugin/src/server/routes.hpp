#pragma once
// Every HTTP route of closeloop serve, in one table (routes.cpp): method(s), path pattern, what
// it needs (public / signed / metrics / a role) and its handler. handle_request() dispatches
// through it; tests enumerate it to check each route's access. Adding a route is one entry:
//
//   {GET, "/api/v1/tenants/{tenant}/things/{id}", access::viewer, things::handle_get, "what it is"},
//
// A role route must have a {tenant} segment: the dispatcher authorizes the request for that
// tenant (server/auth.hpp) before the handler runs and passes the principal in route_params::who.
// "{name}" matches exactly one non-empty path segment.
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "server/auth.hpp"
#include "server/handlers.hpp"

namespace closeloop::server {

enum class access {
  public_access,  // anyone (/healthz)
  signed_access,  // the request carries its own signature (webhooks, survey links), checked by the handler
  metrics,        // server.metrics_token when set, else open
  viewer,
  agent,
  admin,
};
const char* to_string(access a) noexcept;
// The role an access level needs; nullopt for public/signed/metrics.
std::optional<auth::role> required_role(access a) noexcept;

// Methods a route answers (GET also answers HEAD).
enum method_bits : unsigned { m_get = 1, m_post = 2, m_put = 4, m_delete = 8, m_patch = 16 };

struct route_params {
  std::map<std::string, std::string, std::less<>> path;  // {name} -> the raw path segment
  std::optional<auth::principal> who;                    // set for role routes
  const std::string& at(std::string_view name) const;    // throws std::out_of_range on a typo
};

using route_handler = void (*)(const http_request& req, services& svc, const route_params& p, respond_fn respond);

struct route {
  unsigned methods;
  std::string_view pattern;
  access need;
  route_handler handler;
  std::string_view what;  // one line, for docs and listings
  auth::verifier verifier = nullptr;  // an alternative credential for role routes (sidebar host context)
};

std::span<const route> routes();

// The value of ?name=... in a request target, percent-decoded ('+' is a space); nullopt when absent.
std::optional<std::string> query_param(std::string_view target, std::string_view name);

// The route whose pattern matches `path` (any method), with its parameters.
const route* match_route(std::string_view path, route_params& params);

// "/api/v1/tenants/{tenant}/kb/report" with {tenant}=acme -> "/api/v1/tenants/acme/kb/report"
// (for tests and docs); unknown names become "x".
std::string expand_pattern(std::string_view pattern, const std::map<std::string, std::string, std::less<>>& values);

}  // namespace closeloop::server
