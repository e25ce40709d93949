// The survey loop through the real store (SQLite file): lifecycle rows, timers by kind, the
// throttle decided inside the ingest transaction (two workers firing at once cannot both send),
// and a seeded property test — under replays, redeliveries and worker retries in random order,
// no ticket gets two invitations and no answer is counted twice.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>
#include <thread>

#include "closeloop/engine.hpp"
#include "closeloop/store.hpp"
#include "store_test_support.hpp"

using namespace closeloop;
using namespace std::chrono_literals;
using store_test::temp_dir;

namespace {

struct loop {
  temp_dir dir;
  std::unique_ptr<store> db = store_test::open_store(dir.file("survey.db"));
  rule_classifier clf{rule_classifier_config{}};
  policy pol = [] {
    policy p;
    p.survey.delay = 3600s;
    p.survey.reminder_enabled = true;
    p.survey.reminder_delay = 48h;
    return p;
  }();
  std::unique_ptr<engine> eng = std::make_unique<engine>(pol, clf);
  fixed_clock clk{store_test::at(0)};

  void reconfigure() { eng = std::make_unique<engine>(pol, clf); }
  ledger_decide_fn decider() {
    return [this](const event& ev, const ticket_state& s, const survey::ledger& l) {
      return eng->decide(ev, s, clk, &l);
    };
  }
  result<ingest_result> put(const event& ev) { return db->ingest(ev, decider()); }

  event make(event_type t, const std::string& host, const std::string& ticket, const std::string& id,
             std::int64_t at_s, const std::string& email = "ann@example.com") {
    event e;
    e.type = t;
    e.tenant = "acme";
    e.host = host;
    e.ticket_id = ticket;
    e.host_event_id = id;
    e.occurred_at = store_test::at(at_s);
    e.requester.email = email;
    return e;
  }
  // What the worker does: every due timer becomes a timer.fired event "timer:<id>".
  std::vector<event> due_timer_events() { return store_test::due_timer_events(*db, clk.now()); }
  int fire_due() {
    int n = 0;
    for (const auto& ev : due_timer_events()) {
      REQUIRE(put(ev));
      ++n;
    }
    return n;
  }
  event answer(const std::string& host, const std::string& ticket, int score, const std::string& submission) {
    event a = make(event_type::survey_answered, host, ticket, "survey:" + ticket + ":1:" + submission,
                   std::chrono::duration_cast<std::chrono::seconds>(clk.now() - store_test::at(0)).count(), "");
    a.data = {{"survey", "csat"}, {"kind", "csat"}, {"score", score}, {"submission_id", submission}, {"language", "en"}};
    return a;
  }
  std::map<std::string, json> rows() {
    auto r = db->surveys("acme", 10000);
    REQUIRE(r);
    std::map<std::string, json> out;
    for (const auto& row : *r) out[row["host"].get<std::string>() + "/" + row["ticket_id"].get<std::string>()] = row;
    return out;
  }
  int count_outbox(action_type t, bool reminders) {
    auto all = db->outbox(std::nullopt, 100000);
    REQUIRE(all);
    return static_cast<int>(std::count_if(all->begin(), all->end(), [&](const outbox_item& i) {
      return i.act.type == t && i.act.params.value("reminder", false) == reminders;
    }));
  }
};

}  // namespace

