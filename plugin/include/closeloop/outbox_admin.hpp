#pragma once
// The operator's view of the outbox (dead letters) and of the hosts' circuit breakers, on the
// store's SQLite file through its own connection (like kb_store), so `closeloop outbox list|retry`
// and `closeloop doctor` work while `closeloop serve` runs, and the worker's breaker never waits
// on the store's committer. Tables outbox_requeues and host_circuits come from the store's
// migrations.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "closeloop/model.hpp"
#include "closeloop/result.hpp"
#include "closeloop/store.hpp"

namespace SQLite {
class Database;
}

namespace closeloop {

// One requeue of a row: what its previous round had come to.
struct outbox_requeue {
  timestamp at{};
  std::string actor;       // who retried it ("cli:<user>", "api:<token name>")
  int attempts = 0;        // attempts made in the round that ended
  std::string last_error;  // why that round ended
};

struct outbox_row {
  std::int64_t id = 0;
  std::string idempotency_key, tenant, host, ticket_id, type;
  outbox_status status = outbox_status::pending;
  int attempts = 0;  // in the current round (a requeue starts a new round at 0)
  timestamp next_attempt_at{}, created_at{}, updated_at{};
  std::string last_error;
  std::vector<outbox_requeue> requeues;  // oldest first
  json to_json() const;
};

struct outbox_filter {
  std::optional<outbox_status> status;  // none: every status
  std::string tenant;                   // empty: every tenant
  int limit = 100;                      // newest first
};

// A host's circuit breaker as the worker last wrote it.
struct circuit_row {
  std::string tenant, host;
  std::string state;  // "closed", "open", "half_open"
  int failures = 0;   // consecutive retryable failures
  timestamp opened_at{}, retry_at{}, updated_at{};
  std::string last_error;
};

class outbox_admin {
 public:
  // Opens the store's file (created and migrated by store::open).
  static result<std::unique_ptr<outbox_admin>> open(const std::string& path);
  ~outbox_admin();

  result<std::vector<outbox_row>> list(const outbox_filter& f);
  result<outbox_row> get(std::int64_t id);

  // Dead-letter replay: a failed row goes back to pending, due now, attempts 0, its idempotency
  // key unchanged (the host sees the same key: no second survey, note or article); the round that
  // ended is kept in outbox_requeues. Only failed rows: another status is errc::conflict naming
  // it; an id of another tenant (when tenant is set) is errc::not_found.
  result<outbox_row> requeue(std::int64_t id, const std::string& tenant, const std::string& actor, timestamp now);
  // Every failed row (of the tenant, when set), in one transaction; returns their ids.
  result<std::vector<std::int64_t>> requeue_failed(const std::string& tenant, const std::string& actor, timestamp now);

  result<void> save_circuit(const circuit_row& c);
  result<std::vector<circuit_row>> circuits();

 private:
  explicit outbox_admin(std::unique_ptr<SQLite::Database> db);
  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace closeloop
