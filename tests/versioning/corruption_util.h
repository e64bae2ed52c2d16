// Shared by the versioning and CLI corruption tests: a three-version log whose "fc3/weight"
// changes every version, and a byte flipper that damages one chunk's stored payload in data.mdb
// (LMDB has no checksums, so the flip reaches our decoder and hash check).
#pragma once

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "strata/versioning/internal/lmdb_env.h"
#include "strata/versioning/version_log.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning::vtest {

struct LogWithVictim {
  std::vector<CommitId> ids;  // main@1..3
  std::string victim;         // stored value of the first chunk of main@2's fc3/weight
};

inline LogWithVictim make_log_with_victim(const TempDir& dir) {
  LogWithVictim out;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  for (int e = 1; e <= 3; ++e) {
    TrainState s = synthetic_state(e, 7, 4096);
    s.params.emplace_back("fc3/weight", evolving({64, 64}, 99 + e, 1, 0));  // new each version
    SnapshotRequest r;
    if (!out.ids.empty()) r.parents = {out.ids.back()};
    r.state = &s;
    r.wall_time_ms = 1000 * e;
    out.ids.push_back(log->commit(r).id);
  }
  ChunkId chunk = log->read_record(out.ids[1]).params.back().chunks[0];
  auto env = LmdbEnv::open(dir.sub("versions.lmdb"), true, 0);
  env->read([&](const LmdbTxn& txn) { out.victim = std::string(*txn.get(Db::kChunks, as_bytes(chunk))); });
  return out;
}

// Flips every copy of a payload window of one chunk in data.mdb; returns the number of copies.
inline int flip_chunk_bytes(const std::string& data_mdb, const std::string& value) {
  std::ifstream in(data_mdb, std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const std::string window = value.substr(value.size() / 2, 24);
  int flips = 0;
  for (size_t pos = file.find(window); pos != std::string::npos; pos = file.find(window, pos + 1)) {
    file[pos + 12] = static_cast<char>(file[pos + 12] ^ 0x5A);
    ++flips;
  }
  std::ofstream out(data_mdb, std::ios::binary | std::ios::trunc);
  out.write(file.data(), static_cast<std::streamsize>(file.size()));
  return flips;
}

}  // namespace strata::versioning::vtest
