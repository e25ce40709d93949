#pragma once
// What the SaaS vendor tests (test_freshdesk.cpp, test_zammad.cpp) share: building an adapter
// for tenant "acme" from a host object, reading config errors, scripted JSON answers for the
// loopback stand-in, and the check every vendor API call must pass (method, target, auth header,
// JSON body).
#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "closeloop/config.hpp"
#include "common/adapter.hpp"
#include "common/crypto.hpp"
#include "loopback_server.hpp"

namespace closeloop::test::vendor {

using adapters::adapter;
using adapters::adapter_env;

inline adapter_env env(std::chrono::milliseconds timeout = std::chrono::milliseconds{3000}) {
  adapter_env e;
  e.http_timeout = timeout;
  return e;
}

inline tenant_config acme() {
  tenant_config t;
  t.id = "acme";
  return t;
}

// The host object as in the config: id and vendor from the settings.
inline host_config host_of(json settings) {
  host_config h;
  h.id = settings.value("id", "");
  h.vendor = settings.value("vendor", "");
  h.settings = std::move(settings);
  return h;
}

inline std::unique_ptr<adapter> make(json settings, adapter_env e = env()) {
  auto a = adapters::make_adapter(acme(), host_of(std::move(settings)), e);
  INFO((a ? std::string() : a.err().message));
  REQUIRE(a);
  return std::move(a).value();
}

// The message of the config error make_adapter must give for these settings.
inline std::string config_error(json settings) {
  auto a = adapters::make_adapter(acme(), host_of(std::move(settings)), env());
  REQUIRE_FALSE(a);
  CHECK(a.err().code == errc::invalid_config);
  return a.err().message;
}

inline timestamp at(const char* rfc3339) { return *parse_rfc3339(rfc3339); }

// The marker the SaaS adapters' READMEs document for notes and replies: "closeloop-ref:" + the
// first 16 hex digits of HMAC-SHA256("closeloop", idempotency key), computed here, not by the adapter.
inline std::string marker_of(const std::string& key) {
  return "closeloop-ref:" + adapters::crypto::hex_encode(adapters::crypto::hmac_sha256("closeloop", key)).substr(0, 16);
}

inline scripted_response json_reply(int status, const json& body, adapters::header_list headers = {}) {
  headers.emplace_back("content-type", "application/json");
  return {status, std::move(headers), body.dump()};
}

inline json body_of(const recorded_request& r) { return json::parse(r.body); }

// The contract every vendor API call meets: the configured auth header, JSON bodies.
inline void check_api_call(const recorded_request& r, const std::string& method, const std::string& target,
                           const std::string& authorization) {
  CHECK(r.method == method);
  CHECK(r.target == target);
  REQUIRE(r.header("authorization"));
  CHECK(*r.header("authorization") == authorization);
  if (method == "PUT" || (method == "POST" && !r.body.empty())) {
    REQUIRE(r.header("content-type"));
    CHECK(r.header("content-type")->starts_with("application/json"));
    CHECK_NOTHROW(json::parse(r.body));
  }
}

// examples/config/<vendor>.json loads, builds its adapter, and the schema closes the host object.
inline void check_example_config(const std::string& vendor) {
  const std::string file = std::string(CLOSELOOP_SOURCE_DIR) + "/examples/config/" + vendor + ".json";
  auto c = load_config_file(file);
  INFO((c ? std::string() : c.err().message));
  REQUIRE(c);
  const tenant_config* t = c->find_tenant("acme");
  REQUIRE(t);
  const host_config* h = t->find_host(vendor);
  REQUIRE(h);
  auto a = adapters::make_adapter(*t, *h, env());
  INFO((a ? std::string() : a.err().message));
  REQUIRE(a);
  CHECK((*a)->vendor() == vendor);
  json doc = json::parse(std::ifstream(file));
  doc["tenants"][0]["hosts"][0]["webhook_token"] = "x";
  auto bad = parse_config(doc.dump());
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find("webhook_token") != std::string::npos);
}

}  // namespace closeloop::test::vendor
