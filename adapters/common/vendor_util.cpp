#include "common/vendor_util.hpp"

#include <charconv>

#include "closeloop/utf8.hpp"
#include "common/crypto.hpp"
#include "common/headers.hpp"

namespace closeloop::adapters::util {

result<const std::string*> string_setting(const json& obj, const char* name, const std::string& key) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return static_cast<const std::string*>(nullptr);
  if (!it->is_string()) return config_error(key, std::string("expected a string, got ") + it->type_name());
  if (it->get_ref<const std::string&>().empty()) return config_error(key, "must not be empty");
  return it->get_ptr<const std::string*>();
}

result<const json*> object_setting(const json& obj, const char* name, const std::string& key) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return static_cast<const json*>(nullptr);
  if (!it->is_object()) return config_error(key, std::string("expected an object, got ") + it->type_name());
  return &*it;
}

result<void> only_keys(const json& obj, std::initializer_list<std::string_view> allowed, const std::string& key) {
  for (const auto& [k, v] : obj.items()) {
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) return config_error(key + "." + k, "unknown key");
  }
  return {};
}

std::string parser_message(const std::exception& e) {
  std::string_view what = e.what();
  if (!what.empty() && what.front() == '[') {
    if (auto close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
  }
  return std::string(what);
}

namespace {
std::optional<std::int64_t> positive_id(const json& v) {
  std::int64_t n = 0;
  if (v.is_number_integer()) {
    n = v.get<std::int64_t>();
  } else if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (!all_digits(s) || s.size() > 18 || std::from_chars(s.data(), s.data() + s.size(), n).ec != std::errc()) {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  if (n <= 0) return std::nullopt;
  return n;
}
}  // namespace

result<std::optional<std::int64_t>> id_setting(const json& obj, const char* name, const std::string& key) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return std::optional<std::int64_t>();
  auto id = positive_id(*it);
  if (!id) return config_error(key, "expected a positive integer id, got " + describe_value(*it));
  return std::optional<std::int64_t>(*id);
}

result<std::map<std::string, std::int64_t>> id_map_setting(const json& obj, const char* name, const std::string& key) {
  std::map<std::string, std::int64_t> out;
  auto o = object_setting(obj, name, key);
  if (!o) return std::move(o).err();
  if (*o == nullptr) return out;
  for (const auto& [k, v] : (*o)->items()) {
    if (k.empty()) return config_error(key, "names must not be empty");
    auto id = positive_id(v);
    if (!id) return config_error(key + "." + k, "expected a positive integer id, got " + describe_value(v));
    out[k] = *id;
  }
  return out;
}

result<void> priority_map_setting(const json& obj, const std::string& key, std::int64_t lo, std::int64_t hi,
                                  std::int64_t (&values)[3]) {
  if (!obj.is_object()) return config_error(key, std::string("expected an object, got ") + obj.type_name());
  if (auto r = only_keys(obj, {"normal", "urgent", "critical"}, key); !r) return r;
  const char* names[3] = {"normal", "urgent", "critical"};
  for (int i = 0; i < 3; ++i) {
    auto v = obj.find(names[i]);
    if (v == obj.end()) continue;
    if (!v->is_number_integer() || v->get<std::int64_t>() < lo || v->get<std::int64_t>() > hi) {
      return config_error(key + "." + names[i],
                          "expected an integer " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
                              describe_value(*v));
    }
    values[i] = v->get<std::int64_t>();
  }
  return {};
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  if (auto hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (url_decode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
    }
  }
  return std::nullopt;
}

std::string scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return {};
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

std::optional<std::string> id_text(const json& v) {
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return std::to_string(v.get<std::int64_t>());
  if (v.is_string() && all_digits(v.get_ref<const std::string&>())) return v.get<std::string>();
  return std::nullopt;
}

namespace {
void escape_into(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
}

// One line: escaped, with bare http(s) URLs as links.
void line_to_html(std::string& out, std::string_view line) {
  std::size_t i = 0;
  while (i < line.size()) {
    std::size_t a = line.find("http://", i), b = line.find("https://", i);
    std::size_t start = std::min(a, b);
    if (start == std::string_view::npos) {
      escape_into(out, line.substr(i));
      return;
    }
    escape_into(out, line.substr(i, start - i));
    std::size_t end = start;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t' && line[end] != '<' && line[end] != '>' &&
           line[end] != '"') {
      ++end;
    }
    std::string_view url = line.substr(start, end - start);
    out += "<a href=\"";
    escape_into(out, url);
    out += "\">";
    escape_into(out, url);
    out += "</a>";
    i = end;
  }
}
}  // namespace

std::string text_to_html(std::string_view text) {
  std::string out;
  std::string_view rest = text;
  bool open = false;
  bool first_line = true;
  while (true) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      if (open) out += "</p>";
      open = false;
    } else {
      if (!open) {
        out += "<p>";
        open = true;
      } else if (!first_line) {
        out += "<br>";
      }
      line_to_html(out, line);
    }
    first_line = line.empty();
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  if (open) out += "</p>";
  return out;
}

