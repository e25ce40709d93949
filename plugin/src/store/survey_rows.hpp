#pragma once
// Private to the store: the survey ledger over the ingest transaction and the survey writes a
// decision carries (see survey_rows.cpp).
#include "closeloop/engine.hpp"
#include "sql_util.hpp"

namespace closeloop::store_detail {

// survey::ledger answered from the write transaction (committer thread only).
class tx_ledger final : public survey::ledger {
 public:
  explicit tx_ledger(statement_cache& sc) : sc_(sc) {}
  survey::person_record person(const std::string& tenant, const std::string& person_key) const override;
  std::int64_t quota_used(const std::string& tenant, const std::string& segment,
                          timestamp period_start) const override;
  bool opted_out(const std::string& tenant, const std::string& email) const override;

 private:
  statement_cache& sc_;
};

// decision.survey_row (upsert of the lifecycle row) and decision.ledger_writes.
void write_survey_effects(statement_cache& sc, const event& ev, const decision& d, timestamp now);

// Reading rows back: SELECT k_survey_columns ... -> JSON.
extern const char* const k_survey_columns;
json survey_row_json(SQLite::Statement& q);

}  // namespace closeloop::store_detail
