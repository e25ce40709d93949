#include "closeloop/store.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <utility>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include "migrations.hpp"
#include "sql_util.hpp"
#include "survey_rows.hpp"

namespace closeloop {

using namespace store_detail;

std::string_view to_string(outbox_status s) noexcept {
  switch (s) {
    case outbox_status::pending:
      return "pending";
    case outbox_status::running:
      return "running";
    case outbox_status::done:
      return "done";
    case outbox_status::failed:
      return "failed";
    case outbox_status::cancelled:
      return "cancelled";
    case outbox_status::applied:
      return "applied";
  }
  return "pending";
}

std::optional<outbox_status> outbox_status_from_string(std::string_view s) noexcept {
  for (auto st : {outbox_status::pending, outbox_status::running, outbox_status::done, outbox_status::failed,
                  outbox_status::cancelled, outbox_status::applied}) {
    if (to_string(st) == s) return st;
  }
  return std::nullopt;
}

namespace {

constexpr int k_busy_timeout_ms = 5000;

// One unit of work for the committer: `run` executes inside its own SAVEPOINT of the batch
// transaction (returning an error, or throwing, rolls back that savepoint only); `finish` runs
// after the batch committed (or failed) with the job's outcome.
struct job {
  std::function<std::optional<error>(statement_cache&)> run;
  std::function<void(std::optional<error>)> finish;
};

std::string dump(const json& j) { return j.dump(); }

}  // namespace

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

