// server.tls: HTTPS with a self-signed certificate made here (OpenSSL API), trusted through the
// HTTP client's ca_file; a client limited to TLS 1.1 is refused by the server. The protocol and
// cipher matrix is checked with the real `openssl s_client` (Debian's openssl package).
#include <catch2/catch.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "harness.hpp"
#include "self_signed.hpp"

using namespace closeloop;
using namespace closeloop::itest;

namespace {

// A P-256 key and a self-signed certificate for IP 127.0.0.1 (tests/adapters/self_signed.hpp), as PEM files.
void make_self_signed(const fs::path& cert_file, const fs::path& key_file) {
  const auto made = test::make_self_signed();
  write_text(cert_file, made.cert_pem);
  write_text(key_file, made.key_pem);
}

struct handshake_result {
  bool ok = false;
  int version = 0;        // negotiated, when ok
  unsigned long err = 0;  // first OpenSSL error, when not
  std::string message;
};

// A raw OpenSSL client handshake with the protocol range [min, max] (no certificate check: only
// the protocol negotiation matters here).
handshake_result handshake(std::uint16_t port, int min_version, int max_version) {
  handshake_result out;
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  // Let the client really offer TLS 1.0/1.1 (OpenSSL 3 refuses them at the default level).
  SSL_CTX_set_security_level(ctx, 0);
  SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
  SSL_CTX_set_min_proto_version(ctx, min_version);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  raw_socket s(port);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, s.fd());
  const int rc = SSL_connect(ssl);
  if (rc == 1) {
    out.ok = true;
    out.version = SSL_version(ssl);
    SSL_shutdown(ssl);
  } else {
    out.err = ERR_peek_error();
    char buf[256];
    ERR_error_string_n(out.err, buf, sizeof buf);
    out.message = buf;
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return out;
}

}  // namespace

TEST_CASE("TLS: https with a self-signed certificate via ca_file, a TLS 1.1-only client is refused",
          "[integration][tls]") {
  temp_dir dir("tls");
  const fs::path cert = dir / "cert.pem", key = dir / "key.pem";
  make_self_signed(cert, key);
  config_options co;
  co.tls = std::pair{cert.string(), key.string()};
  server_process srv(dir, make_config(co));
  srv.start();
  REQUIRE(srv.base_url().rfind("https://", 0) == 0);
  CHECK_THAT(srv.stdout_text(), Catch::Contains("listening on https://"));

  adapters::http::request health;
  health.url = srv.base_url() + "/healthz";
  {
    INFO("trusted through ca_file");
    auto r = make_client(5s, cert.string()).send(health);
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == 200);
    CHECK(parse_body(*r).value("status", "") == "ok");
  }
  {
    INFO("not trusted without it: the client refuses the self-signed certificate");
    auto r = make_client(5s).send(health);
    CHECK(!r);
  }
  {
    INFO("a signed webhook over https");
    const std::string body = event_json("ticket.created", "tls-1").dump();
    auto c = make_client(5s, cert.string());
    auto r = http_post(srv.webhook_url(), sign_headers("tls-1", body), body, 5s, &c);
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == 202);
  }
  {
    INFO("control: the same raw client allowed TLS 1.2 completes the handshake");
    auto h = handshake(srv.port(), TLS1_VERSION, TLS1_2_VERSION);
    INFO(h.message);
    CHECK(h.ok);
    CHECK(h.version == TLS1_2_VERSION);
  }
  {
    auto h = handshake(srv.port(), TLS1_VERSION, TLS1_1_VERSION);
    INFO("TLS 1.1-only client: " << (h.ok ? "handshake succeeded" : h.message));
    CHECK(!h.ok);
    // The server said no (a protocol_version alert), not our own client giving up.
    CHECK(ERR_GET_REASON(h.err) == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION);
  }
  {
    INFO("plain HTTP on the TLS port gets no HTTP answer");
    raw_socket s(srv.port());
    REQUIRE(s.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(s.read_for(3s).rfind("HTTP/1.1 200", 0) != 0);
  }
  CHECK(srv.running());
  auto r = make_client(5s, cert.string()).send(health);
  REQUIRE(r);
  CHECK(r->status == 200);
}

