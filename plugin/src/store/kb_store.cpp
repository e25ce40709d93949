// closeloop::kb_store (closeloop/kb_store.hpp): kb_articles, kb_links, kb_sync (migration 'kb').
#include "closeloop/kb_store.hpp"

#include <map>

#include <SQLiteCpp/SQLiteCpp.h>

#include "closeloop/engine.hpp"
#include "sql_util.hpp"

namespace closeloop {

using store_detail::current_exception_error;
using store_detail::from_ms;
using store_detail::to_ms;

kb_store::kb_store(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
kb_store::~kb_store() = default;

result<std::unique_ptr<kb_store>> kb_store::open(const std::string& path) {
  try {
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE, 5000);
    if (!db->tableExists("kb_articles"))
      return make_error(errc::storage, "kb: " + path + " has no kb_articles table (run closeloop migrate)");
    return std::unique_ptr<kb_store>(new kb_store(std::move(db)));
  } catch (...) {
    return current_exception_error("kb open");
  }
}

namespace {

void insert_article(SQLite::Database& db, const std::string& tenant, const kb_article_row& r, timestamp now) {
  SQLite::Statement q(db,
                      "INSERT INTO kb_articles (tenant, host, article_id, title, body, url, locale, draft, origin,"
                      " fingerprint, source_ticket, updated_at_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                      " ON CONFLICT (tenant, host, article_id) DO UPDATE SET title = excluded.title,"
                      " body = excluded.body, url = excluded.url, locale = excluded.locale, draft = excluded.draft,"
                      " fingerprint = CASE WHEN excluded.fingerprint = '' THEN fingerprint ELSE excluded.fingerprint END,"
                      " source_ticket = CASE WHEN excluded.source_ticket = '' THEN source_ticket ELSE excluded.source_ticket END,"
                      " origin = CASE WHEN origin = 'closeloop' THEN origin ELSE excluded.origin END,"
                      " updated_at_ms = excluded.updated_at_ms");
  q.bind(1, tenant);
  q.bind(2, r.host);
  q.bind(3, r.article_id);
  q.bind(4, r.title);
  q.bind(5, r.body);
  q.bind(6, r.url);
  q.bind(7, r.locale);
  q.bind(8, r.draft ? 1 : 0);
  q.bind(9, r.origin.empty() ? std::string("host") : r.origin);
  q.bind(10, r.fingerprint);
  q.bind(11, r.source_ticket);
  q.bind(12, to_ms(now));
  q.exec();
}

}  // namespace

result<void> kb_store::replace_host_articles(const std::string& tenant, const std::string& host,
                                             const std::vector<kb_article_row>& rows, timestamp now) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Transaction tx(*db_);
    {
      // Articles gone from the host are forgotten; closeloop's own drafts stay (a host may not list
      // unpublished articles).
      SQLite::Statement del(*db_,
                            "DELETE FROM kb_articles WHERE tenant = ? AND host = ? AND updated_at_ms < ?"
                            " AND origin = 'host'");
      for (const auto& r : rows) insert_article(*db_, tenant, r, now);
      del.bind(1, tenant);
      del.bind(2, host);
      del.bind(3, to_ms(now));
      del.exec();
    }
    SQLite::Statement s(*db_,
                        "INSERT INTO kb_sync (tenant, host, synced_at_ms) VALUES (?,?,?)"
                        " ON CONFLICT (tenant, host) DO UPDATE SET synced_at_ms = excluded.synced_at_ms");
    s.bind(1, tenant);
    s.bind(2, host);
    s.bind(3, to_ms(now));
    s.exec();
    tx.commit();
    return {};
  } catch (...) {
    return current_exception_error("kb replace_host_articles");
  }
}

result<void> kb_store::put_article(const std::string& tenant, const kb_article_row& row, timestamp now) {
  std::lock_guard lk(mu_);
  try {
    insert_article(*db_, tenant, row, now);
    return {};
  } catch (...) {
    return current_exception_error("kb put_article");
  }
}

result<std::vector<kb_article_row>> kb_store::articles(const std::string& tenant, const std::string& host) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT host, article_id, title, body, url, locale, draft, origin, fingerprint, source_ticket"
                        " FROM kb_articles WHERE tenant = ? AND host = ? ORDER BY article_id");
    q.bind(1, tenant);
    q.bind(2, host);
    std::vector<kb_article_row> out;
    while (q.executeStep()) {
      kb_article_row r;
      r.host = q.getColumn(0).getString();
      r.article_id = q.getColumn(1).getString();
      r.title = q.getColumn(2).getString();
      r.body = q.getColumn(3).getString();
      r.url = q.getColumn(4).getString();
      r.locale = q.getColumn(5).getString();
      r.draft = q.getColumn(6).getInt() != 0;
      r.origin = q.getColumn(7).getString();
      r.fingerprint = q.getColumn(8).getString();
      r.source_ticket = q.getColumn(9).getString();
      out.push_back(std::move(r));
    }
    return out;
  } catch (...) {
    return current_exception_error("kb articles");
  }
}

