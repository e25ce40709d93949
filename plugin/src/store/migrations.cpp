#include "migrations.hpp"

#include <array>
#include <chrono>
#include <stdexcept>
#include <string>

#include <SQLiteCpp/SQLiteCpp.h>

#include "sql_util.hpp"

namespace closeloop::store_detail {
namespace {

constexpr std::array<migration, 10> k_migrations{{
    {1, "initial: events, outbox, timers, ticket_state",
     R"sql(
CREATE TABLE events (
  seq            INTEGER PRIMARY KEY,
  tenant         TEXT NOT NULL,
  host           TEXT NOT NULL,
  host_event_id  TEXT NOT NULL,
  type           TEXT NOT NULL,
  ticket_id      TEXT NOT NULL,
  occurred_at_ms INTEGER NOT NULL,
  received_at_ms INTEGER NOT NULL,
  body           TEXT NOT NULL,
  UNIQUE (tenant, host, host_event_id)
);
CREATE INDEX events_ticket ON events (tenant, host, ticket_id, seq);

CREATE TABLE outbox (
  id                 INTEGER PRIMARY KEY,
  idempotency_key    TEXT NOT NULL UNIQUE,
  tenant             TEXT NOT NULL,
  host               TEXT NOT NULL,
  ticket_id          TEXT NOT NULL,
  event_seq          INTEGER REFERENCES events (seq),
  type               TEXT NOT NULL,
  body               TEXT NOT NULL,
  status             TEXT NOT NULL CHECK (status IN
                       ('pending', 'running', 'done', 'failed', 'cancelled', 'applied')),
  attempts           INTEGER NOT NULL DEFAULT 0,
  next_attempt_at_ms INTEGER NOT NULL,
  lease_until_ms     INTEGER,
  last_error         TEXT NOT NULL DEFAULT '',
  created_at_ms      INTEGER NOT NULL,
  updated_at_ms      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at_ms);
CREATE INDEX outbox_ticket ON outbox (tenant, host, ticket_id, id);

CREATE TABLE timers (
  id              INTEGER PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  tenant          TEXT NOT NULL,
  host            TEXT NOT NULL,
  ticket_id       TEXT NOT NULL,
  kind            TEXT NOT NULL,
  due_at_ms       INTEGER NOT NULL,
  payload         TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('pending', 'fired', 'cancelled')),
  created_at_ms   INTEGER NOT NULL,
  updated_at_ms   INTEGER NOT NULL
);
CREATE INDEX timers_due ON timers (status, due_at_ms);
CREATE INDEX timers_ticket ON timers (tenant, host, ticket_id, kind, status);

CREATE TABLE ticket_state (
  tenant        TEXT NOT NULL,
  host          TEXT NOT NULL,
  ticket_id     TEXT NOT NULL,
  state         TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant, host, ticket_id)
);
)sql"},
    {2, "kb: the hosts' KB articles and closeloop's drafts, ticket-article links, sync times",
     R"sql(
CREATE TABLE kb_articles (
  tenant        TEXT NOT NULL,
  host          TEXT NOT NULL,
  article_id    TEXT NOT NULL,
  title         TEXT NOT NULL,
  body          TEXT NOT NULL,
  url           TEXT NOT NULL DEFAULT '',
  locale        TEXT NOT NULL DEFAULT '',
  draft         INTEGER NOT NULL DEFAULT 0,
  origin        TEXT NOT NULL CHECK (origin IN ('host', 'closeloop')),
  fingerprint   TEXT NOT NULL DEFAULT '',
  source_ticket TEXT NOT NULL DEFAULT '',
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant, host, article_id)
);
CREATE TABLE kb_links (
  tenant     TEXT NOT NULL,
  host       TEXT NOT NULL,
  ticket_id  TEXT NOT NULL,
  article_id TEXT NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('suggested', 'used', 'created')),
  score      REAL NOT NULL,
  at_ms      INTEGER NOT NULL,
  PRIMARY KEY (tenant, host, ticket_id, article_id, kind)
);
CREATE INDEX kb_links_article ON kb_links (tenant, host, article_id);
CREATE TABLE kb_sync (
  tenant       TEXT NOT NULL,
  host         TEXT NOT NULL,
  synced_at_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant, host)
);
)sql"},
    {3, "surveys: lifecycle rows with response data, per-person ledger, quota use",
     R"sql(
CREATE TABLE surveys (
  tenant          TEXT NOT NULL,
  host            TEXT NOT NULL,
  ticket_id       TEXT NOT NULL,
  seq             INTEGER NOT NULL,
  definition      TEXT NOT NULL DEFAULT '',
  kind            TEXT NOT NULL DEFAULT '',
  status          TEXT NOT NULL CHECK (status IN
                    ('scheduled', 'sent', 'reminded', 'answered', 'expired', 'cancelled', 'skipped')),
  person_key      TEXT NOT NULL DEFAULT '',
  segment         TEXT NOT NULL DEFAULT '',
  language        TEXT NOT NULL DEFAULT '',
  scheduled_at_ms INTEGER,
  due_at_ms       INTEGER,
  sent_at_ms      INTEGER,
  reminded_at_ms  INTEGER,
  answered_at_ms  INTEGER,
  expired_at_ms   INTEGER,
  cancelled_at_ms INTEGER,
  score           INTEGER,
  response        TEXT,
  recovery        TEXT NOT NULL DEFAULT '',
  note            TEXT NOT NULL DEFAULT '',
  updated_at_ms   INTEGER NOT NULL,
  PRIMARY KEY (tenant, host, ticket_id, seq)
);
CREATE INDEX surveys_answered ON surveys (tenant, definition, answered_at_ms) WHERE answered_at_ms IS NOT NULL;
CREATE INDEX surveys_sent ON surveys (tenant, sent_at_ms) WHERE sent_at_ms IS NOT NULL;
CREATE INDEX surveys_status ON surveys (tenant, status, updated_at_ms);
CREATE INDEX surveys_person ON surveys (tenant, person_key, answered_at_ms);
CREATE TABLE survey_people (
  tenant          TEXT NOT NULL,
  person_key      TEXT NOT NULL,
  last_sent_at_ms INTEGER,
  last_answer     TEXT,
  updated_at_ms   INTEGER NOT NULL,
  PRIMARY KEY (tenant, person_key)
);
CREATE TABLE survey_quota (
  tenant          TEXT NOT NULL,
  segment         TEXT NOT NULL,
  period_start_ms INTEGER NOT NULL,
  used            INTEGER NOT NULL,
  PRIMARY KEY (tenant, segment, period_start_ms)
);
)sql"},
    {4, "auth: API tokens (hashed) and the append-only, hash-chained audit log",
     R"sql(
CREATE TABLE api_tokens (
  id              TEXT PRIMARY KEY,
  tenant          TEXT NOT NULL,
  role            TEXT NOT NULL CHECK (role IN ('viewer', 'agent', 'admin')),
  label           TEXT NOT NULL DEFAULT '',
  hash            TEXT NOT NULL UNIQUE,
  created_by      TEXT NOT NULL DEFAULT '',
  created_at_ms   INTEGER NOT NULL,
  last_used_at_ms INTEGER,
  expires_at_ms   INTEGER,
  revoked_at_ms   INTEGER
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant, created_at_ms);
CREATE TABLE audit_log (
  seq       INTEGER PRIMARY KEY,
  at_ms     INTEGER NOT NULL,
  actor     TEXT NOT NULL,
  tenant    TEXT NOT NULL DEFAULT '',
  action    TEXT NOT NULL,
  target    TEXT NOT NULL DEFAULT '',
  detail    TEXT NOT NULL DEFAULT '{}',
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant, at_ms);
CREATE INDEX audit_log_at ON audit_log (at_ms);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
)sql"},
    {5, "privacy: secrets encrypted at rest, per-customer consent, purge marker on events",
     R"sql(
CREATE TABLE secrets (
  tenant        TEXT NOT NULL,
  host          TEXT NOT NULL DEFAULT '',
  name          TEXT NOT NULL,
  key_id        TEXT NOT NULL,
  nonce         BLOB NOT NULL,
  ciphertext    BLOB NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant, host, name)
);
CREATE TABLE privacy_consent (
  tenant        TEXT NOT NULL,
  person_hash   TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('opted_out', 'opted_in')),
  source        TEXT NOT NULL DEFAULT '',
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant, person_hash)
);
ALTER TABLE events ADD COLUMN texts_purged INTEGER NOT NULL DEFAULT 0;
CREATE INDEX events_received ON events (received_at_ms);
)sql"},
    {6, "monitor: per-ticket facts, daily rollups by dimension, alerts, stored reports",
     R"sql(
CREATE TABLE ticket_facts (
  tenant              TEXT NOT NULL,
  host                TEXT NOT NULL,
  ticket_id           TEXT NOT NULL,
  day                 INTEGER NOT NULL,
  created_at_ms       INTEGER,
  solved_at_ms        INTEGER,
  first_response_s    INTEGER,
  resolution_s        INTEGER,
  agent               TEXT NOT NULL DEFAULT '',
  grp                 TEXT NOT NULL DEFAULT '',
  category            TEXT NOT NULL DEFAULT '',
  channel             TEXT NOT NULL DEFAULT '',
  language            TEXT NOT NULL DEFAULT '',
  tier                TEXT NOT NULL DEFAULT '',
  sentiment           TEXT NOT NULL DEFAULT '',
  solved              INTEGER NOT NULL DEFAULT 0,
  reopens             INTEGER NOT NULL DEFAULT 0,
  surveyed            INTEGER NOT NULL DEFAULT 0,
  kind                TEXT NOT NULL DEFAULT '',
  score               INTEGER,
  answered_at_ms      INTEGER,
  PRIMARY KEY (tenant, host, ticket_id)
);
CREATE INDEX ticket_facts_day ON ticket_facts (tenant, day);
CREATE TABLE metric_daily (
  tenant    TEXT NOT NULL,
  dim       TEXT NOT NULL,
  value     TEXT NOT NULL,
  day       INTEGER NOT NULL,
  tickets   INTEGER NOT NULL DEFAULT 0,
  solved    INTEGER NOT NULL DEFAULT 0,
  reopened  INTEGER NOT NULL DEFAULT 0,
  surveyed  INTEGER NOT NULL DEFAULT 0,
  answered  INTEGER NOT NULL DEFAULT 0,
  csat_n    INTEGER NOT NULL DEFAULT 0,
  csat_good INTEGER NOT NULL DEFAULT 0,
  nps_n     INTEGER NOT NULL DEFAULT 0,
  nps_pro   INTEGER NOT NULL DEFAULT 0,
  nps_det   INTEGER NOT NULL DEFAULT 0,
  ces_n     INTEGER NOT NULL DEFAULT 0,
  ces_sum   INTEGER NOT NULL DEFAULT 0,
  frt_n     INTEGER NOT NULL DEFAULT 0,
  frt_sum_s INTEGER NOT NULL DEFAULT 0,
  res_n     INTEGER NOT NULL DEFAULT 0,
  res_sum_s INTEGER NOT NULL DEFAULT 0,
  sent_pos  INTEGER NOT NULL DEFAULT 0,
  sent_neu  INTEGER NOT NULL DEFAULT 0,
  sent_neg  INTEGER NOT NULL DEFAULT 0,
  inf_n     INTEGER NOT NULL DEFAULT 0,
  inf_good  INTEGER NOT NULL DEFAULT 0,
  h0 INTEGER NOT NULL DEFAULT 0, h1 INTEGER NOT NULL DEFAULT 0, h2 INTEGER NOT NULL DEFAULT 0,
  h3 INTEGER NOT NULL DEFAULT 0, h4 INTEGER NOT NULL DEFAULT 0, h5 INTEGER NOT NULL DEFAULT 0,
  h6 INTEGER NOT NULL DEFAULT 0, h7 INTEGER NOT NULL DEFAULT 0, h8 INTEGER NOT NULL DEFAULT 0,
  h9 INTEGER NOT NULL DEFAULT 0, h10 INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant, dim, value, day)
) WITHOUT ROWID;
CREATE TABLE monitor_cursor (
  name TEXT PRIMARY KEY,
  seq  INTEGER NOT NULL
);
CREATE TABLE alerts (
  id           INTEGER PRIMARY KEY,
  tenant       TEXT NOT NULL,
  rule         TEXT NOT NULL,
  level        TEXT NOT NULL CHECK (level IN ('green', 'yellow', 'red')),
  owner        TEXT NOT NULL DEFAULT '',
  period_start INTEGER NOT NULL,
  detail       TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
  raised_at_ms INTEGER NOT NULL,
  acked_by     TEXT NOT NULL DEFAULT '',
  acked_at_ms  INTEGER,
  delivery     TEXT NOT NULL DEFAULT '[]',
  UNIQUE (tenant, rule, period_start, level)
);
CREATE INDEX alerts_open ON alerts (tenant, status, raised_at_ms);
CREATE TABLE reports (
  id          INTEGER PRIMARY KEY,
  tenant      TEXT NOT NULL,
  name        TEXT NOT NULL,
  period      TEXT NOT NULL,
  from_day    INTEGER NOT NULL,
  to_day      INTEGER NOT NULL,
  created_ms  INTEGER NOT NULL,
  json        TEXT NOT NULL,
  html        TEXT NOT NULL,
  delivery    TEXT NOT NULL DEFAULT '[]',
  UNIQUE (tenant, name, from_day)
);
)sql"},
    {7, "health: customer health bands, the event cursor, tickets by requester e-mail",
     R"sql(
CREATE INDEX ticket_state_requester ON ticket_state (tenant, lower(trim(json_extract(state, '$.requester_email'))));
CREATE TABLE customer_health (
  tenant        TEXT NOT NULL,
  customer      TEXT NOT NULL,
  score         INTEGER NOT NULL,
  band          TEXT NOT NULL CHECK (band IN ('healthy', 'at_risk', 'churn_risk')),
  written_band  TEXT NOT NULL DEFAULT 'healthy' CHECK (written_band IN ('healthy', 'at_risk', 'churn_risk')),
  reasons       TEXT NOT NULL DEFAULT '[]',
  host          TEXT NOT NULL DEFAULT '',
  ticket_id     TEXT NOT NULL DEFAULT '',
  updated_at_ms INTEGER NOT NULL,
  written_at_ms INTEGER,
  PRIMARY KEY (tenant, customer)
);
CREATE INDEX customer_health_unwritten ON customer_health (updated_at_ms) WHERE band <> written_band;
CREATE TABLE health_cursor (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  event_seq INTEGER NOT NULL
);
)sql"},
    {8, "resilience: dead-letter requeue history, per-host circuit breakers",
     R"sql(
CREATE TABLE outbox_requeues (
  outbox_id  INTEGER NOT NULL REFERENCES outbox (id),
  at_ms      INTEGER NOT NULL,
  actor      TEXT NOT NULL,
  attempts   INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_requeues_row ON outbox_requeues (outbox_id, at_ms);
CREATE TABLE host_circuits (
  tenant        TEXT NOT NULL,
  host          TEXT NOT NULL,
  state         TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
  failures      INTEGER NOT NULL DEFAULT 0,
  opened_at_ms  INTEGER NOT NULL DEFAULT 0,
  retry_at_ms   INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT NOT NULL DEFAULT '',
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant, host)
);
)sql"},
    {9, "monitor: rollups by day, week and month in one table keyed (tenant, dim, level, day, value)",
     R"sql(
-- Every rollup level in one table: the tallies per tenant × dimension × value × bucket, `level`
-- day, week or month and `day` the bucket's first day (the day itself, its Monday, the 1st).
-- Keyed (tenant, dim, level, day, value): a date range of one level is one range scan.
CREATE TABLE metric_rollups (
  tenant    TEXT NOT NULL,
  dim       TEXT NOT NULL,
  value     TEXT NOT NULL,
  day       INTEGER NOT NULL,
  tickets INTEGER NOT NULL DEFAULT 0, solved INTEGER NOT NULL DEFAULT 0,
  reopened INTEGER NOT NULL DEFAULT 0, surveyed INTEGER NOT NULL DEFAULT 0,
  answered INTEGER NOT NULL DEFAULT 0, csat_n INTEGER NOT NULL DEFAULT 0,
  csat_good INTEGER NOT NULL DEFAULT 0, nps_n INTEGER NOT NULL DEFAULT 0,
  nps_pro INTEGER NOT NULL DEFAULT 0, nps_det INTEGER NOT NULL DEFAULT 0,
  ces_n INTEGER NOT NULL DEFAULT 0, ces_sum INTEGER NOT NULL DEFAULT 0,
  frt_n INTEGER NOT NULL DEFAULT 0, frt_sum_s INTEGER NOT NULL DEFAULT 0,
  res_n INTEGER NOT NULL DEFAULT 0, res_sum_s INTEGER NOT NULL DEFAULT 0,
  sent_pos INTEGER NOT NULL DEFAULT 0, sent_neu INTEGER NOT NULL DEFAULT 0,
  sent_neg INTEGER NOT NULL DEFAULT 0, inf_n INTEGER NOT NULL DEFAULT 0,
  inf_good INTEGER NOT NULL DEFAULT 0, h0 INTEGER NOT NULL DEFAULT 0,
  h1 INTEGER NOT NULL DEFAULT 0, h2 INTEGER NOT NULL DEFAULT 0, h3 INTEGER NOT NULL DEFAULT 0,
  h4 INTEGER NOT NULL DEFAULT 0, h5 INTEGER NOT NULL DEFAULT 0, h6 INTEGER NOT NULL DEFAULT 0,
  h7 INTEGER NOT NULL DEFAULT 0, h8 INTEGER NOT NULL DEFAULT 0, h9 INTEGER NOT NULL DEFAULT 0,
  h10 INTEGER NOT NULL DEFAULT 0,
  level     TEXT NOT NULL CHECK (level IN ('day', 'week', 'month')),
  PRIMARY KEY (tenant, dim, level, day, value)
) WITHOUT ROWID;
INSERT INTO metric_rollups SELECT *, 'day' FROM metric_daily;
INSERT INTO metric_rollups
SELECT tenant, dim, value,
  CASE l.level WHEN 'week' THEN day - ((day % 7) + 10) % 7
    ELSE CAST(strftime('%s', day * 86400, 'unixepoch', 'start of month') AS INTEGER) / 86400 END AS start,
  SUM(tickets), SUM(solved), SUM(reopened), SUM(surveyed), SUM(answered), SUM(csat_n),
  SUM(csat_good), SUM(nps_n), SUM(nps_pro), SUM(nps_det), SUM(ces_n), SUM(ces_sum), SUM(frt_n),
  SUM(frt_sum_s), SUM(res_n), SUM(res_sum_s), SUM(sent_pos), SUM(sent_neu), SUM(sent_neg),
  SUM(inf_n), SUM(inf_good), SUM(h0), SUM(h1), SUM(h2), SUM(h3), SUM(h4), SUM(h5), SUM(h6),
  SUM(h7), SUM(h8), SUM(h9), SUM(h10),
  l.level
FROM metric_daily, (SELECT 'week' AS level UNION ALL SELECT 'month') AS l
GROUP BY tenant, dim, value, l.level, start;
DROP TABLE metric_daily;
)sql"},
    {10, "outbox, timers: status checks without an IN list (SQLite built an index for the list on every insert)",
     R"sql(
-- `CHECK (status IN (...))` with more than two values made SQLite build an ephemeral index of
-- the list each time a row was inserted or its status set: 3-5 % of the committer's time on the
-- five outbox rows of a new ticket (tests/bench/README.md). The same check written with OR.
-- A CHECK cannot be altered: each table is rebuilt (SQLite's documented procedure; the caller
-- runs migrations with foreign keys off and checks them before committing, for outbox_requeues).
CREATE TABLE outbox_new (
  id                 INTEGER PRIMARY KEY,
  idempotency_key    TEXT NOT NULL UNIQUE,
  tenant             TEXT NOT NULL,
  host               TEXT NOT NULL,
  ticket_id          TEXT NOT NULL,
  event_seq          INTEGER REFERENCES events (seq),
  type               TEXT NOT NULL,
  body               TEXT NOT NULL,
  status             TEXT NOT NULL CHECK (status = 'pending' OR status = 'running' OR status = 'done'
                       OR status = 'failed' OR status = 'cancelled' OR status = 'applied'),
  attempts           INTEGER NOT NULL DEFAULT 0,
  next_attempt_at_ms INTEGER NOT NULL,
  lease_until_ms     INTEGER,
  last_error         TEXT NOT NULL DEFAULT '',
  created_at_ms      INTEGER NOT NULL,
  updated_at_ms      INTEGER NOT NULL
);
INSERT INTO outbox_new (id, idempotency_key, tenant, host, ticket_id, event_seq, type, body, status, attempts,
                        next_attempt_at_ms, lease_until_ms, last_error, created_at_ms, updated_at_ms)
SELECT id, idempotency_key, tenant, host, ticket_id, event_seq, type, body, status, attempts,
       next_attempt_at_ms, lease_until_ms, last_error, created_at_ms, updated_at_ms FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at_ms);
