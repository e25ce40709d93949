// closeloop::audit_log (closeloop/audit.hpp): the hash-chained, append-only audit_log table
// (migration 4 'auth').
#include "closeloop/audit.hpp"

#include <pwd.h>
#include <unistd.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <openssl/sha.h>

#include "sql_util.hpp"

namespace closeloop {

using store_detail::current_exception_error;
using store_detail::from_ms;
using store_detail::to_ms;

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(2 * SHA256_DIGEST_LENGTH, '0');
  for (std::size_t i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 0xf];
  }
  return out;
}

std::string cli_actor() {
  const uid_t uid = ::geteuid();
  if (const passwd* pw = ::getpwuid(uid); pw && pw->pw_name) return std::string("cli:") + pw->pw_name;
  return "cli:uid" + std::to_string(uid);
}

audit_log::audit_log(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
audit_log::~audit_log() = default;

result<std::unique_ptr<audit_log>> audit_log::open(const std::string& path) {
  if (path.empty() || path == ":memory:") return make_error(errc::unavailable, "audit: needs a file store");
  try {
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE, 5000);
    if (!db->tableExists("audit_log"))
      return make_error(errc::storage, "audit: " + path + " has no audit_log table (run closeloop migrate)");
    return std::unique_ptr<audit_log>(new audit_log(std::move(db)));
  } catch (...) {
    return current_exception_error("audit open");
  }
}

const std::string& audit_log::genesis_hash() {
  static const std::string zeros(64, '0');
  return zeros;
}

std::string audit_log::row_hash(const audit_entry& e) {
  const json canonical = json::array({e.seq, to_ms(e.at), e.actor, e.tenant, e.action, e.target, e.detail});
  return sha256_hex(e.prev_hash + canonical.dump(-1, ' ', false, json::error_handler_t::replace));
}

namespace {

constexpr const char* select_cols = "SELECT seq, at_ms, actor, tenant, action, target, detail, prev_hash, hash FROM audit_log";

// Reads a row; `detail_text` keeps the stored text so verify() can tell an unparsable one.
audit_entry read_row(SQLite::Statement& q, std::string* detail_text = nullptr) {
  audit_entry e;
  e.seq = q.getColumn(0).getInt64();
  e.at = from_ms(q.getColumn(1).getInt64());
  e.actor = q.getColumn(2).getString();
  e.tenant = q.getColumn(3).getString();
  e.action = q.getColumn(4).getString();
  e.target = q.getColumn(5).getString();
  const std::string d = q.getColumn(6).getString();
  if (detail_text) *detail_text = d;
  e.detail = json::parse(d, nullptr, false);
  e.prev_hash = q.getColumn(7).getString();
  e.hash = q.getColumn(8).getString();
  return e;
}

}  // namespace

result<audit_entry> audit_log::append(const std::string& actor, const std::string& tenant, const std::string& action,
                                      const std::string& target, const json& detail) {
  if (!detail.is_object()) return make_error(errc::invalid_argument, "audit: detail must be a JSON object");
  if (actor.empty() || action.empty()) return make_error(errc::invalid_argument, "audit: actor and action are required");
  std::lock_guard lk(mu_);
  try {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    audit_entry e;
    e.prev_hash = genesis_hash();
    {
      SQLite::Statement last(*db_, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
      if (last.executeStep()) {
        e.seq = last.getColumn(0).getInt64();
        e.prev_hash = last.getColumn(1).getString();
      }
    }
    e.seq += 1;
    e.at = store_detail::wall_now();
    e.actor = actor;
    e.tenant = tenant;
    e.action = action;
    e.target = target;
    e.detail = detail;
    e.hash = row_hash(e);
    SQLite::Statement ins(*db_,
                          "INSERT INTO audit_log (seq, at_ms, actor, tenant, action, target, detail, prev_hash, hash)"
                          " VALUES (?,?,?,?,?,?,?,?,?)");
    ins.bind(1, e.seq);
    ins.bind(2, to_ms(e.at));
    ins.bind(3, e.actor);
    ins.bind(4, e.tenant);
    ins.bind(5, e.action);
    ins.bind(6, e.target);
    ins.bind(7, e.detail.dump(-1, ' ', false, json::error_handler_t::replace));
    ins.bind(8, e.prev_hash);
    ins.bind(9, e.hash);
    ins.exec();
    tx.commit();
    return e;
  } catch (...) {
    return current_exception_error("audit append");
  }
}

result<std::vector<audit_entry>> audit_log::list(const audit_filter& f) {
  std::lock_guard lk(mu_);
  try {
    std::string sql = std::string(select_cols) + " WHERE 1";
    if (!f.tenant.empty()) sql += " AND tenant = :tenant";
    if (f.since) sql += " AND at_ms >= :since";
    if (!f.action.empty()) sql += f.action.back() == '.' ? " AND substr(action, 1, length(:action)) = :action" : " AND action = :action";
    sql += " ORDER BY seq LIMIT :limit";
    SQLite::Statement q(*db_, sql);
    if (!f.tenant.empty()) q.bind(":tenant", f.tenant);
    if (f.since) q.bind(":since", to_ms(*f.since));
    if (!f.action.empty()) q.bind(":action", f.action);
    q.bind(":limit", f.limit > 0 ? f.limit : 1000);
    std::vector<audit_entry> out;
    while (q.executeStep()) out.push_back(read_row(q));
    return out;
  } catch (...) {
    return current_exception_error("audit list");
  }
}

result<audit_verification> audit_log::verify() {
  std::lock_guard lk(mu_);
  try {
    audit_verification v;
    v.head_hash = genesis_hash();
    SQLite::Statement q(*db_, std::string(select_cols) + " ORDER BY seq");
    std::int64_t expected_seq = 1;
    auto bad = [&](std::int64_t seq, std::string why) {
      v.ok = false;
      v.first_bad = seq;
      v.reason = std::move(why);
    };
    while (q.executeStep()) {
      std::string detail_text;
      audit_entry e = read_row(q, &detail_text);
      ++v.rows;
      if (e.seq != expected_seq) {
        bad(e.seq, "row " + std::to_string(expected_seq) + (e.seq > expected_seq ? " is missing (deleted?)" : " repeats"));
        break;
      }
      if (e.prev_hash != v.head_hash) {
        bad(e.seq, "prev_hash does not match the hash of row " + std::to_string(e.seq - 1));
        break;
      }
      if (e.detail.is_discarded() || !e.detail.is_object()) {
        bad(e.seq, "detail is not a JSON object: " + detail_text.substr(0, 80));
        break;
      }
      // The stored text must be the canonical dump: an edit that re-parses the same is still an edit.
      if (e.detail.dump(-1, ' ', false, json::error_handler_t::replace) != detail_text) {
        bad(e.seq, "detail is not in canonical form (edited?)");
        break;
      }
      if (row_hash(e) != e.hash) {
        bad(e.seq, "content does not match its hash (edited?)");
        break;
      }
      v.head_hash = e.hash;
      v.head_seq = e.seq;
      ++expected_seq;
    }
    return v;
  } catch (...) {
    return current_exception_error("audit verify");
  }
}

}  // namespace closeloop
