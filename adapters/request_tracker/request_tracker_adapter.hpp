#pragma once
// The "request_tracker" vendor: Best Practical Request Tracker 5.0.x through its REST2 API
// (<base_url>/REST/2.0). See README.md in this folder for the settings, the scrip payload and
// the exact calls each action makes.
//
// Inbound (bridge door): an RT scrip POSTs one transaction (or an array of them) as JSON, signed
//   X-Plugin-Timestamp: <unix seconds>
//   X-Plugin-Signature: sha256=<hex HMAC-SHA256(webhook_secret, timestamp + "." + raw body)>
// Outbound: REST2 calls authenticated with "Authorization: token <t>" or HTTP Basic.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/adapter.hpp"
#include "common/http_client.hpp"

namespace closeloop::adapters::request_tracker {

inline constexpr std::string_view vendor_id = "request_tracker";
inline constexpr std::string_view timestamp_header = "x-plugin-timestamp";
inline constexpr std::string_view signature_header = "x-plugin-signature";

// The settings after validation, with every default applied (defaults live in README.md and
// here only).
struct settings {
  std::string base_url;  // without a trailing '/', e.g. "https://rt.example.com/rt"
  std::string auth_header;  // "token <t>" or "Basic <base64>"
  std::string queue = "General";
  std::string article_class = "closeloop";
  std::int64_t priority_normal = 0;
  std::int64_t priority_urgent = 50;
  std::int64_t priority_critical = 100;
  // canonical field name -> RT custom field name. "idempotency_key" names the transaction CF
  // that carries an action's idempotency key on the comments and replies closeloop writes.
  std::map<std::string, std::string> custom_fields = {
      {"category", "Category"}, {"sentiment", "Sentiment"},  {"language", "Language"},
      {"priority_reason", "Priority reason"}, {"csat", "CSAT"}, {"tags", "Tags"},
      {"sla_first_reply_due", "First reply due"}, {"idempotency_key", "closeloop key"},
  };
  // The SLA's resolution due time (set_fields' sla_resolution_due) is written into RT's own Due
  // date, which RT shows, searches ("overdue") and mails about. Off for a site whose RT sets Due
  // itself (RT's %ServiceAgreements).
  bool write_due = true;
  std::string webhook_secret;  // raw bytes (the scrip uses the same string as the HMAC key)
  std::string ca_file;
};

// One article found by search_articles.
struct article_hit {
  std::string id;
  std::string name;
  std::string summary;
  std::string class_id;
};

struct article_search {
  // REST2 JSON query, e.g. [{"field":"Name","operator":"LIKE","value":"printer"}]. Custom fields
  // are written "CF.{Content}". An empty array matches every article the token may see.
  json query = json::array();
  int per_page = 20;          // 1..100 (RT's maximum)
  int max_pages = 50;         // stop after this many pages (bounded work)
  bool in_article_class = true;  // restrict to the configured article_class
};

class request_tracker_adapter final : public adapter {
 public:
  // Validates the settings; errors name the key, e.g. "tenants[acme].hosts[rt].auth: ...".
  static result<std::unique_ptr<request_tracker_adapter>> create(const tenant_config& tenant, const host_config& host,
                                                                 const adapter_env& env);

  std::string_view vendor() const noexcept override { return vendor_id; }
  result<void> verify(const inbound_request& req, timestamp now) const override;
  result<std::vector<event>> translate(const inbound_request& req) const override;
  action_outcome execute(const action& a) override;
  // GET <base_url>/REST/2.0/rt -> "reached RT <Version> at <url>".
  result<std::string> check_reachable() override;
  // The articles of article_class: cursor = RT page number; each article's Content CF is read
  // with GET /article/:id (limit + 1 requests per page).
  result<kb_page> list_articles(const std::string& cursor, int limit) override;
  // Immediate actions as RT values, for the extension that applies them in RT's own request:
  // {"Priority": 50}, {"CustomFields": {"Category": "billing"}}, {"Comment": "..."},
  // {"Queue": "Billing"}; null for other actions.
  json render_for_host(const action& a) const override;

  // Articles matching the query, following RT's pagination (page / per_page) until the last page
  // or max_pages. Read-only; bounded by max_pages requests of http_timeout each.
  result<std::vector<article_hit>> search_articles(const article_search& search) const;

  const settings& config() const noexcept { return s_; }

  // The URL of a REST2 resource: rest_url("/ticket/1") -> "<base_url>/REST/2.0/ticket/1".
  std::string rest_url(std::string_view path) const;

 private:
  request_tracker_adapter(std::string tenant, std::string host, adapter_env env, settings s, http::client client)
      : tenant_(std::move(tenant)),
        host_(std::move(host)),
        env_(std::move(env)),
        s_(std::move(s)),
        client_(std::move(client)) {}

  // The outcome of a PUT /ticket/:id followed by a read-back of the ticket.
  struct put_result {
    std::optional<action_outcome> failure;  // set when either call did not succeed
    std::string messages;                   // RT's messages for the PUT, joined with "; "
    json ticket;                            // the ticket as RT shows it after the PUT
    int status = 0;
  };

  struct mapped_fields {
    json cfs = json::object();                                // RT CF name -> value or list
    std::map<std::string, std::vector<std::string>> wanted;  // RT CF name -> values
    std::map<std::string, bool> multi;
    std::string skipped;  // canonical names with no RT custom field
    std::string due;      // RT's Due ("YYYY-MM-DD HH:MM:SS", UTC) from sla_resolution_due, or ""
  };
  result<void> map_fields(const json& fields, mapped_fields& m) const;
  std::int64_t priority_value(priority p) const noexcept;

  result<http::response> call(std::string method, std::string_view path, const json* body) const;
  put_result put_and_read(const std::string& ticket, const json& changes) const;
  action_outcome post_message(const action& a, const std::string& kind, const std::string& body) const;
  action_outcome set_priority(const action& a) const;
  action_outcome set_fields(const action& a) const;
  action_outcome assign_group(const action& a) const;
  action_outcome reopen(const action& a) const;
  action_outcome create_kb_article(const action& a) const;
  result<std::string> queue_id(const std::string& name, action_outcome& failure) const;
  result<std::string> class_id(const std::string& name) const;

  std::string tenant_;
  std::string host_;
  adapter_env env_;
  settings s_;
  http::client client_;
};

}  // namespace closeloop::adapters::request_tracker
