// Version log: round trips, delta chains, dedup, corruption, names, refs, retention, gc, merge,
// the recorder callback, and bad input. Real LMDB files in temp dirs.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <iterator>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/framework/core/error.h"
#include "tests/expect_error.h"
#include "tests/versioning/corruption_util.h"
#include "tests/versioning/test_util.h"
#include "strata/versioning/lmdb_env.h"
#include "strata/versioning/recorder.h"
#include "strata/versioning/diff.h"
#include "strata/versioning/commit_graph.h"
#include "strata/versioning/merge.h"
#include "strata/versioning/restore.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {
namespace {

using vtest::expect_state_eq;
using vtest::expect_tensors_eq;
using vtest::synthetic_state;
using vtest::TempDir;

CommitId commit_state(VersionLog& log, const TrainState& s, std::vector<CommitId> parents,
                      const std::string& branch = "main", int64_t time_ms = 0) {
  SnapshotRequest r;
  r.parents = std::move(parents);
  r.branch = branch;
  r.message = "epoch " + std::to_string(s.epoch());
  r.author = "tester@host";
  r.wall_time_ms = time_ms ? time_ms : 1700000000000 + s.epoch() * 1000;
  r.state = &s;
  return log.commit(r).id;
}

// Commits epochs 1..n on `branch` and returns the ids, oldest first.
std::vector<CommitId> commit_epochs(VersionLog& log, int n, int64_t big = 0, const std::string& branch = "main") {
  std::vector<CommitId> ids;
  for (int e = 1; e <= n; ++e) {
    std::vector<CommitId> parents;
    if (!ids.empty()) parents.push_back(ids.back());
    ids.push_back(commit_state(log, synthetic_state(e, 7, big), parents, branch));
  }
  return ids;
}

TEST(CommitRecord, EncodeDecodeEncodeIsIdentical) {
  TrainState s = synthetic_state(3);
  VersionLog* none = nullptr;
  (void)none;
  CommitRecord r;
  r.parents = {hash128("a", 1), hash128("b", 1)};
  r.branch = "main";
  r.epoch = 3;
  r.global_step = 30;
  r.wall_time_ms = 1700000000123;
  r.author = "me@host";
  r.message = "epoch 3: loss=0.25";
  r.graph_id = s.graph.graph_id();
  r.hparams = s.hparams;
  r.metrics = s.metrics;
  r.counters = s.counters;
  TensorEntry e;
  e.name = "fc1/weight";
  e.shape = {4, 3};
  e.raw_bytes = 48;
  e.chunks = {hash128("x", 1)};
  r.params = {e};
  r.optim_count = 2;
  r.optim_digest = hash128("m", 1);
  const std::string bytes = r.encode();
  CommitRecord back = CommitRecord::decode(bytes);
  EXPECT_EQ(back.encode(), bytes);
  EXPECT_EQ(back.id(), r.id());
  EXPECT_EQ(back.parents, r.parents);
  EXPECT_EQ(back.params, r.params);
  EXPECT_EQ(back.metrics, r.metrics);
  EXPECT_EQ(back.message, r.message);
  EXPECT_EQ(to_hex(r.id()).size(), 32u);

  // Format 2 carries the environment; format-1 records (logs before Strata 0.2) have none and
  // keep their bytes.
  CommitRecord with_env = r;
  with_env.environment = {{"onednn", "2.6.3"}, {"strata", "0.2.0"}};
  EXPECT_EQ(CommitRecord::decode(with_env.encode()).environment, with_env.environment);
  CommitRecord v1 = r;
  v1.format_version = 1;
  v1.environment = with_env.environment;  // not encoded in format 1
  CommitRecord v1_back = CommitRecord::decode(v1.encode());
  EXPECT_EQ(v1_back.format_version, 1u);
  EXPECT_TRUE(v1_back.environment.empty());
  EXPECT_EQ(v1_back.encode(), v1.encode());
  EXPECT_EQ(v1_back.id(), v1.id());

  // A newer record format, truncation and trailing garbage are corruption.
  CommitRecord newer = r;
  newer.format_version = CommitRecord::kFormatVersion + 1;
  expect_error([&] { CommitRecord::decode(newer.encode()); }, ErrorCode::kCorruption, {"format version", "upgrade"});
  expect_error([&] { CommitRecord::decode(bytes.substr(0, bytes.size() - 3)); }, ErrorCode::kCorruption, {});
  expect_error([&] { CommitRecord::decode(bytes + "x"); }, ErrorCode::kCorruption, {"trailing"});
  // A damaged length is refused before anything is allocated for it (found by fuzz_commit_record).
  std::string huge = bytes;
  const size_t branch_length = 1 + 4 + 8 + 16 * r.parents.size();  // marker, version, parents
  huge[branch_length + 5] = 0x40;  // the length's 6th byte: 2^46 and more
  expect_error([&] { CommitRecord::decode(huge); }, ErrorCode::kCorruption, {"exceeds"});
}

// Golden bytes of a minimal record in both formats (docs/formats.md "Commit records"):
// a change here is a format break and must be deliberate.
TEST(CommitRecord, GoldenBytes) {
  CommitRecord r;
  r.branch = "b";
  r.epoch = 1;
  r.global_step = 2;
  r.wall_time_ms = 3;
  r.environment = {{"strata", "0.2.0"}};
  auto hex = [](const std::string& bytes) {
    std::string out;
    for (unsigned char c : bytes) out += "0123456789abcdef"[c >> 4], out += "0123456789abcdef"[c & 15];
    return out;
  };
  const std::string common =
      "0000000000000000"                  // parents: none
      "0100000000000000" "62"             // branch "b"
      "0100000000000000"                  // epoch 1
      "0200000000000000"                  // global step 2
      "0300000000000000"                  // wall time 3
      "0000000000000000" "0000000000000000" "0000000000000000"  // author, message, graph id
      "0000000000000000" "0000000000000000" "0000000000000000"  // hparams, metrics, counters
      "0000000000000000"                  // no parameters
      "00000000" "00000000000000000000000000000000";  // optim count, digest
  EXPECT_EQ(hex(r.encode()), "01" "02000000" + common +
                                 "0100000000000000"                                  // environment: 1 entry
                                 "0600000000000000" "737472617461" "0500000000000000" "302e322e30");  // strata 0.2.0
  r.format_version = 1;
  EXPECT_EQ(hex(r.encode()), "01" "01000000" + common);
}

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
  EXPECT_EQ(ro->settings().format_version, 2u);
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

// A direct write (a merge, an inline recorder) after a killed run's raw versions: its deltas
// must not point at chunks that compaction later turns into deeper deltas.
TEST(VersionLog, ADirectWriteAfterQueuedVersionsCompactsThemFirst) {
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
    EXPECT_EQ(log->pending_versions(), deferred ? (e <= 3 ? size_t(e) : 1u) : 0u) << e;
  }
  EXPECT_EQ(log->compact_pending().versions, 0u);
  log.reset();
  auto ro = VersionLog::open(dir.path(), OpenMode::kReadOnly, LogOptions().decode_cache_bytes(0));
  for (int e = 1; e <= 6; ++e) expect_state_eq(ro->read_state(ids[e - 1]), synthetic_state(e, 7, 20000));
  EXPECT_TRUE(ro->verify().ok());
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
  expect_error([&] { log->read_params(ids[1]); }, ErrorCode::kCorruption,
               {short_hex(ids[1]), "main@2", "fc3/weight"});
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

TEST(VersionLog, ResolvesNames) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 4);
  log->set_tag("best", ids[1]);
  log->set_branch("exp", ids[2]);
  const std::string hex = to_hex(ids[3]);
  EXPECT_EQ(log->resolve(hex), ids[3]);
  EXPECT_EQ(log->resolve(hex.substr(0, 6)), ids[3]);
  EXPECT_EQ(log->resolve(hex.substr(0, 12) + "~2"), ids[1]);
  EXPECT_EQ(log->resolve("main"), ids[3]);
  EXPECT_EQ(log->resolve("main~1"), ids[2]);
  EXPECT_EQ(log->resolve("main~3"), ids[0]);
  EXPECT_EQ(log->resolve("main~~"), ids[1]);
  EXPECT_EQ(log->resolve("main@2"), ids[1]);
  EXPECT_EQ(log->resolve("main@4~1"), ids[2]);
  EXPECT_EQ(log->resolve("best"), ids[1]);
  EXPECT_EQ(log->resolve("best~1"), ids[0]);
  EXPECT_EQ(log->resolve("exp"), ids[2]);
  EXPECT_EQ(log->resolve("exp@1"), ids[0]);  // a branch's history includes where it came from
  EXPECT_EQ(log->describe(ids[1]), short_hex(ids[1]) + " (main@2)");

  expect_error([&] { log->resolve("nope"); }, ErrorCode::kNotFound, {"nope", "strata log --all"});
  expect_error([&] { log->resolve("main~9"); }, ErrorCode::kNotFound, {"past the first version"});
  expect_error([&] { log->resolve("main@99"); }, ErrorCode::kNotFound, {"epoch 99"});
  expect_error([&] { log->resolve("ghost@1"); }, ErrorCode::kNotFound, {"ghost"});
  expect_error([&] { log->resolve("main~x"); }, ErrorCode::kInvalidArgument, {"main~x"});
  expect_error([&] { log->resolve("abc"); }, ErrorCode::kInvalidArgument, {"4 hex"});
  expect_error([&] { log->resolve(std::string(32, '0')); }, ErrorCode::kNotFound, {});
  expect_error([&] { log->resolve(""); }, ErrorCode::kInvalidArgument, {});
}

