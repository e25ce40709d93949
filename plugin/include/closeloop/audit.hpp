#pragma once
// The audit log: append-only and hash-chained (store migration 4, table audit_log). Every row
// carries hash = SHA-256(previous row's hash + the row's canonical content), so an edited,
// inserted or deleted row breaks the chain at that row; SQLite triggers refuse UPDATE and DELETE.
//
// What to record (README "Audit log"): token create/revoke, every admin action (CLI or API),
// config loads, data exports and erasures, and every write the worker makes to a host.
// `detail` must not carry raw personal data (no e-mail addresses, names or texts): put a keyed
// hash of an address there, so erasing a customer never has to touch the chain.
//
// Thread-safe. Its own connection to the store's file; appends from several processes (serve and
// a CLI command) are serialised by SQLite (BEGIN IMMEDIATE).
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "closeloop/model.hpp"
#include "closeloop/result.hpp"

namespace SQLite {
class Database;
}

namespace closeloop {

struct audit_entry {
  std::int64_t seq = 0;
  timestamp at{};
  std::string actor;   // "cli:<user>", "token:<id>", "worker", "serve"
  std::string tenant;  // "" for server-wide entries (config loaded)
  std::string action;  // dotted verb: "token.create", "host.write", "config.load", "export", ...
  std::string target;  // what it acted on: a token id, "<host>/<ticket>", a file
  json detail = json::object();
  std::string prev_hash, hash;  // lower-case hex SHA-256
};

struct audit_filter {
  std::string tenant;              // "": every tenant
  std::optional<timestamp> since;  // at or after
  std::string action;              // "": every action; "host." matches a prefix ending in '.'
  int limit = 1000;
};

struct audit_verification {
  bool ok = true;
  std::int64_t rows = 0;                   // rows checked
  std::optional<std::int64_t> first_bad;   // seq of the first row that does not verify
  std::string reason;                      // why that row is bad
  std::string head_hash;                   // hash of the last good row (keep it elsewhere to detect truncation)
  std::int64_t head_seq = 0;
};

class audit_log {
 public:
  // Opens the store's file (created and migrated by store::open). Fails on ":memory:".
  static result<std::unique_ptr<audit_log>> open(const std::string& path);
  ~audit_log();

  // Appends one row and returns it (with its seq and hash). `detail` must be a JSON object.
  result<audit_entry> append(const std::string& actor, const std::string& tenant, const std::string& action,
                             const std::string& target, const json& detail = json::object());
  // Oldest first.
  result<std::vector<audit_entry>> list(const audit_filter& f = {});
  // Walks the whole chain from the first row.
  result<audit_verification> verify();

  // SHA-256(prev_hash + canonical) as lower-case hex; canonical is the JSON array
  // [seq, at_ms, actor, tenant, action, target, detail] with detail's keys sorted.
  static std::string row_hash(const audit_entry& e);
  static const std::string& genesis_hash();  // prev_hash of the first row: 64 zeros

 private:
  explicit audit_log(std::unique_ptr<SQLite::Database> db);
  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
};

// Lower-case hex SHA-256 of bytes (OpenSSL).
std::string sha256_hex(std::string_view bytes);

// Who runs this process, for CLI audit entries: "cli:<login>" (uid when no name is known).
std::string cli_actor();

}  // namespace closeloop
