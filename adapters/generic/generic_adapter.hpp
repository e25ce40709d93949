#pragma once
// The "generic" vendor: any system that can send canonical events signed with Standard Webhooks
// and receive canonical actions the same way. It is also the reference adapter that the others
// are measured against (see adapters/README.md).
//
// Host settings (host_config::settings, the whole host object):
//   webhook_secret   required  secret for inbound webhooks ("whsec_<base64>" or bare base64)
//   endpoint.url     optional  where actions are POSTed; execute/check_reachable need it
//   endpoint.secret  optional  secret that signs outbound actions; defaults to webhook_secret
//   endpoint.ca_file optional  PEM bundle to trust instead of the system CA store
#include <memory>
#include <optional>
#include <string>

#include "common/adapter.hpp"
#include "common/http_client.hpp"
#include "common/standard_webhooks.hpp"

namespace closeloop::adapters::generic {

inline constexpr std::string_view vendor_id = "generic";

class generic_adapter final : public adapter {
 public:
  // Validates the settings; errors name the key, e.g. "tenants[acme].hosts[h1].endpoint.url: ...".
  static result<std::unique_ptr<generic_adapter>> create(const tenant_config& tenant, const host_config& host,
                                                         const adapter_env& env);

  std::string_view vendor() const noexcept override { return vendor_id; }
  result<void> verify(const inbound_request& req, timestamp now) const override;
  result<std::vector<event>> translate(const inbound_request& req) const override;
  action_outcome execute(const action& a) override;
  result<std::string> check_reachable() override;

  // The time execute() stamps on outbound messages; tests may pin it.
  void set_clock_for_testing(std::optional<timestamp> t) { fixed_now_ = t; }

 private:
  generic_adapter(std::string tenant, std::string host, adapter_env env, standard_webhooks::signer inbound,
                  std::optional<http::url> endpoint, standard_webhooks::signer outbound, http::client client)
      : tenant_(std::move(tenant)),
        host_(std::move(host)),
        env_(std::move(env)),
        inbound_(std::move(inbound)),
        endpoint_(std::move(endpoint)),
        outbound_(std::move(outbound)),
        client_(std::move(client)) {}

  timestamp now() const;

  std::string tenant_;
  std::string host_;
  adapter_env env_;
  standard_webhooks::signer inbound_;
  std::optional<http::url> endpoint_;
  standard_webhooks::signer outbound_;
  http::client client_;
  std::optional<timestamp> fixed_now_;
};

}  // namespace closeloop::adapters::generic
