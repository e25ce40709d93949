// closeloop::privacy_store (closeloop/privacy_store.hpp): consent, retention purge, a customer's
// export and erasure over the store's tables (migrations 1-3 and 5).
#include "closeloop/privacy_store.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

#include <openssl/sha.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include "sql_util.hpp"

namespace closeloop {

using store_detail::current_exception_error;
using store_detail::from_ms;
using store_detail::to_ms;

std::string normalize_customer_email(std::string_view email) {
  std::string s(email);
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  if (auto lt = s.rfind('<'); lt != std::string::npos && !s.empty() && s.back() == '>')
    s = s.substr(lt + 1, s.size() - lt - 2);
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto at = s.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == s.size()) return {};
  return s;
}

std::string consent_hash(std::string_view normalized_email) {
  std::string input = "closeloop-person:";
  input += normalized_email;
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), d);
  static const char* hx = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out += hx[c >> 4];
    out += hx[c & 15];
  }
  return out;
}

privacy_store::privacy_store(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
privacy_store::~privacy_store() = default;

result<std::unique_ptr<privacy_store>> privacy_store::open(const std::string& path) {
  try {
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE, 5000);
    if (!db->tableExists("privacy_consent"))
      return make_error(errc::storage, "privacy: " + path + " has no privacy_consent table (run closeloop migrate)");
    db->exec("PRAGMA secure_delete = ON");
    return std::unique_ptr<privacy_store>(new privacy_store(std::move(db)));
  } catch (...) {
    return current_exception_error("privacy open");
  }
}

result<void> privacy_store::set_consent(const std::string& tenant, const std::string& email,
                                        const std::string& status, const std::string& source, timestamp now) {
  const std::string who = normalize_customer_email(email);
  if (who.empty()) return make_error(errc::invalid_argument, "customer: not an e-mail address");
  if (status != "opted_out" && status != "opted_in")
    return make_error(errc::invalid_argument, "consent status: opted_out or opted_in");
  try {
    SQLite::Statement q(*db_,
                        "INSERT INTO privacy_consent (tenant, person_hash, status, source, updated_at_ms)"
                        " VALUES (?,?,?,?,?) ON CONFLICT (tenant, person_hash) DO UPDATE SET status = excluded.status,"
                        " source = excluded.source, updated_at_ms = excluded.updated_at_ms");
    q.bind(1, tenant);
    q.bind(2, consent_hash(who));
    q.bind(3, status);
    q.bind(4, source);
    q.bind(5, to_ms(now));
    q.exec();
    return {};
  } catch (...) {
    return current_exception_error("set consent");
  }
}

result<bool> privacy_store::opted_out(const std::string& tenant, const std::string& email) {
  const std::string who = normalize_customer_email(email);
  if (who.empty()) return false;
  try {
    SQLite::Statement q(*db_, "SELECT status FROM privacy_consent WHERE tenant = ? AND person_hash = ?");
    q.bind(1, tenant);
    q.bind(2, consent_hash(who));
    return q.executeStep() && q.getColumn(0).getString() == "opted_out";
  } catch (...) {
    return current_exception_error("read consent");
  }
}

// ---- retention ------------------------------------------------------------------------------

