#pragma once
// Every log line closeloop writes goes through the PII scrubber (closeloop/text.hpp scrub_pii):
// an spdlog formatter that scrubs the message, then formats it with the usual pattern. E-mail
// addresses, phones, cards, national ids, IBANs and IP addresses never reach a log.
#include <memory>
#include <string>

#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>

namespace closeloop::server {

class scrubbing_formatter final : public spdlog::formatter {
 public:
  explicit scrubbing_formatter(std::string pattern);
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  std::string pattern_;
  std::unique_ptr<spdlog::pattern_formatter> inner_;
};

// The pattern closeloop's CLI logs with.
inline constexpr const char* k_log_pattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v";

}  // namespace closeloop::server
