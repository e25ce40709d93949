#pragma once
// Helpers shared by the tests that train small models in-process (category, sentiment, urgency):
// a generated labelled set from word lists and training options small enough for seconds.
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "closeloop/category_model.hpp"

namespace model_test {

using word_lists = std::vector<std::pair<std::string, std::vector<std::string>>>;

// per_label texts for each label, in turn: six words alternating the label's own words and the
// filler words, drawn with a seeded generator (the same seed gives the same set).
inline std::vector<closeloop::labelled_text> generated(const word_lists& words, int per_label, unsigned seed,
                                                       const std::vector<std::string>& filler) {
  std::mt19937 rng(seed);
  std::vector<closeloop::labelled_text> out;
  for (int i = 0; i < per_label; ++i)
    for (const auto& [label, ws] : words) {
      std::string t;
      for (int k = 0; k < 6; ++k) {
        const auto& pool = (k % 2 == 0) ? ws : filler;
        t += pool[rng() % pool.size()] + " ";
      }
      out.push_back({t, label});
    }
  return out;
}

// Tiny fastText members (dim 16, 10 epochs, 2000 buckets), not quantised: trains in well under a
// second on a few hundred texts.
inline closeloop::category_train_options small_options() {
  closeloop::category_train_options o;
  for (auto& m : o.members) {
    m.dim = 16;
    m.epoch = 10;
    m.bucket = 2000;
  }
  o.threads = 2;
  o.quantize = false;
  return o;
}

}  // namespace model_test
