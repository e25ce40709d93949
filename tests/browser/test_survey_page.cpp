// The hosted survey page in a real headless Chromium (Debian's chromium + chromedriver, W3C
// WebDriver), against the real `closeloop serve`: a Traditional Chinese ticket is created and
// solved, serve sends the invitation (generic host -> a loopback receiver), and its signed link is
// opened at 360 CSS px and answered with the keyboard only. Screenshots land in
// CLOSELOOP_ARTIFACTS_DIR/browser/ (<build>/artifacts/browser/).
#include <catch2/catch.hpp>

#include "../adapters/loopback_server.hpp"
#include "webdriver.hpp"

using namespace closeloop;
using namespace closeloop::itest;
using closeloop::browser::webdriver;
namespace keys = closeloop::browser::keys;

namespace {

const fs::path artifacts = fs::path(CLOSELOOP_ARTIFACTS_DIR) / "browser";

json send_survey_params(const test::loopback_server& sink, const std::string& ticket) {
  for (const auto& r : sink.requests()) {
    json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded()) continue;
    const json& a = j.contains("action") ? j["action"] : j;
    if (a.value("type", "") == "send_survey" && a.value("ticket_id", "") == ticket) return a["params"];
  }
  return nullptr;
}

void send(const server_process& srv, const std::string& id, const json& ev) {
  auto r = post_signed(srv, id, ev.dump());
  INFO("POST " << id << ": " << (r ? std::to_string(r->status) + " " + r->body : r.err().message));
  REQUIRE(r);
  REQUIRE(r->status == 202);
}

// The page at 360 px: nothing wider than the viewport, and every control has an accessible name.
void check_layout_and_names(webdriver& wd, const std::string& step, bool has_controls = true) {
  json w = wd.execute(
      "return {inner: window.innerWidth, client: document.documentElement.clientWidth,"
      " scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth};");
  INFO(step << ": widths " << w.dump());
  CHECK(w["inner"] == 360);
  CHECK(w["scroll"].get<int>() <= w["client"].get<int>());
  CHECK(w["body"].get<int>() <= w["client"].get<int>());
  auto controls = wd.find_all("input:not([type=hidden]), textarea, button, select");
  CHECK(controls.empty() != has_controls);
  for (const auto& e : controls) {
    const std::string label = wd.computed_label(e);
    INFO(step << ": control " << wd.attribute(e, "id") << " (" << wd.computed_role(e) << ") named \"" << label
              << "\"");
    CHECK(!label.empty());
  }
}

// The element that has keyboard focus, and whether a focus ring is drawn around it (the score
// radios are visually hidden, their box is the next sibling).
json focused(webdriver& wd) {
  return wd.execute(
      "const e = document.activeElement;"
      "const shown = e.type === 'radio' && e.nextElementSibling && e.nextElementSibling.classList.contains('box')"
      "  ? e.nextElementSibling : e;"
      "const s = getComputedStyle(shown);"
      "return {tag: e.tagName.toLowerCase(), id: e.id, name: e.name || '', checked: !!e.checked,"
      "        outline: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth)};");
}

}  // namespace

