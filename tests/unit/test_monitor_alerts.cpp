// Alert rules (plugin/src/monitor/alerts.hpp): each rule kind with a case that fires and one that
// must not; minimum samples; several indicators at once; threshold suggestions; rule parsing.
#include <catch2/catch.hpp>

#include "monitor/alerts.hpp"
#include "monitor/service.hpp"

using namespace closeloop;
using namespace closeloop::monitor;
using nlohmann::json;

namespace {

// A window with n csat answers of which `good_pct` % are 4-5, and n nps answers with the given
// promoter and detractor shares.
tally window(int n, double good_pct, double pro_pct = 50, double det_pct = 20) {
  tally t;
  t.tickets = t.solved = t.surveyed = t.answered = n;
  t.csat_n = n;
  t.csat_good = static_cast<std::int64_t>(n * good_pct / 100 + 0.5);
  t.nps_n = n;
  t.nps_pro = static_cast<std::int64_t>(n * pro_pct / 100 + 0.5);
  t.nps_det = static_cast<std::int64_t>(n * det_pct / 100 + 0.5);
  return t;
}

alert_rule rule_with(alert_condition c, std::int64_t min_sample = 30) {
  alert_rule r;
  r.id = "r";
  r.min_sample = min_sample;
  r.conditions.push_back(std::move(c));
  return r;
}

alert_condition cond(const std::string& metric, const std::string& type, std::optional<double> yellow,
                     std::optional<double> red) {
  alert_condition c;
  c.metric = metric;
  c.type = type;
  c.yellow = yellow;
  c.red = red;
  return c;
}

}  // namespace

TEST_CASE("alerts: absolute threshold fires below red, not above yellow", "[unit][monitor][alerts]") {
  auto r = rule_with(cond("csat", "absolute", 80, 70));
  auto fired = evaluate(r, {window(100, 65)});
  CHECK(fired.lvl == level::red);
  CHECK(fired.summary.find("below red threshold 70") != std::string::npos);
  CHECK(evaluate(r, {window(100, 75)}).lvl == level::yellow);
  CHECK(evaluate(r, {window(100, 85)}).lvl == level::green);
  // Lower is better for the reopen rate: above the threshold fires.
  tally t;
  t.solved = 100;
  t.reopened = 25;
  auto reopen = rule_with(cond("reopen_rate", "absolute", 10, 20));
  CHECK(evaluate(reopen, {t}).lvl == level::red);
  t.reopened = 5;
  CHECK(evaluate(reopen, {t}).lvl == level::green);
}

TEST_CASE("alerts: below the minimum sample nothing fires", "[unit][monitor][alerts]") {
  auto r = rule_with(cond("csat", "absolute", 80, 70), 30);
  auto e = evaluate(r, {window(29, 10)});  // 10 % CSAT, but only 29 answers
  CHECK(e.lvl == level::green);
  REQUIRE(e.results.size() == 1);
  CHECK_FALSE(e.results[0].judged);
  CHECK(e.results[0].reason.find("sample 29 < minimum 30") != std::string::npos);
  CHECK(evaluate(r, {window(30, 10)}).lvl == level::red);
  // A condition's own minimum overrides the rule's.
  auto c = cond("csat", "absolute", 80, 70);
  c.min_sample = 10;
  CHECK(evaluate(rule_with(c, 30), {window(12, 10)}).lvl == level::red);
}

TEST_CASE("alerts: relative drop against the previous window", "[unit][monitor][alerts]") {
  auto r = rule_with(cond("csat", "relative", 5, 10));
  auto e = evaluate(r, {window(200, 80), window(200, 90)});  // 11.1 % worse
  CHECK(e.lvl == level::red);
  CHECK(*e.results[0].baseline == Approx(90));
  CHECK(evaluate(r, {window(200, 85), window(200, 90)}).lvl == level::yellow);  // 5.6 %
  CHECK(evaluate(r, {window(200, 88), window(200, 90)}).lvl == level::green);   // 2.2 %
  CHECK(evaluate(r, {window(200, 95), window(200, 90)}).lvl == level::green);   // better
  // The previous window's sample counts too.
  auto small = evaluate(r, {window(200, 50), window(10, 90)});
  CHECK(small.lvl == level::green);
  CHECK_FALSE(small.results[0].judged);
}

