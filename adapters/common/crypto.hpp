#pragma once
// Small cryptographic helpers for webhook signatures (OpenSSL underneath). Byte strings are
// carried in std::string; nothing here throws.
#include <string>
#include <string_view>

#include "closeloop/result.hpp"

namespace closeloop::adapters::crypto {

// Raw MACs (32 and 20 bytes).
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string hmac_sha1(std::string_view key, std::string_view data);  // legacy vendors (X-Hub-Signature sha1=)

// RFC 4648 base64, standard alphabet, with '=' padding.
std::string base64_encode(std::string_view bytes);
// Strict: standard alphabet only, padding required, no whitespace, no bits left over after the
// last character. The error (errc::invalid_argument) says what and where.
result<std::string> base64_decode(std::string_view text);

// RFC 4648 §5 base64url without padding (signed tokens in URLs), and its inverse (padding refused).
std::string base64url_encode(std::string_view bytes);
result<std::string> base64url_decode(std::string_view text);

// Lower-case hex, and its strict inverse (either case accepted).
std::string hex_encode(std::string_view bytes);
result<std::string> hex_decode(std::string_view text);

// Constant-time comparison (CRYPTO_memcmp). Only the lengths are compared in variable time.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace closeloop::adapters::crypto
