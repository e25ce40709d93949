#pragma once
// The adapter conformance suite (tests/adapters/README.md, "Conformance suite"): one set of checks
// run over every vendor folder under tests/adapters/conformance/. A folder holds vendor.json (the
// host settings, how requests are signed, the vendor's API contract as data, the actions to
// execute), fixtures/*.json (webhook payloads in the vendor's documented shapes with the expected
// canonical events) and signer.cpp (how the vendor signs a webhook, registered with
// CLOSELOOP_CONFORMANCE_SIGNER).
//
// The stand-in (contract_server) answers like the vendor: it enforces the contract's auth header,
// method + path, required headers and required body fields, answering violations with the
// vendor's own error shape, so an adapter passes by following the documented contract, not by
// agreeing with itself.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "closeloop/model.hpp"
#include "common/headers.hpp"
#include "loopback_server.hpp"

namespace closeloop::test::conformance {

// What a signer gets: the vendor.json "signing" object (secret and scheme options), the secret
// to sign with (the right one, or signing.wrong_secret), the raw body and the signing time.
struct sign_input {
  const json& signing;
  std::string secret;
  std::string body;
  timestamp at;
};
using signer_fn = std::function<adapters::header_list(const sign_input&)>;

// scheme name (vendor.json signing.scheme) -> signer. Registration happens at static-init time.
std::map<std::string, signer_fn>& signers();
struct register_signer {
  register_signer(const std::string& scheme, signer_fn f) { signers()[scheme] = std::move(f); }
};
#define CLOSELOOP_CONFORMANCE_SIGNER_CAT2(a, b) a##b
#define CLOSELOOP_CONFORMANCE_SIGNER_CAT(a, b) CLOSELOOP_CONFORMANCE_SIGNER_CAT2(a, b)
#define CLOSELOOP_CONFORMANCE_SIGNER(scheme, fn)                                                              \
  static const ::closeloop::test::conformance::register_signer CLOSELOOP_CONFORMANCE_SIGNER_CAT(conformance_signer_, \
                                                                                                __LINE__)(scheme, fn)

// "{a}/{b}" style path patterns: a {name} segment matches one non-empty segment.
bool path_matches(const std::string& pattern, const std::string& path);

// The vendor API contract from vendor.json "contract":
//   auth:     {"header": name, "value": exact value} (or "values": [several accepted])
//   errors:   {"unauthorized": shape, "not_found": shape, "invalid": shape, "rate_limited": shape}
//             shape = {"status": N, "body": JSON with "{reason}" placeholders in strings}
//   routes:   [{"method", "path", "headers": [required], "json": true (body must be a JSON
//              object/array with content-type application/json), "required": [JSON pointers that
//              must be present and not null], "present": [JSON pointers that must be present, null
//              allowed], "response": {"status", "body", "headers"}, "echo": true (answer the body with
//              the request's JSON fields merged over it, as an update returning the record does)}]
class contract_server {
 public:
  explicit contract_server(json contract);
  std::string url() const { return server_.url(""); }
  loopback_server& raw() { return server_; }
  std::vector<recorded_request> requests() const { return server_.requests(); }
  // The contract's answer for one request (also used by the self-test).
  scripted_response answer(const recorded_request& r) const;
  // A response in the vendor's error shape (errors.<kind>), reason substituted.
  scripted_response error(const std::string& kind, const std::string& reason) const;

 private:
  json contract_;
  loopback_server server_;
};

// Replace "{stand_in}" in every string of j.
json substitute(json j, const std::string& from, const std::string& to);

// Every key of `expected` is in `actual` with an equal value (objects compared recursively,
// everything else exactly). On a difference, `where` names the JSON pointer.
bool json_subset(const json& expected, const json& actual, std::string& where, const std::string& at = "");

}  // namespace closeloop::test::conformance
