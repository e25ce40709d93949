#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>

#include "common/http_client.hpp"
#include "loopback_server.hpp"
#include "self_signed.hpp"

using namespace closeloop;
using namespace closeloop::adapters;
using closeloop::test::loopback_server;
using closeloop::test::scripted_response;
using closeloop::test::make_self_signed;
using std::chrono::milliseconds;

namespace {

error url_error(std::string_view text) {
  auto u = http::parse_url(text);
  REQUIRE_FALSE(u);
  CHECK(u.err().code == errc::invalid_argument);
  return u.err();
}

http::client_options with_timeout(milliseconds t) {
  http::client_options o;
  o.timeout = t;
  return o;
}

// A port nothing listens on: bind port 0, note it, close.
std::uint16_t closed_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  auto p = a.local_endpoint().port();
  a.close();
  return p;
}

}  // namespace

TEST_CASE("parse_url accepts http(s) URLs", "[adapter][common]") {
  auto u = http::parse_url("https://Example.COM/api/v2/tickets?per_page=1#frag");
  REQUIRE(u);
  CHECK(u->scheme == "https");
  CHECK(u->host == "example.com");
  CHECK(u->port == 443);
  CHECK(u->target == "/api/v2/tickets?per_page=1");
  CHECK(u->tls());
  CHECK(u->authority() == "example.com");
  CHECK(u->str() == "https://example.com/api/v2/tickets?per_page=1");

  u = http::parse_url("HTTP://127.0.0.1:8080");
  REQUIRE(u);
  CHECK(u->scheme == "http");
  CHECK(u->port == 8080);
  CHECK(u->target == "/");
  CHECK(u->authority() == "127.0.0.1:8080");

  u = http::parse_url("http://[::1]:9000?x=1");
  REQUIRE(u);
  CHECK(u->host == "::1");
  CHECK(u->target == "/?x=1");
  CHECK(u->authority() == "[::1]:9000");

  u = http::parse_url("http://rt.internal:80/REST/2.0/");
  REQUIRE(u);
  CHECK(u->str() == "http://rt.internal/REST/2.0/");
}

TEST_CASE("parse_url rejects what it cannot call, with a clear error", "[adapter][common]") {
  CHECK_THAT(url_error("ftp://example.com/x").message, Catch::Contains("unsupported URL scheme \"ftp\""));
  CHECK_THAT(url_error("file:///etc/passwd").message, Catch::Contains("expected http:// or https://"));
  CHECK_THAT(url_error("example.com/api").message, Catch::Contains("not an absolute http(s) URL"));
  CHECK_THAT(url_error("https:///path").message, Catch::Contains("missing host"));
  CHECK_THAT(url_error("http://h:0/").message, Catch::Contains("invalid port \"0\""));
  CHECK_THAT(url_error("http://h:65536/").message, Catch::Contains("invalid port"));
  CHECK_THAT(url_error("http://h:/").message, Catch::Contains("invalid port \"\""));
  CHECK_THAT(url_error("http://h:8o/").message, Catch::Contains("invalid port \"8o\""));
  CHECK_THAT(url_error("http://user:pw@h/").message, Catch::Contains("user information"));
  CHECK_THAT(url_error("http://h/a b").message, Catch::Contains("whitespace"));
  CHECK_THAT(url_error("http://h/a\r\nX-Injected: 1").message, Catch::Contains("control character"));
  CHECK_THAT(url_error("http://[::1/").message, Catch::Contains("IPv6"));
  CHECK_THAT(url_error("http://ex%ample.com/").message, Catch::Contains("invalid character"));
}

TEST_CASE("http client: GET and POST against a loopback server", "[adapter][common]") {
  loopback_server server;
  server.push({200, {{"Content-Type", "application/json"}, {"X-Request-Id", "r1"}}, R"({"ok":true})"});
  server.push({201, {}, "created"});
  http::client client(with_timeout(milliseconds{5000}));

  auto r = client.send({"GET", server.url("/api/ping?x=1"), {{"accept", "application/json"}}, ""});
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == R"({"ok":true})");
  REQUIRE(r->header("x-request-id"));
  CHECK(*r->header("x-request-id") == "r1");
  for (const auto& [name, value] : r->headers) CHECK(name == to_lower(name));

  auto p = client.send({"POST", server.url("/api/tickets"), {{"content-type", "application/json"}}, R"({"a":1})"});
  REQUIRE(p);
  CHECK(p->status == 201);
  CHECK(p->body == "created");

  REQUIRE(server.wait_for_requests(2));
  auto reqs = server.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].method == "GET");
  CHECK(reqs[0].target == "/api/ping?x=1");
  CHECK(*reqs[0].header("host") == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(*reqs[0].header("accept") == "application/json");
  CHECK(reqs[0].header("user-agent") != nullptr);
  CHECK(reqs[1].method == "POST");
  CHECK(reqs[1].body == R"({"a":1})");
  CHECK(*reqs[1].header("content-length") == "7");
  CHECK(*reqs[1].header("content-type") == "application/json");
}

