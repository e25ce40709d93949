#include "closeloop/language.hpp"
#include "closeloop/utf8.hpp"

#include <opencc/Config.hpp>
#include <opencc/Conversion.hpp>
#include <opencc/ConversionChain.hpp>
#include <opencc/Converter.hpp>
#include <opencc/Dict.hpp>
#include <opencc/DictEntry.hpp>
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

// Han characters that belong to one standard only are evidence for it: OpenCC converts them to
// the other, and the character is not itself one of its candidates there. 吃 converts to 喫
// first, but 吃 is also among its Traditional forms (Taiwan writes 吃): evidence for neither. With
// the first candidate alone, 吃, 后, 干, 面, 发 counted as Simplified and Traditional food
// reviews were called Simplified (tests/bench/eval_language: 96.4 % -> see README).
// Built once per process from OpenCC's own dictionaries (~0.1 s).
struct han_tables {
  static constexpr char32_t first = 0x3400, last = 0x9FFF;
  std::bitset<last - first + 1> traditional_only, simplified_only;
  bool available = false;
};

const han_tables& tables() {
  static han_tables t;
  static std::once_flag once;
  std::call_once(once, [] {
    // Whether `ch` is among its own candidates in one of the conversion's dictionaries.
    auto keeps_itself = [](const opencc::Converter& c, const std::string& ch) {
      for (const auto& conversion : c.GetConversionChain()->GetConversions()) {
        const auto entry = conversion->GetDict()->Match(ch);
        if (entry.IsNull()) continue;
        for (const auto& v : entry.Get()->Values())
          if (v == ch) return true;
      }
      return false;
    };
    try {
      opencc::Config config;
      const auto t2s = config.NewFromFile("t2s.json");
      const auto s2t = config.NewFromFile("s2t.json");
      std::string ch;
      for (char32_t cp = han_tables::first; cp <= han_tables::last; ++cp) {
        ch.clear();
        utf8::append(ch, cp);
        const bool to_simp = t2s->Convert(ch) != ch;
        const bool to_trad = s2t->Convert(ch) != ch;
        if (to_simp && !to_trad && !keeps_itself(*t2s, ch)) t.traditional_only.set(cp - han_tables::first);
        if (to_trad && !to_simp && !keeps_itself(*s2t, ch)) t.simplified_only.set(cp - han_tables::first);
      }
      t.available = true;
    } catch (const std::exception&) {
      // OpenCC's data missing: no variant evidence (Chinese is then reported as zh-Hans).
    }
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
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      // A run of ASCII, copied as it is: letters are Latin, everything else Common (what ICU says).
      std::size_t j = i;
      for (; j < text.size() && static_cast<unsigned char>(text[j]) < 0x80; ++j) {
        const unsigned lc = static_cast<unsigned char>(text[j]) | 0x20u;
        c.latin += lc >= 'a' && lc <= 'z' ? 1 : 0;
      }
      clean.append(text.data() + i, j - i);
      i = j;
      continue;
    }
    const std::size_t at = i;
    const char32_t cp = utf8::next(text, i);
    if (cp == 0xFFFD) {
      clean += ' ';
      continue;
    }
    clean.append(text.data() + at, i - at);  // valid UTF-8: the same bytes utf8::append would write
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
