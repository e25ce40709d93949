// `closeloop classify [--model-dir DIR] [--task all|language|category]`: JSON lines {"text": ...}
// on stdin, one JSON line per input on stdout. Language, sentiment and urgency come from the
// rule classifier (the fallback of issue 4's other parts); the category from DIR/category.model
// when present, else "other" with confidence 0; the sentiment from DIR/sentiment.model when
// present (`closeloop train --task sentiment`), else the lexicon ("sentiment_source" says which);
// the urgency from DIR/urgency.model when present (`closeloop train --task urgency`: "urgency" is
// the model's label, "urgency_confidence" its probability, and a High-band prediction raises the
// priority with a reason), else from the cues. A line that is not a JSON object with a string
// "text" gets {"error": "..."} and the run goes on (exit status 1 at the end).
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/learn.hpp"
#include "closeloop/classifier.hpp"
#include "closeloop/classify_text.hpp"

namespace closeloop::cli {

int run_classify(const classify_options& o) {
  using nlohmann::json;
  if (o.task != "all" && o.task != "language" && o.task != "category") {
    std::cerr << "closeloop classify: unknown task \"" << o.task << "\" (all, language, category)\n";
    return 2;
  }
  std::optional<category_model> model;
  if (!o.model_dir.empty()) {
    const auto path = (std::filesystem::path(o.model_dir) / model_file_name("category")).string();
    if (std::filesystem::exists(path)) {
      auto m = category_model::load(path);
      if (!m) {
        std::cerr << "closeloop classify: " << m.err().message << "\n";
        return 1;
      }
      model = std::move(*m);
    } else if (!std::filesystem::is_directory(o.model_dir)) {
      std::cerr << "closeloop classify: " << o.model_dir << ": not a directory\n";
      return 1;
    }
  }
  if (o.task == "category" && !model) {
    std::cerr << "closeloop classify: --task category needs " << model_file_name("category") << " in --model-dir\n";
    return 1;
  }
  rule_classifier_config rcfg;
  if (!o.model_dir.empty()) {
    const auto path = (std::filesystem::path(o.model_dir) / model_file_name("sentiment")).string();
    if (std::filesystem::exists(path)) rcfg.sentiment_model_path = path;
    const auto upath = (std::filesystem::path(o.model_dir) / model_file_name("urgency")).string();
    if (std::filesystem::exists(upath)) rcfg.urgency_model_path = upath;
  }
  rule_classifier rules{rcfg};
  if (!rcfg.sentiment_model_path.empty() && !rules.sentiment_model()) {
    std::cerr << "closeloop classify: " << rules.sentiment_model_error() << "\n";
    return 1;
  }
  if (!rcfg.urgency_model_path.empty() && !rules.urgency_model()) {
    std::cerr << "closeloop classify: " << rules.urgency_model_error() << "\n";
    return 1;
  }
  std::ios::sync_with_stdio(false);
  std::string line, answer;
  std::size_t n = 0, errors = 0;
  while (std::getline(std::cin, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json in;
    std::string error;
    try {
      in = json::parse(line);
    } catch (const json::parse_error& e) {
      error = std::string("invalid JSON: ") + e.what();
    }
    if (error.empty() && (!in.is_object() || !in.contains("text") || !in["text"].is_string()))
      error = "expected an object with a string \"text\"";
    if (!error.empty()) {
      ++errors;
      // The parser's message may quote the offending bytes (invalid UTF-8): replaced, not thrown.
      std::cout << json{{"error", "line " + std::to_string(n) + ": " + error}}.dump(-1, ' ', false,
                                                                                      json::error_handler_t::replace)
                << "\n";
      continue;
    }
    bool truncated = false;
    const std::string text = clean_text(in["text"].get_ref<const std::string&>(), max_text_bytes, &truncated);
    const json* id = in.contains("id") ? &in["id"] : nullptr;
    if (o.task == "all") {
      // The same bytes as the JSON value's dump below, written directly (classify_text_line).
      classify_text_line(rules, model ? &*model : nullptr, text, answer, id, truncated);
      std::cout << answer << "\n";
    } else {
      json out = classify_text(rules, model ? &*model : nullptr, text, o.task);
      if (id) out["id"] = *id;
      if (truncated) out["truncated"] = true;
      std::cout << out.dump() << "\n";
    }
    if (n % 100000 == 0) std::cerr << "closeloop: classified " << n << " lines\n";
  }
  std::cout.flush();
  return errors == 0 ? 0 : 1;
}

}  // namespace closeloop::cli
