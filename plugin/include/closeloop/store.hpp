#pragma once
// The durable store (SQLite, WAL, numbered migrations). An event is acknowledged only after the
// transaction holding it, the actions it caused (outbox), its timers and the ticket's new state
// has committed. Concurrent ingests share one commit (group commit): one fsync for a batch.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "closeloop/engine.hpp"
#include "closeloop/model.hpp"
#include "closeloop/result.hpp"

namespace closeloop {

struct store_options {
  std::string path;
  int max_batch = 512;
  bool synchronous_full = true;
};

struct ingest_options {
  // In-process door: the host applies immediate actions itself in the triggering request, so
  // they are recorded with status "applied" and never executed by the worker.
  bool immediate_applied_by_host = false;
};

struct ingest_result {
  bool duplicate = false;       // (tenant, host, host_event_id) was already stored
  std::int64_t event_seq = 0;   // row id of the stored event
  // Actions decided; for a duplicate none, except with immediate_applied_by_host: the immediate
  // actions recorded for the host then, again (its first answer may not have reached it).
  std::vector<action> actions;
  std::vector<std::string> log;
};

enum class outbox_status { pending, running, done, failed, cancelled, applied };
std::string_view to_string(outbox_status s) noexcept;
std::optional<outbox_status> outbox_status_from_string(std::string_view s) noexcept;  // "failed" -> failed

struct outbox_item {
  std::int64_t id = 0;
  action act;
  outbox_status status = outbox_status::pending;
  int attempts = 0;
  timestamp next_attempt_at{};
  std::string last_error;
};

struct timer_item {
  std::int64_t id = 0;
  std::string tenant, host, ticket_id;
  std::string kind;  // "survey"
  timestamp due_at{};
  json payload = json::object();
};

struct stored_event {
  std::int64_t seq = 0;
  event ev;
  timestamp received_at{};
};

using decide_fn = std::function<decision(const event&, const ticket_state&)>;
// With the cross-ticket survey ledger (throttle, quotas, recovery), read in the same transaction.
using ledger_decide_fn = std::function<decision(const event&, const ticket_state&, const survey::ledger&)>;

class store {
 public:
  static result<std::unique_ptr<store>> open(const store_options& opts);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  int schema_version() const;  // highest applied migration

  // Durably record `ev`, run `decide` on the ticket's current state inside the same transaction,
  // and persist the decision: outbox rows (unique idempotency keys; an existing key is kept, not
  // doubled), timers (a schedule_survey action creates a "survey" timer due at params.due_at; a
  // cancel_survey cancels the ticket's pending survey timers and pending send_survey rows), and
  // the next ticket state. A timer.fired event with data.timer_id marks that timer fired.
  // Blocks until committed. Safe to call from many threads; calls are group-committed.
  // The decision's survey_row and ledger_writes are stored in the same transaction (tables
  // surveys, survey_people, survey_quota), and a schedule_survey's params.timer names the timer
  // kind ("survey" by default; "survey_reminder", "survey_expiry", "survey_recovery").
  result<ingest_result> ingest(const event& ev, const decide_fn& decide, const ingest_options& o = {});
  result<ingest_result> ingest(const event& ev, const ledger_decide_fn& decide, const ingest_options& o = {});
  // Same, non-blocking: `done` runs on the committer thread after commit (or failure).
  void ingest_async(event ev, decide_fn decide, ingest_options o,
                    std::function<void(result<ingest_result>)> done);
  void ingest_async(event ev, ledger_decide_fn decide, ingest_options o,
                    std::function<void(result<ingest_result>)> done);

  // The survey lifecycle rows of a tenant (oldest first), as JSON: tenant, host, ticket_id, seq,
  // definition, kind, status, person_key, segment, language, *_at times, score, response,
  // recovery, note.
  result<std::vector<json>> surveys(const std::string& tenant, int limit);

  bool has_event(const std::string& tenant, const std::string& host, const std::string& host_event_id);
  result<std::vector<stored_event>> events(std::int64_t after_seq, int limit);
  result<ticket_state> state(const std::string& tenant, const std::string& host, const std::string& ticket_id);

  struct ticket_record {
    std::string host, ticket_id;
    ticket_state state;
  };
  // A tenant's tickets in (host, ticket_id) order, `limit` at a time after (after_host,
  // after_ticket) — for exporting learning data without holding them all.
  result<std::vector<ticket_record>> tickets(const std::string& tenant, const std::string& after_host,
                                             const std::string& after_ticket, int limit);

  // Outbox. claim_due marks up to `limit` due pending rows (and running rows whose lease expired)
  // running, increments attempts, and sets a lease; the caller then reports the outcome.
  result<std::vector<outbox_item>> claim_due(timestamp now, int limit, std::chrono::milliseconds lease);
  result<void> mark_done(std::int64_t id, timestamp now);
  result<void> mark_retry(std::int64_t id, timestamp next_attempt_at, const std::string& error);
  result<void> mark_failed(std::int64_t id, const std::string& error);
  // A claimed row that must not run any more (a survey the customer opted out of after it was
  // decided): cancelled, `why` kept as its last_error.
  result<void> mark_cancelled(std::int64_t id, const std::string& why);
  // Hands a claimed row back unattempted (its host's circuit is open): pending again at
  // next_attempt_at, the attempt claim_due counted taken back, last_error kept.
  result<void> mark_deferred(std::int64_t id, timestamp next_attempt_at);
  result<std::vector<outbox_item>> outbox(std::optional<outbox_status> filter, int limit);

  // Timers: pending timers due at or before now (not claimed; firing is idempotent through the
  // timer.fired event's host_event_id "timer:<id>").
  result<std::vector<timer_item>> due_timers(timestamp now, int limit);

  struct counts {
    std::int64_t events = 0, outbox_pending = 0, outbox_done = 0, outbox_failed = 0, timers_pending = 0;
    std::int64_t commits = 0, committed_events = 0;  // since open: group-commit effectiveness
  };
  counts stats();

 private:
  struct impl;
  explicit store(std::unique_ptr<impl> p);
  result<void> finish_running(std::int64_t id, outbox_status to, const std::string& why);
  std::unique_ptr<impl> p_;
};

}  // namespace closeloop
