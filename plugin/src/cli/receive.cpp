// `closeloop receive`: a receiver for the generic adapter's outbound webhooks. It verifies the
// Standard Webhooks signature, recognises redeliveries by webhook-id, and prints each action.
// For trying closeloop out (the demo uses it) and for checking what a generic host would get.
#include <csignal>
#include <iostream>
#include <mutex>
#include <set>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "cli/commands.hpp"
#include "cli/privacy.hpp"
#include "closeloop/clock.hpp"
#include "common/standard_webhooks.hpp"

namespace closeloop::cli {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct receiver_state {
  adapters::standard_webhooks::signer signer;
  std::set<std::string> seen;
  std::mutex mu;
  system_clock clk;
};

std::string summarise(const json& a) {
  std::string s = a.value("type", "?") + " ticket " + a.value("ticket_id", "?");
  const json p = a.value("params", json::object());
  if (p.contains("priority")) s += " priority=" + p["priority"].get<std::string>();
  if (p.contains("fields")) s += " fields=" + p["fields"].dump();
  if (p.contains("group")) s += " group=" + p["group"].get<std::string>();
  if (p.contains("survey")) s += " survey=" + p["survey"].get<std::string>();
  if (p.contains("language")) s += " language=" + p["language"].get<std::string>();
  if (p.contains("body")) s += " body=" + p["body"].dump();
  return s;
}

class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket s, receiver_state& st) : stream_(std::move(s)), st_(st) {}
  void read() {
    req_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buf_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->answer();
    });
  }

 private:
  void answer() {
    adapters::header_list headers;
    for (const auto& f : req_) headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    http::status st = http::status::ok;
    std::string body = "ok";
    auto v = st_.signer.verify(headers, req_.body(), st_.clk.now());
    if (!v) {
      st = http::status::unauthorized;
      body = v.err().message;
      std::cout << "rejected: " << body << std::endl;
    } else {
      std::string id = req_["webhook-id"];
      bool dup;
      {
        std::lock_guard lk(st_.mu);
        dup = !st_.seen.insert(id).second;
      }
      json a = json::parse(req_.body(), nullptr, false);
      std::cout << (dup ? "duplicate (ignored): " : "received: ") << (a.is_discarded() ? req_.body() : summarise(a))
                << std::endl;
    }
    auto res = std::make_shared<http::response<http::string_body>>(st, req_.version());
    res->set(http::field::content_type, "text/plain");
    res->keep_alive(req_.keep_alive());
    res->body() = body;
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (!ec && res->keep_alive()) self->read();
    });
  }
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  receiver_state& st_;
};

void accept(tcp::acceptor& acc, net::io_context& ioc, receiver_state& st) {
  acc.async_accept(net::make_strand(ioc), [&](beast::error_code ec, tcp::socket s) {
    if (ec) return;
    std::make_shared<session>(std::move(s), st)->read();
    accept(acc, ioc, st);
  });
}

}  // namespace

int run_receive(const receive_options& o) {
  std::string secret = o.secret;
  if (secret.empty()) {
    auto cfg = load_resolved_or_report(o.config_path);  // {"ref": NAME} secrets from the store
    if (!cfg) return 2;
    for (const auto& t : cfg->tenants)
      for (const auto& h : t.hosts)
        if (secret.empty() && h.vendor == "generic") {
          const json& s = h.settings;
          secret = s.contains("endpoint") && s["endpoint"].contains("secret") ? s["endpoint"]["secret"].get<std::string>()
                                                                               : s.value("webhook_secret", "");
        }
    if (secret.empty()) {
      std::cerr << "closeloop receive: no generic host with a secret in " << o.config_path << "\n";
      return 2;
    }
  }
  auto signer = adapters::standard_webhooks::signer::from_secret(secret);
  if (!signer) {
    std::cerr << "closeloop receive: " << signer.err().message << "\n";
    return 2;
  }
  receiver_state st{std::move(*signer), {}, {}, {}};
  net::io_context ioc;
  beast::error_code ec;
  tcp::acceptor acc(ioc);
  tcp::endpoint ep{net::ip::make_address(o.listen, ec), static_cast<unsigned short>(o.port)};
  if (ec) {
    std::cerr << "closeloop receive: --listen: not an IP address: " << o.listen << "\n";
    return 2;
  }
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    std::cerr << "closeloop receive: cannot listen on " << o.listen << ":" << o.port << ": " << ec.message() << "\n";
    return 1;
  }
  std::cout << "receiving on http://" << o.listen << ":" << acc.local_endpoint().port() << std::endl;
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) { ioc.stop(); });
  accept(acc, ioc, st);
  ioc.run();
  return 0;
}

}  // namespace closeloop::cli
