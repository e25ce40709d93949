#pragma once
// Retry policy shared by every adapter and the outbox worker.
#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "closeloop/model.hpp"
#include "common/adapter.hpp"
#include "common/http_client.hpp"

namespace closeloop::adapters {

// Exponential backoff with jitter, for attempt = 1, 2, 3, ... (the attempt that just failed):
//   ceiling = min(max, base * 2^(attempt-1))
//   delay   = ceiling * f,  f uniform in [0.5, 1]
// so the delay never exceeds `max`, never drops below half the ceiling, and retries of many
// actions that failed together spread out instead of arriving together. attempt < 1 counts as 1.
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                        double jitter_factor);  // f, clamped to [0.5, 1]

template <typename Rng>
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                        Rng& rng) {
  std::uniform_real_distribution<double> f(0.5, 1.0);
  return backoff_delay(attempt, base, max, f(rng));
}

// Retry-After (RFC 9110 section 10.2.3): delay-seconds ("120") or an HTTP-date, preferably
// IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT"; the obsolete rfc850 and asctime forms are accepted
// too, as RFC 9110 asks of recipients). A date in the past gives 0. Negative, fractional, empty or
// otherwise malformed values give nullopt (then the caller's own backoff applies).
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, timestamp now);

// The host's own explanation from an error response: the JSON "message", "error" (string, or
// an object with "message") or "description" field when the body is JSON and has one, else the
// body itself truncated to 500 bytes (on a UTF-8 boundary), else "HTTP <status> <reason>".
std::string host_message(const http::response& r);

// 2xx -> done; 408, 425, 429 and 5xx -> retry (Retry-After honoured); every other status
// (3xx, other 4xx) -> failed. The message keeps the host's own words (host_message); a 3xx names
// its Location and says that redirects are never followed.
action_outcome outcome_from_http(const http::response& r, timestamp now);
action_outcome outcome_from_http(const http::response& r);  // now = system clock

// A transport error (no HTTP answer): retry when the error is retryable, else failed.
action_outcome outcome_from_error(const error& e);

// Convenience: the outcome of a client::send result.
action_outcome outcome_from(const result<http::response>& r, timestamp now);

}  // namespace closeloop::adapters
