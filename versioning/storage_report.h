// Where a version log's bytes go (`strata du`): stored chunk bytes against raw fp32 bytes, by
// branch, by tensor, by kind (parameters / optimizer state) and by codec.
//
// Every chunk is counted once, for the oldest version that lists it (by wall time, then epoch):
// a branch is charged for the chunks its versions added, not for what it shares with its parent
// branch. "Raw" is what storing every version's tensors in full would take (a tensor kept
// unchanged for ten versions counts ten times), except in `by_codec`, whose raw bytes are those
// of the distinct chunks coded that way. Read-only; safe while a training process writes.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "strata/versioning/version_log.h"

namespace strata::versioning {

struct StorageUsage {
  uint64_t raw_bytes = 0;
  uint64_t stored_bytes = 0;  // chunk values (header + payload)
  uint64_t chunks = 0;        // distinct chunks charged here
  double ratio() const { return raw_bytes ? static_cast<double>(stored_bytes) / static_cast<double>(raw_bytes) : 0.0; }
};

struct StorageReport {
  size_t versions = 0;
  size_t params_only_versions = 0;  // optimizer state dropped by retention
  uint64_t missing_chunks = 0;      // listed but absent (`strata verify` says which)
  StorageUsage total;
  std::map<std::string, StorageUsage> by_branch, by_tensor, by_kind, by_codec;
};

// Codec keys: "float-model delta", "float-model keyframe", "zstd keyframe", "raw", ...
StorageReport storage_report(const VersionLog& log);

}  // namespace strata::versioning
