// Monitoring metrics (plugin/src/monitor): the figures of a generated data set whose answers are
// known by construction, periods, rollups against a full scan, drill-down, and facts derived from
// events stored through the real store.
#include <catch2/catch.hpp>

#include "monitor/facts.hpp"
#include "monitor/metrics.hpp"
#include "store_test_support.hpp"

using namespace closeloop;
using namespace closeloop::monitor;
using store_test::temp_dir;

namespace {

std::int64_t day(const char* s) { return *parse_day(s); }

// 1000 tickets, all solved on 2026-11-02 .. 2026-11-29 (4 weeks). By construction:
//  - 400 csat answers, score 1 + i % 5: each score 80 times -> CSAT = 160/400 = 40 %
//  - 220 nps answers, score i % 11: each score 20 times -> promoters 40, detractors 140,
//    NPS = (40 - 140) / 220 * 100 = -45.4545...
//  - 70 ces answers, score 1 + i % 7: each 10 times -> mean 4
//  - 100 surveyed non-responders: 30 positive, 50 negative, 20 neutral -> inferred CSAT 30 %
//  - 210 never surveyed; response rate = 690 / 790
//  - every 10th ticket reopened once -> reopen rate 10 %
//  - first response 60 s for even tickets, 180 s for odd -> mean 120 s; resolution 3600 s
//  - sentiment: the 100 non-responders as above, every other ticket positive
std::vector<fact> known_data_set() {
  std::vector<fact> out;
  const std::int64_t first = day("2026-11-02");  // a Monday
  for (int i = 0; i < 1000; ++i) {
    fact f;
    f.tenant = "acme";
    f.host = "zendesk";
    f.ticket_id = std::to_string(i);
    f.day = first + i % 28;
    f.solved = true;
    f.reopens = i % 10 == 0 ? 1 : 0;
    f.first_response_s = i % 2 == 0 ? 60 : 180;
    f.resolution_s = 3600;
    f.agent = i % 2 == 0 ? "ann" : "bob";
    f.channel = "email";
    f.sentiment = "positive";
    if (i < 400) {
      f.kind = "csat", f.surveyed = true, f.score = 1 + i % 5;
    } else if (i < 620) {
      f.kind = "nps", f.surveyed = true, f.score = (i - 400) % 11;
    } else if (i < 690) {
      f.kind = "ces", f.surveyed = true, f.score = 1 + (i - 620) % 7;
    } else if (i < 790) {
      f.kind = "csat", f.surveyed = true;
      const int k = i - 690;
      f.sentiment = k < 30 ? "positive" : k < 80 ? "negative" : "neutral";
    }
    out.push_back(f);
  }
  return out;
}

tally sum(const std::vector<fact>& facts) {
  tally t;
  for (const auto& f : facts) t.add(f);
  return t;
}

}  // namespace

TEST_CASE("monitor: figures of a generated data set match the known answers", "[unit][monitor]") {
  const tally t = sum(known_data_set());
  const figures f = compute(t);
  CHECK(t.tickets == 1000);
  CHECK(t.csat_n == 400);
  CHECK(*f.csat == Approx(40.0));
  CHECK(t.nps_n == 220);
  CHECK(t.nps_pro == 40);
  CHECK(t.nps_det == 140);
  CHECK(*f.nps == Approx(-45.454545).epsilon(1e-6));
  for (auto n : t.nps_hist) CHECK(n == 20);
  CHECK(*f.ces == Approx(4.0));
  CHECK(t.surveyed == 790);
  CHECK(t.answered == 690);
  CHECK(*f.response_rate == Approx(100.0 * 690 / 790));
  CHECK(*f.reopen_rate == Approx(10.0));
  CHECK(*f.first_response_s == Approx(120.0));
  CHECK(*f.resolution_s == Approx(3600.0));
  // Inferred CSAT is its own figure: 30 of the 100 non-responders were positive; measured CSAT
  // still counts only the 400 answers.
  CHECK(t.inf_n == 100);
  CHECK(*f.inferred_csat == Approx(30.0));
  CHECK(*f.negative_share == Approx(5.0));  // 50 of 1000
  CHECK(*f.positive_share == Approx(93.0));  // 900 + 30
  CHECK(metric_value(t, "csat") == f.csat);
  CHECK(sample_size(t, "csat") == 400);
  CHECK(sample_size(t, "response_rate") == 790);
}

TEST_CASE("monitor: an empty sample has no figure rather than zero", "[unit][monitor]") {
  tally t;
  fact f;
  f.solved = true;
  t.add(f);
  const figures fig = compute(t);
  CHECK_FALSE(fig.csat.has_value());
  CHECK_FALSE(fig.nps.has_value());
  CHECK_FALSE(fig.response_rate.has_value());
  CHECK(*fig.reopen_rate == Approx(0.0));
  t.add(f, -1);
  CHECK(t.empty());
}

