#pragma once
// The survey page's HTML and form handling (used by survey_page.cpp only): escaping, form
// decoding, UTF-8 checks, the page shell and headers, and rendering a page_definition as a form
// (fieldset/legend per question, labels, hints and errors tied with aria-describedby, an error
// summary linking to the fields, questions behind a logic jump only when it holds).
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/survey_page.hpp"
#include "server/survey_texts.hpp"

namespace closeloop::server::survey::html {

void append_escaped(std::string& out, std::string_view s);
std::string esc(std::string_view s);
bool valid_utf8(std::string_view s);
std::size_t code_points(std::string_view s);

using form_fields = std::vector<std::pair<std::string, std::string>>;
// "a=1&b=x+y" -> [(a, 1), (b, "x y")], percent-decoded, in order, repeats kept.
form_fields parse_form(std::string_view form);

// A random submission id (32 lower-case hex characters), and the check of one sent back.
std::string new_submission_id();
bool valid_submission_id(std::string_view sid);

// "https://example.com:8443/x/y" -> "https://example.com:8443" (lower-cased; "" without a scheme).
std::string origin_of(std::string_view url);
// An Origin (or, without it, a Referer) must name this server: the public base URL or the Host
// the browser used. Absent both (old browsers, privacy tools), the form token alone decides.
bool same_origin(const http_request& req, services& svc);

// text/html; charset=utf-8 with the page's security headers (CSP, no framing, same-origin referrer).
http_response html_response(const http_request& req, http::status status, std::string body);
std::string message_page(std::string_view lang, const texts& t, std::string_view message, std::string_view detail = {},
                         std::string_view back_link = {});

// The opt-out page behind an invitation's "stop these surveys" link: a question and one button
// (a POST with the form token `csrf`; a GET never changes anything), or, once done, the confirmation.
std::string opt_out_page(std::string_view lang, const texts& t, std::string_view csrf, bool done);

// The HMAC form token of a page behind the link `link_token` (CSRF): hex HMAC-SHA256 under the
// tenant's link secret of the link and `sid` (the submission id, or a fixed purpose such as "opt-out").
std::string form_token(std::string_view secret, std::string_view link_token, std::string_view sid);

// What the customer has chosen or typed so far (question id -> values).
using answers_map = std::map<std::string, std::vector<std::string>, std::less<>>;

struct field_error {
  std::string question_id, anchor, message;
};

struct form_view {
  const page_definition* def = nullptr;
  const texts* tx = nullptr;
  answers_map values;
  std::vector<field_error> errors;
  bool second_step = false;
  bool already = false;
  std::string sid, csrf;
};

std::optional<int> parse_int_in(std::string_view s, int lo, int hi);
const page_question* find_question(const page_definition& d, std::string_view id);
// Whether a question is asked given the answers so far (its logic jump holds).
bool visible(const page_question& q, const answers_map& values);
// Whether some question behind a logic jump is asked.
bool jump_open(const page_definition& d, const answers_map& values);

std::string form_page(const form_view& f);

}  // namespace closeloop::server::survey::html
