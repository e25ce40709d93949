#include "server/http_server.hpp"

#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "server/handlers.hpp"

namespace closeloop::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t header_limit = 16 * 1024;

// TLS 1.2 suites when serving HTTPS, in our order of preference (ECDHE + AEAD only).
constexpr const char* server_tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr auto drain_grace = std::chrono::seconds(10);

struct shared_state {
  services& svc;
  std::atomic<bool> stopping{false};
  std::atomic<int> in_flight{0};  // requests read but not yet answered
};

http_response plain_error(http::status st, std::string_view code, std::string_view message) {
  http_request fake;
  fake.version(11);
  fake.keep_alive(false);
  auto res = json_error(fake, st, code, message);
  res.keep_alive(false);
  return res;
}

// The common HTTP logic; Derived provides stream() and do_eof().
template <class Derived>
class session_base {
 public:
  session_base(shared_state& st, beast::flat_buffer buffer) : st_(st), buffer_(std::move(buffer)) {}

 protected:
  Derived& derived() { return static_cast<Derived&>(*this); }
  const server_config& cfg() const { return st_.svc.cfg().server; }

  // The request deadline is our own timer, not the stream's: the stream's timeout closes the
  // socket, and a client that is too slow should still get its 408.
  void do_read() {
    parser_.emplace();
    parser_->body_limit(cfg().body_limit_bytes);
    parser_->header_limit(header_limit);
    auto& lowest = beast::get_lowest_layer(derived().stream());
    lowest.expires_never();
    if (!read_timer_) read_timer_.emplace(lowest.get_executor());
    timed_out_ = false;
    read_timer_->expires_after(first_ ? cfg().read_timeout : cfg().idle_timeout);
    read_timer_->async_wait([self = derived().shared_from_this()](beast::error_code ec) {
      if (ec) return;  // cancelled: the request arrived in time
      self->timed_out_ = true;
      beast::error_code ignored;
      beast::get_lowest_layer(self->stream()).socket().cancel(ignored);
    });
    http::async_read(derived().stream(), buffer_, *parser_,
                     beast::bind_front_handler(&session_base::on_read, derived().shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    read_timer_->cancel();
    if (timed_out_ && ec == net::error::operation_aborted) ec = beast::error::timeout;
    if (ec == http::error::end_of_stream) return derived().do_eof();
    if (ec) {
      const bool started = parser_ && (parser_->got_some() || buffer_.size() > 0);
      if (ec == beast::error::timeout) {
        if (started) {
          st_.svc.stats().inc("closeloop_http_requests_total", "route=\"unparsed\",status=\"408\"");
          return send_final(plain_error(http::status::request_timeout, "request_timeout",
                                        "the request did not arrive within " +
                                            std::to_string(cfg().read_timeout.count()) + " ms"));
        }
        return derived().do_eof();
      }
      if (ec == http::error::body_limit)
        return send_final(plain_error(http::status::payload_too_large, "too_large",
                                      "body larger than " + std::to_string(cfg().body_limit_bytes) + " bytes"));
      if (ec == http::error::header_limit)
        return send_final(plain_error(http::status::request_header_fields_too_large, "too_large", "headers larger than 16 KiB"));
      if (ec == net::error::operation_aborted || ec == net::error::eof || ec == net::error::connection_reset ||
          ec == net::ssl::error::stream_truncated)
        return;
      if (started) return send_final(plain_error(http::status::bad_request, "bad_request", "malformed HTTP: " + ec.message()));
      return;
    }
    first_ = false;
    started_at_ = std::chrono::steady_clock::now();
    request_ = parser_->release();
    // Wait for the whole answer; the handler may answer from another thread.
    beast::get_lowest_layer(derived().stream()).expires_never();
    ++st_.in_flight;
    auto self = derived().shared_from_this();
    auto exec = derived().stream().get_executor();
    handle_request(request_, st_.svc, [self, exec](http_response res) {
      net::post(exec, [self, res = std::move(res)]() mutable { self->send(std::move(res)); });
    });
  }

  std::string route_label() const {
    std::string_view t = request_.target();
    if (t.starts_with("/webhooks/")) return "webhook";
    if (t.starts_with("/healthz")) return "healthz";
    if (t.starts_with("/metrics")) return "metrics";
    return "other";
  }

  void send(http_response res) {
    --st_.in_flight;
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
    auto route = route_label();
    st_.svc.stats().inc("closeloop_http_requests_total",
                        "route=\"" + route + "\",status=\"" + std::to_string(res.result_int()) + "\"");
    st_.svc.stats().observe_seconds("closeloop_http_request_duration_seconds", "route=\"" + route + "\"", secs);
    if (st_.stopping) res.keep_alive(false);
    write(std::move(res));
  }

  void send_final(http_response res) { write(std::move(res)); }

  void write(http_response res) {
    auto sp = std::make_shared<http_response>(std::move(res));
    beast::get_lowest_layer(derived().stream()).expires_after(cfg().read_timeout);
    http::async_write(derived().stream(), *sp,
                      [self = derived().shared_from_this(), sp](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (!sp->keep_alive()) return self->do_eof();
                        self->do_read();
                      });
  }

  shared_state& st_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http_request request_;
  bool first_ = true;
  bool timed_out_ = false;
  std::optional<net::steady_timer> read_timer_;
  std::chrono::steady_clock::time_point started_at_;
};

class plain_session : public session_base<plain_session>, public std::enable_shared_from_this<plain_session> {
 public:
  plain_session(tcp::socket&& s, shared_state& st) : session_base(st, {}), stream_(std::move(s)) {}
  beast::tcp_stream& stream() { return stream_; }
  void run() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&plain_session::do_read, shared_from_this()));
  }
  void do_eof() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

 private:
  friend class session_base<plain_session>;
  beast::tcp_stream stream_;
};

