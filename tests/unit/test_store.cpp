// The durable store against real SQLite files: migrations, dedupe, atomic decisions, idempotency
// keys, survey timers, and the outbox state machine.
#include <catch2/catch.hpp>

#include <fstream>

#include <SQLiteCpp/SQLiteCpp.h>

#include "closeloop/store.hpp"
#include "store_test_support.hpp"

using namespace closeloop;
using namespace store_test;

namespace {


std::int64_t scalar(const std::string& path, const std::string& sql) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  SQLite::Statement q(db, sql);
  REQUIRE(q.executeStep());
  return q.getColumn(0).getInt64();
}

std::string text_scalar(const std::string& path, const std::string& sql) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  SQLite::Statement q(db, sql);
  REQUIRE(q.executeStep());
  return q.getColumn(0).getString();
}

decide_fn returning(std::vector<action> acts, ticket_state next = {}) {
  return [acts, next](const event&, const ticket_state&) {
    decision d;
    d.actions = acts;
    d.next = next;
    return d;
  };
}

}  // namespace

TEST_CASE("store: migrations apply once and are idempotent on reopen", "[unit][store]") {
  temp_dir dir;
  const std::string path = dir.file("t.db");
  int version = 0;
  {
    auto s = open_store(path);
    version = s->schema_version();
    REQUIRE(version >= 1);
  }
  CHECK(scalar(path, "SELECT count(*) FROM schema_migrations") == version);
  CHECK(scalar(path, "SELECT max(version) FROM schema_migrations") == version);
  const auto applied_at = scalar(path, "SELECT sum(applied_at) FROM schema_migrations");
  CHECK(text_scalar(path, "PRAGMA journal_mode") == "wal");
  for (const char* table : {"events", "outbox", "timers", "ticket_state"}) {
    CHECK(scalar(path, std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '") + table +
                           "'") == 1);
  }
  {
    auto s = open_store(path);
    CHECK(s->schema_version() == version);
  }
  CHECK(scalar(path, "SELECT count(*) FROM schema_migrations") == version);
  CHECK(scalar(path, "SELECT sum(applied_at) FROM schema_migrations") == applied_at);
}

