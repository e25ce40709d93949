// scrub_pii: the one PII scrubber (KB drafts today; logs and exports reuse it). Structured PII is
// recognised by shape and, where the kind has one, by its checksum (Luhn for cards, ISO 7064
// MOD 11-2 for Chinese resident IDs, ISO 13616 mod-97 for IBANs); people's names come from the
// ticket's own fields. Tests: tests/unit/test_scrub.cpp over tests/fixtures/pii/.
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

#include "closeloop/text.hpp"
#include "closeloop/utf8.hpp"

namespace closeloop {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_local_char(char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool is_domain_char(char c) { return is_alnum(c) || c == '.' || c == '-'; }
char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// May a number-like token start at i? Not inside a word, an identifier or a longer number.
bool starts_token(std::string_view t, std::size_t i) {
  if (i == 0) return true;
  const char p = t[i - 1];
  if (is_alnum(p) || p == '_' || p == '#' || p == '/' || p == '\\' || p == '@') return false;
  if ((p == '.' || p == '-') && i >= 2 && is_alnum(t[i - 2])) return false;  // ORD-1234567, v1.2
  if (p == ':' && i >= 2 && is_digit(t[i - 2])) return false;                    // 10:30:45
  return true;
}

// May a number-like token end at e? Not followed by a letter/digit or a continuation.
bool ends_token(std::string_view t, std::size_t e) {
  if (e >= t.size()) return true;
  const char n = t[e];
  if (is_alnum(n) || n == '_' || n == '@') return false;
  if ((n == '.' || n == '-' || n == '/' || n == ':') && e + 1 < t.size() && is_alnum(t[e + 1])) return false;
  return true;
}

// ---- e-mail ---------------------------------------------------------------------------------

std::size_t match_email(std::string_view t, std::size_t i) {
  if (!is_local_char(t[i]) || (i > 0 && is_local_char(t[i - 1]))) return 0;
  std::size_t at = i;
  while (at < t.size() && is_local_char(t[at])) ++at;
  if (at >= t.size() || t[at] != '@' || at == i) return 0;
  std::size_t e = at + 1;
  while (e < t.size() && is_domain_char(t[e])) ++e;
  while (e > at + 1 && (t[e - 1] == '.' || t[e - 1] == '-')) --e;
  const std::string_view domain = t.substr(at + 1, e - at - 1);
  const auto dot = domain.rfind('.');
  if (domain.empty() || domain.front() == '.' || dot == std::string_view::npos || domain.size() - dot < 3) return 0;
  return e;
}

// ---- IP addresses ---------------------------------------------------------------------------

std::size_t match_ipv4(std::string_view t, std::size_t i) {
  if (!is_digit(t[i]) || !starts_token(t, i)) return 0;
  std::size_t j = i;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (j >= t.size() || t[j] != '.') return 0;
      ++j;
    }
    std::size_t s = j;
    int v = 0;
    while (j < t.size() && is_digit(t[j]) && j - s < 4) v = v * 10 + (t[j++] - '0');
    if (j == s || j - s > 3 || v > 255) return 0;
  }
  if (!ends_token(t, j)) return 0;
  return j;
}

std::size_t match_ipv6(std::string_view t, std::size_t i) {
  if (!(is_hex(t[i]) || t[i] == ':') || !starts_token(t, i)) return 0;
  if (t[i] == ':' && (i + 1 >= t.size() || t[i + 1] != ':')) return 0;
  std::size_t j = i;
  int colons = 0;
  bool digit = false;
  while (j < t.size() && (is_hex(t[j]) || t[j] == ':' || t[j] == '.') && j - i < 45) {
    if (t[j] == ':') ++colons;
    if (is_digit(t[j])) digit = true;
    ++j;
  }
  while (j > i && (t[j - 1] == '.' || (t[j - 1] == ':' && !(j - i >= 2 && t[j - 2] == ':')))) --j;
  if (colons < 2 || !digit) return 0;
  const std::string cand(t.substr(i, j - i));
  if (cand.find("::") == std::string::npos && colons < 7) return 0;
  if (j < t.size() && (is_alnum(t[j]) || t[j] == '_')) return 0;
  in6_addr addr{};
  if (inet_pton(AF_INET6, cand.c_str(), &addr) != 1) return 0;
  return j;
}

