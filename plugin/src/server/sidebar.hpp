#pragma once
// The agent sidebar (README "Agent sidebar"): a small server-rendered page embedded in the host's
// ticket view, showing what closeloop knows about the ticket — category + confidence, sentiment,
// language, priority + reasons, the customer's survey history and health, suggested KB articles —
// with "correct this" controls (category, priority, sentiment) whose POST becomes a
// ticket.updated correction, the same labelled example an agent's edit in the host produces.
// No JavaScript; works at 320 px. Access: the signed host context (sidebar_context.hpp) or an API
// token of role agent (server/auth.hpp), limited to the tenant it names.
#include <optional>
#include <string>
#include <vector>

#include "closeloop/health.hpp"
#include "server/handlers.hpp"
#include "server/services.hpp"

namespace closeloop::server::sidebar {

struct article_view {
  std::string title, url;
  double similarity = 0;
  bool draft = false;
};

struct answer_view {
  std::string ticket, kind, date;  // date: YYYY-MM-DD
  int score = 0;
  bool negative = false, this_ticket = false;
};

struct correction_form {
  std::string field;                // category | priority | sentiment
  std::string current;              // what closeloop has now
  std::vector<std::string> choices;
  std::string sid, csrf;            // submission id and form token
};

// Everything the page shows (sidebar_html.cpp renders it).
struct view {
  std::string lang = "en";  // en, zh-CN, zh-TW
  std::string tenant, host, ticket, subject, status, ctx;
  std::string category, sentiment, language, priority, priority_label;
  std::optional<double> confidence;
  std::vector<std::string> priority_reasons;
  // Service level (policy.sla): the due times and, once they happened, the first public reply and
  // the resolution; `now` for "due in" / "overdue by".
  std::optional<timestamp> first_reply_due, resolution_due, first_reply_at, resolved_at;
  timestamp now{};
  std::vector<std::pair<std::string, std::string>> corrected;  // field -> value an agent set
  std::string customer;
  std::optional<health::assessment> health;
  std::vector<answer_view> answers;
  std::vector<article_view> articles;
  std::vector<correction_form> forms;  // empty without a context (token access: read-only page)
  std::string notice;                  // after a correction: what was recorded
  std::string error;                   // a refused correction: why
};

std::string render_page(const view& v);
// A page with only a message (401/403/404 in the sidebar's frame), in `lang`.
std::string render_message(std::string_view lang, std::string_view title, std::string_view detail);
// The page's headers: no-store, no referrer (the context is in the URL), CSP without scripts,
// frame-ancestors = this server and the tenant's hosts.
http_response page_response(const http_request& req, services& svc, std::string_view tenant, http::status status,
                            std::string body);

// Routes (routes.cpp). `handle` is GET/HEAD -> handle_page, POST -> handle_correction.
void handle(const http_request& req, services& svc, const route_params& p, respond_fn respond);
// GET /sidebar?ctx=...  |  GET /sidebar?tenant=T&host=H&ticket=K with Authorization: Bearer (agent)
void handle_page(const http_request& req, services& svc, const route_params& p, respond_fn respond);
// POST /sidebar (form: ctx, _sid, _csrf, field, value) -> 303 back to the page
void handle_correction(const http_request& req, services& svc, const route_params& p, respond_fn respond);
// POST /api/v1/tenants/{tenant}/hosts/{host}/tickets/{ticket}/sidebar-context (agent token)
//   -> {"ctx", "url", "expires_at"}: how the Zendesk and Freshdesk apps get a signed context
void handle_mint(const http_request& req, services& svc, const route_params& p, respond_fn respond);

}  // namespace closeloop::server::sidebar
