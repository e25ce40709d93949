#pragma once
// What `closeloop classify` answers for one text (its JSON line, without "id" and "truncated"):
// shared by the CLI and the pipeline benchmark (tests/bench/eval_category.cpp), so the benchmark
// times exactly what the command does per input text.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace closeloop {

class rule_classifier;
class category_model;

// task "all": language, sentiment (lexicon, or the rule classifier's learned sentiment model),
// urgency (cues, or its learned urgency model), priority and reasons from `rules`, and the
// category from `model` when given; "language": the language only; "category": the category
// only (needs `model`). `text` is already cleaned (clean_text).
nlohmann::json classify_text(const rule_classifier& rules, const category_model* model, const std::string& text,
                             std::string_view task = "all");

// The line `closeloop classify` prints for task "all": the same bytes as classify_text(...)
// with "id" (when given) and "truncated" (when true) added, dumped — written straight into
// `out` (replaced) without building a JSON value (that was ~20 % of the pipeline's time).
// Checked against the dump on every text by the pipeline benchmark and the unit tests.
void classify_text_line(const rule_classifier& rules, const category_model* model, const std::string& text,
                        std::string& out, const nlohmann::json* id = nullptr, bool truncated = false);

}  // namespace closeloop
