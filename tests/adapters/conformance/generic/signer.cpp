// generic: Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature: v1,<base64>).
#include "common/crypto.hpp"
#include "common/standard_webhooks.hpp"
#include "conformance.hpp"

namespace {
using namespace closeloop;
using namespace closeloop::adapters;

header_list sign(const test::conformance::sign_input& in) {
  auto s = standard_webhooks::signer::from_secret(in.secret);
  if (!s) return {};
  const auto ts = std::chrono::duration_cast<std::chrono::seconds>(in.at.time_since_epoch()).count();
  // A stable message id per body: a redelivery carries the same webhook-id.
  const std::string id = "msg_" + crypto::hex_encode(crypto::hmac_sha256("id", in.body)).substr(0, 24);
  return standard_webhooks::make_headers(*s, id, ts, in.body);
}
}  // namespace

CLOSELOOP_CONFORMANCE_SIGNER("standard_webhooks", sign);