result<std::optional<timestamp>> kb_store::synced_at(const std::string& tenant, const std::string& host) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT synced_at_ms FROM kb_sync WHERE tenant = ? AND host = ?");
    q.bind(1, tenant);
    q.bind(2, host);
    if (!q.executeStep()) return std::optional<timestamp>{};
    return std::optional<timestamp>{from_ms(q.getColumn(0).getInt64())};
  } catch (...) {
    return current_exception_error("kb synced_at");
  }
}

result<void> kb_store::add_link(const std::string& tenant, const kb_link& l) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_,
                        "INSERT INTO kb_links (tenant, host, ticket_id, article_id, kind, score, at_ms)"
                        " VALUES (?,?,?,?,?,?,?) ON CONFLICT (tenant, host, ticket_id, article_id, kind) DO NOTHING");
    q.bind(1, tenant);
    q.bind(2, l.host);
    q.bind(3, l.ticket_id);
    q.bind(4, l.article_id);
    q.bind(5, l.kind);
    q.bind(6, l.score);
    q.bind(7, to_ms(l.at));
    q.exec();
    return {};
  } catch (...) {
    return current_exception_error("kb add_link");
  }
}

result<std::vector<kb_link>> kb_store::links(const std::string& tenant, const std::string& host,
                                             const std::string& ticket_id) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT host, ticket_id, article_id, kind, score, at_ms FROM kb_links"
                        " WHERE tenant = ? AND host = ? AND ticket_id = ? ORDER BY score DESC, article_id");
    q.bind(1, tenant);
    q.bind(2, host);
    q.bind(3, ticket_id);
    std::vector<kb_link> out;
    while (q.executeStep()) {
      out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                     q.getColumn(3).getString(), q.getColumn(4).getDouble(), from_ms(q.getColumn(5).getInt64())});
    }
    return out;
  } catch (...) {
    return current_exception_error("kb links");
  }
}

result<std::vector<kb_outcome>> kb_store::report(const std::string& tenant, const kb_report_options& o) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT l.host, l.article_id, l.ticket_id, l.kind, COALESCE(a.title, ''), COALESCE(a.url, ''),"
                        " s.state FROM kb_links l"
                        " LEFT JOIN kb_articles a ON a.tenant = l.tenant AND a.host = l.host AND a.article_id = l.article_id"
                        " LEFT JOIN ticket_state s ON s.tenant = l.tenant AND s.host = l.host AND s.ticket_id = l.ticket_id"
                        " WHERE l.tenant = ? AND l.kind IN ('suggested', 'used')"
                        " ORDER BY l.host, l.article_id, l.ticket_id");
    q.bind(1, tenant);
    std::map<std::pair<std::string, std::string>, kb_outcome> by_article;
    std::map<std::pair<std::string, std::string>, std::map<std::string, ticket_state>> tickets;
    while (q.executeStep()) {
      const auto key = std::make_pair(q.getColumn(0).getString(), q.getColumn(1).getString());
      kb_outcome& out = by_article[key];
      out.host = key.first;
      out.article_id = key.second;
      out.title = q.getColumn(4).getString();
      out.url = q.getColumn(5).getString();
      (q.getColumn(3).getString() == "used" ? out.used : out.suggested)++;
      const std::string ticket = q.getColumn(2).getString();
      ticket_state st;
      if (!q.getColumn(6).isNull()) st = ticket_state_from_json(json::parse(q.getColumn(6).getString(), nullptr, false));
      tickets[key][ticket] = std::move(st);
    }
    std::vector<kb_outcome> rows;
    for (auto& [key, out] : by_article) {
      double sum = 0;
      for (const auto& [id, st] : tickets[key]) {
        ++out.tickets;
        if (st.survey_score.is_number()) {
          ++out.answered;
          sum += st.survey_score.get<double>();
        }
        if (st.solve_count > 0) ++out.solved;
        if (st.solve_count > 1 || (st.solve_count >= 1 && st.status == "open")) ++out.reopened;
      }
      out.avg_score = out.answered ? sum / out.answered : 0;
      out.reopen_rate = out.solved ? static_cast<double>(out.reopened) / out.solved : 0;
      if (out.tickets >= o.min_tickets) {
        if (out.answered > 0 && out.avg_score <= o.weak_avg_score) {
          out.weak = true;
          out.why = "mean survey answer " + std::to_string(out.avg_score).substr(0, 4) + " <= " +
                    std::to_string(o.weak_avg_score).substr(0, 4);
        }
        if (out.solved > 0 && out.reopen_rate >= o.weak_reopen_rate) {
          out.weak = true;
          out.why += std::string(out.why.empty() ? "" : "; ") + "reopen rate " +
                     std::to_string(out.reopen_rate).substr(0, 4) + " >= " + std::to_string(o.weak_reopen_rate).substr(0, 4);
        }
      }
      rows.push_back(std::move(out));
    }
    return rows;
  } catch (...) {
    return current_exception_error("kb report");
  }
}

}  // namespace closeloop
