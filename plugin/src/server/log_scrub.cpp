#include "server/log_scrub.hpp"

#include "closeloop/text.hpp"

namespace closeloop::server {

scrubbing_formatter::scrubbing_formatter(std::string pattern)
    : pattern_(std::move(pattern)), inner_(std::make_unique<spdlog::pattern_formatter>(pattern_)) {}

void scrubbing_formatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const std::string_view payload(msg.payload.data(), msg.payload.size());
  const std::string clean = scrub_pii(payload);
  if (clean == payload) return inner_->format(msg, dest);
  spdlog::details::log_msg scrubbed = msg;
  scrubbed.payload = spdlog::string_view_t(clean.data(), clean.size());
  inner_->format(scrubbed, dest);
}

std::unique_ptr<spdlog::formatter> scrubbing_formatter::clone() const {
  return std::make_unique<scrubbing_formatter>(pattern_);
}

}  // namespace closeloop::server
