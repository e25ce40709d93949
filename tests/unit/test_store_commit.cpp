// The store's single-writer group commit: batching under concurrent ingests, per-job savepoints,
// and durability of acknowledged events across a SIGKILL.
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdio>
#include <future>
#include <set>
#include <thread>

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include "closeloop/store.hpp"
#include "store_test_support.hpp"

using namespace closeloop;
using namespace store_test;

namespace {


}  // namespace

TEST_CASE("store: concurrent ingests are group-committed and all stored", "[unit][store]") {
  temp_dir dir;
  auto s = open_store(dir.file("t.db"));
  constexpr int k_threads = 8;
  constexpr int k_per_thread = 200;
  std::atomic<int> calls{0};
  std::atomic<int> failures{0};
  counting_decide decide{&calls};

  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < k_per_thread; ++i) {
        // Two shared tickets: events of one ticket land in the same batches.
        const event ev = make_event(t % 2 ? "odd" : "even", "t" + std::to_string(t) + "-" + std::to_string(i));
        auto r = s->ingest(ev, decide);
        if (!r || r->duplicate) failures.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();

  constexpr int k_events = k_threads * k_per_thread;
  REQUIRE(failures == 0);
  auto c = s->stats();
  INFO("commits=" << c.commits << " committed_events=" << c.committed_events);
  std::printf("store group commit: %lld commits for %lld events (%.1f events/commit)\n",
              static_cast<long long>(c.commits), static_cast<long long>(c.committed_events),
              static_cast<double>(c.committed_events) / static_cast<double>(c.commits));
  CHECK(c.events == k_events);
  CHECK(c.committed_events == k_events);
  CHECK(c.outbox_pending == k_events);
  CHECK(c.commits < k_events / 2);
  CHECK(calls == k_events);
  for (int t = 0; t < k_threads; ++t) {
    for (int i = 0; i < k_per_thread; ++i) {
      if (!s->has_event("acme", "zendesk", "t" + std::to_string(t) + "-" + std::to_string(i))) {
        FAIL("missing t" << t << "-" << i);
      }
    }
  }
  // Each decide saw the state its predecessor wrote, even inside one batch: nothing was lost.
  auto even = s->state("acme", "zendesk", "even");
  auto odd = s->state("acme", "zendesk", "odd");
  REQUIRE(even);
  REQUIRE(odd);
  CHECK(even->solve_count == k_events / 2);
  CHECK(odd->solve_count == k_events / 2);
}

TEST_CASE("store: max_batch bounds the jobs per commit", "[unit][store]") {
  temp_dir dir;
  auto opened = store::open(store_options{dir.file("t.db"), 1});
  REQUIRE(opened);
  auto& s = *opened;
  std::atomic<int> calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        (void)s->ingest(make_event("M", "m" + std::to_string(t) + "-" + std::to_string(i)), counting_decide{&calls});
      }
    });
  }
  for (auto& th : threads) th.join();
  auto c = s->stats();
  CHECK(c.committed_events == 100);
  CHECK(c.commits == 100);
}

TEST_CASE("store: a failing job in a batch is rolled back alone", "[unit][store]") {
  temp_dir dir;
  const std::string path = dir.file("t.db");
  auto s = open_store(path);

  // Hold the committer inside the first job so the next four queue up and share one batch.
  std::promise<void> entered, release;
  auto release_f = release.get_future().share();
  std::promise<result<ingest_result>> r0, r1, r2, r3, r4;
  auto gate = [&entered, release_f](const event&, const ticket_state& st) {
    entered.set_value();
    release_f.wait();
    decision d;
    d.next = st;
    return d;
  };
  s->ingest_async(make_event("G", "gate"), gate, {}, [&](result<ingest_result> r) { r0.set_value(std::move(r)); });
  entered.get_future().wait();
  const auto commits_before = s->stats().commits;

  std::atomic<int> calls{0};
  counting_decide good{&calls};
  auto throwing = [](const event&, const ticket_state&) -> decision { throw std::runtime_error("model exploded"); };
  auto unstorable = [](const event& ev, const ticket_state& st) {
    decision d;
    d.next = st;
    d.next.solve_count = 1000;
    d.actions.push_back(note(ev, ev.host_event_id + "/fine"));
    d.actions.push_back(note(ev, ""));  // no idempotency key: cannot be stored
    return d;
  };
  s->ingest_async(make_event("S", "ok-1"), good, {}, [&](result<ingest_result> r) { r1.set_value(std::move(r)); });
  s->ingest_async(make_event("S", "throws"), throwing, {},
                  [&](result<ingest_result> r) { r2.set_value(std::move(r)); });
  s->ingest_async(make_event("S", "unstorable"), unstorable, {},
                  [&](result<ingest_result> r) { r3.set_value(std::move(r)); });
  s->ingest_async(make_event("S", "ok-2"), good, {}, [&](result<ingest_result> r) { r4.set_value(std::move(r)); });
  release.set_value();

  auto g = r0.get_future().get();
  auto a = r1.get_future().get();
  auto b = r2.get_future().get();
  auto c = r3.get_future().get();
  auto d = r4.get_future().get();
  REQUIRE(g);
  REQUIRE(a);
  REQUIRE(d);
  REQUIRE_FALSE(b);
  CHECK(b.err().code == errc::internal);
  CHECK_THAT(b.err().message, Catch::Contains("model exploded"));
  REQUIRE_FALSE(c);
  CHECK(c.err().code == errc::invalid_argument);
  CHECK_THAT(c.err().message, Catch::Contains("idempotency_key"));

  // The gate's batch and one more: the four queued jobs shared a single commit.
  CHECK(s->stats().commits == commits_before + 2);

  CHECK(s->has_event("acme", "zendesk", "ok-1"));
  CHECK(s->has_event("acme", "zendesk", "ok-2"));
  CHECK_FALSE(s->has_event("acme", "zendesk", "throws"));
  CHECK_FALSE(s->has_event("acme", "zendesk", "unstorable"));
  auto st = s->state("acme", "zendesk", "S");
  REQUIRE(st);
  CHECK(st->solve_count == 2);  // neither the thrower's nor the 1000 of the unstorable job
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "SELECT count(*) FROM outbox WHERE idempotency_key = 'unstorable/fine'");
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getInt() == 0);

  // A redelivery of a rolled-back event is a fresh event, not a duplicate.
  auto retry = s->ingest(make_event("S", "throws"), good);
  REQUIRE(retry);
  CHECK_FALSE(retry->duplicate);
}