CREATE INDEX outbox_ticket ON outbox (tenant, host, ticket_id, id);

CREATE TABLE timers_new (
  id              INTEGER PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  tenant          TEXT NOT NULL,
  host            TEXT NOT NULL,
  ticket_id       TEXT NOT NULL,
  kind            TEXT NOT NULL,
  due_at_ms       INTEGER NOT NULL,
  payload         TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status = 'pending' OR status = 'fired' OR status = 'cancelled'),
  created_at_ms   INTEGER NOT NULL,
  updated_at_ms   INTEGER NOT NULL
);
INSERT INTO timers_new (id, idempotency_key, tenant, host, ticket_id, kind, due_at_ms, payload, status,
                        created_at_ms, updated_at_ms)
SELECT id, idempotency_key, tenant, host, ticket_id, kind, due_at_ms, payload, status,
       created_at_ms, updated_at_ms FROM timers;
DROP TABLE timers;
ALTER TABLE timers_new RENAME TO timers;
CREATE INDEX timers_due ON timers (status, due_at_ms);
CREATE INDEX timers_ticket ON timers (tenant, host, ticket_id, kind, status);
)sql"},
}};

void ensure_migrations_table(SQLite::Database& db) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY,"
      " name TEXT NOT NULL,"
      " applied_at INTEGER NOT NULL)");
}

}  // namespace

