#include "wal_batch_vfs.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <sqlite3.h>

namespace closeloop::store_detail {

namespace {

// SQLite's WAL write lock is shared-memory lock slot 0 (WAL_WRITE_LOCK in wal.c).
constexpr int k_wal_write_lock = 0;
// A commit of 64 events is ~4 MB of frames; a larger run is written in pieces.
constexpr std::size_t k_buffer_cap = 8u << 20;

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;
std::atomic<std::uint64_t> g_requested{0};
std::atomic<std::uint64_t> g_issued{0};
std::atomic<std::uint64_t> g_dropped{0};

struct wal_file;

// The database file: the default VFS's file behind pass-through methods, so that the WAL
// write lock's release and the wal-index barrier can be seen.
struct db_file {
  sqlite3_file base;
  sqlite3_file* real;
  wal_file* wal;  // the connection's WAL while it is open
};

struct wal_file {
  sqlite3_file base;
  sqlite3_file* real;
  db_file* db;
  char* buf;
  std::size_t len;
  std::size_t cap;
  sqlite3_int64 off;  // file offset of buf[0]
  bool broken;        // a deferred write failed where it could not be reported
};

constexpr std::size_t align16(std::size_t n) { return (n + 15) & ~std::size_t{15}; }
constexpr std::size_t k_header = align16(std::max(sizeof(db_file), sizeof(wal_file)));

sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<db_file*>(f)->real; }
// Both structs start with base and real, so real_of works for either.
static_assert(offsetof(db_file, real) == offsetof(wal_file, real));

// The unix VFS writes at most 128 KiB - 1 per call (os_unix.c masks the length with 0x1ffff).
constexpr std::size_t k_max_write = 0x1f000;

int write_through(wal_file* w, const char* p, std::size_t n, sqlite3_int64 ofst) {
  while (n > 0) {
    const std::size_t piece = std::min(n, k_max_write);
    g_issued.fetch_add(1, std::memory_order_relaxed);
    if (int rc = w->real->pMethods->xWrite(w->real, p, static_cast<int>(piece), ofst); rc != SQLITE_OK) return rc;
    p += piece;
    n -= piece;
    ofst += static_cast<sqlite3_int64>(piece);
  }
  return SQLITE_OK;
}

int flush(wal_file* w) {
  if (w->len == 0) return SQLITE_OK;
  const std::size_t n = w->len;
  w->len = 0;
  return write_through(w, w->buf, n, w->off);
}

// ---- WAL file ----

int wal_close(sqlite3_file* f) {
  auto* w = reinterpret_cast<wal_file*>(f);
  // Anything still gathered was not synced, so no commit depends on it (see the header).
  if (w->len) g_dropped.fetch_add(w->len, std::memory_order_relaxed);
  w->len = 0;
  if (w->db && w->db->wal == w) w->db->wal = nullptr;
  int rc = w->real->pMethods ? w->real->pMethods->xClose(w->real) : SQLITE_OK;
  std::free(w->buf);
  w->buf = nullptr;
  return rc;
}

int wal_read(sqlite3_file* f, void* p, int amt, sqlite3_int64 ofst) {
  auto* w = reinterpret_cast<wal_file*>(f);
  if (int rc = flush(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xRead(w->real, p, amt, ofst);
}

int wal_write(sqlite3_file* f, const void* p, int amt, sqlite3_int64 ofst) {
  auto* w = reinterpret_cast<wal_file*>(f);
  if (w->broken) return SQLITE_IOERR_WRITE;
  g_requested.fetch_add(1, std::memory_order_relaxed);
  const auto n = static_cast<std::size_t>(amt);
  if (w->len && ofst == w->off + static_cast<sqlite3_int64>(w->len) && w->len + n <= w->cap) {
    std::memcpy(w->buf + w->len, p, n);
    w->len += n;
    return SQLITE_OK;
  }
  if (int rc = flush(w); rc != SQLITE_OK) return rc;
  if (!w->buf && n <= k_buffer_cap) {
    w->buf = static_cast<char*>(std::malloc(k_buffer_cap));
    if (w->buf) w->cap = k_buffer_cap;
  }
  if (n > w->cap) return write_through(w, static_cast<const char*>(p), n, ofst);
  std::memcpy(w->buf, p, n);
  w->len = n;
  w->off = ofst;
  return SQLITE_OK;
}

int wal_truncate(sqlite3_file* f, sqlite3_int64 size) {
  auto* w = reinterpret_cast<wal_file*>(f);
  if (int rc = flush(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xTruncate(w->real, size);
}

int wal_sync(sqlite3_file* f, int flags) {
  auto* w = reinterpret_cast<wal_file*>(f);
  if (w->broken) return SQLITE_IOERR_FSYNC;
  if (int rc = flush(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xSync(w->real, flags);
}

int wal_file_size(sqlite3_file* f, sqlite3_int64* size) {
  auto* w = reinterpret_cast<wal_file*>(f);
  if (int rc = flush(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xFileSize(w->real, size);
}

int pass_lock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xLock(real_of(f), l); }
int pass_unlock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xUnlock(real_of(f), l); }
int pass_check_reserved(sqlite3_file* f, int* out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
int pass_file_control(sqlite3_file* f, int op, void* arg) {
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
int pass_sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int pass_device_characteristics(sqlite3_file* f) {
  return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

const sqlite3_io_methods k_wal_methods = {
    1,           wal_close,         wal_read,          wal_write,         wal_truncate,
    wal_sync,    wal_file_size,     pass_lock,         pass_unlock,       pass_check_reserved,
    pass_file_control, pass_sector_size, pass_device_characteristics,
    nullptr,     nullptr,           nullptr,           nullptr,           nullptr,
    nullptr,
};

// ---- database file: pass-through, plus the two places that concern the WAL's buffer ----

int db_close(sqlite3_file* f) {
  auto* d = reinterpret_cast<db_file*>(f);
  if (d->wal) d->wal->db = nullptr;
  d->wal = nullptr;
  return d->real->pMethods ? d->real->pMethods->xClose(d->real) : SQLITE_OK;
}
int db_read(sqlite3_file* f, void* p, int amt, sqlite3_int64 o) {
  return real_of(f)->pMethods->xRead(real_of(f), p, amt, o);
}
int db_write(sqlite3_file* f, const void* p, int amt, sqlite3_int64 o) {
  return real_of(f)->pMethods->xWrite(real_of(f), p, amt, o);
}
int db_truncate(sqlite3_file* f, sqlite3_int64 s) { return real_of(f)->pMethods->xTruncate(real_of(f), s); }
int db_sync(sqlite3_file* f, int flags) { return real_of(f)->pMethods->xSync(real_of(f), flags); }
int db_file_size(sqlite3_file* f, sqlite3_int64* s) { return real_of(f)->pMethods->xFileSize(real_of(f), s); }
int db_shm_map(sqlite3_file* f, int pg, int pgsz, int extend, void volatile** pp) {
  return real_of(f)->pMethods->xShmMap(real_of(f), pg, pgsz, extend, pp);
}

int db_shm_lock(sqlite3_file* f, int ofst, int n, int flags) {
  auto* d = reinterpret_cast<db_file*>(f);
  if ((flags & SQLITE_SHM_UNLOCK) && ofst <= k_wal_write_lock && ofst + n > k_wal_write_lock && d->wal &&
      d->wal->len) {
    // Released with frames still gathered: their transaction rolled back (a commit syncs, and
    // syncing wrote them). Dropped before the lock goes, so no other writer can be overwritten.
    g_dropped.fetch_add(d->wal->len, std::memory_order_relaxed);
    d->wal->len = 0;
  }
  return d->real->pMethods->xShmLock(d->real, ofst, n, flags);
}

void db_shm_barrier(sqlite3_file* f) {
  auto* d = reinterpret_cast<db_file*>(f);
  // SQLite writes the wal-index header (making frames visible to readers) around this barrier.
  // With synchronous=FULL the commit's sync already wrote everything; this only matters for a
  // connection that does not sync its commits.
  if (d->wal && d->wal->len && flush(d->wal) != SQLITE_OK) d->wal->broken = true;
  d->real->pMethods->xShmBarrier(d->real);
}

int db_shm_unmap(sqlite3_file* f, int del) { return real_of(f)->pMethods->xShmUnmap(real_of(f), del); }
int db_fetch(sqlite3_file* f, sqlite3_int64 o, int amt, void** pp) {
  return real_of(f)->pMethods->xFetch(real_of(f), o, amt, pp);
}
int db_unfetch(sqlite3_file* f, sqlite3_int64 o, void* p) {
  return real_of(f)->pMethods->xUnfetch(real_of(f), o, p);
}

sqlite3_io_methods g_db_methods;  // filled from the default VFS's methods' version at first open
std::once_flag g_db_methods_once;

void init_db_methods(int real_version) {
  g_db_methods = sqlite3_io_methods{
      std::min(real_version, 3), db_close,      db_read,      db_write,      db_truncate,
      db_sync,                   db_file_size,  pass_lock,    pass_unlock,   pass_check_reserved,
      pass_file_control,         pass_sector_size, pass_device_characteristics,
      db_shm_map,                db_shm_lock,   db_shm_barrier, db_shm_unmap, db_fetch,
      db_unfetch,
  };
}

int vfs_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  const bool main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  const bool wal = (flags & SQLITE_OPEN_WAL) != 0;
  if (!main_db && !wal) {
    // Journals, temp files: the default VFS's own file in place, no wrapper.
    return g_real->xOpen(g_real, name, f, flags, out_flags);
  }
  f->pMethods = nullptr;
  auto* real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + k_header);
  int rc = g_real->xOpen(g_real, name, real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  if (main_db) {
    auto* d = reinterpret_cast<db_file*>(f);
    d->real = real;
    d->wal = nullptr;
    std::call_once(g_db_methods_once, [&] { init_db_methods(real->pMethods->iVersion); });
    d->base.pMethods = &g_db_methods;
    return SQLITE_OK;
  }
  auto* w = reinterpret_cast<wal_file*>(f);
  w->real = real;
  w->db = nullptr;
  w->buf = nullptr;
  w->len = 0;
  w->cap = 0;
  w->off = 0;
  w->broken = false;
  sqlite3_file* owner = name ? sqlite3_database_file_object(name) : nullptr;
  if (owner && owner->pMethods == &g_db_methods) {
    w->db = reinterpret_cast<db_file*>(owner);
    w->db->wal = w;
  }
  w->base.pMethods = &k_wal_methods;
  return SQLITE_OK;
}

}  // namespace

const char* wal_batch_vfs_name() {
  static const char* name = [] () -> const char* {
    g_real = sqlite3_vfs_find(nullptr);
    if (!g_real) return nullptr;
    g_vfs = *g_real;
    g_vfs.zName = "closeloop-wal-batch";
    g_vfs.pNext = nullptr;
    g_vfs.szOsFile = static_cast<int>(k_header + static_cast<std::size_t>(g_real->szOsFile));
    g_vfs.xOpen = vfs_open;
    if (sqlite3_vfs_register(&g_vfs, 0) != SQLITE_OK) return nullptr;
    return g_vfs.zName;
  }();
  return name;
}

wal_batch_counters wal_batch_stats() {
  return {g_requested.load(std::memory_order_relaxed), g_issued.load(std::memory_order_relaxed),
          g_dropped.load(std::memory_order_relaxed)};
}

}  // namespace closeloop::store_detail
