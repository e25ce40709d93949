// When to send and what an answer does: business hours (weekend, DST), skip rules, sampling,
// e-mail normalisation, throttle and quotas through the ledger, reminders, expiry, cancelling on
// reopen and merge, write-back, escalation with a recovery timer, review request, recovery
// outcome and the edit window. Pure engine with a fixed clock and an in-memory ledger.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "closeloop/engine.hpp"

using namespace closeloop;
using namespace std::chrono_literals;

namespace {

timestamp at(const char* s) { return *parse_rfc3339(s); }

// The store's ledger, in memory: what the engine reads, and the writes applied like the store does.
struct memory_ledger final : survey::ledger {
  std::map<std::string, survey::person_record> people;
  std::map<std::string, std::int64_t> quota;
  survey::person_record person(const std::string& tenant, const std::string& key) const override {
    auto it = people.find(tenant + "|" + key);
    return it == people.end() ? survey::person_record{} : it->second;
  }
  std::int64_t quota_used(const std::string& tenant, const std::string& segment, timestamp start) const override {
    auto it = quota.find(tenant + "|" + segment + "|" + format_rfc3339(start));
    return it == quota.end() ? 0 : it->second;
  }
  void apply(const std::string& tenant, const decision& d) {
    if (!d.ledger_writes) return;
    auto& p = people[tenant + "|" + d.ledger_writes->person_key];
    if (d.ledger_writes->sent_at) p.last_sent_at = d.ledger_writes->sent_at;
    if (!d.ledger_writes->answer.is_null()) p.last_answer = d.ledger_writes->answer;
    for (const auto& q : d.ledger_writes->quota) ++quota[tenant + "|" + q.segment + "|" + format_rfc3339(q.period_start)];
  }
};

const action* find(const decision& d, action_type t) {
  auto it = std::find_if(d.actions.begin(), d.actions.end(), [&](const action& a) { return a.type == t; });
  return it == d.actions.end() ? nullptr : &*it;
}

const action* find_timer(const decision& d, const std::string& kind) {
  auto it = std::find_if(d.actions.begin(), d.actions.end(), [&](const action& a) {
    return a.type == action_type::schedule_survey && a.params.value("timer", "survey") == kind;
  });
  return it == d.actions.end() ? nullptr : &*it;
}

struct world {
  rule_classifier clf{rule_classifier_config{{{"billing", {"invoice", "refund", "charged"}}}}};
  policy pol = [] {
    policy p;
    p.survey.delay = 24h;
    return p;
  }();
  fixed_clock clk{at("2026-11-20T09:00:00Z")};
  memory_ledger ledger;
  std::map<std::string, ticket_state> states;  // host/ticket -> state

  decision feed(const event& ev) {
    engine eng{pol, clf};
    ticket_state& st = states[ev.host + "/" + ev.ticket_id];
    decision d = eng.decide(ev, st, clk, &ledger);
    st = d.next;
    ledger.apply(ev.tenant, d);
    return d;
  }
  event make(event_type t, const std::string& ticket, const std::string& id, const char* when,
             const std::string& email = "ann@example.com", const std::string& host = "generic") {
    event e;
    e.type = t;
    e.tenant = "acme";
    e.host = host;
    e.ticket_id = ticket;
    e.host_event_id = id;
    e.occurred_at = at(when);
    e.requester.email = email;
    return e;
  }
  // solve at `when`, then fire the survey timer at the due time: the send decision
  decision solve_and_fire(const std::string& ticket, const char* when, const std::string& email = "ann@example.com",
                          const std::string& host = "generic", const std::string& group = "") {
    event s = make(event_type::ticket_solved, ticket, "solve-" + ticket, when, email, host);
    s.group = group;
    decision sd = feed(s);
    const action* sched = find(sd, action_type::schedule_survey);
    if (!sched) return sd;
    clk.set(*sched->not_before);
    event t = make(event_type::timer_fired, ticket, "timer-" + ticket, when, email, host);
    t.occurred_at = *sched->not_before;
    t.data = {{"kind", "survey"}, {"timer_id", 1}};
    return feed(t);
  }
  decision answer(const std::string& ticket, const char* when, int score, const std::string& submission,
                  json extra = json::object(), const std::string& host = "generic") {
    event a = make(event_type::survey_answered, ticket, "survey:" + ticket + ":1:" + submission, when, "", host);
    a.data = {{"survey", "csat"}, {"kind", "csat"}, {"score", score}, {"submission_id", submission}, {"language", "en"}};
    a.data.update(extra);
    clk.set(a.occurred_at);
    return feed(a);
  }
};

}  // namespace

