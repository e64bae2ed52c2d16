// The version log itself: commits read back bit-exactly, delta chains, deferred compression and
// compaction, deduplication, corruption and full disks reported without losing committed
// versions, map growth, and bad input. Real LMDB files in temp dirs.
#include "strata/versioning/version_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>

#include "strata/framework/core/error.h"
#include "strata/versioning/internal/lmdb_env.h"
#include "tests/expect_error.h"
#include "tests/versioning/corruption_util.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using vtest::commit_epochs;
using vtest::commit_state;
using vtest::expect_state_eq;
using vtest::expect_tensors_eq;
using vtest::synthetic_state;
using vtest::TempDir;

TEST(VersionLog, CommitAndReadBackBitExact) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  TrainState s = synthetic_state(1);
  s.metrics["val/f1"] = std::nan("");  // non-finite metrics survive too
  CommitId id = commit_state(*log, s, {});
  EXPECT_EQ(log->head("main"), id);
  TrainState back = log->read_state(id);
  EXPECT_TRUE(std::isnan(back.metrics.at("val/f1")));
  back.metrics.erase("val/f1");
  TrainState want = synthetic_state(1);
  expect_state_eq(back, want);
  EXPECT_TRUE(log->read_graph(s.graph.graph_id()) == s.graph);
  EXPECT_TRUE(log->read_tensor(id, "optim/fc1/weight/m").bit_equal(s.optim[0].second));
  CommitRecord r = log->read_record(id);
  EXPECT_EQ(r.author, "tester@host");
  EXPECT_EQ(r.epoch, 1);
  EXPECT_EQ(r.global_step, 10);
  EXPECT_TRUE(r.optim_present);
  EXPECT_EQ(r.optim.size(), 8u);
  EXPECT_EQ(r.id(), id);  // the id is the hash of the stored record

  // Reopening (read-only) gives the same.
  log.reset();
  auto ro = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  back = ro->read_state(id);
  back.metrics.erase("val/f1");
  expect_state_eq(back, want);
  EXPECT_EQ(ro->settings().keyframe_interval, 8);
  EXPECT_EQ(ro->settings().format_version, 3u);
}

TEST(VersionLog, DeltaChainsAcrossKeyframesReadBackBitExact) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite, LogOptions().keyframe_interval(3));
  // A 320 KB layer that moves a little every epoch, and a frozen table.
  std::vector<CommitId> ids;
  for (int e = 1; e <= 10; ++e) {
    std::vector<CommitId> parents;
    if (!ids.empty()) parents.push_back(ids.back());
    ids.push_back(commit_state(*log, synthetic_state(e, 7, 7000, 80000), parents));
  }
  // A fresh reader (no caches) reads every version bit-exactly.
  log.reset();
  auto ro = VersionLog::open(dir.path(), OpenMode::kReadOnly, LogOptions().decode_cache_bytes(0));
  for (int e = 1; e <= 10; ++e) expect_state_eq(ro->read_state(ids[e - 1]), synthetic_state(e, 7, 7000, 80000));
  // Chains are bounded by the keyframe interval, and deltas were used.
  auto env = LmdbEnv::open(dir.sub("versions.lmdb"), true, 0);
  int deltas = 0, max_depth = 0;
  env->read([&](const LmdbTxn& txn) {
    txn.scan_from(Db::kChunks, {}, [&](std::string_view, std::string_view v) {
      ChunkHeader h = parse_chunk_header(v);
      deltas += h.delta;
      max_depth = std::max<int>(max_depth, h.depth);
      return true;
    });
  });
  EXPECT_EQ(deltas, 3 * 6);  // head/weight, its m and v, at epochs 2, 3, 5, 6, 8, 9
  EXPECT_EQ(max_depth, 2);
  EXPECT_TRUE(ro->verify().ok());
  EXPECT_EQ(ro->history("main").size(), 10u);
  EXPECT_EQ(ro->history("main").front(), ids.back());
}

