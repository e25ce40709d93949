#pragma once
// Private helpers for the store: time conversion, exception -> error mapping, and a small cache of
// prepared statements that always resets a statement when its user is done with it (a statement
// left mid-step would pin the connection's read snapshot).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <SQLiteCpp/SQLiteCpp.h>

#include "closeloop/model.hpp"
#include "closeloop/result.hpp"

namespace closeloop::store_detail {

inline std::int64_t to_ms(timestamp t) noexcept { return t.time_since_epoch().count(); }
inline timestamp from_ms(std::int64_t ms) noexcept { return timestamp{std::chrono::milliseconds{ms}}; }
inline timestamp wall_now() noexcept {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

// Thrown by apply_migrations when the file was written by a newer build.
struct schema_too_new : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// SQLite result codes after which the same request may succeed later.
bool retryable_sqlite_code(int code) noexcept;

// Maps the exception currently being handled (call only inside a catch block) to an error value:
// SQLite::Exception -> storage (retryable for BUSY/LOCKED/IOERR/FULL/PROTOCOL), json errors ->
// invalid_argument, anything else -> internal. `what` says which operation failed.
error current_exception_error(std::string_view what);

class statement_cache;

// A prepared statement borrowed from the cache; reset when the borrow ends.
class stmt_ref {
 public:
  explicit stmt_ref(SQLite::Statement& s) noexcept : s_(&s) {}
  stmt_ref(const stmt_ref&) = delete;
  stmt_ref& operator=(const stmt_ref&) = delete;
  ~stmt_ref() { s_->tryReset(); }
  SQLite::Statement* operator->() const noexcept { return s_; }
  SQLite::Statement& operator*() const noexcept { return *s_; }

 private:
  SQLite::Statement* s_;
};

class statement_cache {
 public:
  explicit statement_cache(SQLite::Database& db) : db_(db) {}
  // Prepares `sql` on first use; later uses reuse it with bindings cleared.
  stmt_ref get(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      it = cache_.emplace(sql, std::make_unique<SQLite::Statement>(db_, sql)).first;
    } else {
      it->second->tryReset();
      it->second->clearBindings();
    }
    return stmt_ref(*it->second);
  }
  SQLite::Database& db() noexcept { return db_; }

 private:
  SQLite::Database& db_;
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> cache_;
};

}  // namespace closeloop::store_detail
