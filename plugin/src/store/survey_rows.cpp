// The survey side of the store: the ledger the engine reads inside the ingest transaction
// (per-person last invitation and answer, quota use), and the writes a decision asks for (the
// `surveys` lifecycle row, person and quota updates, an earlier survey's recovery outcome).
#include "survey_rows.hpp"

#include "closeloop/privacy_store.hpp"

namespace closeloop::store_detail {
namespace {

void bind_opt(SQLite::Statement& s, int i, const std::optional<timestamp>& t) {
  if (t) s.bind(i, to_ms(*t));
  else s.bind(i);  // NULL
}

}  // namespace

survey::person_record tx_ledger::person(const std::string& tenant, const std::string& person_key) const {
  survey::person_record r;
  auto q = sc_.get("SELECT last_sent_at_ms, last_answer FROM survey_people WHERE tenant = ? AND person_key = ?");
  q->bind(1, tenant);
  q->bind(2, person_key);
  if (q->executeStep()) {
    if (!q->getColumn(0).isNull()) r.last_sent_at = from_ms(q->getColumn(0).getInt64());
    if (!q->getColumn(1).isNull()) r.last_answer = json::parse(q->getColumn(1).getString(), nullptr, false);
    if (r.last_answer.is_discarded()) r.last_answer = json();
  }
  return r;
}

std::int64_t tx_ledger::quota_used(const std::string& tenant, const std::string& segment,
                                   timestamp period_start) const {
  auto q = sc_.get("SELECT used FROM survey_quota WHERE tenant = ? AND segment = ? AND period_start_ms = ?");
  q->bind(1, tenant);
  q->bind(2, segment);
  q->bind(3, to_ms(period_start));
  return q->executeStep() ? q->getColumn(0).getInt64() : 0;
}

bool tx_ledger::opted_out(const std::string& tenant, const std::string& email) const {
  const std::string who = normalize_customer_email(email);
  if (who.empty()) return false;
  auto q = sc_.get("SELECT status FROM privacy_consent WHERE tenant = ? AND person_hash = ?");
  q->bind(1, tenant);
  q->bind(2, consent_hash(who));
  return q->executeStep() && q->getColumn(0).getString() == "opted_out";
}

void write_survey_effects(statement_cache& sc, const event& ev, const decision& d, timestamp now) {
  if (d.survey_row) {
    const survey::record& r = *d.survey_row;
    auto up = sc.get(
        "INSERT INTO surveys (tenant, host, ticket_id, seq, definition, kind, status, person_key, segment, language,"
        " scheduled_at_ms, due_at_ms, sent_at_ms, reminded_at_ms, answered_at_ms, expired_at_ms, cancelled_at_ms,"
        " score, response, recovery, note, updated_at_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
        " ON CONFLICT (tenant, host, ticket_id, seq) DO UPDATE SET"
        " definition = CASE WHEN excluded.definition = '' THEN definition ELSE excluded.definition END,"
        " kind = CASE WHEN excluded.kind = '' THEN kind ELSE excluded.kind END,"
        " status = excluded.status,"
        " person_key = CASE WHEN excluded.person_key = '' THEN person_key ELSE excluded.person_key END,"
        " segment = CASE WHEN excluded.segment = '' THEN segment ELSE excluded.segment END,"
        " language = CASE WHEN excluded.language = '' THEN language ELSE excluded.language END,"
        " scheduled_at_ms = COALESCE(excluded.scheduled_at_ms, scheduled_at_ms),"
        " due_at_ms = COALESCE(excluded.due_at_ms, due_at_ms),"
        " sent_at_ms = COALESCE(excluded.sent_at_ms, sent_at_ms),"
        " reminded_at_ms = COALESCE(excluded.reminded_at_ms, reminded_at_ms),"
        " answered_at_ms = COALESCE(excluded.answered_at_ms, answered_at_ms),"
        " expired_at_ms = COALESCE(excluded.expired_at_ms, expired_at_ms),"
        " cancelled_at_ms = COALESCE(excluded.cancelled_at_ms, cancelled_at_ms),"
        " score = COALESCE(excluded.score, score),"
        " response = COALESCE(excluded.response, response),"
        " recovery = CASE WHEN excluded.recovery = '' THEN recovery ELSE excluded.recovery END,"
        " note = CASE WHEN excluded.note = '' THEN note ELSE excluded.note END,"
        " updated_at_ms = excluded.updated_at_ms");
    up->bind(1, ev.tenant);
    up->bind(2, ev.host);
    up->bind(3, ev.ticket_id);
    up->bind(4, r.seq);
    up->bind(5, r.definition);
    up->bind(6, r.kind);
    up->bind(7, r.status);
    up->bind(8, r.person_key);
    up->bind(9, r.segment);
    up->bind(10, r.language);
    bind_opt(*up, 11, r.scheduled_at);
    bind_opt(*up, 12, r.due_at);
    bind_opt(*up, 13, r.sent_at);
    bind_opt(*up, 14, r.reminded_at);
    bind_opt(*up, 15, r.answered_at);
    bind_opt(*up, 16, r.expired_at);
    bind_opt(*up, 17, r.cancelled_at);
    if (r.score) up->bind(18, *r.score);
    else up->bind(18);
    if (r.response.is_null()) up->bind(19);
    else up->bind(19, r.response.dump());
    up->bind(20, r.recovery);
    up->bind(21, r.note);
    up->bind(22, to_ms(now));
    up->exec();
  }
  if (!d.ledger_writes || d.ledger_writes->person_key.empty()) return;
  const survey::ledger_update& w = *d.ledger_writes;
  {
    auto up = sc.get(
        "INSERT INTO survey_people (tenant, person_key, last_sent_at_ms, last_answer, updated_at_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant, person_key) DO UPDATE SET"
        " last_sent_at_ms = COALESCE(excluded.last_sent_at_ms, last_sent_at_ms),"
        " last_answer = COALESCE(excluded.last_answer, last_answer), updated_at_ms = excluded.updated_at_ms");
    up->bind(1, ev.tenant);
    up->bind(2, w.person_key);
    bind_opt(*up, 3, w.sent_at);
    if (w.answer.is_null()) up->bind(4);
    else up->bind(4, w.answer.dump());
    up->bind(5, to_ms(now));
    up->exec();
  }
  for (const auto& q : w.quota) {
    auto up = sc.get(
        "INSERT INTO survey_quota (tenant, segment, period_start_ms, used) VALUES (?, ?, ?, 1)"
        " ON CONFLICT (tenant, segment, period_start_ms) DO UPDATE SET used = used + 1");
    up->bind(1, ev.tenant);
    up->bind(2, q.segment);
    up->bind(3, to_ms(q.period_start));
    up->exec();
  }
  if (w.recovery.is_object()) {
    auto up = sc.get(
        "UPDATE surveys SET recovery = ?, updated_at_ms = ? WHERE tenant = ? AND host = ? AND ticket_id = ? AND seq = ?");
    up->bind(1, w.recovery.value("outcome", ""));
    up->bind(2, to_ms(now));
    up->bind(3, ev.tenant);
    up->bind(4, w.recovery.value("host", ""));
    up->bind(5, w.recovery.value("ticket", ""));
    up->bind(6, w.recovery.value("seq", 0));
    up->exec();
  }
}

json survey_row_json(SQLite::Statement& q) {
  // Columns in k_survey_columns order.
  json j = {{"tenant", q.getColumn(0).getString()},     {"host", q.getColumn(1).getString()},
            {"ticket_id", q.getColumn(2).getString()},  {"seq", q.getColumn(3).getInt()},
            {"definition", q.getColumn(4).getString()}, {"kind", q.getColumn(5).getString()},
            {"status", q.getColumn(6).getString()},     {"person_key", q.getColumn(7).getString()},
            {"segment", q.getColumn(8).getString()},    {"language", q.getColumn(9).getString()},
            {"recovery", q.getColumn(19).getString()},  {"note", q.getColumn(20).getString()}};
  const char* times[] = {"scheduled_at", "due_at", "sent_at", "reminded_at", "answered_at", "expired_at", "cancelled_at"};
  for (int i = 0; i < 7; ++i)
    j[times[i]] = q.getColumn(10 + i).isNull() ? json() : json(format_rfc3339(from_ms(q.getColumn(10 + i).getInt64())));
  j["score"] = q.getColumn(17).isNull() ? json() : json(q.getColumn(17).getInt());
  j["response"] = q.getColumn(18).isNull() ? json() : json::parse(q.getColumn(18).getString(), nullptr, false);
  return j;
}

const char* const k_survey_columns =
    "tenant, host, ticket_id, seq, definition, kind, status, person_key, segment, language, scheduled_at_ms,"
    " due_at_ms, sent_at_ms, reminded_at_ms, answered_at_ms, expired_at_ms, cancelled_at_ms, score, response,"
    " recovery, note";

}  // namespace closeloop::store_detail
