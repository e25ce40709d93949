#pragma once
// The "zendesk" vendor: Zendesk Support (tickets) and Help Center (articles) through the REST API
// at <base_url>/api/v2. See README.md in this folder for the settings, the webhook payloads and
// the exact calls each action makes.
//
// Inbound: a Zendesk webhook (connected to the triggers manifests/zendesk/requirements.json
//   creates, or subscribed to zen:event-type:ticket.* events), signed
//   X-Zendesk-Webhook-Signature-Timestamp: <ISO-8601 UTC>
//   X-Zendesk-Webhook-Signature: base64(HMAC-SHA256(signing secret, timestamp + raw body))
// Outbound: "Authorization: Basic base64(<email>/token:<api_token>)" or "Bearer <oauth token>".
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/adapter.hpp"
#include "common/http_client.hpp"

namespace closeloop::adapters::zendesk {

inline constexpr std::string_view vendor_id = "zendesk";
inline constexpr std::string_view signature_header = "x-zendesk-webhook-signature";
inline constexpr std::string_view timestamp_header = "x-zendesk-webhook-signature-timestamp";

// Help Center settings for create_kb_article (absent: the action fails, saying so).
struct help_center_settings {
  std::string locale = "en-us";
  std::int64_t section_id = 0;
  std::int64_t permission_group_id = 0;
  std::optional<std::int64_t> user_segment_id;  // null = visible to everyone
  std::vector<std::string> labels = {"closeloop"};
};

// The settings after validation, every default applied (defaults live here and in README.md).
struct settings {
  std::string base_url;     // e.g. "https://acme.zendesk.com", no trailing '/'
  std::string auth_header;  // "Basic <base64(email/token:api_token)>" or "Bearer <token>"
  std::string webhook_secret;  // the webhook's signing secret, used verbatim as the HMAC key
  // closeloop priority -> Zendesk priority (low, normal, high, urgent)
  std::map<std::string, std::string> priority_map = {{"normal", "normal"}, {"urgent", "high"}, {"critical", "urgent"}};
  std::map<std::string, std::int64_t> custom_fields;  // canonical field -> Zendesk ticket field id
  bool field_tags = true;  // unmapped category/sentiment/language -> tag closeloop_<field>_<value>
  std::map<std::string, std::int64_t> groups;  // group name -> Zendesk group id
  std::optional<help_center_settings> help_center;
  int max_pages = 10;  // bound on pages read when listing (audits, section articles)
  std::string ca_file;
};

struct article_hit {
  std::string id;
  std::string title;
  std::string url;
  bool draft = false;
  std::vector<std::string> labels;
};

class zendesk_adapter final : public adapter {
 public:
  // Validates the settings; errors name the key, e.g. "tenants[acme].hosts[zd].auth: ...".
  static result<std::unique_ptr<zendesk_adapter>> create(const tenant_config& tenant, const host_config& host,
                                                         const adapter_env& env);

  std::string_view vendor() const noexcept override { return vendor_id; }
  result<void> verify(const inbound_request& req, timestamp now) const override;
  result<std::vector<event>> translate(const inbound_request& req) const override;
  action_outcome execute(const action& a) override;
  // GET /api/v2/users/me -> "reached Zendesk at <url> as <email>: HTTP 200".
  result<std::string> check_reachable() override;

  // The Help Center section's articles (drafts included): cursor = Zendesk's page[after] cursor,
  // one GET per page of at most `limit` (1..100). Needs help_center.
  result<kb_page> list_articles(const std::string& cursor, int limit) override;

  // Help Center article search (GET /api/v2/help_center/articles/search?query=&locale=),
  // following next_page up to max_pages. Zendesk's search returns published articles only.
  result<std::vector<article_hit>> search_articles(const std::string& query) const;

  const settings& config() const noexcept { return s_; }

  // The label that marks the article created for an idempotency key: closeloop-<16 hex>.
  static std::string key_label(const std::string& idempotency_key);

 private:
  zendesk_adapter(std::string tenant, std::string host, adapter_env env, settings s, http::client client)
      : tenant_(std::move(tenant)),
        host_(std::move(host)),
        env_(std::move(env)),
        s_(std::move(s)),
        client_(std::move(client)) {}

  result<http::response> call(const std::string& method, const std::string& path_or_url, const json* body) const;
  action_outcome update_ticket(const action& a, json ticket) const;
  action_outcome post_comment(const action& a, const std::string& body, bool is_public) const;
  action_outcome set_priority(const action& a) const;
  action_outcome set_fields(const action& a) const;
  action_outcome assign_group(const action& a) const;
  action_outcome reopen(const action& a) const;
  action_outcome create_kb_article(const action& a) const;
  std::optional<std::int64_t> group_id(const std::string& name) const;

  std::string tenant_;
  std::string host_;
  adapter_env env_;
  settings s_;
  http::client client_;
};

}  // namespace closeloop::adapters::zendesk
