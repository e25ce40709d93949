// request_tracker: closeloop's scrip signature (vendor-contracts.md §1.6):
//   X-Plugin-Timestamp: <unix seconds>
//   X-Plugin-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>
#include "common/crypto.hpp"
#include "conformance.hpp"

namespace {
using namespace closeloop;
using namespace closeloop::adapters;

header_list sign(const test::conformance::sign_input& in) {
  const std::string ts =
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(in.at.time_since_epoch()).count());
  return {{"X-Plugin-Timestamp", ts},
          {"X-Plugin-Signature", "sha256=" + crypto::hex_encode(crypto::hmac_sha256(in.secret, ts + "." + in.body))}};
}
}  // namespace

CLOSELOOP_CONFORMANCE_SIGNER("plugin_hmac_sha256", sign);