TEST(VersionLog, AmbiguousPrefixListsCandidates) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  // Find two records whose ids share 4 hex digits by varying the message (prepare is cheap).
  TrainState s = synthetic_state(1);
  std::map<std::string, std::string> seen;  // prefix -> message
  std::pair<std::string, std::string> pair;
  for (int i = 0; pair.first.empty(); ++i) {
    SnapshotRequest r;
    r.branch = "b" + std::to_string(i);
    r.message = "m";
    r.wall_time_ms = 1000;
    r.author = "a@b";
    r.state = &s;
    std::string prefix = to_hex(log->prepare(r).id).substr(0, 4);
    auto [it, fresh] = seen.emplace(prefix, r.branch);
    if (!fresh) pair = {it->second, r.branch};
  }
  std::vector<CommitId> ids;
  for (const std::string& branch : {pair.first, pair.second}) {
    SnapshotRequest r;
    r.branch = branch;
    r.message = "m";
    r.wall_time_ms = 1000;
    r.author = "a@b";
    r.state = &s;
    ids.push_back(log->commit(r).id);
  }
  const std::string prefix = to_hex(ids[0]).substr(0, 4);
  ASSERT_EQ(prefix, to_hex(ids[1]).substr(0, 4));
  expect_error([&] { log->resolve(prefix); }, ErrorCode::kInvalidArgument,
               {"ambiguous", short_hex(ids[0]), short_hex(ids[1]), pair.first + "@1"});
  // One more digit usually decides; the full ids always do.
  EXPECT_EQ(log->resolve(to_hex(ids[1])), ids[1]);
}