TEST_CASE("business hours: a due time at the weekend moves to Monday's opening", "[unit][survey][timing]") {
  survey::business_hours h;
  h.time_zone = "Asia/Shanghai";  // Mon-Fri 09:00-18:00 by default
  // Friday 17:30 local + 24 h = Saturday 17:30 -> Monday 09:00 local (01:00Z).
  CHECK(format_rfc3339(survey::next_open(at("2026-11-20T09:30:00Z") + 24h, h)) == "2026-11-23T01:00:00.000Z");
  // Within the hours: unchanged. Before opening: the same day's opening. After closing: the next day's.
  CHECK(format_rfc3339(survey::next_open(at("2026-11-24T03:00:00Z"), h)) == "2026-11-24T03:00:00.000Z");
  CHECK(format_rfc3339(survey::next_open(at("2026-11-23T23:30:00Z"), h)) == "2026-11-24T01:00:00.000Z");
  CHECK(format_rfc3339(survey::next_open(at("2026-11-24T10:00:00Z"), h)) == "2026-11-25T01:00:00.000Z");
  // No zone: any time.
  CHECK(survey::next_open(at("2026-11-21T03:00:00Z"), survey::business_hours{}) == at("2026-11-21T03:00:00Z"));
}

TEST_CASE("business hours across DST changes use the zone's rules", "[unit][survey][timing]") {
  survey::business_hours ny;
  ny.time_zone = "America/New_York";
  // Friday 2026-10-30 16:00 EDT (20:00Z) + 24 h falls on the weekend; DST ends on Sunday 1 Nov,
  // so Monday 09:00 is EST: 14:00Z, not 13:00Z.
  CHECK(format_rfc3339(survey::next_open(at("2026-10-30T20:00:00Z") + 24h, ny)) == "2026-11-02T14:00:00.000Z");
  // And the Friday before at 09:00 EDT is 13:00Z.
  CHECK(format_rfc3339(survey::next_open(at("2026-10-30T05:00:00Z"), ny)) == "2026-10-30T13:00:00.000Z");
  survey::business_hours berlin;
  berlin.time_zone = "Europe/Berlin";
  berlin.days.fill(true);
  // Saturday 2027-03-27 19:00 CET -> Sunday 28 March 09:00 CEST (clocks went forward at 02:00) = 07:00Z.
  CHECK(format_rfc3339(survey::next_open(at("2027-03-27T18:00:00Z"), berlin)) == "2027-03-28T07:00:00.000Z");
  CHECK(survey::check_time_zone("Europe/Berlin"));
  CHECK_FALSE(survey::check_time_zone("Europe/Atlantis"));
  // Quota periods in the zone: the week starts on Monday 00:00 local.
  CHECK(format_rfc3339(survey::period_start(at("2026-11-25T12:00:00Z"), "week", "Asia/Shanghai")) ==
        "2026-11-22T16:00:00.000Z");
  CHECK(format_rfc3339(survey::period_start(at("2026-11-25T12:00:00Z"), "month", "")) == "2026-11-01T00:00:00.000Z");
  CHECK(format_rfc3339(survey::period_start(at("2026-11-25T17:00:00Z"), "day", "Asia/Shanghai")) ==
        "2026-11-25T16:00:00.000Z");
}

