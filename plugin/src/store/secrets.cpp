// closeloop::secret_store and the AES-256-GCM sealing behind it (closeloop/secrets.hpp).
#include "closeloop/secrets.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <SQLiteCpp/SQLiteCpp.h>

#include "sql_util.hpp"

namespace closeloop {

using store_detail::current_exception_error;
using store_detail::from_ms;
using store_detail::to_ms;
using store_detail::wall_now;

namespace {

constexpr std::size_t k_nonce_len = 12, k_tag_len = 16;

std::string trim(std::string_view s) {
  const char* ws = " \t\r\n";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

// Strict base64 (standard alphabet, padding optional); nullopt on any other character.
std::optional<std::string> base64_decode(std::string_view in) {
  std::string s(in);
  while (!s.empty() && s.back() == '=') s.pop_back();
  if (s.size() % 4 == 1) return std::nullopt;
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (char c : s) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else return std::nullopt;
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xFF);
    }
  }
  return out;
}

std::string base64_encode(const unsigned char* p, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::string key_id_of(const std::array<unsigned char, 32>& key) {
  std::string input = "closeloop-key-id:";
  input.append(reinterpret_cast<const char*>(key.data()), key.size());
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return hex(digest, 8);
}

struct ctx_deleter {
  void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
using ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, ctx_deleter>;

const unsigned char* u8(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

std::string where(const std::string& tenant, const std::string& host, const std::string& name) {
  return "secret \"" + name + "\" (tenant " + tenant + (host.empty() ? std::string() : ", host " + host) + ")";
}

}  // namespace

result<secret_key> parse_secret_key(std::string_view data, const std::string& what) {
  secret_key k;
  k.source = what;
  std::string raw;
  if (data.size() == 32 && trim(data).size() != 44) {
    raw = std::string(data);
  } else {
    auto decoded = base64_decode(trim(data));
    if (!decoded)
      return make_error(errc::invalid_config, what + ": not a key: expected 32 random bytes or their base64 "
                                                     "(44 characters; `closeloop secret keygen` makes one)");
    raw = std::move(*decoded);
  }
  if (raw.size() != 32)
    return make_error(errc::invalid_config, what + ": the key is " + std::to_string(raw.size()) +
                                                " bytes; AES-256 needs exactly 32 (base64: 44 characters)");
  std::copy(raw.begin(), raw.end(), k.bytes.begin());
  k.id = key_id_of(k.bytes);
  return k;
}

result<secret_key> load_secret_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(errc::invalid_config, "key file " + path + ": cannot read it");
  std::ostringstream s;
  s << in.rdbuf();
  return parse_secret_key(s.str(), "key file " + path);
}

result<std::string> generate_secret_key_base64() {
  std::array<unsigned char, 32> k{};
  if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1)
    return make_error(errc::internal, "no randomness available (RAND_bytes failed)");
  return base64_encode(k.data(), k.size());
}

void key_ring::add(secret_key k) {
  if (find(k.id)) return;
  keys_.push_back(std::move(k));
}

const secret_key* key_ring::find(std::string_view id) const noexcept {
  for (const auto& k : keys_)
    if (k.id == id) return &k;
  return nullptr;
}

std::string key_ring::ids() const {
  std::string out;
  for (std::size_t i = 0; i < keys_.size(); ++i)
    out += (i ? ", " : "") + keys_[i].id + (i == 0 ? " (current)" : "");
  return out.empty() ? "none" : out;
}

result<key_ring> load_key_ring(const std::string& key_file, const std::vector<std::string>& previous_key_files) {
  key_ring ring;
  const char* env_key = std::getenv("CLOSELOOP_KEY");
  const char* env_file = std::getenv("CLOSELOOP_KEY_FILE");
  if (env_key && *env_key) {
    auto k = parse_secret_key(env_key, "CLOSELOOP_KEY");
    if (!k) return k.err();
    ring.add(std::move(*k));
  } else if (env_file && *env_file) {
    auto k = load_secret_key_file(env_file);
    if (!k) return make_error(errc::invalid_config, "CLOSELOOP_KEY_FILE: " + k.err().message);
    ring.add(std::move(*k));
  } else if (!key_file.empty()) {
    auto k = load_secret_key_file(key_file);
    if (!k) return make_error(errc::invalid_config, "security.key_file: " + k.err().message);
    ring.add(std::move(*k));
  } else {
    return make_error(errc::invalid_config,
                      "no encryption key: set security.key_file in the config, or CLOSELOOP_KEY_FILE, or "
                      "CLOSELOOP_KEY (base64 of 32 bytes); `closeloop secret keygen --out FILE` makes one");
  }
  for (const auto& f : previous_key_files) {
    auto k = load_secret_key_file(f);
    if (!k) return make_error(errc::invalid_config, "security.previous_key_files: " + k.err().message);
    ring.add(std::move(*k));
  }
  return ring;
}