namespace {
bool block_tag(std::string_view name) {
  static constexpr std::string_view blocks[] = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                                                "blockquote", "pre", "ul", "ol", "table", "hr"};
  return std::find(std::begin(blocks), std::end(blocks), name) != std::end(blocks);
}

// Decodes the entity starting at s[i] == '&'; returns the characters consumed (0: not an entity).
std::size_t decode_entity(std::string_view s, std::size_t i, std::string& out) {
  auto semi = s.find(';', i);
  if (semi == std::string_view::npos || semi - i > 10) return 0;
  std::string_view name = s.substr(i + 1, semi - i - 1);
  static constexpr std::pair<std::string_view, std::string_view> named[] = {
      {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}, {"nbsp", " "}, {"#39", "'"}};
  for (const auto& [n, v] : named) {
    if (name == n) {
      out += v;
      return semi - i + 1;
    }
  }
  if (name.size() >= 2 && name[0] == '#') {
    std::uint32_t cp = 0;
    std::string_view digits = name.substr(1);
    int base = 10;
    if (!digits.empty() && (digits[0] == 'x' || digits[0] == 'X')) {
      digits.remove_prefix(1);
      base = 16;
    }
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, base);
    if (ec != std::errc() || p != digits.data() + digits.size() || digits.empty()) return 0;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    utf8::append(out, cp);
    return semi - i + 1;
  }
  return 0;
}
}  // namespace

