#include "common/http_client.hpp"

#include <atomic>
#include <charconv>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

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
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace closeloop::adapters::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

error bad_url(std::string msg) { return make_error(errc::invalid_argument, std::move(msg)); }

std::string quoted(std::string_view s) {
  constexpr std::size_t max = 200;
  std::string out = "\"";
  out.append(s.substr(0, max));
  if (s.size() > max) out += "...";
  return out + "\"";
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

// ---------------------------------------------------------------------------------------- url --

std::string url::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  if (!default_port) h += ":" + std::to_string(port);
  return h;
}

std::string url::str() const { return scheme + "://" + authority() + target; }

std::string url::origin() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return scheme + "://" + h + ":" + std::to_string(port);
}

result<void> client_options::allow(std::string_view base_url) {
  auto u = parse_url(base_url);
  if (!u) return std::move(u).err();
  allowed_origins.push_back(u->origin());
  return {};
}

result<url> parse_url(std::string_view text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return bad_url("URL contains whitespace or a control character: " + quoted(text));
  }
  const auto sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    return bad_url("not an absolute http(s) URL: " + quoted(text));
  }
  url u;
  u.scheme = to_lower(text.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https") {
    return bad_url("unsupported URL scheme \"" + u.scheme + "\" in " + quoted(text) + ": expected http:// or https://");
  }
  std::string_view rest = text.substr(sep + 3);
  if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  const auto auth_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view target = auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);
  if (authority.find('@') != std::string_view::npos) {
    return bad_url("user information in a URL is not supported (put credentials in the host settings): " + quoted(text));
  }
  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad_url("unterminated IPv6 address in " + quoted(text));
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad_url("unexpected text after the IPv6 address in " + quoted(text));
      port_text = after.substr(1);
      has_port = true;
    }
    if (!is_ip_literal(std::string(host)) || host.find(':') == std::string_view::npos) {
      return bad_url("invalid IPv6 address in " + quoted(text));
    }
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
    for (char c : host) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_';
      if (!ok) return bad_url("invalid character '" + std::string(1, c) + "' in the host of " + quoted(text));
    }
  }
  if (host.empty()) return bad_url("missing host in " + quoted(text));
  u.host = to_lower(host);
  if (has_port) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (port_text.empty() || ec != std::errc{} || ptr != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return bad_url("invalid port \"" + std::string(port_text) + "\" in " + quoted(text) + " (expected 1-65535)");
    }
    u.port = static_cast<std::uint16_t>(value);
  } else {
    u.port = u.tls() ? 443 : 80;
  }
  u.target = target.empty() ? "/" : (target.front() == '?' ? "/" + std::string(target) : std::string(target));
  return u;
}

// ------------------------------------------------------------------------------------- client --

namespace {

struct tls_state {
  ssl::context ctx{ssl::context::tls_client};
  std::string load_error;  // non-empty: every https request with this CA setting fails with it
};

std::shared_ptr<tls_state> build_tls_state(const std::string& ca_file) {
  auto st = std::make_shared<tls_state>();
  auto& ctx = st->ctx;
  boost::system::error_code ec;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                      ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                  ec);
  ctx.set_verify_mode(ssl::verify_peer, ec);
  if (!ca_file.empty()) {
    ctx.load_verify_file(ca_file, ec);
    if (ec) st->load_error = "cannot load CA file \"" + ca_file + "\": " + ec.message();
  } else {
    ctx.set_default_verify_paths(ec);
    if (ec) st->load_error = "cannot load the system CA certificates: " + ec.message();
  }
  return st;
}

// Loading a CA store costs tens of milliseconds, so each distinct ca_file ("" = system store) is
// loaded once per process (changes to the file need a restart). An SSL_CTX may be used by many connections on many threads at once.
std::shared_ptr<tls_state> shared_tls_state(const std::string& ca_file) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<tls_state>> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(ca_file); it != cache.end()) return it->second;
  auto st = build_tls_state(ca_file);
  if (st->load_error.empty()) cache.emplace(ca_file, st);  // a missing file is retried next time
  return st;
}

}  // namespace

result<std::shared_ptr<SSL_CTX>> tls_client_context(const std::string& ca_file) {
  auto st = shared_tls_state(ca_file);
  if (!st->load_error.empty()) return make_error(errc::invalid_config, st->load_error);
  return std::shared_ptr<SSL_CTX>(st, st->ctx.native_handle());  // keeps the state alive
}

