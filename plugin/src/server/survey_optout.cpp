// /s/<token>/opt-out: a customer stops satisfaction surveys from the invitation itself.
// GET shows one question and one button (mail scanners and link previews fetch links: a GET never
// changes anything); the POST, with the form token of this link and from this site, records the
// opt-out for the ticket's requester (privacy_store::set_consent, source "survey_page") and audits
// it. Any link we signed works, also an expired one: stopping surveys must not need a fresh link.
#include "server/survey_optout.hpp"

#include <spdlog/spdlog.h>

#include "closeloop/audit.hpp"
#include "closeloop/privacy_store.hpp"
#include "common/crypto.hpp"
#include "server/survey.hpp"
#include "server/survey_html.hpp"
#include "server/survey_texts.hpp"

namespace closeloop::server::survey {
namespace {

constexpr std::string_view k_purpose = "opt-out";

void page(const http_request& req, services& svc, respond_fn& respond, http::status status, std::string_view lang,
          const texts& tx, std::string_view csrf, bool done, const char* result_label) {
  svc.stats().inc("closeloop_survey_opt_out_total", std::string("result=\"") + result_label + "\"");
  respond(html::html_response(req, status, html::opt_out_page(lang, tx, csrf, done)));
}

}  // namespace

void handle_opt_out(const http_request& req, services& svc, const std::string& token, respond_fn respond) {
  auto v = verify_link(svc, token, /*allow_expired=*/true);
  if (!v) {
    auto claims = read_token(token);
    const std::string lang = claims ? supported_language(claims->language) : "en";
    const texts& tx = texts_for(lang);
    svc.stats().inc("closeloop_survey_opt_out_total", "result=\"invalid_link\"");
    spdlog::warn("survey opt-out link refused: {}", v.err().message);
    respond(html::html_response(req, http::status::forbidden, html::message_page(lang, tx, tx.invalid)));
    return;
  }
  const link_claims& c = v->claims;
  const std::string lang = supported_language(c.language);
  const texts& tx = texts_for(lang);
  const std::string& secret = v->tenant->cfg->pol.survey.link_secret;
  const std::string csrf = html::form_token(secret, token, k_purpose);
  if (req.method() != http::verb::post) {
    page(req, svc, respond, http::status::ok, lang, tx, csrf, false, "shown");
    return;
  }
  std::string sent;
  for (const auto& [name, value] : html::parse_form(req.body()))
    if (name == "_csrf") sent = value;
  if (!html::same_origin(req, svc) || !adapters::crypto::constant_time_equal(csrf, sent)) {
    spdlog::warn("survey opt-out refused: missing or bad form token, or another site (ticket {})", c.ticket);
    page(req, svc, respond, http::status::forbidden, lang, tx, csrf, false, "stale_form");
    return;
  }
  auto state = svc.db().state(c.tenant, c.host, c.ticket);
  auto* ps = svc.privacy();
  if (!state || state->requester_email.empty() || !ps) {
    // Nothing to attach the opt-out to (the ticket was erased, or a store without consent).
    spdlog::warn("survey opt-out for tenant {} ticket {}: no requester address on record", c.tenant, c.ticket);
    respond(html::html_response(req, http::status::not_found, html::message_page(lang, tx, tx.unknown_survey)));
    return;
  }
  if (auto r = ps->set_consent(c.tenant, state->requester_email, "opted_out", "survey_page", svc.clk().now()); !r) {
    spdlog::error("survey opt-out not recorded tenant={} ticket={}: {}", c.tenant, c.ticket, r.err().message);
    respond(html::html_response(req, http::status::service_unavailable, html::message_page(lang, tx, tx.bad_form)));
    return;
  }
  if (auto* log = svc.audit()) {
    // The customer is named by the consent row's hash only (as `closeloop privacy` does).
    const std::string who = "customer:" + consent_hash(normalize_customer_email(state->requester_email)).substr(0, 16);
    if (auto a = log->append("customer", c.tenant, "privacy.opt_out", who,
                             json{{"source", "survey_page"}, {"ticket", c.host + "/" + c.ticket}});
        !a)
      spdlog::error("audit: cannot record the opt-out of tenant {} ticket {}: {}", c.tenant, c.ticket, a.err().message);
  }
  spdlog::info("survey opt-out recorded tenant={} host={} ticket={} (from the invitation)", c.tenant, c.host, c.ticket);
  page(req, svc, respond, http::status::ok, lang, tx, {}, true, "opted_out");
}

}  // namespace closeloop::server::survey
