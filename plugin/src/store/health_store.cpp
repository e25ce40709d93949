// closeloop::health_store (closeloop/health_store.hpp): one customer's facts from ticket_state,
// events and surveys; customer_health and health_cursor (migration "health").
#include "closeloop/health_store.hpp"

#include <set>

#include <SQLiteCpp/SQLiteCpp.h>

#include "closeloop/engine.hpp"
#include "sql_util.hpp"

namespace closeloop {

using store_detail::current_exception_error;
using store_detail::from_ms;
using store_detail::to_ms;

namespace {
// Must match the expression of index ticket_state_requester (migration "health") word for word,
// or SQLite scans the table.
constexpr const char* k_requester = "lower(trim(json_extract(state, '$.requester_email')))";

health_record read_record(SQLite::Statement& q) {
  health_record r;
  r.tenant = q.getColumn(0).getString();
  r.customer = q.getColumn(1).getString();
  r.score = q.getColumn(2).getInt();
  r.band = q.getColumn(3).getString();
  r.written_band = q.getColumn(4).getString();
  r.reasons = json::parse(q.getColumn(5).getString(), nullptr, false);
  if (r.reasons.is_discarded()) r.reasons = json::array();
  r.host = q.getColumn(6).getString();
  r.ticket_id = q.getColumn(7).getString();
  r.updated_at = from_ms(q.getColumn(8).getInt64());
  if (!q.getColumn(9).isNull()) r.written_at = from_ms(q.getColumn(9).getInt64());
  return r;
}
constexpr const char* k_record_columns =
    "tenant, customer, score, band, written_band, reasons, host, ticket_id, updated_at_ms, written_at_ms";
}  // namespace

health_store::health_store(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
health_store::~health_store() = default;

result<std::unique_ptr<health_store>> health_store::open(const std::string& path) {
  try {
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE, 5000);
    if (!db->tableExists("customer_health"))
      return make_error(errc::storage, "health: " + path + " has no customer_health table (run closeloop migrate)");
    return std::unique_ptr<health_store>(new health_store(std::move(db)));
  } catch (...) {
    return current_exception_error("health open");
  }
}

result<health::inputs> health_store::facts(const std::string& tenant, const std::string& customer, timestamp since) {
  std::lock_guard lk(mu_);
  health::inputs in;
  in.customer = customer;
  try {
    SQLite::Statement tq(*db_, std::string("SELECT host, ticket_id, state FROM ticket_state WHERE tenant = ? AND ") +
                                   k_requester + " = ?");
    tq.bind(1, tenant);
    tq.bind(2, customer);
    SQLite::Statement eq(*db_,
                         "SELECT type, occurred_at_ms, json_extract(body, '$.author.role'),"
                         " json_extract(body, '$.visibility') FROM events"
                         " WHERE tenant = ? AND host = ? AND ticket_id = ? ORDER BY seq");
    SQLite::Statement sq(*db_,
                         "SELECT kind, definition, score, answered_at_ms FROM surveys WHERE tenant = ? AND host = ?"
                         " AND ticket_id = ? AND answered_at_ms IS NOT NULL AND score IS NOT NULL ORDER BY seq");
    while (tq.executeStep()) {
      health::ticket_facts t;
      t.host = tq.getColumn(0).getString();
      t.ticket_id = tq.getColumn(1).getString();
      const ticket_state st = ticket_state_from_json(json::parse(tq.getColumn(2).getString(), nullptr, false));
      t.subject = st.subject;
      t.sentiment = st.sentiment;
      t.status = st.status;
      t.solved_at = st.solved_at;
      t.first_reply_due = st.sla_first_reply_due;
      t.resolution_due = st.sla_resolution_due;
      std::optional<timestamp> first;
      eq.reset();
      eq.bind(1, tenant);
      eq.bind(2, t.host);
      eq.bind(3, t.ticket_id);
      while (eq.executeStep()) {
        const std::string type = eq.getColumn(0).getString();
        const timestamp at = from_ms(eq.getColumn(1).getInt64());
        if (!first || at < *first) first = at;
        if (type == "ticket.reopened") t.reopened_at.push_back(at);
        if (type == "ticket.commented" && !t.first_agent_reply && eq.getColumn(2).getString() == "agent" &&
            eq.getColumn(3).getString() == "public")
          t.first_agent_reply = at;
      }
      if (!first) continue;  // state without events (should not happen): nothing to date it by
      t.created_at = *first;
      sq.reset();
      sq.bind(1, tenant);
      sq.bind(2, t.host);
      sq.bind(3, t.ticket_id);
      while (sq.executeStep()) {
        health::answer_facts a;
        a.host = t.host;
        a.ticket_id = t.ticket_id;
        a.kind = sq.getColumn(0).getString();
        if (a.kind.empty()) a.kind = sq.getColumn(1).getString();
        a.score = sq.getColumn(2).getInt();
        a.at = from_ms(sq.getColumn(3).getInt64());
        if (a.at >= since) in.answers.push_back(std::move(a));
      }
      if (t.created_at >= since) in.tickets.push_back(std::move(t));
    }
    return in;
  } catch (...) {
    return current_exception_error("health facts");
  }
}

result<std::vector<std::string>> health_store::customers(const std::string& tenant) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT DISTINCT ") + k_requester +
                                  " AS c FROM ticket_state WHERE tenant = ? AND c IS NOT NULL AND c <> '' ORDER BY c");
    q.bind(1, tenant);
    std::vector<std::string> out;
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
    return out;
  } catch (...) {
    return current_exception_error("health customers");
  }
}