TEST_CASE("the engine schedules after the delay, at the next business opening", "[unit][survey][timing]") {
  world w;
  w.pol.survey.hours.time_zone = "Asia/Shanghai";
  auto d = w.feed(w.make(event_type::ticket_solved, "1", "s1", "2026-11-20T09:30:00Z"));
  const action* sched = find(d, action_type::schedule_survey);
  REQUIRE(sched);
  CHECK(sched->params["due_at"] == "2026-11-23T01:00:00.000Z");
  CHECK(sched->params["survey"] == "csat");
  REQUIRE(d.survey_row);
  CHECK(d.survey_row->status == "scheduled");
  CHECK(d.survey_row->seq == 1);
}

TEST_CASE("skip rules: tags, spam, auto-closed, groups, internal requesters", "[unit][survey]") {
  world w;
  w.pol.survey.skip_tags = {"no_survey"};
  w.pol.survey.skip_groups = {"Internal IT"};
  w.pol.survey.internal_domains = {"acme.example"};
  auto reason = [&](event ev) {
    decision d = w.feed(ev);
    CHECK_FALSE(find(d, action_type::schedule_survey));
    CHECK(d.next.survey == "skipped");
    REQUIRE(d.survey_row);
    CHECK(d.survey_row->status == "skipped");
    return d.survey_row->note;
  };
  auto ev = w.make(event_type::ticket_solved, "1", "s1", "2026-11-20T09:00:00Z");
  ev.tags = {"no_survey"};
  CHECK(reason(ev) == "the ticket has a skip tag");
  ev = w.make(event_type::ticket_solved, "2", "s2", "2026-11-20T09:00:00Z");
  ev.tags = {"spam"};
  CHECK(reason(ev) == "the ticket is spam");
  ev = w.make(event_type::ticket_solved, "3", "s3", "2026-11-20T09:00:00Z");
  ev.data = {{"spam", true}};
  CHECK(reason(ev) == "the ticket is spam");
  ev = w.make(event_type::ticket_solved, "4", "s4", "2026-11-20T09:00:00Z");
  ev.data = {{"auto_closed", true}};
  CHECK(reason(ev) == "the ticket was closed automatically");
  ev = w.make(event_type::ticket_closed, "5", "s5", "2026-11-20T09:00:00Z");
  ev.author.role = "system";
  CHECK(reason(ev) == "the ticket was closed automatically");
  ev = w.make(event_type::ticket_solved, "6", "s6", "2026-11-20T09:00:00Z");
  ev.group = "Internal IT";
  CHECK(reason(ev) == "group Internal IT gets no surveys");
  ev = w.make(event_type::ticket_solved, "7", "s7", "2026-11-20T09:00:00Z", " Bob@ACME.example ");
  CHECK(reason(ev) == "the requester is internal (acme.example)");
  // Turned off, spam is surveyed like any other ticket.
  w.pol.survey.skip_spam = false;
  ev = w.make(event_type::ticket_solved, "8", "s8", "2026-11-20T09:00:00Z");
  ev.tags = {"spam"};
  CHECK(find(w.feed(ev), action_type::schedule_survey));
}

TEST_CASE("sampling is deterministic per ticket and close to the rate", "[unit][survey]") {
  int in = 0;
  for (int i = 0; i < 4000; ++i) {
    const std::string id = std::to_string(i);
    const bool s = survey::sampled("acme", "generic", id, 0.25);
    CHECK(s == survey::sampled("acme", "generic", id, 0.25));  // a replay decides the same
    in += s ? 1 : 0;
  }
  CHECK(in > 900);
  CHECK(in < 1100);
  CHECK_FALSE(survey::sampled("acme", "generic", "1", 0.0));
  CHECK(survey::sampled("acme", "generic", "1", 1.0));
  // Through the engine: a ticket out of the sample is skipped, with the reason.
  world w;
  w.pol.survey.sample_rate = 0.0;
  auto d = w.feed(w.make(event_type::ticket_solved, "1", "s1", "2026-11-20T09:00:00Z"));
  CHECK_FALSE(find(d, action_type::schedule_survey));
  REQUIRE(d.survey_row);
  CHECK(d.survey_row->note.starts_with("not in the sample"));
}

