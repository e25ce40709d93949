#include <catch2/catch.hpp>

#include <algorithm>

#include "closeloop/engine.hpp"

using namespace closeloop;
using namespace std::chrono_literals;

namespace {

timestamp at(const char* s) { return *parse_rfc3339(s); }

event make_event(event_type t, std::string id, const char* when, std::string text = {}) {
  event e;
  e.type = t;
  e.tenant = "acme";
  e.host = "generic";
  e.ticket_id = "42";
  e.host_event_id = std::move(id);
  e.occurred_at = at(when);
  e.requester.email = "ann@example.com";
  e.text = std::move(text);
  return e;
}

const action* find(const decision& d, action_type t) {
  auto it = std::find_if(d.actions.begin(), d.actions.end(), [&](const action& a) { return a.type == t; });
  return it == d.actions.end() ? nullptr : &*it;
}

struct fixture {
  rule_classifier clf{rule_classifier_config{{{"billing", {"invoice", "refund", "账单", "退款"}},
                                              {"outage", {"down", "outage", "宕机"}}}}};
  policy pol = [] {
    policy p;
    p.routing["billing"] = "Billing";
    p.survey.delay = 24h;
    return p;
  }();
  engine eng{pol, clf};
  fixed_clock clk{at("2026-11-20T09:00:00Z")};
};

}  // namespace

TEST_CASE_METHOD(fixture, "created: fields, priority with reasons, routing and a note", "[unit][engine]") {
  auto ev = make_event(event_type::ticket_created, "t1", "2026-11-20T09:00:00Z",
                       "Our production is down, all users cannot log in. Fix it today!");
  auto d = eng.decide(ev, ticket_state{}, clk);
  const action* prio = find(d, action_type::set_priority);
  REQUIRE(prio);
  CHECK(prio->params["priority"] == "critical");
  CHECK(prio->params["label"] == "重大");
  CHECK(prio->immediate);
  CHECK(prio->params["reasons"].size() >= 2);
  const action* fields = find(d, action_type::set_fields);
  REQUIRE(fields);
  CHECK(fields->params["fields"]["category"] == "outage");
  CHECK(fields->params["fields"]["language"] == "en");
  const action* note = find(d, action_type::add_internal_note);
  REQUIRE(note);
  CHECK(note->params["body"].get<std::string>().find("affects all users") != std::string::npos);
  CHECK(d.next.status == "new");
  CHECK(d.next.prio == priority::critical);
  CHECK_FALSE(find(d, action_type::assign_group));  // no routing for "outage"
}

TEST_CASE_METHOD(fixture, "created in Chinese: language, category, routing", "[unit][engine]") {
  auto ev = make_event(event_type::ticket_created, "t1", "2026-11-20T09:00:00Z", "这个月的账单多收了钱，请尽快退款。");
  auto d = eng.decide(ev, ticket_state{}, clk);
  REQUIRE(find(d, action_type::set_fields));
  CHECK(find(d, action_type::set_fields)->params["fields"]["language"] == "zh-Hans");
  CHECK(find(d, action_type::set_fields)->params["fields"]["category"] == "billing");
  CHECK(find(d, action_type::set_fields)->params["fields"]["sentiment"] == "negative");
  CHECK(find(d, action_type::set_priority)->params["priority"] == "urgent");
  REQUIRE(find(d, action_type::assign_group));
  CHECK(find(d, action_type::assign_group)->params["group"] == "Billing");

  auto trad = make_event(event_type::ticket_created, "t2", "2026-11-20T09:00:00Z", "這個帳單有問題，請幫我處理，謝謝。");
  CHECK(eng.decide(trad, ticket_state{}, clk).next.language == "zh-Hant");
}

TEST_CASE_METHOD(fixture, "a polite complaint is still negative; a thankful question is not", "[unit][engine]") {
  auto complaint = make_event(event_type::ticket_created, "t1", "2026-11-20T09:00:00Z",
                              "我们的账单本月被重复扣款两次，请尽快处理退款。谢谢！");
  CHECK(eng.decide(complaint, ticket_state{}, clk).next.sentiment == "negative");
  auto en = make_event(event_type::ticket_created, "t2", "2026-11-20T09:00:00Z",
                       "We were charged twice this month, please refund. Thanks!");
  CHECK(eng.decide(en, ticket_state{}, clk).next.sentiment == "negative");
  auto question = make_event(event_type::ticket_created, "t3", "2026-11-20T09:00:00Z",
                             "How do I export the report to CSV? Thanks, great product!");
  CHECK(eng.decide(question, ticket_state{}, clk).next.sentiment == "positive");
}

