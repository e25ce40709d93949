#pragma once
// Cold-start sentiment: a lexicon written for this project (English, Chinese; Traditional text is
// normalised to Simplified with OpenCC first) with negation, intensifiers, contrast ("but", "但是")
// and exclamation handling. It needs no training data, so it ships; a tenant's learned model
// (trained from survey answers and agent corrections) takes over where it exists.
#include <string>
#include <string_view>
#include <vector>

namespace closeloop {

struct sentiment_result {
  std::string label = "neutral";  // negative | neutral | positive
  double score = 0;               // -1 .. 1
  std::vector<std::string> cues;  // the words that decided it (at most a few), for explanations
};

// `language` is a BCP 47 tag from identify_language ("en", "zh-Hans", "zh-Hant", ...); other
// languages are scored with the English lexicon only where words match (usually neutral).
sentiment_result score_sentiment(std::string_view text, std::string_view language);

// The label for a score with the default neutral band (|score| < 0.05 is neutral).
std::string sentiment_label(double score);

// What a learned sentiment model sees (`closeloop train|eval --task sentiment`, the tenant's
// sentiment model): the category tokens (normalize_for_category) with each word after an English
// negator ("not", "never", "don't", ...) up to the next punctuation marked "zzneg<word>", then
// tokens carrying the lexicon's verdict: "zzlexpos"/"zzlexneg" repeated by strength (1..4) or
// "zzlexneu", and "zzlexbin<k>" for the score in ninths. A model trained on a few thousand
// examples so learns how far to trust the lexicon instead of starting from nothing.
std::string sentiment_feature_text(std::string_view text);

}  // namespace closeloop
