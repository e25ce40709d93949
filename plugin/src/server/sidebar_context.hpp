#pragma once
// The agent sidebar's signed host context (README "Agent sidebar"): one URL parameter `ctx` that
// names the tenant, host, ticket and agent the sidebar is shown for, with an expiry, signed with
// the tenant's sidebar.secret. The host side makes it: the RT extension in Perl (Digest::SHA,
// MIME::Base64), the Zendesk and Freshdesk apps by asking closeloop's mint route with an agent
// API token that only their platforms hold (ZAF secure settings, Freshworks request templates).
//
//   ctx     = "v1." + payload + "." + signature
//   payload = base64url without padding of a JSON object
//             {"tenant":T,"host":H,"ticket":K,"agent":A,"lang":L,"iat":unix s,"exp":unix s}
//             (lang optional: en, zh-CN, zh-TW; other keys ignored)
//   signature = lower-case hex HMAC-SHA256(sidebar.secret, "closeloop-sidebar.v1." + payload)
//
// Accepted while iat - 60 s <= now < exp and exp - iat <= sidebar.context_ttl_s. A context of
// tenant A verified with tenant A's key can never name tenant B: the key is chosen by the
// payload's tenant and B's key does not verify it.
#include <optional>
#include <string>
#include <string_view>

#include "closeloop/model.hpp"
#include "server/auth.hpp"
#include "server/handlers.hpp"
#include "server/services.hpp"

namespace closeloop::server::sidebar {

struct context {
  std::string tenant, host, ticket, agent, lang;
  std::int64_t iat = 0, exp = 0;  // unix seconds
};

std::string sign_context(const context& c, std::string_view secret);

// errc::unauthorized naming what is wrong (malformed, unknown tenant, no sidebar secret, bad
// signature, expired, not yet valid, lifetime over the tenant's limit).
result<context> verify_context(std::string_view ctx, services& svc, timestamp now);

// The tenant a context claims, unverified ("" when it cannot be read): whose key to check it with.
std::string claimed_tenant(std::string_view ctx);

// The hidden form token of one correction form: hex HMAC-SHA256(secret, "closeloop-sidebar-form\n"
// + ctx + "\n" + submission id), so a form is only good with the context it was rendered for.
std::string form_token(std::string_view secret, std::string_view ctx, std::string_view sid);

// The `ctx` of a request: ?ctx= in the target, else a `ctx` field of a form body. "" when absent.
std::string context_param(const http_request& req);

// auth::verifier: the principal of a request's signed context (kind "host_context", id = the
// agent, role agent), nullopt when it carries none.
std::optional<result<auth::principal>> context_verifier(const http_request& req, services& svc);

}  // namespace closeloop::server::sidebar