TEST_CASE("e-mail normalisation for the throttle", "[unit][survey]") {
  survey::throttle_policy p;
  CHECK(survey::normalize_email("  Ann.Smith+shop@GMail.com ", p) == "ann.smith+shop@gmail.com");
  CHECK(survey::normalize_email("Ann Smith <Ann@Example.COM>", p) == "ann@example.com");
  CHECK(survey::normalize_email("not an address", p) == "");
  p.fold_gmail = true;
  CHECK(survey::normalize_email("Ann.Smith+shop@googlemail.com", p) == "annsmith@gmail.com");
  CHECK(survey::normalize_email("ann.smith+x@example.com", p) == "ann.smith+x@example.com");
  p.strip_plus = true;
  CHECK(survey::normalize_email("ann.smith+x@example.com", p) == "ann.smith@example.com");
}

TEST_CASE("throttle: one survey per person per window, across tickets and hosts", "[unit][survey][throttle]") {
  world w;
  w.pol.survey.throttle.fold_gmail = true;
  auto first = w.solve_and_fire("1", "2026-11-01T09:00:00Z", "Ann.Lee@gmail.com");
  REQUIRE(find(first, action_type::send_survey));
  // Same person, written differently, on another ticket of another host ten days later: throttled.
  auto second = w.solve_and_fire("2", "2026-11-10T09:00:00Z", " annlee+work@GMAIL.com", "zendesk");
  CHECK_FALSE(find(second, action_type::send_survey));
  CHECK(second.next.survey == "skipped");
  REQUIRE(second.survey_row);
  CHECK(second.survey_row->note.starts_with("throttled: annlee@gmail.com was last surveyed 2026-11-02T09:00:00.000Z"));
  // Someone else is not throttled.
  CHECK(find(w.solve_and_fire("3", "2026-11-10T09:00:00Z", "bob@example.com"), action_type::send_survey));
  // After 30 days the person is asked again.
  CHECK(find(w.solve_and_fire("4", "2026-12-03T09:00:00Z", "annlee@gmail.com"), action_type::send_survey));
  // A window of 0 turns the throttle off.
  w.pol.survey.throttle.window = 0s;
  CHECK(find(w.solve_and_fire("5", "2026-12-04T09:00:00Z", "annlee@gmail.com"), action_type::send_survey));
}

TEST_CASE("quotas per segment and period", "[unit][survey][quota]") {
  world w;
  w.pol.survey.throttle.window = 0s;
  w.pol.survey.quotas = {survey::quota{"Billing", 2, "day"}, survey::quota{"", 3, "week"}};
  auto sent = [&](const std::string& t, const char* when, const std::string& group) {
    return find(w.solve_and_fire(t, when, "p" + t + "@example.com", "generic", group), action_type::send_survey) !=
           nullptr;
  };
  CHECK(sent("1", "2026-11-16T08:00:00Z", "Billing"));  // Monday: due Tuesday 08:00Z
  CHECK(sent("2", "2026-11-16T09:00:00Z", "Billing"));
  auto third = w.solve_and_fire("3", "2026-11-16T10:00:00Z", "p3@example.com", "generic", "Billing");
  CHECK_FALSE(find(third, action_type::send_survey));
  REQUIRE(third.survey_row);
  CHECK(third.survey_row->note == "quota used up: 2 per day for group Billing");
  CHECK(sent("4", "2026-11-16T10:00:00Z", "Sales"));   // the weekly quota: 3rd of the week
  CHECK_FALSE(sent("5", "2026-11-17T10:00:00Z", "Sales"));  // 4th of the week
  CHECK(sent("6", "2026-11-23T10:00:00Z", "Billing"));  // a new week and day
}

