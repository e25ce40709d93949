#pragma once
// A small SMTP server on 127.0.0.1 (port 0) for delivery tests: it speaks the server side of a
// real SMTP conversation (220 greeting, EHLO, MAIL FROM, RCPT TO, DATA ending in "." on its own
// line, QUIT) over a real socket, one connection at a time, and records every envelope and
// message. `refuse_rcpt` answers RCPT TO with 550 to test a refusal.
//
// With a certificate (smtp_options::cert_pem/key_pem) it offers STARTTLS (RFC 3207) and does the
// TLS handshake with OpenSSL, or with `implicit_tls` does the handshake before its greeting (RFC
// 8314, port 465); AUTH PLAIN/LOGIN (RFC 4954) is offered only after TLS, and enforced:
// AUTH in clear gets 538, MAIL before STARTTLS 530 when `require_tls`, MAIL before AUTH 530 when
// credentials are set, wrong credentials 535. Every command of every connection is recorded with
// whether it came in clear (sessions()), so a test can show that nothing was sent in clear.
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.hpp"

namespace closeloop::itest {

struct smtp_message {
  std::vector<std::string> commands;  // as received, without CRLF
  std::string from;
  std::vector<std::string> rcpt;
  std::string data;  // the message (headers + body), without the final "."
  bool tls = false;  // the message came over TLS
  std::string user;  // who authenticated, if anyone
};

struct smtp_session {
  std::vector<std::string> clear, secure;  // commands received before / after the TLS handshake
  bool handshake_failed = false;
};

struct smtp_options {
  bool refuse_rcpt = false;
  std::string cert_pem, key_pem;  // non-empty: STARTTLS offered
  bool implicit_tls = false;      // with a certificate: TLS from the first byte, no STARTTLS
  bool require_tls = false;       // MAIL before STARTTLS: 530
  std::string user, password;     // non-empty: AUTH required before MAIL
  std::string auth_mechanisms = "PLAIN LOGIN";
};

class smtp_server {
 public:
  explicit smtp_server(bool refuse_rcpt = false) : smtp_server(plain(refuse_rcpt)) {}
  explicit smtp_server(smtp_options o) : o_(std::move(o)) {
    if (!o_.cert_pem.empty()) {
      ctx_ = SSL_CTX_new(TLS_server_method());
      BIO* cb = BIO_new_mem_buf(o_.cert_pem.data(), static_cast<int>(o_.cert_pem.size()));
      BIO* kb = BIO_new_mem_buf(o_.key_pem.data(), static_cast<int>(o_.key_pem.size()));
      X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
      EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
      SSL_CTX_use_certificate(ctx_, cert);
      SSL_CTX_use_PrivateKey(ctx_, key);
      X509_free(cert);
      EVP_PKEY_free(key);
      BIO_free(cb);
      BIO_free(kb);
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 8);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    th_ = std::thread([this] { run(); });
  }
  ~smtp_server() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    th_.join();
    if (ctx_) SSL_CTX_free(ctx_);
  }
  int port() const { return port_; }
  std::vector<smtp_message> messages() {
    std::lock_guard lk(mu_);
    return msgs_;
  }
  std::vector<smtp_session> sessions() {
    std::lock_guard lk(mu_);
    return sessions_;
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds t = std::chrono::seconds(5)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, t, [&] { return msgs_.size() >= n; });
  }

 private:
  static smtp_options plain(bool refuse_rcpt) {
    smtp_options o;
    o.refuse_rcpt = refuse_rcpt;
    return o;
  }
  struct conn {
    int fd;
    SSL* ssl = nullptr;
    std::string buf;
  };
  void run() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      timeval tv{5, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      conn cn{c, nullptr, {}};
      {
        std::lock_guard lk(mu_);
        sessions_.emplace_back();
      }
      conversation(cn);
      if (cn.ssl) {
        SSL_shutdown(cn.ssl);
        SSL_free(cn.ssl);
      }
      ::close(c);
    }
  }
  static void say(conn& c, const std::string& s) {
    if (c.ssl)
      (void)SSL_write(c.ssl, s.data(), static_cast<int>(s.size()));
    else
      (void)::send(c.fd, s.data(), s.size(), MSG_NOSIGNAL);
  }
  static bool line(conn& c, std::string& out) {
    for (;;) {
      if (auto p = c.buf.find("\r\n"); p != std::string::npos) {
        out = c.buf.substr(0, p);
        c.buf.erase(0, p + 2);
        return true;
      }
      char tmp[4096];
      const long n = c.ssl ? SSL_read(c.ssl, tmp, sizeof tmp) : ::recv(c.fd, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      c.buf.append(tmp, static_cast<std::size_t>(n));
    }
  }
  void record(const conn& c, const std::string& l) {
    std::lock_guard lk(mu_);
    (c.ssl ? sessions_.back().secure : sessions_.back().clear).push_back(l);
  }
  bool auth_ok(const std::string& user, const std::string& password) const {
    return user == o_.user && password == o_.password;
  }
  // The server side of the TLS handshake on the connection; a failure is recorded.
  bool handshake(conn& c) {
    c.ssl = SSL_new(ctx_);
    SSL_set_fd(c.ssl, c.fd);
    if (SSL_accept(c.ssl) == 1) return true;
    std::lock_guard lk(mu_);
    sessions_.back().handshake_failed = true;
    return false;
  }
  void conversation(conn& c) {
    smtp_message m;
    std::string l, user;
    const bool auth_required = !o_.user.empty();
    if (ctx_ && o_.implicit_tls && !handshake(c)) return;
    say(c, "220 test.invalid ESMTP ready\r\n");
    while (line(c, l)) {
      m.commands.push_back(l);
      record(c, l);
      if (l.rfind("EHLO", 0) == 0) {
        std::string caps = "250-test.invalid hello\r\n";
        if (ctx_ && !c.ssl) caps += "250-STARTTLS\r\n";
        if (auth_required && c.ssl) caps += "250-AUTH " + o_.auth_mechanisms + "\r\n";
        say(c, caps + "250 8BITMIME\r\n");
      } else if (l == "STARTTLS" && ctx_ && !c.ssl) {
        say(c, "220 2.0.0 ready to start TLS\r\n");
        if (!handshake(c)) return;
        user.clear();  // RFC 3207: forget what was said in clear
        m = smtp_message{};
      } else if (l.rfind("AUTH ", 0) == 0) {
        if (!c.ssl) {
          say(c, "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
          continue;
        }
        std::string u, p;
        if (l.rfind("AUTH PLAIN ", 0) == 0 && o_.auth_mechanisms.find("PLAIN") != std::string::npos) {
          auto d = adapters::crypto::base64_decode(l.substr(11));
          if (d) {
            auto a = d->find('\0'), b = d->find('\0', a + 1);
            if (a != std::string::npos && b != std::string::npos) {
              u = d->substr(a + 1, b - a - 1);
              p = d->substr(b + 1);
            }
          }
        } else if (l == "AUTH LOGIN" && o_.auth_mechanisms.find("LOGIN") != std::string::npos) {
          std::string lu, lp;
          say(c, "334 VXNlcm5hbWU6\r\n");
          if (!line(c, lu)) return;
          say(c, "334 UGFzc3dvcmQ6\r\n");
          if (!line(c, lp)) return;
          auto du = adapters::crypto::base64_decode(lu), dp = adapters::crypto::base64_decode(lp);
          if (du && dp) {
            u = *du;
            p = *dp;
          }
        } else {
          say(c, "504 5.5.4 mechanism not supported\r\n");
          continue;
        }
        if (auth_ok(u, p)) {
          user = u;
          say(c, "235 2.7.0 authenticated\r\n");
        } else {
          say(c, "535 5.7.8 authentication credentials invalid\r\n");
        }
      } else if (l.rfind("MAIL FROM:", 0) == 0) {
        if (o_.require_tls && !c.ssl) {
          say(c, "530 5.7.0 Must issue a STARTTLS command first\r\n");
          continue;
        }
        if (auth_required && user.empty()) {
          say(c, "530 5.7.0 Authentication required\r\n");
          continue;
        }
        m.from = l.substr(10);
        say(c, "250 ok\r\n");
      } else if (l.rfind("RCPT TO:", 0) == 0) {
        if (o_.refuse_rcpt || m.from.empty()) {
          say(c, o_.refuse_rcpt ? "550 5.1.1 no such user\r\n" : "503 5.5.1 MAIL first\r\n");
          continue;
        }
        m.rcpt.push_back(l.substr(8));
        say(c, "250 ok\r\n");
      } else if (l == "DATA") {
        if (m.rcpt.empty()) {
          say(c, "503 5.5.1 RCPT first\r\n");
          continue;
        }
        say(c, "354 go ahead\r\n");
        while (line(c, l) && l != ".") m.data += (l.rfind("..", 0) == 0 ? l.substr(1) : l) + "\r\n";
        say(c, "250 queued\r\n");
        m.tls = c.ssl != nullptr;
        m.user = user;
        std::lock_guard lk(mu_);
        msgs_.push_back(m);
        cv_.notify_all();
      } else if (l == "QUIT") {
        say(c, "221 bye\r\n");
        return;
      } else {
        say(c, "502 unknown command\r\n");
      }
    }
  }
  smtp_options o_;
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread th_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<smtp_message> msgs_;
  std::vector<smtp_session> sessions_;
};

}  // namespace closeloop::itest