// Every chunk value of a log, by id.
std::map<ChunkId, std::string> chunk_values(const std::string& log_dir) {
  std::map<ChunkId, std::string> out;
  auto env = LmdbEnv::open(log_dir + "/versions.lmdb", true, 0);
  env->read([&](const LmdbTxn& txn) {
    txn.scan_from(Db::kChunks, {}, [&](std::string_view k, std::string_view v) {
      out.emplace(digest_from_bytes(k), std::string(v));
      return true;
    });
  });
  return out;
}

TEST(VersionLog, DeferredCompressionStoresRawThenCompactsToTheBytesADirectWriteStores) {
  TempDir direct_dir, deferred_dir;
  auto direct = VersionLog::open(direct_dir.path(), OpenMode::kReadWrite, LogOptions().keyframe_interval(3));
  auto deferred = VersionLog::open(deferred_dir.path(), OpenMode::kReadWrite, LogOptions().keyframe_interval(3));
  std::vector<CommitId> ids;
  for (int e = 1; e <= 5; ++e) {
    TrainState s = synthetic_state(e, 7, 7000, 80000);
    SnapshotRequest r;
    if (!ids.empty()) r.parents = {ids.back()};
    r.author = "tester@host";
    r.wall_time_ms = 1700000000000 + e;
    r.state = &s;
    const CommitId a = direct->write(direct->prepare(r)).id;
    CommitResult b = deferred->write(deferred->prepare(r), WriteOptions().defer_compression(true));
    ASSERT_EQ(a, b.id);  // the same version, whatever its storage
    EXPECT_EQ(b.stats.delta_chunks, 0u);
    ids.push_back(a);
  }
  EXPECT_EQ(deferred->pending_versions(), 5u);
  for (const auto& [id, value] : chunk_values(deferred_dir.path())) EXPECT_EQ(parse_chunk_header(value).codec, ChunkCodec::kRaw);
  // Readable bit-exactly before compaction.
  for (int e = 1; e <= 5; ++e) expect_state_eq(deferred->read_state(ids[e - 1]), synthetic_state(e, 7, 7000, 80000));

  CompactReport report = deferred->compact_pending(2);
  EXPECT_EQ(report.versions, 5u);
  EXPECT_EQ(deferred->pending_versions(), 0u);
  EXPECT_GT(report.delta_chunks, 0u);
  EXPECT_LT(report.bytes_after, report.bytes_before);
  // Byte for byte what the direct write stored: the same codec, the same delta bases and depths.
  EXPECT_EQ(chunk_values(deferred_dir.path()), chunk_values(direct_dir.path()));
  for (int e = 1; e <= 5; ++e) {
    EXPECT_EQ(deferred->read_stats(ids[e - 1])->encode(), direct->read_stats(ids[e - 1])->encode());
    expect_state_eq(deferred->read_state(ids[e - 1]), synthetic_state(e, 7, 7000, 80000));
  }
  EXPECT_TRUE(deferred->verify().ok());
  EXPECT_EQ(deferred->compact_pending().versions, 0u);  // nothing left
}

