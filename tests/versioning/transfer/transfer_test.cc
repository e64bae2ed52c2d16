// Clone, push and pull between logs (versioning/transfer/transfer.h): what is sent (exactly the missing
// objects), fast-forward rules, verification on arrival, the ssh transport (through a stand-in
// for ssh that runs the far side's command here), SIGKILL during a push, and the wire bytes.
#include "strata/versioning/transfer/transfer.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <set>

#include "strata/versioning/internal/log_internals.h"
#include "strata/versioning/transfer/internal/transfer_endpoint.h"
#include "tests/expect_error.h"
#include "tests/versioning/corruption_util.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using vtest::synthetic_state;
using vtest::TempDir;

const std::string kStrata = std::string(STRATA_BINARY_DIR) + "/tools/strata";

// Commits `n` versions on `branch` after `parent` (states of `seed` from `first_epoch` on).
std::vector<CommitId> commit_chain(VersionLog& log, const std::string& branch, std::optional<CommitId> parent, int first_epoch,
                                   int n, uint64_t seed = 7, int64_t big = 0, int64_t wide = 0) {
  std::vector<CommitId> ids;
  for (int e = first_epoch; e < first_epoch + n; ++e) {
    TrainState s = synthetic_state(e, seed, big, wide);
    SnapshotRequest r;
    if (parent) r.parents = {*parent};
    r.branch = branch;
    r.state = &s;
    r.wall_time_ms = 1000 * e + static_cast<int64_t>(seed);
    parent = log.commit(r).id;
    ids.push_back(*parent);
  }
  return ids;
}

std::set<ChunkId> chunk_ids(const std::string& dir) {
  std::set<ChunkId> out;
  auto env = LmdbEnv::open(dir + "/versions.lmdb", true, 0);
  env->read([&](const LmdbTxn& txn) {
    txn.scan_from(Db::kChunks, {}, [&](std::string_view k, std::string_view) {
      out.insert(digest_from_bytes(k));
      return true;
    });
  });
  return out;
}

void expect_same_version(const VersionLog& a, const VersionLog& b, const CommitId& id) {
  vtest::expect_state_eq(b.read_state(id), a.read_state(id));
  EXPECT_EQ(b.read_record(id).encode(), a.read_record(id).encode());
}

// A stand-in for ssh: drops the host and options and runs the remote command here, as sshd would.
std::string fake_ssh(const TempDir& dir) {
  const std::string path = dir.sub("fake-ssh");
  std::ofstream(path) << "#!/bin/sh\nwhile [ $# -gt 1 ]; do shift; done\nexec sh -c \"$1\"\n";
  ::chmod(path.c_str(), 0755);
  return path;
}

class Transfer : public ::testing::Test {
 protected:
  TempDir dir;
  std::string a = dir.sub("a"), b = dir.sub("b");
};

TEST_F(Transfer, CloneCopiesEveryBranchAndTagAndEveryVersionReadsTheSame) {
  std::vector<CommitId> main_ids, exp_ids;
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite);
    main_ids = commit_chain(*log, "main", std::nullopt, 1, 3);
    exp_ids = commit_chain(*log, "exp", main_ids[0], 10, 2, 8);
    log->set_tag("best", main_ids[1]);
  }
  TransferReport r = clone(a, b, {});
  EXPECT_EQ(r.commits, 5u);
  EXPECT_EQ(r.graphs, 1u);
  EXPECT_EQ(r.moved.size(), 3u);  // exp, main, tag best
  auto src = VersionLog::open(a, OpenMode::kReadOnly);
  auto dst = VersionLog::open(b, OpenMode::kReadOnly);
  EXPECT_EQ(dst->branches(), src->branches());
  EXPECT_EQ(dst->tags(), src->tags());
  for (const CommitId& id : src->all_versions()) expect_same_version(*src, *dst, id);
  EXPECT_EQ(dst->resolve("main@2"), main_ids[1]);  // the index is rebuilt
  EXPECT_EQ(dst->resolve("exp@11"), exp_ids[1]);
  EXPECT_TRUE(dst->verify().ok());
  EXPECT_EQ(dst->settings().codec, src->settings().codec);
  EXPECT_EQ(chunk_ids(b), chunk_ids(a));
  EXPECT_EQ(remotes(b).at("origin"), std::filesystem::absolute(a).lexically_normal().string());
  expect_error([&] { clone(a, b, {}); }, ErrorCode::kAlreadyExists, {"already holds a version log"});
}