namespace {

constexpr std::int64_t k_day_ms = 24LL * 3600 * 1000;

// Runs `step` (one bounded batch, returns rows touched) in its own transaction until it touches
// fewer than `batch` rows. Only full batches spend the call's budget, so a kind with little to do
// never starves the kinds after it; a call does at most max_batches full batches plus one short
// batch per kind.
template <typename Step>
std::int64_t batches(SQLite::Database& db, const retention_policy& p, int& budget, bool& more, Step step) {
  std::int64_t total = 0;
  for (;;) {
    if (budget <= 0) {
      more = true;
      return total;
    }
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    const std::int64_t n = step();
    tx.commit();
    total += n;
    if (n < p.batch) return total;
    --budget;
  }
}

void strip_event_texts(json& body) {
  body.erase("subject");
  body.erase("text");
  for (const char* who : {"requester", "author"})
    if (auto it = body.find(who); it != body.end() && it->is_object()) it->erase("name");
  if (auto d = body.find("data"); d != body.end() && d->is_object()) {
    d->erase("comment");
    d->erase("answers");
  }
  body["texts_purged"] = true;
}

bool strip_state_texts(json& st) {
  bool changed = false;
  for (const char* k : {"subject", "problem"})
    if (auto it = st.find(k); it != st.end() && it->is_string() && !it->get<std::string>().empty()) {
      *it = "";
      changed = true;
    }
  if (auto kb = st.find("kb"); kb != st.end() && kb->is_object() && kb->contains("messages")) {
    kb->erase("messages");
    changed = true;
  }
  if (auto sd = st.find("survey_detail"); sd != st.end() && sd->is_object())
    for (const char* k : {"answers", "comment"})
      if (sd->contains(k)) {
        sd->erase(k);
        changed = true;
      }
  return changed;
}

// Reads (key, JSON text) rows with `select` (bound: cut, limit), lets `edit` change each value,
// writes it back with `update` (bound: text, key). Returns the rows read.
template <typename Edit>
std::int64_t rewrite_json(SQLite::Database& db, const std::string& select, const std::string& update,
                          std::int64_t cut, std::int64_t limit, Edit edit) {
  SQLite::Statement q(db, select);
  q.bind(1, cut);
  q.bind(2, limit);
  std::vector<std::pair<std::int64_t, std::string>> rows;
  while (q.executeStep()) {
    json v = json::parse(q.getColumn(1).getString(), nullptr, false);
    if (v.is_discarded()) v = json::object();
    edit(v);
    rows.emplace_back(q.getColumn(0).getInt64(), v.dump());
  }
  SQLite::Statement up(db, update);
  for (const auto& [key, text] : rows) {
    up.bind(1, text);
    up.bind(2, key);
    up.exec();
    up.reset();
  }
  return static_cast<std::int64_t>(rows.size());
}

}  // namespace

result<purge_counts> privacy_store::purge(const retention_policy& p, timestamp now) {
  purge_counts c;
  if (p.batch <= 0) return make_error(errc::invalid_argument, "purge batch must be positive");
  int budget = std::max(1, p.max_batches);
  try {
    SQLite::Database& db = *db_;
    const std::int64_t lim = p.batch;
    auto cutoff = [&](int days) { return to_ms(now) - days * k_day_ms; };
    // One bounded statement: binds the cutoff and the batch size.
    auto exec = [&](const char* sql, std::int64_t cut) {
      SQLite::Statement q(db, sql);
      q.bind(1, cut);
      q.bind(2, lim);
      return static_cast<std::int64_t>(q.exec());
    };
    if (p.survey_answers_days > 0) {
      const std::int64_t cut = cutoff(p.survey_answers_days);
      c.survey_answers_removed = batches(db, p, budget, c.more, [&] {
        exec("UPDATE survey_people SET last_answer = NULL WHERE rowid IN (SELECT rowid FROM survey_people"
             " WHERE last_answer IS NOT NULL AND updated_at_ms < ? LIMIT ?)", cut);
        return exec("UPDATE surveys SET response = NULL WHERE rowid IN (SELECT rowid FROM surveys WHERE"
                    " response IS NOT NULL AND COALESCE(answered_at_ms, updated_at_ms) < ? LIMIT ?)", cut);
      });
    }
    if (p.texts_days > 0) {
      const std::int64_t cut = cutoff(p.texts_days);
      c.event_texts_removed = batches(db, p, budget, c.more, [&] {
        return rewrite_json(db, "SELECT seq, body FROM events WHERE texts_purged = 0 AND received_at_ms < ? LIMIT ?",
                            "UPDATE events SET body = ?, texts_purged = 1 WHERE seq = ?", cut, lim, strip_event_texts);
      });
      // Ticket state: only rows that still hold text are read, so every batch makes progress.
      c.state_texts_removed = batches(db, p, budget, c.more, [&] {
        return rewrite_json(db,
                            "SELECT rowid, state FROM ticket_state WHERE updated_at_ms < ? AND ("
                            " json_extract(state, '$.problem') <> '' OR json_extract(state, '$.subject') <> ''"
                            " OR json_type(state, '$.kb.messages') IS NOT NULL"
                            " OR json_type(state, '$.survey_detail.answers') IS NOT NULL"
                            " OR json_type(state, '$.survey_detail.comment') IS NOT NULL) LIMIT ?",
                            "UPDATE ticket_state SET state = ? WHERE rowid = ?", cut, lim,
                            [](json& st) { strip_state_texts(st); });
      });
    }
    if (p.events_days > 0) {
      const std::int64_t cut = cutoff(p.events_days);
      c.outbox_deleted = batches(db, p, budget, c.more, [&] {
        return exec("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status IN"
                    " ('done', 'failed', 'cancelled', 'applied') AND updated_at_ms < ? LIMIT ?)", cut);
      });
      c.timers_deleted = batches(db, p, budget, c.more, [&] {
        return exec("DELETE FROM timers WHERE id IN (SELECT id FROM timers WHERE status <> 'pending'"
                    " AND updated_at_ms < ? LIMIT ?)", cut);
      });
      // An event still referenced by unfinished work keeps its row until that work is done.
      c.events_deleted = batches(db, p, budget, c.more, [&] {
        return exec("DELETE FROM events WHERE seq IN (SELECT e.seq FROM events e WHERE e.received_at_ms < ?"
                    " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_seq = e.seq) LIMIT ?)", cut);
      });
    }
    return c;
  } catch (...) {
    return current_exception_error("retention purge");
  }
}

