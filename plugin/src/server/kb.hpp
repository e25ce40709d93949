#pragma once
// The knowledge loop's I/O half (kb.cpp): the worker's execution of create_kb_article (dedupe
// against closeloop's index first) and suggest_kb_articles, the index refresh through
// adapter::list_articles, and the JSON routes the agent sidebar and reports use.
#include "server/handlers.hpp"
#include "server/services.hpp"

namespace closeloop::server::kb {

// For the worker: create_kb_article and suggest_kb_articles. Other actions are not taken.
bool handles(const action& a) noexcept;
adapters::action_outcome execute(services& svc, adapters::adapter& ad, const action& a);

// Re-reads the host's articles through the adapter when the local copy is older than max_age
// (never read: always). A host without a KB listing keeps only closeloop's own drafts.
result<void> refresh(services& svc, adapters::adapter& ad, const std::string& tenant, const std::string& host,
                     std::chrono::milliseconds max_age);

// Route handlers (routes.cpp; access checked before they run):
// GET /api/v1/tenants/{tenant}/hosts/{host}/tickets/{ticket}/suggestions[?limit=N]
void handle_suggestions(const http_request& req, services& svc, const route_params& p, respond_fn respond);
// GET /api/v1/tenants/{tenant}/kb/report
void handle_report(const http_request& req, services& svc, const route_params& p, respond_fn respond);

// The top `limit` KB articles for a ticket (its subject and first message against the host's
// index): {"indexed": N, "suggestions": [{article_id, title, url, draft, origin, score, similarity}]}.
// Also the agent sidebar's list.
result<json> suggestions_for(services& svc, const std::string& tenant, const std::string& host, const ticket_state& st,
                             int limit);

// The outcome report as JSON (also `closeloop kb report`).
json report_json(kb_store& kb, const std::string& tenant, const kb_report_options& o = {});

}  // namespace closeloop::server::kb