// The quick tier (what a run does at fit end) leaves keyframes in shuffle+zstd and the versions
// queued; the full tier then stores exactly what a direct write stores.
TEST(VersionLog, QuickThenFullCompactionEndsWithTheBytesADirectWriteStores) {
  TempDir direct_dir, deferred_dir;
  auto direct = VersionLog::open(direct_dir.path(), OpenMode::kReadWrite, LogOptions().keyframe_interval(3));
  auto deferred = VersionLog::open(deferred_dir.path(), OpenMode::kReadWrite, LogOptions().keyframe_interval(3));
  std::vector<CommitId> ids;
  for (int e = 1; e <= 5; ++e) {
    TrainState s = synthetic_state(e, 7, 7000, 80000);
    SnapshotRequest r;
    if (!ids.empty()) r.parents = {ids.back()};
    r.wall_time_ms = 1700000000000 + e;  // the same version in both logs
    r.state = &s;
    ids.push_back(direct->write(direct->prepare(r)).id);
    ASSERT_EQ(deferred->write(deferred->prepare(r), WriteOptions().defer_compression(true)).id, ids.back());
  }
  CompactReport quick = deferred->compact_pending(2, CompactTier::kFast);
  EXPECT_EQ(quick.versions, 5u);
  EXPECT_EQ(quick.delta_chunks, 0u);
  EXPECT_GT(quick.chunks_encoded, 0u);
  EXPECT_LT(quick.bytes_after, quick.bytes_before);
  EXPECT_EQ(deferred->pending_versions(), 5u);  // still queued for the full tier
  size_t quick_chunks = 0;
  for (const auto& [id, value] : chunk_values(deferred_dir.path())) {
    const ChunkHeader h = parse_chunk_header(value);
    EXPECT_FALSE(h.delta);
    EXPECT_TRUE(h.codec == ChunkCodec::kShuffleZstd || h.codec == ChunkCodec::kRaw);
    quick_chunks += h.codec == ChunkCodec::kShuffleZstd;
  }
  EXPECT_EQ(quick_chunks, quick.chunks_encoded);
  EXPECT_EQ(deferred->compact_pending(2, CompactTier::kFast).chunks_encoded, 0u);  // nothing raw is left
  for (int e = 1; e <= 5; ++e) expect_state_eq(deferred->read_state(ids[e - 1]), synthetic_state(e, 7, 7000, 80000));

  EXPECT_EQ(deferred->compact_pending(2, CompactTier::kFull).versions, 5u);
  EXPECT_EQ(deferred->pending_versions(), 0u);
  EXPECT_EQ(chunk_values(deferred_dir.path()), chunk_values(direct_dir.path()));
  for (int e = 1; e <= 5; ++e) EXPECT_EQ(deferred->read_stats(ids[e - 1])->encode(), direct->read_stats(ids[e - 1])->encode());
  deferred.reset();
  auto ro = VersionLog::open(deferred_dir.path(), OpenMode::kReadOnly, LogOptions().decode_cache_bytes(0));
  for (int e = 1; e <= 5; ++e) expect_state_eq(ro->read_state(ids[e - 1]), synthetic_state(e, 7, 7000, 80000));
  EXPECT_TRUE(ro->verify().ok());
}

// A direct write (a merge, an inline recorder) after queued versions, raw (a killed run) or in
// the quick tier (a finished run): its deltas must not point at chunks that compaction later
// turns into deeper deltas.
TEST(VersionLog, ADirectWriteAfterQueuedVersionsCompactsThemFirst) {
  for (bool quick : {false, true}) {
    TempDir dir;
    auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite, LogOptions().keyframe_interval(4));
    std::vector<CommitId> ids;
    for (int e = 1; e <= 6; ++e) {
      TrainState s = synthetic_state(e, 7, 20000);
      SnapshotRequest r;
      if (!ids.empty()) r.parents = {ids.back()};
      r.state = &s;
      const bool deferred = e <= 3 || e == 5;  // 1-3 queued, 4 direct, 5 queued, 6 direct
      ids.push_back(log->write(log->prepare(r), WriteOptions().defer_compression(deferred)).id);
      if (quick && deferred) log->compact_pending(2, CompactTier::kFast);
      EXPECT_EQ(log->pending_versions(), deferred ? (e <= 3 ? size_t(e) : 1u) : 0u) << e << " " << quick;
    }
    EXPECT_EQ(log->compact_pending().versions, 0u);
    log.reset();
    auto ro = VersionLog::open(dir.path(), OpenMode::kReadOnly, LogOptions().decode_cache_bytes(0));
    for (int e = 1; e <= 6; ++e) expect_state_eq(ro->read_state(ids[e - 1]), synthetic_state(e, 7, 20000));
    EXPECT_TRUE(ro->verify().ok());
  }
}