TEST_CASE("store: migration 10 rebuilds outbox and timers with OR status checks, keeping every row", "[unit][store]") {
  temp_dir dir;
  const std::string path = dir.file("t.db");
  event ev = make_event("T7", "tx-100", event_type::ticket_solved);
  action applied = make_action(ev, action_type::set_priority, "tx-100/prio", {{"priority", "urgent"}});
  applied.immediate = true;
  action sched = make_action(ev, action_type::schedule_survey, "tx-100/survey",
                             {{"survey", "csat"}, {"due_at", "2026-11-24T09:00:00Z"}});
  {
    auto s = open_store(path);
    REQUIRE(s->ingest(ev, returning({applied, note(ev, "tx-100/note"), sched}), ingest_options{true}));
  }
  // Back to what a version-9 file holds: the same tables with the IN-list checks, and a requeue
  // row pointing at an outbox row (the foreign key the rebuild must keep).
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO outbox_requeues (outbox_id, at_ms, actor, attempts, last_error)"
            " SELECT id, 1, 'admin', 6, 'HTTP 503' FROM outbox WHERE idempotency_key = 'tx-100/note'");
    db.exec("PRAGMA writable_schema = ON");
    db.exec("UPDATE sqlite_schema SET sql = replace(replace(sql,"
            " 'CHECK (status = ''pending'' OR status = ''running'' OR status = ''done''\n"
            "                       OR status = ''failed'' OR status = ''cancelled'' OR status = ''applied'')',"
            " 'CHECK (status IN (''pending'', ''running'', ''done'', ''failed'', ''cancelled'', ''applied''))'),"
            " 'CHECK (status = ''pending'' OR status = ''fired'' OR status = ''cancelled'')',"
            " 'CHECK (status IN (''pending'', ''fired'', ''cancelled''))') WHERE name IN ('outbox', 'timers')");
    db.exec("PRAGMA writable_schema = OFF");
    db.exec("DELETE FROM schema_migrations WHERE version >= 10");
  }
  REQUIRE(scalar(path, "SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%status IN (%' AND name IN ('outbox', 'timers')") == 2);
  const std::string rows_sql =
      "SELECT group_concat(id || ':' || idempotency_key || ':' || status || ':' || next_attempt_at_ms, ' ') FROM outbox";
  const std::string before = text_scalar(path, rows_sql);
  const std::string timers_before = text_scalar(path, "SELECT group_concat(id || ':' || status || ':' || due_at_ms) FROM timers");

  auto s = open_store(path);  // migrates 9 -> latest
  CHECK(s->schema_version() >= 10);
  CHECK(text_scalar(path, rows_sql) == before);
  CHECK(text_scalar(path, "SELECT group_concat(id || ':' || status || ':' || due_at_ms) FROM timers") == timers_before);
  CHECK(scalar(path, "SELECT count(*) FROM outbox_requeues r JOIN outbox o ON o.id = r.outbox_id"
                     " WHERE o.idempotency_key = 'tx-100/note'") == 1);
  CHECK(scalar(path, "SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%status IN (%' AND name IN ('outbox', 'timers')") == 0);
  CHECK(scalar(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name IN ('outbox', 'timers')") == 6);
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    // The checks still hold, and inserting a row no longer builds an index for the list.
    CHECK_THROWS_WITH(db.exec("UPDATE outbox SET status = 'lost'"), Catch::Contains("CHECK constraint failed"));
    CHECK_THROWS_WITH(db.exec("UPDATE timers SET status = 'lost'"), Catch::Contains("CHECK constraint failed"));
    SQLite::Statement plan(db,
                           "EXPLAIN INSERT INTO outbox (idempotency_key, tenant, host, ticket_id, type, body, status,"
                           " next_attempt_at_ms, created_at_ms, updated_at_ms) VALUES ('k', 'a', 'h', 't', 'x', '{}',"
                           " 'pending', 0, 0, 0)");
    bool ephemeral = false;
    while (plan.executeStep()) ephemeral = ephemeral || plan.getColumn(1).getString() == "OpenEphemeral";
    CHECK_FALSE(ephemeral);
  }
  // And the store works on it: the requeued row can be read, a new event adds rows.
  REQUIRE(s->ingest(make_event("T8", "tx-200", event_type::ticket_created), returning({note(make_event("T8", "tx-200", event_type::ticket_created), "tx-200/note")})));
  CHECK(scalar(path, "SELECT count(*) FROM outbox") == 4);
}

TEST_CASE("store: a database newer than the code is refused with a clear error", "[unit][store]") {
  temp_dir dir;
  const std::string path = dir.file("t.db");
  { auto s = open_store(path); }
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from the future', 0)");
  }
  auto s = store::open(store_options{path});
  REQUIRE_FALSE(s);
  CHECK(s.err().code == errc::unsupported);
  CHECK_THAT(s.err().message, Catch::Contains("9999") && Catch::Contains("newer"));
}

TEST_CASE("store: open reports bad paths and foreign files as errors, never throws", "[unit][store]") {
  temp_dir dir;
  auto missing = store::open(store_options{dir.file("no/such/dir/t.db")});
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == errc::storage);

  const std::string junk = dir.file("junk.db");
  std::ofstream(junk) << std::string(8192, 'x');
  auto foreign = store::open(store_options{junk});
  REQUIRE_FALSE(foreign);
  CHECK(foreign.err().code == errc::storage);
  CHECK_THAT(foreign.err().message, Catch::Contains("not a database"));

  CHECK_FALSE(store::open(store_options{""}));
}