// ---- IBAN (ISO 13616: 2 letters, 2 check digits, up to 30 alphanumerics; mod 97 == 1) -------

std::size_t match_iban(std::string_view t, std::size_t i) {
  if (i + 4 > t.size() || !is_alpha(t[i]) || !is_alpha(t[i + 1]) || !is_digit(t[i + 2]) || !is_digit(t[i + 3]))
    return 0;
  if (i > 0 && (is_alnum(t[i - 1]) || t[i - 1] == '_' || t[i - 1] == '-')) return 0;
  std::string chars;
  std::size_t j = i, end = i;
  while (j < t.size() && chars.size() < 34) {
    if (is_alnum(t[j])) {
      chars += static_cast<char>(std::toupper(static_cast<unsigned char>(t[j])));
      end = ++j;
    } else if (t[j] == ' ' && j + 1 < t.size() && is_alnum(t[j + 1]) && chars.size() % 4 == 0) {
      ++j;  // printed form: groups of four
    } else {
      break;
    }
  }
  if (chars.size() < 15 || !ends_token(t, end)) return 0;
  // A word glued on after the groups ("... 1234 please"): drop trailing groups until valid.
  for (std::size_t len = chars.size(); len >= 15; --len) {
    if (len != chars.size() && len % 4 != 0) continue;
    const std::string s = chars.substr(4, len - 4) + chars.substr(0, 4);
    int rem = 0;
    bool ok = true;
    for (char c : s) {
      if (is_digit(c)) {
        rem = (rem * 10 + (c - '0')) % 97;
      } else if (c >= 'A' && c <= 'Z') {
        rem = (rem * 100 + (c - 'A' + 10)) % 97;
      } else {
        ok = false;
        break;
      }
    }
    if (ok && rem == 1) {
      // map len characters back to a byte offset
      std::size_t k = i, n = 0;
      while (n < len) {
        if (is_alnum(t[k])) ++n;
        ++k;
      }
      if (ends_token(t, k)) return k;
    }
  }
  return 0;
}

// ---- Chinese resident identity number (GB 11643: 17 digits + check digit 0-9/X) -------------

std::size_t match_cn_id(std::string_view t, std::size_t i) {
  if (i + 18 > t.size() || !starts_token(t, i)) return 0;
  static constexpr std::array<int, 17> w = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static constexpr char check[] = "10X98765432";
  int sum = 0;
  for (std::size_t k = 0; k < 17; ++k) {
    if (!is_digit(t[i + k])) return 0;
    sum += (t[i + k] - '0') * w[k];
  }
  const char last = static_cast<char>(std::toupper(static_cast<unsigned char>(t[i + 17])));
  if (last != check[sum % 11] || !ends_token(t, i + 18)) return 0;
  // Birth date plausibility (YYYYMMDD at offset 6): 18xx-20xx, month 01-12, day 01-31.
  const int year = std::stoi(std::string(t.substr(i + 6, 4)));
  const int month = std::stoi(std::string(t.substr(i + 10, 2)));
  const int day = std::stoi(std::string(t.substr(i + 12, 2)));
  if (year < 1850 || year > 2100 || month < 1 || month > 12 || day < 1 || day > 31) return 0;
  return i + 18;
}

// ---- digit runs: cards and phone numbers ----------------------------------------------------

struct digit_run {
  std::size_t end = 0;  // one past the last digit (or ')')
  std::string digits;
  std::vector<int> groups;  // digits per group
  std::string seps;         // separators between groups, one char each (' ' for "( ", etc.)
  bool plus = false;
  bool paren = false;
};

