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
  // (the question itself, its scale and the scale's end labels come from the survey definition)
  const char* reminder_intro;  // first line of the one reminder
  const char* answer_here;     // a definition without a score question: the link alone
  const char* or_open;
  const char* sign_off;
  const char* mail_subject;      // "{subject}"
  const char* reminder_subject;  // "{subject}"
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
  // opting out of surveys (the invitation's last line, and the page behind it)
  const char* opt_out_line;      // followed by the link
  const char* opt_out_title;
  const char* opt_out_question;
  const char* opt_out_button;
  const char* opt_out_done;
};

// Language tags we have texts for: en, zh-Hans, zh-Hant (others fall back to en).
std::string supported_language(std::string_view tag);
const texts& texts_for(std::string_view lang);

std::string replace_all(std::string s, std::string_view what, std::string_view with);

}  // namespace closeloop::server::survey
