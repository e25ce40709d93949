#include "server/survey.hpp"

#include <algorithm>
#include <cctype>

#include "common/crypto.hpp"
#include "server/survey_texts.hpp"

namespace closeloop::server::survey {
namespace {

namespace crypto = adapters::crypto;
constexpr std::string_view k_prefix = "cl1.";

std::string b64url(std::string_view bytes) { return crypto::base64url_encode(bytes); }

result<std::string> b64url_decode(std::string_view text) { return crypto::base64url_decode(text); }

std::int64_t unix_seconds(timestamp t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string make_token(std::string_view secret, const link_claims& c) {
  json j = {{"t", c.tenant}, {"h", c.host}, {"k", c.ticket}, {"s", c.kind}, {"l", c.language}, {"x", c.expires}};
  std::string body = std::string(k_prefix) + b64url(j.dump());
  return body + "." + b64url(crypto::hmac_sha256(secret, body));
}

result<link_claims> read_token(std::string_view token) {
  auto bad = [](std::string why) { return make_error(errc::unauthorized, "survey link: " + why); };
  if (!token.starts_with(k_prefix)) return bad("unknown format");
  auto dot = token.rfind('.');
  if (dot <= k_prefix.size()) return bad("no signature");
  auto raw = b64url_decode(token.substr(k_prefix.size(), dot - k_prefix.size()));
  if (!raw) return bad("claims are not base64url");
  try {
    json j = json::parse(*raw);
    link_claims c;
    c.tenant = j.at("t").get<std::string>();
    c.host = j.at("h").get<std::string>();
    c.ticket = j.at("k").get<std::string>();
    c.kind = j.at("s").get<std::string>();
    c.language = j.value("l", "en");
    c.expires = j.at("x").get<std::int64_t>();
    // Which surveys exist is the page's business (404 for an unknown one); here only the shape.
    if (c.kind.empty() || c.kind.size() > 64 ||
        !std::all_of(c.kind.begin(), c.kind.end(), [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-'; }))
      return bad("malformed survey id");
    return c;
  } catch (const std::exception&) {
    return bad("claims are not valid");
  }
}

result<link_claims> verify_token(std::string_view token, std::string_view secret, timestamp now) {
  auto c = read_token(token);
  if (!c) return c;
  auto dot = token.rfind('.');
  const std::string expected = b64url(crypto::hmac_sha256(secret, token.substr(0, dot)));
  if (!crypto::constant_time_equal(expected, token.substr(dot + 1)))
    return make_error(errc::unauthorized, "survey link: bad signature");
  if (unix_seconds(now) > c->expires) return make_error(errc::not_found, "survey link: expired");
  return c;
}

result<void> prepare_invitation(services& svc, action& a) {
  if (a.params.contains("body")) return {};
  tenant_runtime* t = svc.tenant(a.tenant);
  if (!t) return make_error(errc::invalid_config, "tenant \"" + a.tenant + "\" is not configured");
  const survey_policy& sp = t->cfg->pol.survey;
  if (sp.link_secret.empty()) {
    return make_error(errc::invalid_config, "tenants[" + a.tenant +
                                                "].policy.survey.link_secret is not set: no signed answer link "
                                                "can be made, so no invitation is sent");
  }
  link_claims c;
  c.tenant = a.tenant;
  c.host = a.host;
  c.ticket = a.ticket_id;
  c.kind = a.params.value("survey", sp.kind);
  c.language = supported_language(a.params.value("language", "en"));
  c.expires = unix_seconds(svc.clk().now()) + sp.link_ttl.count();
  const std::string link = svc.public_base_url() + "/s/" + make_token(sp.link_secret, c);
  const texts& tx = texts_for(c.language);
  const std::string subject = a.params.value("ticket_subject", "");
  std::string name = a.params.value("requester_name", "");
  if (name.find('@') != std::string::npos) name.clear();  // a bare address is no name to greet

  std::string body = name.empty() ? tx.greeting_anon : replace_all(tx.greeting, "{name}", name);
  body += "\n\n";
  if (!subject.empty()) body += replace_all(tx.resolved, "{subject}", subject) + " ";
  body += question(tx, c.kind);
  body += "\n\n";
  auto [lo, hi] = survey_policy::score_range(c.kind);
  const auto& e = ends(tx, c.kind);
  for (int v = hi; v >= lo; --v) {
    body += "  " + std::to_string(v);
    if (v == hi) body += std::string(" (") + e[1] + ")";
    if (v == lo) body += std::string(" (") + e[0] + ")";
    body += ": " + link + "?score=" + std::to_string(v) + "\n";
  }
  body += "\n" + std::string(tx.or_open) + " " + link + "\n\n" + tx.sign_off + "\n";
  a.params["link"] = link;
  a.params["subject"] = replace_all(tx.mail_subject, "{subject}", subject.empty() ? "#" + a.ticket_id : subject);
  a.params["body"] = std::move(body);
  return {};
}

}  // namespace closeloop::server::survey
