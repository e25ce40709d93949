#pragma once
// Survey invitations and the hosted answer page.
//
// An invitation carries a signed link <public_base_url>/s/<token>; the token names the tenant,
// host, ticket, survey kind, language and an expiry, and is signed with the tenant's
// policy.survey.link_secret (HMAC-SHA256), so answers cannot be forged for another ticket.
// Token: "cl1." base64url(claims JSON) "." base64url(HMAC-SHA256(secret, "cl1." + claims part)).
//
// The link with ?score=N (one per score in the invitation) opens the page (survey_page.hpp) with
// that score chosen. Nothing is recorded by a bare GET: mail scanners fetch every link in a
// message, and that must not answer a survey for the customer. Texts: survey_texts.hpp.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "closeloop/model.hpp"
#include "closeloop/result.hpp"
#include "server/handlers.hpp"

namespace closeloop::server::survey {

struct link_claims {
  std::string tenant, host, ticket, kind, language;
  std::int64_t expires = 0;  // unix seconds
};

std::string make_token(std::string_view secret, const link_claims& c);
// The claims, unverified (to find the tenant whose secret verifies the token).
result<link_claims> read_token(std::string_view token);
// Signature and expiry; errc::unauthorized for a bad signature, errc::not_found when expired.
result<link_claims> verify_token(std::string_view token, std::string_view secret, timestamp now);

// A link token checked against its tenant's link secret: the tenant and host must exist and send
// surveys, the signature must hold (errc::unauthorized otherwise); an expired link is
// errc::not_found unless allow_expired (the opt-out page works from any link we signed).
struct verified_link {
  link_claims claims;
  const tenant_runtime* tenant = nullptr;
};
result<verified_link> verify_link(services& svc, std::string_view token, bool allow_expired = false);

// Fills params.link, params.subject and params.body of a send_survey action (the invitation in
// the ticket's language) unless params.body is already there. Fails naming the missing setting.
result<void> prepare_invitation(services& svc, action& a);

// Consent at send time: whether the ticket's requester opted out of surveys after the engine
// decided this send_survey (outbox row `outbox_id`; e.g. while the host was down and it waited).
// If so, the engine records it (an internal timer.fired event of kind "survey_withdrawn": the
// survey is skipped, its send timer cancelled) and the reason is returned: the caller cancels
// the row. nullopt: send it. An error (the consent or the event could not be read or written):
// the caller retries later.
result<std::optional<std::string>> withdrawn_by_consent(services& svc, const action& a, std::int64_t outbox_id);

}  // namespace closeloop::server::survey