TEST_F(Transfer, PushSendsExactlyTheMissingChunksAndASecondPushSendsNothing) {
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite);
    commit_chain(*log, "main", std::nullopt, 1, 2, 7, 4096);
  }
  clone(a, b, {});
  std::vector<CommitId> added;
  {
    auto log = VersionLog::open(b, OpenMode::kReadWrite);
    added = commit_chain(*log, "main", log->head("main"), 3, 2, 7, 4096);
  }
  const std::set<ChunkId> before = chunk_ids(a);
  uint64_t expected_bytes = 0, expected_chunks = 0;
  {
    auto log = VersionLog::open(b, OpenMode::kReadOnly);
    for (const CommitId& id : added) {
      expected_bytes += log->read_stats(id)->new_stored_bytes;
      expected_chunks += log->read_stats(id)->new_chunks;
    }
  }
  TransferReport r = push(b, "origin", {});
  EXPECT_EQ(r.commits, 2u);
  EXPECT_EQ(r.graphs, 0u);  // the graph was there
  EXPECT_EQ(r.chunks, expected_chunks);
  EXPECT_EQ(r.chunk_bytes, expected_bytes);
  ASSERT_EQ(r.moved.size(), 1u);
  EXPECT_EQ(r.moved[0].new_id, added.back());
  EXPECT_FALSE(r.moved[0].forced);
  // Nothing sent twice: the chunks that arrived are exactly those that were missing.
  std::set<ChunkId> arrived;
  for (const ChunkId& c : chunk_ids(a))
    if (!before.count(c)) arrived.insert(c);
  EXPECT_EQ(arrived.size(), r.chunks);
  EXPECT_EQ(chunk_ids(a), chunk_ids(b));

  TransferReport again = push(b, "origin", {});
  EXPECT_EQ(again.commits + again.chunks + again.graphs + again.chunk_bytes, 0u);
  EXPECT_TRUE(again.moved.empty());
  EXPECT_EQ(again.up_to_date, std::vector<std::string>{"main"});
  auto log = VersionLog::open(a, OpenMode::kReadOnly);
  EXPECT_EQ(*log->head("main"), added.back());
  EXPECT_TRUE(log->verify().ok());
}

TEST_F(Transfer, TrainOnBothSidesThenPushAndPullBothWaysAndDivergenceIsRefusedWithTheMergeBase) {
  std::vector<CommitId> base;
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite);
    base = commit_chain(*log, "main", std::nullopt, 1, 2);
  }
  clone(a, b, {});
  CommitId a_exp, b_exp;
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite);
    a_exp = commit_chain(*log, "a-exp", base[1], 3, 2, 11).back();
  }
  {
    auto log = VersionLog::open(b, OpenMode::kReadWrite);
    b_exp = commit_chain(*log, "b-exp", base[1], 3, 2, 12).back();
  }
  push(b, a, TransferOptions().branches({{"b-exp", "b-exp"}}));
  pull(b, a, TransferOptions().branches({{"a-exp", "a-exp"}}));
  {
    auto la = VersionLog::open(a, OpenMode::kReadOnly);
    auto lb = VersionLog::open(b, OpenMode::kReadOnly);
    EXPECT_EQ(*la->head("b-exp"), b_exp);
    EXPECT_EQ(*lb->head("a-exp"), a_exp);
    expect_same_version(*la, *lb, a_exp);
    expect_same_version(*la, *lb, b_exp);
  }
  // Both sides train main on: the histories diverge after main@2.
  CommitId a_main, b_main;
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite);
    a_main = commit_chain(*log, "main", base[1], 3, 1, 21).back();
  }
  {
    auto log = VersionLog::open(b, OpenMode::kReadWrite);
    b_main = commit_chain(*log, "main", base[1], 3, 1, 22).back();
  }
  const std::string at = short_hex(base[1]) + " (main@2)";
  expect_error([&] { push(b, a, {}); }, ErrorCode::kFailedPrecondition, {"branch 'main'", "diverged after " + at, "--force"});
  expect_error([&] { pull(b, a, {}); }, ErrorCode::kFailedPrecondition, {"branch 'main'", "diverged after " + at});
  // Nothing moved.
  EXPECT_EQ(*VersionLog::open(a, OpenMode::kReadOnly)->head("main"), a_main);
  EXPECT_EQ(*VersionLog::open(b, OpenMode::kReadOnly)->head("main"), b_main);
  // Git's way out: bring theirs in under another name; or force.
  pull(b, a, TransferOptions().branches({parse_refspec("main:a-main")}));
  EXPECT_EQ(*VersionLog::open(b, OpenMode::kReadOnly)->head("a-main"), a_main);
  TransferReport forced = push(b, a, TransferOptions().branches({{"main", "main"}}).force(true));
  ASSERT_EQ(forced.moved.size(), 1u);
  EXPECT_TRUE(forced.moved[0].forced);
  expect_error(
      [&] {
        push(b, a, TransferOptions().branches({{"nope", "nope"}}));
      },
      ErrorCode::kNotFound, {"no branch 'nope'", "its branches:"});
  auto la = VersionLog::open(a, OpenMode::kReadOnly);
  EXPECT_EQ(*la->head("main"), b_main);
  EXPECT_TRUE(la->has_version(a_main));  // the old head stays until gc
  EXPECT_TRUE(la->verify().ok());
}

