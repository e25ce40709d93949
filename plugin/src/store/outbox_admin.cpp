// closeloop::outbox_admin (closeloop/outbox_admin.hpp): the dead-letter view and replay of the
// outbox, and the hosts' circuit-breaker rows (tables outbox_requeues, host_circuits).
#include "closeloop/outbox_admin.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include "sql_util.hpp"

namespace closeloop {

using store_detail::current_exception_error;
using store_detail::from_ms;
using store_detail::to_ms;

namespace {

std::string iso(timestamp t) { return format_rfc3339(t); }

constexpr const char* row_columns =
    "SELECT id, idempotency_key, tenant, host, ticket_id, type, status, attempts, next_attempt_at_ms, last_error,"
    " created_at_ms, updated_at_ms FROM outbox";

outbox_row read_row(SQLite::Statement& q) {
  outbox_row r;
  r.id = q.getColumn(0).getInt64();
  r.idempotency_key = q.getColumn(1).getString();
  r.tenant = q.getColumn(2).getString();
  r.host = q.getColumn(3).getString();
  r.ticket_id = q.getColumn(4).getString();
  r.type = q.getColumn(5).getString();
  r.status = outbox_status_from_string(q.getColumn(6).getString()).value_or(outbox_status::failed);
  r.attempts = q.getColumn(7).getInt();
  r.next_attempt_at = from_ms(q.getColumn(8).getInt64());
  r.last_error = q.getColumn(9).getString();
  r.created_at = from_ms(q.getColumn(10).getInt64());
  r.updated_at = from_ms(q.getColumn(11).getInt64());
  return r;
}

void load_requeues(SQLite::Database& db, outbox_row& r) {
  SQLite::Statement q(db,
                      "SELECT at_ms, actor, attempts, last_error FROM outbox_requeues WHERE outbox_id = ?"
                      " ORDER BY at_ms, rowid");
  q.bind(1, r.id);
  while (q.executeStep()) {
    r.requeues.push_back(outbox_requeue{from_ms(q.getColumn(0).getInt64()), q.getColumn(1).getString(),
                                        q.getColumn(2).getInt(), q.getColumn(3).getString()});
  }
}

// Inside the caller's transaction: record the round that ended, then re-queue.
void requeue_row(SQLite::Database& db, const outbox_row& r, const std::string& actor, timestamp now) {
  SQLite::Statement h(db,
                      "INSERT INTO outbox_requeues (outbox_id, at_ms, actor, attempts, last_error)"
                      " VALUES (?, ?, ?, ?, ?)");
  h.bind(1, r.id);
  h.bind(2, to_ms(now));
  h.bind(3, actor);
  h.bind(4, r.attempts);
  h.bind(5, r.last_error);
  h.exec();
  SQLite::Statement up(db,
                       "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at_ms = ?,"
                       " lease_until_ms = NULL, updated_at_ms = ? WHERE id = ? AND status = 'failed'");
  up.bind(1, to_ms(now));
  up.bind(2, to_ms(now));
  up.bind(3, r.id);
  up.exec();
}

}  // namespace

json outbox_row::to_json() const {
  json h = json::array();
  for (const auto& q : requeues) {
    h.push_back({{"at", iso(q.at)}, {"actor", q.actor}, {"attempts", q.attempts}, {"last_error", q.last_error}});
  }
  return {{"id", id},
          {"idempotency_key", idempotency_key},
          {"tenant", tenant},
          {"host", host},
          {"ticket_id", ticket_id},
          {"type", type},
          {"status", std::string(to_string(status))},
          {"attempts", attempts},
          {"next_attempt_at", iso(next_attempt_at)},
          {"last_error", last_error},
          {"created_at", iso(created_at)},
          {"updated_at", iso(updated_at)},
          {"requeues", std::move(h)}};
}

outbox_admin::outbox_admin(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
outbox_admin::~outbox_admin() = default;

result<std::unique_ptr<outbox_admin>> outbox_admin::open(const std::string& path) {
  try {
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE, 5000);
    if (!db->tableExists("outbox_requeues") || !db->tableExists("host_circuits"))
      return make_error(errc::storage, "outbox: " + path + " has no outbox_requeues table (run closeloop migrate)");
    return std::unique_ptr<outbox_admin>(new outbox_admin(std::move(db)));
  } catch (...) {
    return current_exception_error("outbox open");
  }
}

result<std::vector<outbox_row>> outbox_admin::list(const outbox_filter& f) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_, std::string(row_columns) +
                                  " WHERE (?1 IS NULL OR status = ?1) AND (?2 = '' OR tenant = ?2)"
                                  " ORDER BY id DESC LIMIT ?3");
    if (f.status) q.bind(1, std::string(to_string(*f.status)));
    q.bind(2, f.tenant);
    q.bind(3, f.limit <= 0 ? -1 : f.limit);
    std::vector<outbox_row> out;
    while (q.executeStep()) out.push_back(read_row(q));
    for (auto& r : out) load_requeues(*db_, r);
    return out;
  } catch (...) {
    return current_exception_error("outbox list");
  }
}

