#pragma once
// Access control for closeloop serve (README "Access control").
//
// Every route is declared in one table (routes.hpp) with what it needs: "public" (/healthz),
// "signed" (webhooks: the host's signature; the survey page: its signed link), "metrics"
// (server.metrics_token when set) or a role, viewer < agent < admin. For a role route the
// dispatcher calls authorize() before the handler runs and hands the handler the principal, so a
// new API route is one table entry and cannot forget its check. A handler that needs a finer
// check (e.g. admin for one kind of write) calls authorize() itself, first.
//
// Credentials: `Authorization: Bearer clt_...` (an API token of one tenant, stored hashed, see
// closeloop/token_store.hpp), or a route's own verifier (e.g. the sidebar's signed host context),
// tried first, which yields a principal the same way.
//
// Answers: no/unknown/revoked/expired credential -> 401 with `WWW-Authenticate: Bearer`; a
// principal of another tenant -> 403 whatever its role; a role below the route's -> 403 naming
// the role needed.
#include <optional>
#include <string>
#include <string_view>

#include "closeloop/token_store.hpp"
#include "server/handlers.hpp"
#include "server/services.hpp"

namespace closeloop::server::auth {

using role = api_role;  // viewer < agent < admin

struct principal {
  std::string kind;    // "token", or the verifier's name (e.g. "host_context")
  std::string id;      // token id, or the verifier's subject (e.g. the agent's host user id)
  std::string tenant;  // the only tenant it may act for
  role r = role::viewer;
  std::string label;   // token label / display name
  // For audit entries: "token:<id>", "host_context:<subject>".
  std::string actor() const { return kind + ":" + id; }
};

// An alternative credential, tried before the bearer token: nullopt when the request carries no
// credential of this kind; an error (errc::unauthorized, naming what is wrong) for one that does
// not verify; otherwise the principal. Must not throw.
using verifier = std::optional<result<principal>> (*)(const http_request& req, services& svc);

struct authz {
  std::optional<principal> who;
  http_response denied;  // the 401/403 to send when !who
  explicit operator bool() const noexcept { return who.has_value(); }
};

// The one call: who is asking, and may they act for `tenant` with at least `need`?
//   auto a = auth::authorize(req, svc, tenant, auth::role::admin);
//   if (!a) return respond(std::move(a.denied));
authz authorize(const http_request& req, services& svc, std::string_view tenant, role need,
                verifier extra = nullptr);

// /metrics: open when server.metrics_token is empty, else that bearer token (constant time).
authz authorize_metrics(const http_request& req, services& svc);

// The token from `Authorization: Bearer <token>` ("" when absent or another scheme).
std::string_view bearer_token(const http_request& req);

// The 401 / 403 answers (JSON {"error", "message"[, "required_role"]}).
http_response unauthorized(const http_request& req, std::string_view message, bool invalid_token);
http_response forbidden(const http_request& req, std::string_view message, std::optional<role> required = {});

}  // namespace closeloop::server::auth