TEST_CASE("reopen or merge before sending cancels; reopen after sending does not resend", "[unit][survey]") {
  world w;
  w.feed(w.make(event_type::ticket_solved, "1", "s1", "2026-11-20T09:00:00Z"));
  auto reopened = w.feed(w.make(event_type::ticket_reopened, "1", "r1", "2026-11-20T10:00:00Z"));
  REQUIRE(find(reopened, action_type::cancel_survey));
  REQUIRE(reopened.survey_row);
  CHECK(reopened.survey_row->status == "cancelled");
  CHECK(reopened.survey_row->cancelled_at == at("2026-11-20T10:00:00Z"));

  w.feed(w.make(event_type::ticket_solved, "2", "s2", "2026-11-20T09:00:00Z"));
  auto merge = w.make(event_type::ticket_updated, "2", "u2", "2026-11-20T11:00:00Z");
  merge.changes = {{"merged_into", {{"from", nullptr}, {"to", "7"}}}};
  auto merged = w.feed(merge);
  REQUIRE(find(merged, action_type::cancel_survey));
  CHECK(merged.next.survey == "cancelled");
  CHECK(merged.survey_row->note == "ticket merged");
}

TEST_CASE("send: language from the ticket, one reminder, expiry", "[unit][survey]") {
  world w;
  w.pol.survey.reminder_enabled = true;
  w.pol.survey.reminder_delay = 72h;
  w.states["generic/1"].language = "zh-Hant";
  auto sent = w.solve_and_fire("1", "2026-11-20T09:00:00Z");
  const action* send = find(sent, action_type::send_survey);
  REQUIRE(send);
  CHECK(send->params["language"] == "zh-TW");
  CHECK(send->params["survey_id"] == 1);
  const action* rem = find_timer(sent, "survey_reminder");
  REQUIRE(rem);
  CHECK(rem->params["due_at"] == "2026-11-24T09:00:00.000Z");
  REQUIRE(find_timer(sent, "survey_expiry"));
  REQUIRE(sent.survey_row);
  CHECK(sent.survey_row->status == "sent");
  CHECK(sent.survey_row->language == "zh-TW");

  auto fire = [&](const char* kind, const char* when, const char* id) {
    auto t = w.make(event_type::timer_fired, "1", id, when);
    t.data = {{"kind", kind}, {"timer_id", 2}};
    w.clk.set(t.occurred_at);
    return w.feed(t);
  };
  auto reminded = fire("survey_reminder", "2026-11-24T09:00:00Z", "timer-2");
  const action* again = find(reminded, action_type::send_survey);
  REQUIRE(again);
  CHECK(again->params["reminder"] == true);
  CHECK(again->idempotency_key != send->idempotency_key);
  CHECK(reminded.next.survey == "reminded");
  // At most one reminder.
  CHECK_FALSE(find(fire("survey_reminder", "2026-11-25T09:00:00Z", "timer-3"), action_type::send_survey));
  auto expired = fire("survey_expiry", "2026-12-21T09:00:00Z", "timer-4");
  CHECK(expired.next.survey == "expired");
  REQUIRE(expired.survey_row);
  CHECK(expired.survey_row->status == "expired");
  // An answer after expiry is not recorded.
  auto late = w.answer("1", "2026-12-22T09:00:00Z", 5, "sub-late");
  CHECK_FALSE(find(late, action_type::set_fields));
}

TEST_CASE("a reminder is not sent once the survey is answered", "[unit][survey]") {
  world w;
  w.pol.survey.reminder_enabled = true;
  w.solve_and_fire("1", "2026-11-20T09:00:00Z");
  w.answer("1", "2026-11-22T09:00:00Z", 4, "sub-1");
  auto t = w.make(event_type::timer_fired, "1", "timer-r", "2026-11-24T09:00:00Z");
  t.data = {{"kind", "survey_reminder"}, {"timer_id", 2}};
  CHECK_FALSE(find(w.feed(t), action_type::send_survey));
}

