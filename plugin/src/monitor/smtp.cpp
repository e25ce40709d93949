// E-mail delivery: one SMTP conversation with STARTTLS and AUTH (delivery.hpp, send_mail).
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <sstream>

#include "common/crypto.hpp"
#include "common/http_client.hpp"
#include "monitor/delivery.hpp"

namespace closeloop::monitor {

bool loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

std::string smtp_tls_mode(const channel& ch) {
  if (!ch.tls.empty()) return ch.tls;
  if (ch.smtp_port == 465) return "implicit";  // submissions (RFC 8314): TLS from the first byte
  return loopback_host(ch.smtp_host) ? "starttls" : "required";
}

namespace {

// A reply: its code, its whole text and (for EHLO) the extension keywords it lists.
struct smtp_reply {
  int code = 0;
  std::string text;
};

class smtp_conn {
 public:
  smtp_conn(std::string host, int port) : host_(std::move(host)), port_(port) {}
  ~smtp_conn() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
  }
  smtp_conn(const smtp_conn&) = delete;
  smtp_conn& operator=(const smtp_conn&) = delete;

  std::string peer() const { return host_ + ":" + std::to_string(port_); }
  bool secure() const { return ssl_ != nullptr; }

  result<void> connect() {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = ::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &res); rc != 0)
      return make_error(errc::unavailable, "smtp: cannot resolve " + host_ + ": " + ::gai_strerror(rc), true);
    std::string why = "no address";
    for (addrinfo* a = res; a; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
      if (fd < 0) continue;
      timeval tv{10, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        fd_ = fd;
        break;
      }
      why = std::strerror(errno);
      ::close(fd);
    }
    ::freeaddrinfo(res);
    if (fd_ < 0) return make_error(errc::unavailable, "smtp: cannot connect to " + peer() + ": " + why, true);
    return {};
  }

  // TLS on the connection (after "220" to STARTTLS, or first for implicit TLS): the relay's
  // certificate is verified against the system store or ca_file, and its name (or IP address)
  // against smtp_host.
  result<void> start_tls(const std::string& ca_file) {
    if (!buf_.empty())  // the relay answered more than the 220: never carry plaintext into TLS
      return make_error(errc::upstream, "smtp: " + peer() + " sent data after its STARTTLS reply; refused");
    auto ctx = adapters::http::tls_client_context(ca_file);
    if (!ctx) return make_error(ctx.err().code, "smtp: " + ctx.err().message);
    ctx_ = *ctx;
    ssl_ = SSL_new(ctx_.get());
    if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) return make_error(errc::internal, "smtp: cannot set up TLS");
    if (auto p = adapters::http::expect_tls_peer(ssl_, host_); !p) return p.err();
    ERR_clear_error();
    if (SSL_connect(ssl_) == 1) return {};
    if (auto why = adapters::http::tls_verify_error(ssl_); !why.empty())
      return make_error(errc::unavailable,
                        "smtp: the certificate of " + peer() + " did not verify: " + why +
                            " (trust its CA with the channel's ca_file, or fix the relay's certificate)",
                        false);
    const unsigned long e = ERR_get_error();
    char b[256] = "connection closed";
    if (e) ERR_error_string_n(e, b, sizeof b);
    return make_error(errc::unavailable, "smtp: TLS handshake with " + peer() + " failed: " + b, true);
  }

  // Reads one (possibly multi-line) reply.
  result<smtp_reply> reply() {
    smtp_reply out;
    for (;;) {
      std::string line;
      if (auto r = read_line(line); !r) return r.err();
      out.text += line + "\n";
      if (line.size() < 3) return make_error(errc::upstream, "smtp: malformed reply \"" + line + "\"");
      if (line.size() == 3 || line[3] != '-') {
        out.code = std::atoi(line.substr(0, 3).c_str());
        return out;
      }
    }
  }
  result<void> send(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      const std::size_t left = data.size() - off;
      const long n = ssl_ ? SSL_write(ssl_, data.data() + off, static_cast<int>(std::min<std::size_t>(left, 1 << 20)))
                          : ::send(fd_, data.data() + off, left, MSG_NOSIGNAL);
      if (n <= 0) return make_error(errc::unavailable, "smtp: connection to " + peer() + " lost while sending", true);
      off += static_cast<std::size_t>(n);
    }
    return {};
  }
  // Sends `cmd` (none: only reads) and expects a reply of class `expect_class`; a refusal names the
  // step and the server's reply (retryable for 4xx), never the command (it may hold credentials).
  result<smtp_reply> command(const std::string& cmd, int expect_class, const char* step) {
    if (!cmd.empty())
      if (auto s = send(cmd + "\r\n"); !s) return s.err();
    auto r = reply();
    if (!r) return r.err();
    if (r->code / 100 != expect_class) {
      std::string text = r->text;
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      return make_error(errc::upstream, std::string("smtp: ") + step + " refused: " + text, r->code / 100 == 4);
    }
    return r;
  }

 private:
  result<void> read_line(std::string& line) {
    for (;;) {
      if (auto nl = buf_.find("\r\n"); nl != std::string::npos) {
        line = buf_.substr(0, nl);
        buf_.erase(0, nl + 2);
        return {};
      }
      if (buf_.size() > 64 * 1024) return make_error(errc::upstream, "smtp: reply line too long");
      char tmp[4096];
      const long n = ssl_ ? SSL_read(ssl_, tmp, sizeof tmp) : ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0)
        return make_error(errc::unavailable, "smtp: connection to " + peer() + " closed or timed out waiting for a reply",
                          true);
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }
  std::string host_;
  int port_;
  int fd_ = -1;
  std::shared_ptr<SSL_CTX> ctx_;
  SSL* ssl_ = nullptr;
  std::string buf_;
};

