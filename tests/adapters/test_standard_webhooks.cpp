#include <catch2/catch.hpp>

#include "common/crypto.hpp"
#include "common/standard_webhooks.hpp"

using namespace closeloop;
namespace sw = closeloop::adapters::standard_webhooks;
using closeloop::adapters::header_list;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const std::string secret = "whsec_" + adapters::crypto::base64_encode("closeloop test key, 32 bytes long");
constexpr std::int64_t sent_at = 1'800'000'000;
const timestamp sent_time{seconds{sent_at}};

header_list signed_headers(std::string_view body, const std::string& key = secret, std::int64_t ts = sent_at,
                           std::string id = "msg_1") {
  auto sig = sw::sign(key, id, ts, body);
  REQUIRE(sig);
  return {{"webhook-id", id}, {"webhook-timestamp", std::to_string(ts)}, {"webhook-signature", *sig}};
}

std::string reason(const result<void>& r) {
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::unauthorized);
  CHECK_FALSE(r.err().retryable);
  return r.err().message;
}

}  // namespace

TEST_CASE("Standard Webhooks: the specification's published test vector", "[adapter][common]") {
  // From github.com/standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py,
  // test_sign_function (the other reference libraries' tests use the same values): secret
  // whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, id msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330,
  // body {"test": 2432232314}; expected header value below.
  const std::string vec_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const std::string body = R"({"test": 2432232314})";
  auto sig = sw::sign(vec_secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
  REQUIRE(sig);
  CHECK(*sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");

  // The prefix is optional.
  auto bare = sw::sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
  REQUIRE(bare);
  CHECK(*bare == *sig);

  header_list h{{"webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"},
                {"webhook-timestamp", "1614265330"},
                {"webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}};
  CHECK(sw::verify(vec_secret, h, body, timestamp{seconds{1614265330}}));
}

TEST_CASE("Standard Webhooks: sign/verify round trip", "[adapter][common]") {
  const std::string body = R"({"type":"ticket.created","ticket_id":"1"})";
  auto h = signed_headers(body);
  CHECK(sw::verify(secret, h, body, sent_time));
  // Within the tolerance either way.
  CHECK(sw::verify(secret, h, body, sent_time + seconds{299}));
  CHECK(sw::verify(secret, h, body, sent_time - seconds{299}));
  // Header names are matched case-insensitively.
  header_list upper{{"Webhook-Id", h[0].second}, {"WEBHOOK-TIMESTAMP", h[1].second}, {"Webhook-Signature", h[2].second}};
  CHECK(sw::verify(secret, upper, body, sent_time));
  // make_headers produces the same three headers.
  auto s = sw::signer::from_secret(secret);
  REQUIRE(s);
  CHECK(sw::make_headers(*s, "msg_1", sent_at, body) == h);
  // The body is never parsed: any bytes verify.
  const std::string binary("\x00\xff not json {", 14);
  CHECK(sw::verify(secret, signed_headers(binary), binary, sent_time));
}

TEST_CASE("Standard Webhooks: tampering, wrong secret and stale timestamps are refused", "[adapter][common]") {
  const std::string body = R"({"a":1})";
  auto h = signed_headers(body);

  CHECK(reason(sw::verify(secret, h, R"({"a":2})", sent_time)) ==
        "no signature in webhook-signature matches (wrong secret or modified body)");
  const std::string other = "whsec_" + adapters::crypto::base64_encode("another key of thirty-two bytes!");
  CHECK_THAT(reason(sw::verify(other, h, body, sent_time)), Catch::Contains("wrong secret or modified body"));

  // The id and timestamp are signed too.
  auto changed_id = h;
  changed_id[0].second = "msg_2";
  CHECK_THAT(reason(sw::verify(secret, changed_id, body, sent_time)), Catch::Contains("no signature"));

  CHECK(reason(sw::verify(secret, h, body, sent_time + seconds{301})) == "webhook-timestamp is older than 300 s");
  CHECK(reason(sw::verify(secret, h, body, sent_time - seconds{301})) ==
        "webhook-timestamp is more than 300 s in the future");
  // The tolerance is the caller's.
  CHECK(reason(sw::verify(secret, h, body, sent_time + seconds{61}, seconds{60})) ==
        "webhook-timestamp is older than 60 s");

  auto not_number = h;
  not_number[1].second = "2026-11-22T10:00:00Z";
  CHECK_THAT(reason(sw::verify(secret, not_number, body, sent_time)), Catch::Contains("not a number"));
  not_number[1].second = "-5";
  CHECK_THAT(reason(sw::verify(secret, not_number, body, sent_time)), Catch::Contains("not a number"));
  not_number[1].second = "1800000000.5";
  CHECK_THAT(reason(sw::verify(secret, not_number, body, sent_time)), Catch::Contains("not a number"));
}

TEST_CASE("Standard Webhooks: each missing header is named", "[adapter][common]") {
  const std::string body = "{}";
  auto h = signed_headers(body);
  for (std::size_t i = 0; i < h.size(); ++i) {
    auto missing = h;
    const std::string name = missing[i].first;
    missing.erase(missing.begin() + static_cast<std::ptrdiff_t>(i));
    CHECK(reason(sw::verify(secret, missing, body, sent_time)) == "missing " + name + " header");
  }
  auto empty_sig = h;
  empty_sig[2].second = " ";
  CHECK(reason(sw::verify(secret, empty_sig, body, sent_time)) == "missing webhook-signature header");
}

TEST_CASE("Standard Webhooks: several signatures, one of them valid", "[adapter][common]") {
  const std::string body = R"({"rotating":true})";
  auto h = signed_headers(body);
  const std::string good = h[2].second;
  const std::string old_secret = "whsec_" + adapters::crypto::base64_encode("the previous key before rotation");
  auto old_sig = sw::sign(old_secret, "msg_1", sent_at, body);
  REQUIRE(old_sig);

  h[2].second = *old_sig + " " + good;
  CHECK(sw::verify(secret, h, body, sent_time));
  h[2].second = good + " " + *old_sig;
  CHECK(sw::verify(secret, h, body, sent_time));
  // Signatures of other schemes (v1a = ed25519) are skipped, not errors.
  h[2].second = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== " + good;
  CHECK(sw::verify(secret, h, body, sent_time));
  // Only the old key's signature: refused.
  h[2].second = *old_sig;
  CHECK_THAT(reason(sw::verify(secret, h, body, sent_time)), Catch::Contains("no signature"));
  // No v1 entry at all.
  h[2].second = "v2,abc v1a,def";
  CHECK(reason(sw::verify(secret, h, body, sent_time)) == "webhook-signature has no \"v1,\" signature");
}

TEST_CASE("Standard Webhooks: malformed secrets", "[adapter][common]") {
  auto k = sw::decode_secret("whsec_not base64!");
  REQUIRE_FALSE(k);
  CHECK(k.err().code == errc::invalid_argument);
  CHECK_THAT(k.err().message, Catch::Contains("not base64"));
  CHECK_FALSE(sw::decode_secret("whsec_"));
  CHECK_FALSE(sw::sign("s3cret", "id", 1, "body"));  // plain passwords are not Standard Webhooks secrets
  auto r = sw::verify("whsec_%%%%", {{"webhook-id", "a"}, {"webhook-timestamp", "1"}, {"webhook-signature", "v1,x"}},
                      "", timestamp{seconds{1}});
  CHECK_THAT(reason(r), Catch::Contains("cannot verify"));
}