TEST(VersionLog, BranchesAndTags) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 3);
  log->set_branch("exp", ids[0]);
  expect_error([&] { log->set_branch("exp", ids[1]); }, ErrorCode::kAlreadyExists, {"exp", "force"});
  log->set_branch("exp", ids[1], /*force=*/true);
  EXPECT_EQ(log->head("exp"), ids[1]);
  EXPECT_EQ(log->resolve("exp@1"), ids[0]);
  EXPECT_EQ(log->branches(), (std::vector<std::string>{"exp", "main"}));
  log->set_tag("v1", ids[2]);
  expect_error([&] { log->set_tag("v1", ids[0]); }, ErrorCode::kAlreadyExists, {"v1"});
  EXPECT_EQ(log->tags().at("v1"), ids[2]);
  log->delete_tag("v1");
  EXPECT_TRUE(log->tags().empty());
  log->delete_branch("exp");
  EXPECT_FALSE(log->head("exp"));
  expect_error([&] { log->resolve("exp@1"); }, ErrorCode::kNotFound, {"exp"});
  expect_error([&] { log->delete_branch("exp"); }, ErrorCode::kNotFound, {"exp"});
  expect_error([&] { log->set_branch("bad name", ids[0]); }, ErrorCode::kInvalidArgument, {"bad name"});
  expect_error([&] { log->set_branch("a@b", ids[0]); }, ErrorCode::kInvalidArgument, {"'@'"});
  expect_error([&] { log->set_tag("t", hash128("zz", 2)); }, ErrorCode::kNotFound, {});
  // A commit whose parent is not the branch head is refused: history is never rewritten.
  TrainState s = synthetic_state(9);
  expect_error([&] { commit_state(*log, s, {ids[0]}, "main"); }, ErrorCode::kFailedPrecondition,
               {"has moved", "new branch"});
  EXPECT_EQ(log->all_versions().size(), 3u);
}

