// zendesk: X-Zendesk-Webhook-Signature-Timestamp: <ISO-8601 UTC, seconds>
//          X-Zendesk-Webhook-Signature: base64(HMAC-SHA256(signing secret, timestamp + raw body))
// ("Verifying webhook authenticity", developer.zendesk.com/documentation/webhooks/verifying/).
#include <string>

#include "common/crypto.hpp"
#include "conformance.hpp"

namespace {
using namespace closeloop;
using namespace closeloop::adapters;

header_list sign(const test::conformance::sign_input& in) {
  std::string ts = format_rfc3339(std::chrono::floor<std::chrono::seconds>(in.at));  // ...T17:18:10.000Z
  ts = ts.substr(0, 19) + "Z";                                                       // ...T17:18:10Z, as Zendesk sends
  return {{"X-Zendesk-Webhook-Signature-Timestamp", ts},
          {"X-Zendesk-Webhook-Signature", crypto::base64_encode(crypto::hmac_sha256(in.secret, ts + in.body))},
          {"X-Zendesk-Webhook-Id", "01HQ3ZK0000000000000000000"},
          {"X-Zendesk-Webhook-Invocation-Id", "8350205582"}};
}
}  // namespace

CLOSELOOP_CONFORMANCE_SIGNER("zendesk", sign);
