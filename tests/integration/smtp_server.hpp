#pragma once
// A small SMTP server on 127.0.0.1 (port 0) for delivery tests: it speaks the server side of a
// real SMTP conversation (220 greeting, EHLO, MAIL FROM, RCPT TO, DATA ending in "." on its own
// line, QUIT) over a real socket, one connection at a time, and records every envelope and
// message. `refuse_rcpt` answers RCPT TO with 550 to test a refusal.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace closeloop::itest {

struct smtp_message {
  std::vector<std::string> commands;  // as received, without CRLF
  std::string from;
  std::vector<std::string> rcpt;
  std::string data;  // the message (headers + body), without the final "."
};

class smtp_server {
 public:
  explicit smtp_server(bool refuse_rcpt = false) : refuse_rcpt_(refuse_rcpt) {
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
  }
  int port() const { return port_; }
  std::vector<smtp_message> messages() {
    std::lock_guard lk(mu_);
    return msgs_;
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds t = std::chrono::seconds(5)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, t, [&] { return msgs_.size() >= n; });
  }

 private:
  void run() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      timeval tv{5, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      conversation(c);
      ::close(c);
    }
  }
  static void say(int c, const std::string& s) { (void)::send(c, s.data(), s.size(), MSG_NOSIGNAL); }
  bool line(int c, std::string& buf, std::string& out) {
    for (;;) {
      if (auto p = buf.find("\r\n"); p != std::string::npos) {
        out = buf.substr(0, p);
        buf.erase(0, p + 2);
        return true;
      }
      char tmp[4096];
      ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<std::size_t>(n));
    }
  }
  void conversation(int c) {
    smtp_message m;
    std::string buf, l;
    say(c, "220 test.invalid ESMTP ready\r\n");
    while (line(c, buf, l)) {
      m.commands.push_back(l);
      if (l.rfind("EHLO", 0) == 0) {
        say(c, "250-test.invalid hello\r\n250 8BITMIME\r\n");
      } else if (l.rfind("MAIL FROM:", 0) == 0) {
        m.from = l.substr(10);
        say(c, "250 ok\r\n");
      } else if (l.rfind("RCPT TO:", 0) == 0) {
        if (refuse_rcpt_) {
          say(c, "550 5.1.1 no such user\r\n");
          continue;
        }
        m.rcpt.push_back(l.substr(8));
        say(c, "250 ok\r\n");
      } else if (l == "DATA") {
        say(c, "354 go ahead\r\n");
        while (line(c, buf, l) && l != ".") m.data += (l.rfind("..", 0) == 0 ? l.substr(1) : l) + "\r\n";
        say(c, "250 queued\r\n");
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
  bool refuse_rcpt_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread th_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<smtp_message> msgs_;
};

}  // namespace closeloop::itest
