// closeloop_bench_audit: what the audit log costs the worker per host write, and what a token
// check costs a request. Figures, not a timed test (README.md in this folder).
//
//   audit append   audit_log::append (BEGIN IMMEDIATE, read the head, SHA-256, insert, commit)
//   reference      the same row inserted into a plain table of the same file, one transaction each
//   token verify   token_store::verify of a valid token (lookup by id, SHA-256, constant-time compare)
//
// Usage: closeloop_bench_audit [--rows N] [--dir DIR]   (DIR: where the SQLite file goes, default /tmp)
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <SQLiteCpp/SQLiteCpp.h>

#include "closeloop/audit.hpp"
#include "closeloop/store.hpp"
#include "closeloop/token_store.hpp"

using namespace closeloop;
using clk = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int rows = 2000;
  std::string dir = "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rows")) rows = std::max(10, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
  }
  const std::string path = dir + "/closeloop-bench-audit-" + std::to_string(::getpid()) + ".db";
  {
    store_options so;
    so.path = path;
    auto db = store::open(so);  // creates and migrates the file (WAL, as serve has it)
    if (!db) {
      std::fprintf(stderr, "cannot open %s: %s\n", path.c_str(), db.err().message.c_str());
      return 1;
    }
  }
  auto al = audit_log::open(path);
  auto ts = token_store::open(path);
  if (!al || !ts) return 1;
  const json detail = {{"type", "add_internal_note"}, {"ticket", "12345"}, {"outbox_id", 42},
                       {"idempotency_key", "acme/zendesk/evt-1/note"}, {"outcome", "done"}, {"attempts", 1}};

  // Reference: the same columns into a plain table, one transaction per row, on its own connection.
  double ref_s = 0;
  {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE, 5000);
    raw.exec("PRAGMA synchronous=FULL");
    raw.exec("CREATE TABLE bench_plain (seq INTEGER PRIMARY KEY, at_ms INTEGER, actor TEXT, tenant TEXT, action TEXT,"
             " target TEXT, detail TEXT, prev_hash TEXT, hash TEXT)");
    SQLite::Statement ins(raw, "INSERT INTO bench_plain VALUES (?,?,?,?,?,?,?,?,?)");
    const std::string d = detail.dump(), h(64, 'a');
    const auto t0 = clk::now();
    for (int i = 1; i <= rows; ++i) {
      SQLite::Transaction tx(raw, SQLite::TransactionBehavior::IMMEDIATE);
      ins.bind(1, i);
      ins.bind(2, static_cast<std::int64_t>(i));
      ins.bind(3, "worker");
      ins.bind(4, "acme");
      ins.bind(5, "host.write");
      ins.bind(6, "zendesk/12345");
      ins.bind(7, d);
      ins.bind(8, h);
      ins.bind(9, h);
      ins.exec();
      ins.reset();
      tx.commit();
    }
    ref_s = std::chrono::duration<double>(clk::now() - t0).count();
  }
  const auto t1 = clk::now();
  for (int i = 0; i < rows; ++i)
    if (!(*al)->append("worker", "acme", "host.write", "zendesk/12345", detail)) return 1;
  const double audit_s = std::chrono::duration<double>(clk::now() - t1).count();
  auto v = (*al)->verify();
  const auto t2 = clk::now();
  auto v2 = (*al)->verify();
  const double verify_s = std::chrono::duration<double>(clk::now() - t2).count();

  auto tok = (*ts)->create("acme", api_role::agent, "bench", std::nullopt, "bench",
                           std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
  if (!tok) return 1;
  const int checks = rows * 10;
  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  const auto t3 = clk::now();
  for (int i = 0; i < checks; ++i)
    if (!(*ts)->verify(tok->secret, now)) return 1;
  const double verify_tok_s = std::chrono::duration<double>(clk::now() - t3).count();

  std::printf("rows                 %d\n", rows);
  std::printf("audit append         %.1f rows/s (%.3f ms each)\n", rows / audit_s, 1000 * audit_s / rows);
  std::printf("reference insert     %.1f rows/s (%.3f ms each, same file, one transaction each)\n", rows / ref_s,
              1000 * ref_s / rows);
  std::printf("ratio append/insert  %.2f (time per row)\n", audit_s / ref_s);
  std::printf("audit verify         %lld rows in %.3f s (%s)\n", static_cast<long long>(v2 ? v2->rows : 0), verify_s,
              v && v->ok ? "intact" : "BROKEN");
  std::printf("token verify         %.0f checks/s (%.1f us each)\n", checks / verify_tok_s, 1e6 * verify_tok_s / checks);
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, ec);
  return v && v->ok ? 0 : 1;
}
