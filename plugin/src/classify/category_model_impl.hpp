#pragma once
// The category model's private half, shared by category_model.cpp (training, prediction) and
// category_model_io.cpp (the file format: serialize, save, load).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fasttext/fasttext.h>

#include "closeloop/category_model.hpp"
#include "closeloop/sentiment.hpp"

namespace closeloop {

namespace category_detail {

// Format 1: fastText members only. Format 2: members and an optional hashed linear model with
// its mixing weight and temperature. Both load; anything else is refused with its version.
inline constexpr std::string_view file_magic_prefix = "CLOSELOOP-CATEGORY-MODEL ";
inline constexpr int file_format_max = 3;  // 2: plain features; 3: with text_features (see serialize)
inline constexpr std::string_view label_prefix = "__label__";

// The whole file at `path` ("" when unreadable).
std::string read_all(const std::string& path);
// A fastText model from its saved bytes (fastText reads its header only from a file).
result<std::shared_ptr<fasttext::FastText>> from_bytes(const std::string& bytes);

// A member's prediction without fastText's per-call overhead (fasttext_fast.cpp): the same
// values, bit for bit, as fastText's own predict (the reference path, kept for the checks).
struct fasttext_fast {
  std::shared_ptr<const fasttext::Dictionary> dict;
  int dim = 0, nlabels = 0, word_ngrams = 1, maxn = 0;
  std::vector<float> decoded;                               // quantised models: rows decoded at load
  std::shared_ptr<const fasttext::DenseMatrix> input_matrix;  // plain models: the model's own rows
  const float* input = nullptr;                             // nrows x dim
  std::size_t nrows = 0;
  std::vector<float> output_t;                              // output matrix transposed: dim x nlabels
  std::uint64_t generation = 0;  // tells this model's per-thread token cache from another's
  // Dictionary::addWordNgrams without its unordered_map: the bucket count, the word count, the
  // pruned index's size (-1: not pruned) and the pruned index as an open-addressing table of
  // (hashed id, row) pairs, key -1 = empty.
  std::int64_t bucket = 0, pruned = -1;
  std::int32_t nwords = 0;
  std::vector<std::pair<std::int32_t, std::int32_t>> prune_table;
  unsigned prune_shift = 32;
  void add_word_ngrams(std::vector<std::int32_t>& line, const std::vector<std::int32_t>& hashes) const;

  // The ids fastText's Dictionary::getLine gives for `normalized` + "\n".
  void words(std::string_view normalized, std::vector<std::int32_t>& line) const;
  // log(p + 1e-5) per member label, as fastText's predict reports it; false when the line has
  // no words (fastText then predicts nothing).
  bool log_probabilities(std::string_view normalized, std::vector<float>& out) const;
  // The softmax output before that (false as above); log_prob turns one into what fastText
  // reports, and exp(log_prob(p)) is what a member adds for its label.
  bool softmax(std::string_view normalized, std::vector<float>& out) const;
  static float log_prob(float p) { return static_cast<float>(std::log(static_cast<double>(p) + 1e-5)); }
};
// Null when the member is not a supervised softmax model whose matrices can be read.
std::shared_ptr<const fasttext_fast> prepare_fasttext_fast(fasttext::FastText& ft);

}  // namespace category_detail

struct category_model::impl {
  struct member {
    category_member_settings settings;
    std::shared_ptr<fasttext::FastText> ft;
    std::vector<int> to_global;  // member label id -> index in labels
    std::string bytes;           // serialised fastText model
    std::shared_ptr<const category_detail::fasttext_fast> fast;  // null: fastText's own predict
    std::vector<int> from_global;  // index in labels -> member label id, -1 when the member lacks it
  };
  std::vector<std::string> labels;
  std::string reject_label = "other";
  category_thresholds thresholds;
  activation_gate gate;
  std::vector<member> members;
  std::size_t trained_examples = 0;
  std::optional<hashed_linear> linear;
  std::string linear_bytes;
  float linear_weight = 0.0f;       // p = (1 - w) * mean(fastText) + w * linear
  float linear_temperature = 1.0f;
  text_features features = text_features::plain;

  std::string featurize(std::string_view text) const {
    return features == text_features::sentiment ? sentiment_feature_text(text) : normalize_for_category(text);
  }

  result<void> bind(member& m) {
    auto dict = m.ft->getDictionary();
    m.to_global.assign(static_cast<std::size_t>(dict->nlabels()), -1);
    for (int32_t j = 0; j < dict->nlabels(); ++j) {
      std::string l = dict->getLabel(j);
      if (l.compare(0, category_detail::label_prefix.size(), category_detail::label_prefix) != 0)
        return make_error(errc::invalid_argument, "category model: unexpected label " + l);
      std::size_t g = std::strtoul(l.c_str() + category_detail::label_prefix.size(), nullptr, 10);
      if (g >= labels.size()) return make_error(errc::invalid_argument, "category model: label index out of range");
      m.to_global[static_cast<std::size_t>(j)] = static_cast<int>(g);
    }
    m.from_global.assign(labels.size(), -1);
    for (std::size_t j = 0; j < m.to_global.size(); ++j) m.from_global[static_cast<std::size_t>(m.to_global[j])] = static_cast<int>(j);
    m.fast = category_detail::prepare_fasttext_fast(*m.ft);
    return {};
  }