class tls_session : public session_base<tls_session>, public std::enable_shared_from_this<tls_session> {
 public:
  tls_session(tcp::socket&& s, ssl::context& ctx, shared_state& st) : session_base(st, {}), stream_(std::move(s), ctx) {}
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }
  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      beast::get_lowest_layer(self->stream_).expires_after(self->cfg().read_timeout);
      self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
        if (ec) {
          spdlog::debug("TLS handshake failed: {}", ec.message());
          return;
        }
        self->do_read();
      });
    });
  }
  void do_eof() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

 private:
  friend class session_base<tls_session>;
  beast::ssl_stream<beast::tcp_stream> stream_;
};

}  // namespace

struct http_server::impl {
  explicit impl(services& s) : st{s}, ioc(std::max(1, s.cfg().server.threads)), acceptor(net::make_strand(ioc)),
                               signals(ioc) {}
  shared_state st;
  net::io_context ioc;
  tcp::acceptor acceptor;
  net::signal_set signals;
  std::optional<ssl::context> tls;
  std::optional<net::steady_timer> drain_timer;
  std::chrono::steady_clock::time_point drain_deadline;

  void do_accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == net::error::operation_aborted || st.stopping) return;
        spdlog::warn("accept failed: {}", ec.message());
      } else if (tls) {
        std::make_shared<tls_session>(std::move(socket), *tls, st)->run();
      } else {
        std::make_shared<plain_session>(std::move(socket), st)->run();
      }
      if (!st.stopping) do_accept();
    });
  }

  void begin_stop() {
    if (st.stopping.exchange(true)) return;
    spdlog::info("stopping: no new connections; waiting for {} request(s) in flight", st.in_flight.load());
    net::post(acceptor.get_executor(), [this] {
      beast::error_code ec;
      acceptor.close(ec);
    });
    drain_deadline = std::chrono::steady_clock::now() + drain_grace;
    drain_timer.emplace(ioc);
    wait_drained();
  }

  void wait_drained() {
    if (st.in_flight.load() == 0 || std::chrono::steady_clock::now() > drain_deadline) {
      // Give answers already queued a moment to reach the socket, then stop.
      drain_timer->expires_after(std::chrono::milliseconds(50));
      drain_timer->async_wait([this](beast::error_code) { ioc.stop(); });
      return;
    }
    drain_timer->expires_after(std::chrono::milliseconds(20));
    drain_timer->async_wait([this](beast::error_code) { wait_drained(); });
  }
};

http_server::http_server(services& svc) : p_(std::make_unique<impl>(svc)) {
  svc.set_executor([this](services::task t) { net::post(p_->ioc, std::move(t)); });
}
http_server::~http_server() { p_->st.svc.set_executor({}); }

result<std::uint16_t> http_server::start() {
  const auto& sc = p_->st.svc.cfg().server;
  if (sc.tls) {
    try {
      p_->tls.emplace(ssl::context::tls_server);
      auto& ctx = *p_->tls;
      ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                      ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
      SSL_CTX* native = ctx.native_handle();
      SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
      // Our order of suites wins over the client's; no TLS compression (CRIME); no renegotiation
      // (a client-initiated renegotiation is refused with a no_renegotiation alert).
      SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
                                      SSL_OP_NO_RENEGOTIATION);
      // TLS 1.2: forward-secret (ECDHE) AEAD suites only; TLS 1.3 keeps OpenSSL's defaults (all AEAD).
      if (SSL_CTX_set_cipher_list(native, server_tls12_ciphers) != 1)
        return make_error(errc::internal, "server.tls: OpenSSL accepts none of the TLS 1.2 cipher suites");
      ctx.use_certificate_chain_file(sc.tls->cert_file);
      ctx.use_private_key_file(sc.tls->key_file, ssl::context::pem);
    } catch (const std::exception& e) {
      return make_error(errc::invalid_config, std::string("server.tls: cannot load certificate/key: ") + e.what());
    }
  }
  beast::error_code ec;
  auto addr = net::ip::make_address(sc.listen, ec);
  if (ec) return make_error(errc::invalid_config, "server.listen: \"" + sc.listen + "\" is not an IP address");
  tcp::endpoint ep{addr, sc.port};
  auto& acc = p_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return make_error(errc::unavailable,
                      "cannot listen on " + sc.listen + ":" + std::to_string(sc.port) + ": " + ec.message());
  return acc.local_endpoint().port();
}

void http_server::run(bool handle_signals) {
  if (handle_signals) {
    p_->signals.add(SIGTERM);
    p_->signals.add(SIGINT);
    p_->signals.async_wait([this](beast::error_code ec, int sig) {
      if (!ec) {
        spdlog::info("signal {} received", sig);
        p_->begin_stop();
      }
    });
  }
  p_->do_accept();
  int n = std::max(1, p_->st.svc.cfg().server.threads);
  std::vector<std::thread> extra;
  for (int i = 1; i < n; ++i) extra.emplace_back([this] { p_->ioc.run(); });
  p_->ioc.run();
  for (auto& t : extra) t.join();
}

void http_server::stop() {
  net::post(p_->ioc, [this] { p_->begin_stop(); });
}

}  // namespace closeloop::server
