#pragma once
// Privacy over the store's file: per-customer consent (opt-out of surveys), the retention purge,
// and a customer's export and erasure. Its own connection (like kb_store), secure_delete on.
//
// A customer is named by e-mail; it is normalised (trimmed, lower-cased, "Name <a@b>" -> a@b).
// Consent rows hold only consent_hash(normalised e-mail), never the address, so an erased
// customer's opt-out survives the erasure without keeping the address.
#include <memory>
#include <string>
#include <vector>

#include "closeloop/model.hpp"
#include "closeloop/result.hpp"

namespace SQLite {
class Database;
}

namespace closeloop {

std::string normalize_customer_email(std::string_view email);  // "" when not an address
std::string consent_hash(std::string_view normalized_email);    // hex SHA-256, domain-separated

struct retention_policy {
  int events_days = 0, texts_days = 0, survey_answers_days = 0;  // 0: keep
  int batch = 500;                                               // rows per transaction
  int max_batches = 20;                                          // per purge call (bounded work)
};

struct purge_counts {
  std::int64_t events_deleted = 0, outbox_deleted = 0, timers_deleted = 0;
  std::int64_t event_texts_removed = 0, state_texts_removed = 0, survey_answers_removed = 0;
  bool more = false;  // stopped at max_batches with work left
  std::int64_t total() const noexcept {
    return events_deleted + outbox_deleted + timers_deleted + event_texts_removed + state_texts_removed +
           survey_answers_removed;
  }
};

struct erase_counts {
  int tickets = 0;
  std::int64_t events = 0, states = 0, outbox = 0, timers = 0, surveys = 0, people = 0, kb_articles = 0,
               kb_links = 0, other = 0;
  bool wal_truncated = false;  // false: another process held the WAL; run again when it is idle
};

class privacy_store {
 public:
  // Opens the store's file (created and migrated by store::open).
  static result<std::unique_ptr<privacy_store>> open(const std::string& path);
  ~privacy_store();

  // status "opted_out" or "opted_in"; source: "cli", "survey_page", ...
  result<void> set_consent(const std::string& tenant, const std::string& email, const std::string& status,
                           const std::string& source, timestamp now);
  result<bool> opted_out(const std::string& tenant, const std::string& email);

  result<purge_counts> purge(const retention_policy& p, timestamp now);

  // Everything held about the customer in `tenants` (empty: all), as one JSON document.
  result<json> export_customer(const std::string& email, const std::vector<std::string>& tenants);
  // Removes or anonymises everything about the customer, then VACUUMs and truncates the WAL so
  // the bytes are gone from the files too.
  result<erase_counts> erase_customer(const std::string& email, const std::vector<std::string>& tenants);

 private:
  explicit privacy_store(std::unique_ptr<SQLite::Database> db);
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace closeloop