// A tag and a branch never share a name (a resume would otherwise retrain onto an unexpected
// branch); names follow git's check-ref-format so that branch folders never collide.
TEST(VersionLog, TagsAndBranchesNeverShareANameAndNamesAreCheckedLikeGit) {
  TempDir dir;
  std::shared_ptr<VersionLog> log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 2);
  expect_error([&] { log->set_tag("main", ids[0]); }, ErrorCode::kAlreadyExists, {"a branch is named 'main'"});
  log->set_tag("best", ids[0]);
  expect_error([&] { log->set_branch("best", ids[1]); }, ErrorCode::kAlreadyExists, {"a tag is named 'best'"});
  expect_error([&] { commit_state(*log, synthetic_state(1, 3), {}, "best"); }, ErrorCode::kAlreadyExists,
               {"a tag is named 'best'"});
  {  // A fresh recorder asked for "best" skips to best-2.
    Recorder rec(log, RecorderOptions().branch("best"));
    EXPECT_EQ(rec.branch(), "best-2");
    expect_error([&] { rec.continue_from(ids[0], "best"); }, ErrorCode::kAlreadyExists, {"a tag is named 'best'"});
  }
  for (const char* bad : {"a//b", "a/./b", ".", "..", "a/.hidden", "x.lock", "a/b.lock/c", "heads/x", "tags/x", "a b",
                          "tab\tname", "-x", "x/", "/x"})
    expect_error([&] { log->set_branch(bad, ids[0]); }, ErrorCode::kInvalidArgument, {"invalid branch name"});
  log->set_branch("team/alice/exp1", ids[0]);
  EXPECT_EQ(log->resolve("team/alice/exp1"), ids[0]);
  // tags/NAME and heads/NAME select the kind explicitly.
  EXPECT_EQ(log->resolve("tags/best"), ids[0]);
  EXPECT_EQ(log->resolve("heads/main"), ids[1]);
  expect_error([&] { log->resolve("tags/main"); }, ErrorCode::kNotFound, {"no tag 'main'"});
}

TEST(VersionLog, ANameThatIsBothATagAndABranchInAnOldLogIsAmbiguous) {
  TempDir dir;
  std::vector<CommitId> ids;
  {
    auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
    ids = commit_epochs(*log, 2);
  }
  {  // As an older Strata could write it: a tag "main" beside the branch.
    auto env = LmdbEnv::open(dir.sub("versions.lmdb"), false, 0);
    env->write([&](LmdbTxn& txn) { txn.put(Db::kRefs, "tags/main", as_bytes(ids[0])); });
  }
  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  expect_error([&] { log->resolve("main"); }, ErrorCode::kInvalidArgument,
               {"'main' is ambiguous: both a tag and a branch", "tags/main or heads/main"});
  EXPECT_EQ(log->resolve("tags/main"), ids[0]);
  EXPECT_EQ(log->resolve("heads/main"), ids[1]);
  EXPECT_EQ(log->resolve("main@1"), ids[0]);
}

// A truncated data.mdb or a damaged page size in the current meta page is a Corruption error
// naming the file, for readers and writers alike; before, LMDB mapped it and the process died of
// SIGBUS (exit 135).
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
  auto u32 = [&](size_t at) { uint32_t v; std::memcpy(&v, good.data() + at, 4); return v; };
  auto u64 = [&](size_t at) { uint64_t v; std::memcpy(&v, good.data() + at, 8); return v; };
  const uint32_t page = u32(40);
  ASSERT_EQ(page, 4096u);
  const size_t current = u64(page + 144) > u64(144) ? page : 0;
  std::vector<std::pair<std::string, std::string>> damaged = {
      {"half", good.substr(0, good.size() / 2)},       {"8192", good.substr(0, 8192)},
      {"12288", good.substr(0, 12288)},                {"100", good.substr(0, 100)},
      {"page size high byte", good},                   {"magic", good}};
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

TEST(VersionLog, RetentionKeepsRecentFullStateAndRefusesExactResumeElsewhere) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 10, 100000);
  log->set_tag("first", ids[0]);
  const uint64_t before = LmdbEnv::open(dir.sub("versions.lmdb"), true, 0)->stats().chunk_value_bytes;
  RetentionReport report = log->apply_retention(3);
  EXPECT_EQ(report.full_versions, 4u);  // epochs 8, 9, 10 and the tagged epoch 1
  EXPECT_EQ(report.dropped_now, 6u);
  EXPECT_EQ(report.params_only, 6u);
  EXPECT_GT(report.chunks_deleted, 0u);
  const uint64_t after = LmdbEnv::open(dir.sub("versions.lmdb"), true, 0)->stats().chunk_value_bytes;
  EXPECT_EQ(static_cast<int64_t>(before - after), report.bytes_freed);
  // Ids are stable; parameters of every version, the full state of kept ones, still read.
  for (int e = 1; e <= 10; ++e) {
    EXPECT_EQ(log->read_record(ids[e - 1]).id(), ids[e - 1]);
    expect_tensors_eq(log->read_params(ids[e - 1]), synthetic_state(e, 7, 100000).params);
  }
  for (int e : {1, 8, 9, 10}) expect_state_eq(log->read_state(ids[e - 1]), synthetic_state(e, 7, 100000));
  expect_error([&] { log->read_state(ids[4]); }, ErrorCode::kFailedPrecondition,
               {"retention", "main@5", "align_state"});
  expect_error([&] { load_state(*log, "main@5"); }, ErrorCode::kFailedPrecondition, {"retention"});
  expect_error([&] { log->read_optim(ids[4]); }, ErrorCode::kFailedPrecondition, {"retention"});
  EXPECT_FALSE(log->read_record(ids[4]).optim_present);
  EXPECT_TRUE(log->verify().ok());
  // Idempotent.
  RetentionReport again = log->apply_retention(3);
  EXPECT_EQ(again.dropped_now, 0u);
  EXPECT_EQ(again.chunks_deleted, 0u);
  expect_error([&] { log->apply_retention(0); }, ErrorCode::kInvalidArgument, {});
}