digit_run read_run(std::string_view t, std::size_t i) {
  digit_run r;
  std::size_t j = i;
  if (t[j] == '+') {
    r.plus = true;
    ++j;
  }
  int group = 0;
  bool open_paren = false;
  while (j < t.size()) {
    const char c = t[j];
    if (is_digit(c)) {
      r.digits += c;
      ++group;
      ++j;
      r.end = j;
      continue;
    }
    if (c == '(' && !open_paren && group == 0 && j + 1 < t.size() && is_digit(t[j + 1])) {
      open_paren = r.paren = true;
      ++j;
      continue;
    }
    if (c == ')' && open_paren && group > 0) {
      open_paren = false;
      r.groups.push_back(group);
      group = 0;
      ++j;
      r.end = j;
      std::size_t k = j;
      if (k < t.size() && (t[k] == ' ' || t[k] == '-')) ++k;
      if (k < t.size() && is_digit(t[k])) {
        r.seps += ')';
        j = k;
        continue;
      }
      break;
    }
    if ((c == ' ' || c == '-' || c == '.') && group > 0 && j + 1 < t.size() &&
        (is_digit(t[j + 1]) || (t[j + 1] == '(' && c == ' '))) {
      r.groups.push_back(group);
      group = 0;
      r.seps += c;
      ++j;
      continue;
    }
    break;
  }
  if (group > 0) r.groups.push_back(group);
  if (open_paren) r.end = 0;
  return r;
}

