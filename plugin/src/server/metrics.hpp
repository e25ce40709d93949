#pragma once
// Prometheus text-format metrics: labelled counters and latency histograms, thread-safe.
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace closeloop::server {

class metrics {
 public:
  // labels: already formatted, e.g. R"(route="webhook",status="202")"
  void inc(const std::string& name, const std::string& labels = {}, double by = 1);
  void observe_seconds(const std::string& name, const std::string& labels, double seconds);
  void set_gauge(const std::string& name, const std::string& labels, double value);
  // help text per metric name, printed once
  void describe(const std::string& name, const std::string& type, const std::string& help);
  std::string render() const;

  static constexpr std::array<double, 12> buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1,     5};

 private:
  struct histogram {
    std::array<std::uint64_t, buckets.size()> counts{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, std::pair<std::string, std::string>> help_;  // name -> (type, help)
  std::map<std::string, std::map<std::string, double>> counters_;    // name -> labels -> value
  std::map<std::string, std::map<std::string, double>> gauges_;
  std::map<std::string, std::map<std::string, histogram>> histograms_;
};

// Escape a label value for the text format.
std::string label_value(std::string_view v);

}  // namespace closeloop::server
