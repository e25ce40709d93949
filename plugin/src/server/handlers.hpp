#pragma once
// Request handlers: functions of (request, services) -> response. A handler never calls a
// vendor; the webhook handler answers only after the store has committed (through `respond`,
// which may run on the store's committer thread — the session moves it back to its strand).
#include <functional>

#include <boost/beast/http.hpp>

#include "server/services.hpp"

namespace closeloop::server {

namespace http = boost::beast::http;
using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;
using respond_fn = std::function<void(http_response)>;

// Dispatches through the route table (routes.hpp), after the route's access check. Always calls
// `respond` exactly once.
void handle_request(const http_request& req, services& svc, respond_fn respond);

struct route_params;

// Route handlers of handlers.cpp (see the table in routes.cpp).
namespace handlers {
void webhook(const http_request& req, services& svc, const route_params& p, respond_fn respond);
void healthz(const http_request& req, services& svc, const route_params& p, respond_fn respond);
void metrics(const http_request& req, services& svc, const route_params& p, respond_fn respond);
}  // namespace handlers

// A JSON error body: {"error": code, "message": text}
http_response json_error(const http_request& req, http::status status, std::string_view code, std::string_view message);
http_response json_response(const http_request& req, http::status status, const json& body);

}  // namespace closeloop::server
