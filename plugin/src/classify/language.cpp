#include "closeloop/language.hpp"
#include "closeloop/utf8.hpp"

#include <opencc/opencc.h>
#include <unicode/uscript.h>

#include <bitset>
#include <cstring>
#include <memory>
#include <mutex>

#include <cld2/public/compact_lang_det.h>
#include <cld2/public/encodings.h>

namespace closeloop {
namespace {

constexpr std::size_t k_max_bytes = 16 * 1024;

// Han characters OpenCC changes when converting to the other standard: those are evidence for
// the standard they come from. Built once per process from OpenCC's own tables (~0.1 s).
struct han_tables {
  static constexpr char32_t first = 0x3400, last = 0x9FFF;
  std::bitset<last - first + 1> traditional_only, simplified_only;
  bool available = false;
};

const han_tables& tables() {
  static han_tables t;
  static std::once_flag once;
  std::call_once(once, [] {
    opencc_t t2s = opencc_open("t2s.json");
    opencc_t s2t = opencc_open("s2t.json");
    const auto bad = reinterpret_cast<opencc_t>(-1);
    if (t2s != bad && s2t != bad) {
      std::string ch;
      for (char32_t cp = han_tables::first; cp <= han_tables::last; ++cp) {
        ch.clear();
        utf8::append(ch, cp);
        char* a = opencc_convert_utf8(t2s, ch.c_str(), ch.size());
        char* b = opencc_convert_utf8(s2t, ch.c_str(), ch.size());
        const bool trad = a && ch != a;
        const bool simp = b && ch != b;
        if (trad && !simp) t.traditional_only.set(cp - han_tables::first);
        if (simp && !trad) t.simplified_only.set(cp - han_tables::first);
        if (a) opencc_convert_utf8_free(a);
        if (b) opencc_convert_utf8_free(b);
      }
      t.available = true;
    }
    if (t2s != bad) opencc_close(t2s);
    if (s2t != bad) opencc_close(s2t);
  });
  return t;
}

struct script_counts {
  std::size_t han = 0, kana = 0, hangul = 0, latin = 0, cyrillic = 0, arabic = 0, greek = 0, hebrew = 0,
              thai = 0, devanagari = 0, other = 0;
  std::size_t letters() const {
    return han + kana + hangul + latin + cyrillic + arabic + greek + hebrew + thai + devanagari + other;
  }
};

std::string cld2_code(CLD2::Language lang) {
  if (lang == CLD2::UNKNOWN_LANGUAGE || lang == CLD2::TG_UNKNOWN_LANGUAGE) return "und";
  std::string code = CLD2::LanguageCode(lang);
  if (code == "zh") return "zh-Hans";
  if (code == "zh-Hant") return "zh-Hant";
  if (code == "iw") return "he";
  if (code == "tl") return "fil";
  return code;
}

}  // namespace

std::string chinese_variant(std::string_view text) {
  const han_tables& t = tables();
  if (!t.available) return "";
  std::size_t trad = 0, simp = 0;
  for (std::size_t i = 0; i < text.size() && i < k_max_bytes;) {
    const char32_t cp = utf8::next(text, i);
    if (cp < han_tables::first || cp > han_tables::last) continue;
    if (t.traditional_only.test(cp - han_tables::first)) ++trad;
    if (t.simplified_only.test(cp - han_tables::first)) ++simp;
  }
  if (trad == simp) return trad == 0 ? "" : "zh-Hans";
  return trad > simp ? "zh-Hant" : "zh-Hans";
}

language_guess identify_language(std::string_view text) {
  if (text.size() > k_max_bytes) text = text.substr(0, k_max_bytes);
  script_counts c;
  std::string clean;  // valid UTF-8 for CLD2
  clean.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const char32_t cp = utf8::next(text, i);
    if (cp == 0xFFFD) {
      clean += ' ';
      continue;
    }
    utf8::append(clean, cp);
    if (cp < 0x80) {  // ASCII: letters are Latin, everything else Common (what ICU says)
      c.latin += (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z' ? 1 : 0;
      continue;
    }
    UErrorCode err = U_ZERO_ERROR;
    const UScriptCode sc = uscript_getScript(static_cast<UChar32>(cp), &err);
    if (U_FAILURE(err)) continue;
    switch (sc) {
      case USCRIPT_HAN: ++c.han; break;
      case USCRIPT_HIRAGANA:
      case USCRIPT_KATAKANA: ++c.kana; break;
      case USCRIPT_HANGUL: ++c.hangul; break;
      case USCRIPT_LATIN: ++c.latin; break;
      case USCRIPT_CYRILLIC: ++c.cyrillic; break;
      case USCRIPT_ARABIC: ++c.arabic; break;
      case USCRIPT_GREEK: ++c.greek; break;
      case USCRIPT_HEBREW: ++c.hebrew; break;
      case USCRIPT_THAI: ++c.thai; break;
      case USCRIPT_DEVANAGARI: ++c.devanagari; break;
      case USCRIPT_COMMON:
      case USCRIPT_INHERITED:
      case USCRIPT_UNKNOWN: break;  // digits, punctuation, emoji, marks
      default: ++c.other; break;
    }
  }
  language_guess g;
  const std::size_t letters = c.letters();
  if (letters == 0) {
    g.method = "script";
    return g;  // und: no letters at all (digits, emoji, punctuation)
  }
  // A CJK character carries about as much as three Latin letters.
  const std::size_t weighted = letters + 2 * (c.han + c.kana + c.hangul);
  auto share = [&](std::size_t n, std::size_t weight = 3) { return static_cast<double>(n * weight) / weighted; };
  g.method = "script";
  g.reliable = true;
  if (c.kana > 0 && share(c.kana + c.han) >= 0.4) {
    g.tag = "ja";
    g.confidence = share(c.kana + c.han);
    return g;
  }
  if (share(c.hangul) >= 0.4) {
    g.tag = "ko";
    g.confidence = share(c.hangul);
    return g;
  }
  if (share(c.han) >= 0.4) {
    std::string v = chinese_variant(clean);
    g.tag = v.empty() ? "zh-Hans" : v;
    g.confidence = share(c.han);
    return g;
  }
  // Scripts that mostly mean one language here.
  struct single {
    std::size_t n;
    const char* tag;
  };
  for (auto [n, tag] : {single{c.greek, "el"}, single{c.hebrew, "he"}, single{c.thai, "th"}}) {
    if (static_cast<double>(n) / letters >= 0.6) {
      g.tag = tag;
      g.confidence = static_cast<double>(n) / letters;
      return g;
    }
  }
  // Everything else: CLD2 (Latin, Cyrillic, Arabic, Devanagari ... scripts of many languages).
  CLD2::Language top3[3];
  int percent3[3];
  int text_bytes = 0;
  bool reliable = false;
  const CLD2::Language lang =
      CLD2::ExtDetectLanguageSummary(clean.data(), static_cast<int>(clean.size()), true, top3, percent3, &text_bytes,
                                     &reliable);
  g.method = "cld2";
  g.tag = cld2_code(lang);
  g.reliable = reliable;
  g.confidence = (reliable ? 0.5 : 0.25) + percent3[0] / 200.0;
  if (g.tag == "und" || (!reliable && letters < 12)) {
    // Too short for CLD2: the script's most common language here.
    g.method = "fallback";
    g.reliable = false;
    g.confidence = 0.3;
    if (c.cyrillic * 2 >= letters) g.tag = "ru";
    else if (c.arabic * 2 >= letters) g.tag = "ar";
    else if (c.devanagari * 2 >= letters) g.tag = "hi";
    else if (g.tag == "und" && c.latin * 2 >= letters) g.tag = "en";
  }
  return g;
}

}  // namespace closeloop