TEST(VersionLog, CompactionSkipsVersionsGcDeletedAndLeavesAFreshReaderConsistent) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids;
  for (int e = 1; e <= 3; ++e) {
    TrainState s = synthetic_state(e, 7, 20000);
    SnapshotRequest r;
    if (!ids.empty()) r.parents = {ids.back()};
    r.branch = e == 3 ? "side" : "main";
    r.state = &s;
    ids.push_back(log->write(log->prepare(r), WriteOptions().defer_compression(true)).id);
  }
  log->delete_branch("side");
  EXPECT_EQ(log->gc().commits_deleted, 1u);
  CompactReport report = log->compact_pending();
  EXPECT_EQ(report.versions, 3u);  // the deleted one is dropped from the queue
  EXPECT_EQ(log->pending_versions(), 0u);
  log.reset();
  auto ro = VersionLog::open(dir.path(), OpenMode::kReadOnly, LogOptions().decode_cache_bytes(0));
  for (int e = 1; e <= 2; ++e) expect_state_eq(ro->read_state(ids[e - 1]), synthetic_state(e, 7, 20000));
  EXPECT_TRUE(ro->verify().ok());
}

TEST(VersionLog, FrozenTensorIsStoredOnce) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  const int64_t big = 400000;  // 1.6 MB: two chunks
  std::vector<CommitId> ids;
  uint64_t chunks_after_first = 0;
  for (int e = 1; e <= 5; ++e) {
    TrainState s = synthetic_state(e, 7, big);
    SnapshotRequest r;
    if (!ids.empty()) r.parents = {ids.back()};
    r.state = &s;
    r.wall_time_ms = 1000 * e;
    CommitResult res = log->commit(r);
    ids.push_back(res.id);
    if (e == 1) {
      chunks_after_first = res.stats.new_chunks;
      EXPECT_EQ(res.stats.reused_chunks, 0u);
    } else {
      EXPECT_EQ(res.stats.reused_chunks, 2u);  // both chunks of the frozen table
      EXPECT_EQ(res.stats.stored_bytes.count("frozen/table"), 0u);
      EXPECT_LT(res.stats.new_stored_bytes, 2000u);  // only the small tensors are new
    }
  }
  // 2 chunks for the table + 12 small tensors per version.
  EXPECT_EQ(chunks_after_first, 14u);
  LmdbStats st = LmdbEnv::open(dir.sub("versions.lmdb"), true, 0)->stats();
  EXPECT_EQ(st.chunk_count, 14u + 4 * 12u);
  EXPECT_LT(st.chunk_value_bytes, 1600000u + 50000u);
  expect_tensors_eq(log->read_params(ids[4]), synthetic_state(5, 7, big).params);
}

TEST(VersionLog, FlippedChunkBytesAreCorruptionNamingVersionAndTensor) {
  TempDir dir;
  auto [ids, victim] = vtest::make_log_with_victim(dir);
  ASSERT_GT(victim.size(), 200u);
  ASSERT_GE(vtest::flip_chunk_bytes(dir.sub("versions.lmdb/data.mdb"), victim), 1);

  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  expect_error([&] { log->read_params(ids[1]); }, ErrorCode::kCorruption, {short_hex(ids[1]), "main@2", "fc3/weight"});
  expect_error([&] { log->read_tensor(ids[1], "fc3/weight"); }, ErrorCode::kCorruption, {"fc3/weight"});
  expect_error([&] { log->read_state(ids[1]); }, ErrorCode::kCorruption, {"main@2"});
  // Versions that do not share the chunk still read, and so do the other tensors of version 2.
  EXPECT_NO_THROW(log->read_params(ids[0]));
  EXPECT_NO_THROW(log->read_params(ids[2]));
  EXPECT_TRUE(log->read_tensor(ids[1], "fc1/weight").bit_equal(synthetic_state(2, 7, 4096).params[0].second));
  VerifyReport report = log->verify();
  ASSERT_EQ(report.issues.size(), 1u);
  EXPECT_EQ(report.issues[0].version, ids[1]);
  EXPECT_EQ(report.issues[0].tensor, "fc3/weight");
  EXPECT_EQ(report.versions_checked, 3u);
}