result<outbox_row> outbox_admin::get(std::int64_t id) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_, std::string(row_columns) + " WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return make_error(errc::not_found, "outbox: no action #" + std::to_string(id));
    outbox_row r = read_row(q);
    load_requeues(*db_, r);
    return r;
  } catch (...) {
    return current_exception_error("outbox get");
  }
}

result<outbox_row> outbox_admin::requeue(std::int64_t id, const std::string& tenant, const std::string& actor,
                                         timestamp now) {
  {
    std::lock_guard lk(mu_);
    try {
      SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
      SQLite::Statement q(*db_, std::string(row_columns) + " WHERE id = ?");
      q.bind(1, id);
      if (!q.executeStep() || (!tenant.empty() && q.getColumn(2).getString() != tenant)) {
        return make_error(errc::not_found, "outbox: no action #" + std::to_string(id) +
                                               (tenant.empty() ? std::string() : " for tenant " + tenant));
      }
      const outbox_row r = read_row(q);
      q.reset();
      if (r.status != outbox_status::failed) {
        return make_error(errc::conflict, "outbox: action #" + std::to_string(id) + " is " +
                                              std::string(to_string(r.status)) +
                                              ", not failed: only failed actions can be retried");
      }
      requeue_row(*db_, r, actor, now);
      tx.commit();
    } catch (...) {
      return current_exception_error("outbox retry");
    }
  }
  return get(id);
}

result<std::vector<std::int64_t>> outbox_admin::requeue_failed(const std::string& tenant, const std::string& actor,
                                                               timestamp now) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    std::vector<outbox_row> rows;
    {
      SQLite::Statement q(*db_, std::string(row_columns) + " WHERE status = 'failed' AND (?1 = '' OR tenant = ?1)"
                                                           " ORDER BY id");
      q.bind(1, tenant);
      while (q.executeStep()) rows.push_back(read_row(q));
    }
    std::vector<std::int64_t> ids;
    for (const auto& r : rows) {
      requeue_row(*db_, r, actor, now);
      ids.push_back(r.id);
    }
    tx.commit();
    return ids;
  } catch (...) {
    return current_exception_error("outbox retry");
  }
}

result<void> outbox_admin::save_circuit(const circuit_row& c) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_,
                        "INSERT INTO host_circuits (tenant, host, state, failures, opened_at_ms, retry_at_ms,"
                        " last_error, updated_at_ms) VALUES (?,?,?,?,?,?,?,?)"
                        " ON CONFLICT (tenant, host) DO UPDATE SET state = excluded.state,"
                        " failures = excluded.failures, opened_at_ms = excluded.opened_at_ms,"
                        " retry_at_ms = excluded.retry_at_ms, last_error = excluded.last_error,"
                        " updated_at_ms = excluded.updated_at_ms");
    q.bind(1, c.tenant);
    q.bind(2, c.host);
    q.bind(3, c.state);
    q.bind(4, c.failures);
    q.bind(5, to_ms(c.opened_at));
    q.bind(6, to_ms(c.retry_at));
    q.bind(7, c.last_error);
    q.bind(8, to_ms(c.updated_at));
    q.exec();
    return {};
  } catch (...) {
    return current_exception_error("circuit save");
  }
}

result<std::vector<circuit_row>> outbox_admin::circuits() {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT tenant, host, state, failures, opened_at_ms, retry_at_ms, last_error, updated_at_ms"
                        " FROM host_circuits ORDER BY tenant, host");
    std::vector<circuit_row> out;
    while (q.executeStep()) {
      circuit_row c;
      c.tenant = q.getColumn(0).getString();
      c.host = q.getColumn(1).getString();
      c.state = q.getColumn(2).getString();
      c.failures = q.getColumn(3).getInt();
      c.opened_at = from_ms(q.getColumn(4).getInt64());
      c.retry_at = from_ms(q.getColumn(5).getInt64());
      c.last_error = q.getColumn(6).getString();
      c.updated_at = from_ms(q.getColumn(7).getInt64());
      out.push_back(std::move(c));
    }
    return out;
  } catch (...) {
    return current_exception_error("circuits");
  }
}

}  // namespace closeloop