result<void> expect_tls_peer(SSL* native, const std::string& host) {
  if (is_ip_literal(host)) {
    // No SNI for IP literals (RFC 6066); check the certificate's IP SAN instead.
    X509_VERIFY_PARAM* param = SSL_get0_param(native);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1)
      return make_error(errc::internal, "cannot set the expected IP address for TLS verification");
  } else if (SSL_set_tlsext_host_name(native, host.c_str()) != 1 || SSL_set1_host(native, host.c_str()) != 1) {
    return make_error(errc::internal, "cannot set the TLS server name for " + host);
  }
  return {};
}

std::string tls_verify_error(const SSL* native) {
  const long v = SSL_get_verify_result(native);
  return v == X509_V_OK ? std::string() : X509_verify_cert_error_string(v);
}

namespace {

// One request/response exchange. Owned by a shared_ptr so that a resolver stuck in getaddrinfo
// past the deadline can be finished on a background thread without blocking the caller.
struct exchange {
  std::shared_ptr<tls_state> tls;  // declared first: outlives the stream that uses it
  asio::io_context ioc{1};
  tcp::resolver resolver{ioc};
  asio::steady_timer deadline_timer{ioc};
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  steady::time_point deadline;
  std::chrono::milliseconds timeout{};
  url target_url;
  std::string method;
  bhttp::request<bhttp::string_body> req;
  std::size_t body_limit = 0;
  std::string stage = "starting";
  bool timed_out = false;
  std::atomic<bool> finished{false};
  std::optional<result<response>> out;

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  std::string what() const { return method + " " + target_url.str(); }

  void fail(errc code, std::string msg, bool retryable) {
    out.emplace(make_error(code, what() + ": " + std::move(msg), retryable));
  }

  void fail_io(const boost::system::error_code& ec) {
    if (timed_out || ec == beast::error::timeout) {
      fail(errc::unavailable, "timed out after " + ms_text(timeout) + " while " + stage, true);
      return;
    }
    if (ec == bhttp::error::body_limit) {
      fail(errc::too_large, "response body exceeds the limit of " + std::to_string(body_limit) + " bytes", false);
      return;
    }
    if (ec.category() == asio::error::get_ssl_category()) {
      const auto reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
      if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        std::string detail = "certificate verify failed";
        if (secure)
          if (auto why = tls_verify_error(secure->native_handle()); !why.empty()) detail += ": " + why;
        fail(errc::unavailable, "TLS handshake failed: " + detail, false);
        return;
      }
    }
    fail(errc::unavailable, stage + " failed: " + ec.message(), true);
  }
};

asio::awaitable<void> run_exchange(std::shared_ptr<exchange> ex) {
  constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
  const url& u = ex->target_url;

  ex->stage = "resolving " + u.host;
  auto [rec, endpoints] = co_await ex->resolver.async_resolve(u.host, std::to_string(u.port), tuple);
  if (rec || ex->timed_out) {
    if (!ex->timed_out && (rec == asio::error::host_not_found || rec == asio::error::host_not_found_try_again)) {
      ex->fail(errc::unavailable, "cannot resolve host \"" + u.host + "\": " + rec.message(), true);
    } else {
      ex->fail_io(rec ? rec : asio::error::operation_aborted);
    }
    co_return;
  }

  ex->stage = "connecting to " + u.host + ":" + std::to_string(u.port);
  ex->lowest().expires_at(ex->deadline);
  auto [cec, ep] = co_await ex->lowest().async_connect(endpoints, tuple);
  if (cec) {
    ex->fail_io(cec);
    co_return;
  }

  if (ex->secure) {
    ex->stage = "TLS handshake with " + u.host;
    ex->lowest().expires_at(ex->deadline);
    auto [hec] = co_await ex->secure->async_handshake(ssl::stream_base::client, tuple);
    if (hec) {
      ex->fail_io(hec);
      co_return;
    }
  }

  ex->stage = "sending the request";
  ex->lowest().expires_at(ex->deadline);
  auto [wec, written] = ex->secure ? co_await bhttp::async_write(*ex->secure, ex->req, tuple)
                                   : co_await bhttp::async_write(*ex->plain, ex->req, tuple);
  if (wec) {
    ex->fail_io(wec);
    co_return;
  }

  ex->stage = "waiting for the response";
  ex->lowest().expires_at(ex->deadline);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(ex->body_limit);
  parser.header_limit(64 * 1024);
  if (ex->method == "HEAD") parser.skip(true);
  auto [rec2, read] = ex->secure ? co_await bhttp::async_read(*ex->secure, buffer, parser, tuple)
                                 : co_await bhttp::async_read(*ex->plain, buffer, parser, tuple);
  if (rec2) {
    ex->fail_io(rec2);
    co_return;
  }

  response r;
  auto& msg = parser.get();
  r.status = static_cast<int>(msg.result_int());
  r.reason = std::string(msg.reason());
  for (const auto& field : msg) r.headers.emplace_back(to_lower(field.name_string()), std::string(field.value()));
  r.body = std::move(msg.body());
  ex->out.emplace(std::move(r));

  // Connection: close; a TLS close_notify exchange would only add latency, so just close.
  boost::system::error_code ignored;
  ex->lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
  ex->lowest().close();
}

}  // namespace