// The EHLO reply's extension keywords, upper-case ("STARTTLS", "AUTH PLAIN LOGIN", ...).
std::vector<std::string> extensions(const std::string& ehlo) {
  std::vector<std::string> out;
  std::istringstream in(ehlo);
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (line.size() > 4 && !first) {
      std::string k = line.substr(4);
      for (auto& c : k) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out.push_back(k);
    }
    first = false;
  }
  return out;
}

bool offers(const std::vector<std::string>& ext, const std::string& keyword) {
  for (const auto& e : ext)
    if (e == keyword || e.rfind(keyword + " ", 0) == 0) return true;
  return false;
}

bool offers_auth(const std::vector<std::string>& ext, const std::string& mech) {
  for (const auto& e : ext) {
    if (e.rfind("AUTH", 0) != 0 || e.size() < 5 || (e[4] != ' ' && e[4] != '=')) continue;
    std::istringstream in(e.substr(5));
    for (std::string m; in >> m;)
      if (m == mech) return true;
  }
  return false;
}

result<void> authenticate(smtp_conn& c, const channel& ch, const std::vector<std::string>& ext) {
  using adapters::crypto::base64_encode;
  if (offers_auth(ext, "PLAIN")) {
    const std::string token = base64_encode(std::string(1, '\0') + ch.username + std::string(1, '\0') + ch.password);
    if (auto r = c.command("AUTH PLAIN " + token, 2, "AUTH PLAIN"); !r) return r.err();
    return {};
  }
  if (offers_auth(ext, "LOGIN")) {
    if (auto r = c.command("AUTH LOGIN", 3, "AUTH LOGIN"); !r) return r.err();
    if (auto r = c.command(base64_encode(ch.username), 3, "AUTH LOGIN (user name)"); !r) return r.err();
    if (auto r = c.command(base64_encode(ch.password), 2, "AUTH LOGIN (password)"); !r) return r.err();
    return {};
  }
  return make_error(errc::upstream, "smtp: " + c.peer() + " offers neither AUTH PLAIN nor AUTH LOGIN", false);
}

std::string encode_header(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80 || c < 0x20) return "=?UTF-8?B?" + adapters::crypto::base64_encode(s) + "?=";
  return s;
}

std::string wrap76(const std::string& b64) {
  std::string out;
  for (std::size_t i = 0; i < b64.size(); i += 76) out += b64.substr(i, 76) + "\r\n";
  return out;
}

std::string rfc5322_date() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char b[64];
  std::strftime(b, sizeof b, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return b;
}

bool header_safe(const std::string& s) { return s.find_first_of("\r\n<>") == std::string::npos; }

