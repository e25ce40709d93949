// monitor_db (facts.hpp): derive per-ticket facts from the store's events, keep the rollups
// (rollups.hpp) in step, and answer reports and drill-downs.
#include "monitor/facts.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include "monitor/rollups.hpp"

namespace closeloop::monitor {
namespace {

error db_error(std::string_view what) {
  try {
    throw;
  } catch (const SQLite::Exception& e) {
    const int code = e.getErrorCode();
    const bool busy = code == SQLITE_BUSY || code == SQLITE_LOCKED;
    return make_error(errc::storage, std::string(what) + ": " + e.what(), busy);
  } catch (const std::exception& e) {
    return make_error(errc::internal, std::string(what) + ": " + e.what());
  }
}

std::int64_t ms_of(timestamp t) { return t.time_since_epoch().count(); }

const char* const k_fact_columns =
    "tenant, host, ticket_id, day, created_at_ms, solved_at_ms, first_response_s, resolution_s, agent, grp,"
    " category, channel, language, tier, sentiment, solved, reopens, surveyed, kind, score, answered_at_ms";

std::optional<std::int64_t> opt_i64(SQLite::Statement& q, int i) {
  if (q.getColumn(i).isNull()) return std::nullopt;
  return q.getColumn(i).getInt64();
}

fact read_fact(SQLite::Statement& q) {
  fact f;
  f.tenant = q.getColumn(0).getString();
  f.host = q.getColumn(1).getString();
  f.ticket_id = q.getColumn(2).getString();
  f.day = q.getColumn(3).getInt64();
  f.created_at_ms = opt_i64(q, 4);
  f.solved_at_ms = opt_i64(q, 5);
  f.first_response_s = opt_i64(q, 6);
  f.resolution_s = opt_i64(q, 7);
  f.agent = q.getColumn(8).getString();
  f.group = q.getColumn(9).getString();
  f.category = q.getColumn(10).getString();
  f.channel = q.getColumn(11).getString();
  f.language = q.getColumn(12).getString();
  f.tier = q.getColumn(13).getString();
  f.sentiment = q.getColumn(14).getString();
  f.solved = q.getColumn(15).getInt() != 0;
  f.reopens = q.getColumn(16).getInt();
  f.surveyed = q.getColumn(17).getInt() != 0;
  f.kind = q.getColumn(18).getString();
  if (!q.getColumn(19).isNull()) f.score = q.getColumn(19).getInt();
  f.answered_at_ms = opt_i64(q, 20);
  return f;
}

void bind_opt(SQLite::Statement& s, int i, const std::optional<std::int64_t>& v) {
  if (v) s.bind(i, *v);
  else s.bind(i);
}

void write_fact(SQLite::Statement& ins, const fact& f) {
  ins.reset();
  ins.bind(1, f.tenant);
  ins.bind(2, f.host);
  ins.bind(3, f.ticket_id);
  ins.bind(4, f.day);
  bind_opt(ins, 5, f.created_at_ms);
  bind_opt(ins, 6, f.solved_at_ms);
  bind_opt(ins, 7, f.first_response_s);
  bind_opt(ins, 8, f.resolution_s);
  ins.bind(9, f.agent);
  ins.bind(10, f.group);
  ins.bind(11, f.category);
  ins.bind(12, f.channel);
  ins.bind(13, f.language);
  ins.bind(14, f.tier);
  ins.bind(15, f.sentiment);
  ins.bind(16, f.solved ? 1 : 0);
  ins.bind(17, f.reopens);
  ins.bind(18, f.surveyed ? 1 : 0);
  ins.bind(19, f.kind);
  if (f.score) ins.bind(20, *f.score);
  else ins.bind(20);
  bind_opt(ins, 21, f.answered_at_ms);
  ins.exec();
}

std::string insert_fact_sql() {
  return std::string("INSERT OR REPLACE INTO ticket_facts (") + k_fact_columns +
         ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
}

std::string select_fact_sql() {
  return std::string("SELECT ") + k_fact_columns + " FROM ticket_facts WHERE tenant = ? AND host = ? AND ticket_id = ?";
}

std::optional<fact> load_fact(SQLite::Database& db, const std::string& tenant, const std::string& host,
                              const std::string& ticket) {
  SQLite::Statement q(db, select_fact_sql());
  q.bind(1, tenant);
  q.bind(2, host);
  q.bind(3, ticket);
  if (!q.executeStep()) return std::nullopt;
  return read_fact(q);
}

// Replaces the ticket's fact (if it changed) and records the rollup deltas. `sel` selects a
// ticket's fact (select_fact_sql()).
void replace_fact(SQLite::Statement& sel, SQLite::Statement& ins, rollup_detail::deltas& deltas, const fact& f) {
  std::optional<fact> old;
  sel.reset();
  sel.bind(1, f.tenant);
  sel.bind(2, f.host);
  sel.bind(3, f.ticket_id);
  if (sel.executeStep()) old = read_fact(sel);
  sel.reset();
  if (old && *old == f) return;
  if (old) rollup_detail::add_fact(deltas, *old, -1);
  rollup_detail::add_fact(deltas, f, +1);
  write_fact(ins, f);
}

std::string who(const party& p) { return !p.name.empty() ? p.name : !p.email.empty() ? p.email : p.id; }

}  // namespace

const std::vector<std::string>& drill_metrics() {
  static const std::vector<std::string> k{
      "tickets", "solved",  "reopen_rate", "surveyed",  "response_rate", "answered",         "csat",
      "csat_good", "csat_bad", "nps",       "promoters", "passives",      "detractors",       "ces",
      "first_response_s", "resolution_s", "negative_share", "positive_share", "inferred_csat"};
  return k;
}

fact derive_fact(const std::string& tenant, const std::string& host, const std::string& ticket_id,
                 const std::vector<event>& events, const ticket_state& state,
                 const std::optional<survey_summary>& survey) {
  fact f;
  f.tenant = tenant;
  f.host = host;
  f.ticket_id = ticket_id;
  std::optional<std::int64_t> created, first_reply, first_solve;
  std::string solver, last_replier;
  for (const auto& ev : events) {
    const std::int64_t at = ms_of(ev.occurred_at);
    if (!created && ev.type != event_type::timer_fired) created = at;
    if (ev.type == event_type::ticket_created) created = std::min(*created, at);
    if (!ev.group.empty()) f.group = ev.group;
    if (!ev.channel.empty() && (f.channel.empty() || ev.type == event_type::ticket_created)) f.channel = ev.channel;
    if (std::string t = customer_tier(ev); !t.empty()) f.tier = t;
    switch (ev.type) {
      case event_type::ticket_commented:
        if (ev.visibility == "public" && ev.author.role == "agent") {
          if (!first_reply) first_reply = at;
          if (!who(ev.author).empty()) last_replier = who(ev.author);
        }
        break;
      case event_type::ticket_solved:
      case event_type::ticket_closed:
        if (!first_solve) {
          first_solve = at;
          if (ev.author.role == "agent") solver = who(ev.author);
        }
        break;
      case event_type::ticket_reopened: ++f.reopens; break;
      default: break;
    }
  }
  f.agent = !solver.empty() ? solver : last_replier;
  f.created_at_ms = created;
  f.solved_at_ms = first_solve;
  f.solved = first_solve.has_value();
  if (created && first_reply && *first_reply >= *created) f.first_response_s = (*first_reply - *created) / 1000;
  if (created && first_solve && *first_solve >= *created) f.resolution_s = (*first_solve - *created) / 1000;
  f.day = day_of_ms(first_solve ? *first_solve : created.value_or(0));
  f.category = state.category;
  f.language = state.language;
  f.sentiment = state.sentiment;
  if (survey) {
    f.kind = survey->kind;
    f.surveyed = survey->sent_at_ms.has_value() || survey->status == "sent" || survey->status == "reminded" ||
                 survey->status == "answered" || survey->status == "expired";
    if (survey->status == "answered" && survey->score) {
      f.score = survey->score;
      f.answered_at_ms = survey->answered_at_ms;
      f.surveyed = true;
    }
  }
  return f;
}

monitor_db::monitor_db(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
monitor_db::~monitor_db() = default;

result<std::unique_ptr<monitor_db>> monitor_db::open(const std::string& path) {
  try {
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE, 5000);
    if (!db->tableExists("ticket_facts"))
      return make_error(errc::storage, "monitor: " + path + " has no ticket_facts table (run closeloop migrate)");
    return std::unique_ptr<monitor_db>(new monitor_db(std::move(db)));
  } catch (...) {
    return db_error("monitor open");
  }
}

result<int> monitor_db::refresh(int limit) {
  std::lock_guard lk(mu_);
  try {
    // Read and derive outside the write transaction: the store's committer (webhook ingest) must
    // never wait on this. Only the short write below takes the file's write lock.
    std::int64_t cursor = 0;
    {
      SQLite::Statement c(*db_, "SELECT seq FROM monitor_cursor WHERE name = 'facts'");
      if (c.executeStep()) cursor = c.getColumn(0).getInt64();
    }
    std::set<std::tuple<std::string, std::string, std::string>> touched;
    std::int64_t last = cursor;
    int n = 0;
    {
      SQLite::Statement q(*db_, "SELECT seq, tenant, host, ticket_id FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
      q.bind(1, cursor);
      q.bind(2, limit);
      while (q.executeStep()) {
        last = q.getColumn(0).getInt64();
        touched.emplace(q.getColumn(1).getString(), q.getColumn(2).getString(), q.getColumn(3).getString());
        ++n;
      }
    }
    if (n == 0) return 0;
    SQLite::Statement evq(*db_, "SELECT body FROM events WHERE tenant = ? AND host = ? AND ticket_id = ? ORDER BY seq");
    SQLite::Statement stq(*db_, "SELECT state FROM ticket_state WHERE tenant = ? AND host = ? AND ticket_id = ?");
    SQLite::Statement svq(*db_,
                          "SELECT kind, status, score, sent_at_ms, answered_at_ms FROM surveys"
                          " WHERE tenant = ? AND host = ? AND ticket_id = ? ORDER BY seq DESC LIMIT 1");
    std::vector<fact> facts;
    for (const auto& [tenant, host, ticket] : touched) {
      std::vector<event> evs;
      evq.reset();
      evq.bind(1, tenant);
      evq.bind(2, host);
      evq.bind(3, ticket);
      while (evq.executeStep()) {
        json j = json::parse(evq.getColumn(0).getString(), nullptr, false);
        if (j.is_discarded()) continue;
        if (auto ev = event_from_json(j)) evs.push_back(std::move(*ev));
      }
      ticket_state st;
      stq.reset();
      stq.bind(1, tenant);
      stq.bind(2, host);
      stq.bind(3, ticket);
      if (stq.executeStep()) {
        json j = json::parse(stq.getColumn(0).getString(), nullptr, false);
        if (!j.is_discarded()) st = ticket_state_from_json(j);
      }
      std::optional<survey_summary> sv;
      svq.reset();
      svq.bind(1, tenant);
      svq.bind(2, host);
      svq.bind(3, ticket);
      if (svq.executeStep()) {
        survey_summary s;
        s.kind = svq.getColumn(0).getString();
        s.status = svq.getColumn(1).getString();
        if (!svq.getColumn(2).isNull()) s.score = svq.getColumn(2).getInt();
        s.sent_at_ms = opt_i64(svq, 3);
        s.answered_at_ms = opt_i64(svq, 4);
        sv = s;
      }
      if (evs.empty()) continue;  // purged or unreadable: keep what was derived before
      facts.push_back(derive_fact(tenant, host, ticket, evs, st, sv));
    }
    evq.reset();
    stq.reset();
    svq.reset();
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    {
      // Another process (closeloop report next to serve) may have moved the cursor meanwhile.
      SQLite::Statement c(*db_, "SELECT seq FROM monitor_cursor WHERE name = 'facts'");
      if (c.executeStep() && c.getColumn(0).getInt64() != cursor) return 0;
    }
    SQLite::Statement ins(*db_, insert_fact_sql());
    SQLite::Statement sel(*db_, select_fact_sql());
    rollup_detail::deltas deltas;
    for (const auto& f : facts) replace_fact(sel, ins, deltas, f);
    rollup_detail::write(*db_, deltas);
    SQLite::Statement cur(*db_,
                          "INSERT INTO monitor_cursor (name, seq) VALUES ('facts', ?)"
                          " ON CONFLICT (name) DO UPDATE SET seq = excluded.seq");
    cur.bind(1, last);
    cur.exec();
    tx.commit();
    return n;
  } catch (...) {
    return db_error("monitor refresh");
  }
}

result<void> monitor_db::put_facts(const std::vector<fact>& facts) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement ins(*db_, insert_fact_sql());
    SQLite::Statement sel(*db_, select_fact_sql());
    rollup_detail::deltas deltas;
    for (const auto& f : facts) replace_fact(sel, ins, deltas, f);
    rollup_detail::write(*db_, deltas);
    tx.commit();
    return {};
  } catch (...) {
    return db_error("monitor put_facts");
  }
}