result<response> client::send(const request& req) const { return send(req, opts_.timeout); }

result<response> client::send(const request& req, std::chrono::milliseconds timeout) const {
  auto parsed = parse_url(req.url);
  if (!parsed) return std::move(parsed).err();
  if (!opts_.allowed_origins.empty()) {
    const std::string origin = parsed->origin();
    bool allowed = false;
    for (const auto& o : opts_.allowed_origins) allowed = allowed || o == origin;
    if (!allowed) {
      std::string list;
      for (const auto& o : opts_.allowed_origins) list += (list.empty() ? "" : ", ") + o;
      return make_error(errc::invalid_argument, "outbound call refused: " + quoted(parsed->str()) +
                                                    " is outside the configured host base URL (allowed: " + list +
                                                    "); closeloop only calls the hosts in its configuration");
    }
  }
  if (timeout <= std::chrono::milliseconds::zero()) timeout = std::chrono::milliseconds{1};

  try {
    auto ex = std::make_shared<exchange>();
    ex->target_url = std::move(parsed).value();
    ex->method = req.method.empty() ? std::string("GET") : req.method;
    ex->timeout = timeout;
    ex->deadline = steady::now() + timeout;
    ex->body_limit = opts_.body_limit;
    const url& u = ex->target_url;

    if (u.tls()) {
      auto tls = shared_tls_state(opts_.ca_file);
      if (!tls->load_error.empty()) return make_error(errc::invalid_config, tls->load_error);
      ex->tls = tls;  // keeps the context alive as long as the stream
      ex->secure.emplace(ex->ioc, tls->ctx);
      if (auto peer = expect_tls_peer(ex->secure->native_handle(), u.host); !peer) return peer.err();
    } else {
      ex->plain.emplace(ex->ioc);
    }

    auto& r = ex->req;
    r.version(11);
    r.method_string(ex->method);
    r.target(u.target);
    r.set(bhttp::field::host, u.authority());
    r.set(bhttp::field::user_agent, opts_.user_agent);
    for (const auto& [name, value] : req.headers) {
      for (char c : name + value) {
        if (c == '\r' || c == '\n') return make_error(errc::invalid_argument, "header " + name + " contains a line break");
      }
      r.insert(name, value);
    }
    r.set(bhttp::field::connection, "close");
    r.body() = req.body;
    if (!req.body.empty() || ex->method == "POST" || ex->method == "PUT" || ex->method == "PATCH") {
      r.prepare_payload();
    }

    // The overall deadline: the stream's own expiry covers connect/handshake/write/read; this timer
    // also interrupts name resolution.
    ex->deadline_timer.expires_at(ex->deadline);
    ex->deadline_timer.async_wait([ex_raw = ex.get()](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: the exchange finished first
      ex_raw->timed_out = true;
      ex_raw->resolver.cancel();
      if (ex_raw->plain || ex_raw->secure) ex_raw->lowest().cancel();
    });

    asio::co_spawn(ex->ioc, run_exchange(ex), [ex_raw = ex.get()](std::exception_ptr e) {
      if (e && !ex_raw->out) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          ex_raw->fail(errc::internal, std::string("unexpected exception: ") + x.what(), false);
        } catch (...) {
          ex_raw->fail(errc::internal, "unexpected exception", false);
        }
      }
      if (!ex_raw->out) ex_raw->fail(errc::internal, "the exchange ended without a result", false);
      ex_raw->deadline_timer.cancel();
      ex_raw->finished = true;
    });

    // Grace for cancellations to complete; only a blocking getaddrinfo can outlast it.
    ex->ioc.run_until(ex->deadline + std::chrono::milliseconds{200});
    if (!ex->finished) {
      const std::string what = ex->what();
      const std::string stage = ex->stage;
      // Let the stuck operation finish on its own, off the caller's thread; ex owns everything.
      std::thread([ex]() mutable {
        try {
          ex->ioc.run();
        } catch (...) {
        }
        ex.reset();
      }).detach();
      return make_error(errc::unavailable, what + ": timed out after " + ms_text(timeout) + " while " + stage, true);
    }
    return std::move(*ex->out);
  } catch (const std::exception& x) {
    return make_error(errc::internal, req.method + " " + req.url + ": " + x.what());
  }
}

}  // namespace closeloop::adapters::http
