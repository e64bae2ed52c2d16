#include "strata/versioning/internal/lmdb_env.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>

#include "strata/framework/core/error.h"
#include "strata/versioning/internal/index_guard.h"

namespace strata::versioning {
namespace {

constexpr size_t kMinMapBytes = size_t{1} << 20;

// Thrown by LmdbTxn::put when the map is full; LmdbEnv::write catches it, grows the map and reruns.
struct MapFull {};

[[noreturn]] void throw_lmdb(int rc, const std::string& op, const std::string& where) {
  std::string what = op + ": " + mdb_strerror(rc);
  switch (rc) {
    case ENOENT:
      throw Error(ErrorCode::kNotFound, what, where);
    case EACCES:
    case EPERM:
    case EROFS:
      throw Error(ErrorCode::kIOError, what, where, "check the permissions of the log directory");
    case ENOSPC:
      throw Error(ErrorCode::kIOError, what, where, "the disk is full: free space and retry");
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
      throw Error(ErrorCode::kCorruption, what, where, "the LMDB file is damaged or not a version log");
    case MDB_READERS_FULL:
      throw Error(ErrorCode::kFailedPrecondition, what, where, "too many readers have this log open");
    default:
      throw Error(ErrorCode::kIOError, what, where);
  }
}

MDB_val to_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view from_val(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

std::mutex& registry_mutex() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, std::weak_ptr<LmdbEnv>>& registry() {
  static std::map<std::string, std::weak_ptr<LmdbEnv>> envs;
  return envs;
}

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) return path;
  return buf;
}

void make_dirs(const std::string& dir) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
      int err = errno;
      throw Error(ErrorCode::kIOError, std::string("cannot create directory: ") + std::strerror(err), partial,
                  "choose a writable log directory");
    }
    struct stat st;
    if (::stat(partial.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      throw Error(ErrorCode::kIOError, "not a directory", partial, "choose a writable log directory");
  }
}

}  // namespace

const char* db_name(Db db) {
  switch (db) {
    case Db::kMeta:
      return "meta";
    case Db::kChunks:
      return "chunks";
    case Db::kCommits:
      return "commits";
    case Db::kGraphs:
      return "graphs";
    case Db::kRefs:
      return "refs";
    case Db::kIndex:
      return "index";
    case Db::kOptim:
      return "optim";
    case Db::kStats:
      return "stats";
    case Db::kPending:
      return "pending";
    case Db::kSignatures:
      return "signatures";
    case Db::kTrust:
      return "trust";
    case Db::kCount:
      break;
  }
  return "?";
}

// ---- LmdbTxn ---------------------------------------------------------------------------------

std::optional<std::string_view> LmdbTxn::get(Db db, std::string_view key) const {
  if (!env_->present(db)) return std::nullopt;
  MDB_val k = to_val(key), v;
  int rc = mdb_get(txn_, env_->dbi(db), &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) throw_lmdb(rc, std::string("read from ") + db_name(db), env_->dir());
  return from_val(v);
}

void LmdbTxn::put(Db db, std::string_view key, std::string_view value) {
  if (is_guarded(db)) {
    auto old = get(db, key);
    const std::optional<std::string> old_value = old ? std::optional<std::string>(std::string(*old)) : std::nullopt;
    raw_put(db, key, value);
    update_digest(db, key, old_value, value);
    return;
  }
  raw_put(db, key, value);
}

bool LmdbTxn::del(Db db, std::string_view key) {
  if (is_guarded(db)) {
    auto old = get(db, key);
    if (!old) return false;
    const std::string old_value(*old);
    raw_del(db, key);
    update_digest(db, key, old_value, std::nullopt);
    return true;
  }
  return raw_del(db, key);
}

void LmdbTxn::update_digest(Db db, std::string_view key, const std::optional<std::string>& old_value,
                            const std::optional<std::string_view>& new_value) {
  // A log from before digests has none until VersionLog::open seals one; nothing to keep then.
  std::optional<IndexDigest> d = stored_digest(*this, db);
  if (!d) return;
  if (old_value) d->remove(key, *old_value);
  if (new_value) d->add(key, *new_value);
  raw_put(Db::kMeta, digest_key(db), d->encode());
}

