// closeloop's agent sidebar on RT's own ticket page (issue 7): a REAL Request Tracker 5 with the
// extension's native door (mode "sidebar" of extension_env.hpp: sidebar_url = `closeloop serve`
// on the same config and store, sidebar_secret = the tenant's sidebar.secret) and a real headless
// Chromium (tests/browser/webdriver.hpp). An agent logs in on RT's login form, opens a ticket
// closeloop classified inside RT's create request, and the ticket page's right column holds the
// iframe RightColumnTop renders; inside it, serve's sidebar names that ticket and shows the
// category, sentiment and priority closeloop decided (as in its store and RT's custom fields).
// Screenshot: <build>/artifacts/rt/sidebar-ticket-page.png (the page scrolled to the sidebar).
#include <catch2/catch.hpp>

#include "../browser/webdriver.hpp"
#include "extension_env.hpp"

namespace {

using namespace closeloop_rt_ext;
namespace browser = closeloop::browser;

const fs::path artifacts = fs::path(CLOSELOOP_ARTIFACTS_DIR) / "rt";

// Waits until `script` (a function body returning a boolean) is true in the current document.
bool wait_in_page(browser::webdriver& wd, const std::string& script, std::chrono::milliseconds limit = 20s) {
  return eventually([&] { return wd.execute(script) == true; }, limit, 200ms);
}

}  // namespace

TEST_CASE("rt: an agent sees closeloop's sidebar for the ticket on RT's ticket page", "[sidebar]") {
  const environment& e = setup("sidebar");
  const std::string id = create_ticket("Charged twice on my invoice, refund now",
                                       "I was charged twice on my invoice and nobody answers. This is terrible, "
                                       "I want a refund now!");
  // What closeloop decided inside RT's create request, in its store and on the ticket.
  store_view db;
  const auto states = db.column("SELECT state FROM ticket_state WHERE ticket_id = ?", id);
  REQUIRE(states.size() == 1);
  const json st = json::parse(states[0]);
  const std::string category = st.value("category", ""), sentiment = st.value("sentiment", ""),
                    priority = st.value("priority", "");
  INFO("closeloop's state: " << st.dump());
  REQUIRE(category == "billing");
  REQUIRE_FALSE(sentiment.empty());
  REQUIRE_FALSE(priority.empty());
  const json ticket = rest("GET", "/ticket/" + id);
  CHECK(cf_values(ticket, "Category") == std::vector<std::string>{category});
  CHECK(cf_values(ticket, "Sentiment") == std::vector<std::string>{sentiment});

  closeloop::itest::temp_dir dir("rt-sidebar");
  browser::webdriver wd(dir, 1280, 1000);
  fs::create_directories(artifacts);

  // RT's login form, as an agent types it.
  wd.navigate(e.rt_url + "/");
  REQUIRE(wait_in_page(wd, "return !!document.querySelector('form input[name=user]');"));
  wd.execute(
      "const f = document.querySelector('input[name=user]').form;"
      "f.querySelector('input[name=user]').value = arguments[0];"
      "f.querySelector('input[name=pass]').value = arguments[1];"
      "f.submit();",
      json::array({agent_user, agent_password}));
  REQUIRE(wait_in_page(wd, "return !document.querySelector('input[name=pass]') && document.readyState == 'complete';"));

  // The ticket page: RightColumnTop's iframe on serve's /sidebar with a signed context.
  wd.navigate(e.rt_url + "/Ticket/Display.html?id=" + id);
  INFO("RT log:\n" << rt_log());
  REQUIRE(wait_in_page(wd, "return !!document.getElementById('closeloop-sidebar-frame');"));
  const auto frames = wd.find_all("#closeloop-sidebar-frame");
  REQUIRE(frames.size() == 1);
  const std::string src = wd.attribute(frames[0], "src");
  CHECK(src.rfind(e.serve_url() + "/sidebar?ctx=v1.", 0) == 0);
  wd.execute("document.getElementById('closeloop-sidebar').scrollIntoView();");
  wd.screenshot(artifacts / "sidebar-ticket-page.png");

  // Inside the frame: serve's page for this ticket (the context's signature checked by serve).
  wd.switch_to_frame(frames[0]);
  REQUIRE(wait_in_page(wd, "return document.readyState == 'complete' && !!document.querySelector('h1');"));
  const json page = wd.execute(
      "const out = {h1: document.querySelector('h1').textContent, rows: {}};"
      "for (const dt of document.querySelectorAll('dl dt')) out.rows[dt.textContent] = dt.nextElementSibling.textContent;"
      "return out;");
  INFO("sidebar: " << page.dump() << "\nserve:\n" << serve_log());
  CHECK(page["h1"].get<std::string>().find("#" + id) != std::string::npos);
  const json& rows = page["rows"];
  REQUIRE(rows.contains("Category"));
  CHECK(rows["Category"].get<std::string>().find(category) != std::string::npos);
  REQUIRE(rows.contains("Sentiment"));
  CHECK(rows["Sentiment"].get<std::string>().find(sentiment) != std::string::npos);
  REQUIRE(rows.contains("Priority"));
  CHECK(rows["Priority"].get<std::string>().find(priority) != std::string::npos);
  wd.switch_to_top();
}