TEST_CASE("store: shutdown drains queued ingests before closing", "[unit][store]") {
  temp_dir dir;
  const std::string path = dir.file("t.db");
  std::atomic<int> calls{0};
  std::atomic<int> ok{0};
  {
    auto s = open_store(path);
    for (int i = 0; i < 300; ++i) {
      s->ingest_async(make_event("D", "d-" + std::to_string(i)), counting_decide{&calls}, {},
                      [&](result<ingest_result> r) {
                        if (r) ok.fetch_add(1);
                      });
    }
  }
  CHECK(ok == 300);
  auto s = open_store(path);
  CHECK(s->stats().events == 300);
}

TEST_CASE("store: acknowledged events survive SIGKILL", "[unit][store]") {
  temp_dir dir;
  const std::string path = dir.file("crash.db");
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  constexpr std::size_t k_record = 32;

  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: ingest from four threads, acknowledge each id only after ingest() returned.
    ::close(fds[0]);
    auto opened = store::open(store_options{path});
    if (!opened) ::_exit(2);
    store& s = **opened;
    std::atomic<int> calls{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 1000000; ++i) {
          const std::string id = "k" + std::to_string(t) + "-" + std::to_string(i);
          auto r = s.ingest(make_event("K" + std::to_string(t), id), counting_decide{&calls});
          if (!r) ::_exit(3);
          char buf[k_record] = {};
          std::snprintf(buf, sizeof buf, "%s", id.c_str());
          if (::write(fds[1], buf, sizeof buf) != static_cast<ssize_t>(sizeof buf)) ::_exit(4);
        }
      });
    }
    for (auto& th : threads) th.join();
    ::_exit(0);
  }

  ::close(fds[1]);
  std::set<std::string> acked;
  char buf[k_record];
  bool killed = false;
  for (;;) {
    std::size_t got = 0;
    while (got < sizeof buf) {
      const ssize_t n = ::read(fds[0], buf + got, sizeof buf - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    if (got < sizeof buf) break;  // EOF: the child is gone
    acked.insert(std::string(buf, ::strnlen(buf, sizeof buf)));
    if (!killed && acked.size() >= 400) {
      ::kill(pid, SIGKILL);  // mid-stream: ingests are in flight
      killed = true;
    }
  }
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  REQUIRE(acked.size() >= 400);

  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);  // read-write: recovers the WAL
    SQLite::Statement q(db, "PRAGMA integrity_check");
    REQUIRE(q.executeStep());
    CHECK(q.getColumn(0).getString() == "ok");
  }
  auto s = open_store(path);
  std::size_t missing = 0;
  for (const auto& id : acked) {
    if (!s->has_event("acme", "zendesk", id)) ++missing;
  }
  CHECK(missing == 0);
  auto c = s->stats();
  CHECK(c.events >= static_cast<std::int64_t>(acked.size()));
  // State and outbox moved with their events: every committed event counted exactly once.
  CHECK(c.outbox_pending == c.events);
  std::int64_t counted = 0;
  for (int t = 0; t < 4; ++t) {
    auto st = s->state("acme", "zendesk", "K" + std::to_string(t));
    REQUIRE(st);
    counted += st->solve_count;
  }
  CHECK(counted == c.events);
}
