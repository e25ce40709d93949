#pragma once
// store.cpp's private half, shared by the files that implement closeloop::store:
// the committer (one write connection, group commit of queued jobs), the read connection, and
// the declarations of the transaction bodies — ingest in store.cpp, the outbox queue and timers
// in store_outbox.cpp.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <pthread.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include "closeloop/store.hpp"
#include "sql_util.hpp"

namespace closeloop {

namespace store_detail {

// One unit of work for the committer: `run` executes inside its own SAVEPOINT of the batch
// transaction (returning an error, or throwing, rolls back that savepoint only); `finish` runs
// after the batch committed (or failed) with the job's outcome.
struct job {
  std::function<std::optional<error>(statement_cache&)> run;
  std::function<void(std::optional<error>)> finish;
};

}  // namespace store_detail

// Private to the store's own .cpp files, which all work in store_detail's terms.
using namespace store_detail;

struct store::impl {
  explicit impl(store_options o) : opts(std::move(o)) {}

  store_options opts;
  int version = 0;

  // Write side: owned by the committer thread once it runs.
  std::unique_ptr<SQLite::Database> write_db;
  std::unique_ptr<statement_cache> write_stmts;

  // Read side: a second connection; WAL lets it read while the committer writes.
  std::mutex read_mu;
  std::unique_ptr<SQLite::Database> read_db;
  std::unique_ptr<statement_cache> read_stmts;

  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<job> queue;
  bool stopping = false;
  std::thread committer;
  std::thread::id committer_id;

  // Checkpoints: a third connection on a thread of its own copies the WAL into the database
  // (and syncs it) beside the committer, which only asks for one (checkpoint_if_due).
  std::unique_ptr<SQLite::Database> ckpt_db;
  std::mutex ckpt_mu;
  std::condition_variable ckpt_cv;
  bool ckpt_wanted = false, ckpt_stopping = false;
  std::thread checkpointer;

  std::atomic<std::int64_t> commits{0};
  std::atomic<std::int64_t> committed_events{0};

  void enqueue(job j) {
    {
      std::lock_guard lk(queue_mu);
      if (!stopping) {
        queue.push_back(std::move(j));
        queue_cv.notify_one();
        return;
      }
    }
    finish_safely(j, make_error(errc::unavailable, "store: shutting down"));
  }

  static void finish_safely(job& j, std::optional<error> e) noexcept {
    try {
      if (j.finish) j.finish(std::move(e));
    } catch (...) {
      // A caller's callback must not take the committer down.
    }
  }

