// Alert and report e-mail over STARTTLS (monitor/smtp.cpp) against the loopback SMTP server
// (smtp_server.hpp) with a certificate made in the test (../adapters/self_signed.hpp): delivered
// over TLS with AUTH PLAIN and AUTH LOGIN, the password given as a {"ref"} secret; an untrusted or
// mismatched certificate refused with an error naming the relay; a relay without STARTTLS refused
// where TLS is required, nothing sent in clear; plain SMTP to a loopback relay where configured.
#include <catch2/catch.hpp>

#include "closeloop/config.hpp"
#include "harness.hpp"
#include "monitor/service.hpp"
#include "self_signed.hpp"
#include "smtp_server.hpp"

using namespace closeloop;
using namespace closeloop::itest;
using nlohmann::json;

namespace {

struct tls_relay {
  temp_dir dir{"smtp"};
  test::self_signed cert = test::make_self_signed();
  std::string ca_file = (dir / "ca.pem").string();
  tls_relay() { write_text(ca_file, cert.cert_pem); }
  smtp_options options() const {
    smtp_options o;
    o.cert_pem = cert.cert_pem;
    o.key_pem = cert.key_pem;
    o.require_tls = true;
    o.user = "closeloop";
    o.password = "relay password 1";
    return o;
  }
};

monitor::channel mail_channel(int port) {
  monitor::channel ch;
  ch.id = "mail";
  ch.type = "email";
  ch.smtp_host = "127.0.0.1";
  ch.smtp_port = port;
  ch.from = "closeloop@example.com";
  ch.to = {"lead@example.com"};
  return ch;
}

const monitor::message k_msg{"[closeloop] RED: csat", "CSAT 50 %", "", json::object()};

bool contains(const std::vector<std::string>& v, const std::string& prefix) {
  for (const auto& s : v)
    if (s.rfind(prefix, 0) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE("smtp: delivered over STARTTLS with AUTH, the password a {\"ref\"} secret, nothing in clear but EHLO",
          "[integration][monitor][smtp]") {
  tls_relay t;
  smtp_server relay(t.options());

  // The channel as an admin writes it: tls required, the relay's CA, the password by reference.
  json cfg = make_config({});
  cfg["tenants"][0]["monitoring"] = {
      {"channels",
       {{"mail",
         {{"type", "email"},
          {"smtp_host", "127.0.0.1"},
          {"smtp_port", relay.port()},
          {"tls", "required"},
          {"ca_file", t.ca_file},
          {"username", "closeloop"},
          {"password", {{"ref", "smtp-password"}}},
          {"from", "closeloop@example.com"},
          {"to", {"lead@example.com"}}}}}}};
  auto c = parse_config(cfg.dump());
  REQUIRE(c);
  REQUIRE(c->secret_refs.size() == 1);
  CHECK(c->secret_refs[0].pointer == "/tenants/0/monitoring/channels/mail/password");
  REQUIRE(resolve_secret_refs(*c, [](const secret_ref& r) -> result<std::string> {
    if (r.tenant == "acme" && r.host.empty() && r.name == "smtp-password") return std::string("relay password 1");
    return make_error(errc::not_found, "no secret " + r.name);
  }));
  auto mon = monitor::parse_monitoring(c->tenants[0].monitoring, "/tenants/0/monitoring");
  REQUIRE(mon);
  const auto& ch = mon->channels.at("mail");
  CHECK(monitor::smtp_tls_mode(ch) == "required");

  auto r = monitor::send_mail(ch, k_msg);
  INFO((r ? std::string("ok") : r.err().message));
  REQUIRE(r);
  REQUIRE(relay.wait_for(1));
  const auto mail = relay.messages().front();
  CHECK(mail.tls);
  CHECK(mail.user == "closeloop");
  CHECK(mail.from == "<closeloop@example.com>");
  CHECK(mail.data.find("Subject: [closeloop] RED: csat") != std::string::npos);
  const auto s = relay.sessions().front();
  CHECK(s.clear == std::vector<std::string>{"EHLO closeloop", "STARTTLS"});
  REQUIRE(s.secure.size() >= 3);
  CHECK(s.secure[0] == "EHLO closeloop");
  CHECK(s.secure[1].rfind("AUTH PLAIN ", 0) == 0);

  // AUTH LOGIN where the relay offers only that; a wrong password is refused for good (535).
  auto o = t.options();
  o.auth_mechanisms = "LOGIN";
  smtp_server login_relay(o);
  auto ch2 = ch;
  ch2.smtp_port = login_relay.port();
  REQUIRE(monitor::send_mail(ch2, k_msg));
  REQUIRE(login_relay.wait_for(1));
  CHECK(login_relay.messages().front().user == "closeloop");
  CHECK(login_relay.sessions().front().secure[1] == "AUTH LOGIN");
  ch2.password = "wrong";
  auto bad = monitor::send_mail(ch2, k_msg);
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find("AUTH LOGIN (password) refused: 535") != std::string::npos);
  CHECK_FALSE(bad.err().retryable);
  CHECK(bad.err().message.find("wrong") == std::string::npos);
  CHECK(login_relay.messages().size() == 1);
}

TEST_CASE("smtp: implicit TLS (port 465) — TLS before the greeting, AUTH inside, nothing in clear",
          "[integration][monitor][smtp]") {
  tls_relay t;
  auto o = t.options();
  o.implicit_tls = true;
  smtp_server relay(o);
  auto ch = mail_channel(relay.port());
  ch.tls = "implicit";
  ch.ca_file = t.ca_file;
  ch.username = "closeloop";
  ch.password = "relay password 1";
  auto r = monitor::send_mail(ch, k_msg);
  INFO((r ? std::string("ok") : r.err().message));
  REQUIRE(r);
  REQUIRE(relay.wait_for(1));
  CHECK(relay.messages().front().tls);
  CHECK(relay.messages().front().user == "closeloop");
  const auto s = relay.sessions().front();
  CHECK(s.clear.empty());  // not even EHLO
  REQUIRE(s.secure.size() >= 3);
  CHECK(s.secure[0] == "EHLO closeloop");
  CHECK(s.secure[1].rfind("AUTH PLAIN ", 0) == 0);

  // Port 465 means implicit TLS unless the channel says otherwise.
  auto on_465 = mail_channel(465);
  on_465.smtp_host = "smtp.example.com";
  CHECK(monitor::smtp_tls_mode(on_465) == "implicit");
  on_465.tls = "required";
  CHECK(monitor::smtp_tls_mode(on_465) == "required");

  // Implicit TLS against a STARTTLS relay (its greeting is not a TLS handshake): refused, named,
  // and nothing sent.
  smtp_server starttls_relay(t.options());
  auto wrong = ch;
  wrong.smtp_port = starttls_relay.port();
  auto w = monitor::send_mail(wrong, k_msg);
  REQUIRE_FALSE(w);
  CHECK_THAT(w.err().message, Catch::StartsWith("smtp: TLS handshake with 127.0.0.1:" + std::to_string(wrong.smtp_port) +
                                                " failed") &&
                                  Catch::EndsWith("(tls \"implicit\" expects TLS from the first byte, as on port 465)"));
  CHECK(starttls_relay.messages().empty());
}

TEST_CASE("smtp: an untrusted or mismatched relay certificate is refused with an error naming the relay",
          "[integration][monitor][smtp]") {
  tls_relay t;
  smtp_server relay(t.options());
  auto ch = mail_channel(relay.port());
  ch.username = "closeloop";
  ch.password = "relay password 1";

  // Not in the system store (no ca_file): untrusted.
  auto r = monitor::send_mail(ch, k_msg);
  REQUIRE_FALSE(r);
  INFO(r.err().message);
  CHECK(r.err().message.find("the certificate of 127.0.0.1:" + std::to_string(relay.port()) + " did not verify") !=
        std::string::npos);
  CHECK(r.err().message.find("self-signed certificate") != std::string::npos);
  CHECK_FALSE(r.err().retryable);

  // Trusted, but issued for 127.0.0.1 while the channel names "localhost".
  ch.ca_file = t.ca_file;
  ch.smtp_host = "localhost";
  auto m = monitor::send_mail(ch, k_msg);
  REQUIRE_FALSE(m);
  INFO(m.err().message);
  CHECK(m.err().message.find("the certificate of localhost:" + std::to_string(relay.port()) + " did not verify") !=
        std::string::npos);
  CHECK(m.err().message.find("hostname mismatch") != std::string::npos);
  CHECK_FALSE(m.err().retryable);

  // Neither attempt authenticated or sent anything: only EHLO and STARTTLS came, in clear.
  CHECK(relay.messages().empty());
  for (const auto& s : relay.sessions()) {
    CHECK(s.clear == std::vector<std::string>{"EHLO closeloop", "STARTTLS"});
    CHECK(s.secure.empty());
  }
}

TEST_CASE("smtp: a relay without STARTTLS is refused where TLS is required, and credentials never go in clear",
          "[integration][monitor][smtp]") {
  smtp_server plain;  // no certificate: no STARTTLS
  auto ch = mail_channel(plain.port());
  ch.smtp_host = "127.0.0.1";
  ch.tls = "required";
  auto r = monitor::send_mail(ch, k_msg);
  REQUIRE_FALSE(r);
  CHECK(r.err().message == "smtp: 127.0.0.1:" + std::to_string(plain.port()) +
                               " does not offer STARTTLS and the channel requires TLS (tls \"required\"); nothing was sent");
  CHECK_FALSE(r.err().retryable);

  // tls starttls (a loopback relay's default) with credentials: no AUTH in clear.
  ch.tls = "";
  ch.username = "closeloop";
  ch.password = "relay password 1";
  auto a = monitor::send_mail(ch, k_msg);
  REQUIRE_FALSE(a);
  CHECK(a.err().message.find("the credentials are not sent in clear") != std::string::npos);

  CHECK(plain.messages().empty());
  for (const auto& s : plain.sessions()) {
    CHECK_FALSE(contains(s.clear, "MAIL"));
    CHECK_FALSE(contains(s.clear, "AUTH"));
    CHECK_FALSE(contains(s.clear, "RCPT"));
  }

  // A relay that requires TLS answers 530 to a client configured for none: refused, named.
  tls_relay t;
  auto o = t.options();
  o.user.clear();
  smtp_server strict(o);
  auto n = mail_channel(strict.port());
  n.tls = "none";
  auto s = monitor::send_mail(n, k_msg);
  REQUIRE_FALSE(s);
  CHECK(s.err().message.find("MAIL FROM refused: 530 5.7.0 Must issue a STARTTLS command first") != std::string::npos);
  CHECK_FALSE(s.err().retryable);
}

TEST_CASE("smtp: plain SMTP still works for a loopback relay, and unsafe settings are refused at load",
          "[integration][monitor][smtp]") {
  smtp_server plain;
  auto ch = mail_channel(plain.port());
  CHECK(monitor::smtp_tls_mode(ch) == "starttls");  // loopback default: TLS when offered
  REQUIRE(monitor::send_mail(ch, k_msg));
  ch.tls = "none";
  REQUIRE(monitor::send_mail(ch, k_msg));
  REQUIRE(plain.wait_for(2));
  CHECK_FALSE(plain.messages()[0].tls);

  // A loopback relay that offers STARTTLS gets it even by default.
  tls_relay t;
  auto o = t.options();
  o.user.clear();
  smtp_server tls(o);
  auto tch = mail_channel(tls.port());
  tch.ca_file = t.ca_file;
  REQUIRE(monitor::send_mail(tch, k_msg));
  REQUIRE(tls.wait_for(1));
  CHECK(tls.messages()[0].tls);

  auto load = [](json mail) {
    json mon = {{"channels", {{"mail", mail}}}};
    auto r = monitor::parse_monitoring(mon, "/tenants/0/monitoring");
    return r ? std::string() : r.err().message;
  };
  json base = {{"type", "email"}, {"from", "a@example.com"}, {"to", {"b@example.com"}}};
  CHECK(monitor::smtp_tls_mode(monitor::parse_channels(json{{"channels", {{"m", base}}}}, "x")->at("m")) == "starttls");
  json remote = base;
  remote["smtp_host"] = "smtp.example.com";
  remote["smtp_port"] = 587;
  CHECK(monitor::smtp_tls_mode(monitor::parse_channels(json{{"channels", {{"m", remote}}}}, "x")->at("m")) ==
        "required");
  json j = remote;
  j["tls"] = "sometimes";
  CHECK(load(j) ==
        "config: /tenants/0/monitoring/channels/mail: tls: \"required\", \"starttls\", \"implicit\" or \"none\", not "
        "\"sometimes\"");
  j = remote;
  j["username"] = "u";
  CHECK(load(j).find("username and password go together") != std::string::npos);
  j["password"] = "p";
  j["auth_without_tls"] = true;
  CHECK(load(j).find("auth_without_tls is allowed only for a relay on a loopback address") != std::string::npos);
  j.erase("auth_without_tls");
  j["tls"] = "none";
  CHECK(load(j).find("would send the credentials in clear") != std::string::npos);
  j["tls"] = "required";
  CHECK(load(j).empty());
}
