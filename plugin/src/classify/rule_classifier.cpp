// The first classifier: small, explainable rules. Replaced by trained models in the
// classification issue; kept as the fallback when a tenant has no model yet.
#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>

#include "closeloop/category_model.hpp"
#include "closeloop/classifier.hpp"
#include "closeloop/language.hpp"
#include "closeloop/sentiment.hpp"

namespace closeloop {
namespace {

// A-Z to a-z, every other byte as it is (what std::tolower does for ASCII in any locale this
// program runs under, without a call per byte).
std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& ch : out)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + ('a' - 'A'));
  return out;
}

std::string detect_language(std::string_view text) { return identify_language(text).tag; }

bool contains(std::string_view haystack, std::string_view needle) {
  return !needle.empty() && haystack.find(needle) != std::string_view::npos;
}

// The bytes a text has: a cue with a byte the text lacks cannot be in it (most Chinese cues in
// English text and the other way round), so its search is skipped.
struct byte_set {
  std::uint64_t bits[4] = {0, 0, 0, 0};
  explicit byte_set(std::string_view s) {
    for (unsigned char c : s) bits[c >> 6] |= std::uint64_t{1} << (c & 63);
  }
  bool has_all(std::string_view s) const {
    for (unsigned char c : s)
      if (!(bits[c >> 6] >> (c & 63) & 1)) return false;
    return true;
  }
};

struct cue {
  std::string_view text;
  int weight;
};

// Sentiment lexicon written for this project (en, zh-Hans, zh-Hant). Politeness markers
// ("thanks", "谢谢") end most messages, complaints included, so they weigh little.
constexpr std::array negative_cues{
    cue{"angry", 2},          cue{"terrible", 2},      cue{"awful", 2},    cue{"worst", 2},    cue{"unacceptable", 2},
    cue{"disappointed", 2},   cue{"frustrated", 2},    cue{"annoyed", 1},  cue{"broken", 1},   cue{"not working", 1},
    cue{"doesn't work", 1},   cue{"does not work", 1}, cue{"cannot", 1},   cue{"can't", 1},    cue{"useless", 2},
    cue{"ridiculous", 2},     cue{"refund", 1},        cue{"complain", 1}, cue{"still", 1},    cue{"again", 1},
    cue{"失望", 2},           cue{"生气", 2},          cue{"生氣", 2},     cue{"太差", 2},     cue{"垃圾", 2},
    cue{"无法", 1},           cue{"無法", 1},          cue{"不能", 1},     cue{"投诉", 2},     cue{"投訴", 2},
    cue{"糟糕", 2},           cue{"还是不行", 2},      cue{"還是不行", 2}, cue{"退款", 1},     cue{"不满", 2},
    cue{"不滿", 2},           cue{"故障", 1},          cue{"错误", 1},     cue{"錯誤", 1},     cue{"charged twice", 2},
    cue{"double charged", 2}, cue{"overcharged", 2},   cue{"重复扣款", 2}, cue{"重複扣款", 2}, cue{"多扣", 2},
    cue{"多收", 2},
};
constexpr std::array positive_cues{
    cue{"thank", 1},   cue{"great", 2},    cue{"awesome", 2},   cue{"excellent", 2},  cue{"perfect", 2}, cue{"love", 2},
    cue{"helpful", 2}, cue{"resolved", 1}, cue{"works now", 2}, cue{"appreciate", 2}, cue{"happy", 1},   cue{"谢谢", 1},
    cue{"謝謝", 1},    cue{"感谢", 2},     cue{"感謝", 2},      cue{"很好", 2},       cue{"满意", 2},    cue{"滿意", 2},
    cue{"解决了", 2},  cue{"解決了", 2},   cue{"太棒", 2},
};

