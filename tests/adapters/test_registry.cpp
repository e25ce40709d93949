#include <catch2/catch.hpp>

#include <algorithm>

#include "common/adapter.hpp"

using namespace closeloop;
using namespace closeloop::adapters;

TEST_CASE("registry: known vendors and unknown vendor errors", "[adapter][common]") {
  const auto& known = known_vendors();
  for (const char* v : {"freshdesk", "generic", "request_tracker", "zammad"}) {
    CHECK(std::find(known.begin(), known.end(), v) != known.end());
  }
  CHECK(std::is_sorted(known.begin(), known.end()));

  tenant_config t;
  t.id = "acme";
  host_config h;
  h.id = "desk";
  h.vendor = "frontdesk";
  auto a = make_adapter(t, h, adapter_env{});
  REQUIRE_FALSE(a);
  CHECK(a.err().code == errc::invalid_config);
  CHECK_THAT(a.err().message, Catch::StartsWith("tenants[acme].hosts[desk].vendor: unknown vendor \"frontdesk\""));
  // The error lists every known vendor, in registry order.
  CHECK_THAT(a.err().message, Catch::Contains("(known: freshdesk, generic, request_tracker, zammad"));
}

TEST_CASE("registry: dispatches on the vendor id", "[adapter][common]") {
  tenant_config t;
  t.id = "acme";
  host_config h;
  h.id = "g";
  h.vendor = "generic";
  h.settings = {{"id", "g"}, {"vendor", "generic"}, {"webhook_secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}};
  auto a = make_adapter(t, h, adapter_env{});
  REQUIRE(a);
  CHECK((*a)->vendor() == "generic");
}

TEST_CASE("inbound_request::header finds lower-case names", "[adapter][common]") {
  inbound_request r;
  r.headers = {{"content-type", "application/json"}, {"webhook-id", "m1"}};
  REQUIRE(r.header("webhook-id"));
  CHECK(*r.header("webhook-id") == "m1");
  CHECK(r.header("webhook-signature") == nullptr);
}
