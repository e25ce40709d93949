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

// Fills params.link, params.subject and params.body of a send_survey action (the invitation in
// the ticket's language) unless params.body is already there. Fails naming the missing setting.
result<void> prepare_invitation(services& svc, action& a);

}  // namespace closeloop::server::survey