TEST_CASE("store: a redelivered event is a duplicate and decide is not called again", "[unit][store]") {
  temp_dir dir;
  auto s = open_store(dir.file("t.db"));
  std::atomic<int> calls{0};
  counting_decide decide{&calls};
  const event ev = make_event("T1", "delivery-1");

  auto first = s->ingest(ev, decide);
  REQUIRE(first);
  CHECK_FALSE(first->duplicate);
  CHECK(first->actions.size() == 1);
  CHECK(first->log == std::vector<std::string>{"counted delivery-1"});

  auto again = s->ingest(ev, decide);
  REQUIRE(again);
  CHECK(again->duplicate);
  CHECK(again->event_seq == first->event_seq);
  CHECK(again->actions.empty());
  CHECK(calls == 1);

  auto st = s->state("acme", "zendesk", "T1");
  REQUIRE(st);
  CHECK(st->solve_count == 1);  // the duplicate wrote no state
  auto c = s->stats();
  CHECK(c.events == 1);
  CHECK(c.outbox_pending == 1);
  CHECK(s->has_event("acme", "zendesk", "delivery-1"));
  CHECK_FALSE(s->has_event("acme", "zendesk", "delivery-2"));
  CHECK_FALSE(s->has_event("other-tenant", "zendesk", "delivery-1"));
}

TEST_CASE("store: actions and state commit with the event and survive reopen", "[unit][store]") {
  temp_dir dir;
  const std::string path = dir.file("t.db");
  event ev = make_event("T7", "tx-100", event_type::ticket_created);
  ev.subject = "Refund please";
  ev.tags = {"billing", "vip"};

  action immediate = make_action(ev, action_type::set_priority, "tx-100/prio", {{"priority", "urgent"}});
  immediate.immediate = true;
  action later = note(ev, "tx-100/note");
  later.not_before = at(3600);
  action plain = make_action(ev, action_type::assign_group, "tx-100/group", {{"group", "billing"}});
  plain.tenant.clear();  // blanks are filled from the event
  plain.ticket_id.clear();
  ticket_state next;
  next.known = true;
  next.status = "new";
  next.category = "billing";
  next.prio = priority::urgent;

  std::int64_t seq = 0;
  {
    auto s = open_store(path);
    auto r = s->ingest(ev, returning({immediate, later, plain}, next), ingest_options{true});
    REQUIRE(r);
    seq = r->event_seq;
    REQUIRE(r->actions.size() == 3);
    CHECK(r->actions[2].tenant == "acme");
    CHECK(r->actions[2].ticket_id == "T7");
  }
  auto s = open_store(path);
  auto st = s->state("acme", "zendesk", "T7");
  REQUIRE(st);
  CHECK(st->known);
  CHECK(st->status == "new");
  CHECK(st->category == "billing");
  CHECK(st->prio == priority::urgent);

  auto unknown = s->state("acme", "zendesk", "nope");
  REQUIRE(unknown);
  CHECK_FALSE(unknown->known);

  auto evs = s->events(0, 10);
  REQUIRE(evs);
  REQUIRE(evs->size() == 1);
  CHECK((*evs)[0].seq == seq);
  CHECK((*evs)[0].ev.host_event_id == "tx-100");
  CHECK((*evs)[0].ev.subject == "Refund please");
  CHECK((*evs)[0].ev.tags == std::vector<std::string>{"billing", "vip"});
  auto after = s->events(seq, 10);
  REQUIRE(after);
  CHECK(after->empty());

  auto rows = s->outbox(std::nullopt, 10);
  REQUIRE(rows);
  REQUIRE(rows->size() == 3);
  CHECK((*rows)[0].act.idempotency_key == "tx-100/prio");
  CHECK((*rows)[0].status == outbox_status::applied);  // the in-process host applied it
  CHECK((*rows)[1].act.idempotency_key == "tx-100/note");
  CHECK((*rows)[1].status == outbox_status::pending);
  CHECK((*rows)[1].next_attempt_at == at(3600));
  CHECK((*rows)[2].status == outbox_status::pending);
  CHECK((*rows)[2].act.params["group"] == "billing");
  CHECK(scalar(dir.file("t.db"), "SELECT count(*) FROM outbox WHERE event_seq = " + std::to_string(seq)) == 3);

  auto applied = s->outbox(outbox_status::applied, 10);
  REQUIRE(applied);
  CHECK(applied->size() == 1);
}

