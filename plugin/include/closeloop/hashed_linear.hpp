#pragma once
// A linear classifier on hashed sparse features, the second model family in the category
// ensemble (category_model.hpp). Features of an already-normalised text (normalize_for_category:
// space-separated tokens): word unigrams, word bigrams and character 2..5-grams inside each word
// (with word-boundary marks), weighted log(1 + count) * idf and L2-normalised. Trained with SGD
// on the multinomial logistic loss (softmax), L2-regularised, a few epochs. After training the
// least important feature rows are pruned to fit a byte budget and the weights are stored as
// int8 with one float scale per feature row.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/result.hpp"

namespace closeloop {

struct hashed_linear_settings {
  int epochs = 10;
  double lr = 4.0;          // initial step, decayed linearly to 2 % over the epochs
  double lambda = 1e-5;     // L2 regularisation per example
  int minn = 2, maxn = 5;   // character n-grams inside words (0 = none)
  bool word_bigrams = true;
  bool average = false;     // average the weights over the ends of the later half of the epochs
  unsigned seed = 1;
  std::size_t max_bytes = 1200 * 1024;  // pruned to fit
};

// The hashed features of a normalised text: (feature hash, raw count), sorted by hash, merged.
std::vector<std::pair<std::uint32_t, float>> hashed_features(std::string_view normalized, const hashed_linear_settings& s);
// The same into `out` (cleared first), reusing its storage.
void hashed_features(std::string_view normalized, const hashed_linear_settings& s,
                     std::vector<std::pair<std::uint32_t, float>>& out);

class hashed_linear {
 public:
  // examples: (normalised text, label index < n_labels). Deterministic for a given seed.
  static result<hashed_linear> train(const std::vector<std::pair<std::string_view, int>>& examples, int n_labels,
                                     const hashed_linear_settings& s);
  static result<hashed_linear> from_bytes(std::string_view bytes);
  std::string to_bytes() const;

  // How the int8 weight rows are added into the class scores: `fast` uses SSE2 where the CPU
  // target has it (x86-64 always does), `reference` the plain scalar loop. Both give the same
  // bits (tests/unit/test_hashed_linear.cpp checks it); `reference` is kept for that check.
  enum class scoring { fast, reference };
  // Class scores (logits) for a normalised text; size n_labels(). Empty text gives zeros.
  void scores(std::string_view normalized, std::vector<float>& out, scoring how = scoring::fast) const;
  // Softmax of scores / temperature.
  void probabilities(std::string_view normalized, float temperature, std::vector<float>& out,
                     scoring how = scoring::fast) const;

  int n_labels() const { return n_labels_; }
  std::size_t n_features() const { return keys_.size(); }
  const hashed_linear_settings& settings() const { return s_; }

 private:
  hashed_linear_settings s_;
  int n_labels_ = 0;
  float default_idf_ = 1.0f;          // for features not kept (unseen or pruned)
  std::vector<std::uint32_t> keys_;   // sorted feature hashes
  std::vector<float> idf_;            // per kept feature
  std::vector<float> scale_;          // per kept feature: weight = int8 * scale
  std::vector<std::int8_t> w_;        // keys_.size() x n_labels_
  std::vector<float> bias_;           // n_labels_
  // Open-addressing index over keys_, rebuilt on train and load: one or two probes per feature
  // instead of a binary search. A slot holds the key and its row + 1 (0 = empty), so a probe
  // reads one cache line.
  std::vector<std::uint64_t> slots_;
  unsigned table_shift_ = 32;
  // The rows again for prediction, each one block of row_stride_ bytes (a multiple of 32) from a
  // 64-byte aligned base (over-aligned elements: copies are aligned too): its idf, its scale,
  // then its int8 weights padded with zeros to a multiple of 16 — a feature's data in two cache
  // lines instead of four or five arrays.
  struct alignas(64) cache_line {
    unsigned char bytes[64];
  };
  std::vector<cache_line> packed_;
  std::size_t row_stride_ = 0;
  void build_index();
  std::size_t find(std::uint32_t key) const;  // row, or SIZE_MAX
  const unsigned char* packed_row(std::size_t r) const;
};

}  // namespace closeloop
