#pragma once
// Standard Webhooks (https://www.standardwebhooks.com/, spec/standard-webhooks.md), symmetric
// scheme only:
//   signed content = "<webhook-id>.<webhook-timestamp>.<raw body>"
//   key            = base64-decode(secret without an optional "whsec_" prefix)
//   webhook-signature = "v1,<base64 HMAC-SHA256(key, signed content)>", several space-separated
//                       during a key rotation; entries of other versions (e.g. "v1a,") are ignored.
// The body is never parsed: verification runs on the raw bytes, before any JSON parsing.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "closeloop/model.hpp"
#include "closeloop/result.hpp"
#include "common/headers.hpp"

namespace closeloop::adapters::standard_webhooks {

inline constexpr std::string_view secret_prefix = "whsec_";
inline constexpr std::string_view id_header = "webhook-id";
inline constexpr std::string_view timestamp_header = "webhook-timestamp";
inline constexpr std::string_view signature_header = "webhook-signature";
inline constexpr std::chrono::milliseconds default_tolerance{5 * 60 * 1000};

// The HMAC key of a secret ("whsec_<base64>" or bare base64). errc::invalid_argument when the
// remainder is not strict base64 or is empty.
result<std::string> decode_secret(std::string_view secret);

// A decoded key, ready to sign and verify many messages.
class signer {
 public:
  static result<signer> from_secret(std::string_view secret);
  static signer from_key(std::string key) { return signer(std::move(key)); }

  // "v1,<base64>" for one message.
  std::string sign(std::string_view id, std::int64_t timestamp_seconds, std::string_view body) const;

  // Checks the three headers (case-insensitive names), the timestamp window |now - ts| <= tolerance,
  // and that at least one "v1," signature matches (constant-time). errc::unauthorized otherwise,
  // with a message that names what is wrong.
  result<void> verify(const header_list& headers, std::string_view body, timestamp now,
                      std::chrono::milliseconds tolerance = default_tolerance) const;

 private:
  explicit signer(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

// The header value for one message; errc::invalid_argument for a malformed secret.
result<std::string> sign(std::string_view secret, std::string_view id, std::int64_t timestamp_seconds,
                         std::string_view body);

// As signer::verify; a malformed secret is errc::unauthorized too (nothing can match).
result<void> verify(std::string_view secret, const header_list& headers, std::string_view body, timestamp now,
                    std::chrono::milliseconds tolerance = default_tolerance);

// The three request headers for an outbound message (names lower-case), in order id, timestamp,
// signature.
header_list make_headers(const signer& s, std::string_view id, std::int64_t timestamp_seconds, std::string_view body);

}  // namespace closeloop::adapters::standard_webhooks
