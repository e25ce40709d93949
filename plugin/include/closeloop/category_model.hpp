#pragma once
// A tenant's category model: an ensemble of fastText supervised models (word + character
// n-grams; probabilities averaged) and a linear model on hashed word / character n-grams
// (hashed_linear.hpp), mixed with a weight and a temperature picked on a held-out slice of the
// training data; trained in-process from (text, label) examples, quantised, saved as one
// versioned file (format 2; format 1 files, fastText only, still load). It says how sure it is:
//   - confidence bands High / Medium / Low, with thresholds calibrated on a held-out slice so
//     that High is right about 95 % of the time and Medium about 80 %;
//   - "needs review" (the reject label, `other` or the data's own `oos`) below a threshold;
//   - an activation gate measured on the held-out slice (>= 30 % High and >= 60 % Medium or
//     better): below it the model only suggests and the host's field is not written.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/dataset.hpp"
#include "closeloop/hashed_linear.hpp"
#include "closeloop/result.hpp"

namespace closeloop {

enum class confidence_band { low, medium, high };
const char* to_string(confidence_band b) noexcept;

// Tokens the model sees: lower-case, punctuation split off, digits kept, each CJK character its
// own token (Chinese has no spaces; word bigrams then give character bigrams), full-width ASCII
// folded, U+FEFF/controls dropped. Capped at max_text_bytes of input.
std::string normalize_for_category(std::string_view text);

// What the members see: the category tokens, or those plus negation marks and the sentiment
// lexicon's verdict (sentiment_feature_text, for `--task sentiment`). Saved in the model file.
enum class text_features { plain, sentiment };

struct category_member_settings {
  int dim = 100;
  int epoch = 40;
  double lr = 0.5;
  int word_ngrams = 2;
  int minn = 3, maxn = 5;  // character n-grams (0 = none)
  int bucket = 200000;
  int seed = 1;
};

struct category_train_options {
  std::vector<category_member_settings> members = default_members();
  int threads = 2;              // members are trained in parallel, one thread each (deterministic)
  double holdout = 0.15;        // stratified share held out to calibrate thresholds and the gate
  // The fastText members trained without the hold-out are shipped as they are (retrain_members =
  // false, the fast default) or retrained on all the data after calibration.
  bool retrain_members = false;
  bool linear = true;           // add the hashed linear model (retrained on all data, it is cheap)
  hashed_linear_settings linear_settings;
  std::size_t max_quantized_rows = 2000;  // embeddings kept per quantised fastText member
  unsigned split_seed = 77;
  bool quantize = true;         // product quantisation, pruned to fit `max_model_bytes`
  std::size_t max_model_bytes = 2 * 1024 * 1024;
  // Calibration targets: the precision of predictions in each band on the held-out slice.
  double high_precision = 0.95, medium_precision = 0.70;  // High: cumulative; Medium: the band alone
  std::string reject_label;     // default: "oos" if the data has it, else "other"
  text_features features = text_features::plain;
  // Progress: (stage, done, total), called from the training thread(s) serially.
  std::function<void(std::string_view, std::size_t, std::size_t)> progress;

  static std::vector<category_member_settings> default_members();
};

struct category_thresholds {
  double high = 0.9;    // probability >= high: High
  double medium = 0.5;  // >= medium: Medium, else Low
  double reject = 0.0;  // < reject: the reject label ("needs review")
};

struct activation_gate {
  std::size_t n = 0;              // held-out examples it was measured on
  double accuracy = 0;            // on the held-out slice (before rejection)
  double high_share = 0;          // share of held-out predictions in High
  double medium_or_better = 0;    // share in Medium or High
  bool active = false;            // high_share >= 0.30 && medium_or_better >= 0.60
};

struct category_prediction {
  std::string label;         // the top label, or the reject label below thresholds().reject
  std::string top_label;     // the model's top label even when rejected
  double probability = 0;    // of top_label (ensemble average)
  confidence_band band = confidence_band::low;
  bool needs_review = false; // rejected, or the model is not active (suggest only)
};

// Figures from calibrating on labelled data that contains the reject label (e.g. CLINC150 `oos`).
struct reject_calibration {
  double threshold = 0;
  double in_scope_accuracy = 0;  // in-scope examples given their own label
  double oos_recall = 0;         // reject-label examples rejected (or predicted as the reject label)
  std::size_t n_in_scope = 0, n_oos = 0;
};

class category_model {
 public:
  category_model();
  ~category_model();
  category_model(category_model&&) noexcept;
  category_model& operator=(category_model&&) noexcept;

  // Trains members on (1 - holdout) of the data, calibrates the bands and the gate on the
  // holdout, then retrains the members on all of it. Needs >= 2 labels.
  static result<category_model> train(const std::vector<labelled_text>& examples, const category_train_options& opt);
  static result<category_model> load(const std::string& path);
  static result<category_model> load_from_memory(std::string_view bytes);
  result<void> save(const std::string& path) const;
  std::string serialize() const;

  category_prediction predict(std::string_view text) const;
  // Ensemble probabilities over labels(), in the order of labels().
  std::vector<float> probabilities(std::string_view text) const;
  // The same through the straightforward path — fastText's own getLine + predict for each member
  // and the scalar loop for the linear model — which the fast path must equal bit for bit
  // (checked by the unit tests and the pipeline benchmark on real texts).
  std::vector<float> probabilities_reference(std::string_view text) const;
  // fastText members predicted through the fast path (the others use fastText's own predict:
  // a model kind the fast path does not cover, e.g. a quantised output matrix).
  std::size_t fast_path_members() const;
  // Raw fastText prediction of the first member only, on already-normalised text (the reference
  // for speed measurements).
  std::string predict_raw_first_member(std::string_view normalized_text) const;

  // Picks thresholds().reject on labelled data containing the reject label: among thresholds with
  // in-scope accuracy >= min_in_scope and oos recall >= min_oos_recall, the one with the largest
  // worst-case margin over those targets; if none meets both, the best in-scope + oos sum.
  // Stores it and returns the figures.
  reject_calibration calibrate_reject(const std::vector<labelled_text>& examples, double min_in_scope = 0.90,
                                      double min_oos_recall = 0.60);

  const std::vector<std::string>& labels() const;
  const category_thresholds& thresholds() const;
  void set_thresholds(const category_thresholds& t);
  const activation_gate& gate() const;
  const std::string& reject_label() const;
  std::size_t members() const;  // fastText members
  bool has_linear() const;
  text_features features() const;
  double linear_weight() const;  // share of the linear model in the mixed probabilities
  std::size_t serialized_bytes() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace closeloop
