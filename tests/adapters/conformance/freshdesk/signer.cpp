// freshdesk: Freshdesk signs nothing; the automation rule sends closeloop's shared secret in a
// custom header plus basic auth on the webhook URL (adapters/freshdesk/README.md, "Inbound"):
//   X-Closeloop-Secret: <secret>
//   Authorization: Basic base64(<signing.basic>)
#include "common/crypto.hpp"
#include "conformance.hpp"

namespace {
using namespace closeloop;
using namespace closeloop::adapters;

header_list sign(const test::conformance::sign_input& in) {
  return {{"X-Closeloop-Secret", in.secret},
          {"Authorization", "Basic " + crypto::base64_encode(in.signing.at("basic").get<std::string>())}};
}
}  // namespace

CLOSELOOP_CONFORMANCE_SIGNER("freshdesk_shared_secret", sign);
