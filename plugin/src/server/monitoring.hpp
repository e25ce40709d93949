#pragma once
// The monitoring API and the worker's monitoring pass (plugin/src/monitor does the work):
//   GET  /api/v1/tenants/{t}/metrics[?by&value&period&from&to&format=json|csv]   figures per segment/period
//   GET  /api/v1/tenants/{t}/metrics/tickets[?by&value&metric&from&to&limit&offset&format]  drill-down
//   GET  /api/v1/tenants/{t}/report[?period&from&to&format=html|json|csv]       the report, live
//   GET  /api/v1/tenants/{t}/reports, /reports/{id}[?format=html|json]          stored (scheduled) reports
//   GET  /api/v1/tenants/{t}/alerts[?status], POST /alerts/{id}/ack, GET /alerts/suggestions
// Access (routes.cpp): viewer for reading, agent to acknowledge, admin for suggestions; CSV
// exports and acknowledgements are written to the audit log.
#include "server/routes.hpp"

namespace closeloop::server::monitoring {

void handle_metrics(const http_request& req, services& svc, const route_params& p, respond_fn respond);
void handle_tickets(const http_request& req, services& svc, const route_params& p, respond_fn respond);
void handle_report(const http_request& req, services& svc, const route_params& p, respond_fn respond);
void handle_reports(const http_request& req, services& svc, const route_params& p, respond_fn respond);
void handle_stored_report(const http_request& req, services& svc, const route_params& p, respond_fn respond);
void handle_alerts(const http_request& req, services& svc, const route_params& p, respond_fn respond);
void handle_ack(const http_request& req, services& svc, const route_params& p, respond_fn respond);
void handle_suggestions(const http_request& req, services& svc, const route_params& p, respond_fn respond);

// The worker's pass: brings the facts up to date with new events, then (every
// monitoring.evaluate_every_s per tenant) evaluates alert rules and makes due scheduled reports.
// Returns 1 when more events wait (the worker goes on at once), else 0.
int tick(services& svc);

// How alerts reach a host: an internal note on the tracking ticket through the host's adapter.
monitor::host_note_fn host_note_for(services& svc, const std::string& tenant);

}  // namespace closeloop::server::monitoring
