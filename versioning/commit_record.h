// CommitRecord: the immutable description of one version (docs/formats.md "Commit records").
//
// A record is encoded with cereal's portable binary archive behind a format version; the commit
// id is the XXH3-128 of those bytes. Parameters are listed in the record itself. The optimizer
// state's manifest lives in the `optim` database keyed by commit id and is pinned by its digest
// in the record, so that retention can drop it without changing the record, hence the id.
// Storage accounting (stored bytes per tensor) is not content and lives in `stats`.
//
// Plain value types; not synchronised.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "strata/framework/core/tensor.h"
#include "strata/versioning/ids.h"

namespace strata::versioning {

struct TensorEntry {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
  std::vector<ChunkId> chunks;  // in order; every chunk but the last holds exactly 1 MiB
  uint64_t raw_bytes = 0;

  bool operator==(const TensorEntry& o) const {
    return name == o.name && dtype == o.dtype && shape == o.shape && chunks == o.chunks && raw_bytes == o.raw_bytes;
  }
};

struct CommitRecord {
  // 2 adds `environment`; version-1 records (without it) still decode, and re-encode to their
  // own bytes because format_version is kept.
  static constexpr uint32_t kFormatVersion = 2;

  uint32_t format_version = kFormatVersion;
  std::vector<CommitId> parents;  // empty for a root, two for a merge; [0] is the first parent
  std::string branch;             // the branch it was committed on
  int64_t epoch = 0;
  int64_t global_step = 0;
  int64_t wall_time_ms = 0;  // Unix time in milliseconds
  std::string author;        // user@host
  std::string message;
  std::string graph_id;  // key in `graphs`
  std::map<std::string, std::string> hparams;
  std::map<std::string, double> metrics;
  std::map<std::string, int64_t> counters;  // RNG counters, loader position, optimizer step...
  std::vector<TensorEntry> params;
  uint32_t optim_count = 0;  // tensors in the optimizer manifest at commit time
  Digest128 optim_digest{};  // XXH3-128 of the encoded optimizer manifest (zero if none)
  // How the version was made (format 2): "strata" and "onednn" versions, from TrainState.
  std::map<std::string, std::string> environment;

  // Not encoded: filled by VersionLog::read_record from the `optim` database.
  bool optim_present = false;
  std::vector<TensorEntry> optim;

  std::string encode() const;
  // Throws kCorruption on malformed bytes or a format version newer than this build.
  static CommitRecord decode(std::string_view bytes);
  CommitId id() const { return hash128(encode()); }
  bool had_optim() const { return optim_count > 0; }
  // Retention dropped its optimizer state: it can be diffed, exported and warm-started from,
  // but not resumed exactly. Needs optim_present, i.e. a record from VersionLog::read_record.
  bool optim_dropped() const { return had_optim() && !optim_present; }
  bool is_merge() const { return parents.size() > 1; }
  // A mid-epoch snapshot (TrainerOptions::snapshot_every_steps): the batches of epoch `epoch + 1`
  // trained so far (counter "loader/batch"); 0 for a version made at an epoch's end.
  int64_t step_in_epoch() const;
  // "3" for an epoch's end, "3.500" for 500 steps into the epoch after epoch 3: the part after
  // '@' in its name (branch@3.500).
  std::string epoch_label() const;
};

std::string encode_manifest(const std::vector<TensorEntry>& entries);
std::vector<TensorEntry> decode_manifest(std::string_view bytes);  // kCorruption on bad bytes

// Storage accounting of one commit (the `stats` database); not part of the commit's identity.
struct CommitStats {
  uint64_t raw_bytes = 0;         // params + optimizer state, decoded
  uint64_t new_stored_bytes = 0;  // chunk values this commit added
  uint64_t new_chunks = 0;
  uint64_t reused_chunks = 0;  // chunks that were already in the log (dedup)
  uint64_t delta_chunks = 0;
  std::map<std::string, uint64_t> stored_bytes;  // per tensor: stored size of its new chunks

  std::string encode() const;
  static CommitStats decode(std::string_view bytes);
};

}  // namespace strata::versioning
