#pragma once
// What the engine asks of a classifier. The first implementation (rule_classifier) is a small,
// honest rule set: script-based language, a lexicon for sentiment, keyword categories from the
// tenant's config and urgency cues. The classification issue replaces it with trained models.
#include <map>
#include <string>
#include <vector>

#include "closeloop/model.hpp"

namespace closeloop {

struct classification {
  std::string language;        // BCP 47: "en", "zh-Hans", "zh-Hant", "und"
  std::string sentiment;       // "negative", "neutral", "positive"
  double sentiment_score = 0;  // -1 .. 1
  std::string category;        // tenant category, or "other"
  double category_confidence = 0;  // 0 .. 1
  priority prio = priority::normal;
  std::vector<std::string> reasons;  // human-readable: why this priority
};

class classifier {
 public:
  virtual ~classifier() = default;
  virtual classification classify(const event& ev) const = 0;
};

struct rule_classifier_config {
  // category -> keywords (lower-case; any language). Order of the map breaks ties.
  std::map<std::string, std::vector<std::string>> categories;
};

class rule_classifier final : public classifier {
 public:
  explicit rule_classifier(rule_classifier_config cfg);
  classification classify(const event& ev) const override;

 private:
  rule_classifier_config cfg_;
};

}  // namespace closeloop
