// The cost of scrubbing PII out of every log line (server/log_scrub.hpp): the lines the ingest
// and worker paths write, formatted by a sink that formats and discards (as a file or stderr
// sink formats before writing), once with the plain pattern and once through the scrubber.
// Prints lines/s of each, the ratio and the cost per line.
//   closeloop_bench_log_scrub [--lines N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "server/log_scrub.hpp"

namespace {

class formatting_null_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::size_t bytes = 0;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    bytes += buf.size();
  }
  void flush_() override {}
};

double run(std::unique_ptr<spdlog::formatter> f, long lines, std::size_t& bytes) {
  auto sink = std::make_shared<formatting_null_sink>();
  sink->set_formatter(std::move(f));
  spdlog::logger log("bench", sink);
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < lines; ++i) {
    switch (i % 4) {
      case 0:
        log.info("event accepted tenant={} host={} ticket={} event={} type={} actions={}", "acme", "zendesk",
                 10000 + i, "zd-" + std::to_string(i), "ticket.created", 3);
        break;
      case 1:
        log.info("action done tenant={} host={} ticket={} event={} action={} attempt={}", "acme", "zendesk",
                 10000 + i, "zd-" + std::to_string(i), "set_priority", 1);
        break;
      case 2:
        log.warn("action retry tenant={} host={} ticket={} event={} action={} attempt={} in={}ms: {}", "acme",
                 "rt", 10000 + i, "rt-" + std::to_string(i), "add_internal_note", 2, 1500,
                 "HTTP 503 from https://rt.example.com/REST/2.0/ticket/42/comment");
        break;
      default:  // a line with PII in it, as a careless message would carry
        log.info("survey sent tenant={} ticket={} to {} ({})", "acme", 10000 + i, "ann.customer@example.com",
                 "+86 138 0013 8000");
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  bytes = sink->bytes;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long lines = 400000;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--lines") == 0) lines = std::atol(argv[i + 1]);
  std::size_t plain_bytes = 0, scrub_bytes = 0;
  const double plain = run(std::make_unique<spdlog::pattern_formatter>(closeloop::server::k_log_pattern), lines,
                           plain_bytes);
  const double scrub = run(std::make_unique<closeloop::server::scrubbing_formatter>(closeloop::server::k_log_pattern),
                           lines, scrub_bytes);
  std::printf("log lines:            %ld (a quarter of them carry an e-mail and a phone)\n", lines);
  std::printf("plain pattern:        %.0f lines/s (%.2f us/line)\n", lines / plain, plain * 1e6 / lines);
  std::printf("scrubbing formatter:  %.0f lines/s (%.2f us/line)\n", lines / scrub, scrub * 1e6 / lines);
  std::printf("ratio scrub/plain:    %.2f (throughput), scrubbing adds %.2f us per line\n", plain / scrub,
              (scrub - plain) * 1e6 / lines);
  return scrub_bytes > 0 && plain_bytes > 0 ? 0 : 1;
}