TEST_CASE_METHOD(fixture, "solved schedules one survey after the configured delay", "[unit][engine]") {
  ticket_state s;
  s.known = true;
  s.status = "open";
  s.language = "zh-Hans";
  auto d = eng.decide(make_event(event_type::ticket_solved, "t5", "2026-11-20T10:00:00Z"), s, clk);
  const action* sched = find(d, action_type::schedule_survey);
  REQUIRE(sched);
  CHECK(sched->params["survey"] == "csat");
  CHECK(sched->params["due_at"] == "2026-11-21T10:00:00.000Z");
  REQUIRE(sched->not_before);
  CHECK(*sched->not_before == at("2026-11-21T10:00:00Z"));
  CHECK(d.next.survey == "scheduled");
  CHECK(d.next.status == "solved");

  // Closing the ticket afterwards does not schedule a second survey.
  auto d2 = eng.decide(make_event(event_type::ticket_closed, "t6", "2026-11-20T11:00:00Z"), d.next, clk);
  CHECK_FALSE(find(d2, action_type::schedule_survey));
}

TEST_CASE_METHOD(fixture, "reopened before sending cancels the survey; timer then sends nothing", "[unit][engine]") {
  ticket_state s;
  s.known = true;
  auto solved = eng.decide(make_event(event_type::ticket_solved, "t5", "2026-11-20T10:00:00Z"), s, clk);
  auto reopened = eng.decide(make_event(event_type::ticket_reopened, "t6", "2026-11-20T12:00:00Z"), solved.next, clk);
  REQUIRE(find(reopened, action_type::cancel_survey));
  CHECK(reopened.next.survey == "cancelled");
  CHECK(reopened.next.status == "open");

  auto timer = make_event(event_type::timer_fired, "timer:1", "2026-11-21T10:00:00Z");
  timer.data = {{"kind", "survey"}, {"timer_id", 1}};
  clk.set(at("2026-11-21T10:00:01Z"));
  auto fired = eng.decide(timer, reopened.next, clk);
  CHECK_FALSE(find(fired, action_type::send_survey));

  // Solved again: a fresh schedule with a different key than the first.
  auto again = eng.decide(make_event(event_type::ticket_solved, "t7", "2026-11-21T12:00:00Z"), reopened.next, clk);
  REQUIRE(find(again, action_type::schedule_survey));
  CHECK(find(again, action_type::schedule_survey)->idempotency_key !=
        find(solved, action_type::schedule_survey)->idempotency_key);
}

TEST_CASE_METHOD(fixture, "timer fires: one invitation per ticket, in the ticket's language", "[unit][engine]") {
  ticket_state s;
  s.known = true;
  s.language = "zh-Hant";
  auto solved = eng.decide(make_event(event_type::ticket_solved, "t5", "2026-11-20T10:00:00Z"), s, clk);
  auto timer = make_event(event_type::timer_fired, "timer:1", "2026-11-21T10:00:00Z");
  timer.data = {{"kind", "survey"}, {"timer_id", 1}, {"survey", "csat"}};
  clk.set(at("2026-11-21T10:00:02Z"));
  auto fired = eng.decide(timer, solved.next, clk);
  const action* send = find(fired, action_type::send_survey);
  REQUIRE(send);
  CHECK(send->params["language"] == "zh-TW");  // the survey texts are zh-CN / zh-TW
  CHECK(send->idempotency_key == "acme/generic/42/survey/send");
  CHECK(fired.next.survey == "sent");
  // The same timer again (redelivery) sends nothing more.
  CHECK_FALSE(find(eng.decide(timer, fired.next, clk), action_type::send_survey));
}

