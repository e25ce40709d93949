#include "common/retry.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>

#include <nlohmann/json.hpp>

namespace closeloop::adapters {

using std::chrono::milliseconds;

std::chrono::milliseconds backoff_delay(int attempt, milliseconds base, milliseconds max, double jitter_factor) {
  if (base < milliseconds::zero()) base = milliseconds::zero();
  if (max < milliseconds::zero()) max = milliseconds::zero();
  if (attempt < 1) attempt = 1;
  if (!(jitter_factor >= 0.5)) jitter_factor = 0.5;  // also catches NaN
  if (jitter_factor > 1.0) jitter_factor = 1.0;
  // base * 2^(attempt-1) computed in double so large attempts saturate instead of overflowing.
  const double exp = std::ldexp(static_cast<double>(base.count()), std::min(attempt - 1, 62));
  const double ceiling = std::min(static_cast<double>(max.count()), exp);
  return milliseconds{static_cast<std::int64_t>(std::floor(ceiling * jitter_factor))};
}

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

template <typename T>
bool to_int(std::string_view s, T& out) {
  if (!all_digits(s)) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

constexpr std::array<std::string_view, 12> month_names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> day_names{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_day_names{"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                         "Friday", "Saturday", "Sunday"};

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& names, std::string_view s) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

// "08:49:37" -> seconds since midnight.
std::optional<int> parse_time_of_day(std::string_view s) {
  int h = 0, m = 0, sec = 0;
  if (s.size() != 8 || s[2] != ':' || s[5] != ':' || !to_int(s.substr(0, 2), h) || !to_int(s.substr(3, 2), m) ||
      !to_int(s.substr(6, 2), sec) || h > 23 || m > 59 || sec > 60) {  // 60: leap second
    return std::nullopt;
  }
  return h * 3600 + m * 60 + sec;
}

std::optional<timestamp> make_date(int year, std::string_view month, int day, int seconds_of_day) {
  const auto it = std::find(month_names.begin(), month_names.end(), month);
  if (it == month_names.end()) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{year},
                                        std::chrono::month{static_cast<unsigned>(it - month_names.begin() + 1)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  // The weekday is redundant; a sender that gets it wrong still means the date it wrote.
  return std::chrono::time_point_cast<milliseconds>(std::chrono::sys_days{ymd} + std::chrono::seconds{seconds_of_day});
}

// HTTP-date (RFC 9110 section 5.6.7): the preferred IMF-fixdate and, as recipients must, the
// two obsolete forms.
std::optional<timestamp> parse_http_date(std::string_view s, timestamp now) {
  int day = 0, year = 0;
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  if (s.size() == 29 && one_of(day_names, s.substr(0, 3)) && s.substr(3, 2) == ", " && s[7] == ' ' && s[11] == ' ' &&
      s[16] == ' ' && s.substr(25) == " GMT") {
    auto tod = parse_time_of_day(s.substr(17, 8));
    if (!tod || !to_int(s.substr(5, 2), day) || !to_int(s.substr(12, 4), year)) return std::nullopt;
    return make_date(year, s.substr(8, 3), day, *tod);
  }
  // asctime: "Sun Nov  6 08:49:37 1994"
  if (s.size() == 24 && one_of(day_names, s.substr(0, 3)) && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' &&
      s[19] == ' ') {
    std::string_view d = s.substr(8, 2);
    if (d[0] == ' ') d.remove_prefix(1);
    auto tod = parse_time_of_day(s.substr(11, 8));
    if (!tod || !to_int(d, day) || !to_int(s.substr(20, 4), year)) return std::nullopt;
    return make_date(year, s.substr(4, 3), day, *tod);
  }
  // rfc850: "Sunday, 06-Nov-94 08:49:37 GMT"
  const auto comma = s.find(", ");
  if (comma != std::string_view::npos && one_of(long_day_names, s.substr(0, comma))) {
    std::string_view rest = s.substr(comma + 2);
    if (rest.size() != 22 || rest[2] != '-' || rest[6] != '-' || rest[9] != ' ' || rest.substr(18) != " GMT") {
      return std::nullopt;
    }
    int yy = 0;
    auto tod = parse_time_of_day(rest.substr(10, 8));
    if (!tod || !to_int(rest.substr(0, 2), day) || !to_int(rest.substr(7, 2), yy)) return std::nullopt;
    // A two-digit year more than 50 years in the future is in the past century.
    const int this_year = static_cast<int>(std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(now)}.year());
    year = 2000 + yy;
    if (year > this_year + 50) year -= 100;
    return make_date(year, rest.substr(3, 3), day, *tod);
  }
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Cut at max bytes without splitting a UTF-8 sequence.
std::string truncate_utf8(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

constexpr std::size_t max_message = 500;

}  // namespace

std::optional<milliseconds> parse_retry_after(std::string_view value, timestamp now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (all_digits(value)) {
    std::uint64_t seconds = 0;
    if (!to_int(value, seconds)) return std::nullopt;           // overflow
    if (seconds > 10ULL * 365 * 24 * 3600) return std::nullopt;  // > 10 years: not a real hint
    return milliseconds{static_cast<std::int64_t>(seconds) * 1000};
  }
  auto when = parse_http_date(value, now);
  if (!when) return std::nullopt;
  if (*when <= now) return milliseconds::zero();
  return std::chrono::duration_cast<milliseconds>(*when - now);
}

std::string host_message(const http::response& r) {
  std::string_view body = trim(r.body);
  if (!body.empty() && (body.front() == '{')) {
    auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
      auto str = [&](const nlohmann::json& obj, const char* key) -> std::string {
        auto it = obj.find(key);
        return (it != obj.end() && it->is_string()) ? it->get<std::string>() : std::string{};
      };
      std::string msg = str(j, "message");
      if (msg.empty()) {
        auto err = j.find("error");
        if (err != j.end() && err->is_object()) msg = str(*err, "message");
        if (msg.empty()) msg = str(j, "error");
        const std::string desc = str(j, "description");
        if (msg.empty()) {
          msg = desc;
        } else if (!desc.empty() && desc != msg) {
          msg += ": " + desc;  // e.g. {"error": "RecordInvalid", "description": "Record validation errors"}
        }
      }
      if (!msg.empty()) return truncate_utf8(msg, max_message);
    }
  }
  if (!body.empty()) return truncate_utf8(body, max_message);
  std::string out = "HTTP " + std::to_string(r.status);
  if (!r.reason.empty()) out += " " + r.reason;
  return out;
}

action_outcome outcome_from_http(const http::response& r, timestamp now) {
  const int s = r.status;
  if (s >= 200 && s <= 299) return action_outcome::done(s);
  if (s == 408 || s == 425 || s == 429 || (s >= 500 && s <= 599)) {
    std::optional<milliseconds> after;
    if (const std::string* ra = r.header("retry-after")) after = parse_retry_after(*ra, now);
    return action_outcome::retry(host_message(r), s, after);
  }
  if (s >= 300 && s <= 399) {
    // Never followed, to another origin or not: the configured base URL is the only target.
    const std::string* location = r.header("location");
    return action_outcome::failed("HTTP " + std::to_string(s) + " redirect to \"" +
                                      (location ? truncate_utf8(*location, max_message) : std::string("?")) +
                                      "\" not followed (closeloop never follows redirects; set base_url to the "
                                      "host's final address)",
                                  s);
  }
  return action_outcome::failed(host_message(r), s);
}

action_outcome outcome_from_http(const http::response& r) {
  return outcome_from_http(r, std::chrono::time_point_cast<milliseconds>(std::chrono::system_clock::now()));
}

action_outcome outcome_from_error(const error& e) {
  if (e.retryable) return action_outcome::retry(e.message, 0);
  return action_outcome::failed(e.message, 0);
}

action_outcome outcome_from(const result<http::response>& r, timestamp now) {
  if (!r) return outcome_from_error(r.err());
  return outcome_from_http(*r, now);
}

}  // namespace closeloop::adapters
