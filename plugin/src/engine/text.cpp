#include "closeloop/text.hpp"

#include <array>
#include <cctype>
#include <cstdint>
#include <set>
#include <string>

namespace closeloop {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_local_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool is_domain_char(char c) { return is_alpha(c) || is_digit(c) || c == '.' || c == '-'; }

// Length of a UTF-8 sequence from its lead byte (1 for invalid bytes, so we always advance).
std::size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xE) return 3;
  if ((c >> 3) == 0x1E) return 4;
  return 1;
}

// E-mail at text[at]=='@': [start, end) of the address, or start==end when it is not one.
std::pair<std::size_t, std::size_t> email_around(std::string_view t, std::size_t at) {
  std::size_t s = at;
  while (s > 0 && is_local_char(t[s - 1])) --s;
  std::size_t e = at + 1;
  while (e < t.size() && is_domain_char(t[e])) ++e;
  while (e > at + 1 && (t[e - 1] == '.' || t[e - 1] == '-')) --e;  // trailing punctuation
  std::string_view domain = t.substr(at + 1, e - at - 1);
  if (s == at || domain.find('.') == std::string_view::npos || domain.front() == '.') return {at, at};
  return {s, e};
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

std::string scrub_pii(std::string_view t) {
  std::string out;
  out.reserve(t.size());
  std::size_t i = 0;
  while (i < t.size()) {
    const char c = t[i];
    // E-mail: find the '@' ahead within the current token.
    if (is_local_char(c) && (i == 0 || !is_local_char(t[i - 1]))) {
      std::size_t j = i;
      while (j < t.size() && is_local_char(t[j])) ++j;
      if (j < t.size() && t[j] == '@') {
        auto [s, e] = email_around(t, j);
        if (s == i && e > j) {
          out += "[email]";
          i = e;
          continue;
        }
      }
    }
    // Phone / long number: a run of digits and separators starting with a digit, '+' or '('.
    if ((is_digit(c) || c == '+' || c == '(') && (i == 0 || !(is_alpha(t[i - 1]) || is_digit(t[i - 1])))) {
      std::size_t j = i, digits = 0, last_digit_end = i;
      bool separators = false;
      while (j < t.size()) {
        char d = t[j];
        if (is_digit(d)) {
          ++digits;
          last_digit_end = j + 1;
        } else if (d == ' ' || d == '-' || d == '.' || d == '(' || d == ')' || (d == '+' && j == i)) {
          if (d != '+') separators = true;
          // Two separators in a row end the number (a sentence, not a phone).
          if (j + 1 < t.size() && !is_digit(t[j + 1]) && t[j + 1] != '(' && t[j] != ')') break;
        } else {
          break;
        }
        ++j;
      }
      const bool alpha_after = last_digit_end < t.size() && is_alpha(t[last_digit_end]);
      // An ISO date (2026-11-22) is not a phone number.
      const std::string_view run = t.substr(i, last_digit_end - i);
      const bool iso_date = run.size() == 10 && run[4] == '-' && run[7] == '-' && digits == 8;
      if (iso_date) {
        out.append(run);
        i = last_digit_end;
        continue;
      }
      if (!alpha_after && digits >= 13 && digits <= 19 && !separators) {
        out += "[number]";
        i = last_digit_end;
        continue;
      }
      if (!alpha_after && digits >= 7 && digits <= 15) {
        out += "[phone]";
        i = last_digit_end;
        continue;
      }
      if (!alpha_after && digits > 15) {
        out += "[number]";
        i = last_digit_end;
        continue;
      }
    }
    out += c;
    ++i;
  }
  return out;
}

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

}  // namespace closeloop
