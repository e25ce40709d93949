#include "server/metrics.hpp"

#include <cstdio>
#include <sstream>

namespace closeloop::server {
namespace {
std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
std::string short_num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
std::string with(const std::string& labels, const std::string& extra) {
  if (labels.empty()) return "{" + extra + "}";
  return "{" + labels + "," + extra + "}";
}
}  // namespace

std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void metrics::inc(const std::string& name, const std::string& labels, double by) {
  std::lock_guard lk(mu_);
  counters_[name][labels] += by;
}

void metrics::set_gauge(const std::string& name, const std::string& labels, double value) {
  std::lock_guard lk(mu_);
  gauges_[name][labels] = value;
}

void metrics::observe_seconds(const std::string& name, const std::string& labels, double seconds) {
  std::lock_guard lk(mu_);
  auto& h = histograms_[name][labels];
  for (std::size_t i = 0; i < buckets.size(); ++i)
    if (seconds <= buckets[i]) ++h.counts[i];
  ++h.count;
  h.sum += seconds;
}

void metrics::describe(const std::string& name, const std::string& type, const std::string& help) {
  std::lock_guard lk(mu_);
  help_[name] = {type, help};
}

std::string metrics::render() const {
  std::lock_guard lk(mu_);
  std::ostringstream out;
  auto header = [&](const std::string& name, const char* fallback_type) {
    auto it = help_.find(name);
    if (it != help_.end()) out << "# HELP " << name << ' ' << it->second.second << '\n';
    out << "# TYPE " << name << ' ' << (it != help_.end() ? it->second.first : fallback_type) << '\n';
  };
  for (const auto& [name, series] : counters_) {
    header(name, "counter");
    for (const auto& [labels, v] : series) out << name << (labels.empty() ? "" : "{" + labels + "}") << ' ' << num(v) << '\n';
  }
  for (const auto& [name, series] : gauges_) {
    header(name, "gauge");
    for (const auto& [labels, v] : series) out << name << (labels.empty() ? "" : "{" + labels + "}") << ' ' << num(v) << '\n';
  }
  for (const auto& [name, series] : histograms_) {
    header(name, "histogram");
    for (const auto& [labels, h] : series) {
      for (std::size_t i = 0; i < buckets.size(); ++i)
        out << name << "_bucket" << with(labels, "le=\"" + short_num(buckets[i]) + "\"") << ' ' << h.counts[i] << '\n';
      out << name << "_bucket" << with(labels, "le=\"+Inf\"") << ' ' << h.count << '\n';
      out << name << "_sum" << (labels.empty() ? "" : "{" + labels + "}") << ' ' << num(h.sum) << '\n';
      out << name << "_count" << (labels.empty() ? "" : "{" + labels + "}") << ' ' << h.count << '\n';
    }
  }
  return out.str();
}

}  // namespace closeloop::server
