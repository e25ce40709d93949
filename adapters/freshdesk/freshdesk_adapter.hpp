#pragma once
// The "freshdesk" vendor: Freshdesk API v2 (<base_url>/api/v2) and automation-rule webhooks.
// See README.md in this folder for the settings, the webhook body the rules send and the exact
// calls each action makes.
//
// Inbound: Freshdesk signs nothing. Each automation rule's "Trigger webhook" action sends
//   X-Closeloop-Secret: <webhook.secret>                  (a custom header in the rule)
//   Authorization: Basic base64(<webhook.user>:<webhook.password>)  (the rule's basic auth)
// and both are required. That is authentication, not integrity: use https.
// Outbound: API key as the basic-auth user ("Authorization: Basic base64(<api_key>:X)").
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/adapter.hpp"
#include "common/http_client.hpp"

namespace closeloop::adapters::freshdesk {

inline constexpr std::string_view vendor_id = "freshdesk";
inline constexpr std::string_view secret_header = "x-closeloop-secret";

// The settings after validation, with every default applied (defaults here and in README.md).
struct settings {
  std::string base_url;     // "https://acme.freshdesk.com", without /api/v2 and without a trailing '/'
  std::string auth_header;  // "Basic base64(api_key:X)"
  std::string webhook_secret;      // the X-Closeloop-Secret value (empty: inbound refused)
  std::string webhook_basic;       // "user:password" the rule's basic auth must carry
  std::int64_t priority[3] = {2, 3, 4};  // normal, urgent, critical -> Freshdesk 1 Low .. 4 Urgent
  // canonical field name -> Freshdesk custom field name (cf_...). "tags" goes to the ticket's tags.
  std::map<std::string, std::string> custom_fields = {
      {"category", "cf_category"}, {"sentiment", "cf_sentiment"}, {"language", "cf_language"},
      {"priority_reason", "cf_priority_reason"}, {"csat", "cf_csat"},
  };
  std::map<std::string, std::int64_t> groups;  // group name -> Freshdesk group id
  std::map<std::string, std::int64_t> agents;  // owner name -> Freshdesk agent id
  std::optional<std::int64_t> kb_folder_id;    // Solutions folder for closeloop's drafts
  std::string ca_file;
};

class freshdesk_adapter final : public adapter {
 public:
  static result<std::unique_ptr<freshdesk_adapter>> create(const tenant_config& tenant, const host_config& host,
                                                           const adapter_env& env);

  std::string_view vendor() const noexcept override { return vendor_id; }
  result<void> verify(const inbound_request& req, timestamp now) const override;
  result<std::vector<event>> translate(const inbound_request& req) const override;
  action_outcome execute(const action& a) override;
  // GET /api/v2/agents/me -> "reached Freshdesk at <url>: HTTP 200 (agent <email>)".
  result<std::string> check_reachable() override;
  // The articles of kb.folder_id: GET /solutions/folders/:id/articles?page=<cursor>&per_page=<limit>;
  // the next page while Freshdesk's Link header says rel="next".
  result<kb_page> list_articles(const std::string& cursor, int limit) override;

  const settings& config() const noexcept { return s_; }
  std::string api_url(std::string_view path) const;  // api_url("/tickets/1") -> "<base_url>/api/v2/tickets/1"

 private:
  freshdesk_adapter(std::string tenant, std::string host, adapter_env env, settings s, http::client client)
      : tenant_(std::move(tenant)),
        host_(std::move(host)),
        env_(std::move(env)),
        s_(std::move(s)),
        client_(std::move(client)) {}

  result<http::response> call(std::string method, std::string_view path, const json* body) const;
  action_outcome update_ticket(const action& a, const json& changes, const char* what) const;
  action_outcome set_priority(const action& a) const;
  action_outcome set_fields(const action& a) const;
  action_outcome assign_group(const action& a) const;
  action_outcome reopen(const action& a) const;
  action_outcome post_conversation(const action& a, bool is_public, const std::string& body) const;
  action_outcome create_kb_article(const action& a) const;
  // Looks for the marker in the ticket's conversations (all pages, bounded).
  result<bool> conversation_has(const std::string& ticket, const std::string& marker, action_outcome& failure) const;
  std::optional<std::int64_t> lookup(const std::map<std::string, std::int64_t>& names, const std::string& name) const;

  std::string tenant_;
  std::string host_;
  adapter_env env_;
  settings s_;
  http::client client_;
};

// Freshdesk's error body {"description": "Validation failed", "errors": [{"field", "message",
// "code"}]} as one line: "Validation failed: priority: It should be one of these values: '1,2,3,4'".
std::string freshdesk_message(const http::response& r);

}  // namespace closeloop::adapters::freshdesk