// Urgency cues: each raises priority to at least `level` with a reason.
struct urgency_cue {
  std::string_view text;
  priority level;
  std::string_view reason;
};
constexpr std::array urgency_cues{
    urgency_cue{"outage", priority::critical, "reports an outage"},
    urgency_cue{"is down", priority::critical, "reports a service down"},
    urgency_cue{"production down", priority::critical, "reports production down"},
    urgency_cue{"all users", priority::critical, "affects all users"},
    urgency_cue{"data loss", priority::critical, "mentions data loss"},
    urgency_cue{"security breach", priority::critical, "mentions a security breach"},
    urgency_cue{"injur", priority::critical, "mentions a safety issue"},
    urgency_cue{"lawyer", priority::critical, "mentions legal action"},
    urgency_cue{"legal action", priority::critical, "mentions legal action"},
    urgency_cue{"宕机", priority::critical, "reports an outage (宕机)"},
    urgency_cue{"當機", priority::critical, "reports an outage (當機)"},
    urgency_cue{"所有用户", priority::critical, "affects all users (所有用户)"},
    urgency_cue{"所有用戶", priority::critical, "affects all users (所有用戶)"},
    urgency_cue{"数据丢失", priority::critical, "mentions data loss (数据丢失)"},
    urgency_cue{"律师", priority::critical, "mentions legal action (律师)"},
    urgency_cue{"律師", priority::critical, "mentions legal action (律師)"},
    urgency_cue{"urgent", priority::urgent, "says it is urgent"},
    urgency_cue{"asap", priority::urgent, "asks for a fix as soon as possible"},
    urgency_cue{"immediately", priority::urgent, "asks for an immediate fix"},
    urgency_cue{"deadline", priority::urgent, "mentions a deadline"},
    urgency_cue{"today", priority::urgent, "needs it today"},
    urgency_cue{"cannot log in", priority::urgent, "cannot log in"},
    urgency_cue{"can't log in", priority::urgent, "cannot log in"},
    urgency_cue{"cancel", priority::urgent, "threatens to cancel (churn risk)"},
    urgency_cue{"紧急", priority::urgent, "says it is urgent (紧急)"},
    urgency_cue{"緊急", priority::urgent, "says it is urgent (緊急)"},
    urgency_cue{"尽快", priority::urgent, "asks for a fast fix (尽快)"},
    urgency_cue{"儘快", priority::urgent, "asks for a fast fix (儘快)"},
    urgency_cue{"马上", priority::urgent, "asks for an immediate fix (马上)"},
    urgency_cue{"馬上", priority::urgent, "asks for an immediate fix (馬上)"},
    urgency_cue{"无法登录", priority::urgent, "cannot log in (无法登录)"},
    urgency_cue{"無法登入", priority::urgent, "cannot log in (無法登入)"},
    urgency_cue{"取消订阅", priority::urgent, "threatens to cancel (取消订阅)"},
    urgency_cue{"取消訂閱", priority::urgent, "threatens to cancel (取消訂閱)"},
};

}  // namespace

// A learned model file, swapped atomically when the file changes; readers keep their copy.
struct rule_classifier::model_slot {
  std::string path;
  std::chrono::milliseconds reload_check;
  mutable std::mutex mu;
  std::shared_ptr<const category_model> model;
  std::string error;
  std::filesystem::file_time_type loaded_mtime{};
  std::chrono::steady_clock::time_point next_check{};

  std::shared_ptr<const category_model> get() {
    if (path.empty()) return nullptr;
    const auto now = std::chrono::steady_clock::now();
    std::unique_lock lk(mu);
    if (now < next_check) return model;
    next_check = now + reload_check;
    std::error_code ec;
    const auto mtime = std::filesystem::last_write_time(path, ec);
    if (ec) {
      if (!model) error = "cannot read " + path + ": " + ec.message();
      return model;  // keep serving the last good model
    }
    if (model && mtime == loaded_mtime) return model;
    lk.unlock();  // loading takes a while; classify() calls meanwhile use the old model
    auto loaded = category_model::load(path);
    lk.lock();
    if (loaded) {
      model = std::make_shared<const category_model>(std::move(*loaded));
      loaded_mtime = mtime;
      error.clear();
    } else if (!model || mtime != loaded_mtime) {
      error = loaded.err().message;
      loaded_mtime = mtime;  // do not retry a bad file until it changes again
    }
    return model;
  }
  std::string last_error() {
    (void)get();
    std::lock_guard lk(mu);
    return error;
  }
};

priority priority_from_urgency_label(std::string_view label) noexcept {
  if (label == "critical" || label == "high" || label == "重大") return priority::critical;
  if (label == "urgent" || label == "medium" || label == "紧急" || label == "緊急") return priority::urgent;
  return priority::normal;
}

void raise_priority(classification& c, priority level, std::string reason) {
  if (level <= c.prio) return;
  c.prio = level;
  std::erase(c.reasons, std::string("no urgency cues found"));
  if (std::find(c.reasons.begin(), c.reasons.end(), reason) == c.reasons.end()) c.reasons.push_back(std::move(reason));
}

rule_classifier::rule_classifier(rule_classifier_config cfg)
    : cfg_(std::move(cfg)),
      slot_(std::make_unique<model_slot>()),
      sentiment_slot_(std::make_unique<model_slot>()),
      urgency_slot_(std::make_unique<model_slot>()) {
  for (auto& [name, words] : cfg_.categories)
    for (auto& w : words) w = lower_ascii(w);
  slot_->path = cfg_.category_model_path;
  slot_->reload_check = cfg_.reload_check;
  sentiment_slot_->path = cfg_.sentiment_model_path;
  sentiment_slot_->reload_check = cfg_.reload_check;
  urgency_slot_->path = cfg_.urgency_model_path;
  urgency_slot_->reload_check = cfg_.reload_check;
}

rule_classifier::~rule_classifier() = default;

