#pragma once
// The bridge door's HTTP(S) server: Boost.Beast, HTTP/1.1, keep-alive. Sessions own their
// timeouts and body limit; SIGTERM/SIGINT stop accepting, let in-flight requests finish
// (bounded by a grace period) and return from run().
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "server/services.hpp"

namespace closeloop::server {

class http_server {
 public:
  explicit http_server(services& svc);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Bind and listen; returns the bound port (useful with port 0). Errors name the address.
  result<std::uint16_t> start();
  // Serve until stop() or a SIGTERM/SIGINT (when handle_signals). Blocks on `threads` threads.
  void run(bool handle_signals = true);
  // Thread-safe: begin a graceful stop.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> p_;
};

}  // namespace closeloop::server