void LmdbTxn::raw_put(Db db, std::string_view key, std::string_view value) {
  STRATA_CHECK(writable_);
  MDB_val k = to_val(key), v = to_val(value);
  int rc = mdb_put(txn_, env_->dbi(db), &k, &v, 0);
  if (rc == MDB_MAP_FULL) throw MapFull{};
  if (rc != 0) throw_lmdb(rc, std::string("write to ") + db_name(db), env_->dir());
}

bool LmdbTxn::raw_del(Db db, std::string_view key) {
  STRATA_CHECK(writable_);
  MDB_val k = to_val(key);
  int rc = mdb_del(txn_, env_->dbi(db), &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc == MDB_MAP_FULL) throw MapFull{};
  if (rc != 0) throw_lmdb(rc, std::string("delete from ") + db_name(db), env_->dir());
  return true;
}

void LmdbTxn::scan_from(Db db, std::string_view from, const std::function<bool(std::string_view, std::string_view)>& fn) const {
  if (!env_->present(db)) return;
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn_, env_->dbi(db), &cur);
  if (rc != 0) throw_lmdb(rc, std::string("open cursor on ") + db_name(db), env_->dir());
  std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> guard(cur, mdb_cursor_close);
  MDB_val k = to_val(from), v;
  rc = from.empty() ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0) {
    if (!fn(from_val(k), from_val(v))) return;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  if (rc != MDB_NOTFOUND) throw_lmdb(rc, std::string("scan ") + db_name(db), env_->dir());
}

void LmdbTxn::scan_prefix(Db db, std::string_view prefix,
                          const std::function<bool(std::string_view, std::string_view)>& fn) const {
  scan_from(db, prefix, [&](std::string_view k, std::string_view v) {
    if (k.substr(0, prefix.size()) != prefix) return false;
    return fn(k, v);
  });
}

std::optional<std::string> LmdbTxn::last_key(Db db) const {
  if (!env_->present(db)) return std::nullopt;
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn_, env_->dbi(db), &cur);
  if (rc != 0) throw_lmdb(rc, std::string("open cursor on ") + db_name(db), env_->dir());
  std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> guard(cur, mdb_cursor_close);
  MDB_val k, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) throw_lmdb(rc, std::string("scan ") + db_name(db), env_->dir());
  return std::string(from_val(k));
}

uint64_t LmdbTxn::count(Db db) const {
  if (!env_->present(db)) return 0;
  MDB_stat st;
  int rc = mdb_stat(txn_, env_->dbi(db), &st);
  if (rc != 0) throw_lmdb(rc, std::string("stat ") + db_name(db), env_->dir());
  return st.ms_entries;
}

// ---- the data file, before LMDB maps it -------------------------------------------------------

