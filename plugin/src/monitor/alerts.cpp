// Alert rules: parsing and pure evaluation (alerts.hpp).
#include "monitor/alerts.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace closeloop::monitor {

using nlohmann::json;

std::string_view to_string(level l) noexcept {
  switch (l) {
    case level::green: return "green";
    case level::yellow: return "yellow";
    case level::red: return "red";
  }
  return "green";
}

std::optional<level> level_from_string(std::string_view s) noexcept {
  for (level l : {level::green, level::yellow, level::red})
    if (to_string(l) == s) return l;
  return std::nullopt;
}

namespace {

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

// How much worse `v` is than `ref` (positive = worse) for this metric.
double worse_by(std::string_view metric, double v, double ref) { return higher_is_better(metric) ? ref - v : v - ref; }

condition_result judge(const alert_rule& rule, const alert_condition& c, const std::vector<tally>& w) {
  condition_result r;
  r.metric = c.metric;
  r.type = c.type;
  const std::int64_t min = c.min_sample.value_or(rule.min_sample);
  if (w.empty()) {
    r.reason = "no data";
    return r;
  }
  r.sample = sample_size(w[0], c.metric);
  r.value = metric_value(w[0], c.metric);
  if (r.sample < min || !r.value) {
    r.reason = "not judged: sample " + std::to_string(r.sample) + " < minimum " + std::to_string(min);
    return r;
  }
  const double v = *r.value;
  const bool hib = higher_is_better(c.metric);
  const char* worse = hib ? "below" : "above";
  if (c.type == "absolute") {
    r.judged = true;
    r.yellow_limit = c.yellow;
    r.red_limit = c.red;
    auto breach = [&](const std::optional<double>& t) { return t && worse_by(c.metric, v, *t) > 0; };
    r.lvl = breach(c.red) ? level::red : breach(c.yellow) ? level::yellow : level::green;
    r.reason = c.metric + " " + fmt(v) + " (n=" + std::to_string(r.sample) + ")";
    if (r.lvl != level::green)
      r.reason += std::string(" ") + worse + " " + std::string(to_string(r.lvl)) + " threshold " +
                  fmt(*(r.lvl == level::red ? c.red : c.yellow));
    return r;
  }
  if (c.type == "relative") {
    if (w.size() < 2 || sample_size(w[1], c.metric) < min || !metric_value(w[1], c.metric)) {
      r.reason = "not judged: the previous window has too small a sample";
      return r;
    }
    const double base = *metric_value(w[1], c.metric);
    r.baseline = base;
    if (std::abs(base) < 1e-9) {
      r.reason = "not judged: the previous window's value is 0";
      return r;
    }
    r.judged = true;
    const double pct = 100.0 * worse_by(c.metric, v, base) / std::abs(base);
    r.yellow_limit = c.yellow;
    r.red_limit = c.red;
    r.lvl = c.red && pct >= *c.red ? level::red : c.yellow && pct >= *c.yellow ? level::yellow : level::green;
    r.reason = c.metric + " " + fmt(v) + " vs " + fmt(base) + " the window before (" + (pct >= 0 ? "worse" : "better") +
               " by " + fmt(std::abs(pct)) + " %)";
    return r;
  }
  // dynamic
  std::vector<double> hist;  // newest first
  for (std::size_t i = 1; i < w.size() && static_cast<int>(i) <= c.history; ++i)
    if (sample_size(w[i], c.metric) >= min)
      if (auto x = metric_value(w[i], c.metric)) hist.push_back(*x);
  if (hist.size() < 3) {
    r.reason = "not judged: " + std::to_string(hist.size()) + " history windows with enough sample (3 needed)";
    return r;
  }
  double mean = 0;
  for (double x : hist) mean += x;
  mean /= static_cast<double>(hist.size());
  double var = 0;
  for (double x : hist) var += (x - mean) * (x - mean);
  const double sigma = std::max(std::sqrt(var / static_cast<double>(hist.size() - 1)), 1e-9);
  double center = mean;
  if (c.method == "ewma") {
    center = hist.back();
    for (auto it = hist.rbegin() + 1; it != hist.rend(); ++it) center = c.lambda * *it + (1 - c.lambda) * center;
  }
  r.judged = true;
  r.baseline = center;
  const double ky = c.yellow.value_or(2.0), kr = c.red.value_or(3.0);
  r.yellow_limit = hib ? center - ky * sigma : center + ky * sigma;
  r.red_limit = hib ? center - kr * sigma : center + kr * sigma;
  const double d = worse_by(c.metric, v, center);
  r.lvl = d > kr * sigma ? level::red : d > ky * sigma ? level::yellow : level::green;
  r.reason = c.metric + " " + fmt(v) + " vs " + c.method + " " + fmt(center) + " ± " + fmt(sigma) + " over " +
             std::to_string(hist.size()) + " windows";
  if (r.lvl != level::green) r.reason += std::string(" (") + worse + " the " + std::string(to_string(r.lvl)) + " limit)";
  return r;
}

}  // namespace

