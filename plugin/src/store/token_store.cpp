// closeloop::token_store (closeloop/token_store.hpp): hashed API tokens (migration 4 'auth').
#include "closeloop/token_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "closeloop/audit.hpp"
#include "sql_util.hpp"

namespace closeloop {

using store_detail::current_exception_error;
using store_detail::from_ms;
using store_detail::to_ms;

namespace {

constexpr std::string_view prefix = "clt_";
constexpr std::size_t id_hex = 16, secret_hex = 64;
constexpr auto touch_every = std::chrono::minutes(1);

bool all_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

result<std::string> random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
    return make_error(errc::internal, "tokens: RAND_bytes failed (no entropy?)");
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes);
  for (unsigned char c : raw) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xf]);
  }
  return out;
}

std::optional<timestamp> opt_time(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return from_ms(c.getInt64());
}

constexpr const char* select_cols =
    "SELECT id, tenant, role, label, created_by, created_at_ms, last_used_at_ms, expires_at_ms, revoked_at_ms"
    " FROM api_tokens";

api_token read_row(SQLite::Statement& q) {
  api_token t;
  t.id = q.getColumn(0).getString();
  t.tenant = q.getColumn(1).getString();
  t.role = parse_api_role(q.getColumn(2).getString()).value_or(api_role::viewer);
  t.label = q.getColumn(3).getString();
  t.created_by = q.getColumn(4).getString();
  t.created_at = from_ms(q.getColumn(5).getInt64());
  t.last_used_at = opt_time(q.getColumn(6));
  t.expires_at = opt_time(q.getColumn(7));
  t.revoked_at = opt_time(q.getColumn(8));
  return t;
}

}  // namespace

const char* to_string(api_role r) noexcept {
  switch (r) {
    case api_role::viewer: return "viewer";
    case api_role::agent: return "agent";
    case api_role::admin: return "admin";
  }
  return "viewer";
}

std::optional<api_role> parse_api_role(std::string_view s) noexcept {
  if (s == "viewer") return api_role::viewer;
  if (s == "agent") return api_role::agent;
  if (s == "admin") return api_role::admin;
  return std::nullopt;
}

token_store::token_store(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
token_store::~token_store() = default;

result<std::unique_ptr<token_store>> token_store::open(const std::string& path) {
  if (path.empty() || path == ":memory:") return make_error(errc::unavailable, "tokens: need a file store");
  try {
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE, 5000);
    if (!db->tableExists("api_tokens"))
      return make_error(errc::storage, "tokens: " + path + " has no api_tokens table (run closeloop migrate)");
    return std::unique_ptr<token_store>(new token_store(std::move(db)));
  } catch (...) {
    return current_exception_error("tokens open");
  }
}

std::string token_store::id_of(std::string_view token) {
  if (token.size() != prefix.size() + id_hex + 1 + secret_hex || !token.starts_with(prefix)) return {};
  std::string_view id = token.substr(prefix.size(), id_hex);
  if (token[prefix.size() + id_hex] != '_' || !all_hex(id) || !all_hex(token.substr(prefix.size() + id_hex + 1)))
    return {};
  return std::string(id);
}

result<new_api_token> token_store::create(const std::string& tenant, api_role role, const std::string& label,
                                          std::optional<timestamp> expires_at, const std::string& created_by,
                                          timestamp now) {
  if (tenant.empty()) return make_error(errc::invalid_argument, "tokens: a token needs a tenant");
  auto id = random_hex(id_hex / 2);
  if (!id) return id.err();
  auto secret = random_hex(secret_hex / 2);
  if (!secret) return secret.err();
  new_api_token out;
  out.secret = std::string(prefix) + *id + "_" + *secret;
  out.info.id = *id;
  out.info.tenant = tenant;
  out.info.role = role;
  out.info.label = label;
  out.info.created_by = created_by;
  out.info.created_at = now;
  out.info.expires_at = expires_at;
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement ins(*db_,
                          "INSERT INTO api_tokens (id, tenant, role, label, hash, created_by, created_at_ms,"
                          " expires_at_ms) VALUES (?,?,?,?,?,?,?,?)");
    ins.bind(1, out.info.id);
    ins.bind(2, tenant);
    ins.bind(3, to_string(role));
    ins.bind(4, label);
    ins.bind(5, sha256_hex(out.secret));
    ins.bind(6, created_by);
    ins.bind(7, to_ms(now));
    if (expires_at) ins.bind(8, to_ms(*expires_at));
    else ins.bind(8);
    ins.exec();
    return out;
  } catch (...) {
    return current_exception_error("tokens create");
  }
}