TEST_CASE("store: the survey lifecycle row follows schedule, send, reminder, answer", "[unit][survey][store]") {
  loop l;
  REQUIRE(l.put(l.make(event_type::ticket_solved, "generic", "1", "s1", 0)));
  auto rows = l.rows();
  REQUIRE(rows.count("generic/1"));
  CHECK(rows["generic/1"]["status"] == "scheduled");
  CHECK(rows["generic/1"]["due_at"] == format_rfc3339(store_test::at(3600)));

  l.clk.set(store_test::at(3600));
  CHECK(l.fire_due() == 1);
  rows = l.rows();
  CHECK(rows["generic/1"]["status"] == "sent");
  CHECK(rows["generic/1"]["sent_at"] == format_rfc3339(store_test::at(3600)));
  CHECK(rows["generic/1"]["person_key"] == "ann@example.com");
  // The reminder and expiry timers are kept by kind.
  l.clk.set(store_test::at(3600 + 48 * 3600));
  auto due = l.due_timer_events();
  REQUIRE(due.size() == 1);
  CHECK(due[0].data["kind"] == "survey_reminder");
  REQUIRE(l.put(due[0]));
  CHECK(l.rows()["generic/1"]["status"] == "reminded");

  auto a = l.answer("generic", "1", 2, "sub-1");
  a.data["comment"] = "still broken";
  REQUIRE(l.put(a));
  rows = l.rows();
  CHECK(rows["generic/1"]["status"] == "answered");
  CHECK(rows["generic/1"]["score"] == 2);
  CHECK(rows["generic/1"]["recovery"] == "pending");
  CHECK(rows["generic/1"]["response"]["comment"] == "still broken");
  CHECK(rows["generic/1"]["reminded_at"].is_string());
  CHECK(rows["generic/1"]["answered_at"].is_string());
  // A double submit (same submission id) is the same event: recognised, nothing changes.
  auto again = l.put(a);
  REQUIRE(again);
  CHECK(again->duplicate);
}

TEST_CASE("store: the throttle holds across hosts, and concurrent workers cannot both send", "[unit][survey][store]") {
  loop l;
  l.pol.survey.reminder_enabled = false;
  l.reconfigure();
  // The same person on two hosts, both due at the same moment.
  REQUIRE(l.put(l.make(event_type::ticket_solved, "generic", "1", "s1", 0, "Ann@Example.com")));
  REQUIRE(l.put(l.make(event_type::ticket_solved, "zendesk", "9", "s9", 0, " ann@example.COM")));
  l.clk.set(store_test::at(3600));
  auto due = l.due_timer_events();
  REQUIRE(due.size() == 2);
  // Two worker threads fire one timer each at the same time.
  std::thread a([&] { CHECK(l.put(due[0])); });
  std::thread b([&] { CHECK(l.put(due[1])); });
  a.join();
  b.join();
  CHECK(l.count_outbox(action_type::send_survey, false) == 1);
  auto rows = l.rows();
  std::multiset<std::string> statuses{rows["generic/1"]["status"], rows["zendesk/9"]["status"]};
  CHECK(statuses == std::multiset<std::string>{"sent", "skipped"});
  const json& skipped = rows["generic/1"]["status"] == "skipped" ? rows["generic/1"] : rows["zendesk/9"];
  CHECK(skipped["note"].get<std::string>().starts_with("throttled: ann@example.com"));
}

TEST_CASE("store: a won-back customer's earlier survey records the recovery outcome", "[unit][survey][store]") {
  loop l;
  l.pol.survey.throttle.window = 0s;
  l.reconfigure();
  REQUIRE(l.put(l.make(event_type::ticket_solved, "generic", "1", "s1", 0)));
  l.clk.set(store_test::at(3600));
  l.fire_due();
  REQUIRE(l.put(l.answer("generic", "1", 1, "a")));
  REQUIRE(l.put(l.make(event_type::ticket_solved, "zendesk", "2", "s2", 7200)));
  l.clk.set(store_test::at(7200 + 3600));
  l.fire_due();
  REQUIRE(l.put(l.answer("zendesk", "2", 5, "b")));
  auto rows = l.rows();
  CHECK(rows["generic/1"]["recovery"] == "won_back");
  CHECK(rows["zendesk/2"]["response"]["follows_negative"]["ticket"] == "1");
}