std::string mime_message(const channel& ch, const message& m) {
  std::mt19937_64 rng{std::random_device{}()};
  const std::string boundary = "closeloop-" + std::to_string(rng());
  std::string to_list;
  for (const auto& t : ch.to) to_list += (to_list.empty() ? "" : ", ") + t;
  std::string msg = "From: " + ch.from + "\r\nTo: " + to_list + "\r\nSubject: " + encode_header(m.subject) +
                    "\r\nDate: " + rfc5322_date() + "\r\nMessage-ID: <" + std::to_string(rng()) + "@closeloop>\r\n" +
                    "MIME-Version: 1.0\r\n";
  if (m.html.empty()) {
    msg += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
           wrap76(adapters::crypto::base64_encode(m.text));
  } else {
    msg += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n--" + boundary +
           "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
           wrap76(adapters::crypto::base64_encode(m.text)) + "--" + boundary +
           "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
           wrap76(adapters::crypto::base64_encode(m.html)) + "--" + boundary + "--\r\n";
  }
  // Base64 bodies never start a line with '.', so no dot-stuffing is needed.
  return msg + ".\r\n";
}

}  // namespace

result<void> send_mail(const channel& ch, const message& m) {
  if (!header_safe(ch.from)) return make_error(errc::invalid_argument, "smtp: bad from address");
  for (const auto& t : ch.to)
    if (!header_safe(t)) return make_error(errc::invalid_argument, "smtp: bad recipient address \"" + t + "\"");
  const std::string mode = smtp_tls_mode(ch);
  const bool credentials = !ch.username.empty();
  smtp_conn c(ch.smtp_host, ch.smtp_port);
  if (auto r = c.connect(); !r) return r;
  if (mode == "implicit") {
    if (auto r = c.start_tls(ch.ca_file); !r)
      return make_error(r.err().code,
                        r.err().message + " (tls \"implicit\" expects TLS from the first byte, as on port 465)",
                        r.err().retryable);
  }
  if (auto r = c.command("", 2, "greeting"); !r) return r.err();
  auto ehlo = c.command("EHLO " + ch.helo, 2, "EHLO");
  if (!ehlo) return ehlo.err();
  auto ext = extensions(ehlo->text);
  auto quit = [&](error e) {
    (void)c.command("QUIT", 2, "QUIT");
    return e;
  };
  if (mode != "none" && !c.secure()) {
    if (offers(ext, "STARTTLS")) {
      if (auto r = c.command("STARTTLS", 2, "STARTTLS"); !r) return quit(r.err());
      if (auto r = c.start_tls(ch.ca_file); !r) return r;  // no QUIT: the stream is not usable in clear
      ehlo = c.command("EHLO " + ch.helo, 2, "EHLO after STARTTLS");
      if (!ehlo) return ehlo.err();
      ext = extensions(ehlo->text);
    } else if (mode == "required") {
      return quit(make_error(errc::upstream,
                             "smtp: " + c.peer() + " does not offer STARTTLS and the channel requires TLS (tls \"" +
                                 mode + "\"); nothing was sent",
                             false));
    }
  }
  if (credentials) {
    if (!c.secure() && !ch.auth_without_tls)
      return quit(make_error(errc::upstream,
                             "smtp: " + c.peer() +
                                 " does not offer STARTTLS: the credentials are not sent in clear (auth_without_tls "
                                 "allows it for a loopback relay); nothing was sent",
                             false));
    if (auto r = authenticate(c, ch, ext); !r) return quit(r.err());
  }
  if (auto r = c.command("MAIL FROM:<" + ch.from + ">", 2, "MAIL FROM"); !r) return quit(r.err());
  for (const auto& t : ch.to)
    if (auto r = c.command("RCPT TO:<" + t + ">", 2, "RCPT TO"); !r) return quit(r.err());
  if (auto r = c.command("DATA", 3, "DATA"); !r) return quit(r.err());
  if (auto r = c.send(mime_message(ch, m)); !r) return r;
  if (auto r = c.command("", 2, "message"); !r) return r.err();
  (void)c.command("QUIT", 2, "QUIT");
  return {};
}

}  // namespace closeloop::monitor