TEST_CASE("an invitation withdrawn at send time (the customer opted out meanwhile) is skipped; a withdrawn "
          "reminder changes nothing",
          "[unit][survey][privacy]") {
  world w;
  w.pol.survey.reminder_enabled = true;
  auto sent = w.solve_and_fire("1", "2026-11-20T09:00:00Z");
  REQUIRE(find(sent, action_type::send_survey));
  auto withdraw = [&](const char* ticket, bool reminder, const char* id) {
    auto t = w.make(event_type::timer_fired, ticket, id, "2026-11-21T10:00:00Z");
    t.data = {{"kind", "survey_withdrawn"}, {"reminder", reminder}};
    return w.feed(t);
  };
  auto d = withdraw("1", false, "withdrawn:7");
  CHECK(d.next.survey == "skipped");
  REQUIRE(d.survey_row);
  CHECK(d.survey_row->status == "skipped");
  CHECK(d.survey_row->note == "invitation withdrawn: the customer opted out of surveys before it went out");
  const action* cancel = find(d, action_type::cancel_survey);
  REQUIRE(cancel);
  // Its reminder, when due, is not sent either, and an answer (there is no link) is not recorded.
  auto t = w.make(event_type::timer_fired, "1", "timer-r", "2026-11-23T09:00:00Z");
  t.data = {{"kind", "survey_reminder"}, {"timer_id", 2}};
  CHECK_FALSE(find(w.feed(t), action_type::send_survey));
  CHECK_FALSE(find(w.answer("1", "2026-11-23T10:00:00Z", 5, "sub-x"), action_type::set_fields));

  // A withdrawn reminder: the invitation went out before, the survey stays open.
  REQUIRE(find(w.solve_and_fire("2", "2026-11-20T09:00:00Z", "bea@example.com"), action_type::send_survey));
  auto r = withdraw("2", true, "withdrawn:8");
  CHECK(r.actions.empty());
  CHECK_FALSE(r.survey_row);
  CHECK(find(w.answer("2", "2026-11-21T10:00:00Z", 4, "sub-2"), action_type::set_fields));
}

TEST_CASE("answer: write-back with every answer, classified comment, negative escalates with a recovery timer",
          "[unit][survey][answer]") {
  world w;
  w.pol.survey.escalation.owner = "lead";
  w.pol.survey.escalation.group = "Escalations";
  w.solve_and_fire("1", "2026-11-20T09:00:00Z");
  auto d = w.answer("1", "2026-11-22T09:00:00Z", 2, "sub-1",
                    {{"answers", {{"reasons", {"slow", "not_solved"}}}},
                     {"comment", "You charged me twice and nobody answered, terrible"}});
  const action* fields = find(d, action_type::set_fields);
  REQUIRE(fields);
  CHECK(fields->params["fields"]["csat"] == 2);
  const action* note = find(d, action_type::add_internal_note);
  REQUIRE(note);
  const std::string body = note->params["body"];
  CHECK(body.find("2/5") != std::string::npos);
  CHECK(body.find("We are sorry. What went wrong? My problem is not solved, It took too long") != std::string::npos);
  CHECK(body.find("sentiment negative, category billing") != std::string::npos);
  CHECK(body.find("Reopened for follow-up by lead in Escalations") != std::string::npos);
  const action* reopen = find(d, action_type::reopen);
  REQUIRE(reopen);
  CHECK(reopen->params["owner"] == "lead");
  const action* recovery = find_timer(d, "survey_recovery");
  REQUIRE(recovery);
  CHECK(recovery->params["due_at"] == "2026-11-24T09:00:00.000Z");
  REQUIRE(d.survey_row);
  CHECK(d.survey_row->status == "answered");
  CHECK(d.survey_row->score == 2);
  CHECK(d.survey_row->recovery == "pending");
  CHECK(d.survey_row->response["answers"]["reasons"] == json({"not_solved", "slow"}));
  CHECK(d.survey_row->response["sentiment"] == "negative");
  CHECK(d.next.status == "open");

  // The recovery timer: still not solved again -> an alert.
  auto t = w.make(event_type::timer_fired, "1", "timer-rec", "2026-11-24T09:00:00Z");
  t.data = {{"kind", "survey_recovery"}, {"timer_id", 3}};
  auto overdue = w.feed(t);
  REQUIRE(find(overdue, action_type::raise_alert));
}

