#include "server/survey.hpp"

#include <array>
#include <memory>

#include <spdlog/spdlog.h>

#include "common/crypto.hpp"

namespace closeloop::server::survey {
namespace {

namespace crypto = adapters::crypto;
constexpr std::string_view k_prefix = "cl1.";

std::string b64url(std::string_view bytes) {
  std::string s = crypto::base64_encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (auto& c : s) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return s;
}

result<std::string> b64url_decode(std::string_view text) {
  std::string s(text);
  for (auto& c : s) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (c == '+' || c == '/' || c == '=') return make_error(errc::invalid_argument, "not base64url");
  }
  while (s.size() % 4 != 0) s += '=';
  return crypto::base64_decode(s);
}

std::int64_t unix_seconds(timestamp t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// ---------------------------------------------------------------------------------------------
// texts

struct texts {
  const char* title;
  const char* greeting;  // "{name}" replaced; used with a name
  const char* greeting_anon;
  const char* resolved;  // "{subject}"
  const char* question_csat;
  const char* question_nps;
  const char* question_ces;
  std::array<const char*, 2> csat_ends, nps_ends, ces_ends;
  const char* or_open;
  const char* sign_off;
  const char* mail_subject;  // "{subject}"
  const char* comment_label;
  const char* submit;
  const char* thanks;
  const char* thanks_low;
  const char* already;
  const char* invalid;
  const char* expired;
  const char* pick_score;
};

const texts k_en = {
    "How did we do?",
    "Hello {name},",
    "Hello,",
    "your request \u201c{subject}\u201d has been resolved.",
    "How satisfied are you with the help you received?",
    "How likely are you to recommend us to a friend or colleague?",
    "How easy was it to get your request resolved?",
    {"very dissatisfied", "very satisfied"},
    {"not at all likely", "extremely likely"},
    {"very difficult", "very easy"},
    "Or answer and add a comment here:",
    "Thank you,\nthe support team",
    "How did we do? [{subject}]",
    "Anything you would like to add? (optional)",
    "Send",
    "Thank you! Your answer has been recorded.",
    "Thank you for telling us. We are sorry it was not better: someone from the team will get back to you.",
    "Thank you, we already have your answer for this request.",
    "This survey link is not valid.",
    "This survey link has expired.",
    "Please choose a score.",
};

const texts k_zh_hans = {
    "我们做得怎么样？",
    "{name}，您好：",
    "您好：",
    "您的请求\u201c{subject}\u201d已经解决。",
    "您对获得的帮助满意吗？",
    "您向朋友或同事推荐我们的可能性有多大？",
    "解决您的请求有多容易？",
    {"非常不满意", "非常满意"},
    {"完全不可能", "极有可能"},
    {"非常困难", "非常容易"},
    "也可以在这里回答并留下意见：",
    "谢谢！\n客服团队",
    "我们做得怎么样？[{subject}]",
    "还有什么想告诉我们的吗？（可选）",
    "提交",
    "谢谢！您的回答已记录。",
    "感谢您的反馈。很抱歉没有让您满意，我们的同事会尽快与您联系。",
    "谢谢，我们已经收到您对这个请求的回答。",
    "此调查链接无效。",
    "此调查链接已过期。",
    "请选择一个分数。",
};

const texts k_zh_hant = {
    "我們做得怎麼樣？",
    "{name}，您好：",
    "您好：",
    "您的請求\u201c{subject}\u201d已經解決。",
    "您對獲得的協助滿意嗎？",
    "您向朋友或同事推薦我們的可能性有多大？",
    "解決您的請求有多容易？",
    {"非常不滿意", "非常滿意"},
    {"完全不可能", "極有可能"},
    {"非常困難", "非常容易"},
    "也可以在這裡回答並留下意見：",
    "謝謝！\n客服團隊",
    "我們做得怎麼樣？[{subject}]",
    "還有什麼想告訴我們的嗎？（可選）",
    "提交",
    "謝謝！您的回答已記錄。",
    "感謝您的回饋。很抱歉沒有讓您滿意，我們的同事會盡快與您聯絡。",
    "謝謝，我們已經收到您對這個請求的回答。",
    "此調查連結無效。",
    "此調查連結已過期。",
    "請選擇一個分數。",
};

const texts& texts_for(std::string_view lang) {
  const std::string l = supported_language(lang);
  if (l == "zh-Hans") return k_zh_hans;
  if (l == "zh-Hant") return k_zh_hant;
  return k_en;
}

std::string replace_all(std::string s, std::string_view what, std::string_view with) {
  for (std::size_t pos = 0; (pos = s.find(what, pos)) != std::string::npos; pos += with.size())
    s.replace(pos, what.size(), with);
  return s;
}

const char* question(const texts& t, std::string_view kind) {
  return kind == "nps" ? t.question_nps : kind == "ces" ? t.question_ces : t.question_csat;
}

const std::array<const char*, 2>& ends(const texts& t, std::string_view kind) {
  return kind == "nps" ? t.nps_ends : kind == "ces" ? t.ces_ends : t.csat_ends;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

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
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// "a=1&b=x" -> value of `name` (first occurrence), url-decoded.
std::optional<std::string> form_value(std::string_view form, std::string_view name) {
  while (!form.empty()) {
    auto amp = form.find('&');
    std::string_view pair = form.substr(0, amp);
    auto eq = pair.find('=');
    if (url_decode(pair.substr(0, eq)) == name)
      return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    form.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// page

http_response html_response(const http_request& req, http::status status, const std::string& body) {
  http_response res{status, req.version()};
  res.set(http::field::server, "closeloop");
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.set("Referrer-Policy", "no-referrer");  // the token is in the URL
  res.set("X-Frame-Options", "DENY");
  res.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
  res.keep_alive(req.keep_alive());
  res.body() = req.method() == http::verb::head ? std::string() : body;
  res.prepare_payload();
  return res;
}

std::string page(const std::string& lang, const std::string& title, const std::string& inner) {
  return "<!doctype html>\n<html lang=\"" + html_escape(lang) +
         "\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
         "<title>" +
         html_escape(title) +
         "</title><style>"
         "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#1d2330}"
         "h1{font-size:1.4rem}.scores{display:flex;flex-wrap:wrap;gap:.4rem;margin:1rem 0}"
         ".scores label{flex:1 0 2.6rem;text-align:center}.scores input{position:absolute;opacity:0}"
         ".scores span{display:block;padding:.7rem 0;border:1px solid #8a94a6;border-radius:.4rem;cursor:pointer}"
         ".scores input:checked+span{background:#1f6feb;color:#fff;border-color:#1f6feb}"
         ".scores input:focus-visible+span{outline:3px solid #f0b400}"
         ".ends{display:flex;justify-content:space-between;font-size:.85rem;color:#5b6474}"
         "textarea{width:100%;min-height:6rem;font:inherit;margin:.3rem 0 1rem}"
         "button{font:inherit;padding:.6rem 1.4rem;border:0;border-radius:.4rem;background:#1f6feb;color:#fff}"
         ".msg{font-size:1.1rem}</style></head><body>" +
         inner + "</body></html>\n";
}

std::string message_page(const std::string& lang, const texts& t, const std::string& message) {
  return page(lang, t.title, "<h1>" + html_escape(t.title) + "</h1><p class=\"msg\" role=\"status\">" +
                                 html_escape(message) + "</p>");
}

std::string form_page(const link_claims& c, const texts& t, std::optional<int> chosen, const std::string& error) {
  auto [lo, hi] = survey_policy::score_range(c.kind);
  std::string inner = "<h1>" + html_escape(t.title) + "</h1><form method=\"post\"><fieldset style=\"border:0;padding:0\">"
                      "<legend><p>" + html_escape(question(t, c.kind)) + "</p></legend>";
  if (!error.empty()) inner += "<p role=\"alert\" style=\"color:#b42318\">" + html_escape(error) + "</p>";
  inner += "<div class=\"scores\">";
  for (int v = lo; v <= hi; ++v) {
    const std::string n = std::to_string(v);
    inner += "<label><input type=\"radio\" name=\"score\" value=\"" + n + "\"" +
             (chosen && *chosen == v ? " checked" : "") + " required><span>" + n + "</span></label>";
  }
  const auto& e = ends(t, c.kind);
  inner += "</div><div class=\"ends\"><span>" + std::to_string(lo) + " = " + html_escape(e[0]) + "</span><span>" +
           std::to_string(hi) + " = " + html_escape(e[1]) + "</span></div></fieldset>";
  inner += "<p><label for=\"comment\">" + html_escape(t.comment_label) +
           "</label><textarea id=\"comment\" name=\"comment\" maxlength=\"4000\"></textarea></p>"
           "<button type=\"submit\">" +
           html_escape(t.submit) + "</button></form>";
  return page(c.language, t.title, inner);
}

// The tenant's secret for a token, and the verified claims.
struct verified {
  link_claims claims;
  const tenant_runtime* tenant = nullptr;
};

result<verified> verify_for(services& svc, std::string_view token) {
  auto claims = read_token(token);
  if (!claims) return std::move(claims).err();
  tenant_runtime* t = svc.tenant(claims->tenant);
  if (!t || t->cfg->pol.survey.link_secret.empty() || !svc.adapter_for(claims->tenant, claims->host))
    return make_error(errc::unauthorized, "the link names no tenant/host that sends surveys");
  auto v = verify_token(token, t->cfg->pol.survey.link_secret, svc.clk().now());
  if (!v) return std::move(v).err();
  return verified{std::move(*v), t};
}

}  // namespace

std::string supported_language(std::string_view tag) {
  std::string l(tag);
  for (auto& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (l == "zh-hant" || l == "zh-tw" || l == "zh-hk" || l == "zh-mo" || l.starts_with("zh-hant-")) return "zh-Hant";
  if (l == "zh" || l.starts_with("zh-")) return "zh-Hans";
  return "en";
}

std::string make_token(std::string_view secret, const link_claims& c) {
  json j = {{"t", c.tenant}, {"h", c.host}, {"k", c.ticket}, {"s", c.kind}, {"l", c.language}, {"x", c.expires}};
  std::string body = std::string(k_prefix) + b64url(j.dump());
  return body + "." + b64url(crypto::hmac_sha256(secret, body));
}

result<link_claims> read_token(std::string_view token) {
  auto bad = [](std::string why) { return make_error(errc::unauthorized, "survey link: " + why); };
  if (!token.starts_with(k_prefix)) return bad("unknown format");
  auto dot = token.rfind('.');
  if (dot <= k_prefix.size()) return bad("no signature");
  auto raw = b64url_decode(token.substr(k_prefix.size(), dot - k_prefix.size()));
  if (!raw) return bad("claims are not base64url");
  try {
    json j = json::parse(*raw);
    link_claims c;
    c.tenant = j.at("t").get<std::string>();
    c.host = j.at("h").get<std::string>();
    c.ticket = j.at("k").get<std::string>();
    c.kind = j.at("s").get<std::string>();
    c.language = j.value("l", "en");
    c.expires = j.at("x").get<std::int64_t>();
    if (c.kind != "csat" && c.kind != "nps" && c.kind != "ces") return bad("unknown survey kind");
    return c;
  } catch (const std::exception&) {
    return bad("claims are not valid");
  }
}

result<link_claims> verify_token(std::string_view token, std::string_view secret, timestamp now) {
  auto c = read_token(token);
  if (!c) return c;
  auto dot = token.rfind('.');
  const std::string expected = b64url(crypto::hmac_sha256(secret, token.substr(0, dot)));
  if (!crypto::constant_time_equal(expected, token.substr(dot + 1)))
    return make_error(errc::unauthorized, "survey link: bad signature");
  if (unix_seconds(now) > c->expires) return make_error(errc::not_found, "survey link: expired");
  return c;
}

result<void> prepare_invitation(services& svc, action& a) {
  if (a.params.contains("body")) return {};
  tenant_runtime* t = svc.tenant(a.tenant);
  if (!t) return make_error(errc::invalid_config, "tenant \"" + a.tenant + "\" is not configured");
  const survey_policy& sp = t->cfg->pol.survey;
  if (sp.link_secret.empty()) {
    return make_error(errc::invalid_config, "tenants[" + a.tenant +
                                                "].policy.survey.link_secret is not set: no signed answer link "
                                                "can be made, so no invitation is sent");
  }
  link_claims c;
  c.tenant = a.tenant;
  c.host = a.host;
  c.ticket = a.ticket_id;
  c.kind = a.params.value("survey", sp.kind);
  c.language = supported_language(a.params.value("language", "en"));
  c.expires = unix_seconds(svc.clk().now()) + sp.link_ttl.count();
  const std::string link = svc.public_base_url() + "/s/" + make_token(sp.link_secret, c);
  const texts& tx = texts_for(c.language);
  const std::string subject = a.params.value("ticket_subject", "");
  std::string name = a.params.value("requester_name", "");
  if (name.find('@') != std::string::npos) name.clear();  // a bare address is no name to greet

  std::string body = name.empty() ? tx.greeting_anon : replace_all(tx.greeting, "{name}", name);
  body += "\n\n";
  if (!subject.empty()) body += replace_all(tx.resolved, "{subject}", subject) + " ";
  body += question(tx, c.kind);
  body += "\n\n";
  auto [lo, hi] = survey_policy::score_range(c.kind);
  const auto& e = ends(tx, c.kind);
  for (int v = hi; v >= lo; --v) {
    body += "  " + std::to_string(v);
    if (v == hi) body += std::string(" (") + e[1] + ")";
    if (v == lo) body += std::string(" (") + e[0] + ")";
    body += ": " + link + "?score=" + std::to_string(v) + "\n";
  }
  body += "\n" + std::string(tx.or_open) + " " + link + "\n\n" + tx.sign_off + "\n";
  a.params["link"] = link;
  a.params["subject"] = replace_all(tx.mail_subject, "{subject}", subject.empty() ? "#" + a.ticket_id : subject);
  a.params["body"] = std::move(body);
  return {};
}

void handle(const http_request& req, services& svc, respond_fn respond) {
  std::string_view target = req.target();
  std::string_view query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    query = target.substr(q + 1);
    target = target.substr(0, q);
  }
  const std::string token(target.substr(3));  // after "/s/"
  const bool post = req.method() == http::verb::post;
  if (!post && req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = json_error(req, http::status::method_not_allowed, "method_not_allowed", "use GET or POST");
    res.set(http::field::allow, "GET, HEAD, POST");
    respond(std::move(res));
    return;
  }
  auto v = verify_for(svc, token);
  if (!v) {
    auto claims = read_token(token);
    const std::string lang = claims ? supported_language(claims->language) : "en";
    const texts& tx = texts_for(lang);
    const bool expired = v.err().code == errc::not_found;
    svc.stats().inc("closeloop_survey_page_total", expired ? "result=\"expired\"" : "result=\"invalid_link\"");
    spdlog::warn("survey link refused: {}", v.err().message);
    respond(html_response(req, expired ? http::status::gone : http::status::forbidden,
                          message_page(lang, tx, expired ? tx.expired : tx.invalid)));
    return;
  }
  const link_claims c = v->claims;
  const texts& tx = texts_for(c.language);
  auto [lo, hi] = survey_policy::score_range(c.kind);
  auto parse_score = [lo = lo, hi = hi](const std::optional<std::string>& s) -> std::optional<int> {
    if (!s || s->empty() || s->size() > 2) return std::nullopt;
    int n = 0;
    for (char ch : *s) {
      if (ch < '0' || ch > '9') return std::nullopt;
      n = n * 10 + (ch - '0');
    }
    if (n < lo || n > hi) return std::nullopt;
    return n;
  };

  auto state = svc.db().state(c.tenant, c.host, c.ticket);
  if (state && state->survey == "answered") {
    svc.stats().inc("closeloop_survey_page_total", "result=\"already_answered\"");
    respond(html_response(req, http::status::ok, message_page(c.language, tx, tx.already)));
    return;
  }
  if (!post) {
    svc.stats().inc("closeloop_survey_page_total", "result=\"shown\"");
    respond(html_response(req, http::status::ok, form_page(c, tx, parse_score(form_value(query, "score")), "")));
    return;
  }
  const std::string& form = req.body();
  const auto score = parse_score(form_value(form, "score"));
  if (!score) {
    svc.stats().inc("closeloop_survey_page_total", "result=\"bad_score\"");
    respond(html_response(req, http::status::bad_request, form_page(c, tx, std::nullopt, tx.pick_score)));
    return;
  }
  std::string comment = form_value(form, "comment").value_or("");
  if (comment.size() > 4000) comment.resize(4000);

  event ev;
  ev.type = event_type::survey_answered;
  ev.tenant = c.tenant;
  ev.host = c.host;
  ev.ticket_id = c.ticket;
  // One answer per ticket and survey. Event ids are unique per tenant and host (not per ticket),
  // so the ticket is part of it: otherwise every later ticket's answer is a "duplicate" of the first.
  ev.host_event_id = "survey:" + c.ticket + ":" + c.kind;
  ev.occurred_at = svc.clk().now();
  ev.author.role = "customer";
  ev.data = {{"survey", c.kind}, {"score", *score}, {"language", c.language}};
  if (!comment.empty()) ev.data["comment"] = comment;
  const bool low = *score <= v->tenant->cfg->pol.survey.bad_at_or_below(c.kind);
  auto shared_respond = std::make_shared<respond_fn>(std::move(respond));
  auto req_copy = std::make_shared<http_request>(req);
  svc.db().ingest_async(ev, svc.decider(*v->tenant), ingest_options{},
                        [&svc, shared_respond, req_copy, c, low, ev](result<ingest_result> r) {
                          svc.post([&svc, shared_respond, req_copy, c, low, ev, r = std::move(r)]() mutable {
                            const texts& t = texts_for(c.language);
                            if (!r) {
                              spdlog::error("survey answer not stored tenant={} ticket={}: {}", c.tenant, c.ticket,
                                            r.err().message);
                              auto res = json_error(*req_copy, http::status::service_unavailable, "unavailable",
                                                    "the answer could not be stored; please try again");
                              res.set(http::field::retry_after, "1");
                              (*shared_respond)(std::move(res));
                              return;
                            }
                            svc.stats().inc("closeloop_survey_page_total",
                                            r->duplicate ? "result=\"already_answered\"" : "result=\"answered\"");
                            if (!r->duplicate)
                              spdlog::info("survey answered tenant={} host={} ticket={} survey={} score={} actions={}",
                                           c.tenant, c.host, c.ticket, c.kind, ev.data["score"].dump(),
                                           r->actions.size());
                            (*shared_respond)(html_response(
                                *req_copy, http::status::ok,
                                message_page(c.language, t, r->duplicate ? t.already : low ? t.thanks_low : t.thanks)));
                          });
                        });
}

}  // namespace closeloop::server::survey
