#pragma once
// Secrets at rest: host credentials, webhook secrets and survey link secrets kept in the store's
// `secrets` table, each value sealed with AES-256-GCM (OpenSSL EVP) under a 256-bit key:
// a random 96-bit nonce per value, the key's id stored with the value, and the tenant, host and
// name bound as additional authenticated data (a value copied to another row does not open).
// The key comes from CLOSELOOP_KEY (base64), the file named by CLOSELOOP_KEY_FILE, or
// security.key_file; security.previous_key_files are still accepted for reading while rotating.
#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/model.hpp"
#include "closeloop/result.hpp"

namespace SQLite {
class Database;
}

namespace closeloop {

struct secret_key {
  std::string id;  // 16 hex characters derived from the key (SHA-256), never the key itself
  std::array<unsigned char, 32> bytes{};
  std::string source;  // "CLOSELOOP_KEY", "key file /etc/closeloop/key", ... (for messages)
};

// 32 raw bytes, or their base64 (surrounding whitespace ignored). `what` names the source.
result<secret_key> parse_secret_key(std::string_view data, const std::string& what);
result<secret_key> load_secret_key_file(const std::string& path);
// A fresh random key as base64 (for `closeloop secret keygen`).
result<std::string> generate_secret_key_base64();

class key_ring {
 public:
  void add(secret_key k);  // the first added is the current key (new values are sealed with it)
  const secret_key* current() const noexcept { return keys_.empty() ? nullptr : &keys_.front(); }
  const secret_key* find(std::string_view id) const noexcept;
  bool empty() const noexcept { return keys_.empty(); }
  std::string ids() const;  // "a1b2.. (current), c3d4.."
  const std::vector<secret_key>& keys() const noexcept { return keys_; }

 private:
  std::vector<secret_key> keys_;
};

// The current key from CLOSELOOP_KEY, else CLOSELOOP_KEY_FILE, else key_file; then
// previous_key_files. No key at all is an error saying how to provide one.
result<key_ring> load_key_ring(const std::string& key_file, const std::vector<std::string>& previous_key_files);

struct sealed_value {
  std::string key_id;
  std::string nonce;       // 12 bytes
  std::string ciphertext;  // ciphertext followed by the 16-byte GCM tag
};
std::string secret_aad(std::string_view tenant, std::string_view host, std::string_view name);
result<sealed_value> seal_secret(const secret_key& k, std::string_view plaintext, std::string_view aad);
// A wrong key or a tampered value is an error naming the key id, never garbage.
result<std::string> open_secret(const key_ring& ring, const sealed_value& v, std::string_view aad);

struct secret_entry {
  std::string tenant, host, name, key_id;
  timestamp updated_at{};
};

// The `secrets` table (migration 5) over its own connection to the store's file.
class secret_store {
 public:
  static result<std::unique_ptr<secret_store>> open(const std::string& path);
  ~secret_store();

  result<void> put(const key_ring& ring, const std::string& tenant, const std::string& host,
                   const std::string& name, std::string_view value);
  result<std::string> get(const key_ring& ring, const std::string& tenant, const std::string& host,
                          const std::string& name);
  result<std::vector<secret_entry>> list(const std::string& tenant = {});
  result<bool> remove(const std::string& tenant, const std::string& host, const std::string& name);
  // Re-seals every value under new_key in one transaction; values open with any key of `ring`
  // or new_key itself. Returns how many values were re-sealed. Nothing changes on error.
  result<int> rekey(const key_ring& ring, const secret_key& new_key);

 private:
  explicit secret_store(std::unique_ptr<SQLite::Database> db);
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace closeloop
