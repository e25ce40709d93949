#include "sql_util.hpp"

#include <exception>
#include <string>

#include <sqlite3.h>

namespace closeloop::store_detail {

bool retryable_sqlite_code(int code) noexcept {
  switch (code & 0xff) {  // primary code, whether or not extended codes are on
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM:
      return true;
    default:
      return false;
  }
}

error current_exception_error(std::string_view what) {
  std::string prefix = "store: " + std::string(what) + ": ";
  try {
    throw;
  } catch (const SQLite::Exception& e) {
    return make_error(errc::storage, prefix + e.what(), retryable_sqlite_code(e.getErrorCode()));
  } catch (const schema_too_new& e) {
    return make_error(errc::unsupported, prefix + e.what());
  } catch (const nlohmann::json::exception& e) {
    return make_error(errc::invalid_argument, prefix + e.what());
  } catch (const std::exception& e) {
    return make_error(errc::internal, prefix + e.what());
  } catch (...) {
    return make_error(errc::internal, prefix + "unknown exception");
  }
}

}  // namespace closeloop::store_detail
