// server.tls: HTTPS with a self-signed certificate made here (OpenSSL API), trusted through the
// HTTP client's ca_file; a client limited to TLS 1.1 is refused by the server.
#include <catch2/catch.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "harness.hpp"

using namespace closeloop;
using namespace closeloop::itest;

namespace {

// A P-256 key and a self-signed certificate for IP 127.0.0.1, valid for a day, as PEM files.
void make_self_signed(const fs::path& cert_file, const fs::path& key_file) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key != nullptr);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(unix_now()));
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] :
       {std::pair{NID_subject_alt_name, "IP:127.0.0.1"}, std::pair{NID_basic_constraints, "critical,CA:TRUE"},
        std::pair{NID_subject_key_identifier, "hash"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    REQUIRE(ext != nullptr);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  REQUIRE(X509_sign(x, key, EVP_sha256()) > 0);
  FILE* f = std::fopen(cert_file.c_str(), "w");
  REQUIRE(f != nullptr);
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key_file.c_str(), "w");
  REQUIRE(f != nullptr);
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
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