TEST_CASE("store: an idempotency key is never doubled across events", "[unit][store]") {
  temp_dir dir;
  auto s = open_store(dir.file("t.db"));
  const event e1 = make_event("T2", "tx-1");
  const event e2 = make_event("T2", "tx-2");
  action a1 = note(e1, "T2/kb-article");
  action a2 = note(e2, "T2/kb-article");  // same key, different cause
  a2.params["body"] = "second body";

  REQUIRE(s->ingest(e1, returning({a1})));
  auto r2 = s->ingest(e2, returning({a2, note(e2, "tx-2/other")}));
  REQUIRE(r2);
  CHECK_FALSE(r2->duplicate);

  auto rows = s->outbox(std::nullopt, 10);
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].act.idempotency_key == "T2/kb-article");
  CHECK((*rows)[0].act.caused_by == "tx-1");  // the first one is kept
  CHECK((*rows)[0].act.params["body"] == "note for tx-1");
  CHECK((*rows)[1].act.idempotency_key == "tx-2/other");
}

TEST_CASE("store: schedule_survey creates a timer; cancel_survey cancels it and pending sends", "[unit][store]") {
  temp_dir dir;
  const std::string path = dir.file("t.db");
  auto s = open_store(path);
  const event solved = make_event("T3", "tx-solve", event_type::ticket_solved);
  action sched = make_action(solved, action_type::schedule_survey, "T3/survey",
                             {{"survey", "csat"}, {"due_at", "2026-11-23T00:00:00Z"}});
  REQUIRE(s->ingest(solved, returning({sched})));

  auto none = s->due_timers(at(3600), 10);
  REQUIRE(none);
  CHECK(none->empty());
  auto due = s->due_timers(at(24 * 3600), 10);
  REQUIRE(due);
  REQUIRE(due->size() == 1);
  const timer_item& t = (*due)[0];
  CHECK(t.kind == "survey");
  CHECK(t.ticket_id == "T3");
  CHECK(t.due_at == at(24 * 3600));
  CHECK(t.payload["survey"] == "csat");
  CHECK(t.payload["action"]["idempotency_key"] == "T3/survey");
  CHECK(s->stats().timers_pending == 1);

  // The outbox records the decision as done: the worker has nothing to execute for it.
  auto done = s->outbox(outbox_status::done, 10);
  REQUIRE(done);
  REQUIRE(done->size() == 1);
  CHECK(done->front().act.type == action_type::schedule_survey);

  // Replaying the schedule (same key, new event) does not add a second timer.
  const event again = make_event("T3", "tx-solve-2", event_type::ticket_solved);
  REQUIRE(s->ingest(again, returning({sched})));
  CHECK(scalar(path, "SELECT count(*) FROM timers") == 1);

  // A pending send for this ticket, one for another ticket; then the ticket reopens.
  const event other = make_event("T4", "tx-other");
  REQUIRE(s->ingest(other, returning({make_action(other, action_type::send_survey, "T4/send", {{"survey", "csat"}})})));
  const event fire = make_event("T3", "tx-send");
  REQUIRE(s->ingest(fire, returning({make_action(fire, action_type::send_survey, "T3/send", {{"survey", "csat"}})})));
  const event reopened = make_event("T3", "tx-reopen", event_type::ticket_reopened);
  REQUIRE(s->ingest(reopened, returning({make_action(reopened, action_type::cancel_survey, "tx-reopen/cancel",
                                                     {{"reason", "reopened"}})})));

  auto after = s->due_timers(at(48 * 3600), 10);
  REQUIRE(after);
  CHECK(after->empty());
  CHECK(text_scalar(path, "SELECT status FROM timers WHERE idempotency_key = 'T3/survey'") == "cancelled");
  CHECK(text_scalar(path, "SELECT status FROM outbox WHERE idempotency_key = 'T3/send'") == "cancelled");
  CHECK(text_scalar(path, "SELECT status FROM outbox WHERE idempotency_key = 'T4/send'") == "pending");
  CHECK(text_scalar(path, "SELECT status FROM outbox WHERE idempotency_key = 'tx-reopen/cancel'") == "done");
}

