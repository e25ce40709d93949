#pragma once
// What the engine asks of a classifier. The first implementation (rule_classifier) is a small,
// honest rule set: script-based language, a lexicon for sentiment, keyword categories from the
// tenant's config and urgency cues. The classification issue replaces it with trained models.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/model.hpp"

namespace closeloop {

struct classification {
  std::string language;        // BCP 47: "en", "zh-Hans", "zh-Hant", "und"
  std::string sentiment;       // "negative", "neutral", "positive"
  double sentiment_score = 0;  // -1 .. 1
  std::string sentiment_source = "lexicon";  // "lexicon" or "model" (the tenant's learned model)
  std::string category;        // tenant category, or "other"
  double category_confidence = 0;  // 0 .. 1
  std::string category_band;       // "high", "medium", "low" (learned model); "" for keywords
  bool category_write = true;      // false: suggest only (model gate inactive, or needs review)
  std::string category_suggestion; // the model's top label when it only suggests
  std::string category_source = "keywords";  // "keywords" or "model"
  priority prio = priority::normal;
  std::vector<std::string> reasons;  // human-readable: why this priority
  // The tenant's learned urgency model (when it has one): its top label and probability, and
  // whether that was sure enough (the model's calibrated High band) to count for the priority.
  std::string learned_urgency;
  double learned_urgency_confidence = 0;
  bool learned_urgency_counted = false;
};

// An urgency model's label as a priority: critical / high / 重大 -> critical; urgent / medium /
// 紧急 / 緊急 -> urgent; anything else (normal, low, 一般) -> normal.
priority priority_from_urgency_label(std::string_view label) noexcept;

// Adds `reason` and raises c.prio to `level` when that is higher; never lowers. The placeholder
// "no urgency cues found" goes once another reason is given.
void raise_priority(classification& c, priority level, std::string reason);

class classifier {
 public:
  virtual ~classifier() = default;
  virtual classification classify(const event& ev) const = 0;
};

struct rule_classifier_config {
  // category -> keywords (lower-case; any language). Order of the map breaks ties.
  std::map<std::string, std::vector<std::string>> categories;
  // The tenant's learned category model (`closeloop train --task category`), if any. It is
  // loaded on first use and reloaded when the file changes (checked every reload_check).
  std::string category_model_path;
  // The tenant's learned sentiment model (`closeloop train --task sentiment`, labels negative /
  // neutral / positive); same loading rules. Without it the lexicon decides.
  std::string sentiment_model_path;
  // The tenant's learned urgency model (`closeloop train --task urgency`); same loading rules. A
  // prediction in its High band (calibrated on the hold-out) raises the priority, never lowers it.
  std::string urgency_model_path;
  std::chrono::milliseconds reload_check{5000};
};

class category_model;

// Language (ICU + CLD2 + OpenCC), the sentiment lexicon, urgency cues, and the category from the
// tenant's learned model when it has one (else its keywords).
class rule_classifier final : public classifier {
 public:
  explicit rule_classifier(rule_classifier_config cfg);
  ~rule_classifier() override;
  classification classify(const event& ev) const override;

  // The model in use (null when none or not loadable) and the last load error, for doctor.
  std::shared_ptr<const category_model> model() const;
  std::string model_error() const;
  std::shared_ptr<const category_model> sentiment_model() const;
  std::string sentiment_model_error() const;
  std::shared_ptr<const category_model> urgency_model() const;
  std::string urgency_model_error() const;

 private:
  rule_classifier_config cfg_;
  struct model_slot;
  std::unique_ptr<model_slot> slot_;
  std::unique_ptr<model_slot> sentiment_slot_;
  std::unique_ptr<model_slot> urgency_slot_;
};

}  // namespace closeloop