TEST(VersionLog, TruncatedDataFileOrDamagedMetaPageIsCorruptionNotACrash) {
  TempDir dir;
  {
    auto log = VersionLog::open(dir.sub("log"), OpenMode::kReadWrite);
    commit_epochs(*log, 4, 100000);
  }
  const std::string data = dir.sub("log/versions.lmdb/data.mdb");
  const std::string good = [&] {
    std::ifstream in(data, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }();
  ASSERT_GT(good.size(), 65536u);
  auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, good.data() + at, 4);
    return v;
  };
  auto u64 = [&](size_t at) {
    uint64_t v;
    std::memcpy(&v, good.data() + at, 8);
    return v;
  };
  const uint32_t page = u32(40);
  ASSERT_EQ(page, 4096u);
  const size_t current = u64(page + 144) > u64(144) ? page : 0;
  std::vector<std::pair<std::string, std::string>> damaged = {{"half", good.substr(0, good.size() / 2)},
                                                              {"8192", good.substr(0, 8192)},
                                                              {"12288", good.substr(0, 12288)},
                                                              {"100", good.substr(0, 100)},
                                                              {"page size high byte", good},
                                                              {"magic", good}};
  damaged[4].second[current + 43] = static_cast<char>(damaged[4].second[current + 43] ^ 0x7F);
  damaged[5].second[16] = static_cast<char>(damaged[5].second[16] ^ 0x01);
  for (const auto& [what, bytes] : damaged) {
    SCOPED_TRACE(what);
    std::filesystem::remove_all(dir.sub("copy"));
    std::filesystem::create_directories(dir.sub("copy/versions.lmdb"));
    std::ofstream(dir.sub("copy/versions.lmdb/data.mdb"), std::ios::binary) << bytes;
    for (OpenMode mode : {OpenMode::kReadOnly, OpenMode::kReadWrite})
      expect_error([&] { VersionLog::open(dir.sub("copy"), mode); }, ErrorCode::kCorruption, {"data.mdb", "damaged"});
    // Nothing was changed: the file is as damaged as before, no bigger.
    EXPECT_EQ(std::filesystem::file_size(dir.sub("copy/versions.lmdb/data.mdb")), bytes.size());
  }
  // The undamaged log still opens and reads.
  EXPECT_EQ(VersionLog::open(dir.sub("log"), OpenMode::kReadOnly)->history("main").size(), 4u);
}

