#pragma once
// The store side of customer health (closeloop/health.hpp): gathers one customer's facts from the
// tables the store already keeps (ticket_state by the requester e-mail — an expression index, so
// no scan —, the ticket's events for reopens and the first agent reply, the surveys rows for
// answers), and remembers each customer's last band and the band last written to the host
// (table customer_health), with a cursor over the event log for incremental updates.
// Same SQLite file as the store; its own connection (like kb_store).
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "closeloop/health.hpp"
#include "closeloop/model.hpp"
#include "closeloop/result.hpp"

namespace SQLite {
class Database;
}

namespace closeloop {

struct health_record {
  std::string tenant, customer;
  int score = 0;
  std::string band = "healthy", written_band = "healthy";
  json reasons = json::array();
  std::string host, ticket_id;  // the customer's latest ticket: where a band change is written
  std::optional<timestamp> updated_at, written_at;
};

class health_store {
 public:
  static result<std::unique_ptr<health_store>> open(const std::string& path);
  ~health_store();

  // One customer's tickets (created in or after `since`, by their first event) and survey answers.
  // `customer` is normalised (health::normalize_customer). Also returns the latest ticket.
  result<health::inputs> facts(const std::string& tenant, const std::string& customer, timestamp since);
  // The customers of a tenant (normalised e-mails of its tickets' requesters), sorted.
  result<std::vector<std::string>> customers(const std::string& tenant);
  // Events after `after_seq` (at most `limit`): the (tenant, customer) pairs they touch, and the
  // last seq read (after_seq when there was none).
  struct touched {
    std::vector<std::pair<std::string, std::string>> customers;
    std::int64_t last_seq = 0;
  };
  result<touched> touched_since(std::int64_t after_seq, int limit);

  result<std::optional<health_record>> get(const std::string& tenant, const std::string& customer);
  // Upserts the computed part (score, band, reasons, host, ticket); written_band is kept.
  result<void> put(const health_record& r, timestamp now);
  // Customers whose band differs from the band last written to the host.
  result<std::vector<health_record>> unwritten(int limit);
  result<void> mark_written(const std::string& tenant, const std::string& customer, const std::string& band,
                            timestamp now);

  // What closeloop decided for one ticket, for the agent sidebar: the parameters of the ticket's
  // latest set_priority (priority, label, reasons) and first set_fields (fields) outbox rows, as
  // {"set_priority": {...}, "set_fields": {...}} (a key is absent when there was none).
  result<json> ticket_decisions(const std::string& tenant, const std::string& host, const std::string& ticket_id);

  result<std::int64_t> cursor();
  result<void> set_cursor(std::int64_t seq);

 private:
  explicit health_store(std::unique_ptr<SQLite::Database> db);
  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace closeloop