std::shared_ptr<const category_model> rule_classifier::model() const { return slot_->get(); }
std::string rule_classifier::model_error() const { return slot_->last_error(); }
std::shared_ptr<const category_model> rule_classifier::sentiment_model() const { return sentiment_slot_->get(); }
std::string rule_classifier::sentiment_model_error() const { return sentiment_slot_->last_error(); }
std::shared_ptr<const category_model> rule_classifier::urgency_model() const { return urgency_slot_->get(); }
std::string rule_classifier::urgency_model_error() const { return urgency_slot_->last_error(); }

classification rule_classifier::classify(const event& ev) const {
  classification out;
  const std::string full = ev.subject + "\n" + ev.text;  // what every part reads
  const std::string text = lower_ascii(full);
  const byte_set bytes(text);
  auto in_text = [&](std::string_view cue) { return bytes.has_all(cue) && contains(text, cue); };
  out.language = detect_language(text);

  // Sentiment: the general lexicon (negation, degree, contrast), plus support-desk phrases it
  // does not know ("charged twice", "还是不行") that tilt the score.
  int neg = 0, pos = 0;
  for (const auto& c : negative_cues) neg += in_text(c.text) ? c.weight : 0;
  for (const auto& c : positive_cues) pos += in_text(c.text) ? c.weight : 0;
  const sentiment_result general = score_sentiment(full, out.language);
  out.sentiment_score = std::clamp(general.score + 0.15 * (pos - neg), -1.0, 1.0);
  out.sentiment = out.sentiment_score <= -0.2 ? "negative" : out.sentiment_score >= 0.2 ? "positive" : "neutral";
  if (auto sm = sentiment_model()) {
    // The tenant's learned sentiment model (trained from survey comments with their ratings and
    // agent corrections) decides the label; the score is its P(positive) - P(negative).
    const auto probs = sm->probabilities(full);
    const auto& labels = sm->labels();
    double p_pos = 0, p_neg = 0, best = -1;
    std::string best_label;
    for (std::size_t i = 0; i < labels.size() && i < probs.size(); ++i) {
      if (labels[i] == "positive") p_pos = probs[i];
      if (labels[i] == "negative") p_neg = probs[i];
      if (probs[i] > best) {
        best = probs[i];
        best_label = labels[i];
      }
    }
    if (best_label == "positive" || best_label == "negative" || best_label == "neutral") {
      out.sentiment = best_label;
      out.sentiment_score = std::clamp(p_pos - p_neg, -1.0, 1.0);
      out.sentiment_source = "model";
    }
  }

  if (auto m = model()) {
    // The tenant's learned model: its band decides whether the field is written or suggested.
    const category_prediction p = m->predict(full);
    out.category_source = "model";
    out.category_confidence = p.probability;
    out.category_band = to_string(p.band);
    out.category_write = !p.needs_review;
    if (p.needs_review) {
      out.category = "other";
      out.category_suggestion = p.top_label;
    } else {
      out.category = p.label;
    }
  } else {
    // Category: the configured category with the most keyword hits.
    int best = 0, total = 0;
    out.category = "other";
    for (const auto& [name, words] : cfg_.categories) {
      int hits = 0;
      for (const auto& w : words) hits += contains(text, w) ? 1 : 0;
      total += hits;
      if (hits > best) {
        best = hits;
        out.category = name;
      }
    }
    out.category_confidence = total == 0 ? 0.0 : static_cast<double>(best) / total * std::min(1.0, 0.5 + 0.25 * best);
  }

  for (const auto& c : urgency_cues) {
    if (!in_text(c.text)) continue;
    if (c.level > out.prio) out.prio = c.level;
    if (std::find(out.reasons.begin(), out.reasons.end(), c.reason) == out.reasons.end())
      out.reasons.emplace_back(c.reason);
  }
  if (out.sentiment == "negative" && neg >= 4) {
    if (out.prio == priority::normal) out.prio = priority::urgent;
    out.reasons.emplace_back("strongly negative wording");
  }
  if (out.reasons.empty()) out.reasons.emplace_back("no urgency cues found");
  if (auto um = urgency_model()) {
    // Learned from the tenant's history: counts only in its High band (a probability the model
    // calibrated on its hold-out to be right ~95 % of the time), and only ever raises.
    const category_prediction p = um->predict(full);
    out.learned_urgency = p.top_label;
    out.learned_urgency_confidence = p.probability;
    out.learned_urgency_counted = p.band == confidence_band::high && p.label == p.top_label;
    const priority level = priority_from_urgency_label(p.top_label);
    if (out.learned_urgency_counted && level > out.prio)
      raise_priority(out, level,
                     "past tickets like this were " + std::string(to_string(level)) + " (" +
                         std::to_string(static_cast<int>(p.probability * 100 + 0.5)) + " %)");
  }
  return out;
}

}  // namespace closeloop