TEST_F(Transfer, TagsMoveOnlyWhenAskedAndAnExistingTagIsNotReplacedWithoutForce) {
  std::vector<CommitId> ids;
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite);
    ids = commit_chain(*log, "main", std::nullopt, 1, 2);
    log->set_tag("best", ids[0]);
  }
  clone(a, b, {});
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite);
    log->set_tag("v2", ids[1]);
    log->set_tag("best", ids[1], true);
  }
  TransferReport plain = pull(b, a, {});
  EXPECT_TRUE(plain.moved.empty());  // no --tags: only branches, which are up to date
  EXPECT_EQ(VersionLog::open(b, OpenMode::kReadOnly)->tags().count("v2"), 0u);
  expect_error([&] { pull(b, a, TransferOptions().tags(true)); }, ErrorCode::kFailedPrecondition, {"tag 'best'"});
  pull(b, a, TransferOptions().tags(true).force(true));
  EXPECT_EQ(VersionLog::open(b, OpenMode::kReadOnly)->tags(), VersionLog::open(a, OpenMode::kReadOnly)->tags());
}

TEST_F(Transfer, ACorruptedChunkOnTheSendingSideIsRefusedOnArrivalNamingTensorAndVersion) {
  vtest::TempDir src;
  const vtest::LogWithVictim v = vtest::make_log_with_victim(src);
  { VersionLog::open(b, OpenMode::kReadWrite); }  // an empty receiver
  ASSERT_GT(vtest::flip_chunk_bytes(src.sub("versions.lmdb/data.mdb"), v.victim), 0);
  expect_error([&] { push(src.path(), b, {}); }, ErrorCode::kCorruption,
               {"refused", "tensor 'fc3/weight'", short_hex(v.ids[1]) + " (main@2)", "nothing was written"});
  auto log = VersionLog::open(b, OpenMode::kReadOnly);
  EXPECT_TRUE(log->branches().empty());
  EXPECT_TRUE(log->all_versions().empty());
  EXPECT_TRUE(chunk_ids(b).empty());
}

// The stored header of the first chunk of `tensor` in version `id` of the log in `dir`.
ChunkHeader first_chunk_header(const std::string& dir, const CommitId& id, const std::string& tensor) {
  ChunkId chunk{};
  for (const TensorEntry& e : VersionLog::open(dir, OpenMode::kReadOnly)->read_record(id).params)
    if (e.name == tensor) chunk = e.chunks.at(0);
  ChunkHeader h;
  auto env = LmdbEnv::open(dir + "/versions.lmdb", true, 0);
  env->read([&](const LmdbTxn& txn) { h = parse_chunk_header(*txn.get(Db::kChunks, as_bytes(chunk))); });
  return h;
}

TEST_F(Transfer, ADeltaWhoseBaseTheReceiverHoldsDeeperInAChainIsRecodedAsAKeyframe) {
  // b holds epochs 1..6 as a chain (the epoch-6 chunks at depth 5); a starts from the epoch-6
  // state as a root (depth 0) and adds epoch 7 as a delta of depth 1 against it. The trained
  // "head/weight" (64 KiB) is large enough to be delta-coded.
  constexpr int64_t kWide = 1 << 14;
  {
    auto log = VersionLog::open(b, OpenMode::kReadWrite);
    const CommitId six = commit_chain(*log, "main", std::nullopt, 1, 6, 7, 0, kWide).back();
    ASSERT_EQ(first_chunk_header(b, six, "head/weight").depth, 5);
  }
  CommitId seven;
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite);
    seven = commit_chain(*log, "fresh", std::nullopt, 6, 2, 7, 0, kWide).back();
  }
  const ChunkHeader sent = first_chunk_header(a, seven, "head/weight");
  ASSERT_TRUE(sent.delta);
  ASSERT_EQ(sent.depth, 1);
  pull(b, a, TransferOptions().branches({{"fresh", "fresh"}}));
  EXPECT_EQ(first_chunk_header(b, seven, "head/weight").depth, 0);  // re-coded as a keyframe
  auto lb = VersionLog::open(b, OpenMode::kReadOnly);
  EXPECT_TRUE(lb->verify().ok());
  expect_same_version(*VersionLog::open(a, OpenMode::kReadOnly), *lb, seven);
}