// A full disk during a commit says so, with the free bytes, and loses nothing committed before.
TEST(VersionLog, AFullDiskIsReportedAndCommittedVersionsSurvive) {
  TempDir dir;
  const std::string mnt = dir.sub("small");
  std::filesystem::create_directories(mnt);
  if (::geteuid() != 0 || std::system(("mount -t tmpfs -o size=2m tmpfs " + mnt + " 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "needs root to mount a 2 MiB tmpfs";
  struct Unmount {
    std::string path;
    ~Unmount() { (void)std::system(("umount " + path).c_str()); }
  } unmount{mnt};
  CommitId first{};
  {
    auto log = VersionLog::open(mnt + "/log", OpenMode::kReadWrite, LogOptions().initial_map_bytes(size_t{8} << 20));
    first = commit_state(*log, synthetic_state(1), {}, "main");
    // About 4 MB of tensors that do not compress: more than the file system has left.
    expect_error([&] { commit_state(*log, synthetic_state(2, 7, 1000000), {first}, "main"); }, ErrorCode::kIOError,
                 {"the disk is full", "bytes free", "not written"});
    EXPECT_EQ(log->head("main"), first);
  }
  auto log = VersionLog::open(mnt + "/log", OpenMode::kReadOnly);
  EXPECT_EQ(log->head("main"), first);
  expect_state_eq(log->read_state(first), synthetic_state(1));
  EXPECT_TRUE(log->verify().ok());
}

TEST(VersionLog, MapGrowsWhenFull) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite, LogOptions().initial_map_bytes(1 << 20).codec(ChunkCodec::kRaw));
  std::vector<CommitId> ids = commit_epochs(*log, 3, 1 << 20);  // 4 MB table > 1 MiB map
  auto env = LmdbEnv::open(dir.sub("versions.lmdb"), true, 0);
  EXPECT_GT(env->map_bytes(), 4u << 20);
  for (int e = 1; e <= 3; ++e) expect_state_eq(log->read_state(ids[e - 1]), synthetic_state(e, 7, 1 << 20));
}

TEST(VersionLog, BadInput) {
  TempDir dir;
  // Nonexistent log, read-only.
  expect_error([&] { VersionLog::open(dir.sub("none"), OpenMode::kReadOnly); }, ErrorCode::kNotFound,
               {"no version log", "--log-dir"});
  // A log directory that cannot be created (under a regular file; chmod is no obstacle to root).
  std::ofstream(dir.sub("file")) << "x";
  expect_error([&] { VersionLog::open(dir.sub("file/log"), OpenMode::kReadWrite); }, ErrorCode::kIOError, {"file"});
  if (::geteuid() != 0) {
    ::mkdir(dir.sub("ro").c_str(), 0555);
    expect_error([&] { VersionLog::open(dir.sub("ro/log"), OpenMode::kReadWrite); }, ErrorCode::kIOError, {});
  }
  expect_error([&] { VersionLog::open(dir.sub("x"), OpenMode::kReadWrite, LogOptions().keyframe_interval(0)); },
               ErrorCode::kInvalidArgument, {"keyframe"});

  auto log = VersionLog::open(dir.sub("log"), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 1);
  expect_error([&] { log->read_record(hash128("nope", 4)); }, ErrorCode::kNotFound, {"no version"});
  expect_error([&] { log->read_tensor(ids[0], "fc9/weight"); }, ErrorCode::kNotFound, {"fc9/weight"});
  expect_error([&] { log->history("nope"); }, ErrorCode::kNotFound, {"nope"});
  SnapshotRequest orphan;
  TrainState s = synthetic_state(2);
  orphan.state = &s;
  orphan.branch = "orphan";
  orphan.parents = {hash128("missing", 7)};
  expect_error([&] { log->commit(orphan); }, ErrorCode::kNotFound, {"parent"});
  // The same log opened twice for writing in one process.
  expect_error([&] { VersionLog::open(dir.sub("log"), OpenMode::kReadWrite); }, ErrorCode::kFailedPrecondition, {});
  // Read-only opens share the writer's environment and see its commits.
  auto ro = VersionLog::open(dir.sub("log"), OpenMode::kReadOnly);
  EXPECT_EQ(ro->head("main"), ids[0]);
  expect_error([&] { ro->commit(orphan); }, ErrorCode::kFailedPrecondition, {"read-only"});
  ro.reset();
  log.reset();

  // A log written by a newer format is refused with both versions named.
  {
    auto env = LmdbEnv::open(dir.sub("log/versions.lmdb"), false, 0);
    env->write([](LmdbTxn& txn) { txn.put(Db::kMeta, "format_version", "99"); });
  }
  for (OpenMode mode : {OpenMode::kReadOnly, OpenMode::kReadWrite})
    expect_error([&] { VersionLog::open(dir.sub("log"), mode); }, ErrorCode::kFailedPrecondition,
                 {"format version 99", "1 to 3", "upgrade"});

  // A version-1 log (no mode-2 chunks, no digests) still reads; a writer raises it to the current
  // version, sealing the digests, before it may add anything.
  {
    auto env = LmdbEnv::open(dir.sub("log/versions.lmdb"), false, 0);
    env->write([](LmdbTxn& txn) { txn.put(Db::kMeta, "format_version", "1"); });
  }
  EXPECT_EQ(VersionLog::open(dir.sub("log"), OpenMode::kReadOnly)->settings().format_version, 1u);
  EXPECT_EQ(VersionLog::open(dir.sub("log"), OpenMode::kReadWrite)->settings().format_version, 3u);
  EXPECT_EQ(VersionLog::open(dir.sub("log"), OpenMode::kReadOnly)->settings().format_version, 3u);
}

}  // namespace
}  // namespace strata::versioning
