#pragma once
// Labelled text for training and evaluating classifiers: (text, label) rows read from
//   - CSV or TSV with a header naming a text column and a label column,
//   - JSON lines, one object per line with the text and label keys,
//   - a JSON list of [text, label] pairs (or of objects, as for JSON lines).
// CSV follows RFC 4180 (quoted fields may hold separators, doubled quotes and newlines). Every
// text is cleaned the same way (clean_text): U+FEFF removed, control characters and invalid
// UTF-8 replaced, capped at max_text_bytes. A malformed file is an error naming file:line and
// what is wrong; rows with an empty text are skipped and counted.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/result.hpp"

namespace closeloop {

// Longest text kept (bytes of UTF-8, cut at a code point boundary). Longer input is truncated so
// every text costs bounded time downstream.
inline constexpr std::size_t max_text_bytes = 64 * 1024;

struct labelled_text {
  std::string text;
  std::string label;
};

struct dataset_options {
  // Column (CSV/TSV header) or key (JSON) names, tried in order; the first present wins.
  std::vector<std::string> text_columns{"text", "review", "instruction", "utterance", "sentence"};
  std::vector<std::string> label_columns{"label", "category", "intent", "cat"};
  std::size_t max_rows = 0;  // 0: no limit
};

// The label columns preferred for a task: "category" prefers category/intent/cat over label
// (online_shopping_10_cats has `cat` = category and `label` = sentiment); others prefer label.
dataset_options dataset_options_for_task(std::string_view task);

struct dataset {
  std::vector<labelled_text> rows;
  std::string format;             // "csv", "tsv", "jsonl", "json"
  std::string text_column, label_column;
  std::size_t skipped_empty = 0;  // rows whose text was empty after cleaning
  std::size_t truncated = 0;      // texts cut at max_text_bytes
};

// Reads and parses a file. Errors: errc::not_found (cannot open), errc::invalid_argument with
// "FILE:LINE: what" for malformed content.
result<dataset> read_dataset(const std::string& path, const dataset_options& opt = {});

// Parses content already in memory; `name` is used in error messages.
result<dataset> parse_dataset(std::string_view content, std::string_view name, const dataset_options& opt = {});

// U+FEFF removed; C0/C1 controls (tab and newlines included) become a space; invalid UTF-8
// bytes become U+FFFD; surrounding spaces trimmed; capped at max_bytes on a code point boundary.
// Sets *truncated when it cut.
std::string clean_text(std::string_view in, std::size_t max_bytes = max_text_bytes, bool* truncated = nullptr);

}  // namespace closeloop