TEST_CASE("monitor: periods start on Monday and on the 1st of the month", "[unit][monitor]") {
  const std::int64_t sun = day("2026-11-22");
  CHECK(day_string(period_start(sun, period::week)) == "2026-11-16");
  CHECK(day_string(period_start(day("2026-11-16"), period::week)) == "2026-11-16");
  CHECK(day_string(period_start(sun, period::month)) == "2026-11-01");
  CHECK(day_string(period_end(day("2026-12-01"), period::month)) == "2027-01-01");
  CHECK(day_string(period_start(day("1969-12-31"), period::week)) == "1969-12-29");
  CHECK_FALSE(parse_day("2026-02-29"));
  CHECK_FALSE(parse_day("22/11/2026"));
  CHECK(parse_day("2026-02-29").err().message.find("2026-02-29") != std::string::npos);
  CHECK(day_of(store_test::at(0)) == sun);
}

TEST_CASE("monitor: rollups answer like a full scan, by segment and period, after updates", "[unit][monitor]") {
  temp_dir dir;
  const std::string path = dir.file("m.db");
  auto s = store_test::open_store(path);
  auto m = monitor_db::open(path);
  REQUIRE(m);
  auto facts = known_data_set();
  REQUIRE((*m)->put_facts(facts));
  for (dimension by : all_dimensions()) {
    for (period per : {period::day, period::week, period::month, period::all}) {
      report_query q{"acme", by, per, day("2026-11-01"), day("2026-11-30")};
      auto fast = (*m)->query(q);
      auto slow = (*m)->query_full_scan(q);
      REQUIRE(fast);
      REQUIRE(slow);
      REQUIRE(fast->size() == slow->size());
      for (std::size_t i = 0; i < fast->size(); ++i) {
        CHECK((*fast)[i].segment == (*slow)[i].segment);
        CHECK((*fast)[i].period_start == (*slow)[i].period_start);
        CHECK((*fast)[i].t == (*slow)[i].t);
      }
    }
  }
  // Four weeks: ticket i on day i % 28, so days 0..19 hold 36 tickets and days 20..27 hold 35:
  // 252, 252, 6 * 36 + 35 = 251, 245. By agent: ann has the even tickets.
  auto weeks = (*m)->query({"acme", dimension::all, period::week, day("2026-11-01"), day("2026-11-30")});
  REQUIRE(weeks->size() == 4);
  CHECK(day_string((*weeks)[0].period_start) == "2026-11-02");
  CHECK(day_string((*weeks)[3].period_start) == "2026-11-23");
  const std::int64_t per_week[] = {252, 252, 251, 245};
  for (std::size_t i = 0; i < 4; ++i) CHECK((*weeks)[i].t.tickets == per_week[i]);
  auto agents = (*m)->query({"acme", dimension::agent, period::all, day("2026-11-01"), day("2026-11-30")});
  REQUIRE(agents->size() == 2);
  CHECK((*agents)[0].segment == "ann");
  CHECK((*agents)[0].t.tickets == 500);
  // csat scores 1 + i % 5 over even i: 1, 3, 5, 2, 4 -> 2 of 5 good for each agent.
  CHECK(*compute((*agents)[0].t).csat == Approx(40.0));

  // A ticket's answer changes (and moves agent): the old contribution is subtracted.
  fact changed = facts[0];  // csat 1 by ann
  changed.score = 5;
  changed.agent = "bob";
  REQUIRE((*m)->put_facts({changed}));
  agents = (*m)->query({"acme", dimension::agent, period::all, day("2026-11-01"), day("2026-11-30")});
  CHECK((*agents)[0].t.tickets == 499);
  CHECK((*agents)[1].t.tickets == 501);
  auto all = (*m)->query({"acme", dimension::all, period::all, day("2026-11-01"), day("2026-11-30")});
  CHECK(all->at(0).t.csat_good == 161);
  auto scan = (*m)->query_full_scan({"acme", dimension::agent, period::all, day("2026-11-01"), day("2026-11-30")});
  CHECK((*scan)[1].t == (*agents)[1].t);
  // A rebuild from the facts gives the same rollups.
  REQUIRE((*m)->rebuild_rollups("acme"));
  auto rebuilt = (*m)->query({"acme", dimension::agent, period::all, day("2026-11-01"), day("2026-11-30")});
  CHECK((*rebuilt)[1].t == (*agents)[1].t);
  // Another tenant sees nothing of acme's.
  auto other = (*m)->query({"globex", dimension::all, period::all, day("2026-11-01"), day("2026-11-30")});
  CHECK(other->empty());
}

