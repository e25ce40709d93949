// The hosted survey page over real sockets: the form token (CSRF), double submits, the logic
// jump, and every kind of bad input answered with a clear page and status and nothing stored.
#include <catch2/catch.hpp>

#include "harness.hpp"
#include "survey_form.hpp"
#include "../adapters/loopback_server.hpp"
#include "server/survey.hpp"

using namespace closeloop;
using namespace closeloop::itest;

namespace {

std::string link_for(const server_process& srv, const std::string& ticket, const std::string& kind = "csat",
                     const std::string& lang = "en", std::int64_t ttl = 3600) {
  server::survey::link_claims c{std::string(tenant_id), std::string(host_id), ticket, kind, lang, unix_now() + ttl};
  return srv.base_url() + "/s/" + server::survey::make_token(survey_link_secret, c);
}

std::int64_t answers_stored(const server_process& srv, const std::string& ticket) {
  db_view db(srv.db_path());
  return db.scalar("SELECT count(*) FROM events WHERE host_event_id LIKE 'survey:" + ticket + ":%'");
}

bool has(const adapters::http::response& r, std::string_view text) { return r.body.find(text) != std::string::npos; }

struct page_server {
  temp_dir dir{"survey-page"};
  test::loopback_server sink;
  std::unique_ptr<server_process> srv;
  page_server() {
    config_options co;
    co.endpoint_url = sink.url("/actions");
    srv = std::make_unique<server_process>(dir, make_config(co));
    srv->start();
  }
};

}  // namespace

TEST_CASE("survey page: accessible markup, a one-click low score shows the reasons at once, HEAD and 405",
          "[integration][survey]") {
  page_server s;
  const std::string link = link_for(*s.srv, "a1");
  auto page = http_get(link);
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(has(*page, "<html lang=\"en\">"));
  CHECK(has(*page, "name=\"viewport\" content=\"width=device-width,initial-scale=1\""));
  CHECK(has(*page, "<fieldset id=\"q-score\" aria-describedby=\"score-ends\"><legend>"));
  for (int v = 1; v <= 5; ++v)
    CHECK(has(*page, "<label for=\"score-" + std::to_string(v) + "\"><input type=\"radio\" id=\"score-" +
                         std::to_string(v) + "\""));
  CHECK(has(*page, "<label for=\"comment\">"));
  CHECK(has(*page, ":focus-visible"));
  CHECK_FALSE(has(*page, "name=\"reasons\""));  // the follow-up is not asked before a low score
  CHECK_FALSE(has(*page, "maxlength"));          // an over-long comment is refused with a message, never cut
  const auto* csp = page->header("content-security-policy");
  REQUIRE(csp);
  CHECK(csp->find("form-action 'self'") != std::string::npos);

  auto low = http_get(link + "?score=2");
  REQUIRE(low);
  CHECK(has(*low, "value=\"2\" checked"));
  CHECK(has(*low, "name=\"_why\" value=\"1\""));
  CHECK(has(*low, "<input type=\"checkbox\" id=\"reasons-slow\" name=\"reasons\" value=\"slow\">"
                  "<label for=\"reasons-slow\">It took too long</label>"));
  auto high = http_get(link + "?score=5");
  REQUIRE(high);
  CHECK_FALSE(has(*high, "name=\"reasons\""));
  auto junk = http_get(link + "?score=%3Cscript%3E");
  REQUIRE(junk);
  CHECK(junk->status == 200);
  CHECK_FALSE(has(*junk, " checked>"));  // no radio preselected (the CSS has :checked)
  CHECK_FALSE(has(*junk, "script"));

  adapters::http::request head;
  head.method = "HEAD";
  head.url = link;
  auto h = make_client(5s).send(head);
  REQUIRE(h);
  CHECK(h->status == 200);
  CHECK(h->body.empty());
  adapters::http::request put;
  put.method = "PUT";
  put.url = link;
  auto p = make_client(5s).send(put);
  REQUIRE(p);
  CHECK(p->status == 405);
  CHECK(answers_stored(*s.srv, "a1") == 0);
}