  // Checkpoint when the queue is idle, or at the latest every k_checkpoint_every commits, so the
  // WAL stays bounded without a checkpoint inside every busy commit.
  static constexpr std::int64_t k_checkpoint_idle_after = 16;
  static constexpr std::int64_t k_checkpoint_every = 512;
  std::int64_t commits_since_checkpoint = 0;
  void checkpoint_if_due() noexcept {
    ++commits_since_checkpoint;
    bool idle;
    {
      std::lock_guard lk(queue_mu);
      idle = queue.empty();
    }
    if (commits_since_checkpoint < (idle ? k_checkpoint_idle_after : k_checkpoint_every)) return;
    try {
      write_db->exec("PRAGMA wal_checkpoint(PASSIVE)");
      commits_since_checkpoint = 0;
    } catch (...) {
      // A failed checkpoint is retried after the next commits; it loses nothing.
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
      write_db->exec("BEGIN IMMEDIATE");
    } catch (...) {
      batch_error = current_exception_error("begin transaction");
    }
    for (std::size_t i = 0; i < batch.size() && !batch_error; ++i) {
      try {
        write_db->exec("SAVEPOINT job");
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
        if (r) write_db->exec("ROLLBACK TO job");
        write_db->exec("RELEASE job");
      } catch (...) {
        batch_error = current_exception_error("release savepoint");
        break;
      }
      outcome[i] = std::move(r);
    }
    if (!batch_error) {
      try {
        write_db->exec("COMMIT");
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

  result<ingest_result> do_ingest(statement_cache& sc, const event& ev, const ledger_decide_fn& decide,
                                  const ingest_options& o) {
    if (ev.host_event_id.empty()) {
      return make_error(errc::invalid_argument, "store: event host_event_id is required");
    }
    const timestamp now = wall_now();
    ingest_result res;

    {
      auto ins = sc.get(
          "INSERT INTO events (tenant, host, host_event_id, type, ticket_id, occurred_at_ms,"
          " received_at_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
          " ON CONFLICT (tenant, host, host_event_id) DO NOTHING");
      ins->bind(1, ev.tenant);
      ins->bind(2, ev.host);
      ins->bind(3, ev.host_event_id);
      ins->bind(4, std::string(to_string(ev.type)));
      ins->bind(5, ev.ticket_id);
      ins->bind(6, to_ms(ev.occurred_at));
      ins->bind(7, to_ms(now));
      ins->bind(8, dump(to_json(ev)));
      if (ins->exec() == 0) {
        auto q = sc.get("SELECT seq FROM events WHERE tenant = ? AND host = ? AND host_event_id = ?");
        q->bind(1, ev.tenant);
        q->bind(2, ev.host);
        q->bind(3, ev.host_event_id);
        if (q->executeStep()) res.event_seq = q->getColumn(0).getInt64();
        res.duplicate = true;
        return res;
      }
      res.event_seq = sc.db().getLastInsertRowid();
    }

    if (ev.type == event_type::timer_fired && ev.data.is_object()) {
      auto it = ev.data.find("timer_id");
      if (it != ev.data.end() && it->is_number_integer()) {
        auto up = sc.get("UPDATE timers SET status = 'fired', updated_at_ms = ? WHERE id = ? AND status = 'pending'");
        up->bind(1, to_ms(now));
        up->bind(2, it->get<std::int64_t>());
        up->exec();
      }
    }

    ticket_state current;
    {
      auto q = sc.get("SELECT state FROM ticket_state WHERE tenant = ? AND host = ? AND ticket_id = ?");
      q->bind(1, ev.tenant);
      q->bind(2, ev.host);
      q->bind(3, ev.ticket_id);
      if (q->executeStep()) current = ticket_state_from_json(json::parse(q->getColumn(0).getString()));
    }

    decision d = decide(ev, current, tx_ledger(sc));

    res.actions.reserve(d.actions.size());
    for (std::size_t i = 0; i < d.actions.size(); ++i) {
      action a = std::move(d.actions[i]);
      if (a.tenant.empty()) a.tenant = ev.tenant;
      if (a.host.empty()) a.host = ev.host;
      if (a.ticket_id.empty()) a.ticket_id = ev.ticket_id;
      if (a.caused_by.empty()) a.caused_by = ev.host_event_id;
      auto r = store_action(sc, a, res.event_seq, now, o);
      if (!r) {
        error e = r.err();
        e.message = "store: action " + std::to_string(i) + " (" + std::string(to_string(a.type)) +
                    ") cannot be stored: " + e.message;
        return e;
      }
      res.actions.push_back(std::move(a));
    }

    {
      auto up = sc.get(
          "INSERT INTO ticket_state (tenant, host, ticket_id, state, updated_at_ms) VALUES (?, ?, ?, ?, ?)"
          " ON CONFLICT (tenant, host, ticket_id) DO UPDATE SET state = excluded.state,"
          " updated_at_ms = excluded.updated_at_ms");
      up->bind(1, ev.tenant);
      up->bind(2, ev.host);
      up->bind(3, ev.ticket_id);
      up->bind(4, dump(to_json(d.next)));
      up->bind(5, to_ms(now));
      up->exec();
    }
    write_survey_effects(sc, ev, d, now);
    res.log = std::move(d.log);
    return res;
  }

  // Inserts one outbox row; returns whether it was new (false: the idempotency key existed).
  static bool insert_outbox(statement_cache& sc, const action& a, const std::string& body, std::int64_t event_seq,
                            outbox_status st, timestamp next_attempt, timestamp now) {
    auto ins = sc.get(
        "INSERT INTO outbox (idempotency_key, tenant, host, ticket_id, event_seq, type, body, status,"
        " attempts, next_attempt_at_ms, created_at_ms, updated_at_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING");
    ins->bind(1, a.idempotency_key);
    ins->bind(2, a.tenant);
    ins->bind(3, a.host);
    ins->bind(4, a.ticket_id);
    ins->bind(5, event_seq);
    ins->bind(6, std::string(to_string(a.type)));
    ins->bind(7, body);
    ins->bind(8, std::string(to_string(st)));
    ins->bind(9, to_ms(next_attempt));
    ins->bind(10, to_ms(now));
    ins->bind(11, to_ms(now));
    return ins->exec() > 0;
  }

  result<void> store_action(statement_cache& sc, const action& a, std::int64_t event_seq, timestamp now,
                            const ingest_options& o) {
    if (a.idempotency_key.empty()) {
      return make_error(errc::invalid_argument, "idempotency_key is empty");
    }
    // The engine's actions are checked against the schema by the unit tests; re-parsing each one
    // here cost ~9 % of the committer's time (tests/bench/README.md).
    const json body = to_json(a);
    const std::string body_text = dump(body);

    switch (a.type) {
      case action_type::schedule_survey: {
        // The store keeps the timer itself; the outbox row only records the decision.
        auto due_it = a.params.find("due_at");
        if (due_it == a.params.end() || !due_it->is_string()) {
          return make_error(errc::invalid_argument, "params.due_at (RFC 3339 string) is required");
        }
        auto due = parse_rfc3339(due_it->get<std::string>());
        if (!due) return make_error(errc::invalid_argument, "params.due_at: " + due.err().message);
        if (!insert_outbox(sc, a, body_text, event_seq, outbox_status::done, now, now)) return {};
        json payload = {{"survey", a.params.contains("survey") ? a.params["survey"] : json()}, {"action", body}};
        auto ins = sc.get(
            "INSERT INTO timers (idempotency_key, tenant, host, ticket_id, kind, due_at_ms, payload,"
            " status, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)"
            " ON CONFLICT (idempotency_key) DO NOTHING");
        ins->bind(1, a.idempotency_key);
        ins->bind(2, a.tenant);
        ins->bind(3, a.host);
        ins->bind(4, a.ticket_id);
        ins->bind(5, a.params.is_object() && a.params.contains("timer") && a.params["timer"].is_string()
                         ? a.params["timer"].get<std::string>()
                         : std::string("survey"));
        ins->bind(6, to_ms(*due));
        ins->bind(7, dump(payload));
        ins->bind(8, to_ms(now));
        ins->bind(9, to_ms(now));
        ins->exec();
        return {};
      }
      case action_type::cancel_survey: {
        if (!insert_outbox(sc, a, body_text, event_seq, outbox_status::done, now, now)) return {};
        {
          auto up = sc.get(
              "UPDATE timers SET status = 'cancelled', updated_at_ms = ? WHERE tenant = ? AND host = ?"
              " AND ticket_id = ? AND kind = 'survey' AND status = 'pending'");
          up->bind(1, to_ms(now));
          up->bind(2, a.tenant);
          up->bind(3, a.host);
          up->bind(4, a.ticket_id);
          up->exec();
        }
        auto up = sc.get(
            "UPDATE outbox SET status = 'cancelled', updated_at_ms = ? WHERE tenant = ? AND host = ?"
            " AND ticket_id = ? AND type = 'send_survey' AND status = 'pending'");
        up->bind(1, to_ms(now));
        up->bind(2, a.tenant);
        up->bind(3, a.host);
        up->bind(4, a.ticket_id);
        up->exec();
        return {};
      }
      default: {
        const bool applied = a.immediate && o.immediate_applied_by_host;
        insert_outbox(sc, a, body_text, event_seq, applied ? outbox_status::applied : outbox_status::pending,
                      a.not_before.value_or(now), now);
        return {};
      }
    }
  }

  // ---- outbox transitions (committer thread) ----------------------------------------------

  static result<void> transition_result(statement_cache& sc, int changed, std::int64_t id) {
    if (changed > 0) return {};
    auto q = sc.get("SELECT status FROM outbox WHERE id = ?");
    q->bind(1, id);
    if (!q->executeStep()) {
      return make_error(errc::not_found, "store: outbox row " + std::to_string(id) + " not found");
    }
    return make_error(errc::conflict, "store: outbox row " + std::to_string(id) + " is " + q->getColumn(0).getString() +
                                          ", not running");
  }

  result<std::vector<outbox_item>> do_claim(statement_cache& sc, timestamp now, int limit,
                                            std::chrono::milliseconds lease) {
    std::vector<outbox_item> out;
    if (limit <= 0) return out;
    struct row {
      std::int64_t id;
      std::string body;
      int attempts;
      std::string last_error;
    };
    std::vector<row> rows;
    {
      // Per-ticket FIFO: a row waits while an older row of its ticket is running, being retried,
      // or due. An older row that is merely deferred (never attempted, not_before in the future,
      // e.g. a reminder due tomorrow) does not hold back the ticket's later work.
      auto q = sc.get(
          "SELECT o.id, o.body, o.attempts, o.last_error FROM outbox o"
          " WHERE ((o.status = 'pending' AND o.next_attempt_at_ms <= ?1)"
          "     OR (o.status = 'running' AND o.lease_until_ms <= ?1))"
          " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.tenant = o.tenant AND p.host = o.host"
          "     AND p.ticket_id = o.ticket_id AND p.id < o.id"
          "     AND (p.status = 'running' OR (p.status = 'pending'"
          "          AND (p.attempts > 0 OR p.next_attempt_at_ms <= ?1))))"
          " ORDER BY o.next_attempt_at_ms, o.id LIMIT ?2");
      q->bind(1, to_ms(now));
      q->bind(2, limit);
      while (q->executeStep()) {
        rows.push_back(row{q->getColumn(0).getInt64(), q->getColumn(1).getString(), q->getColumn(2).getInt(),
                           q->getColumn(3).getString()});
      }
    }
    for (row& r : rows) {
      result<action> act = make_error(errc::internal, "unparsed");
      try {
        act = action_from_json(json::parse(r.body));
      } catch (const json::exception& e) {
        act = make_error(errc::invalid_argument, e.what());
      }
      if (!act) {
        // A body that no longer parses can never be executed: fail it instead of looping on it.
        auto up = sc.get(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, lease_until_ms = NULL,"
            " last_error = ?, updated_at_ms = ? WHERE id = ?");
        up->bind(1, "unreadable action body: " + act.err().message);
        up->bind(2, to_ms(now));
        up->bind(3, r.id);
        up->exec();
        continue;
      }
      auto up = sc.get(
          "UPDATE outbox SET status = 'running', attempts = attempts + 1, lease_until_ms = ?,"
          " updated_at_ms = ? WHERE id = ?");
      up->bind(1, to_ms(now + lease));
      up->bind(2, to_ms(now));
      up->bind(3, r.id);
      up->exec();
      outbox_item item;
      item.id = r.id;
      item.act = std::move(*act);
      item.status = outbox_status::running;
      item.attempts = r.attempts + 1;
      item.next_attempt_at = now;
      item.last_error = std::move(r.last_error);
      out.push_back(std::move(item));
    }
    return out;
  }

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

store::store(std::unique_ptr<impl> p) : p_(std::move(p)) {}

store::~store() {
  {
    std::lock_guard lk(p_->queue_mu);
    p_->stopping = true;
  }
  p_->queue_cv.notify_all();
  if (p_->committer.joinable()) p_->committer.join();
}

result<std::unique_ptr<store>> store::open(const store_options& opts) {
  if (opts.path.empty()) return make_error(errc::invalid_argument, "store: path is required");
  if (opts.max_batch < 1) return make_error(errc::invalid_argument, "store: max_batch must be >= 1");
  auto p = std::make_unique<impl>(opts);
  try {
    p->write_db =
        std::make_unique<SQLite::Database>(opts.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, k_busy_timeout_ms);
    {
      SQLite::Statement q(*p->write_db, "PRAGMA journal_mode = WAL");
      std::string mode = q.executeStep() ? q.getColumn(0).getString() : "";
      if (mode != "wal") {
        return make_error(errc::storage, "store: " + opts.path + ": cannot enable WAL (journal_mode is " + mode + ")");
      }
    }
    p->write_db->exec(opts.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    p->write_db->exec("PRAGMA foreign_keys = ON");
    // Savepoint journals in memory, and WAL checkpoints off the commit path (see checkpoint_if_due).
    p->write_db->exec("PRAGMA temp_store = MEMORY");
    p->write_db->exec("PRAGMA wal_autocheckpoint = 0");
    p->write_db->exec("PRAGMA journal_size_limit = 67108864");
    p->version = apply_migrations(*p->write_db);
    p->write_stmts = std::make_unique<statement_cache>(*p->write_db);

    p->read_db = std::make_unique<SQLite::Database>(opts.path, SQLite::OPEN_READONLY, k_busy_timeout_ms);
    p->read_stmts = std::make_unique<statement_cache>(*p->read_db);
  } catch (...) {
    error e = current_exception_error("open " + opts.path);
    return e;
  }
  try {
    impl* raw = p.get();
    p->committer = std::thread([raw] { raw->run_committer(); });
    p->committer_id = p->committer.get_id();
  } catch (const std::exception& e) {
    return make_error(errc::internal, std::string("store: cannot start committer: ") + e.what());
  }
  return std::unique_ptr<store>(new store(std::move(p)));
}

int store::schema_version() const { return p_->version; }

void store::ingest_async(event ev, decide_fn decide, ingest_options o,
                         std::function<void(result<ingest_result>)> done) {
  ledger_decide_fn with_ledger;
  if (decide)
    with_ledger = [decide = std::move(decide)](const event& e, const ticket_state& s, const survey::ledger&) {
      return decide(e, s);
    };
  ingest_async(std::move(ev), std::move(with_ledger), std::move(o), std::move(done));
}

void store::ingest_async(event ev, ledger_decide_fn decide, ingest_options o,
                         std::function<void(result<ingest_result>)> done) {
  auto out = std::make_shared<std::optional<ingest_result>>();
  impl* p = p_.get();
  job j;
  j.run = [p, out, ev = std::move(ev), decide = std::move(decide), o](statement_cache& sc) -> std::optional<error> {
    if (!decide) return make_error(errc::invalid_argument, "store: decide function is empty");
    auto r = p->do_ingest(sc, ev, decide, o);
    if (!r) return r.err();
    out->emplace(std::move(*r));
    return std::nullopt;
  };
  j.finish = [p, out, done = std::move(done)](std::optional<error> e) {
    if (!e && !(*out)->duplicate) p->committed_events.fetch_add(1, std::memory_order_relaxed);
    if (!done) return;
    if (e) {
      done(result<ingest_result>(std::move(*e)));
    } else {
      done(result<ingest_result>(std::move(**out)));
    }
  };
  p->enqueue(std::move(j));
}

result<ingest_result> store::ingest(const event& ev, const decide_fn& decide, const ingest_options& o) {
  ledger_decide_fn with_ledger;
  if (decide)  // `decide` outlives the job: the call below waits for it.
    with_ledger = [&decide](const event& e, const ticket_state& s, const survey::ledger&) { return decide(e, s); };
  return ingest(ev, with_ledger, o);
}

result<ingest_result> store::ingest(const event& ev, const ledger_decide_fn& decide, const ingest_options& o) {
  if (std::this_thread::get_id() == p_->committer_id) {
    return make_error(errc::internal, "store: ingest() from the committer thread (a callback) would deadlock");
  }
  std::promise<result<ingest_result>> done;
  auto fut = done.get_future();
  // `decide` outlives the job: this call waits for it.
  ledger_decide_fn by_ref = [&decide](const event& e, const ticket_state& s, const survey::ledger& l) {
    return decide(e, s, l);
  };
  ingest_async(ev, decide ? std::move(by_ref) : ledger_decide_fn{}, o,
               [&done](result<ingest_result> r) { done.set_value(std::move(r)); });
  return fut.get();
}

result<std::vector<json>> store::surveys(const std::string& tenant, int limit) {
  return p_->read<std::vector<json>>("surveys", [&](statement_cache& sc) -> result<std::vector<json>> {
    std::vector<json> out;
    auto q = sc.get(std::string("SELECT ") + k_survey_columns +
                    " FROM surveys WHERE tenant = ? ORDER BY updated_at_ms, host, ticket_id, seq LIMIT ?");
    q->bind(1, tenant);
    q->bind(2, limit);
    while (q->executeStep()) out.push_back(survey_row_json(*q));
    return out;
  });
}

bool store::has_event(const std::string& tenant, const std::string& host, const std::string& host_event_id) {
  auto r = p_->read<bool>("has_event", [&](statement_cache& sc) -> result<bool> {
    auto q = sc.get("SELECT 1 FROM events WHERE tenant = ? AND host = ? AND host_event_id = ?");
    q->bind(1, tenant);
    q->bind(2, host);
    q->bind(3, host_event_id);
    return q->executeStep();
  });
  return r && *r;
}

result<std::vector<stored_event>> store::events(std::int64_t after_seq, int limit) {
  return p_->read<std::vector<stored_event>>("events", [&](statement_cache& sc) -> result<std::vector<stored_event>> {
    std::vector<stored_event> out;
    auto q = sc.get("SELECT seq, body, received_at_ms FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
    q->bind(1, after_seq);
    q->bind(2, limit <= 0 ? -1 : limit);
    while (q->executeStep()) {
      const std::int64_t seq = q->getColumn(0).getInt64();
      auto ev = event_from_json(json::parse(q->getColumn(1).getString()));
      if (!ev) {
        return make_error(errc::storage, "store: event " + std::to_string(seq) + " unreadable: " + ev.err().message);
      }
      out.push_back(stored_event{seq, std::move(*ev), from_ms(q->getColumn(2).getInt64())});
    }
    return out;
  });
}

result<ticket_state> store::state(const std::string& tenant, const std::string& host, const std::string& ticket_id) {
  return p_->read<ticket_state>("state", [&](statement_cache& sc) -> result<ticket_state> {
    auto q = sc.get("SELECT state FROM ticket_state WHERE tenant = ? AND host = ? AND ticket_id = ?");
    q->bind(1, tenant);
    q->bind(2, host);
    q->bind(3, ticket_id);
    if (!q->executeStep()) return ticket_state{};
    return ticket_state_from_json(json::parse(q->getColumn(0).getString()));
  });
}

result<std::vector<store::ticket_record>> store::tickets(const std::string& tenant, const std::string& after_host,
                                                        const std::string& after_ticket, int limit) {
  return p_->read<std::vector<ticket_record>>("tickets", [&](statement_cache& sc) -> result<std::vector<ticket_record>> {
    std::vector<ticket_record> out;
    auto q = sc.get(
        "SELECT host, ticket_id, state FROM ticket_state WHERE tenant = ? AND (host > ? OR (host = ? AND ticket_id > ?))"
        " ORDER BY host, ticket_id LIMIT ?");
    q->bind(1, tenant);
    q->bind(2, after_host);
    q->bind(3, after_host);
    q->bind(4, after_ticket);
    q->bind(5, limit <= 0 ? -1 : limit);
    while (q->executeStep()) {
      out.push_back(ticket_record{q->getColumn(0).getString(), q->getColumn(1).getString(),
                                  ticket_state_from_json(json::parse(q->getColumn(2).getString()))});
    }
    return out;
  });
}

result<std::vector<outbox_item>> store::claim_due(timestamp now, int limit, std::chrono::milliseconds lease) {
  impl* p = p_.get();
  return p->write_sync<std::vector<outbox_item>>(
      [p, now, limit, lease](statement_cache& sc) { return p->do_claim(sc, now, limit, lease); });
}

result<void> store::mark_done(std::int64_t id, timestamp now) {
  return p_->write_sync<void>([id, now](statement_cache& sc) -> result<void> {
    auto up = sc.get(
        "UPDATE outbox SET status = 'done', lease_until_ms = NULL, updated_at_ms = ?"
        " WHERE id = ? AND status = 'running'");
    up->bind(1, to_ms(now));
    up->bind(2, id);
    return impl::transition_result(sc, up->exec(), id);
  });
}

result<void> store::mark_retry(std::int64_t id, timestamp next_attempt_at, const std::string& err) {
  return p_->write_sync<void>([id, next_attempt_at, err](statement_cache& sc) -> result<void> {
    auto up = sc.get(
        "UPDATE outbox SET status = 'pending', next_attempt_at_ms = ?, lease_until_ms = NULL,"
        " last_error = ?, updated_at_ms = ? WHERE id = ? AND status = 'running'");
    up->bind(1, to_ms(next_attempt_at));
    up->bind(2, err);
    up->bind(3, to_ms(wall_now()));
    up->bind(4, id);
    return impl::transition_result(sc, up->exec(), id);
  });
}

result<void> store::mark_failed(std::int64_t id, const std::string& err) {
  return finish_running(id, outbox_status::failed, err);
}

result<void> store::mark_cancelled(std::int64_t id, const std::string& why) {
  return finish_running(id, outbox_status::cancelled, why);
}

result<void> store::finish_running(std::int64_t id, outbox_status to, const std::string& why) {
  return p_->write_sync<void>([id, to, why](statement_cache& sc) -> result<void> {
    auto up = sc.get(
        "UPDATE outbox SET status = ?, lease_until_ms = NULL, last_error = ?, updated_at_ms = ?"
        " WHERE id = ? AND status = 'running'");
    up->bind(1, std::string(to_string(to)));
    up->bind(2, why);
    up->bind(3, to_ms(wall_now()));
    up->bind(4, id);
    return impl::transition_result(sc, up->exec(), id);
  });
}

result<void> store::mark_deferred(std::int64_t id, timestamp next_attempt_at) {
  return p_->write_sync<void>([id, next_attempt_at](statement_cache& sc) -> result<void> {
    auto up = sc.get(
        "UPDATE outbox SET status = 'pending', next_attempt_at_ms = ?, lease_until_ms = NULL,"
        " attempts = max(attempts - 1, 0), updated_at_ms = ? WHERE id = ? AND status = 'running'");
    up->bind(1, to_ms(next_attempt_at));
    up->bind(2, to_ms(wall_now()));
    up->bind(3, id);
    return impl::transition_result(sc, up->exec(), id);
  });
}

result<std::vector<outbox_item>> store::outbox(std::optional<outbox_status> filter, int limit) {
  return p_->read<std::vector<outbox_item>>("outbox", [&](statement_cache& sc) -> result<std::vector<outbox_item>> {
    std::vector<outbox_item> out;
    auto q = sc.get(
        "SELECT id, body, status, attempts, next_attempt_at_ms, last_error FROM outbox"
        " WHERE (?1 IS NULL OR status = ?1) ORDER BY id LIMIT ?2");
    if (filter) q->bind(1, std::string(to_string(*filter)));
    q->bind(2, limit <= 0 ? -1 : limit);
    while (q->executeStep()) {
      const std::int64_t id = q->getColumn(0).getInt64();
      auto act = action_from_json(json::parse(q->getColumn(1).getString()));
      if (!act) {
        return make_error(errc::storage,
                          "store: outbox row " + std::to_string(id) + " unreadable: " + act.err().message);
      }
      outbox_item item;
      item.id = id;
      item.act = std::move(*act);
      item.status = outbox_status_from_string(q->getColumn(2).getString()).value_or(outbox_status::failed);
      item.attempts = q->getColumn(3).getInt();
      item.next_attempt_at = from_ms(q->getColumn(4).getInt64());
      item.last_error = q->getColumn(5).getString();
      out.push_back(std::move(item));
    }
    return out;
  });
}

result<std::vector<timer_item>> store::due_timers(timestamp now, int limit) {
  return p_->read<std::vector<timer_item>>("due_timers", [&](statement_cache& sc) -> result<std::vector<timer_item>> {
    std::vector<timer_item> out;
    auto q = sc.get(
        "SELECT id, tenant, host, ticket_id, kind, due_at_ms, payload FROM timers"
        " WHERE status = 'pending' AND due_at_ms <= ? ORDER BY due_at_ms, id LIMIT ?");
    q->bind(1, to_ms(now));
    q->bind(2, limit <= 0 ? -1 : limit);
    while (q->executeStep()) {
      timer_item t;
      t.id = q->getColumn(0).getInt64();
      t.tenant = q->getColumn(1).getString();
      t.host = q->getColumn(2).getString();
      t.ticket_id = q->getColumn(3).getString();
      t.kind = q->getColumn(4).getString();
      t.due_at = from_ms(q->getColumn(5).getInt64());
      t.payload = json::parse(q->getColumn(6).getString());
      out.push_back(std::move(t));
    }
    return out;
  });
}

store::counts store::stats() {
  counts c;
  auto r = p_->read<counts>("stats", [&](statement_cache& sc) -> result<counts> {
    counts k;
    auto q = sc.get(
        "SELECT (SELECT count(*) FROM events),"
        " (SELECT count(*) FROM outbox WHERE status = 'pending'),"
        " (SELECT count(*) FROM outbox WHERE status = 'done'),"
        " (SELECT count(*) FROM outbox WHERE status = 'failed'),"
        " (SELECT count(*) FROM timers WHERE status = 'pending')");
    if (q->executeStep()) {
      k.events = q->getColumn(0).getInt64();
      k.outbox_pending = q->getColumn(1).getInt64();
      k.outbox_done = q->getColumn(2).getInt64();
      k.outbox_failed = q->getColumn(3).getInt64();
      k.timers_pending = q->getColumn(4).getInt64();
    }
    return k;
  });
  if (r) c = *r;
  c.commits = p_->commits.load(std::memory_order_relaxed);
  c.committed_events = p_->committed_events.load(std::memory_order_relaxed);
  return c;
}

}  // namespace closeloop
