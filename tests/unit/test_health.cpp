// Customer health scoring (closeloop/health.hpp) with known answers, and the store side
// (closeloop/health_store.hpp) on a real SQLite file fed through the engine.
#include <catch2/catch.hpp>

#include "closeloop/health.hpp"
#include "closeloop/health_store.hpp"
#include "server/customer_health.hpp"
#include "store_test_support.hpp"

using namespace closeloop;
using namespace store_test;

namespace {

constexpr std::int64_t hour = 3600, day = 24 * hour;

int default_bad(std::string_view kind) { return kind == "nps" ? 6 : kind == "ces" ? 3 : 2; }

health::ticket_facts ticket(const std::string& id, std::int64_t created_s, const std::string& sentiment) {
  health::ticket_facts t;
  t.host = "zendesk";
  t.ticket_id = id;
  t.created_at = at(created_s);
  t.sentiment = sentiment;
  t.status = "open";
  return t;
}

health::answer_facts answer(const std::string& ticket, const std::string& kind, int score, std::int64_t at_s) {
  return {"zendesk", ticket, kind, score, at(at_s)};
}

const health::reason* find_reason(const health::assessment& a, std::string_view code) {
  for (const auto& r : a.reasons)
    if (r.code == code) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("health: every kind of fact adds its known points and a reason", "[unit][health]") {
  health::inputs in;
  in.customer = "ann@example.com";
  auto t1 = ticket("1", 0, "neutral");
  t1.first_agent_reply = at(30 * hour);  // 30 h > 24 h: a breach
  t1.solved_at = at(2 * day);
  auto t2 = ticket("2", 3 * day, "negative");  // 3 days after #1: a repeat contact
  t2.reopened_at = {at(5 * day)};
  t2.first_agent_reply = at(3 * day + hour);
  auto t3 = ticket("3", 20 * day, "negative");
  t3.first_agent_reply = at(20 * day + hour);
  in.tickets = {t3, t1, t2};  // any order
  in.answers = {answer("1", "csat", 1, 2 * day), answer("2", "csat", 2, 6 * day), answer("3", "csat", 5, 21 * day)};

  const health::options o;
  const auto a = health::assess(in, o, at(30 * day), default_bad);
  // 2 negative answers 40, 1 good answer -5, 2 negative tickets 16, 1 repeat 6, 1 reopen 10,
  // 1 late first reply 8; the trend (-1 after an average of -0.5) is not a worsening.
  CHECK(a.score == 75);
  CHECK(a.level == health::band::churn_risk);
  CHECK(a.tickets == 3);
  CHECK(a.answers == 3);
  CHECK(a.negative_answers == 2);
  CHECK(a.repeats == 1);
  CHECK(a.reopens == 1);
  CHECK(a.breaches == 1);
  REQUIRE(a.reasons.size() == 6);
  CHECK(a.reasons[0].code == "negative_answers");
  CHECK(a.reasons[0].points == 40);
  CHECK(a.reasons[0].text == "2 negative survey answers in 90 days: csat 1 on #1, csat 2 on #2");
  CHECK(a.reasons[1].code == "negative_sentiment");
  CHECK(a.reasons[1].points == 16);
  CHECK(a.reasons[2].code == "reopens");
  CHECK(a.reasons[2].text == "1 reopen: #2");
  CHECK(a.reasons[3].code == "late_first_reply");
  CHECK(a.reasons[3].text == "1 ticket without SLA due times and without a first reply within 24 h: #1");
  CHECK(a.reasons[4].code == "repeat_contacts");
  CHECK(a.reasons[4].points == 6);
  CHECK(a.reasons[5].code == "positive_answers");
  CHECK(a.reasons[5].points == -5);
  CHECK(find_reason(a, "worsening") == nullptr);

  const json j = health::to_json(a);
  CHECK(j["band"] == "churn_risk");
  CHECK(j["score"] == 75);
  CHECK(j["reasons"].size() == 6);
}

TEST_CASE("health: caps, the window, bands and the trend", "[unit][health]") {
  const health::options o;
  SECTION("bands at their edges") {
    CHECK(health::band_for(0, o) == health::band::healthy);
    CHECK(health::band_for(29, o) == health::band::healthy);
    CHECK(health::band_for(30, o) == health::band::at_risk);
    CHECK(health::band_for(59, o) == health::band::at_risk);
    CHECK(health::band_for(60, o) == health::band::churn_risk);
    CHECK(health::band_for(100, o) == health::band::churn_risk);
  }
  SECTION("five reopens are capped at 30, facts older than the window count for nothing") {
    health::inputs in;
    auto t = ticket("9", 100 * day, "neutral");
    t.first_agent_reply = at(100 * day + hour);
    for (int i = 1; i <= 5; ++i) t.reopened_at.push_back(at(100 * day + i * hour));
    auto old = ticket("8", 0, "negative");  // 100+ days before "now": outside the 90-day window
    in.tickets = {t, old};
    in.answers = {answer("8", "csat", 1, day)};
    const auto a = health::assess(in, o, at(110 * day), default_bad);
    CHECK(a.tickets == 1);
    CHECK(a.answers == 0);
    CHECK(a.reopens == 5);
    CHECK(a.score == 30);
    CHECK(a.level == health::band::at_risk);
  }
  SECTION("a sentiment falling from positive to negative is a worsening") {
    health::inputs in;
    for (auto [id, d, s] : {std::tuple{"1", 0, "positive"}, {"2", 20, "positive"}, {"3", 40, "negative"}}) {
      auto t = ticket(id, d * day, s);
      t.first_agent_reply = at(d * day + hour);
      in.tickets.push_back(t);
    }
    const auto a = health::assess(in, o, at(45 * day), default_bad);
    REQUIRE(find_reason(a, "worsening"));
    CHECK(find_reason(a, "worsening")->points == 10);
    CHECK(a.score == 18);  // worsening 10 + one negative ticket 8
    CHECK(a.level == health::band::healthy);
  }
  SECTION("an unanswered ticket older than the first-response limit is a breach; a solved one is not") {
    health::inputs in;
    in.tickets = {ticket("1", 0, "neutral"), ticket("2", 0, "neutral")};
    in.tickets[1].solved_at = at(hour);
    in.tickets[1].status = "solved";
    const auto a = health::assess(in, o, at(2 * day), default_bad);
    CHECK(a.breaches == 1);
    REQUIRE(find_reason(a, "late_first_reply"));
    CHECK(find_reason(a, "late_first_reply")->text.find("#1 (no reply yet)") != std::string::npos);
  }
  SECTION("nps: 6 is negative, 7 is not; good answers never take the score below 0") {
    health::inputs in;
    in.answers = {answer("1", "nps", 6, day), answer("2", "nps", 7, 2 * day), answer("3", "nps", 10, 3 * day)};
    const auto a = health::assess(in, o, at(4 * day), default_bad);
    CHECK(a.negative_answers == 1);
    CHECK(a.score == 10);  // 20 - 2 x 5
    health::inputs good;
    good.answers = {answer("1", "csat", 5, day)};
    CHECK(health::assess(good, o, at(2 * day), default_bad).score == 0);
  }
  SECTION("thresholds come from the tenant's configuration") {
    auto custom = health::options::from_json({{"at_risk", 10}, {"churn_risk", 20}, {"window_days", 7}});
    REQUIRE(custom);
    CHECK(custom->window == std::chrono::seconds(7 * day));
    health::inputs in;
    in.answers = {answer("1", "csat", 1, day)};
    CHECK(health::assess(in, *custom, at(2 * day), default_bad).level == health::band::churn_risk);
    CHECK(health::assess(in, *custom, at(9 * day), default_bad).level == health::band::healthy);
  }
}

TEST_CASE("health: customers are keyed by the trimmed, lower-cased e-mail", "[unit][health]") {
  CHECK(health::normalize_customer("  Ann.Lee@Example.COM \t") == "ann.lee@example.com");
  CHECK(health::band_from_string("at_risk") == health::band::at_risk);
  CHECK_FALSE(health::band_from_string("sick"));
}

namespace {

struct health_world {
  temp_dir dir;
  std::unique_ptr<store> db = open_store(dir.file("health.db"));
  rule_classifier clf{[] {
    rule_classifier_config c;
    c.categories = {{"billing", {"invoice", "refund"}}};
    return c;
  }()};
  engine eng{policy{}, clf};
  fixed_clock clk{at(0)};
  int n = 0;

  void send(event ev, std::int64_t at_s) {
    ev.host_event_id = "e" + std::to_string(++n);
    ev.occurred_at = at(at_s);
    auto r = db->ingest(ev, [&](const event& e, const ticket_state& s) { return eng.decide(e, s, clk); });
    REQUIRE(r);
  }
  void created(const std::string& tenant, const std::string& t, const std::string& email, const std::string& text,
               std::int64_t at_s) {
    event ev = make_event(t, "", event_type::ticket_created);
    ev.tenant = tenant;
    ev.requester.email = email;
    ev.subject = "Ticket " + t;
    ev.text = text;
    send(ev, at_s);
  }
  void reply(const std::string& t, std::int64_t at_s) {
    event ev = make_event(t, "", event_type::ticket_commented);
    ev.author.role = "agent";
    send(ev, at_s);
  }
  void reopened(const std::string& t, std::int64_t at_s) { send(make_event(t, "", event_type::ticket_reopened), at_s); }
};

}  // namespace

TEST_CASE("health: the store finds one customer's tickets, reopens and first replies", "[unit][health]") {
  health_world w;
  w.created("acme", "1", "Ann@Example.com", "This is terrible, the invoice is wrong again", 0);
  w.reply("1", 2 * hour);
  w.created("acme", "2", " ann@example.com", "refund please", 2 * day);  // a repeat contact
  w.reply("2", 2 * day + 30 * hour);                                     // late: 30 h
  w.reopened("2", 4 * day);
  w.created("acme", "3", "bob@example.com", "hello", day);
  w.created("other", "4", "ann@example.com", "another tenant's ticket", day);

  auto hs = health_store::open(w.dir.file("health.db"));
  REQUIRE(hs);
  auto facts = (*hs)->facts("acme", "ann@example.com", timestamp{});
  REQUIRE(facts);
  REQUIRE(facts->tickets.size() == 2);
  for (const auto& t : facts->tickets) {
    REQUIRE(t.first_agent_reply);
    if (t.ticket_id == "2") {
      CHECK(t.reopened_at.size() == 1);
      CHECK(*t.first_agent_reply - t.created_at == std::chrono::hours(30));
    }
  }
  auto customers = (*hs)->customers("acme");
  REQUIRE(customers);
  CHECK(*customers == std::vector<std::string>{"ann@example.com", "bob@example.com"});

  tenant_config t;
  t.id = "acme";
  auto a = server::customer_health::assess(**hs, t, "ANN@example.com ", at(5 * day));
  REQUIRE(a);
  CHECK(a->tickets == 2);
  CHECK(a->repeats == 1);
  CHECK(a->reopens == 1);
  CHECK(a->breaches == 1);
  REQUIRE(find_reason(*a, "repeat_contacts"));
  CHECK(find_reason(*a, "repeat_contacts")->points == 6);
  CHECK(find_reason(*a, "reopens")->points == 10);
  CHECK(find_reason(*a, "late_first_reply")->points == 8);
  int sum = 0;
  for (const auto& reason : a->reasons) sum += reason.points;
  CHECK(a->score == std::clamp(sum, 0, 100));

  // The band memory and the cursor over the event log.
  auto touched = (*hs)->touched_since(0, 100);
  REQUIRE(touched);
  CHECK(touched->last_seq == 7);
  CHECK(touched->customers.size() == 3);  // acme/ann, acme/bob, other/ann
  health_record r;
  r.tenant = "acme";
  r.customer = "ann@example.com";
  r.score = a->score;
  r.band = "at_risk";
  r.host = "zendesk";
  r.ticket_id = "2";
  REQUIRE((*hs)->put(r, at(5 * day)));
  auto pending = (*hs)->unwritten(10);
  REQUIRE(pending);
  REQUIRE(pending->size() == 1);
  CHECK(pending->front().written_band == "healthy");
  REQUIRE((*hs)->mark_written("acme", "ann@example.com", "at_risk", at(5 * day)));
  CHECK((*hs)->unwritten(10)->empty());
  REQUIRE((*hs)->set_cursor(7));
  CHECK(*(*hs)->cursor() == 7);
}
