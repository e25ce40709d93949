#include "closeloop/sentiment.hpp"

#include "closeloop/category_model.hpp"
#include "closeloop/language.hpp"

#include <opencc/opencc.h>

#include <algorithm>
#include <cstring>
#include <cmath>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace closeloop {
namespace {

struct lexicon_entry {
  const char* word;
  int valence;
};
#include "sentiment_lexicon.inc"

constexpr std::size_t k_max_bytes = 16 * 1024;

using lexicon = std::unordered_map<std::string_view, int>;

const lexicon& english() {
  static const lexicon m = [] {
    lexicon l;
    for (const auto& e : k_lexicon_en) l.emplace(e.word, e.valence);
    return l;
  }();
  return m;
}

struct chinese_lexicon {
  lexicon words;
  std::size_t max_len = 0;  // bytes
};

const chinese_lexicon& chinese() {
  static const chinese_lexicon m = [] {
    chinese_lexicon c;
    for (const auto& e : k_lexicon_zh) {
      c.words.emplace(e.word, e.valence);
      c.max_len = std::max(c.max_len, std::string_view(e.word).size());
    }
    return c;
  }();
  return m;
}

const std::unordered_set<std::string_view>& english_negators() {
  static const std::unordered_set<std::string_view> s = {
      "not",    "no",     "never",   "none",    "nobody", "nothing", "neither", "nor",    "without", "hardly",
      "barely", "cannot", "can't",   "cant",    "don't",  "dont",    "doesn't", "doesnt", "didn't",  "didnt",
      "isn't",  "isnt",   "wasn't",  "wasnt",   "aren't", "arent",   "weren't", "won't",  "wont",    "wouldn't",
      "wouldnt", "shouldn't", "couldn't", "couldnt", "haven't", "hasn't", "hadn't", "ain't", "lack", "lacks",
      "lacking"};
  return s;
}

const std::unordered_map<std::string_view, double>& english_degree() {
  static const std::unordered_map<std::string_view, double> m = {
      {"very", 1.3},       {"really", 1.3},  {"extremely", 1.5}, {"so", 1.2},        {"too", 1.2},
      {"totally", 1.3},    {"absolutely", 1.4}, {"completely", 1.3}, {"incredibly", 1.4}, {"truly", 1.3},
      {"highly", 1.3},     {"super", 1.3},   {"most", 1.2},      {"utterly", 1.4},   {"quite", 1.1},
      {"pretty", 1.1},     {"slightly", 0.6}, {"somewhat", 0.7}, {"kinda", 0.7},     {"barely", 0.5},
      {"fairly", 0.8},     {"little", 0.8}};
  return m;
}

// Chinese negators and degree adverbs (Simplified), matched just before a lexicon word.
constexpr std::string_view k_zh_negators[] = {"不", "没", "没有", "别", "无", "未", "不是", "不太", "不怎么", "并不",
                                              "毫无", "从不", "从没", "绝不"};
constexpr std::pair<std::string_view, double> k_zh_degree[] = {
    {"非常", 1.5}, {"特别", 1.5}, {"十分", 1.5}, {"太", 1.4}, {"超", 1.4}, {"超级", 1.5}, {"很", 1.3}, {"挺", 1.1},
    {"真", 1.3},   {"好", 1.2},   {"最", 1.5},   {"极", 1.5}, {"有点", 0.7}, {"稍微", 0.6}, {"比较", 0.9},
    {"相当", 1.3}, {"蛮", 1.1},   {"格外", 1.4}, {"尤其", 1.3}, {"实在", 1.3}};
constexpr std::string_view k_zh_contrast[] = {"但是", "但", "可是", "不过", "然而", "就是", "只是"};

// Simplified form of Traditional text, through OpenCC (one converter per process, serialised).
std::string to_simplified(std::string_view text) {
  static std::mutex mu;
  static opencc_t conv = opencc_open("t2s.json");
  if (conv == reinterpret_cast<opencc_t>(-1)) return std::string(text);
  std::lock_guard lk(mu);
  char* out = opencc_convert_utf8(conv, text.data(), text.size());
  if (!out) return std::string(text);
  std::string s(out);
  opencc_convert_utf8_free(out);
  return s;
}

double normalise(double raw) { return raw / std::sqrt(raw * raw + 12.0); }

void add_cue(sentiment_result& r, std::string_view w) {
  if (r.cues.size() < 5 && std::find(r.cues.begin(), r.cues.end(), w) == r.cues.end()) r.cues.emplace_back(w);
}

double score_english(std::string_view text, sentiment_result& r) {
  // Tokens: lower-case ASCII words with apostrophes; "!" and emoticons kept as their own tokens.
  // Words are lower-cased into one buffer per thread and the tokens are views into it or into
  // `text` (punctuation): no string per token.
  thread_local std::string lowered;
  thread_local std::vector<std::string_view> tokens;
  lowered.clear();
  lowered.reserve(text.size());  // never outgrown below: the views into it stay valid
  tokens.clear();
  std::size_t cur_start = 0, cur_len = 0;
  int exclaims = 0;
  double emoticons = 0;
  auto flush = [&] {
    if (cur_len > 0) tokens.push_back(std::string_view(lowered).substr(cur_start, cur_len));
    cur_len = 0;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (std::isalpha(static_cast<unsigned char>(c)) || (c == '\'' && cur_len > 0)) {
      if (cur_len == 0) cur_start = lowered.size();
      lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      ++cur_len;
      continue;
    }
    flush();
    if (c == '!') ++exclaims;
    if ((c == ':' || c == ';') && i + 1 < text.size()) {
      char n = text[i + 1] == '-' && i + 2 < text.size() ? text[i + 2] : text[i + 1];
      if (n == ')' || n == 'D') emoticons += 1.5;
      if (n == '(') emoticons -= 1.5;
    }
    if (c == '.' || c == ';' || c == '?' || c == '!' || c == ',') tokens.push_back(text.substr(i, 1));
  }
  flush();

  double before_but = 0, after_but = 0;
  bool seen_but = false;
  const auto& lex = english();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string_view t = tokens[i];
    if (t == "but" || t == "however" || t == "although" || t == "though") {
      seen_but = t == "but" || t == "however";
      if (!seen_but) before_but *= 0.5;  // "although X, Y": Y decides
      continue;
    }
    auto it = lex.find(t);
    if (it == lex.end()) continue;
    // "like" is mostly a preposition ("looks like"), count it only after I/we/you/they.
    if (t == "like" && (i == 0 || (tokens[i - 1] != "i" && tokens[i - 1] != "we" && tokens[i - 1] != "you" &&
                                   tokens[i - 1] != "they" && tokens[i - 1] != "really")))
      continue;
    double v = it->second;
    // Look back up to three tokens (within the clause) for degree words and negation.
    bool negated = false;
    for (std::size_t k = 1; k <= 3 && k <= i; ++k) {
      const std::string_view p = tokens[i - k];
      if (p.size() == 1 && !std::isalpha(static_cast<unsigned char>(p[0]))) break;
      if (english_negators().contains(p) || (p.size() > 3 && p.ends_with("n't"))) negated = true;
      if (auto d = english_degree().find(p); d != english_degree().end() && k <= 2) v *= d->second;
    }
    if (negated) v *= -0.6;
    add_cue(r, t);
    (seen_but ? after_but : before_but) += v;
  }
  double raw = seen_but ? before_but * 0.5 + after_but * 1.5 : before_but;
  raw += emoticons;
  if (raw != 0) raw += (raw > 0 ? 1 : -1) * 0.3 * std::min(exclaims, 3);
  return raw;
}

