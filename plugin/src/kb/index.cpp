// ICU segmentation and the BM25 index (closeloop/kb.hpp).
#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <string>

#include "closeloop/kb.hpp"

namespace closeloop::kb {
namespace {

std::string to_utf8(const icu::UnicodeString& u) {
  std::string s;
  u.toUTF8String(s);
  return s;
}

// BreakIterators are costly to create and not thread-safe: one clone per thread and kind.
icu::BreakIterator* word_iterator() {
  thread_local std::unique_ptr<icu::BreakIterator> it;
  if (!it) {
    UErrorCode st = U_ZERO_ERROR;
    it.reset(icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), st));
    if (U_FAILURE(st)) it.reset();
  }
  return it.get();
}

icu::BreakIterator* sentence_iterator(bool zh) {
  thread_local std::unique_ptr<icu::BreakIterator> en_it, zh_it;
  auto& it = zh ? zh_it : en_it;
  if (!it) {
    UErrorCode st = U_ZERO_ERROR;
    it.reset(icu::BreakIterator::createSentenceInstance(zh ? icu::Locale::getChinese() : icu::Locale::getEnglish(), st));
    if (U_FAILURE(st)) it.reset();
  }
  return it.get();
}

const std::set<std::string, std::less<>>& stop_words() {
  static const std::set<std::string, std::less<>> w = {
      "a", "an", "the", "and", "or", "but", "if", "then", "of", "to", "in", "on", "at", "by", "for", "with", "from",
      "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "i", "you", "we",
      "he", "she", "they", "me", "my", "your", "our", "us", "them", "do", "does", "did", "have", "has", "had",
      "not", "no", "can", "could", "would", "will", "should", "so", "as", "there", "here", "please", "hi",
      "hello", "thanks", "thank", "dear", "regards", "am", "just", "also", "all", "any", "some", "when",
      "what", "how", "why", "again", "still", "now",
      "的", "了", "是", "我", "你", "您", "他", "她", "它", "我们", "你们", "在", "吗", "呢", "啊", "吧", "请",
      "谢谢", "好", "和", "与", "也", "都", "就", "还", "又", "这", "那", "个", "一个", "有", "没有", "不", "把",
      "被", "让", "给", "对", "从", "到", "为", "着", "过", "得", "地", "，", "。"};
  return w;
}

std::string stem(std::string w) {
  auto ends = [&](std::string_view suf) {
    return w.size() > suf.size() + 2 && w.compare(w.size() - suf.size(), suf.size(), suf) == 0;
  };
  if (w.empty() || static_cast<unsigned char>(w[0]) >= 0x80) return w;
  if (ends("ing")) w.resize(w.size() - 3);
  else if (ends("ied")) w.replace(w.size() - 3, 3, "y");
  else if (ends("ies")) w.replace(w.size() - 3, 3, "y");
  else if (ends("ed")) w.resize(w.size() - 2);
  else if (ends("es") && (w[w.size() - 3] == 's' || w[w.size() - 3] == 'x' || w[w.size() - 3] == 'h')) w.resize(w.size() - 2);
  else if (w.size() > 3 && w.back() == 's' && w[w.size() - 2] != 's') w.pop_back();
  // jammed -> jamm -> jam
  if (w.size() > 3 && w[w.size() - 1] == w[w.size() - 2] && w.back() != 'l' && w.back() != 's') w.pop_back();
  return w;
}

constexpr double k1 = 1.2;
constexpr double b = 0.75;

}  // namespace

std::vector<std::string> tokens(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  icu::BreakIterator* it = word_iterator();
  if (!it) return out;
  it->setText(u);
  int32_t start = it->first();
  for (int32_t end = it->next(); end != icu::BreakIterator::DONE; start = end, end = it->next()) {
    const int32_t status = it->getRuleStatus();
    if (status < UBRK_WORD_NUMBER) continue;  // spaces, punctuation
    icu::UnicodeString w(u, start, end - start);
    w.foldCase();
    std::string s = to_utf8(w);
    const bool ideo = status >= UBRK_WORD_KANA;
    if (!ideo && s.size() < 2) continue;
    if (status < UBRK_WORD_LETTER && s.size() < 2) continue;
    if (stop_words().contains(s)) continue;
    out.push_back(ideo ? s : stem(std::move(s)));
  }
  return out;
}

std::vector<std::string> sentences(std::string_view text, std::string_view language) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  icu::BreakIterator* it = sentence_iterator(language.substr(0, 2) == "zh");
  if (!it) {
    out.emplace_back(text);
    return out;
  }
  it->setText(u);
  int32_t start = it->first();
  for (int32_t end = it->next(); end != icu::BreakIterator::DONE; start = end, end = it->next()) {
    std::string s = to_utf8(icu::UnicodeString(u, start, end - start));
    const auto a = s.find_first_not_of(" \t\r\n");
    if (a == std::string::npos) continue;
    const auto z = s.find_last_not_of(" \t\r\n");
    out.push_back(s.substr(a, z - a + 1));
  }
  return out;
}

void bm25_index::add(std::string id, std::string_view text) {
  doc d;
  d.id = std::move(id);
  for (auto& t : tokens(text)) {
    ++d.tf[t];
    ++d.len;
  }
  for (const auto& [t, n] : d.tf) ++df_[t];
  total_len_ += d.len;
  docs_.push_back(std::move(d));
}

std::vector<bm25_index::hit> bm25_index::search(std::string_view query, std::size_t k, double min_similarity) const {
  std::map<std::string, int, std::less<>> q;
  std::size_t qlen = 0;
  for (auto& t : tokens(query)) {
    ++q[t];
    ++qlen;
  }
  std::vector<hit> hits;
  if (q.empty() || docs_.empty()) return hits;
  // The collection with the query counted in it: N + 1 documents, df + 1 for the query's terms.
  const double n = static_cast<double>(docs_.size()) + 1;
  const double avgdl = static_cast<double>(total_len_ + qlen) / n;
  auto idf = [&](const std::string& t) {
    auto it = df_.find(t);
    const double df = (it == df_.end() ? 0 : it->second) + 1;
    return std::log(1 + (n - df + 0.5) / (df + 0.5));
  };
  auto part = [&](double tf, double len) { return tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl)); };
  double self = 0;
  std::map<std::string, double, std::less<>> w;
  for (const auto& [t, tf] : q) {
    w[t] = idf(t);
    self += w[t] * part(tf, static_cast<double>(qlen));
  }
  for (const auto& d : docs_) {
    double s = 0;
    for (const auto& [t, tf] : q) {
      auto it = d.tf.find(t);
      if (it == d.tf.end()) continue;
      s += w[t] * part(it->second, static_cast<double>(d.len));
    }
    if (s <= 0) continue;
    const double sim = self > 0 ? std::min(1.0, s / self) : 0;
    if (sim < min_similarity) continue;
    hits.push_back({d.id, s, sim});
  }
  std::sort(hits.begin(), hits.end(), [](const hit& a, const hit& c) {
    return a.score != c.score ? a.score > c.score : a.id < c.id;
  });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

}  // namespace closeloop::kb