TEST_CASE_METHOD(fixture, "a survey long overdue is skipped, not sent", "[unit][engine]") {
  ticket_state s;
  s.known = true;
  auto solved = eng.decide(make_event(event_type::ticket_solved, "t5", "2026-11-01T10:00:00Z"), s, clk);
  auto timer = make_event(event_type::timer_fired, "timer:1", "2026-11-02T10:00:00Z");
  timer.data = {{"kind", "survey"}, {"timer_id", 1}};
  clk.set(at("2026-11-20T10:00:00Z"));  // 19 days later: past the 7-day max_age
  auto fired = eng.decide(timer, solved.next, clk);
  CHECK_FALSE(find(fired, action_type::send_survey));
  CHECK(fired.next.survey == "skipped");
}

TEST_CASE_METHOD(fixture, "skip tags and disabled surveys", "[unit][engine]") {
  pol.survey.skip_tags = {"spam"};
  engine e2{pol, clf};
  auto ev = make_event(event_type::ticket_solved, "t5", "2026-11-20T10:00:00Z");
  ev.tags = {"spam"};
  CHECK_FALSE(find(e2.decide(ev, ticket_state{}, clk), action_type::schedule_survey));
  pol.survey.enabled = false;
  engine e3{pol, clf};
  ev.tags.clear();
  CHECK_FALSE(find(e3.decide(ev, ticket_state{}, clk), action_type::schedule_survey));
}

TEST_CASE_METHOD(fixture, "customer reply raises priority; agent reply does not", "[unit][engine]") {
  ticket_state s;
  s.known = true;
  s.prio = priority::normal;
  auto reply = make_event(event_type::ticket_commented, "c1", "2026-11-20T10:00:00Z", "This is urgent, we have a deadline");
  reply.visibility = "public";
  reply.author.role = "customer";
  auto d = eng.decide(reply, s, clk);
  REQUIRE(find(d, action_type::set_priority));
  CHECK(find(d, action_type::set_priority)->params["priority"] == "urgent");
  reply.author.role = "agent";
  CHECK(eng.decide(reply, s, clk).actions.empty());
}

TEST_CASE_METHOD(fixture, "agent corrections are recorded as learning examples", "[unit][engine]") {
  auto upd = make_event(event_type::ticket_updated, "u1", "2026-11-20T10:00:00Z");
  upd.changes = {{"category", {{"from", "outage"}, {"to", "billing"}}}};
  auto d = eng.decide(upd, ticket_state{}, clk);
  REQUIRE(d.next.corrections.size() == 1);
  CHECK(d.next.corrections[0]["to"] == "billing");
  CHECK(d.next.category == "billing");
  CHECK(d.actions.empty());
}

TEST_CASE_METHOD(fixture, "idempotency keys are derived from the event", "[unit][engine]") {
  auto ev = make_event(event_type::ticket_created, "t1", "2026-11-20T09:00:00Z", "invoice question");
  auto a = eng.decide(ev, ticket_state{}, clk);
  auto b = eng.decide(ev, ticket_state{}, clk);
  REQUIRE(a.actions.size() == b.actions.size());
  for (std::size_t i = 0; i < a.actions.size(); ++i) CHECK(a.actions[i].idempotency_key == b.actions[i].idempotency_key);
  ev.host_event_id = "t2";
  auto c = eng.decide(ev, ticket_state{}, clk);
  CHECK(c.actions[0].idempotency_key != a.actions[0].idempotency_key);
}

TEST_CASE("ticket_state JSON round trip", "[unit][engine]") {
  ticket_state s;
  s.known = true;
  s.status = "solved";
  s.prio = priority::urgent;
  s.survey = "scheduled";
  s.solve_count = 2;
  s.solved_at = *parse_rfc3339("2026-11-20T10:00:00Z");
  auto back = ticket_state_from_json(to_json(s));
  CHECK(back.status == "solved");
  CHECK(back.prio == priority::urgent);
  CHECK(back.solve_count == 2);
  CHECK(back.solved_at == s.solved_at);
  CHECK(ticket_state_from_json(json("garbage")).known == false);
}

namespace {

event answer(const char* id, int score, std::string kind = "csat", std::string comment = {}) {
  auto ev = make_event(event_type::survey_answered, id, "2026-11-22T10:00:00Z");
  ev.data = {{"survey", kind}, {"score", score}};
  if (!comment.empty()) ev.data["comment"] = comment;
  return ev;
}

ticket_state sent_survey() {
  ticket_state s;
  s.known = true;
  s.status = "solved";
  s.survey = "sent";
  return s;
}

}  // namespace