  // `reference`: fastText's own getLine + predict and the scalar linear scoring, the
  // straightforward path the fast one is checked against (probabilities_reference).
  void add_probabilities(const member& m, const std::string& normalized, std::vector<float>& acc,
                         bool reference = false) const {
    if (m.fast && !reference) {
      thread_local std::vector<float> logp;
      if (!m.fast->log_probabilities(normalized, logp)) return;
      for (std::size_t id = 0; id < logp.size(); ++id)
        acc[static_cast<std::size_t>(m.to_global[id])] += std::exp(logp[id]);
      return;
    }
    auto dict = m.ft->getDictionary();
    std::istringstream in(normalized + "\n");
    std::vector<int32_t> words, lab;
    dict->getLine(in, words, lab);
    if (words.empty()) return;
    fasttext::Predictions preds;
    m.ft->predict(static_cast<int32_t>(m.to_global.size()), words, preds, 0.0);
    for (const auto& [logp, id] : preds) acc[static_cast<std::size_t>(m.to_global[static_cast<std::size_t>(id)])] += std::exp(logp);
  }

  std::vector<float> fasttext_probabilities(const std::string& normalized, bool reference = false) const {
    std::vector<float> p(labels.size(), 0.0f);
    if (normalized.empty() || members.empty()) return p;
    for (const auto& m : members) add_probabilities(m, normalized, p, reference);
    const float inv = 1.0f / static_cast<float>(members.size());
    for (auto& x : p) x *= inv;
    return p;
  }

  std::vector<float> linear_probabilities(const std::string& normalized, bool reference = false) const {
    std::vector<float> p;
    if (!linear || normalized.empty()) return std::vector<float>(labels.size(), 0.0f);
    linear->probabilities(normalized, linear_temperature, p,
                          reference ? hashed_linear::scoring::reference : hashed_linear::scoring::fast);
    return p;
  }

  // The normalised text is made once and shared by every member.
  std::vector<float> probabilities_normalized(const std::string& normalized, bool reference = false) const {
    const float w = linear ? (members.empty() ? 1.0f : linear_weight) : 0.0f;
    if (normalized.empty()) return std::vector<float>(labels.size(), 0.0f);
    std::vector<float> p =
        w < 1.0f ? fasttext_probabilities(normalized, reference) : std::vector<float>(labels.size(), 0.0f);
    if (w > 0.0f) {
      auto q = linear_probabilities(normalized, reference);
      for (std::size_t i = 0; i < p.size() && i < q.size(); ++i) p[i] = (1.0f - w) * p[i] + w * q[i];
    }
    return p;
  }

  // The top label of probabilities_normalized (the first on ties) and its probability, the same
  // bits, without every label's exact fastText value: a member adds exp(log(p + 1e-5)) for a
  // label, within 1e-6 (relative) of p + 1e-5, so labels whose approximate mixed value is more
  // than 1e-4 below the best approximate one cannot be the top; only the others are computed
  // exactly (usually one). Falls back to the full computation when a member has no fast path.
  std::pair<std::size_t, float> top_normalized(const std::string& normalized) const {
    const float w = linear ? (members.empty() ? 1.0f : linear_weight) : 0.0f;
    bool all_fast = !members.empty() && w < 1.0f;
    for (const auto& m : members) all_fast = all_fast && m.fast;
    if (!all_fast || normalized.empty()) {
      const auto p = probabilities_normalized(normalized);
      if (p.empty()) return {0, 0.0f};
      const auto best = static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
      return {best, p[best]};
    }
    thread_local std::vector<std::vector<float>> soft;
    thread_local std::vector<char> has;
    thread_local std::vector<float> approx, q;
    soft.resize(members.size());
    has.assign(members.size(), 0);
    for (std::size_t j = 0; j < members.size(); ++j) has[j] = members[j].fast->softmax(normalized, soft[j]) ? 1 : 0;
    const std::size_t n = labels.size();
    const float inv = 1.0f / static_cast<float>(members.size());
    q.clear();
    if (w > 0.0f) linear->probabilities(normalized, linear_temperature, q);
    auto mixed = [&](std::size_t i, bool exact) {
      float acc = 0.0f;
      for (std::size_t j = 0; j < members.size(); ++j) {
        const int id = members[j].from_global[i];
        if (!has[j] || id < 0) continue;
        const float s = soft[j][static_cast<std::size_t>(id)];
        acc += exact ? std::exp(category_detail::fasttext_fast::log_prob(s)) : s + 1e-5f;
      }
      const float p = acc * inv;
      return w > 0.0f && i < q.size() ? (1.0f - w) * p + w * q[i] : p;
    };
    approx.resize(n);
    float best_approx = -1.0f;
    for (std::size_t i = 0; i < n; ++i) best_approx = std::max(best_approx, approx[i] = mixed(i, false));
    std::size_t best = 0;
    float best_p = -1.0f;
    for (std::size_t i = 0; i < n; ++i) {
      if (approx[i] < best_approx - 1e-4f) continue;
      const float p = mixed(i, true);
      if (p > best_p) {
        best_p = p;
        best = i;
      }
    }
    return {best, best_p};
  }
};

}  // namespace closeloop