namespace {

// LMDB maps data.mdb and trusts its two meta pages (lmdb.h, MDB_meta in mdb.c): a truncated file
// or a damaged page size makes it touch memory past the end of the file, and the process dies of
// SIGBUS. So check what LMDB would trust first. Meta page layout on 64-bit: page header (16
// bytes), mm_magic u32 @16, mm_version u32 @20, mm_address @24, mm_mapsize @32, mm_dbs[2] @40
// (the free DB's md_pad, u32 @40, holds the page size), mm_last_pg u64 @136, mm_txnid u64 @144.
constexpr uint32_t kLmdbMagic = 0xBEEFC0DE;
constexpr size_t kMetaBytes = 152;

struct MetaPage {
  uint32_t magic = 0, version = 0, page_size = 0;
  uint64_t last_page = 0, txnid = 0;
};

void check_data_file(const std::string& dir) {
  const std::string path = dir + "/data.mdb";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // a new log: LMDB creates the file
  auto bad = [&](const std::string& what) {
    ::close(fd);
    throw Error(ErrorCode::kCorruption, "the log's data file is damaged: " + what, path,
                "restore the log directory from a copy (nothing was changed)");
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0) bad(std::string("cannot stat it: ") + std::strerror(errno));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size == 0) {  // created, never written (a writer killed at once): LMDB initialises it
    ::close(fd);
    return;
  }
  auto read_meta = [&](uint64_t offset, MetaPage& m) {
    unsigned char b[kMetaBytes];
    if (offset + kMetaBytes > size || ::pread(fd, b, kMetaBytes, static_cast<off_t>(offset)) != static_cast<ssize_t>(kMetaBytes))
      return false;
    std::memcpy(&m.magic, b + 16, 4);
    std::memcpy(&m.version, b + 20, 4);
    std::memcpy(&m.page_size, b + 40, 4);
    std::memcpy(&m.last_page, b + 136, 8);
    std::memcpy(&m.txnid, b + 144, 8);
    return true;
  };
  auto page_size_ok = [](uint32_t p) { return p >= 512 && p <= 65536 && (p & (p - 1)) == 0; };
  MetaPage m0, m1;
  if (!read_meta(0, m0)) bad("only " + std::to_string(size) + " bytes, shorter than an LMDB meta page");
  if (m0.magic != kLmdbMagic || m0.version != 1) bad("meta page 0 is not an LMDB meta page (magic or version)");
  if (!page_size_ok(m0.page_size)) bad("meta page 0 has an impossible page size " + std::to_string(m0.page_size));
  if (!read_meta(m0.page_size, m1)) bad("truncated to " + std::to_string(size) + " bytes: the second meta page is missing");
  if (m1.magic != kLmdbMagic || m1.version != 1) bad("meta page 1 is not an LMDB meta page (magic or version)");
  if (!page_size_ok(m1.page_size) || m1.page_size != m0.page_size)
    bad("the meta pages disagree on the page size (" + std::to_string(m0.page_size) + " and " + std::to_string(m1.page_size) +
        ")");
  // LMDB writes transaction t's meta to page t % 2, so page 0 holds an even id, page 1 an odd one
  // (or 0 before the first commit), one apart. A damaged id breaks that, and LMDB would silently
  // pick the other page: the log would open as of an older transaction, its newest refs gone.
  const bool fresh = m0.txnid == 0 && m1.txnid == 0;
  const uint64_t apart = m0.txnid > m1.txnid ? m0.txnid - m1.txnid : m1.txnid - m0.txnid;
  if (!fresh && (m0.txnid % 2 != 0 || m1.txnid % 2 != 1 || apart != 1))
    bad("the meta pages' transaction ids (" + std::to_string(m0.txnid) + " and " + std::to_string(m1.txnid) +
        ") are not consecutive with page 0 even and page 1 odd: one is damaged, and the log would open as of an older "
        "transaction");
  const MetaPage& current = m1.txnid > m0.txnid ? m1 : m0;  // as LMDB chooses
  if (current.last_page > (uint64_t{1} << 40))
    bad("the current meta page names an impossible last page " + std::to_string(current.last_page));
  const uint64_t needed = (current.last_page + 1) * current.page_size;
  if (size < needed)
    bad("truncated to " + std::to_string(size) + " bytes; the current meta page (transaction " + std::to_string(current.txnid) +
        ") needs " + std::to_string(needed));
  ::close(fd);
}

}  // namespace

// ---- LmdbEnv ---------------------------------------------------------------------------------

