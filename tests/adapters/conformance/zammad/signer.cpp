// zammad: a trigger webhook with an HMAC SHA1 Signature Token (vendor-contracts.md §4,
// zammad-admin-documentation manage/webhook/payload.rst):
//   X-Hub-Signature: sha1=<hex HMAC-SHA1(token, raw body)>
#include "common/crypto.hpp"
#include "conformance.hpp"

namespace {
using namespace closeloop;
using namespace closeloop::adapters;

header_list sign(const test::conformance::sign_input& in) {
  return {{"X-Hub-Signature", "sha1=" + crypto::hex_encode(crypto::hmac_sha1(in.secret, in.body))},
          {"X-Zammad-Trigger", "closeloop: conformance"},
          {"X-Zammad-Delivery", "0d5f1c52-conformance"}};
}
}  // namespace

CLOSELOOP_CONFORMANCE_SIGNER("zammad_hub_sha1", sign);