TEST_CASE("monitor: drill-down lists the tickets behind a figure", "[unit][monitor]") {
  temp_dir dir;
  const std::string path = dir.file("m.db");
  auto s = store_test::open_store(path);
  auto m = monitor_db::open(path);
  REQUIRE(m);
  REQUIRE((*m)->put_facts(known_data_set()));
  drill_query q{"acme", dimension::agent, "ann", day("2026-11-01"), day("2026-11-30"), "detractors", 1000, 0};
  auto d = (*m)->drill(q);
  REQUIRE(d);
  CHECK(d->size() == 70);  // 140 detractors, half of them ann's
  for (const auto& f : *d) {
    CHECK(f.agent == "ann");
    CHECK(f.kind == "nps");
    CHECK(*f.score <= 6);
  }
  q.by = dimension::all;
  q.metric = "inferred_csat";
  CHECK((*m)->drill(q)->size() == 100);
  q.metric = "csat_bad";
  CHECK((*m)->drill(q)->size() == 240);
  q.metric = "nonsense";
  auto bad = (*m)->drill(q);
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find("nonsense") != std::string::npos);
}

TEST_CASE("monitor: facts are derived from events stored through the store", "[unit][monitor]") {
  temp_dir dir;
  const std::string path = dir.file("m.db");
  auto s = store_test::open_store(path);
  // A decide that records what the engine would: category, sentiment, language; the survey row.
  ledger_decide_fn decide = [](const event& ev, const ticket_state& st, const survey::ledger&) {
    decision d;
    d.next = st;
    d.next.known = true;
    d.next.category = "billing";
    d.next.sentiment = "negative";
    d.next.language = "en";
    if (ev.type == event_type::ticket_solved) {
      survey::record r;
      r.seq = 1;
      r.kind = "csat";
      r.definition = "csat";
      r.status = "sent";
      r.sent_at = ev.occurred_at;
      d.survey_row = r;
    }
    if (ev.type == event_type::survey_answered) {
      survey::record r;
      r.seq = 1;
      r.status = "answered";
      r.answered_at = ev.occurred_at;
      r.score = ev.data.value("score", 0);
      d.survey_row = r;
    }
    return d;
  };
  auto ev = [](std::string id, event_type t, std::int64_t sec) {
    event e = store_test::make_event("T1", id, t);
    e.occurred_at = store_test::at(sec);
    return e;
  };
  event created = ev("e1", event_type::ticket_created, 0);
  created.channel = "chat";
  created.group = "Billing";
  created.tags = {"vip", "tier:gold"};
  event reply = ev("e2", event_type::ticket_commented, 90);
  reply.author = {"7", "ann@example.com", "Ann", "agent"};
  event internal = ev("e0", event_type::ticket_commented, 30);
  internal.visibility = "internal";
  internal.author = {"8", "", "Bob", "agent"};
  event solved = ev("e3", event_type::ticket_solved, 3600);
  solved.author = {"7", "ann@example.com", "Ann", "agent"};
  for (const auto& e : {created, internal, reply, solved}) REQUIRE(s->ingest(e, decide));

  auto m = monitor_db::open(path);
  REQUIRE(m);
  auto n = (*m)->refresh();
  REQUIRE(n);
  CHECK(*n == 4);
  auto f = (*m)->get_fact("acme", "zendesk", "T1");
  REQUIRE(f);
  REQUIRE(f->has_value());
  CHECK((*f)->agent == "Ann");
  CHECK((*f)->group == "Billing");
  CHECK((*f)->channel == "chat");
  CHECK((*f)->tier == "gold");
  CHECK((*f)->category == "billing");
  CHECK(*(*f)->first_response_s == 90);  // the internal note at 30 s is not a response
  CHECK(*(*f)->resolution_s == 3600);
  CHECK((*f)->surveyed);
  CHECK_FALSE((*f)->score.has_value());
  CHECK(*(*m)->refresh() == 0);  // nothing new

  event reopened = ev("e4", event_type::ticket_reopened, 4000);
  event answered = ev("e5", event_type::survey_answered, 5000);
  answered.data = {{"survey", "csat"}, {"score", 2}};
  REQUIRE(s->ingest(reopened, decide));
  REQUIRE(s->ingest(answered, decide));
  CHECK(*(*m)->refresh() == 2);
  f = (*m)->get_fact("acme", "zendesk", "T1");
  CHECK((*f)->reopens == 1);
  CHECK(*(*f)->score == 2);
  auto r = (*m)->query({"acme", dimension::tier, period::all, day_of(store_test::at(0)), day_of(store_test::at(0))});
  REQUIRE(r->size() == 1);
  CHECK(r->at(0).segment == "gold");
  CHECK(r->at(0).t.csat_n == 1);
  CHECK(r->at(0).t.csat_good == 0);
  CHECK(r->at(0).t.reopened == 1);
  CHECK(r->at(0).t.inf_n == 0);  // answered: not a non-responder any more
}