  void run_committer() {
    pthread_setname_np(pthread_self(), "cl-committer");  // top -H, perf, /proc/PID/task/*/comm
    std::vector<job> batch;
    const std::size_t max_batch = static_cast<std::size_t>(std::max(1, opts.max_batch));
    for (;;) {
      batch.clear();
      {
        std::unique_lock lk(queue_mu);
        queue_cv.wait(lk, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping and drained
        while (!queue.empty() && batch.size() < max_batch) {
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
        }
      }
      commit_batch(batch);
      checkpoint_if_due();
    }
  }

  // Asks the checkpointer for a checkpoint when the queue is idle, or at the latest every
  // k_checkpoint_every commits, so the WAL stays bounded. The committer never checkpoints itself:
  // copying pages into the database and syncing it took ~5 % of its time on the serial path
  // (tests/bench/README.md, "Checkpoints off the committer").
  static constexpr std::int64_t k_checkpoint_idle_after = 16;
  static constexpr std::int64_t k_checkpoint_every = 64;
  std::int64_t commits_since_checkpoint = 0;
  void checkpoint_if_due() noexcept {
    ++commits_since_checkpoint;
    bool idle;
    {
      std::lock_guard lk(queue_mu);
      idle = queue.empty();
    }
    if (commits_since_checkpoint < (idle ? k_checkpoint_idle_after : k_checkpoint_every)) return;
    commits_since_checkpoint = 0;
    {
      std::lock_guard lk(ckpt_mu);
      ckpt_wanted = true;
    }
    ckpt_cv.notify_one();
  }

  // PASSIVE: never waits for the committer or readers; frames it cannot copy yet are copied by a
  // later one. When all are copied, the committer's next transaction starts the WAL over.
  void run_checkpointer() noexcept {
    pthread_setname_np(pthread_self(), "cl-checkpoint");
    for (;;) {
      {
        std::unique_lock lk(ckpt_mu);
        ckpt_cv.wait(lk, [&] { return ckpt_wanted || ckpt_stopping; });
        if (ckpt_stopping) return;
        ckpt_wanted = false;
      }
      try {
        ckpt_db->exec("PRAGMA wal_checkpoint(PASSIVE)");
      } catch (...) {
        // A failed checkpoint is asked for again after the next commits; it loses nothing.
      }
    }
  }

  bool in_transaction() const noexcept { return sqlite3_get_autocommit(write_db->getHandle()) == 0; }

  void abort_transaction() noexcept {
    try {
      if (in_transaction()) write_db->exec("ROLLBACK");
    } catch (...) {
    }
  }

  void commit_batch(std::vector<job>& batch) {
    std::vector<std::optional<error>> outcome(batch.size());
    std::optional<error> batch_error;
    try {
      write_stmts->get("BEGIN IMMEDIATE")->exec();
    } catch (...) {
      batch_error = current_exception_error("begin transaction");
    }
    for (std::size_t i = 0; i < batch.size() && !batch_error; ++i) {
      try {
        write_stmts->get("SAVEPOINT job")->exec();
      } catch (...) {
        batch_error = current_exception_error("savepoint");
        break;
      }
      std::optional<error> r;
      try {
        r = batch[i].run(*write_stmts);
      } catch (...) {
        r = current_exception_error("job");
      }
      if (!in_transaction()) {
        // SQLite rolled the whole transaction back by itself (e.g. SQLITE_FULL, IOERR): the work
        // of the earlier jobs is gone too.
        batch_error = r ? *r : make_error(errc::storage, "store: transaction aborted", true);
        break;
      }
      try {
        if (r) write_stmts->get("ROLLBACK TO job")->exec();
        write_stmts->get("RELEASE job")->exec();
      } catch (...) {
        batch_error = current_exception_error("release savepoint");
        break;
      }
      outcome[i] = std::move(r);
    }
    if (!batch_error) {
      try {
        write_stmts->get("COMMIT")->exec();
        commits.fetch_add(1, std::memory_order_relaxed);
      } catch (...) {
        batch_error = current_exception_error("commit");
      }
    }
    if (batch_error) abort_transaction();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      // A failed batch fails every job; otherwise each job reports its own outcome.
      finish_safely(batch[i], batch_error ? batch_error : std::move(outcome[i]));
    }
  }

  // Runs `f` on the committer (inside the batch transaction) and waits for the commit.
  template <typename T>
  result<T> write_sync(std::function<result<T>(statement_cache&)> f) {
    if (std::this_thread::get_id() == committer_id) {
      return make_error(errc::internal,
                        "store: synchronous call from the committer thread (a callback) would deadlock");
    }
    auto value = std::make_shared<std::optional<result<T>>>();
    auto done = std::make_shared<std::promise<result<T>>>();
    auto fut = done->get_future();
    job j;
    j.run = [f = std::move(f), value](statement_cache& sc) -> std::optional<error> {
      result<T> r = f(sc);
      std::optional<error> e;
      if (!r) e = r.err();
      value->emplace(std::move(r));
      return e;
    };
    j.finish = [value, done](std::optional<error> e) {
      if (e) {
        done->set_value(result<T>(std::move(*e)));
      } else {
        done->set_value(std::move(**value));
      }
    };
    enqueue(std::move(j));
    return fut.get();
  }

  // ---- the ingest transaction body (committer thread) -------------------------------------

  // `body`: the event as stored JSON text, serialised by the caller before the job was queued so
  // that the one serial thread does not spend its time on it.
  result<ingest_result> do_ingest(statement_cache& sc, const event& ev, const std::string& body,
                                  const ledger_decide_fn& decide, const ingest_options& o);

  // Inserts one outbox row; returns whether it was new (false: the idempotency key existed).
  static bool insert_outbox(statement_cache& sc, const action& a, const std::string& body, std::int64_t event_seq,
                            outbox_status st, timestamp next_attempt, timestamp now);

  result<void> store_action(statement_cache& sc, const action& a, std::int64_t event_seq, timestamp now,
                            const ingest_options& o);

  // ---- outbox transitions (committer thread) ----------------------------------------------

  static result<void> transition_result(statement_cache& sc, int changed, std::int64_t id);

  result<std::vector<outbox_item>> do_claim(statement_cache& sc, timestamp now, int limit,
                                            std::chrono::milliseconds lease);

  // ---- reads (any thread, read connection under read_mu) ----------------------------------

  template <typename T, typename F>
  result<T> read(std::string_view what, F&& f) {
    std::lock_guard lk(read_mu);
    try {
      return f(*read_stmts);
    } catch (...) {
      return current_exception_error(what);
    }
  }
};

}  // namespace closeloop