TEST_CASE("a bad answer reopens to the escalation owner and queue, with the answer in a note", "[unit][engine]") {
  rule_classifier clf{rule_classifier_config{}};
  policy pol;
  pol.survey.escalation.owner = "lead";
  pol.survey.escalation.group = "Escalations";
  engine eng{pol, clf};
  fixed_clock clk{at("2026-11-22T10:00:00Z")};
  auto d = eng.decide(answer("survey:csat", 1, "csat", "Nobody read my message"), sent_survey(), clk);
  const action* fields = find(d, action_type::set_fields);
  REQUIRE(fields);
  CHECK(fields->params["fields"]["csat"] == 1);
  CHECK_FALSE(fields->immediate);
  const action* note = find(d, action_type::add_internal_note);
  REQUIRE(note);
  CHECK(note->params["body"].get<std::string>().find("1/5") != std::string::npos);
  CHECK(note->params["body"].get<std::string>().find("Nobody read my message") != std::string::npos);
  const action* reopen = find(d, action_type::reopen);
  REQUIRE(reopen);
  CHECK(reopen->params["owner"] == "lead");
  CHECK(reopen->params["group"] == "Escalations");
  CHECK(d.next.survey == "answered");
  CHECK(d.next.survey_score == 1);
  CHECK(d.next.status == "open");
}

TEST_CASE("a good answer is recorded and the ticket stays solved", "[unit][engine]") {
  rule_classifier clf{rule_classifier_config{}};
  policy pol;
  engine eng{pol, clf};
  fixed_clock clk{at("2026-11-22T10:00:00Z")};
  auto d = eng.decide(answer("survey:csat", 5), sent_survey(), clk);
  CHECK(find(d, action_type::set_fields));
  CHECK(find(d, action_type::add_internal_note));
  CHECK_FALSE(find(d, action_type::reopen));
  CHECK(d.next.status == "solved");

  SECTION("NPS 6 is a detractor, CES 3 of 7 is hard; both escalate by default") {
    CHECK(find(eng.decide(answer("survey:nps", 6, "nps"), sent_survey(), clk), action_type::reopen));
    CHECK_FALSE(find(eng.decide(answer("survey:nps", 7, "nps"), sent_survey(), clk), action_type::reopen));
    CHECK(find(eng.decide(answer("survey:ces", 3, "ces"), sent_survey(), clk), action_type::reopen));
    CHECK_FALSE(find(eng.decide(answer("survey:ces", 4, "ces"), sent_survey(), clk), action_type::reopen));
  }
  SECTION("escalation can be switched off or its threshold moved") {
    policy p2;
    p2.survey.escalation.max_score = 3;
    engine e2{p2, clf};
    CHECK(find(e2.decide(answer("survey:csat", 3), sent_survey(), clk), action_type::reopen));
    p2.survey.escalation.enabled = false;
    engine e3{p2, clf};
    auto d3 = e3.decide(answer("survey:csat", 1), sent_survey(), clk);
    CHECK_FALSE(find(d3, action_type::reopen));
    CHECK(find(d3, action_type::set_fields));
  }
}

TEST_CASE("an answer out of range, or a second answer, changes nothing", "[unit][engine]") {
  rule_classifier clf{rule_classifier_config{}};
  policy pol;
  engine eng{pol, clf};
  fixed_clock clk{at("2026-11-22T10:00:00Z")};
  auto d = eng.decide(answer("survey:csat", 9), sent_survey(), clk);
  CHECK(d.actions.empty());
  CHECK(d.next.survey == "sent");
  ticket_state answered = sent_survey();
  answered.survey = "answered";
  CHECK(eng.decide(answer("survey:csat", 1), answered, clk).actions.empty());
}

