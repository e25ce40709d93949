// libFuzzer target: the survey page's form handling (server/survey_page.cpp, survey_html.cpp) -
// the query of GET /s/<token>?... and the body of POST /s/<token>, through the real handler with a
// real store (a SQLite file in a temp dir).
//
// Input: byte 0 picks the survey (bits 0-1: csat, nps, ces, the custom "onboarding" definition),
// the language (bits 2-3: en, zh-CN, zh-TW, de) and GET vs POST (bit 4); bit 5 set sends the rest
// as it is, otherwise the target prefixes the form's valid _sid and _csrf, so the answers get past
// the form token and are validated (and, when valid, recorded). The rest: the query (GET) or the
// form body (POST).
// Checks: exactly one response, soon; only the statuses the page documents; the HTML is valid UTF-8;
// nothing from the input comes back as markup (the marker "<fuzz" never appears unescaped).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>

#include "common/crypto.hpp"
#include "fuzz_support.hpp"
#include "server/survey.hpp"
#include "server/survey_html.hpp"
#include "server/survey_page.hpp"

namespace {

using namespace closeloop;
namespace srv = closeloop::server;
namespace crypto = closeloop::adapters::crypto;

constexpr const char* k_secret = "fuzz link secret, 32 characters!";

std::string config_json(const std::string& db) {
  return R"({"store": {"path": ")" + db + R"(", "synchronous": "normal"},
  "server": {"public_base_url": "http://127.0.0.1:9"},
  "tenants": [{"id": "acme",
    "hosts": [{"id": "generic", "vendor": "generic", "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
               "endpoint": {"url": "http://127.0.0.1:9/actions"}}],
    "policy": {"survey": {"enabled": true, "link_secret": ")" + std::string(k_secret) + R"(", "definitions": [{
      "id": "onboarding", "kind": "custom", "score_question": "stars", "fallback_language": "en",
      "title": {"en": "Your first week", "zh-CN": "您的第一周"},
      "questions": [
        {"id": "stars", "type": "scale", "min": 1, "max": 10, "required": true,
         "prompt": {"en": "How was it?", "zh-CN": "怎么样？"}},
        {"id": "channel", "type": "single", "prompt": {"en": "How did you reach us?"},
         "choices": [{"id": "mail", "label": {"en": "E-mail"}}, {"id": "phone", "label": {"en": "Phone"}}]},
        {"id": "why", "type": "multiple", "prompt": {"en": "What went wrong?"},
         "show_if": {"question": "stars", "at_most": 4},
         "choices": [{"id": "slow", "label": {"en": "Slow"}}, {"id": "rude", "label": {"en": "Rude"}}]},
        {"id": "words", "type": "text", "max_length": 5, "prompt": {"en": "Anything else?"}}]}]}}}]})";
}

srv::services& services() {
  static std::unique_ptr<srv::services> svc = [] {
    const char* base = std::getenv("TMPDIR");
    std::string dir = std::string(base && *base ? base : "/tmp") + "/closeloop-fuzz-survey-XXXXXX";
    if (!mkdtemp(dir.data())) fuzz::fail("mkdtemp " + dir);
    auto cfg = parse_config(config_json(dir + "/survey.db"));
    if (!cfg) fuzz::fail("config: " + cfg.err().message);
    auto s = srv::services::create(*cfg);
    if (!s) fuzz::fail("services: " + s.err().message);
    return std::move(*s);
  }();
  return *svc;
}

std::string form_token(const std::string& link_token, const std::string& sid) {
  return crypto::hex_encode(crypto::hmac_sha256(k_secret, "cl1-form\n" + link_token + "\n" + sid));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  srv::services& svc = services();
  const unsigned mode = data[0];
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  static const char* const kinds[] = {"csat", "nps", "ces", "onboarding"};
  static const char* const languages[] = {"en", "zh-CN", "zh-TW", "de"};
  srv::survey::link_claims c;
  c.tenant = "acme";
  c.host = "generic";
  c.ticket = "4711";
  c.kind = kinds[mode & 3];
  c.language = languages[(mode >> 2) & 3];
  c.expires = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                  .count() + 86400;
  const std::string token = srv::survey::make_token(k_secret, c);
  const bool post = mode & 16;
  const bool raw = mode & 32;

  srv::http_request req;
  req.version(11);
  req.set(srv::http::field::host, "127.0.0.1:9");
  if (post) {
    req.method(srv::http::verb::post);
    req.target("/s/" + token);
    req.set(srv::http::field::content_type, "application/x-www-form-urlencoded");
    const std::string sid = "0123456789abcdef0123456789abcdef";
    req.body() = raw ? rest : "_sid=" + sid + "&_csrf=" + form_token(token, sid) + "&" + rest;
  } else {
    req.method(srv::http::verb::get);
    req.target("/s/" + token + "?" + rest);
  }
  req.prepare_payload();

  auto answered = std::make_shared<std::promise<srv::http_response>>();
  auto calls = std::make_shared<int>(0);
  srv::survey::handle(req, svc, [answered, calls](srv::http_response res) {
    if (++*calls > 1) fuzz::fail("the survey page responded twice");
    answered->set_value(std::move(res));
  });
  auto f = answered->get_future();
  if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) fuzz::fail("the survey page never responded");
  const srv::http_response res = f.get();
  switch (res.result_int()) {
    case 200: case 303: case 400: case 403: case 404: case 410: case 415: break;
    default: fuzz::fail("unexpected status " + std::to_string(res.result_int()));
  }
  if (!srv::survey::html::valid_utf8(res.body())) fuzz::fail("the page is not valid UTF-8");
  if (res.body().find("<fuzz") != std::string::npos) fuzz::fail("input came back as markup (<fuzz)");
  return 0;
}