json to_json(const evaluation& e) {
  json results = json::array();
  auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(); };
  for (const auto& r : e.results)
    results.push_back({{"metric", r.metric},
                       {"type", r.type},
                       {"level", to_string(r.lvl)},
                       {"judged", r.judged},
                       {"value", opt(r.value)},
                       {"baseline", opt(r.baseline)},
                       {"yellow_limit", opt(r.yellow_limit)},
                       {"red_limit", opt(r.red_limit)},
                       {"sample", r.sample},
                       {"reason", r.reason}});
  return {{"level", to_string(e.lvl)}, {"summary", e.summary}, {"conditions", results}};
}

evaluation evaluate(const alert_rule& rule, const std::vector<tally>& windows) {
  evaluation e;
  bool first = true;
  for (const auto& c : rule.conditions) {
    condition_result r = judge(rule, c, windows);
    if (rule.combine_all) e.lvl = first ? r.lvl : std::min(e.lvl, r.lvl);
    else e.lvl = std::max(e.lvl, r.lvl);
    first = false;
    e.results.push_back(std::move(r));
  }
  for (const auto& r : e.results) {
    if (r.lvl == level::green && e.lvl != level::green && !rule.combine_all) continue;
    if (!e.summary.empty()) e.summary += "; ";
    e.summary += r.reason;
  }
  return e;
}

result<std::vector<tally>> window_tallies(monitor_db& db, const std::string& tenant, dimension by,
                                          const std::string& value, std::int64_t last_day, int window_days,
                                          int count) {
  if (window_days < 1 || count < 1) return make_error(errc::invalid_argument, "window_days and count must be positive");
  const std::int64_t first = last_day - static_cast<std::int64_t>(window_days) * count + 1;
  auto rows = db.query({tenant, by, period::day, first, last_day});
  if (!rows) return rows.err();
  std::vector<tally> out(static_cast<std::size_t>(count));
  for (const auto& r : *rows) {
    if (by != dimension::all && r.segment != value) continue;
    const auto i = static_cast<std::size_t>((last_day - r.period_start) / window_days);
    if (i < out.size()) out[i] += r.t;
  }
  return out;
}

json suggest_thresholds(const std::vector<tally>& history, const std::vector<std::string>& metrics,
                        std::int64_t min_sample) {
  json out = json::object();
  for (const auto& m : metrics) {
    std::vector<double> xs;  // newest first
    for (const auto& t : history)
      if (sample_size(t, m) >= min_sample)
        if (auto v = metric_value(t, m)) xs.push_back(*v);
    json j = {{"windows", xs.size()}};
    if (xs.size() < 3) {
      j["note"] = "fewer than 3 windows with at least " + std::to_string(min_sample) + " in the sample: no suggestion";
      out[m] = j;
      continue;
    }
    double mean = 0;
    for (double x : xs) mean += x;
    mean /= static_cast<double>(xs.size());
    double var = 0;
    for (double x : xs) var += (x - mean) * (x - mean);
    const double sigma = std::sqrt(var / static_cast<double>(xs.size() - 1));
    const double sign = higher_is_better(m) ? -1 : 1;
    double worst_step = 0;  // the largest window-to-window worsening, in percent
    for (std::size_t i = 0; i + 1 < xs.size(); ++i)
      if (std::abs(xs[i + 1]) > 1e-9)
        worst_step = std::max(worst_step, 100.0 * worse_by(m, xs[i], xs[i + 1]) / std::abs(xs[i + 1]));
    auto round1 = [](double v) { return std::round(v * 10) / 10; };
    const double rel_yellow = round1(std::max(5.0, worst_step * 1.2));
    j["mean"] = round1(mean);
    j["sigma"] = round1(sigma);
    j["absolute"] = {{"metric", m}, {"type", "absolute"}, {"yellow", round1(mean + sign * 2 * sigma)},
                     {"red", round1(mean + sign * 3 * sigma)}};
    j["relative"] = {{"metric", m}, {"type", "relative"}, {"yellow", rel_yellow}, {"red", round1(rel_yellow * 2)}};
    j["dynamic"] = {{"metric", m}, {"type", "dynamic"}, {"method", "ewma"}, {"yellow", 2}, {"red", 3}};
    out[m] = j;
  }
  return out;
}