TEST_CASE("store: a timer.fired event marks its timer fired in the same transaction", "[unit][store]") {
  temp_dir dir;
  const std::string path = dir.file("t.db");
  auto s = open_store(path);
  const event solved = make_event("T5", "tx-solve", event_type::ticket_solved);
  REQUIRE(s->ingest(solved, returning({make_action(solved, action_type::schedule_survey, "T5/survey",
                                                   {{"survey", "nps"}, {"due_at", "2026-11-22T01:00:00Z"}})})));
  auto due = s->due_timers(at(7200), 10);
  REQUIRE(due);
  REQUIRE(due->size() == 1);
  const std::int64_t timer_id = (*due)[0].id;

  event fired = make_event("T5", "timer:" + std::to_string(timer_id), event_type::timer_fired);
  fired.data = {{"timer_id", timer_id}};
  auto r = s->ingest(fired, returning({make_action(fired, action_type::send_survey, "T5/send", {{"survey", "nps"}})}));
  REQUIRE(r);
  CHECK_FALSE(r->duplicate);
  CHECK(text_scalar(path, "SELECT status FROM timers WHERE id = " + std::to_string(timer_id)) == "fired");
  auto later = s->due_timers(at(7200), 10);
  REQUIRE(later);
  CHECK(later->empty());
  CHECK(s->stats().timers_pending == 0);

  // Firing twice is idempotent through the event's host_event_id.
  auto twice = s->ingest(fired, returning({}));
  REQUIRE(twice);
  CHECK(twice->duplicate);
}

TEST_CASE("store: claim_due leases, retries, fails and recovers expired leases", "[unit][store]") {
  temp_dir dir;
  auto s = open_store(dir.file("t.db"));
  const event ev = make_event("T6", "tx-1");
  action a = note(ev, "tx-1/note");
  REQUIRE(s->ingest(ev, returning({a})));
  using std::chrono::seconds;

  auto early = s->claim_due(at(-1), 10, seconds(30));
  REQUIRE(early);
  CHECK(early->empty());  // not due yet

  auto c1 = s->claim_due(at(0), 10, seconds(30));
  REQUIRE(c1);
  REQUIRE(c1->size() == 1);
  const std::int64_t id = (*c1)[0].id;
  CHECK((*c1)[0].attempts == 1);
  CHECK((*c1)[0].status == outbox_status::running);
  CHECK((*c1)[0].act.idempotency_key == "tx-1/note");

  auto held = s->claim_due(at(10), 10, seconds(30));
  REQUIRE(held);
  CHECK(held->empty());  // leased

  // The worker died: after the lease the row is claimable again.
  auto c2 = s->claim_due(at(31), 10, seconds(30));
  REQUIRE(c2);
  REQUIRE(c2->size() == 1);
  CHECK((*c2)[0].id == id);
  CHECK((*c2)[0].attempts == 2);

  REQUIRE(s->mark_retry(id, at(100), "429 Too Many Requests"));
  auto waiting = s->claim_due(at(99), 10, seconds(30));
  REQUIRE(waiting);
  CHECK(waiting->empty());
  auto pending = s->outbox(outbox_status::pending, 10);
  REQUIRE(pending);
  REQUIRE(pending->size() == 1);
  CHECK(pending->front().last_error == "429 Too Many Requests");
  CHECK(pending->front().next_attempt_at == at(100));

  auto c3 = s->claim_due(at(100), 10, seconds(30));
  REQUIRE(c3);
  REQUIRE(c3->size() == 1);
  CHECK((*c3)[0].attempts == 3);
  CHECK((*c3)[0].last_error == "429 Too Many Requests");

  REQUIRE(s->mark_failed(id, "403 Forbidden"));
  auto gone = s->claim_due(at(10000), 10, seconds(30));
  REQUIRE(gone);
  CHECK(gone->empty());  // failed is terminal
  auto st = s->stats();
  CHECK(st.outbox_failed == 1);
  CHECK(st.outbox_pending == 0);

  auto late_done = s->mark_done(id, at(10000));
  REQUIRE_FALSE(late_done);
  CHECK(late_done.err().code == errc::conflict);
  auto missing = s->mark_done(424242, at(0));
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == errc::not_found);
}

