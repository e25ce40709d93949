#pragma once
// The "zammad" vendor: Zammad's REST API (<base_url>/api/v1) and trigger webhooks. See README.md
// in this folder for the settings, the payload mapping and the exact calls each action makes.
//
// Inbound: a trigger's webhook with an "HMAC SHA1 Signature Token" sends
//   X-Hub-Signature: sha1=<hex HMAC-SHA1(token, raw body)>
// (no timestamp: Zammad has no replay protection; dedupe is by the ticket/article ids).
// Outbound: "Authorization: Token token=<t>", an OAuth2 "Bearer <t>", or HTTP Basic.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/adapter.hpp"
#include "common/http_client.hpp"

namespace closeloop::adapters::zammad {

inline constexpr std::string_view vendor_id = "zammad";
inline constexpr std::string_view signature_header = "x-hub-signature";
inline constexpr std::string_view delivery_header = "x-zammad-delivery";

// The settings after validation, with every default applied (defaults here and in README.md).
struct settings {
  std::string base_url;     // "https://zammad.example.com", without /api/v1 and a trailing '/'
  std::string auth_header;  // "Token token=<t>", "Bearer <t>" or "Basic <base64>"
  std::string webhook_secret;  // the webhook's HMAC SHA1 signature token (empty: inbound refused)
  std::int64_t priority[3] = {2, 3, 3};  // normal, urgent, critical -> Zammad priority_id (2 normal, 3 high)
  // canonical field name -> Zammad ticket attribute (object manager). "tags" go to the tag list.
  std::map<std::string, std::string> custom_fields = {
      {"category", "closeloop_category"}, {"sentiment", "closeloop_sentiment"}, {"language", "closeloop_language"},
      {"priority_reason", "closeloop_priority_reason"}, {"csat", "closeloop_csat"},
  };
  std::optional<std::int64_t> kb_id;
  std::optional<std::int64_t> kb_category_id;
  std::int64_t kb_locale_id = 1;
  std::string kb_visibility = "internal";  // "draft", "internal" or "public"
  std::string ca_file;
};

class zammad_adapter final : public adapter {
 public:
  static result<std::unique_ptr<zammad_adapter>> create(const tenant_config& tenant, const host_config& host,
                                                        const adapter_env& env);

  std::string_view vendor() const noexcept override { return vendor_id; }
  result<void> verify(const inbound_request& req, timestamp now) const override;
  result<std::vector<event>> translate(const inbound_request& req) const override;
  action_outcome execute(const action& a) override;
  // GET /api/v1/users/me -> "reached Zammad at <url>: HTTP 200 (user <login>)".
  result<std::string> check_reachable() override;
  // The answers of kb.category_id (from POST /knowledge_bases/init, in id order), `limit` per page
  // from the offset in `cursor`, each read with GET /knowledge_bases/:kb/answers/:id?full=1&include_contents=1.
  result<kb_page> list_articles(const std::string& cursor, int limit) override;

  const settings& config() const noexcept { return s_; }
  std::string api_url(std::string_view path) const;  // api_url("/tickets/1") -> "<base_url>/api/v1/tickets/1"

 private:
  zammad_adapter(std::string tenant, std::string host, adapter_env env, settings s, http::client client)
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
  action_outcome post_article(const action& a, bool is_public, const std::string& body) const;
  action_outcome create_kb_article(const action& a) const;
  action_outcome set_answer_visibility(const std::string& answer_id, const std::string& visibility) const;
  result<json> kb_assets(const http::response& init) const;  // the asset maps of POST /knowledge_bases/init

  std::string tenant_;
  std::string host_;
  adapter_env env_;
  settings s_;
  http::client client_;
};

}  // namespace closeloop::adapters::zammad
