#pragma once
// A list of HTTP header fields as (name, value) pairs. closeloop stores names lower-case; lookups
// are case-insensitive anyway so a caller that forgot to lower-case still finds the field.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace closeloop::adapters {

using header_list = std::vector<std::pair<std::string, std::string>>;

inline char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// The first field with this name, or nullptr.
inline const std::string* find_header(const header_list& headers, std::string_view name) noexcept {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return &v;
  }
  return nullptr;
}

}  // namespace closeloop::adapters
