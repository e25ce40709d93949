#pragma once
// A SQLite VFS for the store's write connection that hands a transaction's WAL frames to the
// kernel in one write instead of two per frame.
//
// SQLite writes each WAL frame as two pwrite calls (its 24-byte header, then the page), so a
// group commit of ~16 events (about 230 frames) cost ~460 system calls on the committer thread
// (tests/bench/README.md). This VFS wraps the platform's default one: writes to a WAL file are
// gathered while they are contiguous and written out in one call when SQLite syncs the WAL,
// reads it, asks its size, truncates it, or publishes new frames to other connections (the
// wal-index barrier on the database file). When the connection gives up the WAL write lock,
// whatever is still gathered belongs to a transaction that did not commit and is dropped, so
// nothing gathered can outlive the lock and land on another writer's frames.
//
// Meant for a connection with `synchronous = FULL`: a commit then always syncs the WAL before
// it is visible, so every error of the deferred write is reported by the commit itself. Every
// other file (database, journals, temp files) is the default VFS's, untouched.
#include <cstdint>

namespace closeloop::store_detail {

// Registers the VFS once (not as the default) and returns its name for sqlite3_open_v2.
// Returns nullptr when there is no default VFS to wrap.
const char* wal_batch_vfs_name();

struct wal_batch_counters {
  std::uint64_t writes_requested = 0;  // xWrite calls SQLite made on WAL files through the VFS
  std::uint64_t writes_issued = 0;     // write calls that reached the default VFS
  std::uint64_t dropped_bytes = 0;     // gathered bytes of transactions that did not commit
};

// Process-wide totals since start (all connections that use the VFS).
wal_batch_counters wal_batch_stats();

}  // namespace closeloop::store_detail
