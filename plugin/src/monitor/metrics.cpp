// Pure metric arithmetic (metrics.hpp): days and periods, a fact's contribution to a tally, and
// the figures of a tally.
#include "monitor/metrics.hpp"

#include <chrono>
#include <cstdio>

namespace closeloop::monitor {

namespace chr = std::chrono;

std::int64_t day_of_ms(std::int64_t ms) noexcept {
  constexpr std::int64_t k = 86'400'000;
  return ms >= 0 ? ms / k : -((-ms + k - 1) / k);
}

std::int64_t day_of(timestamp t) noexcept { return day_of_ms(t.time_since_epoch().count()); }

std::string day_string(std::int64_t day) {
  chr::year_month_day ymd{chr::sys_days{chr::days{day}}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

result<std::int64_t> parse_day(std::string_view s) {
  int y = 0;
  unsigned m = 0, d = 0;
  char tail = 0;
  std::string text(s);
  if (s.size() != 10 || std::sscanf(text.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3 || s[4] != '-' ||
      s[7] != '-')
    return make_error(errc::invalid_argument, "not a date (YYYY-MM-DD): \"" + text + "\"");
  chr::year_month_day ymd{chr::year{y}, chr::month{m}, chr::day{d}};
  if (!ymd.ok()) return make_error(errc::invalid_argument, "no such date: \"" + text + "\"");
  return static_cast<std::int64_t>(chr::sys_days{ymd}.time_since_epoch().count());
}

std::string_view to_string(period p) noexcept {
  switch (p) {
    case period::day: return "day";
    case period::week: return "week";
    case period::month: return "month";
    case period::all: return "all";
  }
  return "day";
}

std::optional<period> period_from_string(std::string_view s) noexcept {
  for (period p : {period::day, period::week, period::month, period::all})
    if (to_string(p) == s) return p;
  return std::nullopt;
}

std::int64_t period_start(std::int64_t day, period p) noexcept {
  switch (p) {
    case period::day: return day;
    case period::week: {
      // 1970-01-01 was a Thursday: Monday-based weekday = (day + 3) mod 7.
      std::int64_t wd = ((day + 3) % 7 + 7) % 7;
      return day - wd;
    }
    case period::month: {
      chr::year_month_day ymd{chr::sys_days{chr::days{day}}};
      return chr::sys_days{ymd.year() / ymd.month() / 1}.time_since_epoch().count();
    }
    case period::all: return 0;
  }
  return day;
}

std::int64_t period_end(std::int64_t start, period p) noexcept {
  switch (p) {
    case period::day: return start + 1;
    case period::week: return start + 7;
    case period::month: {
      chr::year_month_day ymd{chr::sys_days{chr::days{start}}};
      auto next = ymd.year() / ymd.month() / 1 + chr::months{1};
      return chr::sys_days{next}.time_since_epoch().count();
    }
    case period::all: return 1'000'000;
  }
  return start + 1;
}

nlohmann::json to_json(const fact& f) {
  auto opt = [](const std::optional<std::int64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  auto at = [](const std::optional<std::int64_t>& v) {
    return v ? nlohmann::json(format_rfc3339(timestamp{chr::milliseconds{*v}})) : nlohmann::json();
  };
  return {{"host", f.host},
          {"ticket_id", f.ticket_id},
          {"day", day_string(f.day)},
          {"created_at", at(f.created_at_ms)},
          {"solved_at", at(f.solved_at_ms)},
          {"first_response_s", opt(f.first_response_s)},
          {"resolution_s", opt(f.resolution_s)},
          {"agent", f.agent},
          {"group", f.group},
          {"category", f.category},
          {"channel", f.channel},
          {"language", f.language},
          {"tier", f.tier},
          {"sentiment", f.sentiment},
          {"solved", f.solved},
          {"reopens", f.reopens},
          {"surveyed", f.surveyed},
          {"kind", f.kind},
          {"score", f.score ? nlohmann::json(*f.score) : nlohmann::json()},
          {"answered_at", at(f.answered_at_ms)}};
}

std::string_view to_string(dimension d) noexcept {
  switch (d) {
    case dimension::all: return "all";
    case dimension::agent: return "agent";
    case dimension::group: return "group";
    case dimension::category: return "category";
    case dimension::channel: return "channel";
    case dimension::language: return "language";
    case dimension::tier: return "tier";
  }
  return "all";
}

const std::array<dimension, 7>& all_dimensions() noexcept {
  static const std::array<dimension, 7> k{dimension::all,     dimension::agent,    dimension::group, dimension::category,
                                          dimension::channel, dimension::language, dimension::tier};
  return k;
}

std::optional<dimension> dimension_from_string(std::string_view s) noexcept {
  for (dimension d : all_dimensions())
    if (to_string(d) == s) return d;
  return std::nullopt;
}

std::string_view column_of(dimension d) noexcept { return d == dimension::group ? "grp" : d == dimension::all ? "" : to_string(d); }

const std::string& value_of(const fact& f, dimension d) noexcept {
  static const std::string none;
  switch (d) {
    case dimension::all: return none;
    case dimension::agent: return f.agent;
    case dimension::group: return f.group;
    case dimension::category: return f.category;
    case dimension::channel: return f.channel;
    case dimension::language: return f.language;
    case dimension::tier: return f.tier;
  }
  return none;
}

void tally::add(const fact& f, int sign) {
  const std::int64_t s = sign;
  tickets += s;
  if (f.solved) solved += s;
  if (f.reopens > 0) reopened += s;
  if (f.surveyed) surveyed += s;
  if (f.score) {
    answered += s;
    const int v = *f.score;
    if (f.kind == "csat") {
      csat_n += s;
      if (v >= 4) csat_good += s;
    } else if (f.kind == "nps") {
      nps_n += s;
      if (v >= 9) nps_pro += s;
      if (v <= 6) nps_det += s;
      if (v >= 0 && v <= 10) nps_hist[static_cast<std::size_t>(v)] += s;
    } else if (f.kind == "ces") {
      ces_n += s;
      ces_sum += s * v;
    }
  }
  if (f.first_response_s) {
    frt_n += s;
    frt_sum_s += s * *f.first_response_s;
  }
  if (f.resolution_s) {
    res_n += s;
    res_sum_s += s * *f.resolution_s;
  }
  const bool pos = f.sentiment == "positive", neg = f.sentiment == "negative", neu = f.sentiment == "neutral";
  if (pos) sent_pos += s;
  if (neg) sent_neg += s;
  if (neu) sent_neu += s;
  if (f.surveyed && !f.score && (pos || neg || neu)) {
    inf_n += s;
    if (pos) inf_good += s;
  }
}

tally& tally::operator+=(const tally& o) {
  tickets += o.tickets, solved += o.solved, reopened += o.reopened, surveyed += o.surveyed, answered += o.answered;
  csat_n += o.csat_n, csat_good += o.csat_good, nps_n += o.nps_n, nps_pro += o.nps_pro, nps_det += o.nps_det;
  ces_n += o.ces_n, ces_sum += o.ces_sum, frt_n += o.frt_n, frt_sum_s += o.frt_sum_s, res_n += o.res_n;
  res_sum_s += o.res_sum_s, sent_pos += o.sent_pos, sent_neu += o.sent_neu, sent_neg += o.sent_neg;
  inf_n += o.inf_n, inf_good += o.inf_good;
  for (std::size_t i = 0; i < nps_hist.size(); ++i) nps_hist[i] += o.nps_hist[i];
  return *this;
}

bool tally::empty() const noexcept { return *this == tally{}; }

namespace {

std::optional<double> pct(std::int64_t num, std::int64_t den) {
  if (den <= 0) return std::nullopt;
  return 100.0 * static_cast<double>(num) / static_cast<double>(den);
}

std::optional<double> mean(std::int64_t sum, std::int64_t n) {
  if (n <= 0) return std::nullopt;
  return static_cast<double>(sum) / static_cast<double>(n);
}

}  // namespace

figures compute(const tally& t) {
  figures f;
  f.csat = pct(t.csat_good, t.csat_n);
  if (t.nps_n > 0) f.nps = *pct(t.nps_pro, t.nps_n) - *pct(t.nps_det, t.nps_n);
  f.ces = mean(t.ces_sum, t.ces_n);
  f.response_rate = pct(t.answered, t.surveyed);
  f.reopen_rate = pct(t.reopened, t.solved);
  f.first_response_s = mean(t.frt_sum_s, t.frt_n);
  f.resolution_s = mean(t.res_sum_s, t.res_n);
  const std::int64_t with_sentiment = t.sent_pos + t.sent_neu + t.sent_neg;
  f.negative_share = pct(t.sent_neg, with_sentiment);
  f.positive_share = pct(t.sent_pos, with_sentiment);
  f.inferred_csat = pct(t.inf_good, t.inf_n);
  return f;
}

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> k{"csat",         "nps",           "ces",           "response_rate",
                                          "reopen_rate",  "first_response_s", "resolution_s", "negative_share",
                                          "positive_share", "inferred_csat", "tickets",       "answered"};
  return k;
}

bool is_metric(std::string_view name) noexcept {
  for (const auto& m : metric_names())
    if (m == name) return true;
  return false;
}

std::optional<double> metric_value(const tally& t, std::string_view name) {
  const figures f = compute(t);
  if (name == "csat") return f.csat;
  if (name == "nps") return f.nps;
  if (name == "ces") return f.ces;
  if (name == "response_rate") return f.response_rate;
  if (name == "reopen_rate") return f.reopen_rate;
  if (name == "first_response_s") return f.first_response_s;
  if (name == "resolution_s") return f.resolution_s;
  if (name == "negative_share") return f.negative_share;
  if (name == "positive_share") return f.positive_share;
  if (name == "inferred_csat") return f.inferred_csat;
  if (name == "tickets") return static_cast<double>(t.tickets);
  if (name == "answered") return static_cast<double>(t.answered);
  return std::nullopt;
}

std::int64_t sample_size(const tally& t, std::string_view name) {
  if (name == "csat") return t.csat_n;
  if (name == "nps") return t.nps_n;
  if (name == "ces") return t.ces_n;
  if (name == "response_rate") return t.surveyed;
  if (name == "reopen_rate") return t.solved;
  if (name == "first_response_s") return t.frt_n;
  if (name == "resolution_s") return t.res_n;
  if (name == "negative_share" || name == "positive_share") return t.sent_pos + t.sent_neu + t.sent_neg;
  if (name == "inferred_csat") return t.inf_n;
  return t.tickets;
}

bool higher_is_better(std::string_view name) noexcept {
  return !(name == "reopen_rate" || name == "first_response_s" || name == "resolution_s" ||
           name == "negative_share");
}

nlohmann::json to_json(const tally& t) {
  auto v = [](const std::optional<double>& x) { return x ? nlohmann::json(*x) : nlohmann::json(); };
  const figures f = compute(t);
  return {{"tickets", t.tickets},
          {"solved", t.solved},
          {"reopened", t.reopened},
          {"surveyed", t.surveyed},
          {"answered", t.answered},
          {"csat_n", t.csat_n},
          {"nps_n", t.nps_n},
          {"ces_n", t.ces_n},
          {"inferred_n", t.inf_n},
          {"csat", v(f.csat)},
          {"nps", v(f.nps)},
          {"ces", v(f.ces)},
          {"response_rate", v(f.response_rate)},
          {"reopen_rate", v(f.reopen_rate)},
          {"first_response_s", v(f.first_response_s)},
          {"resolution_s", v(f.resolution_s)},
          {"negative_share", v(f.negative_share)},
          {"positive_share", v(f.positive_share)},
          {"inferred_csat", v(f.inferred_csat)},
          {"nps_distribution", t.nps_hist}};
}

}  // namespace closeloop::monitor
