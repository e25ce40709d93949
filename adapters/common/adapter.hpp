#pragma once
// The adapter contract (see adapters/README.md): an adapter translates one vendor's webhooks into
// canonical events and executes canonical actions against that vendor's API. It never decides.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/config.hpp"
#include "closeloop/model.hpp"
#include "closeloop/result.hpp"

namespace closeloop::adapters {

// Header names are stored lower-case.
struct inbound_request {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When the server read the request (its clock). For vendors whose payload carries no time of
  // its own (Freshdesk automation webhooks); zero when the caller did not set it.
  timestamp received_at{};
  const std::string* header(std::string_view lower_name) const noexcept;
};

struct action_outcome {
  enum class kind { done, retry, failed };
  kind k = kind::done;
  int http_status = 0;      // 0 when no HTTP answer (connect error, timeout)
  std::string message;      // the host's own message, kept for the operator
  std::optional<std::chrono::milliseconds> retry_after;  // from the host's Retry-After
  std::string created_id;   // create_kb_article: the host's id of the new (or found) article
  static action_outcome done(int status = 0) { return {kind::done, status, {}, {}, {}}; }
  static action_outcome retry(std::string msg, int status = 0,
                              std::optional<std::chrono::milliseconds> after = {}) {
    return {kind::retry, status, std::move(msg), after, {}};
  }
  static action_outcome failed(std::string msg, int status = 0) {
    return {kind::failed, status, std::move(msg), {}, {}};
  }
};

// Knowledge base (issue 6). One article as the host keeps it, for closeloop's local index
// (dedupe of drafts, suggestions on new tickets). See adapters/README.md §4a.
struct kb_article {
  std::string id;      // the host's article id (string even when numeric)
  std::string title;
  std::string body;    // the text as the host stores it (HTML is fine: the indexer strips tags)
  std::string url;     // where an agent opens it; empty when unknown
  std::string locale;  // "en", "zh-Hans", ...; empty when unknown
  bool draft = false;  // unpublished / not visible to customers
};

// One page of list_articles. next_cursor is empty on the last page.
struct kb_page {
  std::vector<kb_article> articles;
  std::string next_cursor;
};

struct adapter_env {
  std::string public_base_url;  // closeloop's public URL (survey links)
  std::chrono::milliseconds http_timeout{10000};
  std::chrono::milliseconds signature_tolerance{5 * 60 * 1000};  // Standard Webhooks: 5 minutes
};

class adapter {
 public:
  virtual ~adapter() = default;
  virtual std::string_view vendor() const noexcept = 0;

  // Check the request's authenticity exactly as the vendor signs it. Runs before any JSON parsing.
  // The error (errc::unauthorized) says why, e.g. "webhook-timestamp is older than 300 s".
  virtual result<void> verify(const inbound_request& req, timestamp now) const = 0;

  // After verify: the canonical events in the request (tenant and host filled in).
  virtual result<std::vector<event>> translate(const inbound_request& req) const = 0;

  // Execute one action against the host. Blocking, bounded by the configured timeout.
  virtual action_outcome execute(const action& a) = 0;

  // For hosts that apply immediate actions inside their own request (the RT extension): the
  // action in the host's own terms, or null when the host has no such rendering.
  virtual json render_for_host(const action& /*a*/) const { return nullptr; }

  // Knowledge base: the host's articles closeloop may dedupe against and suggest (for RT: the
  // configured article class). Pages of at most `limit` articles; `cursor` is empty for the
  // first page, then the previous page's next_cursor. Bounded like execute (one or a few vendor
  // calls per page), no retries inside. A host without a KB answers errc::unsupported (the
  // default); closeloop then dedupes only against the drafts it made itself.
  // create_kb_article (action params: title, body (plain text), body_html, summary, tags[],
  // draft (true: create unpublished where the host can), language, fingerprint, source_ticket)
  // SHOULD put the new article's id in action_outcome::created_id.
  virtual result<kb_page> list_articles(const std::string& /*cursor*/, int /*limit*/) {
    return make_error(errc::unsupported, std::string(vendor()) + ": no knowledge-base listing");
  }

  // `closeloop doctor`: is the host reachable with our credentials? The message says what was tried.
  virtual result<std::string> check_reachable() = 0;
};

// Builds the adapter for a configured host; an unknown vendor or bad settings is an error naming
// the key (e.g. "tenants[acme].hosts[generic].endpoint.url: expected an http(s) URL").
// The adapter keeps copies of what it needs; tenant/host need not outlive it.
result<std::unique_ptr<adapter>> make_adapter(const tenant_config& tenant, const host_config& host,
                                              const adapter_env& env);

// The canonical action as JSON plus, when immediate and the adapter renders it, "host": the
// change in the host's own terms (see adapter::render_for_host).
json action_for_host(const adapter& ad, const action& a);

// Vendors make_adapter knows (for config validation and doctor).
const std::vector<std::string>& known_vendors();

}  // namespace closeloop::adapters
