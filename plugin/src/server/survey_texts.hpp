#pragma once
// The customer-facing texts of the survey loop (the invitation and the hosted page) in en,
// zh-Hans and zh-Hant. Placeholders in braces ({name}, {subject}, {n}, {max}, {field}) are
// replaced by the caller; everything is HTML-escaped where it is rendered, never here.
#include <array>
#include <string>
#include <string_view>

namespace closeloop::server::survey {

struct texts {
  const char* title;
  // invitation
  const char* greeting;  // "{name}" replaced; used with a name
  const char* greeting_anon;
  const char* resolved;  // "{subject}"
  const char* question_csat;
  const char* question_nps;
  const char* question_ces;
  std::array<const char*, 2> csat_ends, nps_ends, ces_ends;
  const char* or_open;
  const char* sign_off;
  const char* mail_subject;  // "{subject}"
  // page
  const char* chars_hint;   // "{max}"
  const char* submit;
  const char* thanks;
  const char* thanks_low;
  const char* already;          // a note above the form of a survey answered before (edit window)
  const char* already_final;    // answered, and the edit window is over
  const char* invalid;          // 403
  const char* expired;          // 410
  const char* unknown_survey;   // 404
  const char* pick_score;
  const char* pick_one;         // "{field}": a single-choice question without (valid) answer
  const char* error_title;
  const char* too_long;         // "{field}", "{n}", "{max}"
  const char* bad_form;         // 400 page: a form we cannot read at all
  const char* bad_utf8;         // 400 page
  const char* stale_form;       // CSRF token missing/invalid: the form is shown again
  const char* multiple_hint;    // under a multiple-choice question
  const char* step_of;          // "{n}", "{max}"
};

// Language tags we have texts for: en, zh-Hans, zh-Hant (others fall back to en).
std::string supported_language(std::string_view tag);
const texts& texts_for(std::string_view lang);

const char* question(const texts& t, std::string_view kind);
const std::array<const char*, 2>& ends(const texts& t, std::string_view kind);

std::string replace_all(std::string s, std::string_view what, std::string_view with);

}  // namespace closeloop::server::survey