TEST_F(Transfer, OverSshPushPullAndCloneWorkAndTheFarSideErrorsComeBack) {
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite);
    commit_chain(*log, "main", std::nullopt, 1, 3, 7, 4096);
  }
  ::setenv("STRATA_SSH", fake_ssh(dir).c_str(), 1);
  const TransferOptions o = TransferOptions().remote_strata(kStrata);
  const std::string url_a = "ssh://someone@example.org:2222" + a;
  clone(url_a, b, o);
  EXPECT_EQ(remotes(b).at("origin"), url_a);
  CommitId next;
  {
    auto log = VersionLog::open(b, OpenMode::kReadWrite);
    next = commit_chain(*log, "main", log->head("main"), 4, 1, 7, 4096).back();
  }
  TransferReport r = push(b, "origin", o);
  EXPECT_EQ(r.commits, 1u);
  EXPECT_EQ(*VersionLog::open(a, OpenMode::kReadOnly)->head("main"), next);
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite);
    next = commit_chain(*log, "main", log->head("main"), 5, 1, 7, 4096).back();
  }
  pull(b, "origin", o);
  auto lb = VersionLog::open(b, OpenMode::kReadOnly);
  EXPECT_EQ(*lb->head("main"), next);
  EXPECT_TRUE(lb->verify().ok());
  expect_error([&] { pull(b, "ssh://host" + dir.sub("nowhere"), o); }, ErrorCode::kNotFound, {"no version log", "nowhere"});
  expect_error([&] { pull(b, "ssh://host" + a, TransferOptions().remote_strata("/bin/true")); }, ErrorCode::kIOError,
               {"hung up"});
  ::unsetenv("STRATA_SSH");
  expect_error([&] { pull(b, "ssh://host:x/log", o); }, ErrorCode::kInvalidArgument, {"bad port"});
  expect_error([&] { pull(b, "http://host/log", o); }, ErrorCode::kInvalidArgument, {"unsupported URL"});
}

TEST_F(Transfer, SigkillDuringAPushLeavesBothLogsVerifying) {
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite);
    commit_chain(*log, "main", std::nullopt, 1, 1, 7, 0, 1 << 19);
  }
  clone(a, b, {});
  const std::string c = dir.sub("c");
  clone(a, c, {});
  CommitId old_head = *VersionLog::open(b, OpenMode::kReadOnly)->head("main");
  CommitId new_head;
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite);
    new_head = commit_chain(*log, "main", log->head("main"), 2, 4, 7, 0, 1 << 19).back();
  }
  ::setenv("STRATA_SSH", fake_ssh(dir).c_str(), 1);
  auto start_push = [&](const std::string& to) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);  // the push, the ssh stand-in and the far side form one group: kill them all
      ::execl(kStrata.c_str(), "strata", "--log", a.c_str(), "push", ("ssh://host" + to).c_str(), "--remote-strata",
              kStrata.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return pid;
  };
  // How long a whole push takes here, then kills spread over that time.
  const auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  ::waitpid(start_push(c), &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const double whole_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  int killed_before_end = 0;
  for (int attempt = 0; attempt < 6; ++attempt) {
    const pid_t pid = start_push(b);
    ::usleep(static_cast<useconds_t>(whole_us * (attempt + 0.5) / 6));
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) ++killed_before_end;
    ::usleep(50000);  // the far side, killed too, releases the writer lock
    auto la = VersionLog::open(a, OpenMode::kReadOnly);
    auto lb = VersionLog::open(b, OpenMode::kReadOnly);
    EXPECT_TRUE(la->verify().ok());
    EXPECT_TRUE(lb->verify().ok());
    const CommitId head = *lb->head("main");
    EXPECT_TRUE(head == old_head || head == new_head);
    if (head == new_head) break;  // a push got through before its kill
  }
  ::unsetenv("STRATA_SSH");
  EXPECT_GT(killed_before_end, 0);
  std::printf("a whole push took %.0f ms; %d pushes were killed before they ended\n", whole_us / 1000, killed_before_end);
  // Afterwards a push completes.
  push(a, b, {});
  EXPECT_EQ(*VersionLog::open(b, OpenMode::kReadOnly)->head("main"), new_head);
}