// ---- export and erasure -----------------------------------------------------------------------

namespace {

struct ticket_key {
  std::string tenant, host, ticket;
  auto operator<=>(const ticket_key&) const = default;
};

struct customer_scope {
  std::string email;               // normalised
  std::set<std::string> names;     // the requester names seen on their tickets (3+ characters)
  std::set<ticket_key> tickets;    // tickets they requested
};

bool tenant_wanted(const std::vector<std::string>& tenants, const std::string& t) {
  return tenants.empty() || std::find(tenants.begin(), tenants.end(), t) != tenants.end();
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The customer's tickets: ticket states whose requester is them, and tickets of events that
// name their address (any field: requester, author, text).
customer_scope find_customer(SQLite::Database& db, const std::string& email, const std::vector<std::string>& tenants) {
  customer_scope sc;
  sc.email = email;
  {
    SQLite::Statement q(db, "SELECT tenant, host, ticket_id, state FROM ticket_state WHERE instr(lower(state), ?) > 0");
    q.bind(1, email);
    while (q.executeStep()) {
      if (!tenant_wanted(tenants, q.getColumn(0).getString())) continue;
      json st = json::parse(q.getColumn(3).getString(), nullptr, false);
      if (st.is_discarded() || normalize_customer_email(st.value("requester_email", "")) != email) continue;
      sc.tickets.insert({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString()});
      if (std::string n = st.value("requester_name", ""); n.size() >= 3) sc.names.insert(n);
    }
  }
  {
    SQLite::Statement q(db, "SELECT tenant, host, ticket_id, body FROM events WHERE instr(lower(body), ?) > 0");
    q.bind(1, email);
    while (q.executeStep()) {
      if (!tenant_wanted(tenants, q.getColumn(0).getString())) continue;
      json ev = json::parse(q.getColumn(3).getString(), nullptr, false);
      if (ev.is_discarded()) continue;
      const json req = ev.value("requester", json::object());
      if (normalize_customer_email(req.value("email", "")) == email) {
        sc.tickets.insert({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString()});
        if (std::string n = req.value("name", ""); n.size() >= 3) sc.names.insert(n);
      }
    }
  }
  return sc;
}

// Every string in `v` with the address or a name replaced by "[erased]".
void redact(json& v, const customer_scope& sc) {
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    std::string low = lower(s);
    bool hit = false;
    for (std::size_t at; (at = low.find(sc.email)) != std::string::npos;) {
      s.replace(at, sc.email.size(), "[erased]");
      low.replace(at, sc.email.size(), "[erased]");
      hit = true;
    }
    for (const auto& n : sc.names)
      for (std::size_t at; (at = s.find(n)) != std::string::npos;) {
        s.replace(at, n.size(), "[erased]");
        hit = true;
      }
    if (hit) v = s;
  } else if (v.is_structured()) {
    for (auto& x : v) redact(x, sc);
  }
}

json rows_json(SQLite::Statement& q) {
  json out = json::array();
  while (q.executeStep()) {
    json row = json::object();
    for (int i = 0; i < q.getColumnCount(); ++i) {
      const auto col = q.getColumn(i);
      const std::string name = q.getColumnName(i);
      if (col.isNull()) row[name] = nullptr;
      else if (col.isInteger()) row[name] = col.getInt64();
      else if (col.isFloat()) row[name] = col.getDouble();
      else {
        const std::string s = col.getString();
        json parsed = (name == "body" || name == "state" || name == "payload" || name == "response" ||
                       name == "last_answer")
                          ? json::parse(s, nullptr, false)
                          : json(json::value_t::discarded);
        row[name] = parsed.is_discarded() ? json(s) : parsed;
      }
    }
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace

result<json> privacy_store::export_customer(const std::string& email_in, const std::vector<std::string>& tenants) {
  const std::string email = normalize_customer_email(email_in);
  if (email.empty()) return make_error(errc::invalid_argument, "--customer: not an e-mail address");
  try {
    SQLite::Database& db = *db_;
    SQLite::Transaction tx(db);  // one consistent snapshot
    customer_scope sc = find_customer(db, email, tenants);
    json out = {{"customer", email}, {"names", sc.names}, {"tickets", json::array()}};
    json tickets = json::array();
    for (const ticket_key& t : sc.tickets) {
      json tj = {{"tenant", t.tenant}, {"host", t.host}, {"ticket_id", t.ticket}};
      auto one = [&](const std::string& sql) {
        SQLite::Statement q(db, sql);
        q.bind(1, t.tenant);
        q.bind(2, t.host);
        q.bind(3, t.ticket);
        return rows_json(q);
      };
      const std::string w = " WHERE tenant = ? AND host = ? AND ticket_id = ?";
      json st = one("SELECT state, updated_at_ms FROM ticket_state" + w);
      tj["state"] = st.empty() ? json() : st[0]["state"];
      tj["events"] = one("SELECT seq, type, host_event_id, occurred_at_ms, received_at_ms, body FROM events" + w +
                         " ORDER BY seq");
      tj["actions"] = one("SELECT id, type, status, body, created_at_ms, updated_at_ms FROM outbox" + w + " ORDER BY id");
      tj["timers"] = one("SELECT id, kind, status, due_at_ms, payload FROM timers" + w + " ORDER BY id");
      tj["surveys"] = one("SELECT * FROM surveys" + w + " ORDER BY seq");
      tj["kb_links"] = one("SELECT article_id, kind, score, at_ms FROM kb_links" + w);
      tickets.push_back(std::move(tj));
    }
    out["tickets"] = std::move(tickets);
    // Rows outside their tickets that still concern them.
    auto by_text = [&](const std::string& sql, const std::string& tenant_col_sql) {
      (void)tenant_col_sql;
      SQLite::Statement q(db, sql);
      q.bind(1, email);
      json rows = rows_json(q);
      json kept = json::array();
      for (auto& r : rows)
        if (tenant_wanted(tenants, r.value("tenant", ""))) kept.push_back(std::move(r));
      return kept;
    };
    out["other_events"] = by_text(
        "SELECT tenant, host, ticket_id, seq, type, body FROM events WHERE instr(lower(body), ?) > 0", "");
    {
      json filtered = json::array();
      for (auto& e : out["other_events"])
        if (!sc.tickets.contains({e["tenant"], e["host"], e["ticket_id"]})) filtered.push_back(e);
      out["other_events"] = std::move(filtered);
    }
    out["survey_people"] = by_text(
        "SELECT tenant, person_key, last_sent_at_ms, last_answer, updated_at_ms FROM survey_people"
        " WHERE person_key = ?", "");
    json articles = json::array();
    {
      SQLite::Statement q(db, "SELECT tenant, host, article_id, title, body, url, origin, source_ticket, draft"
                              " FROM kb_articles");
      json rows = rows_json(q);
      for (auto& a : rows) {
        if (!tenant_wanted(tenants, a.value("tenant", ""))) continue;
        const std::string text = lower(a.value("title", "") + "\n" + a.value("body", ""));
        bool hit = text.find(email) != std::string::npos ||
                   sc.tickets.contains({a.value("tenant", ""), a.value("host", ""), a.value("source_ticket", "")});
        for (const auto& n : sc.names) hit = hit || text.find(lower(n)) != std::string::npos;
        if (hit) articles.push_back(std::move(a));
      }
    }
    out["kb_articles"] = std::move(articles);
    json consent = json::array();
    {
      SQLite::Statement q(db, "SELECT tenant, status, source, updated_at_ms FROM privacy_consent WHERE person_hash = ?");
      q.bind(1, consent_hash(email));
      for (auto& r : rows_json(q))
        if (tenant_wanted(tenants, r.value("tenant", ""))) consent.push_back(std::move(r));
    }
    out["consent"] = std::move(consent);
    if (db.tableExists("customer_health")) {  // the sidebar's health band (store migration 7)
      SQLite::Statement q(db, "SELECT tenant, customer, score, band, reasons, updated_at_ms FROM customer_health"
                              " WHERE lower(trim(customer)) = ?");
      q.bind(1, email);
      json health = json::array();
      for (auto& r : rows_json(q))
        if (tenant_wanted(tenants, r.value("tenant", ""))) health.push_back(std::move(r));
      out["customer_health"] = std::move(health);
    }
    return out;
  } catch (...) {
    return current_exception_error("privacy export");
  }
}

result<erase_counts> privacy_store::erase_customer(const std::string& email_in, const std::vector<std::string>& tenants) {
  const std::string email = normalize_customer_email(email_in);
  if (email.empty()) return make_error(errc::invalid_argument, "--customer: not an e-mail address");
  erase_counts c;
  try {
    SQLite::Database& db = *db_;
    {
      SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
      customer_scope sc = find_customer(db, email, tenants);
      c.tickets = static_cast<int>(sc.tickets.size());
      const std::string w = " WHERE tenant = ? AND host = ? AND ticket_id = ?";
      auto bind3 = [](SQLite::Statement& q, const ticket_key& t, int first = 1) {
        q.bind(first, t.tenant);
        q.bind(first + 1, t.host);
        q.bind(first + 2, t.ticket);
      };
      for (const auto& t : sc.tickets) {
        // Events keep their identity (so a redelivery is still recognised) and lose the rest.
        {
          SQLite::Statement q(db, "SELECT seq, body FROM events" + w);
          bind3(q, t);
          std::vector<std::pair<std::int64_t, std::string>> rows;
          while (q.executeStep()) {
            json b = json::parse(q.getColumn(1).getString(), nullptr, false);
            json kept = {{"erased", true}};
            if (!b.is_discarded())
              for (const char* k : {"type", "tenant", "host", "ticket_id", "host_event_id", "occurred_at"})
                if (b.contains(k)) kept[k] = b[k];
            rows.emplace_back(q.getColumn(0).getInt64(), kept.dump());
          }
          SQLite::Statement up(db, "UPDATE events SET body = ?, texts_purged = 1 WHERE seq = ?");
          for (const auto& [seq, body] : rows) {
            up.bind(1, body);
            up.bind(2, seq);
            c.events += up.exec();
            up.reset();
          }
        }
        // Ticket state: keep the lifecycle (no second survey), drop who and what.
        {
          SQLite::Statement q(db, "SELECT state FROM ticket_state" + w);
          bind3(q, t);
          if (q.executeStep()) {
            json st = json::parse(q.getColumn(0).getString(), nullptr, false);
            if (st.is_discarded()) st = json::object();
            strip_state_texts(st);
            st["requester_email"] = "";
            st["requester_name"] = "";
            st["corrections"] = json::array();
            if (auto sd = st.find("survey_detail"); sd != st.end() && sd->is_object()) sd->erase("person_key");
            if (auto kb = st.find("kb"); kb != st.end() && kb->is_object()) kb->erase("agents");
            redact(st, sc);
            q.reset();
            SQLite::Statement up(db, "UPDATE ticket_state SET state = ?" + w);
            up.bind(1, st.dump());
            bind3(up, t, 2);
            c.states += up.exec();
          }
        }
        // Actions: unfinished ones are cancelled (nothing more is sent about them); every
        // action keeps its type and key only.
        {
          SQLite::Statement q(db, "SELECT id, body FROM outbox" + w);
          bind3(q, t);
          std::vector<std::pair<std::int64_t, std::string>> rows;
          while (q.executeStep()) {
            json b = json::parse(q.getColumn(1).getString(), nullptr, false);
            if (b.is_discarded()) b = json::object();
            b["params"] = json::object();
            redact(b, sc);
            rows.emplace_back(q.getColumn(0).getInt64(), b.dump());
          }
          SQLite::Statement up(db,
                               "UPDATE outbox SET body = ?, last_error = '', status = CASE WHEN status IN"
                               " ('pending', 'running') THEN 'cancelled' ELSE status END WHERE id = ?");
          for (const auto& [id, body] : rows) {
            up.bind(1, body);
            up.bind(2, id);
            c.outbox += up.exec();
            up.reset();
          }
        }
        {
          SQLite::Statement q(db,
                              "UPDATE timers SET payload = '{}', status = CASE WHEN status = 'pending' THEN"
                              " 'cancelled' ELSE status END" + w);
          bind3(q, t);
          c.timers += q.exec();
        }
        for (const char* table : {"surveys", "kb_links"}) {
          SQLite::Statement q(db, std::string("DELETE FROM ") + table + w);
          bind3(q, t);
          (std::string(table) == "surveys" ? c.surveys : c.kb_links) += q.exec();
        }
        {
          SQLite::Statement q(db, "DELETE FROM kb_articles WHERE tenant = ? AND host = ? AND source_ticket = ?"
                                  " AND origin = 'closeloop'");
          bind3(q, t);
          c.kb_articles += q.exec();
        }
      }
      // Survey rows and ledger keyed by the person (any ticket), in the wanted tenants.
      for (const char* table : {"surveys", "survey_people"}) {
        SQLite::Statement q(db, std::string("SELECT rowid, tenant FROM ") + table + " WHERE person_key = ?");
        q.bind(1, email);
        std::vector<std::int64_t> ids;
        while (q.executeStep())
          if (tenant_wanted(tenants, q.getColumn(1).getString())) ids.push_back(q.getColumn(0).getInt64());
        SQLite::Statement del(db, std::string("DELETE FROM ") + table + " WHERE rowid = ?");
        for (auto id : ids) {
          del.bind(1, id);
          (std::string(table) == "surveys" ? c.surveys : c.people) += del.exec();
          del.reset();
        }
      }
      if (db.tableExists("customer_health")) {
        SQLite::Statement q(db, "SELECT rowid, tenant FROM customer_health WHERE lower(trim(customer)) = ?");
        q.bind(1, email);
        std::vector<std::int64_t> ids;
        while (q.executeStep())
          if (tenant_wanted(tenants, q.getColumn(1).getString())) ids.push_back(q.getColumn(0).getInt64());
        SQLite::Statement del(db, "DELETE FROM customer_health WHERE rowid = ?");
        for (auto id : ids) {
          del.bind(1, id);
          c.people += del.exec();
          del.reset();
        }
      }
      // Anything else that still names them: events of other tickets, actions, KB articles.
      auto redact_rows = [&](const std::string& table, const std::string& key, const std::string& col,
                             std::int64_t& counter) {
        SQLite::Statement q(db, "SELECT " + key + ", tenant, " + col + " FROM " + table + " WHERE instr(lower(" + col +
                                    "), ?) > 0");
        q.bind(1, email);
        std::vector<std::pair<std::int64_t, std::string>> rows;
        while (q.executeStep()) {
          if (!tenant_wanted(tenants, q.getColumn(1).getString())) continue;
          json v = json::parse(q.getColumn(2).getString(), nullptr, false);
          if (v.is_discarded()) v = q.getColumn(2).getString();
          redact(v, sc);
          rows.emplace_back(q.getColumn(0).getInt64(), v.is_string() ? v.get<std::string>() : v.dump());
        }
        SQLite::Statement up(db, "UPDATE " + table + " SET " + col + " = ? WHERE " + key + " = ?");
        for (const auto& [id, v] : rows) {
          up.bind(1, v);
          up.bind(2, id);
          counter += up.exec();
          up.reset();
        }
      };
      redact_rows("events", "seq", "body", c.other);
      redact_rows("outbox", "id", "body", c.other);
      redact_rows("ticket_state", "rowid", "state", c.other);
      {
        SQLite::Statement q(db, "SELECT rowid, tenant, lower(title || char(10) || body) FROM kb_articles");
        std::vector<std::int64_t> ids;
        while (q.executeStep()) {
          if (!tenant_wanted(tenants, q.getColumn(1).getString())) continue;
          const std::string text = q.getColumn(2).getString();
          bool hit = text.find(email) != std::string::npos;
          for (const auto& n : sc.names) hit = hit || text.find(lower(n)) != std::string::npos;
          if (hit) ids.push_back(q.getColumn(0).getInt64());
        }
        SQLite::Statement del(db, "DELETE FROM kb_articles WHERE rowid = ?");
        for (auto id : ids) {
          del.bind(1, id);
          c.kb_articles += del.exec();
          del.reset();
        }
      }
      tx.commit();
    }
    // The bytes: VACUUM rewrites the file from live rows only (no free pages keep old cells),
    // then the WAL holding the pre-erase frames is checkpointed and truncated.
    db.exec("VACUUM");
    for (int attempt = 0; attempt < 20 && !c.wal_truncated; ++attempt) {
      SQLite::Statement q(db, "PRAGMA wal_checkpoint(TRUNCATE)");
      if (q.executeStep()) c.wal_truncated = q.getColumn(0).getInt() == 0;
      if (!c.wal_truncated) sqlite3_sleep(100);
    }
    return c;
  } catch (...) {
    return current_exception_error("privacy erase");
  }
}

}  // namespace closeloop
