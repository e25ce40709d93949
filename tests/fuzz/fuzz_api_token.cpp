// libFuzzer target: the API-token verifier (closeloop/token_store.hpp, token_store::verify) over a
// real store file. Three tokens are made at start: a valid admin token, a revoked one and an
// expired one. Input: byte 0 'G' = the rest is XORed into the valid token (near misses of a real
// token); otherwise the rest is the token as a client would send it.
// Checks: a token is accepted only when it is exactly the valid one, and then it names its own id
// and tenant; the revoked and expired tokens are always refused; refusals are errc::unauthorized
// and never echo the token's secret.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "closeloop/store.hpp"
#include "closeloop/token_store.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace closeloop;

struct fixture {
  std::unique_ptr<store> db;
  std::unique_ptr<token_store> tokens;
  new_api_token good, revoked, expired;
};

fixture& fx() {
  static fixture f = [] {
    fixture x;
    const char* base = std::getenv("TMPDIR");
    std::string dir = std::string(base && *base ? base : "/tmp") + "/closeloop-fuzz-token-XXXXXX";
    if (!mkdtemp(dir.data())) fuzz::fail("mkdtemp " + dir);
    store_options so;
    so.path = dir + "/tokens.db";
    auto db = store::open(so);
    if (!db) fuzz::fail("store: " + db.err().message);
    x.db = std::move(*db);
    auto ts = token_store::open(so.path);
    if (!ts) fuzz::fail("token store: " + ts.err().message);
    x.tokens = std::move(*ts);
    const timestamp now = fuzz::fixed_now();
    auto make = [&](const char* label, std::optional<timestamp> expires) {
      auto t = x.tokens->create("acme", api_role::admin, label, expires, "fuzz", now - std::chrono::hours(48));
      if (!t) fuzz::fail(std::string("create token: ") + t.err().message);
      return std::move(*t);
    };
    x.good = make("good", std::nullopt);
    x.revoked = make("revoked", std::nullopt);
    x.expired = make("expired", now - std::chrono::hours(1));
    if (!x.tokens->revoke(x.revoked.info.id, now - std::chrono::hours(24))) fuzz::fail("revoke");
    return x;
  }();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fixture& f = fx();
  const timestamp now = fuzz::fixed_now();
  std::string token;
  if (size > 0 && data[0] == 'G') {
    token = f.good.secret;
    for (std::size_t i = 1; i < size; ++i) token[(i - 1) % token.size()] ^= static_cast<char>(data[i]);
  } else {
    token.assign(reinterpret_cast<const char*>(data), size);
  }
  auto r = f.tokens->verify(token, now);
  if (r) {
    if (token != f.good.secret) fuzz::fail("a token other than the valid one was accepted: " + token);
    if (r->id != f.good.info.id || r->tenant != "acme") fuzz::fail("the valid token verified as another token");
  } else {
    if (token == f.good.secret) fuzz::fail("the valid token was refused: " + r.err().message);
    if (r.err().code != errc::unauthorized || r.err().message.empty())
      fuzz::fail("a refusal without errc::unauthorized and a reason: " + r.err().message);
    // The secret part (after "clt_<id>_", 16+ hex digits) must never come back in the reason.
    const auto sep = token.find('_', 4);
    const std::string secret = token.rfind("clt_", 0) == 0 && sep != std::string::npos ? token.substr(sep + 1) : "";
    const bool hex = secret.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (secret.size() >= 16 && hex && r.err().message.find(secret) != std::string::npos)
      fuzz::fail("the refusal echoes the token's secret: " + r.err().message);
  }
  if (f.tokens->verify(f.revoked.secret, now)) fuzz::fail("a revoked token was accepted");
  if (f.tokens->verify(f.expired.secret, now)) fuzz::fail("an expired token was accepted");
  return 0;
}
