#pragma once
// Where alerts and reports go (tenant config `monitoring.channels`): a signed webhook
// (X-Closeloop-Signature: sha256=HMAC-SHA256(secret, timestamp "." body), X-Closeloop-Timestamp),
// a Slack-compatible incoming webhook ({"text": ...}), e-mail over SMTP (EHLO, STARTTLS, AUTH,
// MAIL FROM, RCPT TO, DATA, QUIT: smtp.cpp), or an internal note on a tracking ticket in a host
// (through the host's adapter; the caller supplies how).
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "closeloop/result.hpp"

namespace closeloop::monitor {

struct channel {
  std::string id, type;  // webhook | slack | email | host_note
  std::string url, secret;                     // webhook, slack
  std::string smtp_host = "127.0.0.1";         // email
  int smtp_port = 25;
  std::string from, helo = "closeloop";
  std::vector<std::string> to;
  // email TLS: "required" (STARTTLS or nothing is sent), "starttls" (when the relay offers it),
  // "implicit" (TLS from the first byte, port 465), "none" (plain SMTP); "" = implicit on port
  // 465, else required, or starttls for a loopback relay (smtp_tls_mode). The relay's
  // certificate is verified against the system store or ca_file.
  std::string tls, ca_file;
  std::string username, password;              // email AUTH PLAIN / LOGIN, only after STARTTLS
  bool auth_without_tls = false;               // ... unless this is set (loopback relays only)
  std::string host, ticket;                    // host_note: the host id in the tenant, the tracking ticket
};
result<std::map<std::string, channel>> parse_channels(const nlohmann::json& monitoring, const std::string& where);

struct message {
  std::string subject;   // one line
  std::string text;      // plain text body (Slack text, e-mail text part, host note)
  std::string html;      // optional HTML alternative (reports), e-mail only
  nlohmann::json payload = nlohmann::json::object();  // the webhook body
};

using host_note_fn = std::function<result<void>(const std::string& host, const std::string& ticket, const std::string& body)>;

// Delivers one message on one channel; an error says why (retryable when the peer was unreachable
// or answered 5xx/429).
result<void> deliver(const channel& ch, const message& m, const host_note_fn& host_note);

// The webhook signature header value for `body` at unix time `ts`.
std::string webhook_signature(const std::string& secret, const std::string& ts, const std::string& body);

// One SMTP conversation (smtp.cpp): implicit TLS or STARTTLS as smtp_tls_mode says, AUTH when the channel has a
// username (never in clear unless auth_without_tls), then the message. Errors name the step and
// the server's reply; an untrusted or mismatched certificate, a relay without STARTTLS where TLS is
// required and a refused AUTH are not retryable.
result<void> send_mail(const channel& ch, const message& m);
// The channel's effective TLS mode: ch.tls, else "implicit" on port 465, else "starttls" for a
// loopback relay, else "required".
std::string smtp_tls_mode(const channel& ch);
bool loopback_host(const std::string& host);  // 127.0.0.0/8, ::1, localhost

}  // namespace closeloop::monitor
