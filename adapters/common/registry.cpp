// make_adapter: the one place that maps a vendor id to its adapter. Adding a vendor adds one
// entry to `factories` below (see adapters/README.md, "How to add a vendor").
#include <algorithm>

#include "common/adapter.hpp"
#include "common/headers.hpp"
#include "freshdesk/freshdesk_adapter.hpp"
#include "generic/generic_adapter.hpp"
#include "request_tracker/request_tracker_adapter.hpp"
#include "zammad/zammad_adapter.hpp"
#include "zendesk/zendesk_adapter.hpp"

namespace closeloop::adapters {
namespace {

using factory = result<std::unique_ptr<adapter>> (*)(const tenant_config&, const host_config&, const adapter_env&);

template <typename Adapter>
result<std::unique_ptr<adapter>> make(const tenant_config& t, const host_config& h, const adapter_env& env) {
  auto a = Adapter::create(t, h, env);
  if (!a) return std::move(a).err();
  return std::unique_ptr<adapter>(std::move(a).value());
}

struct entry {
  std::string_view vendor;
  factory create;
};

// Sorted by vendor id.
constexpr entry factories[] = {
    {freshdesk::vendor_id, &make<freshdesk::freshdesk_adapter>},
    {generic::vendor_id, &make<generic::generic_adapter>},
    {request_tracker::vendor_id, &make<request_tracker::request_tracker_adapter>},
    {zammad::vendor_id, &make<zammad::zammad_adapter>},
    {zendesk::vendor_id, &make<zendesk::zendesk_adapter>},
};

}  // namespace

const std::string* inbound_request::header(std::string_view lower_name) const noexcept {
  return find_header(headers, lower_name);
}

const std::vector<std::string>& known_vendors() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& e : factories) v.emplace_back(e.vendor);
    return v;
  }();
  return names;
}

result<std::unique_ptr<adapter>> make_adapter(const tenant_config& tenant, const host_config& host,
                                              const adapter_env& env) {
  for (const auto& e : factories) {
    if (e.vendor == host.vendor) {
      try {
        return e.create(tenant, host, env);
      } catch (const std::exception& x) {
        return make_error(errc::invalid_config,
                          "tenants[" + tenant.id + "].hosts[" + host.id + "]: cannot build the adapter: " + x.what());
      }
    }
  }
  std::string known;
  for (const auto& v : known_vendors()) known += (known.empty() ? "" : ", ") + v;
  return make_error(errc::invalid_config, "tenants[" + tenant.id + "].hosts[" + host.id + "].vendor: unknown vendor \"" +
                                              host.vendor + "\" (known: " + known + ")");
}

json action_for_host(const adapter& ad, const action& a) {
  json j = to_json(a);
  if (a.immediate) {
    json rendered = ad.render_for_host(a);
    if (!rendered.is_null()) j["host"] = std::move(rendered);
  }
  return j;
}

}  // namespace closeloop::adapters
