#pragma once
// Numbered schema migrations, held in code. A migration is applied once, in order, inside the
// transaction that records it in schema_migrations. Never edit a released migration: add one.
#include <span>

namespace SQLite {
class Database;
}

namespace closeloop::store_detail {

struct migration {
  int version;
  const char* name;
  const char* sql;
};

std::span<const migration> migrations() noexcept;
int latest_schema_version() noexcept;

// Creates schema_migrations if needed, refuses a database newer than the code, and applies the
// missing migrations in one IMMEDIATE transaction, with foreign keys off (a rebuilt table is
// dropped and renamed) and checked before the commit; the caller turns them on afterwards.
// Returns the resulting schema version.
// Throws SQLite::Exception or schema_too_new (sql_util.hpp); the caller maps them to errors.
int apply_migrations(SQLite::Database& db);

// Highest applied version (0 for an empty database).
int applied_schema_version(SQLite::Database& db);

}  // namespace closeloop::store_detail
