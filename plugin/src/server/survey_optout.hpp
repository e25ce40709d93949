#pragma once
// The "stop these surveys" page behind every invitation: /s/<token>/opt-out (survey_optout.cpp).
#include <string>

#include "server/handlers.hpp"

namespace closeloop::server::survey {

// GET: the question and a button; POST (form token + same origin): the ticket's requester is
// opted out of surveys (consent "opted_out", source "survey_page"), audited. `token` is the
// survey link token (the path segment between /s/ and /opt-out).
void handle_opt_out(const http_request& req, services& svc, const std::string& token, respond_fn respond);

}  // namespace closeloop::server::survey