result<std::vector<api_token>> token_store::list(const std::string& tenant) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_, std::string(select_cols) + (tenant.empty() ? "" : " WHERE tenant = ?") +
                                  " ORDER BY created_at_ms DESC, id");
    if (!tenant.empty()) q.bind(1, tenant);
    std::vector<api_token> out;
    while (q.executeStep()) out.push_back(read_row(q));
    return out;
  } catch (...) {
    return current_exception_error("tokens list");
  }
}

result<std::optional<api_token>> token_store::find(const std::string& id) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement q(*db_, std::string(select_cols) + " WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return std::optional<api_token>();
    return std::optional<api_token>(read_row(q));
  } catch (...) {
    return current_exception_error("tokens find");
  }
}

result<api_token> token_store::revoke(const std::string& id, timestamp now) {
  std::lock_guard lk(mu_);
  try {
    SQLite::Statement up(*db_, "UPDATE api_tokens SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL");
    up.bind(1, to_ms(now));
    up.bind(2, id);
    up.exec();
    SQLite::Statement q(*db_, std::string(select_cols) + " WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return make_error(errc::not_found, "tokens: no token with id \"" + id + "\"");
    return read_row(q);
  } catch (...) {
    return current_exception_error("tokens revoke");
  }
}

result<api_token> token_store::verify(std::string_view token, timestamp now) {
  const std::string id = id_of(token);
  if (id.empty()) return make_error(errc::unauthorized, "malformed token (expected clt_<16 hex>_<64 hex>)");
  const std::string presented = sha256_hex(token);
  std::lock_guard lk(mu_);
  try {
    api_token t;
    std::string stored;
    {
      SQLite::Statement q(*db_,
                          "SELECT id, tenant, role, label, created_by, created_at_ms, last_used_at_ms, expires_at_ms,"
                          " revoked_at_ms, hash FROM api_tokens WHERE id = ?");
      q.bind(1, id);
      if (!q.executeStep()) return make_error(errc::unauthorized, "unknown token " + id);
      t = read_row(q);
      stored = q.getColumn(9).getString();
    }
    if (stored.size() != presented.size() || CRYPTO_memcmp(stored.data(), presented.data(), stored.size()) != 0)
      return make_error(errc::unauthorized, "unknown token " + id);
    if (t.revoked_at) return make_error(errc::unauthorized, "token " + id + " was revoked at " + format_rfc3339(*t.revoked_at));
    if (t.expires_at && *t.expires_at <= now)
      return make_error(errc::unauthorized, "token " + id + " expired at " + format_rfc3339(*t.expires_at));
    auto& touched = last_touch_[id];
    if (now - touched >= touch_every) {
      try {
        SQLite::Statement up(*db_, "UPDATE api_tokens SET last_used_at_ms = ? WHERE id = ?");
        up.bind(1, to_ms(now));
        up.bind(2, id);
        up.exec();
        touched = now;
        t.last_used_at = now;
      } catch (...) {
        // Busy: the last-use time is informative only; the request goes on.
      }
    }
    return t;
  } catch (...) {
    return current_exception_error("tokens verify");
  }
}

}  // namespace closeloop