bool starts_with_at(std::string_view s, std::size_t pos, std::string_view what) {
  return s.size() >= pos + what.size() && s.compare(pos, what.size(), what) == 0;
}

bool ends_with_before(std::string_view s, std::size_t pos, std::string_view what) {
  return pos >= what.size() && s.compare(pos - what.size(), what.size(), what) == 0;
}

double score_chinese(std::string_view text, sentiment_result& r) {
  const chinese_lexicon& lex = chinese();
  double before = 0, after = 0;
  bool contrast = false;
  int exclaims = 0;
  for (std::size_t i = 0; i < text.size();) {
    bool matched_contrast = false;
    for (auto c : k_zh_contrast) {
      if (starts_with_at(text, i, c)) {
        contrast = true;
        i += c.size();
        matched_contrast = true;
        break;
      }
    }
    if (matched_contrast) continue;
    if (starts_with_at(text, i, "！") || text[i] == '!') ++exclaims;
    // Longest lexicon word starting here.
    std::size_t best = 0;
    int valence = 0;
    // Entries are CJK only (3 bytes a character).
    for (std::size_t len = std::min(lex.max_len, text.size() - i) / 3 * 3; len >= 3; len -= 3) {
      if (auto it = lex.words.find(text.substr(i, len)); it != lex.words.end()) {
        best = len;
        valence = it->second;
        break;
      }
    }
    if (best == 0) {
      const auto c = static_cast<unsigned char>(text[i]);
      i += c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
      continue;
    }
    if (valence == 0) {  // a neutral word: it only keeps its characters from matching alone
      i += best;
      continue;
    }
    double v = valence;
    // A negator or degree word right before the word (up to two of them: "不太好", "很不好").
    std::size_t p = i;
    bool negated = false;
    for (int round = 0; round < 2; ++round) {
      bool any = false;
      for (auto n : k_zh_negators) {
        if (ends_with_before(text, p, n)) {
          negated = !negated;
          p -= n.size();
          any = true;
          break;
        }
      }
      for (auto [d, f] : k_zh_degree) {
        if (ends_with_before(text, p, d)) {
          v *= f;
          p -= d.size();
          any = true;
          break;
        }
      }
      if (!any) break;
    }
    if (negated) v *= valence > 0 ? -0.8 : -0.5;  // "不好" is bad; "不差" is only mildly good
    add_cue(r, text.substr(i, best));
    (contrast ? after : before) += v;
    i += best;
  }
  double raw = contrast ? before * 0.5 + after * 1.5 : before;
  if (raw != 0) raw += (raw > 0 ? 1 : -1) * 0.3 * std::min(exclaims, 3);
  return raw;
}

}  // namespace