namespace {

struct s_client_result {
  bool connected = false;
  std::string protocol, cipher;  // from "New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"
  std::string output;
};

// `openssl s_client` (stdin /dev/null: it handshakes, then quits) against 127.0.0.1:port.
s_client_result s_client(const temp_dir& dir, std::uint16_t port, std::vector<std::string> args) {
  std::vector<std::string> argv{"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv, dir.path(), 20s);
  s_client_result out;
  out.output = r.all();
  const auto at = r.out.find("\nNew, ");
  if (at != std::string::npos) {
    const auto line = r.out.substr(at + 6, r.out.find('\n', at + 1) - at - 6);  // "TLSv1.2, Cipher is X"
    const auto comma = line.find(", Cipher is ");
    out.protocol = line.substr(0, comma);
    if (comma != std::string::npos) out.cipher = line.substr(comma + 12);
  }
  out.connected = r.exit_code() == 0 && !out.cipher.empty() && out.cipher != "(NONE)";
  return out;
}

}  // namespace

TEST_CASE("TLS: openssl s_client — TLS 1.0/1.1 and weak suites refused, 1.2 ECDHE+AEAD and 1.3 served",
          "[integration][tls]") {
  temp_dir dir("tlsmatrix");
  const fs::path cert = dir / "cert.pem", key = dir / "key.pem";
  make_self_signed(cert, key);
  config_options co;
  co.tls = std::pair{cert.string(), key.string()};
  server_process srv(dir, make_config(co));
  srv.start();
  const auto port = srv.port();
  // OpenSSL 3's own floor would stop the client from offering TLS 1.0/1.1 or weak suites: lower it,
  // so that any refusal below is the server's.
  const std::string seclevel0 = "DEFAULT:@SECLEVEL=0";

  for (const auto* old : {"-tls1", "-tls1_1"}) {
    auto r = s_client(dir, port, {old, "-cipher", seclevel0});
    INFO(old << ": " << r.output);
    CHECK_FALSE(r.connected);
    CHECK_THAT(r.output, Catch::Contains("alert protocol version"));  // the server's alert
  }
  {
    auto r = s_client(dir, port, {"-tls1_2"});
    INFO(r.output);
    CHECK(r.connected);
    CHECK(r.protocol == "TLSv1.2");
    CHECK(r.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256");  // the server's first choice
    CHECK_THAT(r.output, Catch::Contains("Compression: NONE"));
  }
  {
    auto r = s_client(dir, port, {"-tls1_3"});
    INFO(r.output);
    CHECK(r.connected);
    CHECK(r.protocol == "TLSv1.3");
    CHECK_THAT(r.cipher, Catch::StartsWith("TLS_"));
  }
  INFO("TLS 1.2 suites without forward secrecy or without AEAD are refused");
  for (const auto* weak : {"AES128-SHA", "AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384",
                           "ECDHE-ECDSA-DES-CBC3-SHA"}) {
    auto r = s_client(dir, port, {"-tls1_2", "-cipher", std::string(weak) + ":@SECLEVEL=0"});
    INFO(weak << ": " << r.output);
    CHECK_FALSE(r.connected);
    CHECK_THAT(r.output, Catch::Contains("handshake failure") || Catch::Contains("no cipher"));
  }
  {
    INFO("server cipher preference: a client preferring ChaCha20 still gets the server's AES-128-GCM");
    auto r = s_client(dir, port,
                      {"-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:"
                                             "ECDHE-ECDSA-AES128-GCM-SHA256"});
    INFO(r.output);
    CHECK(r.connected);
    CHECK(r.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256");
    INFO("and a client offering only ChaCha20 gets it (it is on the list)");
    auto c = s_client(dir, port, {"-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"});
    CHECK(c.cipher == "ECDHE-ECDSA-CHACHA20-POLY1305");
  }
  {
    INFO("a client-initiated renegotiation (TLS 1.2) is refused");
    ERR_clear_error();
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    raw_socket s(port);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, s.fd());
    REQUIRE(SSL_connect(ssl) == 1);
    CHECK(SSL_version(ssl) == TLS1_2_VERSION);
    REQUIRE(SSL_renegotiate(ssl) == 1);
    const int rc = SSL_do_handshake(ssl);
    // The server answers no_renegotiation; the connection cannot carry on with a new handshake.
    bool refused = rc != 1;
    if (!refused) {
      // The request went out; reading shows the server's refusal.
      char buf[16];
      refused = SSL_read(ssl, buf, sizeof buf) <= 0;
    }
    CHECK(refused);
    CHECK(SSL_renegotiate_pending(ssl) == 1);  // never completed
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
  }
  CHECK(srv.running());
}
