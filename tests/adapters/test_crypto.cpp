#include <catch2/catch.hpp>

#include "common/crypto.hpp"

using namespace closeloop;
namespace crypto = closeloop::adapters::crypto;

TEST_CASE("base64 round trips and matches RFC 4648 test vectors", "[adapter][common]") {
  // RFC 4648 section 10.
  CHECK(crypto::base64_encode("") == "");
  CHECK(crypto::base64_encode("f") == "Zg==");
  CHECK(crypto::base64_encode("fo") == "Zm8=");
  CHECK(crypto::base64_encode("foo") == "Zm9v");
  CHECK(crypto::base64_encode("foob") == "Zm9vYg==");
  CHECK(crypto::base64_encode("fooba") == "Zm9vYmE=");
  CHECK(crypto::base64_encode("foobar") == "Zm9vYmFy");
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto d = crypto::base64_decode(crypto::base64_encode(s));
    REQUIRE(d);
    CHECK(*d == s);
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  auto d = crypto::base64_decode(crypto::base64_encode(all));
  REQUIRE(d);
  CHECK(*d == all);
}

TEST_CASE("base64 decoding is strict and says what is wrong", "[adapter][common]") {
  auto bad = [](std::string_view text) {
    auto r = crypto::base64_decode(text);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::invalid_argument);
    return r.err().message;
  };
  CHECK_THAT(bad("Zm9"), Catch::Contains("not a multiple of 4"));
  CHECK_THAT(bad("Zm9v\n"), Catch::Contains("not a multiple of 4"));
  CHECK_THAT(bad("Zm%v"), Catch::Contains("'%' at position 2"));
  CHECK_THAT(bad("Zm9-"), Catch::Contains("'-' at position 3"));  // base64url is not accepted
  CHECK_THAT(bad("Z=9v"), Catch::Contains("misplaced '=' padding at position 1"));
  CHECK_THAT(bad("Zm 9"), Catch::Contains("byte 0x20 at position 2"));
  CHECK_THAT(bad("Zh=="), Catch::Contains("not canonical"));  // "f" is Zg==
  CHECK_THAT(bad("Zm9v===="), Catch::Contains("misplaced"));
}

TEST_CASE("hmac_sha256 matches RFC 4231 test case 2", "[adapter][common]") {
  CHECK(crypto::hex_encode(crypto::hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // RFC 2202 test case 2 for the legacy SHA-1 variant.
  CHECK(crypto::hex_encode(crypto::hmac_sha1("Jefe", "what do ya want for nothing?")) ==
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  CHECK(crypto::hmac_sha256("", "").size() == 32);
}

TEST_CASE("hex encode/decode and constant-time compare", "[adapter][common]") {
  CHECK(crypto::hex_encode(std::string("\x00\x7f\xff", 3)) == "007fff");
  auto d = crypto::hex_decode("007FfF");
  REQUIRE(d);
  CHECK(*d == std::string("\x00\x7f\xff", 3));
  CHECK_FALSE(crypto::hex_decode("abc"));
  auto bad = crypto::hex_decode("zz");
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.err().message, Catch::Contains("'z' at position 0"));

  CHECK(crypto::constant_time_equal("abc", "abc"));
  CHECK(crypto::constant_time_equal("", ""));
  CHECK_FALSE(crypto::constant_time_equal("abc", "abd"));
  CHECK_FALSE(crypto::constant_time_equal("abc", "abcd"));
}