std::string sentiment_label(double score) {
  return score <= -0.05 ? "negative" : score >= 0.05 ? "positive" : "neutral";
}

sentiment_result score_sentiment(std::string_view text, std::string_view language) {
  sentiment_result r;
  if (text.size() > k_max_bytes) text = text.substr(0, k_max_bytes);
  double raw = 0;
  if (language.starts_with("zh")) {
    const std::string simplified = language == "zh-Hant" ? to_simplified(text) : std::string(text);
    raw = score_chinese(simplified, r);
    // Chinese text often carries English words too ("App 很好用 but 太慢").
    raw += 0.5 * score_english(simplified, r);
  } else {
    raw = score_english(text, r);
  }
  r.score = normalise(raw);
  r.label = sentiment_label(r.score);
  return r;
}

std::string sentiment_feature_text(std::string_view text) {
  if (text.size() > k_max_bytes) text = text.substr(0, k_max_bytes);
  std::string out;
  out.reserve(text.size() + text.size() / 4 + 64);
  // Clause by clause (a negator's scope ends at the clause's punctuation).
  std::size_t clause_start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const bool ends = i == text.size() || std::strchr(".,;:!?\n", text[i]) != nullptr;
    if (!ends) continue;
    const std::string tokens = normalize_for_category(text.substr(clause_start, i - clause_start + (i < text.size() ? 1 : 0)));
    clause_start = i + 1;
    bool negated = false;
    std::size_t pos = 0;
    while (pos < tokens.size()) {
      std::size_t end = tokens.find(' ', pos);
      if (end == std::string::npos) end = tokens.size();
      const std::string_view tok(tokens.data() + pos, end - pos);
      pos = end + 1;
      if (!out.empty()) out += ' ';
      if (english_negators().count(tok) != 0 || tok.ends_with("n't")) {
        negated = true;
      } else if (negated && tok.size() > 1) {
        out += "zzneg";
      }
      out += tok;
    }
  }
  const sentiment_result s = score_sentiment(text, identify_language(text).tag);
  const int strength = static_cast<int>(std::lround(s.score * 4));  // -4 .. 4
  if (!out.empty()) out += ' ';
  if (s.label == "neutral") {
    out += "zzlexneu";
  } else {
    for (int i = 0; i < std::max(1, std::abs(strength)); ++i) out += s.score > 0 ? "zzlexpos " : "zzlexneg ";
    out.pop_back();
  }
  out += " zzlexbin";
  out += strength < 0 ? "m" : "p";
  out += std::to_string(std::abs(strength));
  return out;
}

}  // namespace closeloop
