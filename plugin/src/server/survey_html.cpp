#include "server/survey_html.hpp"

#include <algorithm>
#include <chrono>

#include <openssl/rand.h>

#include "closeloop/utf8.hpp"
#include "common/crypto.hpp"

namespace closeloop::server::survey::html {
// ---------------------------------------------------------------------------------------------
// text helpers

void append_escaped(std::string& out, std::string_view s) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char* rep = nullptr;
    switch (s[i]) {
      case '&': rep = "&amp;"; break;
      case '<': rep = "&lt;"; break;
      case '>': rep = "&gt;"; break;
      case '"': rep = "&quot;"; break;
      case '\'': rep = "&#39;"; break;
      default: continue;
    }
    out.append(s.substr(start, i - start));
    out += rep;
    start = i + 1;
  }
  out.append(s.substr(start));
}

std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  append_escaped(out, s);
  return out;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    const std::size_t before = i;
    const char32_t cp = utf8::next(s, i);
    // next() decodes a bad sequence as U+FFFD advancing one byte; a real U+FFFD takes three.
    if (cp == 0xFFFD && i - before != 3) return false;
  }
  return true;
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
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
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}


}  // namespace

form_fields parse_form(std::string_view form) {
  form_fields out;
  while (!form.empty()) {
    const auto amp = form.find('&');
    const std::string_view pair = form.substr(0, amp);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      out.emplace_back(url_decode(pair.substr(0, eq)),
                       eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    form.remove_prefix(amp + 1);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// origins (the survey page's and the agent sidebar's forms)

std::string origin_of(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  const auto path = url.find('/', scheme + 3);
  std::string out(url.substr(0, path));
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool same_origin(const http_request& req, services& svc) {
  std::string claimed;
  if (auto o = req.find(http::field::origin); o != req.end()) claimed = origin_of(std::string(o->value()) + "/");
  else if (auto r = req.find(http::field::referer); r != req.end()) claimed = origin_of(r->value());
  else return true;
  if (claimed.empty() || claimed == "null") return false;
  if (claimed == origin_of(svc.public_base_url())) return true;
  if (auto h = req.find(http::field::host); h != req.end()) {
    std::string host(h->value());
    for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return claimed == "http://" + host || claimed == "https://" + host;
  }
  return false;
}

// A form's submission id: 32 hex characters from RAND_bytes.
std::string new_submission_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // RAND_bytes only fails without entropy; fall back to a time+address mix (still unique enough
    // for one form: it only needs to differ between two submissions of the same link).
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    for (std::size_t i = 0; i < sizeof bytes; ++i) bytes[i] = static_cast<unsigned char>(now >> (8 * (i % 8)) ^ i);
  }
  return adapters::crypto::hex_encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

bool valid_submission_id(std::string_view sid) {
  return sid.size() == 32 && std::all_of(sid.begin(), sid.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// ---------------------------------------------------------------------------------------------
// responses

http_response html_response(const http_request& req, http::status status, std::string body) {
  http_response res{status, req.version()};
  res.set(http::field::server, "closeloop");
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  // same-origin: the token in the URL never leaves for another site, and our own POST carries an
  // Origin we can check (with no-referrer, browsers send "Origin: null").
  res.set("Referrer-Policy", "same-origin");
  res.set("X-Frame-Options", "DENY");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Content-Security-Policy",
          "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  res.keep_alive(req.keep_alive());
  if (req.method() == http::verb::head) body.clear();
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

namespace {

constexpr std::string_view k_style =
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,-apple-system,\"Segoe UI\",\"Noto Sans CJK SC\",\"Noto Sans CJK TC\",sans-serif;"
    "font-size:1rem;line-height:1.5;max-width:36rem;margin:0 auto;padding:1rem;color:#1d2330;background:#fff}"
    "h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.1rem;margin:0 0 .4rem}"
    "fieldset,.q{border:0;padding:0;margin:0 0 1.4rem;min-width:0}legend{font-weight:600;padding:0;margin-bottom:.4rem}"
    ".scores{display:flex;flex-wrap:wrap;gap:.4rem;margin:.4rem 0}"
    ".scores label{position:relative;flex:1 0 2.75rem}"
    ".scores input{position:absolute;top:0;left:0;width:1px;height:1px;opacity:0;margin:0}"
    ".scores .box{display:block;text-align:center;padding:.65rem 0;border:2px solid #5d6678;border-radius:.4rem;"
    "cursor:pointer;font-weight:600}"
    ".scores input:checked+.box{background:#1a5fd0;color:#fff;border-color:#1a5fd0}"
    ".scores input:focus-visible+.box{outline:3px solid #b35c00;outline-offset:2px}"
    ".ends{display:flex;justify-content:space-between;gap:1rem;font-size:.875rem;color:#4d5566}"
    ".opt{display:flex;align-items:flex-start;gap:.5rem;margin:.35rem 0}"
    ".opt input{width:1.25rem;height:1.25rem;margin:.15rem 0 0;flex:none}"
    "input:focus-visible,textarea:focus-visible,button:focus-visible,a:focus-visible{outline:3px solid #b35c00;"
    "outline-offset:2px}"
    "label{cursor:pointer}.hint{font-size:.875rem;color:#4d5566;margin:.1rem 0 .4rem}"
    "textarea{display:block;width:100%;min-height:7rem;font:inherit;padding:.5rem;border:2px solid #5d6678;"
    "border-radius:.4rem}"
    "button{font:inherit;font-weight:600;padding:.7rem 1.6rem;border:0;border-radius:.4rem;background:#1a5fd0;"
    "color:#fff;cursor:pointer}"
    ".err{color:#b42318;font-weight:600;margin:.2rem 0}"
    ".summary{border:3px solid #b42318;padding:.8rem 1rem;margin:0 0 1.4rem}.summary ul{margin:0;padding-left:1.2rem}"
    ".summary a{color:#b42318}.note{background:#eef3fb;border-left:4px solid #1a5fd0;padding:.6rem .8rem}"
    ".step{font-size:.875rem;color:#4d5566;margin:0}"
    ".vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}"
    ".msg{font-size:1.1rem}";

void open_page(std::string& out, std::string_view lang, std::string_view title) {
  out += "<!doctype html>\n<html lang=\"";
  append_escaped(out, lang);
  out += "\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
         "<meta name=\"robots\" content=\"noindex\"><title>";
  append_escaped(out, title);
  out += "</title><style>";
  out += k_style;
  out += "</style></head><body><main>";
}

void close_page(std::string& out) { out += "</main></body></html>\n"; }

}  // namespace

std::string message_page(std::string_view lang, const texts& t, std::string_view message, std::string_view detail,
                         std::string_view back_link) {
  std::string out;
  out.reserve(2048 + message.size());
  open_page(out, lang, t.title);
  out += "<h1>";
  append_escaped(out, t.title);
  out += "</h1><p class=\"msg\" role=\"status\">";
  append_escaped(out, message);
  out += "</p>";
  if (!detail.empty()) {
    out += "<p class=\"hint\"><code>";
    append_escaped(out, detail);
    out += "</code></p>";
  }
  if (!back_link.empty()) {
    out += "<p><a href=\"";
    append_escaped(out, back_link);
    out += "\">";
    append_escaped(out, t.title);
    out += "</a></p>";
  }
  close_page(out);
  return out;
}

std::string opt_out_page(std::string_view lang, const texts& t, std::string_view csrf, bool done) {
  std::string out;
  out.reserve(4096);
  open_page(out, lang, t.opt_out_title);
  out += "<h1>";
  append_escaped(out, t.opt_out_title);
  out += "</h1>";
  if (done) {
    out += "<p class=\"msg\" role=\"status\">";
    append_escaped(out, t.opt_out_done);
    out += "</p>";
  } else {
    out += "<form method=\"post\" action=\"\"><p id=\"q\">";
    append_escaped(out, t.opt_out_question);
    out += "</p><input type=\"hidden\" name=\"_csrf\" value=\"";
    append_escaped(out, csrf);
    out += "\"><button type=\"submit\" aria-describedby=\"q\">";
    append_escaped(out, t.opt_out_button);
    out += "</button></form>";
  }
  close_page(out);
  return out;
}

std::string form_token(std::string_view secret, std::string_view link_token, std::string_view sid) {
  std::string msg = "cl1-form\n";
  msg.append(link_token).append("\n").append(sid);
  return adapters::crypto::hex_encode(adapters::crypto::hmac_sha256(secret, msg));
}

// ---------------------------------------------------------------------------------------------
// the form




namespace {

bool has_value(const answers_map& m, std::string_view id, std::string_view v) {
  auto it = m.find(id);
  return it != m.end() && std::find(it->second.begin(), it->second.end(), v) != it->second.end();
}

// Whether a question is asked given the answers so far (its logic jump holds).
}  // namespace

bool visible(const page_question& q, const answers_map& values) {
  if (!q.conditional()) return true;
  auto it = values.find(q.show_if);
  if (it == values.end() || it->second.size() != 1) return false;
  auto n = parse_int_in(it->second[0], -1000000, 1000000);
  return n && (!q.show_if_at_least || *n >= *q.show_if_at_least) && (!q.show_if_at_most || *n <= *q.show_if_at_most);
}

bool jump_open(const page_definition& d, const answers_map& values) {
  return std::any_of(d.questions.begin(), d.questions.end(),
                     [&](const page_question& q) { return q.conditional() && visible(q, values); });
}

namespace {

const field_error* error_for(const form_view& f, std::string_view id) {
  for (const auto& e : f.errors)
    if (e.question_id == id) return &e;
  return nullptr;
}

void render_error(std::string& out, const field_error* e, const std::string& id) {
  if (!e) return;
  out += "<p class=\"err\" id=\"" + id + "-err\">";
  append_escaped(out, e->message);
  out += "</p>";
}

void render_question(std::string& out, const form_view& f, const page_question& q) {
  const field_error* e = error_for(f, q.id);
  const std::string id = esc(q.id);
  std::string described;
  if (!q.hint.empty()) described += id + "-hint";
  if (q.kind == page_question::type::scale) described += (described.empty() ? "" : " ") + id + "-ends";
  if (e) described += (described.empty() ? "" : " ") + id + "-err";
  const std::string aria = described.empty() ? "" : " aria-describedby=\"" + described + "\"";

  if (q.kind == page_question::type::free_text) {
    out += "<div class=\"q\"><label for=\"" + id + "\">";
    append_escaped(out, q.text);
    out += "</label>";
    if (!q.hint.empty()) {
      out += "<p class=\"hint\" id=\"" + id + "-hint\">";
      append_escaped(out, q.hint);
      out += "</p>";
    }
    render_error(out, e, id);
    out += "<textarea id=\"" + id + "\" name=\"" + id + "\" rows=\"5\"" + aria + (e ? " aria-invalid=\"true\"" : "") +
           ">";
    if (auto it = f.values.find(q.id); it != f.values.end() && !it->second.empty()) append_escaped(out, it->second[0]);
    out += "</textarea></div>";
    return;
  }

  out += "<fieldset id=\"q-" + id + "\"" + aria + "><legend>";
  append_escaped(out, q.text);
  out += "</legend>";
  if (!q.hint.empty()) {
    out += "<p class=\"hint\" id=\"" + id + "-hint\">";
    append_escaped(out, q.hint);
    out += "</p>";
  }
  render_error(out, e, id);
  if (q.kind == page_question::type::scale) {
    out += "<div class=\"scores\">";
    for (int v = q.lo; v <= q.hi; ++v) {
      const std::string n = std::to_string(v);
      out += "<label for=\"" + id + "-" + n + "\"><input type=\"radio\" id=\"" + id + "-" + n + "\" name=\"" + id +
             "\" value=\"" + n + "\"";
      if (has_value(f.values, q.id, n)) out += " checked";
      if (v == q.lo) out += " required";
      out += "><span class=\"box\">" + n + "</span>";
      if (v == q.lo || v == q.hi) {
        out += "<span class=\"vh\">, ";
        append_escaped(out, v == q.lo ? q.low_label : q.high_label);
        out += "</span>";
      }
      out += "</label>";
    }
    out += "</div><div class=\"ends\" id=\"" + id + "-ends\" aria-hidden=\"true\"><span>" + std::to_string(q.lo) +
           " = ";
    append_escaped(out, q.low_label);
    out += "</span><span>" + std::to_string(q.hi) + " = ";
    append_escaped(out, q.high_label);
    out += "</span></div></fieldset>";
    return;
  }
  const bool multiple = q.kind == page_question::type::multiple_choice;
  for (const auto& o : q.options) {
    const std::string oid = id + "-" + esc(o.value);
    out += "<div class=\"opt\"><input type=\"";
    out += multiple ? "checkbox" : "radio";
    out += "\" id=\"" + oid + "\" name=\"" + id + "\" value=\"" + esc(o.value) + "\"";
    if (has_value(f.values, q.id, o.value)) out += " checked";
    out += "><label for=\"" + oid + "\">";
    append_escaped(out, o.label);
    out += "</label></div>";
  }
  out += "</fieldset>";
}

}  // namespace

std::string form_page(const form_view& f) {
  const texts& t = *f.tx;
  const page_definition& d = *f.def;
  std::string out;
  out.reserve(8192);
  open_page(out, d.language, d.title);
  out += "<h1>";
  append_escaped(out, d.title);
  out += "</h1>";
  if (!f.errors.empty()) {
    out += "<div class=\"summary\" role=\"alert\" aria-labelledby=\"summary-title\"><h2 id=\"summary-title\">";
    append_escaped(out, t.error_title);
    out += "</h2><ul>";
    for (const auto& e : f.errors) {
      out += "<li><a href=\"#" + esc(e.anchor) + "\">";
      append_escaped(out, e.message);
      out += "</a></li>";
    }
    out += "</ul></div>";
  }
  if (f.already) {
    out += "<p class=\"note\">";
    append_escaped(out, t.already);
    out += "</p>";
  }
  if (f.second_step) {
    out += "<p class=\"step\">";
    append_escaped(out, replace_all(replace_all(t.step_of, "{n}", "2"), "{max}", "2"));
    out += "</p>";
  }
  out += "<form method=\"post\" accept-charset=\"utf-8\">";
  out += "<input type=\"hidden\" name=\"_sid\" value=\"" + f.sid + "\"><input type=\"hidden\" name=\"_csrf\" value=\"" +
         f.csrf + "\">";
  if (jump_open(d, f.values)) out += "<input type=\"hidden\" name=\"_why\" value=\"1\">";
  for (const auto& q : d.questions)
    if (visible(q, f.values)) render_question(out, f, q);
  out += "<button type=\"submit\">";
  append_escaped(out, t.submit);
  out += "</button></form>";
  close_page(out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// definitions

const page_question* find_question(const page_definition& d, std::string_view id) {
  for (const auto& q : d.questions)
    if (q.id == id) return &q;
  return nullptr;
}

std::optional<int> parse_int_in(std::string_view s, int lo, int hi) {
  if (s.empty() || s.size() > 3) return std::nullopt;
  int n = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return std::nullopt;
    n = n * 10 + (ch - '0');
  }
  if (n < lo || n > hi) return std::nullopt;
  return n;
}


}  // namespace closeloop::server::survey::html
