// closeloop::store: opening, the committer's ingest transaction and the reads (the outbox queue
// and timers are in store_outbox.cpp; the shared private half in store_impl.hpp).
#include "closeloop/store.hpp"

#include "migrations.hpp"
#include "store_impl.hpp"
#include "survey_rows.hpp"
#include "wal_batch_vfs.hpp"

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

std::string dump(const json& j) { return j.dump(); }

}  // namespace

bool store::impl::insert_outbox(statement_cache& sc, const action& a, const std::string& body, std::int64_t event_seq,
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

result<void> store::impl::store_action(statement_cache& sc, const action& a, std::int64_t event_seq, timestamp now,
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

result<ingest_result> store::impl::do_ingest(statement_cache& sc, const event& ev, const std::string& body,
                                             const ledger_decide_fn& decide, const ingest_options& o) {
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
    ins->bind(8, body);
    if (ins->exec() == 0) {
      auto q = sc.get("SELECT seq FROM events WHERE tenant = ? AND host = ? AND host_event_id = ?");
      q->bind(1, ev.tenant);
      q->bind(2, ev.host);
      q->bind(3, ev.host_event_id);
      if (q->executeStep()) res.event_seq = q->getColumn(0).getInt64();
      res.duplicate = true;
      if (o.immediate_applied_by_host && res.event_seq > 0) {
        // The in-request door asks again for an event we committed: its first answer may never
        // have reached the host (closeloop died, or the connection broke, after the commit), so
        // the immediate actions the host was to apply come back again. Applying them is
        // idempotent on the host's side (fields, priority; notes carry their idempotency key).
        // Through the ticket's index (outbox_ticket): the ticket's rows are few.
        auto a = sc.get(
            "SELECT id, body FROM outbox WHERE tenant = ? AND host = ? AND ticket_id = ? AND event_seq = ?"
            " AND status = 'applied' ORDER BY id");
        a->bind(1, ev.tenant);
        a->bind(2, ev.host);
        a->bind(3, ev.ticket_id);
        a->bind(4, res.event_seq);
        while (a->executeStep()) {
          auto act = action_from_json(json::parse(a->getColumn(1).getString()));
          if (!act) {
            return make_error(errc::storage, "store: outbox row " + std::to_string(a->getColumn(0).getInt64()) +
                                                 " unreadable: " + act.err().message);
          }
          res.actions.push_back(std::move(*act));
        }
      }
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

store::store(std::unique_ptr<impl> p) : p_(std::move(p)) {}

store::~store() {
  {
    std::lock_guard lk(p_->queue_mu);
    p_->stopping = true;
  }
  p_->queue_cv.notify_all();
  if (p_->committer.joinable()) p_->committer.join();
  {
    std::lock_guard lk(p_->ckpt_mu);
    p_->ckpt_stopping = true;
  }
  p_->ckpt_cv.notify_all();
  if (p_->checkpointer.joinable()) p_->checkpointer.join();
}

result<std::unique_ptr<store>> store::open(const store_options& opts) {
  if (opts.path.empty()) return make_error(errc::invalid_argument, "store: path is required");
  if (opts.max_batch < 1) return make_error(errc::invalid_argument, "store: max_batch must be >= 1");
  auto p = std::make_unique<impl>(opts);
  try {
    // With synchronous=FULL the writer's WAL frames go to the kernel in one write per commit
    // (wal_batch_vfs.hpp); NORMAL commits do not sync, so they keep SQLite's own writes.
    p->write_db = std::make_unique<SQLite::Database>(opts.path.c_str(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE,
                                                     k_busy_timeout_ms,
                                                     opts.synchronous_full ? wal_batch_vfs_name() : nullptr);
    {
      SQLite::Statement q(*p->write_db, "PRAGMA journal_mode = WAL");
      std::string mode = q.executeStep() ? q.getColumn(0).getString() : "";
      if (mode != "wal") {
        return make_error(errc::storage, "store: " + opts.path + ": cannot enable WAL (journal_mode is " + mode + ")");
      }
    }
    p->write_db->exec(opts.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    // Savepoint journals in memory, and WAL checkpoints off the commit path (see checkpoint_if_due).
    p->write_db->exec("PRAGMA temp_store = MEMORY");
    p->write_db->exec("PRAGMA wal_autocheckpoint = 0");
    p->write_db->exec("PRAGMA journal_size_limit = 67108864");
    p->version = apply_migrations(*p->write_db);
    p->write_db->exec("PRAGMA foreign_keys = ON");
    p->write_stmts = std::make_unique<statement_cache>(*p->write_db);

    p->ckpt_db = std::make_unique<SQLite::Database>(opts.path, SQLite::OPEN_READWRITE, k_busy_timeout_ms);
    // The checkpoint syncs the WAL before and the database after copying, as the writer would.
    p->ckpt_db->exec(opts.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    p->ckpt_db->exec("PRAGMA wal_autocheckpoint = 0");
    p->read_db = std::make_unique<SQLite::Database>(opts.path, SQLite::OPEN_READONLY, k_busy_timeout_ms);
    p->read_stmts = std::make_unique<statement_cache>(*p->read_db);
  } catch (...) {
    error e = current_exception_error("open " + opts.path);
    return e;
  }
  try {
    impl* raw = p.get();
    p->checkpointer = std::thread([raw] { raw->run_checkpointer(); });
    p->committer = std::thread([raw] { raw->run_committer(); });
    p->committer_id = p->committer.get_id();
  } catch (const std::exception& e) {
    if (p->checkpointer.joinable()) {
      {
        std::lock_guard lk(p->ckpt_mu);
        p->ckpt_stopping = true;
      }
      p->ckpt_cv.notify_all();
      p->checkpointer.join();
    }
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
  std::string body = dump(to_json(ev));  // on the caller's thread: the committer is the serial path
  job j;
  j.run = [p, out, ev = std::move(ev), body = std::move(body), decide = std::move(decide),
           o](statement_cache& sc) -> std::optional<error> {
    if (!decide) return make_error(errc::invalid_argument, "store: decide function is empty");
    auto r = p->do_ingest(sc, ev, body, decide, o);
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