std::string secret_aad(std::string_view tenant, std::string_view host, std::string_view name) {
  std::string aad = "closeloop-secret-v1";
  for (auto part : {tenant, host, name}) {
    aad += '\0';
    aad += part;
  }
  return aad;
}

result<sealed_value> seal_secret(const secret_key& k, std::string_view plaintext, std::string_view aad) {
  sealed_value v;
  v.key_id = k.id;
  v.nonce.resize(k_nonce_len);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(v.nonce.data()), k_nonce_len) != 1)
    return make_error(errc::internal, "no randomness available for a nonce (RAND_bytes failed)");
  ctx_ptr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  v.ciphertext.resize(plaintext.size() + k_tag_len);
  auto* out = reinterpret_cast<unsigned char*>(v.ciphertext.data());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, k_nonce_len, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, k.bytes.data(), u8(v.nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, u8(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out, &len, u8(plaintext), static_cast<int>(plaintext.size())) != 1)
    return make_error(errc::internal, "AES-256-GCM encryption failed");
  int total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), out + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, k_tag_len, out + total + len) != 1)
    return make_error(errc::internal, "AES-256-GCM encryption failed");
  v.ciphertext.resize(static_cast<std::size_t>(total + len) + k_tag_len);
  return v;
}

result<std::string> open_secret(const key_ring& ring, const sealed_value& v, std::string_view aad) {
  const secret_key* k = ring.find(v.key_id);
  if (!k)
    return make_error(errc::unauthorized, "sealed with key " + v.key_id + ", which is not loaded (loaded: " +
                                              ring.ids() + "); give the right key or add the old one to "
                                              "security.previous_key_files");
  if (v.nonce.size() != k_nonce_len || v.ciphertext.size() < k_tag_len)
    return make_error(errc::storage, "the stored value is damaged (bad nonce or length)");
  const std::size_t n = v.ciphertext.size() - k_tag_len;
  std::string plain(n, '\0');
  ctx_ptr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  std::string tag = v.ciphertext.substr(n);
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, k_nonce_len, nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, k->bytes.data(), u8(v.nonce)) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, u8(aad), static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), out, &len, u8(v.ciphertext), static_cast<int>(n)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, k_tag_len, tag.data()) == 1;
  int fin = 0;
  if (!ok || EVP_DecryptFinal_ex(ctx.get(), out + len, &fin) != 1)
    return make_error(errc::unauthorized, "cannot be opened with key " + k->id +
                                              ": wrong key for this value, or the stored value was altered");
  plain.resize(static_cast<std::size_t>(len + fin));
  return plain;
}

// ---- the table ------------------------------------------------------------------------------

secret_store::secret_store(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
secret_store::~secret_store() = default;

result<std::unique_ptr<secret_store>> secret_store::open(const std::string& path) {
  try {
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE, 5000);
    if (!db->tableExists("secrets"))
      return make_error(errc::storage, "secrets: " + path + " has no secrets table (run closeloop migrate)");
    db->exec("PRAGMA secure_delete = ON");
    return std::unique_ptr<secret_store>(new secret_store(std::move(db)));
  } catch (...) {
    return current_exception_error("secrets open");
  }
}