TEST_CASE("survey page: a double submit of one form is stored once; a new form is a new submission",
          "[integration][survey]") {
  page_server s;
  const std::string link = link_for(*s.srv, "d1");
  auto page = http_get(link + "?score=5");
  REQUIRE(page);
  const survey_form f = form_of(page->body);
  REQUIRE(f.sid.size() == 32);
  const std::string form = f.fields() + "&score=5&comment=Quick+and+kind%2C+thanks%21";
  // What a browser sends for our own page: Origin = this server.
  const adapters::header_list origin = {{"origin", s.srv->base_url()}};
  auto first = post_form(link, form, origin);
  auto second = post_form(link, form, origin);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->status == 200);
  CHECK(second->status == 200);
  CHECK(has(*first, "Your answer has been recorded"));
  CHECK(has(*second, "Your answer has been recorded"));
  CHECK(answers_stored(*s.srv, "d1") == 1);
  db_view db(s.srv->db_path());
  CHECK(db.events_with_id("survey:d1:0:" + f.sid) == 1);

  auto other = answer_survey(link, "score=4");
  REQUIRE(other);
  CHECK(other->status == 200);
  CHECK(answers_stored(*s.srv, "d1") == 2);
}

TEST_CASE("survey page: bad input gets a clear page and status, and nothing is stored", "[integration][survey]") {
  page_server s;
  const std::string link = link_for(*s.srv, "b1");
  auto page = http_get(link);
  REQUIRE(page);
  const survey_form f = form_of(page->body);
  REQUIRE(!f.csrf.empty());

  SECTION("no form token, a wrong one, one made for another link, another site's Origin: 403") {
    auto none = post_form(link, "score=5");
    REQUIRE(none);
    CHECK(none->status == 403);
    CHECK(has(*none, "This form was not sent from this page"));
    CHECK(has(*none, "value=\"5\" checked"));  // the answers are kept, with a fresh token
    CHECK(!form_of(none->body).csrf.empty());

    std::string wrong = f.csrf;
    wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
    auto bad = post_form(link, "_sid=" + f.sid + "&_csrf=" + wrong + "&score=5");
    REQUIRE(bad);
    CHECK(bad->status == 403);

    const std::string other_link = link_for(*s.srv, "b2");
    auto other = http_get(other_link);
    REQUIRE(other);
    auto crossed = post_form(link, form_of(other->body).fields() + "&score=5");
    REQUIRE(crossed);
    CHECK(crossed->status == 403);

    auto evil = post_form(link, f.fields() + "&score=5", {{"origin", "https://evil.example"}});
    REQUIRE(evil);
    CHECK(evil->status == 403);
    auto evil_ref = post_form(link, f.fields() + "&score=5", {{"referer", "https://evil.example/page"}});
    REQUIRE(evil_ref);
    CHECK(evil_ref->status == 403);
  }

  SECTION("a score out of range, not a number or sent twice: 400, the form again with an error summary") {
    for (const std::string score : {"score=0", "score=6", "score=abc", "score=", "score=3&score=4", "comment=x"}) {
      auto r = post_form(link, f.fields() + "&" + score);
      REQUIRE(r);
      INFO(score);
      CHECK(r->status == 400);
      CHECK(has(*r, "<div class=\"summary\" role=\"alert\""));
      CHECK(has(*r, "<a href=\"#score-1\">Please choose a score.</a>"));
      CHECK(has(*r, "aria-describedby=\"score-ends score-err\""));
    }
  }

  SECTION("a comment over 4000 characters: 400 naming the count, the text kept, not cut") {
    std::string long_comment;
    for (int i = 0; i < 4001; ++i) long_comment += "%C3%A9";  // é: 4001 code points, 8002 bytes
    auto r = post_form(link, f.fields() + "&score=4&comment=" + long_comment);
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(has(*r, "has 4001 characters; the limit is 4000"));
    CHECK(has(*r, "<a href=\"#comment\">"));
    std::string kept;
    for (int i = 0; i < 4001; ++i) kept += "\xC3\xA9";
    CHECK(has(*r, ">" + kept + "</textarea>"));
    CHECK(has(*r, "aria-invalid=\"true\""));
  }

  SECTION("an unknown question, a reason that is no option, invalid UTF-8, not a form: 400/415") {
    auto unknown = post_form(link, f.fields() + "&score=4&colour=blue");
    REQUIRE(unknown);
    CHECK(unknown->status == 400);
    CHECK(has(*unknown, "unknown question &quot;colour&quot;"));

    auto reason = post_form(link, f.fields() + "&score=1&_why=1&reasons=slow&reasons=%3Cb%3Ebogus%3C%2Fb%3E");
    REQUIRE(reason);
    CHECK(reason->status == 400);
    CHECK(has(*reason, "<a href=\"#reasons-not_solved\">"));
    CHECK_FALSE(has(*reason, "<b>bogus"));

    auto utf8 = post_form(link, f.fields() + "&score=4&comment=caf%C3%A9+%FF%FE");
    REQUIRE(utf8);
    CHECK(utf8->status == 400);
    CHECK(has(*utf8, "not valid UTF-8"));

    auto overlong = post_form(link, f.fields() + "&score=4&comment=%C0%AF");
    REQUIRE(overlong);
    CHECK(overlong->status == 400);

    adapters::http::request req;
    req.method = "POST";
    req.url = link;
    req.headers.emplace_back("content-type", "text/plain");
    req.body = f.fields() + "&score=4";
    auto plain = make_client(5s).send(req);
    REQUIRE(plain);
    CHECK(plain->status == 415);
  }

  SECTION("markup in answers is escaped wherever it is shown back") {
    auto r = post_form(link, f.fields() + "&score=9&comment=%3C%2Ftextarea%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(has(*r, "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;</textarea>"));
    CHECK_FALSE(has(*r, "<script>"));
  }

  CHECK(answers_stored(*s.srv, "b1") == 0);

  // After all that, the same form still answers, with a comment of exactly 4000 characters.
  std::string max_comment;
  for (int i = 0; i < 4000; ++i) max_comment += "%E5%A5%BD";  // 好
  auto ok = post_form(link, f.fields() + "&score=4&comment=" + max_comment);
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(answers_stored(*s.srv, "b1") == 1);
}

TEST_CASE("survey page: unknown survey 404, expired 410 and forged 403, in the link's language",
          "[integration][survey]") {
  page_server s;
  auto unknown = http_get(link_for(*s.srv, "u1", "poll"));
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
  CHECK(has(*unknown, "This survey does not exist any more"));

  auto expired = http_get(link_for(*s.srv, "u1", "csat", "zh-TW", -60));
  REQUIRE(expired);
  CHECK(expired->status == 410);
  CHECK(has(*expired, "<html lang=\"zh-Hant\">"));
  CHECK(has(*expired, "此調查連結已過期"));
  auto expired_post = post_form(link_for(*s.srv, "u1", "csat", "zh-TW", -60), "score=5");
  REQUIRE(expired_post);
  CHECK(expired_post->status == 410);

  server::survey::link_claims c{"acme", "generic", "u1", "csat", "zh-CN", unix_now() + 3600};
  auto forged = http_get(s.srv->base_url() + "/s/" + server::survey::make_token("not the tenant's secret", c));
  REQUIRE(forged);
  CHECK(forged->status == 403);
  CHECK(has(*forged, "<html lang=\"zh-Hans\">"));
  CHECK(has(*forged, "此调查链接无效"));
  CHECK(answers_stored(*s.srv, "u1") == 0);
}

TEST_CASE("survey opt-out: the invitation's link asks on GET, records only a POST with its form token, "
          "works from an expired link, and stops the customer's later surveys",
          "[integration][survey][privacy]") {
  page_server s;
  const std::string email = "cora.optout@example.org";
  auto send = [&](const std::string& id, json ev) {
    ev["requester"] = {{"id", "cust-o"}, {"email", email}, {"name", "Cora Optout"}, {"role", "customer"}};
    auto r = post_signed(*s.srv, id, ev.dump());
    REQUIRE(r);
    REQUIRE(r->status == 202);
  };
  auto consents = [&] { return db_view(s.srv->db_path()).scalar("SELECT count(*) FROM privacy_consent"); };
  send("c-o1", event_json("ticket.created", "o1", "The printer on floor 2 is jammed again."));
  send("s-o1", event_json("ticket.solved", "o1"));
  json inv;
  REQUIRE(eventually(
      [&] {
        for (const auto& r : s.sink.requests()) {
          json j = json::parse(r.body, nullptr, false);
          if (j.is_discarded()) continue;
          const json& a = j.contains("action") ? j["action"] : j;
          if (a.value("type", "") == "send_survey" && a.value("ticket_id", "") == "o1") inv = a["params"];
        }
        return !inv.is_null();
      },
      15s));
  const std::string link = inv.value("link", "");
  const std::string stop = inv.value("opt_out_link", "");
  INFO("invitation: " << inv.dump());
  REQUIRE(stop == link + "/opt-out");
  CHECK(inv.value("body", "").find("Rather not get these surveys? Stop them here: " + stop) != std::string::npos);

  // GET asks and records nothing (mail scanners and link previews fetch links).
  auto ask = http_get(stop);
  REQUIRE(ask);
  CHECK(ask->status == 200);
  CHECK(has(*ask, "<button type=\"submit\""));
  CHECK(has(*ask, "Stop satisfaction surveys to this e-mail address?"));
  CHECK(consents() == 0);
  // A POST without this page's form token, or from another site, changes nothing.
  auto forged = post_form(stop, "_csrf=" + std::string(64, 'a'), {{"origin", s.srv->base_url()}});
  REQUIRE(forged);
  CHECK(forged->status == 403);
  std::smatch m;
  REQUIRE(std::regex_search(ask->body, m, std::regex("name=\"_csrf\" value=\"([0-9a-f]+)\"")));
  const std::string csrf = m[1];
  auto other_site = post_form(stop, "_csrf=" + csrf, {{"origin", "https://evil.example"}});
  REQUIRE(other_site);
  CHECK(other_site->status == 403);
  CHECK(consents() == 0);
  // A tampered link: refused.
  auto tampered = http_get(link.substr(0, link.size() - 3) + "AAA/opt-out");
  REQUIRE(tampered);
  CHECK(tampered->status == 403);

  // An expired link still lets the customer stop surveys (we signed it).
  const std::string expired = link_for(*s.srv, "o1", "csat", "en", -3600) + "/opt-out";
  auto old_page = http_get(expired);
  REQUIRE(old_page);
  CHECK(old_page->status == 200);
  REQUIRE(std::regex_search(old_page->body, m, std::regex("name=\"_csrf\" value=\"([0-9a-f]+)\"")));
  auto done = post_form(expired, "_csrf=" + std::string(m[1]), {{"origin", s.srv->base_url()}});
  REQUIRE(done);
  INFO("server: " << s.srv->stderr_text());
  CHECK(done->status == 200);
  CHECK(has(*done, "we will not send you satisfaction surveys any more"));
  db_view db(s.srv->db_path());
  CHECK(db.scalar("SELECT count(*) FROM privacy_consent WHERE status = 'opted_out' AND source = 'survey_page'") == 1);
  CHECK(db.scalar("SELECT count(*) FROM audit_log WHERE action = 'privacy.opt_out' AND actor = 'customer'") == 1);
  CHECK(db.scalar("SELECT count(*) FROM audit_log WHERE target LIKE '%" + email + "%' OR detail LIKE '%" + email +
                  "%'") == 0);

  // Her next solved ticket gets no survey: the engine reads the consent.
  send("c-o2", event_json("ticket.created", "o2", "Floor 2 printer jammed once more."));
  send("s-o2", event_json("ticket.solved", "o2"));
  REQUIRE(eventually(
      [&] {
        return db_view(s.srv->db_path()).scalar("SELECT count(*) FROM surveys WHERE ticket_id = 'o2' AND status = 'skipped'"
                                                " AND note LIKE '%opted out%'") == 1;
      },
      15s));
}