TEST(VersionLog, GcDeletesWhatNoRefReaches) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> main_ids = commit_epochs(*log, 3);
  // A side branch from main@2 with its own versions, then deleted.
  std::vector<CommitId> side{commit_state(*log, synthetic_state(3, 8), {main_ids[1]}, "side")};
  side.push_back(commit_state(*log, synthetic_state(4, 8), {side[0]}, "side"));
  EXPECT_EQ(log->gc().commits_deleted, 0u);
  log->delete_branch("side");
  GcReport report = log->gc();
  EXPECT_EQ(report.commits_deleted, 2u);
  EXPECT_GT(report.chunks_deleted, 0u);
  EXPECT_FALSE(log->has_version(side[0]));
  for (int e = 1; e <= 3; ++e) expect_state_eq(log->read_state(main_ids[e - 1]), synthetic_state(e));
  EXPECT_TRUE(log->verify().ok());
}

TEST(VersionLog, MergeAveragesParameters) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 2);
  CommitId b = commit_state(*log, synthetic_state(2, 99), {ids[0]}, "other");
  MergeRequest m;
  m.a = "main";
  m.b = "other";
  m.alpha = 0.25;
  m.wall_time_ms = 5000;
  CommitResult res = merge_versions(*log, m);
  CommitRecord r = log->read_record(res.id);
  EXPECT_EQ(r.parents, (std::vector<CommitId>{ids[1], b}));
  EXPECT_EQ(log->head("main"), res.id);
  EXPECT_FALSE(r.had_optim());
  NamedTensors got = log->read_params(res.id);
  NamedTensors pa = synthetic_state(2).params, pb = synthetic_state(2, 99).params;
  for (size_t t = 0; t < got.size(); ++t)
    for (int64_t i = 0; i < got[t].second.numel(); ++i)
      ASSERT_EQ(got[t].second.f32()[i], static_cast<float>(0.75 * double(pa[t].second.f32()[i]) +
                                                           0.25 * double(pb[t].second.f32()[i])));
  // Different graphs cannot be merged.
  TrainState other = synthetic_state(1);
  other.graph.nodes[0].params[0].shape = {5, 3};
  other.params[0].second = Tensor({5, 3});
  commit_state(*log, other, {}, "wide");
  m.a = "main";
  m.b = "wide";
  expect_error([&] { merge_versions(*log, m); }, ErrorCode::kFailedPrecondition, {"fc1/weight", "[4,3]", "[5,3]"});
}

// A state of tiny_graph whose every parameter value is set by `value(tensor index, i)`.
TrainState state_with(int64_t epoch, const std::function<float(size_t, int64_t)>& value) {
  TrainState s = synthetic_state(epoch);
  for (size_t t = 0; t < s.params.size(); ++t)
    for (int64_t i = 0; i < s.params[t].second.numel(); ++i) s.params[t].second.f32()[i] = value(t, i);
  return s;
}

TEST(VersionLog, MergeBaseIsTheNearestCommonAncestor) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 3);                            // main@1..3
  CommitId x1 = commit_state(*log, synthetic_state(2, 11), {ids[0]}, "x");        // x forks at main@1
  CommitId x2 = commit_state(*log, synthetic_state(3, 11), {x1}, "x");
  CommitId y1 = commit_state(*log, synthetic_state(3, 12), {ids[1]}, "y");        // y forks at main@2
  CommitId lone = commit_state(*log, synthetic_state(1, 13), {}, "lone");
  EXPECT_EQ(merge_base(*log, ids[2], x2), ids[0]);
  EXPECT_EQ(merge_base(*log, ids[2], y1), ids[1]);
  EXPECT_EQ(merge_base(*log, x2, y1), ids[0]);
  EXPECT_EQ(merge_base(*log, ids[1], ids[2]), ids[1]);  // an ancestor is its own merge base
  EXPECT_EQ(merge_base(*log, ids[2], lone), std::nullopt);
  // After merging x into main, main's head and x's next version meet at x2.
  MergeRequest m;
  m.a = "main";
  m.b = "x";
  CommitId merged = merge_versions(*log, m).id;
  CommitId x3 = commit_state(*log, synthetic_state(4, 11), {x2}, "x");
  EXPECT_EQ(merge_base(*log, merged, x3), x2);
}

