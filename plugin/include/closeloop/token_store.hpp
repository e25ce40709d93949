#pragma once
// API tokens per tenant (store migration 4, table api_tokens). A token is
// "clt_<id>_<secret>": id = 16 hex (public, names the token in lists and the audit log),
// secret = 64 hex from OpenSSL RAND_bytes (256 bits). Only SHA-256 of the whole token is stored;
// the token itself is returned once, by create(). verify() looks the row up by id and compares
// the hashes in constant time. Roles: viewer < agent < admin.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/model.hpp"
#include "closeloop/result.hpp"

namespace SQLite {
class Database;
}

namespace closeloop {

enum class api_role { viewer = 1, agent = 2, admin = 3 };
const char* to_string(api_role r) noexcept;
std::optional<api_role> parse_api_role(std::string_view s) noexcept;

struct api_token {
  std::string id, tenant, label, created_by;
  api_role role = api_role::viewer;
  timestamp created_at{};
  std::optional<timestamp> last_used_at, expires_at, revoked_at;
};

struct new_api_token {
  api_token info;
  std::string secret;  // the full token, shown once
};

class token_store {
 public:
  // Opens the store's file (created and migrated by store::open). Fails on ":memory:".
  static result<std::unique_ptr<token_store>> open(const std::string& path);
  ~token_store();

  result<new_api_token> create(const std::string& tenant, api_role role, const std::string& label,
                               std::optional<timestamp> expires_at, const std::string& created_by, timestamp now);
  // tenant "": every tenant. Newest first. Never the secret (it is not kept).
  result<std::vector<api_token>> list(const std::string& tenant = "");
  result<std::optional<api_token>> find(const std::string& id);
  // not_found for an unknown id; revoking twice keeps the first time.
  result<api_token> revoke(const std::string& id, timestamp now);

  // The token's row when `token` is well-formed, known, not revoked and not expired; otherwise
  // errc::unauthorized with a reason that never echoes the secret. Records last use (at most once
  // a minute per token, so a busy client does not write on every request).
  result<api_token> verify(std::string_view token, timestamp now);

  // "clt_<id>_<secret>" -> id, or "" when malformed.
  static std::string id_of(std::string_view token);

 private:
  explicit token_store(std::unique_ptr<SQLite::Database> db);
  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
  std::map<std::string, timestamp, std::less<>> last_touch_;
};

}  // namespace closeloop