TEST_CASE("recovery timer: solved again in time raises nothing", "[unit][survey][answer]") {
  world w;
  w.solve_and_fire("1", "2026-11-20T09:00:00Z");
  w.answer("1", "2026-11-22T09:00:00Z", 1, "sub-1");
  w.feed(w.make(event_type::ticket_solved, "1", "solve-again", "2026-11-23T09:00:00Z"));
  auto t = w.make(event_type::timer_fired, "1", "timer-rec", "2026-11-24T09:00:00Z");
  t.data = {{"kind", "survey_recovery"}, {"timer_id", 3}};
  CHECK_FALSE(find(w.feed(t), action_type::raise_alert));
}

TEST_CASE("edit window: a later answer within it replaces the first, after it is ignored", "[unit][survey][answer]") {
  world w;
  w.pol.survey.edit_window = 7 * 24h;
  w.solve_and_fire("1", "2026-11-20T09:00:00Z");
  auto first = w.answer("1", "2026-11-22T09:00:00Z", 4, "sub-1");
  REQUIRE(find(first, action_type::set_fields));
  CHECK_FALSE(find(first, action_type::reopen));
  // Changed to a bad answer two days later: updated write-back and escalation now.
  auto edit = w.answer("1", "2026-11-24T09:00:00Z", 1, "sub-2");
  REQUIRE(find(edit, action_type::set_fields));
  CHECK(find(edit, action_type::set_fields)->params["fields"]["csat"] == 1);
  CHECK(find(edit, action_type::set_fields)->idempotency_key != find(first, action_type::set_fields)->idempotency_key);
  REQUIRE(find(edit, action_type::reopen));
  CHECK(find(edit, action_type::add_internal_note)->params["body"].get<std::string>().find("changed their answer") !=
        std::string::npos);
  REQUIRE(edit.survey_row);
  CHECK_FALSE(edit.survey_row->answered_at);  // the row keeps the first answer's time
  CHECK(edit.survey_row->response["edits"] == 1);
  CHECK(edit.next.survey_detail["answered_at"] == "2026-11-22T09:00:00.000Z");
  // A second negative edit does not reopen twice.
  CHECK_FALSE(find(w.answer("1", "2026-11-25T09:00:00Z", 2, "sub-3"), action_type::reopen));
  // After the window: ignored, with the reason.
  auto late = w.answer("1", "2026-11-29T09:00:01Z", 5, "sub-4");
  CHECK(late.actions.empty());
  CHECK_FALSE(late.survey_row);
  REQUIRE_FALSE(late.log.empty());
  CHECK(late.log.back().find("answers can be changed for 7 days") != std::string::npos);
}

TEST_CASE("answers are checked against the definition", "[unit][survey][answer]") {
  world w;
  w.solve_and_fire("1", "2026-11-20T09:00:00Z");
  auto out_of_range = w.answer("1", "2026-11-22T09:00:00Z", 9, "sub-1");
  CHECK(out_of_range.actions.empty());
  CHECK(out_of_range.log.back() == "answer ignored: answer \"score\": 9 is outside 1..5");
  auto unknown = w.answer("1", "2026-11-22T09:00:00Z", 4, "sub-2", {{"survey", "stars"}});
  CHECK(unknown.log.back() == "answer ignored: no survey \"stars\"");
  // Not yet sent: nothing to answer.
  world fresh;
  fresh.feed(fresh.make(event_type::ticket_solved, "9", "s9", "2026-11-20T09:00:00Z"));
  auto early = fresh.answer("9", "2026-11-20T10:00:00Z", 4, "sub-3");
  CHECK(early.actions.empty());
}

