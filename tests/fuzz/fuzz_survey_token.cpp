// libFuzzer target: the survey link token verifier (server/survey.cpp: read_token, verify_token).
// Input: the token as it arrives in /s/<token>.
// Checks: verify never accepts what read_token refuses; an accepted token's claims are read_token's;
// claims re-signed with make_token verify to the same claims (or are expired, errc::not_found);
// refusals are errc::unauthorized (forged, malformed) or errc::not_found (expired) with a reason.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "server/survey.hpp"

namespace {

using namespace closeloop;
using closeloop::server::survey::link_claims;

constexpr const char* k_secret = "fuzz link secret, 32 characters!";

bool same(const link_claims& a, const link_claims& b) {
  return a.tenant == b.tenant && a.host == b.host && a.ticket == b.ticket && a.kind == b.kind &&
         a.language == b.language && a.expires == b.expires;
}

void check_refusal(const error& e) {
  if ((e.code != errc::unauthorized && e.code != errc::not_found) || e.message.empty())
    fuzz::fail("a refused token without errc::unauthorized/not_found and a reason: " + e.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sv = closeloop::server::survey;
  const std::string token(reinterpret_cast<const char*>(data), size);
  const timestamp now = fuzz::fixed_now();
  auto read = sv::read_token(token);
  auto verified = sv::verify_token(token, k_secret, now);
  if (!read) check_refusal(read.err());
  if (!verified) check_refusal(verified.err());
  if (verified && !read) fuzz::fail("verify_token accepted a token read_token refuses");
  if (verified && !same(*verified, *read)) fuzz::fail("verify_token and read_token disagree on the claims");
  if (read) {
    const std::string again = sv::make_token(k_secret, *read);
    auto v2 = sv::verify_token(again, k_secret, now);
    const bool expired = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() > read->expires;
    if (expired ? (v2 || v2.err().code != errc::not_found) : (!v2 || !same(*v2, *read)))
      fuzz::fail("claims re-signed with make_token do not verify back: " + again);
    if (sv::verify_token(again, "another secret, 32 characters!!", now))
      fuzz::fail("a token verified under another secret");
  }
  return 0;
}
