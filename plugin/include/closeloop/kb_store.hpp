#pragma once
// closeloop's local copy of each host's KB (articles fetched through the adapter and the drafts
// closeloop made), the links between tickets and articles (suggested / used / created) and the
// outcome report built from them. Same SQLite file as the store (tables from its migrations);
// its own connection, so it never waits on the store's committer.
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "closeloop/model.hpp"
#include "closeloop/result.hpp"

namespace SQLite {
class Database;
}

namespace closeloop {

struct kb_article_row {
  std::string host, article_id, title, body, url, locale;
  std::string origin;  // "host" (fetched) or "closeloop" (a draft closeloop created)
  std::string fingerprint, source_ticket;
  bool draft = false;
};

struct kb_link {
  std::string host, ticket_id, article_id;
  std::string kind;  // "suggested", "used" (a near-duplicate answer linked to it), "created"
  double score = 0;  // similarity 0..1 (1 for created)
  timestamp at{};
};

struct kb_outcome {
  std::string host, article_id, title, url;
  int tickets = 0, suggested = 0, used = 0;
  int answered = 0;          // tickets with a survey answer
  double avg_score = 0;      // their mean survey score (CSAT 1-5 unless the tenant surveys otherwise)
  int solved = 0, reopened = 0;
  double reopen_rate = 0;    // reopened / solved
  bool weak = false;
  std::string why;           // what made it weak
};

struct kb_report_options {
  int min_tickets = 3;           // fewer tickets: not judged
  double weak_avg_score = 3.0;   // mean answer at or below: weak
  double weak_reopen_rate = 0.3; // at or above: weak
};

class kb_store {
 public:
  // Opens the store's file (created and migrated by store::open).
  static result<std::unique_ptr<kb_store>> open(const std::string& path);
  ~kb_store();

  // Replaces the host-fetched copy of a host's articles (origin "host"); closeloop's drafts stay.
  result<void> replace_host_articles(const std::string& tenant, const std::string& host,
                                     const std::vector<kb_article_row>& rows, timestamp now);
  result<void> put_article(const std::string& tenant, const kb_article_row& row, timestamp now);
  result<std::vector<kb_article_row>> articles(const std::string& tenant, const std::string& host);
  result<std::optional<timestamp>> synced_at(const std::string& tenant, const std::string& host);

  result<void> add_link(const std::string& tenant, const kb_link& link);
  result<std::vector<kb_link>> links(const std::string& tenant, const std::string& host, const std::string& ticket_id);

  // Per article: the tickets it was suggested for or used on, their survey answers and reopens.
  result<std::vector<kb_outcome>> report(const std::string& tenant, const kb_report_options& o = {});

 private:
  explicit kb_store(std::unique_ptr<SQLite::Database> db);
  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace closeloop