TEST(VersionLog, TaskArithmeticAndTiesMergeTheChangesSinceTheBase) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  // Base: every value 1. A and B change it; changes chosen so that TIES's trim and sign election
  // have known outcomes.
  CommitId base = commit_state(*log, state_with(1, [](size_t, int64_t) { return 1.0f; }), {});
  auto change_a = [](size_t, int64_t i) { return i % 2 == 0 ? 0.5f : -0.25f; };   // big +, small -
  auto change_b = [](size_t, int64_t i) { return i % 2 == 0 ? -0.125f : -1.0f; }; // small -, big -
  CommitId a = commit_state(*log, state_with(2, [&](size_t t, int64_t i) { return 1.0f + change_a(t, i); }), {base});
  CommitId b = commit_state(*log, state_with(2, [&](size_t t, int64_t i) { return 1.0f + change_b(t, i); }), {base}, "b");

  MergeRequest m;
  m.a = "main";
  m.b = "b";
  m.method = MergeMethod::kTaskArithmetic;
  m.lambda = 0.5;
  m.branch = "ta";
  CommitResult ta = merge_versions(*log, m);
  CommitRecord rec = log->read_record(ta.id);
  EXPECT_EQ(rec.hparams.at("merge/method"), "task-arithmetic");
  EXPECT_EQ(rec.hparams.at("merge/lambda"), "0.5");
  EXPECT_EQ(rec.hparams.at("merge/base"), to_hex(base));
  EXPECT_EQ(rec.parents, (std::vector<CommitId>{a, b}));
  for (const auto& [name, t] : log->read_params(ta.id))
    for (int64_t i = 0; i < t.numel(); ++i)
      ASSERT_EQ(t.f32()[i], i % 2 == 0 ? 1.0f + 0.5f * (0.5f - 0.125f) : 1.0f + 0.5f * (-0.25f - 1.0f)) << name << i;

  // TIES, density 1 (no trim): even values: +0.5 and -0.125 elect +, only A's change agrees;
  // odd values: -0.25 and -1 both agree with -, their mean is -0.625.
  m.method = MergeMethod::kTies;
  m.lambda = 1.0;
  m.density = 1.0;
  m.branch = "ties";
  for (const auto& [name, t] : log->read_params(merge_versions(*log, m).id))
    for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(t.f32()[i], i % 2 == 0 ? 1.5f : 0.375f) << name << i;

  // Rules take tensors whole: fc1/* from B, the rest by the method.
  m.take = {parse_take_rule("fc1/*=B")};
  m.branch = "ties-take";
  CommitResult taken = merge_versions(*log, m);
  EXPECT_EQ(log->read_record(taken.id).hparams.at("merge/take"), "fc1/weight=B,fc1/bias=B");
  for (const auto& [name, t] : log->read_params(taken.id))
    for (int64_t i = 0; i < t.numel(); ++i)
      ASSERT_EQ(t.f32()[i], name.rfind("fc1/", 0) == 0 ? 1.0f + change_b(0, i) : (i % 2 == 0 ? 1.5f : 0.375f)) << name;

  expect_error([] { parse_take_rule("fc1/*"); }, ErrorCode::kInvalidArgument, {"PATTERN=A"});
  expect_error([] { parse_take_rule("fc1/*=C"); }, ErrorCode::kInvalidArgument, {"PATTERN=A"});
  // A method that needs a base is refused without one, and when one side is the base.
  commit_state(*log, synthetic_state(1, 5), {}, "unrelated");
  m.take.clear();
  m.b = "unrelated";
  m.branch = "nope";
  expect_error([&] { merge_versions(*log, m); }, ErrorCode::kFailedPrecondition, {"no common ancestor", "average"});
  m.b = to_hex(base);
  expect_error([&] { merge_versions(*log, m); }, ErrorCode::kFailedPrecondition, {"is an ancestor"});
  m.b = "b";
  m.density = 0;
  expect_error([&] { merge_versions(*log, m); }, ErrorCode::kInvalidArgument, {"density"});
}