TEST_CASE("browser: a zh-TW customer answers the survey with the keyboard only at 360 px", "[browser][survey]") {
  temp_dir dir("browser");
  test::loopback_server sink;
  config_options co;
  co.endpoint_url = sink.url("/actions");
  co.survey_delay_s = 1;
  server_process srv(dir, make_config(co));
  srv.start();

  const std::string ticket = "tw1";
  json created = event_json("ticket.created", ticket,
                            "您好，我的帳單被重複扣款了兩次，請幫我退款。這個問題已經發生過好幾次，非常困擾。");
  created["subject"] = "帳單重複扣款";
  created["requester"]["name"] = "陳小姐";
  send(srv, "c-" + ticket, created);
  send(srv, "s-" + ticket, event_json("ticket.solved", ticket));
  json inv;
  REQUIRE(eventually([&] { return !(inv = send_survey_params(sink, ticket)).is_null(); }, 15s));
  INFO("invitation: " << inv.dump());
  const std::string link = inv.value("link", "");
  REQUIRE(link.rfind(srv.base_url() + "/s/cl1.", 0) == 0);
  CHECK(inv.value("body", "").find("您對獲得的協助滿意嗎") != std::string::npos);

  fs::remove_all(artifacts);
  webdriver wd(dir, 360, 740);
  wd.navigate(link);
  CHECK(wd.title() == "我們做得怎麼樣？");
  CHECK(wd.execute("return document.documentElement.lang;") == "zh-Hant");
  check_layout_and_names(wd, "form");
  wd.screenshot(artifacts / "01-form.png");

  // Tab into the score group (the first radio), arrow right once: 2 of 5, a low score.
  wd.press(keys::tab);
  json f = focused(wd);
  INFO("focus after Tab: " << f.dump());
  CHECK(f["id"] == "score-1");
  CHECK(f["outline"] != "none");
  CHECK(f["outlineWidth"].get<double>() >= 2.0);
  wd.press(keys::arrow_right);
  f = focused(wd);
  CHECK(f["id"] == "score-2");
  CHECK(f["checked"] == true);
  wd.screenshot(artifacts / "02-score-chosen.png");

  // Tab to the comment, type it, Tab to the button, Enter.
  wd.press(keys::tab);
  CHECK(focused(wd)["id"] == "comment");
  const std::string comment = "等了三天才有人回覆。";
  wd.type(comment);
  wd.press(keys::tab);
  CHECK(focused(wd)["tag"] == "button");
  wd.press(keys::enter);

  // The logic jump: a low score brings the reasons list (second step, rendered by the server).
  REQUIRE(eventually([&] { return wd.find_all("input[name=reasons]").size() == 5; }, 10s));
  CHECK(wd.page_source().find("第 2 步，共 2 步") != std::string::npos);
  CHECK(wd.execute("return document.getElementById('comment').value;") == comment);
  check_layout_and_names(wd, "second step");
  wd.screenshot(artifacts / "03-why.png");

  // Tab: the checked score radio, Tab: the first reason (not solved), Space ticks it; Tab: the
  // second (too slow), Space; Tab x3 past the others to the comment.
  wd.press(keys::tab);
  CHECK(focused(wd)["id"] == "score-2");
  wd.press(keys::tab);
  CHECK(focused(wd)["id"] == "reasons-not_solved");
  wd.press(keys::space);
  wd.press(keys::tab);
  CHECK(focused(wd)["id"] == "reasons-slow");
  wd.press(keys::space);
  wd.screenshot(artifacts / "04-reasons-chosen.png");
  wd.press(keys::tab, 4);
  CHECK(focused(wd)["id"] == "comment");
  wd.press(keys::tab);
  CHECK(focused(wd)["tag"] == "button");
  wd.press(keys::enter);

  REQUIRE(eventually([&] { return wd.page_source().find("感謝您的回饋") != std::string::npos; }, 10s));
  CHECK(wd.execute("return document.documentElement.lang;") == "zh-Hant");
  CHECK(wd.find_all("form").empty());
  check_layout_and_names(wd, "thank-you", false);
  wd.screenshot(artifacts / "05-thanks.png");

  // Recorded once, with everything the customer chose.
  SQLite::Database raw(srv.db_path().string(), SQLite::OPEN_READONLY, 5000);
  SQLite::Statement q(raw, "SELECT body FROM events WHERE host_event_id LIKE 'survey:tw1:%'");
  std::vector<json> answers;
  while (q.executeStep()) answers.push_back(json::parse(q.getColumn(0).getString()));
  REQUIRE(answers.size() == 1);
  const json data = answers[0].value("data", json::object());
  INFO("stored: " << answers[0].dump());
  CHECK(data["score"] == 2);
  CHECK(data["kind"] == "csat");
  CHECK(data["language"] == "zh-TW");
  CHECK(data["comment"] == comment);
  CHECK(data["answers"]["reasons"] == json::array({"not_solved", "slow"}));
  CHECK(data["submission_id"].get<std::string>().size() == 32);

  // The answer reached the helpdesk: CSAT 2 written back and the ticket reopened for follow-up.
  REQUIRE(eventually(
      [&] {
        for (const auto& r : sink.requests())
          if (r.body.find("\"reopen\"") != std::string::npos && r.body.find("tw1") != std::string::npos) return true;
        return false;
      },
      10s));
}