TEST_CASE("alerts: dynamic thresholds from EWMA and control limits", "[unit][monitor][alerts]") {
  std::vector<tally> hist{window(100, 90), window(100, 91), window(100, 89), window(100, 90),
                          window(100, 92), window(100, 88), window(100, 90), window(100, 91)};
  for (const char* method : {"ewma", "control"}) {
    auto c = cond("csat", "dynamic", std::nullopt, std::nullopt);
    c.method = method;
    auto r = rule_with(c);
    std::vector<tally> w{window(100, 80)};
    w.insert(w.end(), hist.begin(), hist.end());
    auto e = evaluate(r, w);
    CHECK(e.lvl == level::red);
    CHECK(e.results[0].judged);
    w[0] = window(100, 89);
    CHECK(evaluate(r, w).lvl == level::green);
  }
  // Too little history: not judged.
  auto r = rule_with(cond("csat", "dynamic", std::nullopt, std::nullopt));
  auto e = evaluate(r, {window(100, 10), window(100, 90), window(100, 90)});
  CHECK(e.lvl == level::green);
  CHECK(e.results[0].reason.find("3 needed") != std::string::npos);
}

TEST_CASE("alerts: several indicators at once (combine any / all)", "[unit][monitor][alerts]") {
  alert_rule r;
  r.id = "both";
  r.min_sample = 30;
  r.conditions = {cond("csat", "absolute", 80, 70), cond("nps", "absolute", 20, 0)};
  r.combine_all = true;
  // CSAT is red but NPS fine: with "all" nothing fires.
  CHECK(evaluate(r, {window(100, 60, 50, 20)}).lvl == level::green);
  // Both bad: the milder of the two levels (CSAT red, NPS yellow at 10).
  CHECK(evaluate(r, {window(100, 60, 40, 30)}).lvl == level::yellow);
  CHECK(evaluate(r, {window(100, 60, 20, 40)}).lvl == level::red);
  r.combine_all = false;
  auto any = evaluate(r, {window(100, 60, 50, 20)});
  CHECK(any.lvl == level::red);
  CHECK(any.summary.find("csat") != std::string::npos);
  CHECK(evaluate(r, {window(100, 90, 50, 20)}).lvl == level::green);
}

TEST_CASE("alerts: threshold suggestions from history", "[unit][monitor][alerts]") {
  std::vector<tally> hist{window(100, 90), window(100, 92), window(100, 88), window(100, 90), window(100, 90)};
  json s = suggest_thresholds(hist, {"csat", "ces"}, 30);
  CHECK(s["csat"]["mean"].get<double>() == Approx(90));
  CHECK(s["csat"]["absolute"]["yellow"].get<double>() < 90);
  CHECK(s["csat"]["absolute"]["red"].get<double>() < s["csat"]["absolute"]["yellow"].get<double>());
  CHECK(s["csat"]["relative"]["yellow"].get<double>() >= 5);
  CHECK(s["ces"].contains("note"));  // no ces answers: no suggestion
}

TEST_CASE("alerts: rules from config, with errors naming the key", "[unit][monitor][alerts]") {
  json mon = json::parse(R"({
    "channels": {"ops": {"type": "slack", "url": "http://127.0.0.1:9/hook"}},
    "alerts": [{"id": "csat-low", "owner": "lead@example.com", "segment": {"by": "group", "value": "Billing"},
                "min_sample": 20, "combine": "all", "deliver": ["ops"],
                "conditions": [{"metric": "csat", "type": "absolute", "yellow": 80, "red": 70},
                               {"metric": "nps", "type": "dynamic", "method": "control"}]}]})");
  auto c = parse_monitoring(mon, "/tenants/0/monitoring");
  REQUIRE(c);
  REQUIRE(c->alerts.size() == 1);
  CHECK(c->alerts[0].by == dimension::group);
  CHECK(c->alerts[0].combine_all);
  CHECK(c->alerts[0].conditions[1].method == "control");
  mon["alerts"][0]["deliver"] = {"pager"};
  auto bad = parse_monitoring(mon, "/tenants/0/monitoring");
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find("/tenants/0/monitoring/alerts/0/deliver") != std::string::npos);
  CHECK(bad.err().message.find("pager") != std::string::npos);
  mon["alerts"][0]["deliver"] = {"ops"};
  mon["alerts"][0]["conditions"][0]["yellow"] = 60;  // milder than red 70? no: worse
  bad = parse_monitoring(mon, "/tenants/0/monitoring");
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find("milder") != std::string::npos);
}
