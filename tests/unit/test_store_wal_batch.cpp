// The store writer's VFS (plugin/src/store/wal_batch_vfs.hpp): a commit's WAL frames reach the
// kernel in one write, other connections read every commit, and frames of a transaction that
// rolled back are dropped before another writer can use their place in the WAL.
#include <catch2/catch.hpp>

#include <string>

#include <SQLiteCpp/SQLiteCpp.h>

#include "store/wal_batch_vfs.hpp"
#include "store_test_support.hpp"

using namespace store_test;
using closeloop::store_detail::wal_batch_counters;
using closeloop::store_detail::wal_batch_stats;
using closeloop::store_detail::wal_batch_vfs_name;

namespace {

std::unique_ptr<SQLite::Database> open_writer(const std::string& path, bool batched) {
  auto db = std::make_unique<SQLite::Database>(path.c_str(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 5000,
                                               batched ? wal_batch_vfs_name() : nullptr);
  SQLite::Statement q(*db, "PRAGMA journal_mode = WAL");
  REQUIRE(q.executeStep());
  REQUIRE(q.getColumn(0).getString() == "wal");
  db->exec("PRAGMA synchronous = FULL");
  db->exec("PRAGMA wal_autocheckpoint = 0");
  return db;
}

std::int64_t scalar(SQLite::Database& db, const std::string& sql) {
  SQLite::Statement q(db, sql);
  REQUIRE(q.executeStep());
  return q.getColumn(0).getInt64();
}

// Rows big enough that each transaction dirties many pages: the row's payload is derived from
// its id, so a reader can check every byte it sees.
void insert_rows(SQLite::Database& db, int first, int count) {
  SQLite::Statement ins(db, "INSERT INTO t (id, payload) VALUES (?, printf('%0900d', ?))");
  for (int i = first; i < first + count; ++i) {
    ins.bind(1, i);
    ins.bind(2, i);
    ins.exec();
    ins.reset();
  }
}

std::string integrity(SQLite::Database& db) {
  SQLite::Statement q(db, "PRAGMA integrity_check");
  REQUIRE(q.executeStep());
  return q.getColumn(0).getString();
}

}  // namespace

TEST_CASE("store WAL batching: a commit's frames go out in one write and every commit is readable",
          "[unit][store]") {
  REQUIRE(wal_batch_vfs_name() != nullptr);
  temp_dir dir;
  const std::string path = dir.file("b.db");
  auto w = open_writer(path, true);
  w->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)");
  w->exec("CREATE INDEX t_payload ON t (payload)");
  SQLite::Database r(path, SQLite::OPEN_READONLY, 5000);

  const wal_batch_counters before = wal_batch_stats();
  constexpr int k_tx = 40;
  constexpr int k_rows = 50;
  for (int tx = 0; tx < k_tx; ++tx) {
    w->exec("BEGIN IMMEDIATE");
    insert_rows(*w, tx * k_rows, k_rows);
    w->exec("COMMIT");
    // Another connection (the default VFS, its own file handle) sees the commit in full.
    CHECK(scalar(r, "SELECT count(*) FROM t") == (tx + 1) * k_rows);
    CHECK(scalar(r, "SELECT count(*) FROM t WHERE payload <> printf('%0900d', id)") == 0);
  }
  const wal_batch_counters after = wal_batch_stats();
  const auto requested = after.writes_requested - before.writes_requested;
  const auto issued = after.writes_issued - before.writes_issued;
  INFO("WAL writes requested " << requested << ", issued " << issued);
  // SQLite writes two pieces per frame and ~25 frames per transaction here; gathered, that is a
  // handful of writes per commit.
  CHECK(requested > 40u * k_tx);
  CHECK(issued <= 3u * k_tx);
  CHECK(integrity(r) == "ok");

  // The same file reopened without the VFS (and after a checkpoint) holds everything.
  w.reset();
  SQLite::Database plain(path, SQLite::OPEN_READONLY, 5000);
  CHECK(scalar(plain, "SELECT count(*) FROM t") == k_tx * k_rows);
  CHECK(integrity(plain) == "ok");
}

TEST_CASE("store WAL batching: frames of a rolled-back transaction never land on another writer's",
          "[unit][store]") {
  temp_dir dir;
  const std::string path = dir.file("rb.db");
  auto a = open_writer(path, true);
  a->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)");
  insert_rows(*a, 0, 10);
  // Everything into the database file first, so undoing the transaction below reads pages from
  // there and not from the WAL (a read of the WAL would write the gathered frames out while the
  // connection still holds the write lock, which is safe but would not test the drop).
  a->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  // A tiny page cache makes SQLite spill the transaction's pages into the WAL before COMMIT:
  // those frames are gathered by the VFS and never synced.
  a->exec("PRAGMA cache_size = 5");
  const wal_batch_counters before = wal_batch_stats();
  a->exec("BEGIN IMMEDIATE");
  insert_rows(*a, 1000, 400);
  a->exec("ROLLBACK");
  const wal_batch_counters after = wal_batch_stats();
  CHECK(after.dropped_bytes > before.dropped_bytes);

  // Another writer (default VFS) now appends frames where the rolled-back ones were gathered.
  {
    auto b = open_writer(path, false);
    b->exec("BEGIN IMMEDIATE");
    insert_rows(*b, 2000, 400);
    b->exec("COMMIT");
  }
  // The first connection reads those frames (a flush of stale bytes would overwrite them here)
  // and writes again.
  CHECK(scalar(*a, "SELECT count(*) FROM t") == 410);
  a->exec("BEGIN IMMEDIATE");
  insert_rows(*a, 3000, 20);
  a->exec("COMMIT");
  a.reset();

  SQLite::Database plain(path, SQLite::OPEN_READONLY, 5000);
  CHECK(integrity(plain) == "ok");
  CHECK(scalar(plain, "SELECT count(*) FROM t") == 430);
  CHECK(scalar(plain, "SELECT count(*) FROM t WHERE id >= 1000 AND id < 2000") == 0);
  CHECK(scalar(plain, "SELECT count(*) FROM t WHERE payload <> printf('%0900d', id)") == 0);
}
