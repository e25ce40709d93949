#pragma once
// A small synchronous HTTP/1.1 client for calling vendor APIs (Boost.Beast + OpenSSL).
//  - http:// and https:// only; https verifies the peer against the system CA store (or ca_file),
//    sends SNI and checks the host name (DNS name or IP address) against the certificate.
//  - One overall deadline covers resolve, connect, TLS handshake, write and read.
//  - The response body is limited (8 MiB by default); header names come back lower-case.
//  - One connection per request ("Connection: close"): vendor calls are few and far between.
//  - Redirects are never followed (a 3xx is returned as it is).
//  - Outbound allow-list: a client built with allowed origins (every adapter allows exactly its
//    configured base URL's) refuses any other scheme/host/port before any I/O, so a URL taken
//    from a vendor payload (a next_page link, an article link) cannot make closeloop call
//    elsewhere (SSRF). The refusal is errc::invalid_argument, not retryable, naming both.
// Errors are values: DNS, connect, timeout and connection-level failures are errc::unavailable
// and retryable; a bad URL is errc::invalid_argument; a certificate that does not verify is
// errc::unavailable, not retryable (an operator has to fix it).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/result.hpp"
#include "common/headers.hpp"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX and SSL
struct ssl_st;

namespace closeloop::adapters::http {

struct url {
  std::string scheme;  // "http" or "https" (lower-case)
  std::string host;    // without brackets for IPv6 literals
  std::uint16_t port = 0;
  std::string target;  // path + query, at least "/"
  bool tls() const noexcept { return scheme == "https"; }
  std::string authority() const;  // host[:port] as it goes in the Host header (port omitted when default)
  std::string str() const;        // scheme://authority/target
  std::string origin() const;     // scheme://host:port, the port always written (allow-list key)
};

// "http(s)://host[:port][/path][?query]" (fragment dropped). Rejects other schemes, user info,
// an empty host and a bad port with errc::invalid_argument naming the problem.
result<url> parse_url(std::string_view text);

struct request {
  std::string method = "GET";
  std::string url;
  header_list headers;  // added as given; Host, User-Agent, Content-Length and Connection are set for you
  std::string body;
};

struct response {
  int status = 0;
  std::string reason;
  header_list headers;  // names lower-case, in arrival order
  std::string body;
  const std::string* header(std::string_view name) const noexcept { return find_header(headers, name); }
};

struct client_options {
  std::chrono::milliseconds timeout{10000};  // whole exchange, resolve to last body byte
  std::size_t body_limit = 8 * 1024 * 1024;
  std::string ca_file;  // PEM bundle to trust instead of the system store (tests, private CAs)
  std::string user_agent = "closeloop/0.1";
  // Origins (url::origin()) requests may go to; empty: any (CLI tools, tests). Fill with allow().
  std::vector<std::string> allowed_origins;
  // Adds base_url's origin to allowed_origins; a URL parse_url refuses is returned as its error.
  result<void> allow(std::string_view base_url);
};

class client {
 public:
  explicit client(client_options opts = {}) : opts_(std::move(opts)) {}
  client(client&&) noexcept = default;
  client& operator=(client&&) noexcept = default;
  client(const client&) = default;
  client& operator=(const client&) = default;

  const client_options& options() const noexcept { return opts_; }

  // Blocking; returns within about options().timeout. Safe to call from several threads at once.
  // The TLS context (CA store) is built on the first https request and shared by every client
  // with the same ca_file for the life of the process.
  result<response> send(const request& req) const;
  result<response> send(const request& req, std::chrono::milliseconds timeout) const;

 private:
  client_options opts_;
};

// For a protocol that speaks TLS on a socket of its own (SMTP STARTTLS): the client TLS context
// https requests use for ca_file ("" = the system store; TLS >= 1.2, the peer verified), shared and
// loaded once per process, or errc::invalid_config naming the file that does not load; and the
// peer check of one connection: SNI and the certificate's DNS name, or its IP address for an IP
// literal. tls_verify_error: why the peer's certificate did not verify ("" when it did).
result<std::shared_ptr<ssl_ctx_st>> tls_client_context(const std::string& ca_file);
result<void> expect_tls_peer(ssl_st* ssl, const std::string& host);
std::string tls_verify_error(const ssl_st* ssl);

}  // namespace closeloop::adapters::http
