// The agent sidebar in a real headless Chromium at a host sidebar's width (320 CSS px), against
// the real `closeloop serve`: an English and a Simplified Chinese ticket, each opened with a
// signed host context; the layout fits, every control is named, no script runs, and a category
// correction is made with the keyboard only (Tab to "Correct this", Enter, choose, Enter) and
// shown as recorded. Screenshots: CLOSELOOP_ARTIFACTS_DIR/browser/sidebar-*.png.
#include <catch2/catch.hpp>

#include "../adapters/loopback_server.hpp"
#include "server/sidebar_context.hpp"
#include "webdriver.hpp"

using namespace closeloop;
using namespace closeloop::itest;
using closeloop::browser::webdriver;
namespace keys = closeloop::browser::keys;

namespace {

const fs::path artifacts = fs::path(CLOSELOOP_ARTIFACTS_DIR) / "browser";
constexpr std::string_view secret = "sidebar secret for the browser test";

void post(const server_process& srv, const std::string& id, const json& ev) {
  auto r = post_signed(srv, id, ev.dump());
  INFO("POST " << id << ": " << (r ? std::to_string(r->status) + " " + r->body : r.err().message));
  REQUIRE(r);
  REQUIRE(r->status == 202);
}

std::string sidebar_url(const server_process& srv, const std::string& ticket, const std::string& lang) {
  server::sidebar::context c;
  c.tenant = std::string(tenant_id);
  c.host = std::string(host_id);
  c.ticket = ticket;
  c.agent = "alice";
  c.lang = lang;
  c.iat = unix_now();
  c.exp = c.iat + 300;
  std::string ctx = server::sidebar::sign_context(c, secret);
  return srv.base_url() + "/sidebar?ctx=" + ctx;  // base64url, '.', hex: nothing to escape
}

void check_fits_and_named(webdriver& wd, const std::string& step) {
  json w = wd.execute(
      "return {inner: window.innerWidth, client: document.documentElement.clientWidth,"
      " scroll: document.documentElement.scrollWidth, scripts: document.scripts.length,"
      " lang: document.documentElement.lang};");
  INFO(step << ": " << w.dump());
  CHECK(w["inner"] == 320);
  CHECK(w["scroll"].get<int>() <= w["client"].get<int>());
  CHECK(w["scripts"] == 0);
  // Controls inside a closed <details> are not rendered (no accessible name until opened).
  for (const auto& e : wd.find_all("summary, a, details[open] select, details[open] button")) {
    INFO(step << ": control " << wd.attribute(e, "id") << " (" << wd.computed_role(e) << ")");
    CHECK(!wd.computed_label(e).empty());
  }
}

}  // namespace

TEST_CASE("browser: the agent sidebar at 320 px in English and Chinese, corrected with the keyboard", "[browser][sidebar]") {
  temp_dir dir("browser-sidebar");
  test::loopback_server sink;
  config_options co;
  co.endpoint_url = sink.url("/actions");
  co.extra_tenant = {{"sidebar", {{"secret", secret}}}};
  server_process srv(dir, make_config(co));
  srv.start();
  fs::create_directories(artifacts);

  json en = event_json("ticket.created", "en1", "I was charged twice on my invoice and nobody answers. Terrible service, refund now!");
  en["requester"]["email"] = "ann@example.com";
  post(srv, "en1-created", en);
  json reopened = event_json("ticket.reopened", "en1");
  reopened["requester"]["email"] = "ann@example.com";
  post(srv, "en1-reopen-1", reopened);
  post(srv, "en1-reopen-2", reopened);
  json zh = event_json("ticket.created", "zh1", "我的账单扣款两次，请尽快退款。网站也无法访问，非常失望。");
  zh["subject"] = "账单重复扣款";
  zh["requester"]["email"] = "li@example.cn";
  post(srv, "zh1-created", zh);

  webdriver wd(dir, 320, 900);

  // English.
  wd.navigate(sidebar_url(srv, "en1", "en"));
  REQUIRE(wd.title().find("Ticket #en1") != std::string::npos);
  const std::string src = wd.page_source();
  CHECK(src.find("billing") != std::string::npos);
  CHECK(src.find("2 reopens") != std::string::npos);
  check_fits_and_named(wd, "en");
  wd.screenshot(artifacts / "sidebar-en.png");

  // Keyboard only: Tab to the first "Correct this" (the category), open it, pick the next
  // category, submit.
  json focus;
  for (int i = 0; i < 10; ++i) {
    wd.press(keys::tab);
    focus = wd.execute("const e = document.activeElement; return {tag: e.tagName.toLowerCase(), text: e.textContent};");
    if (focus["tag"] == "summary") break;
  }
  REQUIRE(focus["tag"] == "summary");
  CHECK(focus["text"].get<std::string>().find("Category") != std::string::npos);  // its accessible text names the field
  wd.press(keys::enter);
  wd.press(keys::tab);
  json sel = wd.execute("const e = document.activeElement; return {tag: e.tagName.toLowerCase(), value: e.value};");
  REQUIRE(sel["tag"] == "select");
  CHECK(sel["value"] == "billing");
  wd.press(keys::arrow_down);  // the next category after billing
  const std::string chosen = wd.execute("return document.activeElement.value;").get<std::string>();
  CHECK(chosen != "billing");
  wd.screenshot(artifacts / "sidebar-en-correct.png");
  wd.press(keys::tab);
  wd.press(keys::enter);
  for (int i = 0; i < 50 && wd.current_url().find("done=category") == std::string::npos; ++i)
    std::this_thread::sleep_for(100ms);
  CHECK(wd.current_url().find("done=category") != std::string::npos);
  const std::string after = wd.page_source();
  CHECK(after.find("Correction recorded") != std::string::npos);
  CHECK(after.find("corrected by an agent to") != std::string::npos);
  check_fits_and_named(wd, "en after");
  wd.screenshot(artifacts / "sidebar-en-recorded.png");

  // Simplified Chinese.
  wd.navigate(sidebar_url(srv, "zh1", "zh-CN"));
  const std::string zsrc = wd.page_source();
  CHECK(zsrc.find("lang=\"zh-Hans\"") != std::string::npos);
  CHECK(zsrc.find("分类") != std::string::npos);
  CHECK(zsrc.find("优先级") != std::string::npos);
  check_fits_and_named(wd, "zh-CN");
  wd.screenshot(artifacts / "sidebar-zh.png");
}
