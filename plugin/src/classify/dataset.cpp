// Reading labelled text (CSV/TSV with a header, JSON lines, a JSON list of pairs); see dataset.hpp.
#include "closeloop/dataset.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

namespace closeloop {
namespace {

using nlohmann::json;

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Length of the valid UTF-8 sequence at s[i], or 0 when the bytes there are not one.
std::size_t utf8_len(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  std::size_t n = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((b(k) & 0xC0) != 0x80) return 0;
  if (n == 3 && c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
  if (n == 3 && c == 0xED && b(1) >= 0xA0) return 0;  // surrogate
  if (n == 4 && c == 0xF0 && b(1) < 0x90) return 0;  // overlong
  if (n == 4 && c == 0xF4 && b(1) >= 0x90) return 0;  // > U+10FFFF
  return n;
}

std::string line_error(std::string_view name, std::size_t line, std::string_view what) {
  return std::string(name) + ":" + std::to_string(line) + ": " + std::string(what);
}

// Picks the first alias present in `names`; returns its index.
std::optional<std::size_t> find_column(const std::vector<std::string>& names, const std::vector<std::string>& aliases) {
  for (const auto& a : aliases) {
    auto la = lower_ascii(a);
    for (std::size_t i = 0; i < names.size(); ++i)
      if (lower_ascii(clean_text(names[i])) == la) return i;
  }
  return std::nullopt;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

class row_sink {
 public:
  explicit row_sink(dataset& d, std::size_t max_rows) : d_(d), max_rows_(max_rows) {}
  // false: the label is empty (the caller reports it)
  bool add(std::string_view text, std::string_view label) {
    bool cut = false;
    std::string t = clean_text(text, max_text_bytes, &cut);
    std::string l = clean_text(label, 256);
    if (l.empty()) return false;
    if (cut) ++d_.truncated;
    if (t.empty()) {
      ++d_.skipped_empty;
      return true;
    }
    d_.rows.push_back({std::move(t), std::move(l)});
    return true;
  }
  bool full() const { return max_rows_ != 0 && d_.rows.size() >= max_rows_; }

 private:
  dataset& d_;
  std::size_t max_rows_;
};

// RFC 4180 records. Quoted fields may contain the separator, "" and newlines; CRLF and LF both end
// a record; a quote inside an unquoted field is kept as a character.
class csv_reader {
 public:
  csv_reader(std::string_view s, char sep) : s_(s), sep_(sep) {}
  std::size_t line() const { return line_; }

  // Reads the next record into `fields`; false at the end. Sets err_ on an unterminated quote.
  bool next(std::vector<std::string>& fields, std::string& err, std::size_t& record_line) {
    fields.clear();
    if (pos_ >= s_.size()) return false;
    record_line = line_;
    std::string field;
    while (true) {
      if (pos_ < s_.size() && s_[pos_] == '"') {
        std::size_t open_line = line_;
        ++pos_;
        while (true) {
          if (pos_ >= s_.size()) {
            err = "a quoted field opened on line " + std::to_string(open_line) + " is never closed";
            return false;
          }
          char c = s_[pos_++];
          if (c == '"') {
            if (pos_ < s_.size() && s_[pos_] == '"') {
              field += '"';
              ++pos_;
            } else {
              break;
            }
          } else {
            if (c == '\n') ++line_;
            field += c;
          }
        }
        // Anything between the closing quote and the separator is kept (lenient).
        while (pos_ < s_.size() && s_[pos_] != sep_ && s_[pos_] != '\n' && s_[pos_] != '\r') field += s_[pos_++];
      } else {
        while (pos_ < s_.size() && s_[pos_] != sep_ && s_[pos_] != '\n' && s_[pos_] != '\r') field += s_[pos_++];
      }
      fields.push_back(std::move(field));
      field.clear();
      if (pos_ >= s_.size()) return true;
      char c = s_[pos_++];
      if (c == sep_) continue;
      if (c == '\r' && pos_ < s_.size() && s_[pos_] == '\n') ++pos_;
      ++line_;
      return true;
    }
  }

 private:
  std::string_view s_;
  char sep_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

result<dataset> parse_delimited(std::string_view s, std::string_view name, char sep, const dataset_options& opt) {
  dataset d;
  d.format = sep == '\t' ? "tsv" : "csv";
  csv_reader rd(s, sep);
  std::vector<std::string> header, fields;
  std::string err;
  std::size_t rec_line = 1;
  if (!rd.next(header, err, rec_line)) {
    if (!err.empty()) return make_error(errc::invalid_argument, line_error(name, rec_line, err));
    return make_error(errc::invalid_argument, line_error(name, 1, "empty file: expected a header naming the text and label columns"));
  }
  auto ti = find_column(header, opt.text_columns);
  auto li = find_column(header, opt.label_columns);
  if (!ti || !li)
    return make_error(errc::invalid_argument,
                      line_error(name, 1, std::string("the header must name a ") + (!ti ? "text" : "label") +
                                              " column (one of: " + join(!ti ? opt.text_columns : opt.label_columns) +
                                              "); found: " + join(header)));
  d.text_column = clean_text(header[*ti]);
  d.label_column = clean_text(header[*li]);
  row_sink sink(d, opt.max_rows);
  while (!sink.full()) {
    if (!rd.next(fields, err, rec_line)) {
      if (!err.empty()) return make_error(errc::invalid_argument, line_error(name, rec_line, err));
      break;
    }
    if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
    if (fields.size() != header.size())
      return make_error(errc::invalid_argument,
                        line_error(name, rec_line,
                                   "expected " + std::to_string(header.size()) + " fields as in the header, found " +
                                       std::to_string(fields.size()) +
                                       (sep == ',' ? " (a field holding a comma must be quoted)" : "")));
    if (!sink.add(fields[*ti], fields[*li]))
      return make_error(errc::invalid_argument, line_error(name, rec_line, "empty label in column " + d.label_column));
  }
  return d;
}

// One JSON value (object with text/label keys, or [text, label]) into the sink; returns an error text.
std::string add_json_item(const json& item, const dataset_options& opt, row_sink& sink, dataset& d) {
  auto as_text = [](const json& v) -> std::optional<std::string> {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number() || v.is_boolean()) return v.dump();
    return std::nullopt;
  };
  std::optional<std::string> text, label;
  if (item.is_array()) {
    if (item.size() < 2) return "expected [text, label], found an array of " + std::to_string(item.size());
    text = as_text(item[0]);
    label = as_text(item[1]);
    if (!text) return "the text (first element) must be a string";
  } else if (item.is_object()) {
    for (const auto& k : opt.text_columns)
      if (auto it = item.find(k); it != item.end()) {
        text = as_text(*it);
        if (!text) return "\"" + k + "\" must be a string";
        d.text_column = k;
        break;
      }
    for (const auto& k : opt.label_columns)
      if (auto it = item.find(k); it != item.end()) {
        label = as_text(*it);
        d.label_column = k;
        break;
      }
    if (!text) return "no text key (one of: " + join(opt.text_columns) + ")";
  } else {
    return std::string("expected an object or [text, label], found ") + item.type_name();
  }
  if (!label) return "no label (one of: " + join(opt.label_columns) + ", a string or a number)";
  if (!sink.add(*text, *label)) return "empty label";
  return {};
}

std::size_t line_of_offset(std::string_view s, std::size_t off) {
  off = std::min(off, s.size());
  return 1 + static_cast<std::size_t>(std::count(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(off), '\n'));
}

result<dataset> parse_json_list(std::string_view s, std::string_view name, const dataset_options& opt) {
  dataset d;
  d.format = "json";
  json doc;
  try {
    doc = json::parse(s.begin(), s.end());
  } catch (const json::parse_error& e) {
    return make_error(errc::invalid_argument, line_error(name, line_of_offset(s, e.byte == 0 ? 0 : e.byte - 1),
                                                         std::string("invalid JSON: ") + e.what()));
  }
  if (!doc.is_array())
    return make_error(errc::invalid_argument, line_error(name, 1, "expected a JSON list of [text, label] pairs"));
  row_sink sink(d, opt.max_rows);
  std::size_t index = 0;
  for (const auto& item : doc) {
    if (sink.full()) break;
    if (auto e = add_json_item(item, opt, sink, d); !e.empty())
      return make_error(errc::invalid_argument, line_error(name, 1, "item " + std::to_string(index) + ": " + e));
    ++index;
  }
  return d;
}

result<dataset> parse_json_lines(std::string_view s, std::string_view name, const dataset_options& opt) {
  dataset d;
  d.format = "jsonl";
  row_sink sink(d, opt.max_rows);
  std::size_t line = 0, pos = 0;
  while (pos < s.size() && !sink.full()) {
    std::size_t end = s.find('\n', pos);
    if (end == std::string_view::npos) end = s.size();
    std::string_view ln = s.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (ln.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    json item;
    try {
      item = json::parse(ln.begin(), ln.end());
    } catch (const json::parse_error& e) {
      return make_error(errc::invalid_argument, line_error(name, line, std::string("invalid JSON: ") + e.what()));
    }
    if (!item.is_object())
      return make_error(errc::invalid_argument, line_error(name, line, "expected a JSON object with text and label"));
    if (auto e = add_json_item(item, opt, sink, d); !e.empty())
      return make_error(errc::invalid_argument, line_error(name, line, e));
  }
  return d;
}

}  // namespace

dataset_options dataset_options_for_task(std::string_view task) {
  dataset_options o;
  if (task == "category") o.label_columns = {"category", "intent", "cat", "label"};
  return o;
}

std::string clean_text(std::string_view in, std::size_t max_bytes, bool* truncated) {
  std::string out;
  out.reserve(std::min(in.size(), max_bytes));
  if (truncated) *truncated = false;
  for (std::size_t i = 0; i < in.size();) {
    std::size_t n = utf8_len(in, i);
    std::string_view piece;
    char space = ' ';
    if (n == 0) {
      piece = "\xEF\xBF\xBD";  // U+FFFD
      n = 1;
    } else if (n == 1) {
      unsigned char c = static_cast<unsigned char>(in[i]);
      piece = (c < 0x20 || c == 0x7F) ? std::string_view(&space, 1) : in.substr(i, 1);
    } else if (n == 3 && in.compare(i, 3, "\xEF\xBB\xBF") == 0) {
      piece = {};  // U+FEFF
    } else if (n == 2 && static_cast<unsigned char>(in[i]) == 0xC2 && static_cast<unsigned char>(in[i + 1]) < 0xA0) {
      piece = std::string_view(&space, 1);  // C1 controls U+0080..U+009F
    } else {
      piece = in.substr(i, n);
    }
    i += n;
    if (piece == " " && (out.empty() || out.back() == ' ')) continue;  // collapse and left-trim
    if (out.size() + piece.size() > max_bytes) {
      if (truncated) *truncated = true;
      break;
    }
    out += piece;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

result<dataset> parse_dataset(std::string_view content, std::string_view name, const dataset_options& opt) {
  std::string_view s = content;
  if (s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  const std::string lname = lower_ascii(name);
  std::size_t first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos)
    return make_error(errc::invalid_argument, line_error(name, 1, "empty file: no rows"));
  if (ends_with(lname, ".jsonl") || ends_with(lname, ".ndjson")) return parse_json_lines(s, name, opt);
  if (ends_with(lname, ".tsv")) return parse_delimited(s, name, '\t', opt);
  if (ends_with(lname, ".csv")) return parse_delimited(s, name, ',', opt);
  if (s[first] == '[') return parse_json_list(s, name, opt);
  if (s[first] == '{') {
    // A single JSON object spread over lines is not JSON lines; the per-line parse names the line.
    return parse_json_lines(s, name, opt);
  }
  std::string_view header = s.substr(0, s.find('\n'));
  return parse_delimited(s, name, header.find('\t') != std::string_view::npos ? '\t' : ',', opt);
}

result<dataset> read_dataset(const std::string& path, const dataset_options& opt) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(errc::not_found, path + ": cannot open the file");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return make_error(errc::invalid_argument, path + ": read error");
  return parse_dataset(content, path, opt);
}

}  // namespace closeloop
