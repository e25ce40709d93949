#pragma once
// closeloop's configuration: JSON validated against schemas/config.schema.json (unknown keys are
// an error naming the key). Every default lives here, in the member initialisers below.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/classifier.hpp"
#include "closeloop/engine.hpp"
#include "closeloop/health.hpp"
#include "closeloop/model.hpp"
#include "closeloop/result.hpp"

namespace closeloop {

using std::chrono::milliseconds;

struct tls_config {
  std::string cert_file;  // PEM certificate chain
  std::string key_file;   // PEM private key
};

struct server_config {
  std::string listen = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: pick a free port (printed and written to port_file)
  std::string port_file;      // if set, the bound port is written here once listening
  std::optional<tls_config> tls;
  std::size_t body_limit_bytes = 1024 * 1024;
  milliseconds read_timeout{10000};   // whole request (header + body) must arrive within this
  milliseconds idle_timeout{60000};   // keep-alive connection with no request
  milliseconds signature_tolerance{5 * 60 * 1000};
  int threads = 2;
  std::string public_base_url;  // how customers reach us (survey links); default http://listen:port
  std::string metrics_token;    // set: GET /metrics needs "Authorization: Bearer <it>"; empty: open
};

struct store_config {
  std::string path = "closeloop.db";
  int max_batch = 512;              // events per group commit
  std::string synchronous = "full";  // "full" (durable on power loss) or "normal"
};

struct worker_config {
  bool enabled = true;
  milliseconds poll_interval{200};
  int batch = 32;
  int max_attempts = 10;
  milliseconds backoff_base{1000};
  milliseconds backoff_max{15 * 60 * 1000};
  milliseconds lease{60000};  // a claimed action not finished in this time is retried
  milliseconds http_timeout{10000};
  // Per-host circuit breaker: after this many consecutive retryable failures (transport errors,
  // 408, 5xx) the host's actions are not attempted for breaker_cooldown, then one probe decides.
  int breaker_failures = 5;  // 0: no breaker
  milliseconds breaker_cooldown{30000};
};

struct host_config {
  std::string id;      // unique in the tenant; used in /webhooks/{tenant}/{host}
  std::string vendor;  // "generic", "request_tracker", "zendesk", "freshdesk", "zammad"
  json settings = json::object();  // the whole host object; each adapter reads its own keys
};

struct tenant_config {
  std::string id;
  std::vector<host_config> hosts;
  policy pol;
  rule_classifier_config classifier;
  health::options health;  // "health": customer health bands and their write-back
  struct sidebar_config {  // "sidebar": the agent sidebar's signed host context
    std::string secret;    // HMAC key of the context (shared with the RT extension); empty: tokens only
    std::chrono::seconds context_ttl{600};  // a context older than this is refused
  } sidebar;
  // "monitoring": alert rules, delivery channels, scheduled reports — schema-checked here, parsed
  // (with its defaults) by monitor::parse_monitoring (plugin/src/monitor/service.hpp).
  json monitoring = json::object();
  const host_config* find_host(std::string_view id) const noexcept;
};

// "security": where the key that seals stored secrets comes from (closeloop/secrets.hpp).
struct security_config {
  std::string key_file;                         // CLOSELOOP_KEY / CLOSELOOP_KEY_FILE take precedence
  std::vector<std::string> previous_key_files;  // still accepted for reading while rotating
};

// "privacy": retention per data kind (0 days = keep) and the worker's purge.
struct privacy_config {
  int events_days = 0;          // events (and finished outbox rows) older than this are deleted
  int texts_days = 0;           // free texts (event text/subject/comments, ticket KB messages) removed
  int survey_answers_days = 0;  // survey answers and comments removed (the score stays for reports)
  std::chrono::seconds purge_interval{3600};
  int purge_batch = 500;  // rows per purge transaction
};

// A secret given as {"ref": NAME} instead of its value: stored sealed in the store (secrets
// table) under (tenant, host, name); host is empty for a tenant-level secret (policy.survey.
// link_secret, webhooks, sidebar). Resolved by resolve_secret_refs before use.
struct secret_ref {
  std::string pointer;  // JSON pointer in the config document, e.g. /tenants/0/hosts/1/auth/api_token
  std::string tenant, host, name;
};

struct config {
  server_config server;
  store_config store;
  worker_config worker;
  security_config security;
  privacy_config privacy;
  std::vector<tenant_config> tenants;
  std::string log_level = "info";
  std::vector<secret_ref> secret_refs;           // still to resolve (empty once resolved)
  std::vector<std::string> plaintext_secrets;    // pointers of secrets written in clear (doctor warns)
  json source = json::object();                  // the document as loaded (refs in place)
  std::string base_dir = ".";
  const tenant_config* find_tenant(std::string_view id) const noexcept;
};

// Validate (schema + cross-field checks) and build. base_dir resolves relative paths.
result<config> parse_config(std::string_view json_text, const std::string& base_dir = ".");
result<config> load_config_file(const std::string& path);

// Secrets in the config: every value under a key named webhook_secret, secret, token, api_token,
// oauth_token, password, api_key or link_secret inside a tenant. `visit` sees each
// one (pointer, tenant id, host id or "", the field's key path relative to its host/tenant such
// as "auth.api_token", and the value: a string in clear or a {"ref": NAME} object).
struct secret_field {
  std::string pointer, tenant, host, path;
  json* value = nullptr;
};
void visit_secret_fields(json& doc, const std::function<void(secret_field&)>& visit);
// Replaces every {"ref": NAME} with lookup(ref)'s value and rebuilds the config (the values are
// then validated like ones written in clear). The error names the pointer of the failing ref.
using secret_lookup = std::function<result<std::string>(const secret_ref&)>;
result<void> resolve_secret_refs(config& c, const secret_lookup& lookup);

// Schema validation of any document against one of the bundled schemas
// ("config", "event", "action"). The error names the JSON pointer of the first violation.
result<void> validate_against_schema(std::string_view schema_name, const json& doc);

}  // namespace closeloop