std::span<const migration> migrations() noexcept { return k_migrations; }

int latest_schema_version() noexcept { return k_migrations.back().version; }

int applied_schema_version(SQLite::Database& db) {
  if (!db.tableExists("schema_migrations")) return 0;
  SQLite::Statement q(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  q.executeStep();
  return q.getColumn(0).getInt();
}

int apply_migrations(SQLite::Database& db) {
  // Off outside the transaction (SQLite ignores the pragma inside one); the caller turns it on.
  db.exec("PRAGMA foreign_keys = OFF");
  // IMMEDIATE: two processes opening the same new file must not both migrate it.
  db.exec("BEGIN IMMEDIATE");
  try {
    ensure_migrations_table(db);
    const int current = applied_schema_version(db);
    if (current > latest_schema_version()) {
      throw schema_too_new("database schema version " + std::to_string(current) +
                           " is newer than this build supports (" + std::to_string(latest_schema_version()) +
                           "); upgrade closeloop or use a matching database");
    }
    for (const migration& m : k_migrations) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      SQLite::Statement ins(db, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
      ins.bind(1, m.version);
      ins.bind(2, m.name);
      ins.bind(3, to_ms(wall_now()));
      ins.exec();
    }
    // Foreign keys are off while migrating (a table rebuilt is dropped and renamed); the result
    // must still hold them.
    SQLite::Statement fk(db, "PRAGMA foreign_key_check");
    if (fk.executeStep()) {
      throw SQLite::Exception("schema migration left a row of " + fk.getColumn(0).getString() + " (rowid " +
                              fk.getColumn(1).getString() + ") pointing at no row of " + fk.getColumn(2).getString());
    }
    db.exec("COMMIT");
  } catch (...) {
    try {
      db.exec("ROLLBACK");
    } catch (...) {
    }
    throw;
  }
  return applied_schema_version(db);
}

}  // namespace closeloop::store_detail