namespace {
sealed_value read_sealed(SQLite::Statement& q, int first) {
  sealed_value v;
  v.key_id = q.getColumn(first).getString();
  v.nonce = q.getColumn(first + 1).getString();
  v.ciphertext = q.getColumn(first + 2).getString();
  return v;
}

void write_sealed(SQLite::Database& db, const std::string& tenant, const std::string& host, const std::string& name,
                  const sealed_value& v) {
  SQLite::Statement q(db,
                      "INSERT INTO secrets (tenant, host, name, key_id, nonce, ciphertext, updated_at_ms)"
                      " VALUES (?,?,?,?,?,?,?) ON CONFLICT (tenant, host, name) DO UPDATE SET"
                      " key_id = excluded.key_id, nonce = excluded.nonce, ciphertext = excluded.ciphertext,"
                      " updated_at_ms = excluded.updated_at_ms");
  q.bind(1, tenant);
  q.bind(2, host);
  q.bind(3, name);
  q.bind(4, v.key_id);
  q.bind(5, v.nonce.data(), static_cast<int>(v.nonce.size()));
  q.bind(6, v.ciphertext.data(), static_cast<int>(v.ciphertext.size()));
  q.bind(7, to_ms(wall_now()));
  q.exec();
}
}  // namespace

result<void> secret_store::put(const key_ring& ring, const std::string& tenant, const std::string& host,
                               const std::string& name, std::string_view value) {
  if (!ring.current()) return make_error(errc::invalid_config, "no encryption key loaded");
  if (name.empty()) return make_error(errc::invalid_argument, "secret name: must not be empty");
  auto v = seal_secret(*ring.current(), value, secret_aad(tenant, host, name));
  if (!v) return v.err();
  try {
    write_sealed(*db_, tenant, host, name, *v);
    return {};
  } catch (...) {
    return current_exception_error("secret put");
  }
}

result<std::string> secret_store::get(const key_ring& ring, const std::string& tenant, const std::string& host,
                                      const std::string& name) {
  try {
    SQLite::Statement q(*db_, "SELECT key_id, nonce, ciphertext FROM secrets WHERE tenant = ? AND host = ? AND name = ?");
    q.bind(1, tenant);
    q.bind(2, host);
    q.bind(3, name);
    if (!q.executeStep())
      return make_error(errc::not_found, where(tenant, host, name) + " is not in the store (closeloop secret set)");
    auto v = read_sealed(q, 0);
    auto plain = open_secret(ring, v, secret_aad(tenant, host, name));
    if (!plain) return make_error(plain.err().code, where(tenant, host, name) + ": " + plain.err().message);
    return plain;
  } catch (...) {
    return current_exception_error("secret get");
  }
}

result<std::vector<secret_entry>> secret_store::list(const std::string& tenant) {
  try {
    SQLite::Statement q(*db_,
                        "SELECT tenant, host, name, key_id, updated_at_ms FROM secrets"
                        " WHERE ?1 = '' OR tenant = ?1 ORDER BY tenant, host, name");
    q.bind(1, tenant);
    std::vector<secret_entry> out;
    while (q.executeStep())
      out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                     q.getColumn(3).getString(), from_ms(q.getColumn(4).getInt64())});
    return out;
  } catch (...) {
    return current_exception_error("secret list");
  }
}

result<bool> secret_store::remove(const std::string& tenant, const std::string& host, const std::string& name) {
  try {
    SQLite::Statement q(*db_, "DELETE FROM secrets WHERE tenant = ? AND host = ? AND name = ?");
    q.bind(1, tenant);
    q.bind(2, host);
    q.bind(3, name);
    return q.exec() > 0;
  } catch (...) {
    return current_exception_error("secret delete");
  }
}

result<int> secret_store::rekey(const key_ring& ring, const secret_key& new_key) {
  key_ring readers = ring;
  readers.add(new_key);
  try {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    struct row {
      std::string tenant, host, name;
      sealed_value v;
    };
    std::vector<row> rows;
    {
      SQLite::Statement q(*db_, "SELECT tenant, host, name, key_id, nonce, ciphertext FROM secrets");
      while (q.executeStep())
        rows.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                        read_sealed(q, 3)});
    }
    for (const auto& r : rows) {
      const std::string aad = secret_aad(r.tenant, r.host, r.name);
      auto plain = open_secret(readers, r.v, aad);
      if (!plain)
        return make_error(plain.err().code, "rekey stopped, nothing changed: " + where(r.tenant, r.host, r.name) +
                                                ": " + plain.err().message);
      auto sealed = seal_secret(new_key, *plain, aad);
      if (!sealed) return sealed.err();
      write_sealed(*db_, r.tenant, r.host, r.name, *sealed);
    }
    tx.commit();
    return static_cast<int>(rows.size());
  } catch (...) {
    return current_exception_error("rekey");
  }
}

}  // namespace closeloop