result<health_store::touched> health_store::touched_since(std::int64_t after_seq, int limit) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_,
                        std::string("SELECT e.seq, e.tenant, ") + k_requester +
                            " FROM events e LEFT JOIN ticket_state s ON s.tenant = e.tenant AND s.host = e.host"
                            " AND s.ticket_id = e.ticket_id WHERE e.seq > ? ORDER BY e.seq LIMIT ?");
    q.bind(1, static_cast<int64_t>(after_seq));
    q.bind(2, limit);
    touched out;
    out.last_seq = after_seq;
    std::set<std::pair<std::string, std::string>> seen;
    while (q.executeStep()) {
      out.last_seq = q.getColumn(0).getInt64();
      if (q.getColumn(2).isNull()) continue;
      std::pair<std::string, std::string> key{q.getColumn(1).getString(), q.getColumn(2).getString()};
      if (key.second.empty() || !seen.insert(key).second) continue;
      out.customers.push_back(std::move(key));
    }
    return out;
  } catch (...) {
    return current_exception_error("health touched");
  }
}

result<std::optional<health_record>> health_store::get(const std::string& tenant, const std::string& customer) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + k_record_columns +
                                  " FROM customer_health WHERE tenant = ? AND customer = ?");
    q.bind(1, tenant);
    q.bind(2, customer);
    if (!q.executeStep()) return std::optional<health_record>();
    return std::optional<health_record>(read_record(q));
  } catch (...) {
    return current_exception_error("health get");
  }
}

result<void> health_store::put(const health_record& r, timestamp now) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_,
                        "INSERT INTO customer_health (tenant, customer, score, band, reasons, host, ticket_id,"
                        " updated_at_ms) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (tenant, customer) DO UPDATE SET"
                        " score = excluded.score, band = excluded.band, reasons = excluded.reasons,"
                        " host = excluded.host, ticket_id = excluded.ticket_id, updated_at_ms = excluded.updated_at_ms");
    q.bind(1, r.tenant);
    q.bind(2, r.customer);
    q.bind(3, r.score);
    q.bind(4, r.band);
    q.bind(5, r.reasons.dump());
    q.bind(6, r.host);
    q.bind(7, r.ticket_id);
    q.bind(8, static_cast<int64_t>(to_ms(now)));
    q.exec();
    return {};
  } catch (...) {
    return current_exception_error("health put");
  }
}

result<std::vector<health_record>> health_store::unwritten(int limit) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + k_record_columns +
                                  " FROM customer_health WHERE band <> written_band ORDER BY updated_at_ms LIMIT ?");
    q.bind(1, limit);
    std::vector<health_record> out;
    while (q.executeStep()) out.push_back(read_record(q));
    return out;
  } catch (...) {
    return current_exception_error("health unwritten");
  }
}

result<void> health_store::mark_written(const std::string& tenant, const std::string& customer, const std::string& band,
                                        timestamp now) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_,
                        "UPDATE customer_health SET written_band = ?, written_at_ms = ? WHERE tenant = ? AND customer = ?");
    q.bind(1, band);
    q.bind(2, static_cast<int64_t>(to_ms(now)));
    q.bind(3, tenant);
    q.bind(4, customer);
    q.exec();
    return {};
  } catch (...) {
    return current_exception_error("health mark_written");
  }
}

result<json> health_store::ticket_decisions(const std::string& tenant, const std::string& host,
                                            const std::string& ticket_id) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT type, body FROM outbox WHERE tenant = ? AND host = ? AND ticket_id = ?"
                        " AND type IN ('set_priority', 'set_fields') ORDER BY id");
    q.bind(1, tenant);
    q.bind(2, host);
    q.bind(3, ticket_id);
    json out = json::object();
    while (q.executeStep()) {
      const std::string type = q.getColumn(0).getString();
      if (type == "set_fields" && out.contains("set_fields")) continue;  // the classification: the first
      json body = json::parse(q.getColumn(1).getString(), nullptr, false);
      if (body.is_object() && body.contains("params") && body["params"].is_object()) out[type] = body["params"];
    }
    return out;
  } catch (...) {
    return current_exception_error("health ticket_decisions");
  }
}

result<std::int64_t> health_store::cursor() {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT event_seq FROM health_cursor WHERE id = 1");
    if (!q.executeStep()) return std::int64_t{0};
    return static_cast<std::int64_t>(q.getColumn(0).getInt64());
  } catch (...) {
    return current_exception_error("health cursor");
  }
}

result<void> health_store::set_cursor(std::int64_t seq) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_,
                        "INSERT INTO health_cursor (id, event_seq) VALUES (1, ?)"
                        " ON CONFLICT (id) DO UPDATE SET event_seq = excluded.event_seq");
    q.bind(1, static_cast<int64_t>(seq));
    q.exec();
    return {};
  } catch (...) {
    return current_exception_error("health set_cursor");
  }
}

}  // namespace closeloop