TEST_F(Transfer, RemotesAreNamedUrlsInAPlainFile) {
  { VersionLog::open(a, OpenMode::kReadWrite); }
  set_remote(a, "origin", "ssh://me@host/logs/run1", false);
  set_remote(a, "backup", "/mnt/backup/run1", false);
  std::ifstream in(a + "/remotes");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string lines = "# strata remotes v2\nbackup /mnt/backup/run1\norigin ssh://me@host/logs/run1\n";
  ASSERT_EQ(text.substr(0, lines.size()), lines);
  EXPECT_EQ(text.substr(lines.size()), "# xxh3 14194b01199b35d2\n");  // XXH3-64 of the lines above
  // A lost or altered line is caught; a file of Strata 0.3 (no header, no checksum) still reads.
  auto rewrite = [&](const std::string& t) { std::ofstream(a + "/remotes", std::ios::trunc) << t; };
  rewrite("# strata remotes v2\norigin ssh://me@host/logs/run1\n" + text.substr(lines.size()));
  expect_error([&] { remotes(a); }, ErrorCode::kCorruption, {"does not match its checksum"});
  rewrite("# strata remotes v2\nbackup /mnt/backup/run2\norigin ssh://me@host/logs/run1\n" + text.substr(lines.size()));
  expect_error([&] { remotes(a); }, ErrorCode::kCorruption, {"a line was lost, added or altered"});
  rewrite(lines);
  expect_error([&] { remotes(a); }, ErrorCode::kCorruption, {"checksum"});
  rewrite("backup /mnt/backup/run1\norigin ssh://me@host/logs/run1\n");
  EXPECT_EQ(remotes(a).size(), 2u);
  EXPECT_EQ(resolve_remote(a, "origin"), "ssh://me@host/logs/run1");
  EXPECT_EQ(resolve_remote(a, "elsewhere"), "elsewhere");
  expect_error([&] { set_remote(a, "origin", "/x", false); }, ErrorCode::kAlreadyExists, {"remote 'origin' already exists"});
  expect_error([&] { set_remote(a, "bad name", "/x", false); }, ErrorCode::kInvalidArgument, {"bad remote name"});
  remove_remote(a, "backup");
  EXPECT_EQ(remotes(a).size(), 1u);
  expect_error([&] { remove_remote(a, "backup"); }, ErrorCode::kNotFound, {"no remote 'backup'"});
}

std::string write_key(const TempDir& dir, const std::string& name) {
  SigningKey::generate(name).save(dir.sub(name));
  return dir.sub(name);
}

TEST_F(Transfer, SignaturesTravelAndRequireSignedRefusesUnsignedVersionsWritingNothing) {
  const std::string alice = write_key(dir, "alice");
  std::vector<CommitId> ids;
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite, LogOptions().signing_key(alice));
    ids = commit_chain(*log, "main", std::nullopt, 1, 2);
    log->set_tag("prod", ids[1], false, /*sign=*/true);
    log->set_branch("signed", ids[1]);
  }
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite);  // no key: an unsigned third version
    ids.push_back(commit_chain(*log, "main", ids[1], 3, 1)[0]);
  }
  const TrustPolicy alice_only{{read_public_key(alice + ".pub")}, {}};
  clone(a, b, TransferOptions().tags(true));
  {
    auto dst = VersionLog::open(b, OpenMode::kReadOnly);
    EXPECT_EQ(dst->check_version(ids[0], alice_only).status, SignatureStatus::kTrusted);
    EXPECT_EQ(dst->check_version(ids[2], alice_only).status, SignatureStatus::kUnsigned);
    EXPECT_EQ(dst->check_tag("prod", alice_only).status, SignatureStatus::kTrusted);
  }
  // The receiving log trusts alice; main's head is unsigned: refused, nothing written.
  const std::string c = dir.sub("c");
  {
    auto log = VersionLog::open(c, OpenMode::kReadWrite);
    log->trust_key("alice", read_public_key(alice + ".pub"));
  }
  expect_error([&] { pull(c, a, TransferOptions().require_signed(true)); }, ErrorCode::kFailedPrecondition,
               {"1 of 3 arriving versions are not signed by a trusted key; nothing was written",
                short_hex(ids[2]) + " (main@3): unsigned"});
  EXPECT_TRUE(VersionLog::open(c, OpenMode::kReadOnly)->branches().empty());
  expect_error([&] { clone(a, dir.sub("d"), TransferOptions().require_signed(true)); }, ErrorCode::kFailedPrecondition,
               {"3 of 3 arriving versions"});  // a new log trusts nobody
  EXPECT_FALSE(std::filesystem::exists(dir.sub("d/versions.lmdb")));
  // The signed branch passes, against the log's trust list and against --trusted.
  pull(c, a, TransferOptions().branches({{"signed", "signed"}}).require_signed(true));
  EXPECT_EQ(*VersionLog::open(c, OpenMode::kReadOnly)->head("signed"), ids[1]);
  pull(dir.sub("e"), a, TransferOptions().branches({{"signed", "main"}}).require_signed(true).trusted({alice + ".pub"}));
  EXPECT_EQ(*VersionLog::open(dir.sub("e"), OpenMode::kReadOnly)->head("main"), ids[1]);
}