std::shared_ptr<LmdbEnv> LmdbEnv::open(const std::string& dir, bool read_only, size_t initial_map_bytes) {
  std::lock_guard<std::mutex> registry_lock(registry_mutex());
  if (!read_only) make_dirs(dir);
  struct stat st;
  if (read_only && ::stat((dir + "/data.mdb").c_str(), &st) != 0)
    throw Error(ErrorCode::kNotFound, "no version log here", dir,
                "check the log directory (strata's --log, the examples' --log-dir): a log is created by the first run that "
                "records versions");
  const std::string key = real_path(dir);
  if (auto live = registry()[key].lock()) {
    if (read_only) return live;
    throw Error(ErrorCode::kFailedPrecondition,
                std::string("the log is already open ") + (live->read_only() ? "read-only" : "for writing") + " in this process",
                dir, "share one VersionLog object, or close the other before opening for writing");
  }

  std::shared_ptr<LmdbEnv> env(new LmdbEnv());
  env->dir_ = dir;
  env->read_only_ = read_only;
  if (!read_only) {
    const std::string lock_path = dir + "/writer.lock";
    env->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (env->lock_fd_ < 0) {
      int err = errno;
      throw Error(ErrorCode::kIOError, std::string("cannot create the writer lock: ") + std::strerror(err), lock_path,
                  "choose a writable log directory");
    }
    if (::flock(env->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      if (err == EWOULDBLOCK)
        throw Error(ErrorCode::kFailedPrecondition, "another process is writing to this version log", dir,
                    "wait for it to finish, or open the log read-only (readers work while it writes)");
      throw Error(ErrorCode::kIOError, std::string("cannot lock the log: ") + std::strerror(err), lock_path);
    }
  }
  check_data_file(dir);
  auto open_env = [&](unsigned flags) {
    int rc = mdb_env_create(&env->env_);
    if (rc != 0) throw_lmdb(rc, "create LMDB environment", dir);
    mdb_env_set_maxdbs(env->env_, 16);
    rc = mdb_env_set_mapsize(env->env_, std::max(initial_map_bytes, kMinMapBytes));
    if (rc != 0) throw_lmdb(rc, "set map size", dir);
    rc = mdb_env_open(env->env_, dir.c_str(), flags, 0644);
    if (rc != 0) {
      mdb_env_close(env->env_);
      env->env_ = nullptr;
    }
    return rc;
  };
  const unsigned flags = MDB_NOTLS | (read_only ? MDB_RDONLY : 0u);
  int rc = open_env(flags);
  if (rc == EACCES && read_only) {
    // Another user's log, readable but not writable: LMDB's reader table (lock.mdb) needs write
    // access. Read without it (MDB_NOLOCK): exact unless a writer commits during a read, and
    // chunks and records are re-hashed when read, so such a read fails rather than lies.
    rc = open_env(flags | MDB_NOLOCK);
  }
  if (rc != 0) throw_lmdb(rc, read_only ? "open version log read-only" : "open version log for writing", dir);
  int dead = 0;
  mdb_reader_check(env->env_, &dead);  // clear reader slots of killed processes

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env->env_, nullptr, read_only ? MDB_RDONLY : 0u, &txn);
  if (rc != 0) throw_lmdb(rc, "begin transaction", dir);
  for (int i = 0; i < static_cast<int>(Db::kCount); ++i) {
    rc = mdb_dbi_open(txn, db_name(static_cast<Db>(i)), read_only ? 0u : MDB_CREATE, &env->dbis_[i]);
    const Db db = static_cast<Db>(i);
    if (rc == MDB_NOTFOUND && (db == Db::kPending || db == Db::kSignatures || db == Db::kTrust)) continue;  // optional, see Db
    if (rc != 0) {
      mdb_txn_abort(txn);
      if (rc == MDB_NOTFOUND)
        throw Error(ErrorCode::kCorruption,
                    std::string("database '") + db_name(static_cast<Db>(i)) +
                        "' is missing: the log is being created right now, or this is not a Strata version log",
                    dir, "retry in a moment; if it persists, check the log directory");
      throw_lmdb(rc, std::string("open database ") + db_name(static_cast<Db>(i)), dir);
    }
    env->present_[i] = true;
  }
  rc = mdb_txn_commit(txn);  // also for read-only: keeps the database handles open
  if (rc != 0) throw_lmdb(rc, "open databases", dir);
  registry()[key] = env;
  return env;
}

