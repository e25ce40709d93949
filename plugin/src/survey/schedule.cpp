// When to send: business hours (ICU time zones, DST included), sampling, e-mail normalisation.
#include "closeloop/survey_schedule.hpp"

#include <algorithm>
#include <cctype>
#include <memory>

#include <unicode/gregocal.h>
#include <unicode/timezone.h>

namespace closeloop::survey {
namespace {

std::unique_ptr<icu::TimeZone> zone_named(std::string_view zone) {
  if (zone.empty()) return std::unique_ptr<icu::TimeZone>(icu::TimeZone::getGMT()->clone());
  std::unique_ptr<icu::TimeZone> tz(
      icu::TimeZone::createTimeZone(icu::UnicodeString::fromUTF8(icu::StringPiece(zone.data(), zone.size()))));
  if (!tz || *tz == icu::TimeZone::getUnknown()) return nullptr;
  return tz;
}

// A lenient Gregorian calendar in `zone` (UTC when the zone is unknown: check_time_zone at
// config time keeps unknown zones out).
std::unique_ptr<icu::GregorianCalendar> calendar_in(std::string_view zone) {
  auto tz = zone_named(zone);
  if (!tz) tz = zone_named("");
  UErrorCode st = U_ZERO_ERROR;
  auto cal = std::make_unique<icu::GregorianCalendar>(tz.release(), st);  // adopts the zone
  if (U_FAILURE(st)) return nullptr;
  cal->setLenient(true);
  return cal;
}

UDate to_udate(timestamp t) { return static_cast<UDate>(t.time_since_epoch().count()); }
timestamp from_udate(UDate d) { return timestamp{std::chrono::milliseconds{static_cast<std::int64_t>(d)}}; }

struct local_date {
  int year, month, day;  // month 0-based (ICU)
};

local_date date_of(icu::GregorianCalendar& cal, timestamp t) {
  UErrorCode st = U_ZERO_ERROR;
  cal.setTime(to_udate(t), st);
  return {cal.get(UCAL_YEAR, st), cal.get(UCAL_MONTH, st), cal.get(UCAL_DATE, st)};
}

// The instant of local date d (plus `days`) at `minute` of the day.
timestamp at(icu::GregorianCalendar& cal, local_date d, int days, int minute) {
  UErrorCode st = U_ZERO_ERROR;
  cal.clear();
  cal.set(d.year, d.month, d.day + days, minute / 60, minute % 60, 0);
  cal.set(UCAL_MILLISECOND, 0);
  return from_udate(cal.getTime(st));
}

}  // namespace

result<void> check_time_zone(std::string_view zone) {
  if (zone_named(zone)) return {};
  return make_error(errc::invalid_config, "\"" + std::string(zone) + "\" is not a known IANA time zone");
}

timestamp next_open(timestamp t, const business_hours& h) {
  if (h.empty() || std::none_of(h.days.begin(), h.days.end(), [](bool b) { return b; }) ||
      h.end_minute <= h.start_minute)
    return t;
  auto cal = calendar_in(h.time_zone);
  if (!cal) return t;
  const local_date today = date_of(*cal, t);
  for (int i = 0; i < 8; ++i) {
    const timestamp open = at(*cal, today, i, h.start_minute);
    UErrorCode st = U_ZERO_ERROR;
    const int dow = cal->get(UCAL_DAY_OF_WEEK, st) - 1;  // of the date just set
    if (!h.days[static_cast<std::size_t>(dow)]) continue;
    const timestamp close = at(*cal, today, i, h.end_minute);
    if (t < open) return open;
    if (t < close) return t;
  }
  return t;
}

timestamp add_open_time(timestamp t, std::chrono::milliseconds d, const business_hours& h) {
  if (h.empty() || std::none_of(h.days.begin(), h.days.end(), [](bool b) { return b; }) ||
      h.end_minute <= h.start_minute || d.count() <= 0)
    return t + std::max(d, std::chrono::milliseconds{0});
  auto cal = calendar_in(h.time_zone);
  if (!cal) return t + d;
  timestamp cur = next_open(t, h);
  // One open window per step; a year of targets at most (the schema caps targets far below).
  for (int i = 0; i < 3660 && d.count() > 0; ++i) {
    const timestamp close = at(*cal, date_of(*cal, cur), 0, h.end_minute);
    if (cur + d <= close) return cur + d;
    if (close > cur) d -= close - cur;
    const timestamp next = next_open(close, h);
    if (next <= cur) break;  // no later opening (cannot happen with an open day)
    cur = next;
  }
  return cur + d;
}

timestamp period_start(timestamp t, std::string_view period, std::string_view zone) {
  auto cal = calendar_in(zone);
  if (!cal) return t;
  local_date d = date_of(*cal, t);
  if (period == "month") return at(*cal, {d.year, d.month, 1}, 0, 0);
  if (period == "week") {
    UErrorCode st = U_ZERO_ERROR;
    const int dow = cal->get(UCAL_DAY_OF_WEEK, st);  // 1 = Sunday
    const int back = (dow + 5) % 7;                 // days since Monday
    return at(*cal, d, -back, 0);
  }
  return at(*cal, d, 0, 0);
}

std::string normalize_email(std::string_view email, const throttle_policy& p) {
  std::string s(email);
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  // "Name <a@b>" -> a@b
  if (auto lt = s.rfind('<'); lt != std::string::npos && s.back() == '>') s = s.substr(lt + 1, s.size() - lt - 2);
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto at_pos = s.rfind('@');
  if (at_pos == std::string::npos || at_pos == 0 || at_pos + 1 == s.size()) return {};
  std::string local = s.substr(0, at_pos), domain = s.substr(at_pos + 1);
  const bool gmail = p.fold_gmail && (domain == "gmail.com" || domain == "googlemail.com");
  if (gmail || p.strip_plus) {
    if (auto plus = local.find('+'); plus != std::string::npos && plus > 0) local.resize(plus);
  }
  if (gmail) {
    std::erase(local, '.');
    domain = "gmail.com";
  }
  return local + "@" + domain;
}

bool sampled(std::string_view tenant, std::string_view host, std::string_view ticket, double rate) noexcept {
  if (rate >= 1.0) return true;
  if (rate <= 0.0) return false;
  // FNV-1a 64 over "tenant/host/ticket", then a finaliser (splitmix64) to spread close ids.
  std::uint64_t h = 1469598103934665603ULL;
  auto feed = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  feed(tenant);
  feed("/");
  feed(host);
  feed("/");
  feed(ticket);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return static_cast<double>(h >> 11) / static_cast<double>(1ULL << 53) < rate;
}

}  // namespace closeloop::survey