bool luhn_ok(const std::string& d) {
  int sum = 0;
  bool dbl = false;
  for (auto it = d.rbegin(); it != d.rend(); ++it) {
    int v = *it - '0';
    if (dbl) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

bool uniform_seps(const std::string& seps, char allowed_a, char allowed_b) {
  if (seps.empty()) return true;
  return std::all_of(seps.begin(), seps.end(), [&](char c) { return c == seps[0]; }) &&
         (seps[0] == allowed_a || seps[0] == allowed_b);
}

// A card: 13-19 digits, issuer prefix 2-6, Luhn; printed plain or in groups of 4 (Amex 4-6-5).
bool is_card(const digit_run& r) {
  const auto n = r.digits.size();
  // 13 (old Visa), 14 (Diners), 15 (Amex), 16, 19 (UnionPay, Maestro); 17/18-digit runs are IDs
  // and order numbers far more often than cards.
  if (r.plus || r.paren || n < 13 || n > 19 || n == 17 || n == 18 || r.digits[0] < '2' || r.digits[0] > '6')
    return false;
  if (!uniform_seps(r.seps, ' ', '-')) return false;
  if (r.groups.size() > 1) {
    const bool fours = std::all_of(r.groups.begin(), r.groups.end() - 1, [](int g) { return g == 4; }) &&
                       r.groups.back() >= 1 && r.groups.back() <= 4;
    const bool amex = r.groups == std::vector<int>{4, 6, 5} || r.groups == std::vector<int>{4, 6, 4};
    if (!fours && !amex) return false;
  }
  return luhn_ok(r.digits);
}

bool is_cn_mobile(std::string_view d) {
  return d.size() == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9';
}

bool plausible_date(const digit_run& r) {
  if (r.groups.size() != 3 || r.seps[0] != r.seps[1]) return false;
  auto num = [&](std::size_t off, std::size_t len) { return std::stoi(r.digits.substr(off, len)); };
  if (r.groups == std::vector<int>{4, 2, 2} || r.groups == std::vector<int>{4, 1, 1} ||
      r.groups == std::vector<int>{4, 2, 1} || r.groups == std::vector<int>{4, 1, 2})
    return num(0, 4) >= 1900 && num(0, 4) <= 2100;
  if (r.groups[2] == 4 && r.groups[0] <= 2 && r.groups[1] <= 2) {
    const int y = num(static_cast<std::size_t>(r.groups[0] + r.groups[1]), 4);
    return y >= 1900 && y <= 2100;
  }
  return false;
}

// 1 234 567 / 12.345.678: thousands grouping, an amount rather than a phone.
bool thousands_grouped(const digit_run& r) {
  if (r.groups.size() < 2 || r.groups[0] > 3) return false;
  return std::all_of(r.groups.begin() + 1, r.groups.end(), [](int g) { return g == 3; });
}

// The few words before i (same line) name a phone: "tel", "call", "手机", "电话", ...
bool phone_context(std::string_view t, std::size_t i) {
  const std::size_t from = i > 32 ? i - 32 : 0;
  std::string before(t.substr(from, i - from));
  for (char& c : before) c = lower(c);
  if (auto nl = before.rfind('\n'); nl != std::string::npos) before = before.substr(nl + 1);
  static const std::array<const char*, 16> cues = {"phone", "tel",  "call",  "mobile", "cell", "whatsapp",
                                                   "fax",   "sms",  "手机", "电话",   "致电", "联系方式",
                                                   "号码",  "短信", "微信", "热线"};
  return std::any_of(cues.begin(), cues.end(), [&](const char* cue) { return before.find(cue) != std::string::npos; });
}

bool is_phone(std::string_view t, std::size_t i, const digit_run& r) {
  const auto n = r.digits.size();
  if (n < 7 || n > 15) return false;
  if (r.plus) return n >= 8;
  for (int g : r.groups)
    if (g > 11) return false;
  // Chinese mobile, alone or after 86, printed 3-4-4 or plain.
  if (is_cn_mobile(r.digits) &&
      (r.groups.size() == 1 || r.groups == std::vector<int>{3, 4, 4} || r.groups == std::vector<int>{3, 8}))
    return true;
  if (n == 13 && r.digits.compare(0, 2, "86") == 0 && is_cn_mobile(std::string_view(r.digits).substr(2)))
    return true;
  if (r.groups.size() == 1) {
    // A bare digit run is a phone only where the text says so ("tel 4155550100").
    return phone_context(t, i) || (n >= 10 && n <= 12 && r.digits[0] == '0' && r.digits[1] != '0' &&
                                   phone_context(t, i));
  }
  if (plausible_date(r) || thousands_grouped(r)) return false;
  // US ZIP+4 (94105-1234) unless the text says it is a phone.
  if (r.groups == std::vector<int>{5, 4} && r.seps == "-" && !phone_context(t, i)) return false;
  if (r.seps.find('.') != std::string::npos) {
    // Dotted: 415.555.0100, not a version string (every group 2+ digits, 3+ groups).
    if (r.groups.size() < 3 || *std::min_element(r.groups.begin(), r.groups.end()) < 2) return false;
  }
  if (r.paren) return r.groups.size() >= 2 && r.groups.back() >= 3;
  // 415-555-0100, 010-8765 4321, 0755-86001234, 06 12 34 56 78, 020 7946 0958
  if (r.groups.back() < 2 || r.groups[0] > 5) return false;
  if (r.groups[0] == 1 && r.digits[0] != '0' && !phone_context(t, i)) return false;
  return true;
}

// ---- names ----------------------------------------------------------------------------------

bool is_cjk(char32_t cp) { return (cp >= 0x3400 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF); }

std::vector<std::string> name_variants(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  auto add = [&](std::string v) {
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(std::move(v));
  };
  for (const auto& raw : names) {
    std::string name;
    for (char c : raw) name += (c == '\t' || c == '\n') ? ' ' : c;
    while (!name.empty() && name.back() == ' ') name.pop_back();
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    if (name.empty() || name.find('@') != std::string::npos) continue;
    // Code points of the name: all CJK -> surname + given name; else words.
    std::vector<std::string> cps;
    bool all_cjk = true;
    for (std::size_t k = 0; k < name.size();) {
      std::size_t s = k;
      char32_t cp = utf8::next(name, k);
      cps.emplace_back(name.substr(s, k - s));
      if (!is_cjk(cp)) all_cjk = false;
    }
    if (all_cjk) {
      if (cps.size() < 2 || cps.size() > 4) continue;
      add(name);
      std::string given;
      for (std::size_t k = 1; k < cps.size(); ++k) given += cps[k];
      if (cps.size() >= 3) add(given);
      for (const char* title : {"先生", "女士", "小姐", "老师", "经理", "总"}) add(cps[0] + title);
      continue;
    }
    add(name);
    std::size_t k = 0;
    while (k < name.size()) {
      std::size_t e = name.find(' ', k);
      if (e == std::string::npos) e = name.size();
      std::string word = name.substr(k, e - k);
      while (!word.empty() && (word.back() == '.' || word.back() == ',')) word.pop_back();
      if (word.size() >= 2) add(word);
      k = e + 1;
    }
  }
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

std::string scrub_names(const std::string& text, const std::vector<std::string>& names) {
  if (names.empty()) return text;
  const auto variants = name_variants(names);
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    bool hit = false;
    for (const auto& v : variants) {
      if (i + v.size() > text.size()) continue;
      const bool latin = static_cast<unsigned char>(v[0]) < 0x80;
      bool eq = true;
      for (std::size_t k = 0; k < v.size() && eq; ++k)
        eq = latin ? lower(text[i + k]) == lower(v[k]) : text[i + k] == v[k];
      if (!eq) continue;
      if (latin) {
        // A whole word, written with a capital (so "will" is not the name Will).
        if (i > 0 && (is_alnum(text[i - 1]) || text[i - 1] == '_')) continue;
        if (i + v.size() < text.size() && (is_alnum(text[i + v.size()]) || text[i + v.size()] == '_')) continue;
        if (!(text[i] >= 'A' && text[i] <= 'Z')) continue;
      }
      out += "[name]";
      i += v.size();
      hit = true;
      break;
    }
    if (hit) continue;
    // Advance one whole character.
    std::size_t k = i;
    utf8::next(text, k);
    out.append(text, i, k - i);
    i = k;
  }
  return out;
}

}  // namespace

std::string scrub_pii(std::string_view t, const std::vector<std::string>& names) {
  std::string out;
  out.reserve(t.size());
  std::size_t i = 0;
  while (i < t.size()) {
    const char c = t[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      std::size_t k = i;
      utf8::next(t, k);
      out.append(t.substr(i, k - i));
      i = k;
      continue;
    }
    if (std::size_t e = match_email(t, i)) {
      out += "[email]";
      i = e;
      continue;
    }
    if (is_alpha(c)) {
      if (std::size_t e = match_iban(t, i)) {
        out += "[iban]";
        i = e;
        continue;
      }
    }
    if (is_hex(c) || c == ':') {
      if (std::size_t e = match_ipv6(t, i)) {
        out += "[ip]";
        i = e;
        continue;
      }
    }
    if (is_digit(c)) {
      if (std::size_t e = match_ipv4(t, i)) {
        out += "[ip]";
        i = e;
        continue;
      }
      if (std::size_t e = match_cn_id(t, i)) {
        out += "[id]";
        i = e;
        continue;
      }
    }
    if ((is_digit(c) || c == '+' || c == '(') && starts_token(t, i) && (c != '+' || (i + 1 < t.size() && is_digit(t[i + 1])))) {
      const digit_run r = read_run(t, i);
      if (r.end > i && ends_token(t, r.end)) {
        if (is_card(r)) {
          out += "[card]";
          i = r.end;
          continue;
        }
        if (is_phone(t, i, r)) {
          out += "[phone]";
          i = r.end;
          continue;
        }
      }
      // Not PII: copy the whole run (and a word glued to it) so its tail is not re-read as a
      // shorter number.
      if (r.end > i && is_digit(c)) {
        std::size_t e = r.end;
        while (e < t.size() && is_alnum(t[e])) ++e;
        out.append(t.substr(i, e - i));
        i = e;
        continue;
      }
    }
    if (is_alnum(c)) {
      // Copy the rest of the word: PII does not start inside a word.
      std::size_t e = i;
      while (e < t.size() && (is_alnum(t[e]) || t[e] == '_')) ++e;
      out.append(t.substr(i, e - i));
      i = e;
      continue;
    }
    out += c;
    ++i;
  }
  return scrub_names(out, names);
}

}  // namespace closeloop
