#pragma once
// A scripted HTTP/1.1 server on 127.0.0.1 (port 0) for adapter tests: it runs on its own thread,
// records every request it receives and answers each with the next scripted response (200 "ok"
// when the script is empty, or what the handler set with set_handler() says). A response marked
// never_answer holds the connection open without a word, for timeout tests. Pass an ssl::context
// to serve HTTPS instead.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/headers.hpp"

namespace closeloop::test {

struct recorded_request {
  std::string method;
  std::string target;
  adapters::header_list headers;  // names lower-case
  std::string body;
  const std::string* header(std::string_view name) const { return adapters::find_header(headers, name); }
};

struct scripted_response {
  int status = 200;
  adapters::header_list headers;
  std::string body = "ok";
  std::chrono::milliseconds delay{0};  // wait this long before answering
  bool never_answer = false;           // read the request, then stay silent until the server stops
};

class loopback_server {
 public:
  explicit loopback_server(std::shared_ptr<boost::asio::ssl::context> tls = nullptr)
      : tls_(std::move(tls)), acceptor_(ioc_) {
    namespace asio = boost::asio;
    using tcp = asio::ip::tcp;
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }

  ~loopback_server() {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  loopback_server(const loopback_server&) = delete;
  loopback_server& operator=(const loopback_server&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
  }

  void push(scripted_response r) {
    std::lock_guard lock(mutex_);
    script_.push_back(std::move(r));
  }

  // Answers requests the script does not cover (the conformance suite's contract stand-in).
  using handler = std::function<scripted_response(const recorded_request&)>;
  void set_handler(handler h) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(h);
  }

  std::vector<recorded_request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  // True once at least n requests were recorded.
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
  }

 private:
  boost::asio::awaitable<void> accept_loop() {
    namespace asio = boost::asio;
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(ioc_, session(std::move(socket)), asio::detached);
    }
  }

  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket) {
    namespace beast = boost::beast;
    namespace asio = boost::asio;
    if (tls_) {
      beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls_);
      auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;  // e.g. the client rejected our certificate
      co_await serve(stream);
    } else {
      beast::tcp_stream stream(std::move(socket));
      co_await serve(stream);
    }
  }

  template <typename Stream>
  boost::asio::awaitable<void> serve(Stream& stream) {
    namespace beast = boost::beast;
    namespace http = boost::beast::http;
    namespace asio = boost::asio;
    constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(stream, buffer, req, tuple);
      if (ec) co_return;
      recorded_request rec;
      rec.method = std::string(req.method_string());
      rec.target = std::string(req.target());
      for (const auto& f : req) rec.headers.emplace_back(adapters::to_lower(f.name_string()), std::string(f.value()));
      rec.body = req.body();
      scripted_response r;
      {
        std::lock_guard lock(mutex_);
        if (!script_.empty()) {
          r = std::move(script_.front());
          script_.pop_front();
        } else if (handler_) {
          r = handler_(rec);
        }
        requests_.push_back(std::move(rec));
      }
      cv_.notify_all();
      if (r.never_answer || r.delay.count() > 0) {
        asio::steady_timer timer(ioc_);
        timer.expires_after(r.never_answer ? std::chrono::hours{1} : r.delay);
        co_await timer.async_wait(tuple);
        if (r.never_answer) co_return;
      }
      http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
      for (const auto& [name, value] : r.headers) res.insert(name, value);
      res.body() = r.body;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, w] = co_await http::async_write(stream, res, tuple);
      if (wec || !req.keep_alive()) co_return;
    }
  }

  std::shared_ptr<boost::asio::ssl::context> tls_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<scripted_response> script_;
  handler handler_;
  std::vector<recorded_request> requests_;
};

}  // namespace closeloop::test