TEST_F(Transfer, ASignatureThatDoesNotVerifyIsRefusedOnArrival) {
  const std::string alice = write_key(dir, "alice");
  std::vector<CommitId> ids;
  {
    auto log = VersionLog::open(a, OpenMode::kReadWrite, LogOptions().signing_key(alice));
    ids = commit_chain(*log, "main", std::nullopt, 1, 2);
    // Rewritten through Strata's own transaction, so that only the signature can tell.
    std::string sig = log->signatures(ids[1])[0].encode();
    sig[sig.size() - 1] = static_cast<char>(sig[sig.size() - 1] ^ 1);
    LogInternals::env(*log).write([&](LmdbTxn& txn) {
      txn.put(Db::kSignatures, version_signature_key(ids[1], read_public_key(alice + ".pub").id()), sig);
    });
  }
  expect_error([&] { clone(a, b, {}); }, ErrorCode::kCorruption,
               {"refused: a signature of version " + short_hex(ids[1]) + ": the signature by key", "does not verify"});
}

TEST(TransferWire, PackBytesAreFixed) {
  Pack p;
  CommitId id{};
  id[0] = 0xab;
  ChunkId c{};
  c[15] = 0x01;
  p.commits.push_back({id, "rec", "", "st", {"S"}});
  p.graphs.emplace_back("g", "GG");
  p.chunks.emplace_back(c, "v");
  p.tag_signatures["t"] = "X";
  const std::string bytes = encode_pack(p);
  std::string hex;
  for (unsigned char ch : bytes) hex += "0123456789abcdef"[ch >> 4], hex += "0123456789abcdef"[ch & 15];
  EXPECT_EQ(hex,
            "0100000000000000"                  // 1 commit
            "ab000000000000000000000000000000"  // its id
            "0300000000000000"
            "726563"            // record "rec"
            "0000000000000000"  // no optimizer manifest
            "0200000000000000"
            "7374"              // stats "st"
            "0100000000000000"  // 1 signature
            "0100000000000000"
            "53"                // "S"
            "0100000000000000"  // 1 graph
            "0100000000000000"
            "67"  // id "g"
            "0200000000000000"
            "4747"                              // bytes "GG"
            "0100000000000000"                  // 1 chunk
            "00000000000000000000000000000001"  // its id
            "0100000000000000"
            "76"                // value "v"
            "0100000000000000"  // 1 tag signature
            "0100000000000000"
            "74"  // tag "t"
            "0100000000000000"
            "58");  // its signature "X"
  const Pack back = decode_pack(bytes);
  EXPECT_EQ(back.commits[0].record, "rec");
  EXPECT_EQ(back.chunks[0].first, c);
  expect_error([&] { decode_pack(bytes.substr(0, bytes.size() - 1)); }, ErrorCode::kCorruption, {"truncated"});
  expect_error([&] { decode_pack(bytes + "x"); }, ErrorCode::kCorruption, {"trailing bytes"});
  std::string huge = bytes;
  huge[0] = '\x7f';  // a count the message cannot hold
  expect_error([&] { decode_pack(huge); }, ErrorCode::kCorruption, {"count larger than the message"});
}

}  // namespace
}  // namespace strata::versioning