TEST(VersionLog, DiffVersionsReportsTensorsGraphMetricsAndHparams) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 2);
  TrainState changed = synthetic_state(2);
  changed.graph.nodes[0].params[0].shape = {5, 3};
  changed.params[0].second = Tensor({5, 3});
  changed.hparams["lr"] = "0.5";
  commit_state(*log, changed, {ids[0]}, "wide");

  const VersionDiff same = diff_versions(*log, "main@2", "main@2", 0.0);
  EXPECT_EQ(same.changed_tensors(), 0u);
  EXPECT_TRUE(same.hparams.empty());
  for (const TensorDiff& t : same.tensors) EXPECT_EQ(t.max_abs, 0.0) << t.name;

  const VersionDiff d = diff_versions(*log, "main@1", "wide", 0.0);
  EXPECT_EQ(d.a, ids[0]);
  ASSERT_FALSE(d.tensors.empty());
  EXPECT_EQ(d.tensors[0].status, "reshaped");  // structural changes first
  EXPECT_EQ(d.tensors[0].name, "fc1/weight");
  EXPECT_EQ(d.tensors[0].shape_b, (Shape{5, 3}));
  EXPECT_NE(d.graph_a, d.graph_b);
  ASSERT_EQ(d.graph.changed.size(), 1u);
  EXPECT_NE(d.graph.changed[0].find("fc1"), std::string::npos) << d.graph.changed[0];
  EXPECT_EQ(d.hparams.at("lr").second, "0.5");
  // Metrics: every key of either side, B - A computable.
  const auto& [a_loss, b_loss] = d.metrics.at("train/loss");
  EXPECT_EQ(a_loss, synthetic_state(1).metrics.at("train/loss"));
  EXPECT_EQ(b_loss, synthetic_state(2).metrics.at("train/loss"));
  expect_error([&] { diff_versions(*log, "main", "nope", 0.0); }, ErrorCode::kNotFound, {"nope"});
}

TEST(VersionLog, AlignWarmStartsAChangedGraph) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  commit_epochs(*log, 1);
  TrainState target = synthetic_state(0, 3);
  target.params[2].second = Tensor({2, 5});  // fc2/weight changed shape
  target.params.emplace_back("fc3/weight", Tensor({2, 2}));
  AlignReport report = align_state(*log, "main", target);
  EXPECT_EQ(report.matched, (std::vector<std::string>{"fc1/weight", "fc1/bias", "fc2/bias"}));
  EXPECT_EQ(report.mismatched, (std::vector<std::string>{"fc2/weight"}));
  EXPECT_EQ(report.added, (std::vector<std::string>{"fc3/weight"}));
  EXPECT_TRUE(target.params[0].second.bit_equal(synthetic_state(1).params[0].second));
}

TEST(VersionLog, MapGrowsWhenFull) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite,
                              LogOptions().initial_map_bytes(1 << 20).codec(ChunkCodec::kRaw));
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
                 {"format version 99", "1 to 2", "upgrade"});

  // A version-1 log (no mode-2 chunks) still reads; a writer raises it to 2 before it may add one.
  {
    auto env = LmdbEnv::open(dir.sub("log/versions.lmdb"), false, 0);
    env->write([](LmdbTxn& txn) { txn.put(Db::kMeta, "format_version", "1"); });
  }
  EXPECT_EQ(VersionLog::open(dir.sub("log"), OpenMode::kReadOnly)->settings().format_version, 1u);
  EXPECT_EQ(VersionLog::open(dir.sub("log"), OpenMode::kReadWrite)->settings().format_version, 2u);
  EXPECT_EQ(VersionLog::open(dir.sub("log"), OpenMode::kReadOnly)->settings().format_version, 2u);
}

// ---- recorder --------------------------------------------------------------------------------

CommitId run_epoch(Recorder& rec, const TrainState& s, std::map<std::string, std::string>& notes) {
  NamedTensors grads;
  EpochEndInfo info{s, grads, notes};
  rec.on_epoch_end(info);
  return *digest_from_hex(notes.at("version_full"));
}

TEST(Recorder, CommitsEveryEpochAsynchronously) {
  TempDir dir;
  std::shared_ptr<VersionLog> log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids;
  {
    Recorder rec(log, RecorderOptions().author("me@box"));
    rec.on_fit_begin(FitBeginInfo{});
    for (int e = 1; e <= 4; ++e) {
      TrainState s = synthetic_state(e, 7, 300000);
      std::map<std::string, std::string> notes;
      ids.push_back(run_epoch(rec, s, notes));
      // The id is known at once; the summary line shows its first 8 hex digits.
      EXPECT_EQ(notes["version"], short_hex(ids.back()));
      EXPECT_EQ(notes["branch"], "main");
      EXPECT_EQ(notes["message"], "epoch " + std::to_string(e) + ": loss=" + (e == 1 ? "0.5" : e == 2 ? "0.3333" : e == 3 ? "0.25" : "0.2") +
                                      " val_acc=" + (e == 1 ? "0.51" : e == 2 ? "0.52" : e == 3 ? "0.53" : "0.54"));
      // `s` goes out of scope now: the recorder must have copied it.
    }
    rec.on_fit_end(false);
    EXPECT_EQ(rec.last_commit(), ids.back());
    RecorderTiming t = rec.timing();
    EXPECT_EQ(t.snapshots, 4);
    EXPECT_EQ(t.staged_bytes, 1200000u + 3 * 4 * 26u);
    EXPECT_GT(t.last_writer_cpu_s, 0.0);  // encoding 1.2 MB takes CPU on the writer thread
    EXPECT_LE(t.last_writer_cpu_s, t.last_encode_s + t.last_write_s + 0.01);  // one thread: CPU <= wall
  }
  EXPECT_THROW(Recorder(log, RecorderOptions().writer_threads(0)), Error);
  EXPECT_EQ(log->head("main"), ids.back());
  std::vector<CommitId> history = log->history("main");
  ASSERT_EQ(history.size(), 4u);
  for (int e = 1; e <= 4; ++e) {
    EXPECT_EQ(history[4 - e], ids[e - 1]);
    expect_state_eq(log->read_state(ids[e - 1]), synthetic_state(e, 7, 300000));
    EXPECT_EQ(log->read_record(ids[e - 1]).author, "me@box");
  }
}

