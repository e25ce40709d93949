#pragma once
// Language identification: a script pre-pass (ICU) decides what the script alone tells —
// Chinese (and Simplified vs Traditional, from OpenCC's conversion tables), Japanese, Korean,
// and single-language scripts — so that even two Chinese characters are right; everything else
// goes to CLD2. Input is capped (16 KiB) and invalid UTF-8 is skipped: any input gives an answer
// in bounded time.
#include <string>
#include <string_view>

namespace closeloop {

struct language_guess {
  std::string tag = "und";  // BCP 47: "en", "fr", "zh-Hans", "zh-Hant", "ja", ..., "und" when unknown
  double confidence = 0;    // 0..1
  bool reliable = false;    // CLD2's verdict, or a script that leaves no doubt
  const char* method = "";  // "script", "cld2", "fallback"
};

language_guess identify_language(std::string_view text);

// zh-Hans or zh-Hant for Han text by counting characters that exist in only one of the two
// standards; "" when the text has no such character.
std::string chinese_variant(std::string_view text);

}  // namespace closeloop