TEST_CASE_METHOD(fixture, "a solved ticket with a real answer drafts one KB article per problem", "[unit][engine]") {
  auto created = make_event(event_type::ticket_created, "t1", "2026-11-20T09:00:00Z",
                            "The printer on floor 3 jams every morning. Call me at +1 415 555 0100 or ann@example.com");
  created.subject = "Printer on floor 3 jams";
  auto d1 = eng.decide(created, ticket_state{}, clk);
  CHECK(d1.next.subject == "Printer on floor 3 jams");
  CHECK(d1.next.problem.find("ann@example.com") == std::string::npos);
  CHECK(d1.next.problem.find("[email]") != std::string::npos);
  CHECK(d1.next.problem.find("[phone]") != std::string::npos);

  auto solved = make_event(event_type::ticket_solved, "t2", "2026-11-20T12:00:00Z");
  solved.data = {{"resolution", "Open tray 2, remove the torn sheet behind the roller, then run the cleaning cycle "
                                "from the printer menu. Mail it@example.com if it happens again."}};
  auto d2 = eng.decide(solved, d1.next, clk);
  const action* art = find(d2, action_type::create_kb_article);
  REQUIRE(art);
  CHECK_FALSE(art->immediate);
  CHECK(art->params["title"] == "Printer on floor 3 jams");
  const std::string body = art->params["body"];
  CHECK(body.find("torn sheet") != std::string::npos);
  CHECK(body.find("it@example.com") == std::string::npos);
  CHECK(body.find("ann@example.com") == std::string::npos);
  CHECK(art->idempotency_key == "acme/generic/kb/" + art->params["fingerprint"].get<std::string>());

  SECTION("the same problem in other words on another ticket has the same key") {
    auto other = created;
    other.ticket_id = "43";
    other.subject = "printer jams on floor 3!";
    auto o1 = eng.decide(other, ticket_state{}, clk);
    auto s2 = solved;
    s2.ticket_id = "43";
    auto o2 = eng.decide(s2, o1.next, clk);
    const action* art2 = find(o2, action_type::create_kb_article);
    REQUIRE(art2);
    CHECK(art2->idempotency_key == art->idempotency_key);
  }
  SECTION("a one-line answer, a closed (not solved) ticket or kb disabled draft nothing") {
    auto short_answer = solved;
    short_answer.data = {{"resolution", "Fixed."}};
    CHECK_FALSE(find(eng.decide(short_answer, d1.next, clk), action_type::create_kb_article));
    auto closed = solved;
    closed.type = event_type::ticket_closed;
    CHECK_FALSE(find(eng.decide(closed, d1.next, clk), action_type::create_kb_article));
    policy off = pol;
    off.kb.enabled = false;
    engine e2{off, clf};
    CHECK_FALSE(find(e2.decide(solved, d1.next, clk), action_type::create_kb_article));
  }
}

TEST_CASE_METHOD(fixture, "a classification made ahead decides exactly as the classifier would", "[unit][engine]") {
  // The server classifies on the receiving thread and hands the result to decide(), which then
  // must not ask the classifier again; the decision is the same as without it.
  auto created = make_event(event_type::ticket_created, "t1", "2026-11-20T09:00:00Z",
                            "Our production is down, all users cannot log in. Fix it today!");
  auto reply = make_event(event_type::ticket_commented, "c1", "2026-11-20T10:00:00Z", "This is urgent, the invoice");
  reply.visibility = "public";
  reply.author.role = "customer";
  auto internal = reply;
  internal.visibility = "internal";
  auto agent = reply;
  agent.author.role = "agent";
  auto solved = make_event(event_type::ticket_solved, "s1", "2026-11-20T11:00:00Z");
  CHECK(engine::classifies(created));
  CHECK(engine::classifies(reply));
  CHECK_FALSE(engine::classifies(internal));
  CHECK_FALSE(engine::classifies(agent));
  CHECK_FALSE(engine::classifies(solved));

  for (const event* ev : {&created, &reply}) {
    ticket_state s;
    if (ev == &reply) s.known = true;
    const classification ahead = clf.classify(*ev);
    const auto plain = eng.decide(*ev, s, clk);
    const auto given = eng.decide(*ev, s, clk, nullptr, &ahead);
    CHECK(to_json(given.next) == to_json(plain.next));
    REQUIRE(given.actions.size() == plain.actions.size());
    for (std::size_t i = 0; i < plain.actions.size(); ++i) CHECK(to_json(given.actions[i]) == to_json(plain.actions[i]));
  }

  // What is handed in is what counts: a different classification changes the decision.
  classification other = clf.classify(created);
  other.prio = priority::normal;
  other.reasons = {"handed in by the caller"};
  const auto d = eng.decide(created, ticket_state{}, clk, nullptr, &other);
  const action* prio = find(d, action_type::set_priority);
  REQUIRE(prio);
  CHECK(prio->params["reasons"][0] == "handed in by the caller");
}
