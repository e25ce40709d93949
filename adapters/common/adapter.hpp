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
  const std::string* header(std::string_view lower_name) const noexcept;
};

struct action_outcome {
  enum class kind { done, retry, failed };
  kind k = kind::done;
  int http_status = 0;      // 0 when no HTTP answer (connect error, timeout)
  std::string message;      // the host's own message, kept for the operator
  std::optional<std::chrono::milliseconds> retry_after;  // from the host's Retry-After
  static action_outcome done(int status = 0) { return {kind::done, status, {}, {}}; }
  static action_outcome retry(std::string msg, int status = 0,
                              std::optional<std::chrono::milliseconds> after = {}) {
    return {kind::retry, status, std::move(msg), after};
  }
  static action_outcome failed(std::string msg, int status = 0) { return {kind::failed, status, std::move(msg), {}}; }
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
