// Internal helpers shared by the .cc files that implement VersionLog: key encodings and reads
// inside an open transaction. Not part of the versioning API.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/versioning/internal/chunk_cache.h"
#include "strata/versioning/internal/lmdb_env.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {

// Keys (docs/formats.md "Databases").
std::string head_key(const std::string& branch);  // "heads/<branch>"
std::string tag_key(const std::string& tag);      // "tags/<tag>"
// `signatures` keys: "v" + version id + signer's key id; "t" + tag name.
std::string version_signature_prefix(const CommitId& id);
std::string version_signature_key(const CommitId& id, const KeyId& key);
std::string tag_signature_key(const std::string& tag);
int64_t now_ms();                                                 // Unix time in milliseconds
std::string index_key(const std::string& branch, int64_t epoch);  // "<branch>\0<epoch BE>"
std::string index_prefix(const std::string& branch);              // "<branch>\0"
// The key after the last entry of the `pending` queue (8 bytes, big-endian sequence number).
std::string next_pending_key(const LmdbTxn& txn);

// The differences between the guarded databases and their digests (internal/index_guard.h), one
// sentence each, naming what differs where that can be known; empty when they agree. A digest
// that is missing counts as a difference (call it only on logs of format 3 or later).
std::vector<std::string> digest_problems(const LmdbTxn& txn);
// Writes the digest of every guarded database as its content is now.
void seal_digests(LmdbTxn& txn);

class LogInternals {
 public:
  static LmdbEnv& env(const VersionLog& log) { return *log.env_; }
  static const LogOptions& options(const VersionLog& log) { return log.options_; }

  // The record as stored (without the optimizer manifest); nullopt when absent.
  static std::optional<CommitRecord> get_record(const LmdbTxn& txn, const CommitId& id);
  // Throws kNotFound naming the id when absent.
  static CommitRecord need_record(const LmdbTxn& txn, const CommitId& id);
  // Fills record.optim / optim_present from `optim`, checking the manifest against the digest.
  static void load_optim(const LmdbTxn& txn, const CommitId& id, CommitRecord& record);
  static std::string describe(const LmdbTxn& txn, const CommitId& id);
  static std::string describe(const CommitId& id, const CommitRecord& record);
  static std::optional<CommitId> get_ref(const LmdbTxn& txn, const std::string& key);

  // First-parent chain from `start` (inclusive), newest first.
  static std::vector<CommitId> first_parents(const LmdbTxn& txn, const CommitId& start);
  // The index entries (epoch -> version) of a branch whose head is `head`.
  static std::map<int64_t, CommitId> branch_index(const LmdbTxn& txn, const CommitId& head);
  // Rewrites the index entries of `branch` from the first-parent history of `head`.
  static void reindex_branch(LmdbTxn& txn, const std::string& branch, const std::optional<CommitId>& head);

  // Decodes one chunk and its delta chain, re-hashing every link; throws kCorruption (what only).
  // `use_cache` lets bases come from the decoded-chunk cache; the chunk itself is always read.
  static ChunkBytes decode_chunk(const VersionLog& log, const LmdbTxn& txn, const ChunkId& id, bool use_cache);
  // Decodes tensors (in parallel over chunks). Errors name `version` and the tensor.
  static std::vector<Tensor> decode_tensors(const VersionLog& log, const LmdbTxn& txn, const std::vector<TensorEntry>& entries,
                                            const std::string& version, bool use_cache);
};

}  // namespace strata::versioning
