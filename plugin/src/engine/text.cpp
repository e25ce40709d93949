#include "closeloop/text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <set>
#include <string>

namespace closeloop {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// Length of a UTF-8 sequence from its lead byte (1 for invalid bytes, so we always advance).
std::size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xE) return 3;
  if ((c >> 3) == 0x1E) return 4;
  return 1;
}

const std::set<std::string, std::less<>>& stop_words() {
  static const std::set<std::string, std::less<>> words = {
      "the",  "and",  "for",  "with", "from", "that", "this", "have", "has",   "was",   "were", "are",
      "not",  "but",  "you",  "your", "our",  "can",  "cannot", "can't", "could", "would", "will", "any",
      "all",  "its",  "it's", "there", "when", "what", "why",  "how",  "who",   "into",  "onto", "again",
      "please", "help", "hello", "thanks", "thank", "issue", "problem", "question", "since", "still", "does",
      "doesn", "don", "did", "didn", "isn", "wasn", "won", "just", "about", "after", "before", "out", "get",
      "got", "any"};
  return words;
}

}  // namespace

std::string truncate_utf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t end = 0;
  while (end < text.size()) {
    std::size_t n = utf8_len(static_cast<unsigned char>(text[end]));
    if (end + n > max_bytes) break;
    end += n;
  }
  return std::string(text.substr(0, end)) + "\xE2\x80\xA6";
}

std::string problem_fingerprint(std::string_view text) {
  std::set<std::string> tokens;
  std::string word;
  auto flush = [&] {
    if (word.size() >= 3 && !stop_words().contains(word)) tokens.insert(word);
    word.clear();
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t n = utf8_len(c);
    if (n == 1) {
      if (is_alpha(static_cast<char>(c)) || is_digit(static_cast<char>(c)) || c == '\'') {
        word += static_cast<char>(std::tolower(c));
      } else {
        flush();
      }
    } else {
      flush();
      // CJK ideographs (U+3400..U+9FFF, 3-byte sequences E3 90 80 .. E9 BF BF) count one by one.
      if (n == 3 && i + 3 <= text.size() && c >= 0xE3 && c <= 0xE9) tokens.insert(std::string(text.substr(i, 3)));
    }
    i += n;
  }
  flush();
  std::string joined;
  for (const auto& t : tokens) {
    if (!joined.empty()) joined += '-';
    joined += t;
  }
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char ch : joined) {
    h ^= ch;
    h *= 1099511628211ULL;
  }
  static constexpr std::array<char, 16> hex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                               '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string out(16, '0');
  for (int k = 15; k >= 0; --k, h >>= 4) out[static_cast<std::size_t>(k)] = hex[h & 0xF];
  return out;
}

std::string format_span(std::chrono::milliseconds d, const span_units& u) {
  const long long mins = std::max<long long>(1, (d.count() + 30000) / 60000);
  if (mins < 60) return std::to_string(mins) + " " + u.minute;
  const long long hours = (mins + 30) / 60;
  if (hours < 48) return std::to_string(hours) + " " + u.hour;
  return std::to_string((hours + 12) / 24) + " " + u.day;
}

}  // namespace closeloop
