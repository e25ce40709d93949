#include <catch2/catch.hpp>

#include "closeloop/text.hpp"

using namespace closeloop;

TEST_CASE("scrub_pii removes e-mails, phone numbers and card-like numbers", "[unit][text]") {
  CHECK(scrub_pii("write to ann.lee+x@mail.example.com.") == "write to [email].");
  CHECK(scrub_pii("call +1 (415) 555-0100 today") == "call [phone] today");
  CHECK(scrub_pii("手机 13812345678") == "手机 [phone]");
  CHECK(scrub_pii("card 4111111111111111 expired") == "card [card] expired");
  SECTION("what is not personal stays") {
    CHECK(scrub_pii("floor 3, ticket 12345, on 2026-11-22") == "floor 3, ticket 12345, on 2026-11-22");
    CHECK(scrub_pii("error E1234567X") == "error E1234567X");
    CHECK(scrub_pii("a @ b and user@localhost") == "a @ b and user@localhost");
  }
}

TEST_CASE("problem_fingerprint ignores word order, case, punctuation and stop words", "[unit][text]") {
  CHECK(problem_fingerprint("Printer on floor 3 jams") == problem_fingerprint("printer JAMS on floor 3!"));
  CHECK(problem_fingerprint("The printer jams") == problem_fingerprint("printer jams"));
  CHECK(problem_fingerprint("Printer jams") != problem_fingerprint("Scanner jams"));
  CHECK(problem_fingerprint("打印机卡纸") == problem_fingerprint("卡纸打印机"));
  CHECK(problem_fingerprint("x").size() == 16);
}

TEST_CASE("truncate_utf8 never cuts a character", "[unit][text]") {
  CHECK(truncate_utf8("short", 10) == "short");
  CHECK(truncate_utf8("abcdef", 3) == "abc\xE2\x80\xA6");
  CHECK(truncate_utf8("退款退款", 4) == "退\xE2\x80\xA6");  // 3 bytes each
}