TEST_CASE("positive answer asks for a review once; a customer won back is recorded", "[unit][survey][answer]") {
  world w;
  w.pol.survey.review_url = "https://reviews.example/acme";
  w.solve_and_fire("1", "2026-11-01T09:00:00Z");
  auto bad = w.answer("1", "2026-11-02T09:00:00Z", 1, "sub-1");
  CHECK_FALSE(find(bad, action_type::post_public_reply));
  CHECK_FALSE(bad.ledger_writes->recovery.is_object());
  // The same customer, on a later ticket, 35 days on (past the throttle), answers 5.
  w.states["generic/2"].language = "zh-Hans";
  REQUIRE(find(w.solve_and_fire("2", "2026-12-06T09:00:00Z"), action_type::send_survey));
  auto good = w.answer("2", "2026-12-08T09:00:00Z", 5, "sub-2", {{"language", "zh-CN"}});
  const action* review = find(good, action_type::post_public_reply);
  REQUIRE(review);
  CHECK(review->params["body"].get<std::string>().find("https://reviews.example/acme") != std::string::npos);
  CHECK(review->params["body"].get<std::string>().find("感谢") != std::string::npos);
  REQUIRE(good.ledger_writes);
  CHECK(good.ledger_writes->recovery["ticket"] == "1");
  CHECK(good.ledger_writes->recovery["outcome"] == "won_back");
  CHECK(good.survey_row->response["follows_negative"]["outcome"] == "won_back");
  // Editing within the window does not ask again.
  CHECK_FALSE(find(w.answer("2", "2026-12-08T10:00:00Z", 5, "sub-3"), action_type::post_public_reply));
}

TEST_CASE("answer webhooks: one post_webhook per subscribed webhook and accepted answer, none otherwise",
          "[unit][survey][answer]") {
  world w;
  outbound_webhook crm;
  crm.id = "crm";
  crm.url = "https://crm.example.com/hooks/closeloop";
  crm.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  crm.events = {"survey.answered"};
  outbound_webhook anon = crm;
  anon.id = "warehouse";
  anon.include_customer = false;
  w.pol.webhooks = {crm, anon};
  w.solve_and_fire("1", "2026-11-20T09:00:00Z");
  auto d = w.answer("1", "2026-11-22T09:00:00Z", 1, "sub-1", {{"comment", "Nobody answered, terrible"}});
  std::vector<const action*> hooks;
  for (const auto& a : d.actions)
    if (a.type == action_type::post_webhook) hooks.push_back(&a);
  REQUIRE(hooks.size() == 2);
  const json& p = hooks[0]->params;
  CHECK(p["webhook"] == "crm");
  CHECK(p["event"] == "survey.answered");
  CHECK(p["payload"]["score"] == 1);
  CHECK(p["payload"]["scale"] == json({{"min", 1}, {"max", 5}}));
  CHECK(p["payload"]["negative"] == true);
  CHECK(p["payload"]["escalated"] == true);
  CHECK(p["payload"]["comment"] == "Nobody answered, terrible");
  CHECK(p["payload"]["comment_sentiment"] == "negative");
  CHECK(p["payload"]["customer"]["email"] == "ann@example.com");
  CHECK(p["payload"]["answered_at"] == "2026-11-22T09:00:00.000Z");
  CHECK_FALSE(hooks[1]->params["payload"].contains("customer"));
  CHECK(hooks[0]->idempotency_key != hooks[1]->idempotency_key);
  // Every action the engine emits is a valid action document.
  CHECK(action_from_json(to_json(*hooks[0])));

  // An edit is a new delivery, marked as such; an answer that is ignored sends nothing.
  auto edit = w.answer("1", "2026-11-23T09:00:00Z", 4, "sub-2");
  const action* e = find(edit, action_type::post_webhook);
  REQUIRE(e);
  CHECK(e->params["payload"]["edit"] == true);
  CHECK(e->params["payload"]["escalated"] == true);  // the ticket stays escalated from the first answer
  CHECK(e->idempotency_key != hooks[0]->idempotency_key);
  CHECK_FALSE(find(w.answer("1", "2026-11-23T10:00:00Z", 9, "sub-3"), action_type::post_webhook));

  // A webhook that does not subscribe to answers gets none.
  world other;
  outbound_webhook none = crm;
  none.events = {"alert.raised"};
  other.pol.webhooks = {none};
  other.solve_and_fire("2", "2026-11-20T09:00:00Z");
  CHECK_FALSE(find(other.answer("2", "2026-11-22T09:00:00Z", 5, "sub-1"), action_type::post_webhook));
}