TEST(Recorder, ResumeContinuesHeadOrBranchesFromOlderVersions) {
  TempDir dir;
  std::shared_ptr<VersionLog> log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids;
  {
    Recorder rec(log);
    for (int e = 1; e <= 3; ++e) {
      std::map<std::string, std::string> notes;
      ids.push_back(run_epoch(rec, synthetic_state(e), notes));
    }
    rec.on_fit_end(false);
  }
  {  // Resume from the head: same branch.
    Recorder rec(log);
    TrainState s = load_state(*log, "main");
    expect_state_eq(s, synthetic_state(3));
    rec.continue_from(log->resolve("main"));
    std::map<std::string, std::string> notes;
    CommitId id = run_epoch(rec, synthetic_state(4), notes);
    rec.on_fit_end(false);
    EXPECT_EQ(notes["branch"], "main");
    EXPECT_EQ(log->read_record(id).parents, std::vector<CommitId>{ids[2]});
    EXPECT_EQ(log->head("main"), id);
  }
  {  // Resume from an older version: a new branch whose first commit has it as parent.
    Recorder rec(log);
    rec.continue_from(log->resolve("main@2"));
    std::map<std::string, std::string> notes;
    CommitId id = run_epoch(rec, synthetic_state(3, 11), notes);
    rec.on_fit_end(false);
    const std::string branch = "main-2";
    EXPECT_EQ(notes["branch"], branch);
    EXPECT_EQ(log->head(branch), id);
    EXPECT_EQ(log->read_record(id).parents, std::vector<CommitId>{ids[1]});
    EXPECT_EQ(log->resolve(branch + "@1"), ids[0]);
    EXPECT_EQ(log->history(branch).size(), 3u);
  }
  {  // Named branch, and a warm start into a changed graph.
    Recorder rec(log);
    rec.warm_start_from(ids[0], "wide");
    TrainState s = synthetic_state(1, 5);
    s.graph.nodes[0].params[0].shape = {6, 3};
    s.params[0].second = Tensor({6, 3});
    std::map<std::string, std::string> notes;
    CommitId id = run_epoch(rec, s, notes);
    rec.flush();
    EXPECT_EQ(log->read_record(id).parents, std::vector<CommitId>{ids[0]});
    EXPECT_EQ(log->head("wide"), id);
    EXPECT_THROW(rec.continue_from(ids[0], "wide"), Error);
  }
  {  // A fresh run on a log whose branch exists goes on the next free "<branch>-<n>", decided
     // before any epoch ends (main-2 is taken by the resume above).
    Recorder rec(log);
    EXPECT_EQ(rec.branch(), "main-3");
    std::map<std::string, std::string> notes;
    CommitId id = run_epoch(rec, synthetic_state(1, 42), notes);
    rec.on_fit_end(false);
    EXPECT_EQ(notes["branch"], "main-3");
    EXPECT_TRUE(log->read_record(id).parents.empty());
  }
  {  // And the next one on main-4, not main-3-2.
    Recorder rec(log);
    EXPECT_EQ(rec.branch(), "main-4");
  }
}

TEST(Recorder, WriterErrorsSurfaceAtFitEnd) {
  TempDir dir;
  std::shared_ptr<VersionLog> log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  commit_epochs(*log, 1);
  Recorder rec(log);
  rec.continue_from(log->resolve("main"));
  // Someone else moves the branch before the recorder's commit lands: the write must fail.
  commit_state(*log, synthetic_state(2, 3), {log->resolve("main")}, "main");
  std::map<std::string, std::string> notes;
  run_epoch(rec, synthetic_state(2), notes);
  expect_error([&] { rec.on_fit_end(false); }, ErrorCode::kFailedPrecondition, {"has moved"});
  expect_error([&] { run_epoch(rec, synthetic_state(3), notes); }, ErrorCode::kFailedPrecondition, {});
}

}  // namespace
}  // namespace strata::versioning