std::string html_to_text(std::string_view html) {
  std::string raw;
  raw.reserve(html.size());
  for (std::size_t i = 0; i < html.size();) {
    char c = html[i];
    if (c == '<') {
      auto close = html.find('>', i);
      if (close == std::string_view::npos) break;  // an unterminated tag: drop the rest
      std::string_view tag = html.substr(i + 1, close - i - 1);
      if (!tag.empty() && tag.front() == '/') tag.remove_prefix(1);
      std::string name;
      for (char t : tag) {
        if (!((t >= 'a' && t <= 'z') || (t >= 'A' && t <= 'Z') || (t >= '0' && t <= '9'))) break;
        name += ascii_lower(t);
      }
      if (name == "script" || name == "style") {
        // Skip the element's content too.
        auto end = html.find("</" + name, close);
        close = end == std::string_view::npos ? html.size() - 1 : html.find('>', end);
        if (close == std::string_view::npos) break;
      } else if (block_tag(name)) {
        raw += '\n';
      }
      i = close + 1;
    } else if (c == '&') {
      std::size_t n = decode_entity(html, i, raw);
      if (n == 0) {
        raw += '&';
        i += 1;
      } else {
        i += n;
      }
    } else {
      raw += c;
      ++i;
    }
  }
  // Collapse spaces around newlines and runs of blank lines.
  std::string out;
  std::size_t newlines = 0;
  for (char c : raw) {
    if (c == '\r') continue;
    if (c == '\n') {
      while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
      ++newlines;
      continue;
    }
    if (newlines > 0) {
      if (!out.empty()) out += newlines > 1 ? "\n\n" : "\n";
      newlines = 0;
      if (c == ' ' || c == '\t') continue;
    }
    out += c;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\n' || out.back() == '\t')) out.pop_back();
  std::size_t lead = 0;
  while (lead < out.size() && (out[lead] == ' ' || out[lead] == '\t')) ++lead;
  return out.substr(lead);
}

bool link_has_next(const http::response& r) {
  for (const auto& [name, value] : r.headers) {
    if (!iequals(name, "link")) continue;
    std::string v = to_lower(value);
    if (v.find("rel=\"next\"") != std::string::npos || v.find("rel=next") != std::string::npos) return true;
  }
  return false;
}

std::string idempotency_marker(std::string_view idempotency_key) {
  return "closeloop-ref:" + crypto::hex_encode(crypto::hmac_sha256("closeloop", idempotency_key)).substr(0, 16);
}

std::string string_param(const action& a, const char* name) {
  auto it = a.params.find(name);
  if (it == a.params.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

timestamp system_now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

result<json> parse_json_body(const std::string& body) {
  try {
    return json::parse(body);
  } catch (const json::parse_error& e) {
    return make_error(errc::invalid_argument, "body is not valid JSON: " + parser_message(e));
  }
}

bool ok(const result<http::response>& r) { return r && r->status >= 200 && r->status < 300; }

json parse_or_null(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const std::exception&) {
    return json();
  }
}

bool printable_token(const std::string& s) {
  return std::none_of(s.begin(), s.end(), [](unsigned char c) { return c <= ' ' || c >= 0x7f; });
}

result<std::string> root_url_setting(const json& obj, const std::string& key, std::string_view api_suffix,
                                     const char* example) {
  auto base = string_setting(obj, "base_url", key);
  if (!base) return std::move(base).err();
  if (*base == nullptr) return config_error(key, std::string("required (e.g. ") + example + ")");
  auto parsed = http::parse_url(**base);
  if (!parsed) return config_error(key, "expected an http(s) URL: " + parsed.err().message);
  if (parsed->target.find('?') != std::string::npos) return config_error(key, "must not carry a query string");
  std::string url = parsed->str();
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.ends_with(api_suffix)) return config_error(key, "give the root URL, without " + std::string(api_suffix));
  return url;
}

result<std::string> endpoint_ca_file(const json& host, const std::string& prefix) {
  auto ep = object_setting(host, "endpoint", prefix + ".endpoint");
  if (!ep) return std::move(ep).err();
  if (*ep == nullptr) return std::string();
  if (auto r = only_keys(**ep, {"ca_file"}, prefix + ".endpoint"); !r) return std::move(r).err();
  auto ca = string_setting(**ep, "ca_file", prefix + ".endpoint.ca_file");
  if (!ca) return std::move(ca).err();
  return *ca == nullptr ? std::string() : **ca;
}

http::request json_request(std::string method, std::string url, const std::string& authorization, const json* body) {
  http::request req;
  req.method = std::move(method);
  req.url = std::move(url);
  req.headers.emplace_back("authorization", authorization);
  req.headers.emplace_back("accept", "application/json");
  if (body != nullptr) {
    req.headers.emplace_back("content-type", "application/json; charset=utf-8");
    // Invalid UTF-8 in a free-text field must not throw: replace it.
    req.body = body->dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return req;
}

std::optional<action_outcome> precheck(const action& a, const std::string& tenant, const std::string& host,
                                       std::string_view vendor_label) {
  if (a.idempotency_key.empty()) return action_outcome::failed("action has no idempotency_key");
  if ((!a.tenant.empty() && a.tenant != tenant) || (!a.host.empty() && a.host != host)) {
    return action_outcome::failed("action for " + a.tenant + "/" + a.host + " sent to the adapter of " + tenant + "/" + host);
  }
  const bool ticketless = a.type == action_type::create_kb_article || a.type == action_type::raise_alert;
  if (!ticketless && (!all_digits(a.ticket_id) || a.ticket_id.size() > 18)) {
    return action_outcome::failed("ticket_id \"" + a.ticket_id + "\" is not a " + std::string(vendor_label) + " ticket id");
  }
  return std::nullopt;
}

action_outcome dispatch(const action& a, const std::string& tenant, const std::string& host, std::string_view vendor,
                        std::string_view vendor_label, const action_handlers& h) {
  if (auto refused = precheck(a, tenant, host, vendor_label)) return *refused;
  try {
    switch (a.type) {
      case action_type::set_priority:
        return h.set_priority(a);
      case action_type::set_fields:
        return h.set_fields(a);
      case action_type::add_internal_note:
      case action_type::post_public_reply:
      case action_type::send_survey: {
        const std::string body = string_param(a, "body");
        if (body.empty()) {
          return action_outcome::failed(a.type == action_type::send_survey
                                            ? std::string("send_survey needs the invitation text (params.body)")
                                            : std::string(to_string(a.type)) + ": params.body is required");
        }
        return h.post_message(a, a.type != action_type::add_internal_note, body);
      }
      case action_type::assign_group:
        return h.assign_group(a);
      case action_type::reopen:
        return h.reopen(a);
      case action_type::create_kb_article:
        return h.create_kb_article(a);
      default:  // schedule/cancel survey, alerts, suggestions: closeloop's own work
        break;
    }
    return action_outcome::failed(std::string(to_string(a.type)) + " is not carried out by the " + std::string(vendor) +
                                  " adapter (closeloop handles it itself)");
  } catch (const std::exception& e) {
    return action_outcome::failed(std::string("cannot execute ") + std::string(to_string(a.type)) + ": " + e.what());
  }
}

result<const http::response*> reached(const result<http::response>& r, const std::string& url,
                                      std::string_view vendor_label, const std::string& vendor_message) {
  if (!r) return make_error(r.err().code, "GET " + url + ": " + r.err().message, r.err().retryable);
  if (r->status == 401 || r->status == 403) {
    return make_error(errc::unauthorized, "GET " + url + ": " + std::string(vendor_label) + " refused the credentials: HTTP " +
                                              std::to_string(r->status) + ": " + vendor_message);
  }
  if (r->status < 200 || r->status >= 300) {
    return make_error(errc::upstream, "GET " + url + ": HTTP " + std::to_string(r->status) + ": " + vendor_message,
                      r->status >= 500 || r->status == 408 || r->status == 425 || r->status == 429);
  }
  return &*r;
}

}  // namespace closeloop::adapters::util