result<void> monitor_db::rebuild_rollups(const std::string& tenant) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    rollup_detail::clear(*db_, tenant);
    rollup_detail::deltas sums;
    SQLite::Statement q(*db_, std::string("SELECT ") + k_fact_columns + " FROM ticket_facts WHERE tenant = ?");
    q.bind(1, tenant);
    while (q.executeStep()) rollup_detail::add_fact(sums, read_fact(q), +1);
    rollup_detail::write(*db_, sums);
    tx.commit();
    return {};
  } catch (...) {
    return db_error("monitor rebuild_rollups");
  }
}

namespace {

std::vector<report_row> to_rows(std::map<std::pair<std::string, std::int64_t>, tally>& acc) {
  std::vector<report_row> rows;
  rows.reserve(acc.size());
  for (auto& [k, t] : acc) rows.push_back({k.first, k.second, t});
  return rows;
}

}  // namespace

result<std::vector<report_row>> monitor_db::query(const report_query& rq) {
  std::lock_guard lk(mu_);
  try {
    rollup_detail::sums acc;
    for (const auto& span : plan_rollups(rq.from_day, rq.to_day, rq.per, rq.daily_only))
      rollup_detail::read(*db_, rq.tenant, rq.by, rq.per, span, acc);
    return to_rows(acc);
  } catch (...) {
    return db_error("monitor query");
  }
}