bool LmdbEnv::writer_active(const std::string& dir) {
  const int fd = ::open((dir + "/writer.lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  // flock conflicts between open file descriptions, in this process too.
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return held;
}

LmdbEnv::~LmdbEnv() {
  if (env_) mdb_env_close(env_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void LmdbEnv::read(const std::function<void(const LmdbTxn&)>& body) const {
  for (;;) {
    std::shared_lock<std::shared_mutex> lock(resize_mu_);
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    if (rc == MDB_MAP_RESIZED) {
      lock.unlock();
      adopt_map_size();
      continue;
    }
    if (rc != 0) throw_lmdb(rc, "begin read transaction", dir_);
    std::unique_ptr<MDB_txn, void (*)(MDB_txn*)> guard(txn, mdb_txn_abort);
    LmdbTxn t(this, txn, false);
    body(t);
    return;
  }
}

void LmdbEnv::write(const std::function<void(LmdbTxn&)>& body) {
  if (read_only_)
    throw Error(ErrorCode::kFailedPrecondition, "the version log is open read-only", dir_,
                "open it with OpenMode::kReadWrite to change it");
  std::lock_guard<std::mutex> serial(write_mu_);
  for (;;) {
    std::shared_lock<std::shared_mutex> lock(resize_mu_);
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) throw_lmdb(rc, "begin write transaction", dir_);
    bool full = false;
    try {
      LmdbTxn t(this, txn, true);
      body(t);
    } catch (const MapFull&) {
      full = true;
    } catch (...) {
      mdb_txn_abort(txn);
      throw;
    }
    if (!full) {
      rc = mdb_txn_commit(txn);  // frees txn whatever the outcome
      if (rc == 0) return;
      if (rc == ENOSPC || rc == EIO) throw_if_disk_full(rc);
      if (rc != MDB_MAP_FULL) throw_lmdb(rc, "commit", dir_);
    } else {
      mdb_txn_abort(txn);
    }
    lock.unlock();
    grow_map(0);
  }
}

void LmdbEnv::throw_if_disk_full(int rc) const {
  // LMDB reports a short write as EIO: when the file system has (almost) no space left, that is
  // what happened. The transaction was not committed: the log stays at its previous state.
  struct statvfs fs {};
  if (::statvfs(dir_.c_str(), &fs) != 0) return;
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (rc == ENOSPC || free_bytes < (uint64_t{16} << 20))
    throw Error(ErrorCode::kIOError,
                "the disk is full: " + std::to_string(free_bytes) +
                    " bytes free on the log's file system; this version was not written (the log is unchanged)",
                dir_, "free space (a version takes about the size of the model and its optimizer state), then resume");
}

void LmdbEnv::grow_map(uint64_t at_least) {
  std::unique_lock<std::shared_mutex> lock(resize_mu_);
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  uint64_t size = std::max<uint64_t>(info.me_mapsize * 2, info.me_mapsize + at_least);
  int rc = mdb_env_set_mapsize(env_, size);
  if (rc != 0) throw_lmdb(rc, "grow the map to " + std::to_string(size) + " bytes", dir_);
  ++map_growths_;
}

void LmdbEnv::adopt_map_size() const {
  std::unique_lock<std::shared_mutex> lock(resize_mu_);
  int rc = mdb_env_set_mapsize(env_, 0);
  if (rc != 0) throw_lmdb(rc, "adopt the grown map size", dir_);
}

uint64_t LmdbEnv::map_bytes() const {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

LmdbStats LmdbEnv::stats() const {
  LmdbStats s;
  MDB_envinfo info;
  MDB_stat st;
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &st);
  s.map_bytes = info.me_mapsize;
  s.used_bytes = (info.me_last_pgno + 1) * uint64_t{st.ms_psize};
  struct stat fst;
  if (::stat((dir_ + "/data.mdb").c_str(), &fst) == 0) s.file_bytes = static_cast<uint64_t>(fst.st_size);
  read([&](const LmdbTxn& txn) {
    txn.scan_from(Db::kChunks, {}, [&](std::string_view, std::string_view v) {
      s.chunk_value_bytes += v.size();
      ++s.chunk_count;
      return true;
    });
  });
  return s;
}

}  // namespace strata::versioning
