// Commit records: encode / decode round trips and golden bytes.
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
#include "strata/versioning/version_log.h"
#include "tests/expect_error.h"
#include "tests/versioning/corruption_util.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using vtest::synthetic_state;

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
  huge[branch_length + 5] = 0x40;                                  // the length's 6th byte: 2^46 and more
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
      "0000000000000000"  // parents: none
      "0100000000000000"
      "62"                // branch "b"
      "0100000000000000"  // epoch 1
      "0200000000000000"  // global step 2
      "0300000000000000"  // wall time 3
      "0000000000000000"
      "0000000000000000"
      "0000000000000000"  // author, message, graph id
      "0000000000000000"
      "0000000000000000"
      "0000000000000000"  // hparams, metrics, counters
      "0000000000000000"  // no parameters
      "00000000"
      "00000000000000000000000000000000";  // optim count, digest
  EXPECT_EQ(hex(r.encode()),
            "01"
            "02000000" +
                common +
                "0100000000000000"  // environment: 1 entry
                "0600000000000000"
                "737472617461"
                "0500000000000000"
                "302e322e30");  // strata 0.2.0
  r.format_version = 1;
  EXPECT_EQ(hex(r.encode()),
            "01"
            "01000000" +
                common);
}

}  // namespace
}  // namespace strata::versioning
