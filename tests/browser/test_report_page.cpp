// The satisfaction report page in a real headless Chromium: 6 weeks of generated figures are
// written through the monitoring tables, `closeloop report --format html` (the real binary) renders
// the page, and Chromium opens it: the charts are inline SVG, nothing is fetched from anywhere, the
// page fits a 1024 px and a 360 px viewport, inferred CSAT stands apart from measured CSAT.
// Screenshots: CLOSELOOP_ARTIFACTS_DIR/browser/report-*.png.
#include <catch2/catch.hpp>

#include "closeloop/store.hpp"
#include "monitor/facts.hpp"
#include "webdriver.hpp"

using namespace closeloop;
using namespace closeloop::itest;
using closeloop::browser::webdriver;

namespace {

const fs::path artifacts = fs::path(CLOSELOOP_ARTIFACTS_DIR) / "browser";

// 6 weeks ending 2026-11-22, 40 tickets a day over 3 agents and 2 groups; CSAT falls in the
// last two weeks; NPS answers on every score.
std::vector<monitor::fact> six_weeks() {
  std::vector<monitor::fact> out;
  const std::int64_t last = *monitor::parse_day("2026-11-22");
  const char* agents[] = {"Ann", "Bob", "Chen Wei"};
  for (std::int64_t d = last - 41; d <= last; ++d)
    for (int i = 0; i < 40; ++i) {
      monitor::fact f;
      f.tenant = "acme";
      f.host = "generic";
      f.ticket_id = std::to_string(d) + "-" + std::to_string(i);
      f.day = d;
      f.solved = true;
      f.agent = agents[i % 3];
      f.group = i % 2 ? "Billing" : "Operations";
      f.channel = i % 4 ? "email" : "chat";
      f.sentiment = i % 5 == 0 ? "negative" : "positive";
      f.first_response_s = 300 + 60 * (i % 10);
      f.resolution_s = 7200 + 600 * (i % 12);
      f.reopens = i % 9 == 0;
      f.surveyed = i % 8 != 7;
      const bool late = d > last - 14;
      if (i % 8 < 5) f.kind = "csat", f.score = (i % 5) + (late && i % 2 ? 0 : 1);
      else if (i % 8 < 7) f.kind = "nps", f.score = (i * 7 + static_cast<int>(d)) % 11;
      if (f.score && *f.score < 1 && f.kind == "csat") f.score = 1;
      out.push_back(f);
    }
  return out;
}

}  // namespace

TEST_CASE("browser: the report page renders its SVG charts without external assets", "[browser][report]") {
  temp_dir dir("report-page");
  const fs::path db = dir.path() / "closeloop.db";
  const fs::path cfg = dir.path() / "config.json";
  write_text(cfg, make_config(config_options{}).dump(2));
  {
    auto st = store::open(store_options{db.string()});
    REQUIRE(st);
    auto m = monitor::monitor_db::open(db.string());
    REQUIRE(m);
    REQUIRE((*m)->put_facts(six_weeks()));
  }
  const fs::path page = dir.path() / "report.html";
  auto r = run_command({CLOSELOOP_BINARY, "report", "--config", cfg.string(), "--db", db.string(), "--tenant", "acme",
                        "--period", "week", "--from", "2026-10-12", "--to", "2026-11-22", "--format", "html", "--out",
                        page.string()},
                       dir.path());
  INFO(r.all());
  REQUIRE(r.exit_code() == 0);
  fs::create_directories(artifacts);
  fs::copy_file(page, artifacts / "report.html", fs::copy_options::overwrite_existing);

  for (int width : {1024, 360}) {
    temp_dir session_dir("report-browser");  // chromedriver's log (and port) per session
    webdriver wd(session_dir, width, 900);
    wd.navigate("file://" + page.string());
    CHECK(wd.title().find("Satisfaction report") != std::string::npos);
    json info = wd.execute(
        "const svgs = [...document.querySelectorAll('svg')];"
        "return {svgs: svgs.length, drawn: svgs.filter(s => s.getBoundingClientRect().width > 100).length,"
        " points: document.querySelectorAll('svg polyline').length, bars: document.querySelectorAll('svg rect').length,"
        " resources: performance.getEntriesByType('resource').length, scripts: document.scripts.length,"
        " scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,"
        " cards: [...document.querySelectorAll('.card')].map(c => c.innerText),"
        " inferred: getComputedStyle(document.querySelector('.card.inferred')).borderStyle};");
    INFO(width << " px: " << info.dump());
    CHECK(info["svgs"].get<int>() >= 4);  // two trend charts, NPS distribution, one per segment dimension
    CHECK(info["drawn"] == info["svgs"]);
    CHECK(info["points"].get<int>() >= 2);
    CHECK(info["bars"].get<int>() >= 11);
    CHECK(info["resources"] == 0);  // nothing fetched: no external asset
    CHECK(info["scripts"] == 0);
    CHECK(info["scroll"].get<int>() <= info["client"].get<int>());
    CHECK(info["inferred"] == "dashed");
    bool csat_card = false;
    for (const auto& c : info["cards"])
      if (c.get<std::string>().rfind("CSAT", 0) == 0) csat_card = c.get<std::string>().find('%') != std::string::npos;
    CHECK(csat_card);
    wd.screenshot(artifacts / ("report-" + std::to_string(width) + "-01-top.png"));
    wd.execute("document.querySelector('h2:nth-of-type(2)').scrollIntoView();");
    wd.screenshot(artifacts / ("report-" + std::to_string(width) + "-02-nps.png"));
  }
}
