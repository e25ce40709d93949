#include "server/survey.hpp"

#include <algorithm>
#include <cctype>

#include "closeloop/survey_def.hpp"
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

result<verified_link> verify_link(services& svc, std::string_view token, bool allow_expired) {
  auto claims = read_token(token);
  if (!claims) return std::move(claims).err();
  tenant_runtime* t = svc.tenant(claims->tenant);
  if (!t || t->cfg->pol.survey.link_secret.empty() || !svc.adapter_for(claims->tenant, claims->host))
    return make_error(errc::unauthorized, "the link names no tenant/host that sends surveys");
  auto v = verify_token(token, t->cfg->pol.survey.link_secret, svc.clk().now());
  if (!v && !(allow_expired && v.err().code == errc::not_found)) return std::move(v).err();
  return verified_link{v ? std::move(*v) : std::move(*claims), t};  // not_found: the signature held
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
  // The question, its scale and its end labels are the definition's (built-in or the tenant's),
  // in the language the engine chose for it (a definition tag: en, zh-CN, zh-TW, ...).
  const closeloop::survey::definition* def = sp.find_definition(c.kind);
  if (!def) {
    return make_error(errc::invalid_config, "tenant \"" + a.tenant + "\" has no survey \"" + c.kind +
                                                "\" (policy.survey.definitions) any more: no invitation is sent");
  }
  const std::string def_lang = closeloop::survey::normalize_language(a.params.value("language", "en"));
  const auto in_lang = [&](const closeloop::survey::text_map& m) -> const std::string& {
    return closeloop::survey::text_in(m, def_lang, def->fallback_language);
  };
  const std::string link = svc.public_base_url() + "/s/" + make_token(sp.link_secret, c);
  const texts& tx = texts_for(c.language);
  const bool reminder = a.params.value("reminder", false);
  const std::string subject = a.params.value("ticket_subject", "");
  std::string name = a.params.value("requester_name", "");
  if (name.find('@') != std::string::npos) name.clear();  // a bare address is no name to greet

  std::string body = name.empty() ? tx.greeting_anon : replace_all(tx.greeting, "{name}", name);
  body += "\n\n";
  if (reminder) body += std::string(tx.reminder_intro) + "\n\n";
  if (!subject.empty()) body += replace_all(tx.resolved, "{subject}", subject) + " ";
  if (const closeloop::survey::question* q = def->score()) {
    // One-click links over the score question's own range, best first.
    body += in_lang(q->prompt) + "\n\n";
    for (int v = q->max; v >= q->min; --v) {
      body += "  " + std::to_string(v);
      if (v == q->max && !q->max_label.empty()) body += " (" + in_lang(q->max_label) + ")";
      if (v == q->min && !q->min_label.empty()) body += " (" + in_lang(q->min_label) + ")";
      body += ": " + link + "?" + q->id + "=" + std::to_string(v) + "\n";
    }
    body += "\n" + std::string(tx.or_open) + " " + link + "\n\n" + tx.sign_off + "\n";
    body += "\n" + std::string(tx.opt_out_line) + " " + link + "/opt-out\n";
  } else {
    // No score question (only choices and texts): the page is the survey.
    if (!def->title.empty()) body += in_lang(def->title);
    body += "\n\n" + std::string(tx.answer_here) + " " + link + "\n\n" + tx.sign_off + "\n";
    body += "\n" + std::string(tx.opt_out_line) + " " + link + "/opt-out\n";
  }
  a.params["link"] = link;
  a.params["opt_out_link"] = link + "/opt-out";
  a.params["subject"] = replace_all(reminder ? tx.reminder_subject : tx.mail_subject, "{subject}",
                                    subject.empty() ? "#" + a.ticket_id : subject);
  a.params["body"] = std::move(body);
  return {};
}

result<std::optional<std::string>> withdrawn_by_consent(services& svc, const action& a, std::int64_t outbox_id) {
  using none = std::optional<std::string>;
  if (a.type != action_type::send_survey || !svc.privacy()) return none{};
  auto state = svc.db().state(a.tenant, a.host, a.ticket_id);
  if (!state) return state.err();
  if (state->requester_email.empty()) return none{};
  auto out = svc.privacy()->opted_out(a.tenant, state->requester_email);
  if (!out) return out.err();
  if (!*out) return none{};
  tenant_runtime* rt = svc.tenant(a.tenant);
  if (!rt) return none{};  // the worker fails it for the missing tenant
  const bool reminder = a.params.value("reminder", false);
  event ev;
  ev.type = event_type::timer_fired;
  ev.tenant = a.tenant;
  ev.host = a.host;
  ev.ticket_id = a.ticket_id;
  ev.host_event_id = "withdrawn:" + std::to_string(outbox_id);  // a second look is a duplicate
  ev.occurred_at = svc.clk().now();
  ev.data = {{"kind", "survey_withdrawn"}, {"reminder", reminder}};
  if (auto r = svc.db().ingest(ev, svc.decider(*rt)); !r) return r.err();
  return none{std::string("the customer opted out of surveys after the ") + (reminder ? "reminder" : "invitation") +
              " was decided: not sent"};
}

}  // namespace closeloop::server::survey