TEST_CASE("http client: a server that never answers times out within the deadline", "[adapter][common]") {
  loopback_server server;
  scripted_response silent;
  silent.never_answer = true;
  server.push(silent);
  http::client client(with_timeout(milliseconds{300}));
  const auto start = std::chrono::steady_clock::now();
  auto r = client.send({"GET", server.url("/slow"), {}, ""});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::unavailable);
  CHECK(r.err().retryable);
  CHECK_THAT(r.err().message, Catch::Contains("timed out after 300 ms while waiting for the response"));
  CHECK(elapsed >= milliseconds{250});
  CHECK(elapsed < milliseconds{1500});
}

TEST_CASE("http client: connection refused is unavailable and retryable", "[adapter][common]") {
  http::client client(with_timeout(milliseconds{2000}));
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  auto r = client.send({"GET", url, {}, ""});
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::unavailable);
  CHECK(r.err().retryable);
  CHECK_THAT(r.err().message, Catch::Contains("connecting to 127.0.0.1"));
  CHECK_THAT(r.err().message, Catch::Contains(url));
}

TEST_CASE("http client: response bodies over the limit are refused", "[adapter][common]") {
  loopback_server server;
  server.push({200, {}, std::string(4096, 'x')});
  http::client_options opts;
  opts.body_limit = 1024;
  http::client client(opts);
  auto r = client.send({"GET", server.url("/big"), {}, ""});
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::too_large);
  CHECK_THAT(r.err().message, Catch::Contains("1024 bytes"));
}

TEST_CASE("http client: bad URLs and header injection are refused before any I/O", "[adapter][common]") {
  http::client client;
  auto r = client.send({"GET", "gopher://example.com/", {}, ""});
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::invalid_argument);
  auto h = client.send({"GET", "http://127.0.0.1:1/", {{"x-a", "1\r\nx-b: 2"}}, ""});
  REQUIRE_FALSE(h);
  CHECK(h.err().code == errc::invalid_argument);
}

TEST_CASE("http client: TLS verifies the peer; a private CA file makes it trusted", "[adapter][common]") {
  const auto cert = make_self_signed();
  auto ctx = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
  ctx->use_certificate_chain(boost::asio::buffer(cert.cert_pem));
  ctx->use_private_key(boost::asio::buffer(cert.key_pem), boost::asio::ssl::context::pem);
  loopback_server server(ctx);

  const auto dir = std::filesystem::temp_directory_path() /
                   ("closeloop-tls-" + std::to_string(std::random_device{}()) + std::to_string(server.port()));
  std::filesystem::create_directories(dir);
  const auto ca_file = (dir / "ca.pem").string();
  std::ofstream(ca_file) << cert.cert_pem;

  SECTION("system CA store: the self-signed certificate is refused") {
    http::client client(with_timeout(milliseconds{3000}));
    auto r = client.send({"GET", server.url("/"), {}, ""});
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::unavailable);
    CHECK_FALSE(r.err().retryable);
    CHECK_THAT(r.err().message, Catch::Contains("certificate verify failed"));
  }
  SECTION("ca_file: trusted, and the IP address matches the certificate") {
    http::client_options opts;
    opts.timeout = milliseconds{3000};
    opts.ca_file = ca_file;
    http::client client(opts);
    server.push({200, {}, "secure hello"});
    auto r = client.send({"GET", server.url("/"), {}, ""});
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "secure hello");
  }
  SECTION("ca_file, but the name does not match the certificate") {
    http::client_options opts;
    opts.timeout = milliseconds{3000};
    opts.ca_file = ca_file;
    http::client client(opts);
    // "localhost" resolves to the same server, but the certificate is only for IP 127.0.0.1.
    auto r = client.send({"GET", "https://localhost:" + std::to_string(server.port()) + "/", {}, ""});
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::unavailable);
  }
  SECTION("a CA file that does not exist is reported") {
    http::client_options opts;
    opts.ca_file = (dir / "missing.pem").string();
    http::client client(opts);
    auto r = client.send({"GET", server.url("/"), {}, ""});
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::invalid_config);
    CHECK_THAT(r.err().message, Catch::Contains("missing.pem"));
  }
  std::filesystem::remove_all(dir);
}
