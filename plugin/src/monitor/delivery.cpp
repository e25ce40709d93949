// Alert and report delivery (delivery.hpp).
#include "monitor/delivery.hpp"

#include <chrono>
#include <ctime>

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
    c.tls = j.value("tls", "");
    c.ca_file = j.value("ca_file", "");
    c.username = j.value("username", "");
    c.password = j.value("password", "");
    c.auth_without_tls = j.value("auth_without_tls", false);
    c.host = j.value("host", "");
    c.ticket = j.value("ticket", "");
    if (c.type == "webhook" || c.type == "slack") {
      if (auto u = adapters::http::parse_url(c.url); !u) return bad("url: " + u.err().message);
      if (c.type == "webhook" && c.secret.size() < 16) return bad("a webhook channel needs a secret of 16+ characters");
    } else if (c.type == "email") {
      if (c.from.empty() || c.to.empty()) return bad("an email channel needs from and to");
      if (!c.tls.empty() && c.tls != "required" && c.tls != "starttls" && c.tls != "implicit" && c.tls != "none")
        return bad("tls: \"required\", \"starttls\", \"implicit\" or \"none\", not \"" + c.tls + "\"");
      if (c.username.empty() != c.password.empty()) return bad("username and password go together");
      if (c.auth_without_tls && !loopback_host(c.smtp_host))
        return bad("auth_without_tls is allowed only for a relay on a loopback address (127.0.0.1, ::1, localhost), "
                   "not " + c.smtp_host);
      if (!c.username.empty() && smtp_tls_mode(c) == "none" && !c.auth_without_tls)
        return bad("tls \"none\" with a username would send the credentials in clear; use STARTTLS");
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

}  // namespace

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