TEST_CASE("property: replays, redeliveries and retries never send twice nor count an answer twice",
          "[unit][survey][store][property]") {
  const std::uint32_t seed = GENERATE(1u, 2u, 3u, 4u, 5u, 6u);
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  loop l;
  l.pol.survey.throttle.window = 0s;  // every ticket may be surveyed: the invariant is per ticket
  l.reconfigure();
  const std::vector<std::string> hosts{"generic", "zendesk"};
  std::vector<event> history;  // everything ever delivered, for replays
  std::map<std::string, int> seq_for;
  auto deliver = [&](const event& ev) {
    auto r = l.put(ev);
    REQUIRE(r);
    history.push_back(ev);
  };
  std::int64_t now_s = 0;
  for (int step = 0; step < 300; ++step) {
    const std::string host = hosts[rng() % 2];
    const std::string ticket = std::to_string(rng() % 8);
    const std::string key = host + "/" + ticket;
    switch (rng() % 8) {
      case 0:
      case 1:  // solve (a new host transaction)
        deliver(l.make(event_type::ticket_solved, host, ticket, "solve-" + std::to_string(step), now_s,
                       "p" + ticket + "@example.com"));
        break;
      case 2:  // reopen
        deliver(l.make(event_type::ticket_reopened, host, ticket, "reopen-" + std::to_string(step), now_s));
        break;
      case 3:  // time passes; the worker fires what is due (sometimes twice: a retry)
        now_s += static_cast<std::int64_t>(rng() % 7200);
        l.clk.set(store_test::at(now_s));
        for (const auto& ev : l.due_timer_events()) {
          deliver(ev);
          if (rng() % 2) deliver(ev);
        }
        break;
      case 4:  // a redelivery of something already delivered
        if (!history.empty()) deliver(history[rng() % history.size()]);
        break;
      case 5: {  // a replay of the last few events in order
        const std::size_t n = std::min<std::size_t>(history.size(), 1 + rng() % 5);
        std::vector<event> tail(history.end() - static_cast<std::ptrdiff_t>(n), history.end());
        for (const auto& ev : tail) deliver(ev);
        break;
      }
      default: {  // an answer: a double submit or a new submission (edit)
        const std::string sub = "sub-" + std::to_string(rng() % 3);
        deliver(l.answer(host, ticket, 1 + static_cast<int>(rng() % 5), sub));
        break;
      }
    }
  }
  // At most one invitation (not counting the one reminder) per ticket, ever.
  auto all = l.db->outbox(std::nullopt, 100000);
  REQUIRE(all);
  std::map<std::string, int> invitations, reminders;
  for (const auto& i : *all) {
    if (i.act.type != action_type::send_survey) continue;
    (i.act.params.value("reminder", false) ? reminders : invitations)[i.act.host + "/" + i.act.ticket_id]++;
  }
  for (const auto& [t, n] : invitations) {
    INFO(t);
    CHECK(n == 1);
  }
  for (const auto& [t, n] : reminders) CHECK(n <= 1);
  // One lifecycle row per ticket survey; an answered row exists only for an invited ticket, and
  // answers (edits included) never add rows.
  auto rows = l.db->surveys("acme", 100000);
  REQUIRE(rows);
  std::set<std::string> keys;
  int answered = 0;
  for (const auto& r : *rows) {
    const std::string k = r["host"].get<std::string>() + "/" + r["ticket_id"].get<std::string>() + "#" +
                          std::to_string(r["seq"].get<int>());
    CHECK(keys.insert(k).second);
    if (r["status"] == "answered") {
      ++answered;
      CHECK(invitations.count(r["host"].get<std::string>() + "/" + r["ticket_id"].get<std::string>()) == 1);
    }
  }
  // Each answered ticket's write-back: one set_fields per accepted submission, never per delivery.
  std::map<std::string, std::set<std::string>> field_keys;
  for (const auto& i : *all)
    if (i.act.type == action_type::set_fields && i.act.caused_by.starts_with("survey:"))
      CHECK(field_keys[i.act.host + "/" + i.act.ticket_id].insert(i.act.caused_by).second);
  CHECK(answered <= static_cast<int>(invitations.size()));
}
