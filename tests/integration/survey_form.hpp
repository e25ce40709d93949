#pragma once
// Answering the hosted survey page the way a browser does: GET the link, take the form's hidden
// submission id and form token (CSRF), POST them back with the answers.
#include <regex>

#include "harness.hpp"

namespace closeloop::itest {

struct survey_form {
  std::string sid, csrf;
  std::string fields() const { return "_sid=" + sid + "&_csrf=" + csrf; }
};

// The hidden fields of a page's form; empty when there is none.
inline survey_form form_of(const std::string& html) {
  survey_form f;
  std::smatch m;
  if (std::regex_search(html, m, std::regex("name=\"_sid\" value=\"([0-9a-f]+)\""))) f.sid = m[1];
  if (std::regex_search(html, m, std::regex("name=\"_csrf\" value=\"([0-9a-f]+)\""))) f.csrf = m[1];
  return f;
}

inline result<adapters::http::response> post_form(const std::string& url, const std::string& form,
                                                  const adapters::header_list& extra = {}) {
  adapters::http::request req;
  req.method = "POST";
  req.url = url;
  req.headers = extra;
  req.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
  req.body = form;
  return make_client(5s).send(req);
}

// GET the link, then POST `answers` ("score=4&comment=...") with the form's own token.
inline result<adapters::http::response> answer_survey(const std::string& link, const std::string& answers) {
  auto page = http_get(link);
  if (!page) return std::move(page).err();
  const survey_form f = form_of(page->body);
  if (f.sid.empty() || f.csrf.empty())
    return make_error(errc::invalid_argument, "no survey form on the page (HTTP " + std::to_string(page->status) +
                                                  "): " + page->body.substr(0, 300));
  return post_form(link.substr(0, link.find('?')), f.fields() + "&" + answers);
}

}  // namespace closeloop::itest
