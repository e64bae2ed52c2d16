// LmdbEnv: the one place that talks to LMDB (docs/formats.md "Environment").
//
// Owns an MDB_env on <log_dir>/versions.lmdb with the named databases of the version log, turns
// every LMDB return code into strata::Error, grows the map on MDB_MAP_FULL (abort, double the map,
// rerun the transaction body) and adopts a map grown by another process (MDB_MAP_RESIZED). A
// read-write env also holds the writer lock (flock on versions.lmdb/writer.lock), so a second
// writer, in this or another process, gets a clear error instead of a corrupted log.
//
// One LmdbEnv per log directory per process: LMDB forbids opening an environment twice in one
// process, so open() hands out a shared instance for read-only opens of a log already open here.
//
// Thread-safety: thread-safe. Read transactions run concurrently (MDB_NOTLS); write transactions
// are serialised; the map is resized only while no transaction of this process is open.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

struct MDB_env;
struct MDB_txn;

namespace strata::versioning {

// kPending, kSignatures and kTrust are optional: logs written before they existed lack them, and a
// read-only open of such a log sees them as empty (writers create them).
enum class Db : int {
  kMeta = 0,
  kChunks,
  kCommits,
  kGraphs,
  kRefs,
  kIndex,
  kOptim,
  kStats,
  kPending,
  kSignatures,
  kTrust,
  kCount
};
const char* db_name(Db db);

class LmdbTxn {
 public:
  // Value views point into the map and are valid until the transaction body returns.
  std::optional<std::string_view> get(Db db, std::string_view key) const;
  bool exists(Db db, std::string_view key) const { return get(db, key).has_value(); }
  // REQUIRES: a write transaction. On a guarded database (internal/index_guard.h) put and del
  // also update its digest.
  void put(Db db, std::string_view key, std::string_view value);
  // Returns whether the key was there. REQUIRES: a write transaction.
  bool del(Db db, std::string_view key);
  // Visits keys >= `from` in key order while `fn` returns true.
  void scan_from(Db db, std::string_view from, const std::function<bool(std::string_view key, std::string_view value)>& fn) const;
  // Visits the keys that start with `prefix`, in key order, while `fn` returns true.
  void scan_prefix(Db db, std::string_view prefix,
                   const std::function<bool(std::string_view key, std::string_view value)>& fn) const;
  uint64_t count(Db db) const;
  // The largest key, nullopt when the database is empty.
  std::optional<std::string> last_key(Db db) const;
  bool writable() const { return writable_; }

 private:
  friend class LmdbEnv;
  LmdbTxn(const class LmdbEnv* env, MDB_txn* txn, bool writable) : env_(env), txn_(txn), writable_(writable) {}
  void raw_put(Db db, std::string_view key, std::string_view value);
  bool raw_del(Db db, std::string_view key);
  // Moves db's digest from the entry (key, old_value) to (key, new_value); either may be absent.
  void update_digest(Db db, std::string_view key, const std::optional<std::string>& old_value,
                     const std::optional<std::string_view>& new_value);
  const class LmdbEnv* env_;
  MDB_txn* txn_;
  bool writable_;
};

struct LmdbStats {
  uint64_t map_bytes = 0;   // current map size
  uint64_t used_bytes = 0;  // pages in use (last page number + 1) * page size
  uint64_t file_bytes = 0;  // size of data.mdb on disk
  uint64_t chunk_value_bytes = 0;
  uint64_t chunk_count = 0;
};

class LmdbEnv {
 public:
  // dir: the versions.lmdb directory. A read-write open creates it (and the named databases)
  // when missing and takes the writer lock; a read-only open requires an existing log.
  static std::shared_ptr<LmdbEnv> open(const std::string& dir, bool read_only, size_t initial_map_bytes);
  // True while some process (this one included) holds the writer lock of the log in `dir`.
  static bool writer_active(const std::string& dir);
  ~LmdbEnv();
  LmdbEnv(const LmdbEnv&) = delete;
  LmdbEnv& operator=(const LmdbEnv&) = delete;

  bool read_only() const { return read_only_; }
  const std::string& dir() const { return dir_; }

  // Runs `body` in a read transaction (retried after adopting a map grown by another process).
  void read(const std::function<void(const LmdbTxn&)>& body) const;
  // Runs `body` in a write transaction and commits it durably. On MDB_MAP_FULL the transaction is
  // aborted, the map doubled and `body` run again, so `body` must be repeatable. If `body` throws,
  // nothing is written.
  void write(const std::function<void(LmdbTxn&)>& body);

  LmdbStats stats() const;
  uint64_t map_bytes() const;
  int map_growths() const { return map_growths_; }

 private:
  friend class LmdbTxn;
  LmdbEnv() = default;
  unsigned dbi(Db db) const { return dbis_[static_cast<int>(db)]; }
  bool present(Db db) const { return present_[static_cast<int>(db)]; }
  // A commit failed with ENOSPC or EIO: throws "the disk is full" when the file system is (nearly) full.
  void throw_if_disk_full(int rc) const;
  void grow_map(uint64_t at_least);
  void adopt_map_size() const;

  std::string dir_;
  bool read_only_ = true;
  MDB_env* env_ = nullptr;
  unsigned dbis_[static_cast<int>(Db::kCount)] = {};
  bool present_[static_cast<int>(Db::kCount)] = {};  // false only for an optional database a reader lacks
  int lock_fd_ = -1;
  int map_growths_ = 0;
  // Shared by every open transaction of this process; exclusive while the map is resized.
  mutable std::shared_mutex resize_mu_;
  std::mutex write_mu_;
};

}  // namespace strata::versioning
