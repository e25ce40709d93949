#pragma once
// Survey definitions: what a survey asks, in which languages, and which answers are valid.
//
// A definition is a list of questions (scale, single choice, multiple choice, free text) with
// texts per language and optional logic jumps (a question shown only when an earlier scale
// question's value is within a range: "a low score asks why, with a reasons list"). Built-in
// templates: "csat" (1-5), "nps" (0-10), "ces" (1-7). Tenants add their own in
// policy.survey.definitions (schemas/survey.schema.json). The JSON form is to_json()/
// definition_from_json(); the hosted page renders a definition, the engine validates answers
// with validate_answers().
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "closeloop/result.hpp"

namespace closeloop::survey {

using json = nlohmann::json;

// language tag ("en", "zh-CN", "zh-TW", ...) -> text
using text_map = std::map<std::string, std::string, std::less<>>;

enum class question_type { scale, single, multiple, text };
std::string_view to_string(question_type t) noexcept;

struct choice {
  std::string id;
  text_map label;
};

// Logic jump: the question is shown only when the scale question `question` (an earlier one)
// was answered with a value within [at_least, at_most].
struct condition {
  std::string question;
  std::optional<int> at_least, at_most;
  bool holds(int value) const noexcept {
    return (!at_least || value >= *at_least) && (!at_most || value <= *at_most);
  }
};

struct question {
  std::string id;
  question_type type = question_type::scale;
  text_map prompt;
  bool required = false;
  int min = 1, max = 5;              // scale
  text_map min_label, max_label;     // scale: what the ends mean
  std::vector<choice> choices;       // single / multiple
  std::size_t max_length = 2000;     // text: Unicode code points
  std::optional<condition> show_if;  // logic jump
};

struct definition {
  std::string id;                 // "csat", "nps", "ces" or the tenant's own
  std::string kind = "custom";    // csat | nps | ces | custom: the metric the score feeds
  std::string score_question;     // the scale question whose value is "the score" (may be empty)
  text_map title;
  std::vector<question> questions;
  std::string fallback_language = "en";  // every text exists in this language
  std::optional<int> bad_at_or_below;    // a score at or below is negative (default by kind)

  const question* find(std::string_view question_id) const noexcept;
  const question* score() const noexcept { return find(score_question); }
  // Languages every text of the definition exists in, sorted.
  std::vector<std::string> languages() const;
  // The threshold of a negative answer: bad_at_or_below, else csat 2, nps 6, ces 3, custom: the
  // lower 40 % of the score range.
  int negative_at_or_below() const noexcept;
};

// The built-in templates (en, zh-CN, zh-TW): nullptr for another id.
const definition* builtin(std::string_view id) noexcept;
std::vector<std::string> builtin_ids();

// JSON <-> definition. definition_from_json checks what the schema cannot (unique ids, the
// score question exists and is a scale, logic jumps name an earlier scale question and stay in
// its range, every text has the fallback language, csat/nps/ces scores have their standard
// range); the error names the JSON pointer under `where`. Run the schema first
// (validate_against_schema("survey", j)) for types and unknown keys.
result<definition> definition_from_json(const json& j, const std::string& where = "");
json to_json(const definition& d);

// ---- language ----------------------------------------------------------------------------

// A detected or requested tag as the definitions spell it: zh-Hans, zh-SG, zh -> zh-CN;
// zh-Hant, zh-HK, zh-MO -> zh-TW; en-US -> en; other languages keep their primary subtag.
std::string normalize_language(std::string_view tag);
// The language to ask in: the ticket's detected language when the definition has all its
// texts in it, else `fallback` (the tenant's policy.survey.fallback_language) when it has,
// else the definition's own fallback_language.
std::string choose_language(const definition& d, std::string_view detected, std::string_view fallback);
// The text in `lang`, else in `fallback`, else the first one (empty map: empty string).
const std::string& text_in(const text_map& texts, std::string_view lang, std::string_view fallback);

// ---- answers -----------------------------------------------------------------------------

// Whether question q is shown given the answers so far (its logic jump holds).
bool visible(const question& q, const json& answers) noexcept;

struct checked_answers {
  json answers = json::object();  // question id -> value (int, choice id, [choice ids], text)
  std::optional<int> score;       // the score question's value
};
// Validates a submission {question_id: value}: unknown question, wrong type, value out of range,
// unknown choice, text too long, a required shown question missing -> an error naming the
// question (errc::invalid_argument). Answers to questions the logic jumps hide are dropped.
// Empty texts and empty choice lists count as "not answered".
result<checked_answers> validate_answers(const definition& d, const json& answers);

}  // namespace closeloop::survey
