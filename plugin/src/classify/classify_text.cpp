// One text through the whole classification pipeline, as `closeloop classify` prints it.
#include "closeloop/classify_text.hpp"

#include "closeloop/category_model.hpp"
#include "closeloop/classifier.hpp"
#include "closeloop/language.hpp"
#include "closeloop/utf8.hpp"

#include <cmath>
#include <cstdio>
#include <optional>

#include <nlohmann/detail/conversions/to_chars.hpp>

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

namespace {

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t at = i;
    if (utf8::next(s, i) == 0xFFFD && s.substr(at, i - at) != "\xEF\xBF\xBD") return false;
  }
  return true;
}

// nlohmann::json's dump, piece by piece: strings escaped as its serializer does (ensure_ascii
// off: \b \t \n \f \r \" \\, other bytes below 0x20 as \u00xx, the rest as they are),
// numbers through its own Grisu2 to_chars (non-finite: null).
struct line_writer {
  std::string& o;
  bool first = true;
  void key(std::string_view k) {
    o += first ? "{\"" : ",\"";
    first = false;
    o += k;
    o += "\":";
  }
  void string(std::string_view s) {
    o += '"';
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case 0x08: o += "\\b"; break;
        case 0x09: o += "\\t"; break;
        case 0x0A: o += "\\n"; break;
        case 0x0C: o += "\\f"; break;
        case 0x0D: o += "\\r"; break;
        case 0x22: o += "\\\""; break;
        case 0x5C: o += "\\\\"; break;
        default:
          if (c <= 0x1F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            o += buf;
          } else {
            o += ch;
          }
      }
    }
    o += '"';
  }
  void number(double x) {
    if (!std::isfinite(x)) {
      o += "null";
      return;
    }
    char buf[64];
    char* end = nlohmann::detail::to_chars(buf, buf + sizeof buf, x);
    o.append(buf, static_cast<std::size_t>(end - buf));
  }
  void boolean(bool b) { o += b ? "true" : "false"; }
};

}  // namespace

void classify_text_line(const rule_classifier& rules, const category_model* model, const std::string& text,
                        std::string& out, const nlohmann::json* id, bool truncated) {
  event ev;
  ev.text = text;
  const classification c = rules.classify(ev);
  std::optional<category_prediction> p;
  if (model) p = model->predict(text);
  const bool learned = !c.learned_urgency.empty();
  const std::string_view urgency = learned ? std::string_view(c.learned_urgency)
                                   : c.prio == priority::critical ? "high"
                                   : c.prio == priority::urgent   ? "medium"
                                                                  : "low";
  const bool suggested = p && p->label != p->top_label;
  // Strings that would make the dump throw (invalid UTF-8): the JSON value's own path.
  bool valid = valid_utf8(c.language) && valid_utf8(c.sentiment) && valid_utf8(c.sentiment_source) &&
               valid_utf8(c.category) && valid_utf8(urgency);
  for (const auto& r : c.reasons) valid = valid && valid_utf8(r);
  if (p) valid = valid && valid_utf8(p->label) && valid_utf8(p->top_label);
  if (!valid) {
    nlohmann::json j = classify_text(rules, model, text, "all");
    if (id) j["id"] = *id;
    if (truncated) j["truncated"] = true;
    out = j.dump();
    return;
  }
  out.clear();
  line_writer w{out};
  // The keys in the order std::map keeps them (nlohmann::json's objects).
  w.key("category");
  w.string(p ? std::string_view(p->label) : std::string_view(c.category));
  w.key("confidence");
  w.number(p ? p->probability : c.category_confidence);
  if (p) {
    w.key("confidence_band");
    w.string(to_string(p->band));
  }
  if (id) {
    w.key("id");
    out += id->dump();
  }
  w.key("language");
  w.string(c.language);
  if (p) {
    w.key("needs_review");
    w.boolean(p->needs_review);
  }
  w.key("priority");
  w.string(to_string(c.prio));
  w.key("priority_zh");
  w.string(label_zh(c.prio));
  w.key("reasons");
  out += '[';
  for (std::size_t i = 0; i < c.reasons.size(); ++i) {
    if (i) out += ',';
    w.string(c.reasons[i]);
  }
  out += ']';
  w.key("sentiment");
  w.string(c.sentiment);
  w.key("sentiment_score");
  w.number(c.sentiment_score);
  w.key("sentiment_source");
  w.string(c.sentiment_source);
  if (suggested) {
    w.key("suggested_category");
    w.string(p->top_label);
  }
  if (truncated) {
    w.key("truncated");
    w.boolean(true);
  }
  w.key("urgency");
  w.string(urgency);
  if (learned) {
    w.key("urgency_confidence");
    w.number(c.learned_urgency_confidence);
  }
  w.key("urgency_source");
  w.string(learned ? "model" : "cues");
  out += '}';
}

}  // namespace closeloop
