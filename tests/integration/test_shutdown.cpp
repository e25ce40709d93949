// SIGTERM drains: the requests in flight are answered, the process exits 0 within seconds, says
// so, and every event it acknowledged is in the database.
#include <catch2/catch.hpp>

#include <mutex>
#include <set>

#include "../adapters/loopback_server.hpp"
#include "closeloop/store.hpp"
#include "harness.hpp"

using namespace closeloop;
using namespace closeloop::itest;

TEST_CASE("SIGTERM with requests in flight: exit 0 within seconds, every acknowledged event stored",
          "[integration][shutdown]") {
  constexpr int threads = 4;
  constexpr int max_per_thread = 400;
  temp_dir dir("sigterm");
  test::loopback_server sink;
  config_options co;
  co.endpoint_url = sink.url("/actions");
  server_process srv(dir, make_config(co));
  srv.start();

  std::atomic<bool> stop{false};
  std::atomic<int> acked_count{0};
  std::atomic<bool> term_sent{false};
  std::atomic<int> answered_after_term{0};  // started before SIGTERM, answered 202 after it
  std::mutex mu;
  std::set<std::string> acked;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto client = make_client(5s);
      int failures = 0;
      for (int i = 0; i < max_per_thread && !stop && failures < 3; ++i) {
        const std::string ticket = "s" + std::to_string(t) + "-" + std::to_string(i);
        const std::string id = "term-" + ticket;
        const bool before = !term_sent.load();
        auto r = post_signed(srv, id, event_json(i % 3 == 2 ? "ticket.solved" : "ticket.created", ticket).dump(), 5s,
                             &client);
        if (r && r->status == 202) {
          ++acked_count;
          if (before && term_sent) ++answered_after_term;
          std::lock_guard lk(mu);
          acked.insert(id);
        } else {
          ++failures;
        }
      }
    });
  }
  const bool warmed = eventually([&] { return acked_count.load() >= 100; }, 60s);
  term_sent = true;
  const auto term_at = steady::now();
  srv.signal(SIGTERM);
  auto st = srv.wait(10s);
  const auto exit_after = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - term_at);
  stop = true;
  for (auto& th : pool) th.join();
  REQUIRE(warmed);

  {
    const std::string out = srv.stdout_text(), err = srv.stderr_text();
    INFO("exit: " << describe_status(st) << " after " << exit_after.count() << " ms\nstdout: " << out
                  << "\nstderr (tail): " << err.substr(err.size() > 3000 ? err.size() - 3000 : 0));
    REQUIRE(st);
    CHECK(WIFEXITED(*st));
    CHECK(WEXITSTATUS(*st) == 0);
    CHECK(exit_after <= 5000ms);
    CHECK_THAT(out, Catch::Contains("stopped cleanly"));
  }

  store_options so;
  so.path = srv.db_path().string();
  auto db = store::open(so);
  REQUIRE(db);
  auto events = (*db)->events(0, 0);
  REQUIRE(events);
  std::set<std::string> stored;
  for (const auto& e : *events) stored.insert(e.ev.host_event_id);
  std::size_t missing = 0;
  for (const auto& id : acked) {
    if (!stored.count(id)) {
      ++missing;
      UNSCOPED_INFO("acknowledged but not stored: " << id);
    }
  }
  WARN("SIGTERM: " << acked.size() << " events acknowledged, " << answered_after_term.load()
                   << " answered after the signal was sent, exit after " << exit_after.count() << " ms");
  CHECK(missing == 0);
}
