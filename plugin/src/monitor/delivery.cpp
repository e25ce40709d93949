// Alert and report delivery (delivery.hpp).
#include "monitor/delivery.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <random>

#include "common/crypto.hpp"
#include "common/http_client.hpp"

namespace closeloop::monitor {

using nlohmann::json;

result<std::map<std::string, channel>> parse_channels(const json& mon, const std::string& where) {
  std::map<std::string, channel> out;
  if (!mon.is_object() || !mon.contains("channels")) return out;
  for (const auto& [id, j] : mon["channels"].items()) {
    const std::string p = where + "/channels/" + id;
    auto bad = [&](const std::string& what) { return make_error(errc::invalid_config, "config: " + p + ": " + what); };
    channel c;
    c.id = id;
    c.type = j.value("type", "");
    c.url = j.value("url", "");
    c.secret = j.value("secret", "");
    c.from = j.value("from", "");
    c.helo = j.value("helo", c.helo);
    c.smtp_host = j.value("smtp_host", c.smtp_host);
    c.smtp_port = j.value("smtp_port", c.smtp_port);
    for (const auto& t : j.value("to", json::array())) c.to.push_back(t.get<std::string>());
    c.host = j.value("host", "");
    c.ticket = j.value("ticket", "");
    if (c.type == "webhook" || c.type == "slack") {
      if (auto u = adapters::http::parse_url(c.url); !u) return bad("url: " + u.err().message);
      if (c.type == "webhook" && c.secret.size() < 16) return bad("a webhook channel needs a secret of 16+ characters");
    } else if (c.type == "email") {
      if (c.from.empty() || c.to.empty()) return bad("an email channel needs from and to");
    } else if (c.type == "host_note") {
      if (c.host.empty() || c.ticket.empty()) return bad("a host_note channel needs host and ticket");
    } else {
      return bad("unknown channel type \"" + c.type + "\"");
    }
    out.emplace(id, std::move(c));
  }
  return out;
}

std::string webhook_signature(const std::string& secret, const std::string& ts, const std::string& body) {
  return "sha256=" + adapters::crypto::hex_encode(adapters::crypto::hmac_sha256(secret, ts + "." + body));
}

namespace {

result<void> post_json(const std::string& url, const std::string& body, adapters::header_list headers) {
  adapters::http::client cl;
  adapters::http::request req;
  req.method = "POST";
  req.url = url;
  headers.emplace_back("Content-Type", "application/json");
  req.headers = std::move(headers);
  req.body = body;
  auto r = cl.send(req, std::chrono::milliseconds(10000));
  if (!r) return r.err();
  if (r->status >= 200 && r->status < 300) return {};
  const bool retry = r->status >= 500 || r->status == 429 || r->status == 408;
  return make_error(errc::upstream, "HTTP " + std::to_string(r->status) + " from " + url, retry);
}

// ---- SMTP --------------------------------------------------------------------------------

class smtp_conn {
 public:
  ~smtp_conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  result<void> connect(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0)
      return make_error(errc::unavailable, "smtp: cannot resolve " + host + ": " + ::gai_strerror(rc), true);
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
    if (fd_ < 0) return make_error(errc::unavailable, "smtp: cannot connect to " + host + ":" + std::to_string(port) + ": " + why, true);
    return {};
  }
  // Reads one (possibly multi-line) reply; returns its code and text.
  result<std::pair<int, std::string>> reply() {
    std::string all;
    for (;;) {
      std::string line;
      if (auto r = read_line(line); !r) return r.err();
      all += line + "\n";
      if (line.size() < 3) return make_error(errc::upstream, "smtp: malformed reply \"" + line + "\"");
      if (line.size() == 3 || line[3] != '-') return std::make_pair(std::atoi(line.substr(0, 3).c_str()), all);
    }
  }
  result<void> send(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return make_error(errc::unavailable, "smtp: connection lost while sending", true);
      off += static_cast<std::size_t>(n);
    }
    return {};
  }
  result<void> command(const std::string& cmd, int expect_class, const char* step) {
    if (!cmd.empty())
      if (auto s = send(cmd + "\r\n"); !s) return s;
    auto r = reply();
    if (!r) return r.err();
    if (r->first / 100 != expect_class) {
      std::string text = r->second;
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      return make_error(errc::upstream, std::string("smtp: ") + step + " refused: " + text, r->first / 100 == 4);
    }
    return {};
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
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return make_error(errc::unavailable, "smtp: connection closed or timed out waiting for a reply", true);
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }
  int fd_ = -1;
  std::string buf_;
};

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

}  // namespace

result<void> send_mail(const channel& ch, const message& m) {
  if (!header_safe(ch.from)) return make_error(errc::invalid_argument, "smtp: bad from address");
  for (const auto& t : ch.to)
    if (!header_safe(t)) return make_error(errc::invalid_argument, "smtp: bad recipient address \"" + t + "\"");
  smtp_conn c;
  if (auto r = c.connect(ch.smtp_host, ch.smtp_port); !r) return r;
  if (auto r = c.command("", 2, "greeting"); !r) return r;
  if (auto r = c.command("EHLO " + ch.helo, 2, "EHLO"); !r) return r;
  if (auto r = c.command("MAIL FROM:<" + ch.from + ">", 2, "MAIL FROM"); !r) return r;
  for (const auto& t : ch.to)
    if (auto r = c.command("RCPT TO:<" + t + ">", 2, "RCPT TO"); !r) return r;
  if (auto r = c.command("DATA", 3, "DATA"); !r) return r;
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
  if (auto r = c.send(msg + ".\r\n"); !r) return r;
  if (auto r = c.command("", 2, "message"); !r) return r;
  (void)c.command("QUIT", 2, "QUIT");
  return {};
}

result<void> deliver(const channel& ch, const message& m, const host_note_fn& host_note) {
  if (ch.type == "webhook") {
    const std::string body = m.payload.dump();
    const std::string ts = std::to_string(std::time(nullptr));
    return post_json(ch.url, body, {{"X-Closeloop-Timestamp", ts}, {"X-Closeloop-Signature", webhook_signature(ch.secret, ts, body)}});
  }
  if (ch.type == "slack") {
    json j = {{"text", "*" + m.subject + "*\n" + m.text}};
    return post_json(ch.url, j.dump(), {});
  }
  if (ch.type == "email") return send_mail(ch, m);
  if (ch.type == "host_note") {
    if (!host_note) return make_error(errc::unsupported, "no host adapter available for host_note delivery");
    return host_note(ch.host, ch.ticket, m.subject + "\n\n" + m.text);
  }
  return make_error(errc::unsupported, "unknown channel type \"" + ch.type + "\"");
}

}  // namespace closeloop::monitor
