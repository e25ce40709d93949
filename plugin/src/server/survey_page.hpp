#pragma once
// The hosted survey page: GET|HEAD|POST /s/<token>[?score=N].
//
// Server-rendered HTML that works without JavaScript. The link names a survey definition (the
// tenant's policy.survey.definitions or the built-in csat/nps/ces); it is shown as a
// page_definition, every question in the link's language. A question behind a logic jump (the
// built-ins: "what went wrong", with reasons, after a low score) is decided on the server: shown
// on the same page when the one-click link's score already opens it, else as a second step after
// the first POST.
//
// GET records nothing (mail scanners open links). It hands out a form with a fresh submission id
// and a form token = HMAC-SHA256(link secret, "cl1-form\n" + link token + "\n" + submission id),
// checked in constant time on POST (CSRF: no cookies are used at all, so SameSite does not apply;
// an Origin or Referer header, when present, must name this server). The POST records one
// `survey.answered` event with host_event_id "survey:<ticket>:<survey>:<submission id>", so a
// double submit of the same form is stored once and answered with the thank-you page again.
//
// Bad input gets a page in the link's language and a status: 403 forged link or form token,
// 410 expired link, 404 unknown survey, 400 out-of-range score / unknown question / comment over
// max_comment_chars (the form again, with an error summary linking to the field, nothing cut) /
// invalid UTF-8, 415 not a form post.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "closeloop/survey_def.hpp"
#include "server/handlers.hpp"

namespace closeloop::server::survey {

inline constexpr std::size_t max_comment_chars = 4000;  // code points per free-text answer

struct page_option {
  std::string value, label;
};

struct page_question {
  enum class type { scale, single_choice, multiple_choice, free_text };
  std::string id;
  type kind = type::scale;
  std::string text;
  bool required = false;
  int lo = 0, hi = 0;                    // scale
  std::string low_label, high_label;     // scale ends
  std::vector<page_option> options;      // choices
  std::size_t max_chars = max_comment_chars;  // free text
  // Logic jump: asked only when the scale question `show_if` was answered within the range.
  std::string show_if;
  std::optional<int> show_if_at_least, show_if_at_most;
  std::string hint;
  bool conditional() const noexcept { return !show_if.empty(); }
};

struct page_definition {
  std::string id;        // the survey (definition) id carried in the link
  std::string kind;      // csat | nps | ces | custom
  std::string language;  // the page's: en, zh-Hans, zh-Hant
  std::string answer_language;  // the definition's spelling (en, zh-CN, zh-TW), recorded with the answer
  std::string title;
  std::string score_question;
  int negative_at_or_below = 0;  // a score at or below gets the "sorry" thank-you page
  std::vector<page_question> questions;
};

// A survey definition (closeloop/survey_def.hpp) in the link's language (texts from the
// definition, with its fallback language; hints from survey_texts).
page_definition page_for(const closeloop::survey::definition& d, std::string_view language);

// GET|HEAD|POST /s/<token>[?score=N]. Always calls `respond` exactly once.
void handle(const http_request& req, services& svc, respond_fn respond);

}  // namespace closeloop::server::survey