TEST_CASE("store: claim_due keeps per-ticket FIFO order", "[unit][store]") {
  temp_dir dir;
  auto s = open_store(dir.file("t.db"));
  const auto lease = std::chrono::hours(1);  // no lease expires in this test
  const event a = make_event("A", "tx-a");
  const event b = make_event("B", "tx-b");
  REQUIRE(s->ingest(a, returning({note(a, "a1"), note(a, "a2"), note(a, "a3")})));
  REQUIRE(s->ingest(b, returning({note(b, "b1")})));

  auto keys = [](const std::vector<outbox_item>& items) {
    std::vector<std::string> out;
    for (const auto& i : items) out.push_back(i.act.idempotency_key);
    return out;
  };
  const timestamp now = at(60);
  auto c1 = s->claim_due(now, 10, lease);
  REQUIRE(c1);
  REQUIRE(keys(*c1) == std::vector<std::string>{"a1", "b1"});
  auto c2 = s->claim_due(now, 10, lease);
  REQUIRE(c2);
  CHECK(c2->empty());  // a2 waits for a1

  REQUIRE(s->mark_done((*c1)[0].id, now));
  REQUIRE(s->mark_done((*c1)[1].id, now));
  auto c3 = s->claim_due(now, 10, lease);
  REQUIRE(c3);
  REQUIRE(keys(*c3) == std::vector<std::string>{"a2"});

  // A row waiting for its retry still holds the line.
  REQUIRE(s->mark_retry((*c3)[0].id, at(600), "timeout"));
  auto c4 = s->claim_due(at(120), 10, lease);
  REQUIRE(c4);
  CHECK(c4->empty());
  auto c5 = s->claim_due(at(600), 10, lease);
  REQUIRE(c5);
  REQUIRE(keys(*c5) == std::vector<std::string>{"a2"});
  REQUIRE(s->mark_done((*c5)[0].id, at(600)));
  // A failed row does not block the rest of its ticket.
  auto c6 = s->claim_due(at(600), 10, lease);
  REQUIRE(c6);
  REQUIRE(keys(*c6) == std::vector<std::string>{"a3"});
  REQUIRE(s->mark_failed((*c6)[0].id, "gone"));
  const event a_more = make_event("A", "tx-a4");
  REQUIRE(s->ingest(a_more, returning({note(a_more, "a4")})));
  auto c7 = s->claim_due(at(10000) + std::chrono::hours(24 * 365), 10, lease);
  REQUIRE(c7);
  CHECK(keys(*c7) == std::vector<std::string>{"a4"});
}

TEST_CASE("store: a deferred action does not hold back its ticket's later work", "[unit][store]") {
  temp_dir dir;
  auto s = open_store(dir.file("t.db"));
  const event ev = make_event("C", "tx-c");
  action reminder = note(ev, "c-reminder");
  reminder.not_before = at(24 * 3600);
  REQUIRE(s->ingest(ev, returning({reminder, note(ev, "c-now")})));
  auto c = s->claim_due(at(60), 10, std::chrono::seconds(30));
  REQUIRE(c);
  REQUIRE(c->size() == 1);
  CHECK(c->front().act.idempotency_key == "c-now");
}

TEST_CASE("store: invalid events and actions are errors, not exceptions", "[unit][store]") {
  temp_dir dir;
  auto s = open_store(dir.file("t.db"));
  const event no_id = make_event("T", "");
  auto r = s->ingest(no_id, returning({}));
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::invalid_argument);

  const event ev = make_event("T", "tx-bad-due");
  auto bad = s->ingest(ev, returning({make_action(ev, action_type::schedule_survey, "T/survey",
                                                  {{"survey", "csat"}, {"due_at", "tomorrow"}})}));
  REQUIRE_FALSE(bad);
  CHECK(bad.err().code == errc::invalid_argument);
  CHECK_THAT(bad.err().message, Catch::Contains("due_at"));
  CHECK_FALSE(s->has_event("acme", "zendesk", "tx-bad-due"));  // the whole job rolled back

  auto no_decide = s->ingest(make_event("T", "tx-x"), decide_fn{});
  REQUIRE_FALSE(no_decide);
  CHECK(s->stats().events == 0);
}
