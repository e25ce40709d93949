// One text through the whole classification pipeline, as `closeloop classify` prints it.
#include "closeloop/classify_text.hpp"

#include "closeloop/category_model.hpp"
#include "closeloop/classifier.hpp"
#include "closeloop/language.hpp"

namespace closeloop {

nlohmann::json classify_text(const rule_classifier& rules, const category_model* model, const std::string& text,
                             std::string_view task) {
  using nlohmann::json;
  json out = json::object();
  if (task == "language") {
    out["language"] = identify_language(text).tag;
    return out;
  }
  if (task == "all") {
    event ev;
    ev.text = text;
    auto c = rules.classify(ev);
    out["language"] = c.language;
    out["sentiment"] = c.sentiment;
    out["sentiment_score"] = c.sentiment_score;
    out["sentiment_source"] = c.sentiment_source;
    out["category"] = c.category;
    out["confidence"] = c.category_confidence;
    if (!c.learned_urgency.empty()) {
      out["urgency"] = c.learned_urgency;
      out["urgency_confidence"] = c.learned_urgency_confidence;
      out["urgency_source"] = "model";
    } else {
      out["urgency"] = c.prio == priority::critical ? "high" : c.prio == priority::urgent ? "medium" : "low";
      out["urgency_source"] = "cues";
    }
    out["priority"] = to_string(c.prio);
    out["priority_zh"] = label_zh(c.prio);
    out["reasons"] = c.reasons;
  }
  if (model) {
    auto p = model->predict(text);
    out["category"] = p.label;
    out["confidence"] = p.probability;
    out["confidence_band"] = to_string(p.band);
    out["needs_review"] = p.needs_review;
    if (p.label != p.top_label) out["suggested_category"] = p.top_label;
  }
  return out;
}

}  // namespace closeloop