result<std::vector<report_row>> monitor_db::query_full_scan(const report_query& rq) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + k_fact_columns +
                                  " FROM ticket_facts WHERE tenant = ? AND day BETWEEN ? AND ?");
    q.bind(1, rq.tenant);
    q.bind(2, rq.from_day);
    q.bind(3, rq.to_day);
    std::map<std::pair<std::string, std::int64_t>, tally> acc;
    while (q.executeStep()) {
      fact f = read_fact(q);
      acc[{value_of(f, rq.by), period_start(f.day, rq.per)}].add(f);
    }
    return to_rows(acc);
  } catch (...) {
    return db_error("monitor full scan");
  }
}

result<std::vector<fact>> monitor_db::drill(const drill_query& dq) {
  static const std::map<std::string, std::string, std::less<>> filters{
      {"tickets", ""},
      {"solved", " AND solved = 1"},
      {"reopen_rate", " AND solved = 1 AND reopens > 0"},
      {"surveyed", " AND surveyed = 1"},
      {"response_rate", " AND surveyed = 1 AND score IS NOT NULL"},
      {"answered", " AND score IS NOT NULL"},
      {"csat", " AND kind = 'csat' AND score IS NOT NULL"},
      {"csat_good", " AND kind = 'csat' AND score >= 4"},
      {"csat_bad", " AND kind = 'csat' AND score <= 3"},
      {"nps", " AND kind = 'nps' AND score IS NOT NULL"},
      {"promoters", " AND kind = 'nps' AND score >= 9"},
      {"passives", " AND kind = 'nps' AND score IN (7, 8)"},
      {"detractors", " AND kind = 'nps' AND score <= 6"},
      {"ces", " AND kind = 'ces' AND score IS NOT NULL"},
      {"first_response_s", " AND first_response_s IS NOT NULL"},
      {"resolution_s", " AND resolution_s IS NOT NULL"},
      {"negative_share", " AND sentiment = 'negative'"},
      {"positive_share", " AND sentiment = 'positive'"},
      {"inferred_csat", " AND surveyed = 1 AND score IS NULL AND sentiment IN ('positive', 'neutral', 'negative')"},
  };
  auto it = filters.find(dq.metric.empty() ? std::string("tickets") : dq.metric);
  if (it == filters.end())
    return make_error(errc::invalid_argument, "unknown drill-down metric \"" + dq.metric + "\"");
  if (dq.limit < 1 || dq.limit > 10000 || dq.offset < 0)
    return make_error(errc::invalid_argument, "limit must be 1..10000 and offset >= 0");
  std::lock_guard lk(mu_);
  try {
    std::string sql = std::string("SELECT ") + k_fact_columns + " FROM ticket_facts WHERE tenant = ? AND day BETWEEN ? AND ?";
    if (dq.by != dimension::all) sql += " AND " + std::string(column_of(dq.by)) + " = ?";
    sql += it->second + " ORDER BY day DESC, host, ticket_id LIMIT ? OFFSET ?";
    SQLite::Statement q(*db_, sql);
    int i = 1;
    q.bind(i++, dq.tenant);
    q.bind(i++, dq.from_day);
    q.bind(i++, dq.to_day);
    if (dq.by != dimension::all) q.bind(i++, dq.value);
    q.bind(i++, dq.limit);
    q.bind(i++, dq.offset);
    std::vector<fact> out;
    while (q.executeStep()) out.push_back(read_fact(q));
    return out;
  } catch (...) {
    return db_error("monitor drill");
  }
}

result<std::optional<fact>> monitor_db::get_fact(const std::string& tenant, const std::string& host,
                                                 const std::string& ticket) {
  std::lock_guard lk(mu_);
  try {
    return load_fact(*db_, tenant, host, ticket);
  } catch (...) {
    return db_error("monitor get_fact");
  }
}

result<std::optional<std::pair<std::int64_t, std::int64_t>>> monitor_db::day_range(const std::string& tenant) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT MIN(day), MAX(day) FROM metric_rollups WHERE tenant = ? AND dim = 'all' AND level = 'day'");
    q.bind(1, tenant);
    if (!q.executeStep() || q.getColumn(0).isNull()) return std::optional<std::pair<std::int64_t, std::int64_t>>{};
    return std::optional(std::make_pair(q.getColumn(0).getInt64(), q.getColumn(1).getInt64()));
  } catch (...) {
    return db_error("monitor day_range");
  }
}

}  // namespace closeloop::monitor