result<std::vector<alert_rule>> parse_alert_rules(const json& mon, const std::string& where) {
  std::vector<alert_rule> rules;
  if (!mon.is_object() || !mon.contains("alerts")) return rules;
  std::set<std::string> ids;
  const json channels = mon.value("channels", json::object());
  const json& arr = mon["alerts"];
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const json& j = arr[i];
    const std::string p = where + "/alerts/" + std::to_string(i);
    auto bad = [&](const std::string& sub, const std::string& what) {
      return make_error(errc::invalid_config, "config: " + p + sub + ": " + what);
    };
    alert_rule r;
    r.id = j.value("id", "");
    if (r.id.empty()) return bad("/id", "an alert rule needs an id");
    if (!ids.insert(r.id).second) return bad("/id", "duplicate alert rule id \"" + r.id + "\"");
    r.name = j.value("name", r.id);
    r.owner = j.value("owner", "");
    if (j.contains("segment")) {
      auto d = dimension_from_string(j["segment"].value("by", "all"));
      if (!d) return bad("/segment/by", "unknown dimension");
      r.by = *d;
      r.value = j["segment"].value("value", "");
    }
    r.window_days = j.value("window_days", r.window_days);
    r.min_sample = j.value("min_sample", r.min_sample);
    r.combine_all = j.value("combine", "any") == "all";
    const json& conds = j.value("conditions", json::array());
    if (conds.empty()) return bad("/conditions", "an alert rule needs at least one condition");
    for (std::size_t k = 0; k < conds.size(); ++k) {
      const json& cj = conds[k];
      const std::string cp = "/conditions/" + std::to_string(k);
      alert_condition c;
      c.metric = cj.value("metric", "");
      if (!is_metric(c.metric)) return bad(cp + "/metric", "unknown metric \"" + c.metric + "\"");
      c.type = cj.value("type", c.type);
      if (cj.contains("yellow")) c.yellow = cj["yellow"].get<double>();
      if (cj.contains("red")) c.red = cj["red"].get<double>();
      c.method = cj.value("method", c.method);
      c.lambda = cj.value("lambda", c.lambda);
      c.history = cj.value("history", c.history);
      if (cj.contains("min_sample")) c.min_sample = cj["min_sample"].get<std::int64_t>();
      if (c.type != "dynamic" && !c.yellow && !c.red)
        return bad(cp, "a " + c.type + " condition needs a yellow or a red threshold");
      if (c.yellow && c.red) {
        // yellow must be the milder: for absolute thresholds on the good side of red, for
        // relative/dynamic a smaller worsening.
        const bool ok = c.type == "absolute" ? worse_by(c.metric, *c.yellow, *c.red) < 0 : *c.yellow < *c.red;
        if (!ok) return bad(cp, "the yellow threshold must be milder than the red one");
      }
      r.conditions.push_back(std::move(c));
    }
    for (const auto& d : j.value("deliver", json::array())) {
      std::string id = d.get<std::string>();
      if (!channels.contains(id)) return bad("/deliver", "unknown channel \"" + id + "\" (not in monitoring.channels)");
      r.deliver.push_back(id);
    }
    rules.push_back(std::move(r));
  }
  return rules;
}

}  // namespace closeloop::monitor
