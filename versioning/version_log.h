// VersionLog: the version history of a training run, stored in LMDB (docs/design.md "The version log";
// byte layouts in docs/formats.md).
//
// A version (commit) is an immutable record with parents, named by the XXH3-128 of its encoding;
// its tensors are cut into <= 1 MiB chunks, content-addressed (deduplicated), delta-coded against
// the parent version and compressed. Branches and tags are refs to versions. A commit's chunks,
// record, index entry and ref move are one LMDB write transaction, so a crash at any instant
// leaves the log at the previous commit.
//
// Ownership: a VersionLog owns its LMDB environment (shared with other read-only VersionLogs of
// the same directory in this process). Tensors it returns own their storage.
// Thread-safety: all const methods may run concurrently with each other and with one writer;
// writing methods are serialised internally. Any number of read-only processes may read while one
// process writes (a second writer gets kFailedPrecondition).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "strata/framework/core/options.h"
#include "strata/framework/core/tensor.h"
#include "strata/framework/graph/graph_spec.h"
#include "strata/framework/train/train_state.h"
#include "strata/versioning/chunk_codec.h"
#include "strata/versioning/commit_record.h"
#include "strata/versioning/ids.h"
#include "strata/versioning/signing.h"

namespace strata::versioning {

class LmdbEnv;
class LmdbTxn;
class ChunkCache;

struct LogOptions {
  STRATA_ARG(int, keyframe_interval) = 8;  // a delta chain is at most this many chunks long
  STRATA_ARG(int, zstd_level) = 3;
  STRATA_ARG(ChunkCodec, codec) = ChunkCodec::kFloatModel;
  STRATA_ARG(size_t, initial_map_bytes) = size_t{64} << 20;  // the map doubles whenever it is full
  STRATA_ARG(int, encode_threads) = 0;                       // 0: OpenMP's default
  STRATA_ARG(size_t, decode_cache_bytes) = size_t{64} << 20;
  STRATA_ARG(bool, update_settings) = false;  // an existing log keeps its meta settings unless this is set
  // Opening compares the refs, the branch index, the signatures and the trust list with the
  // digests kept beside them and refuses a log where they differ (kCorruption). Off only for
  // `verify`, which reports the differences one by one, and `reseal_digests`.
  STRATA_ARG(bool, check_digests) = true;
  // The secret key (versioning/signing.h) that signs every version this log object writes, and
  // its tags written with `sign`. Empty: $STRATA_SIGNING_KEY when set (read-write opens only).
  STRATA_ARG(std::string, signing_key);
};

enum class OpenMode { kReadOnly, kReadWrite };

// The settings a log was created with (the `meta` database).
struct LogSettings {
  uint32_t format_version = 0;
  int64_t created_ms = 0;
  int keyframe_interval = 8;
  int zstd_level = 3;
  ChunkCodec codec = ChunkCodec::kFloatModel;
};

// What to commit. The state's tensors must not change until the commit is written.
struct SnapshotRequest {
  std::vector<CommitId> parents;  // empty for a first version; parents[0] is the delta base
  std::string branch = "main";    // created when missing; else its head must be parents[0]
  std::string message;
  std::string author;        // empty: $USER@hostname
  int64_t wall_time_ms = 0;  // 0: now
  const TrainState* state = nullptr;
  bool include_optim = true;
};

// A snapshot hashed and described but not yet written: its id is final.
struct PreparedCommit {
  CommitId id{};
  CommitRecord record;
  std::string record_bytes, optim_bytes, graph_bytes;
  std::vector<Tensor> params, optim;  // manifest order; storage shared with the request's state
};

// How one commit is written.
struct WriteOptions {
  STRATA_ARG(int, encode_threads) = 0;  // > 0 overrides LogOptions::encode_threads
  // Store the new chunks raw and queue the version for compaction (compact_pending) instead of
  // compressing them now: the hot path of a training run, where encoding would take CPU from
  // training. The version's id and content are the same either way; only its stored bytes differ
  // until it is compacted.
  STRATA_ARG(bool, defer_compression) = false;
};

struct CommitResult {
  CommitId id{};
  CommitStats stats;
  double encode_seconds = 0;  // chunk encoding (parallel)
  double write_seconds = 0;   // the LMDB transaction, fsync included
};

struct RetentionReport {
  size_t full_versions = 0;  // versions that keep their optimizer state
  size_t dropped_now = 0;    // versions whose optimizer state this call dropped
  size_t params_only = 0;    // versions without optimizer state after this call
  uint64_t chunks_deleted = 0, chunks_rewritten = 0;
  int64_t bytes_freed = 0;  // net: deleted chunks minus the growth of deltas rewritten as keyframes
};

struct GcReport {
  size_t commits_deleted = 0;
  uint64_t chunks_deleted = 0, chunks_rewritten = 0;
  int64_t bytes_freed = 0;
};

// How far VersionLog::compact_pending takes the queued versions.
enum class CompactTier {
  // The log's codec, each chunk delta-coded against its parent version's; the version leaves
  // the queue. The float model codes about 65 MB/s per thread each way (bench/codec_bench).
  kFull,
  // shuffle+zstd at level 1, every chunk on its own (no delta, so no chain that a later kFull
  // pass could lengthen): ~4x faster than kFull for ~0.82 of raw where kFull reaches ~0.75. The
  // version stays queued, and a later kFull pass (strata compact, strata gc) finishes it. On a
  // log whose codec is not the float model, the same as kFull (those codecs are quick already).
  kFast,
};

struct CompactReport {
  size_t versions = 0;                         // queued versions compacted (or dropped from the queue: deleted since)
  uint64_t chunks_encoded = 0;                 // chunks re-encoded with the log's codec
  uint64_t delta_chunks = 0;                   // of those, coded against the parent version's chunk
  uint64_t bytes_before = 0, bytes_after = 0;  // stored bytes of the chunks looked at
  double seconds = 0;
};

struct VerifyIssue {
  CommitId version{};
  std::string tensor;  // empty for a problem with the record itself
  std::string problem;
};
struct VerifyReport {
  size_t versions_checked = 0, chunks_checked = 0;
  std::vector<VerifyIssue> issues;
  bool ok() const { return issues.empty(); }
};

class VersionLog {
 public:
  // Opens <log_dir>/versions.lmdb. kReadWrite creates the log when missing and takes the writer
  // lock; kReadOnly needs an existing log (kNotFound otherwise) and works while another process
  // writes. A log written by a newer format is refused with kFailedPrecondition.
  static std::unique_ptr<VersionLog> open(const std::string& log_dir, OpenMode mode, LogOptions options = {});
  ~VersionLog();

  const std::string& log_dir() const { return log_dir_; }
  bool read_only() const;
  // A writer (a training run, a merge, gc) holds this log now, in this or another process.
  bool writer_active() const;
  LogSettings settings() const { return settings_; }

  // ---- names (versioning/names.cc) ----
  // Full hex id, unique hex prefix (>= 4 digits), branch@epoch, tag, branch (its head), each with
  // ~N (N first parents back). kNotFound / kInvalidArgument (ambiguous prefix) otherwise.
  CommitId resolve(const std::string& name) const;
  // "1a2b3c4d (main@3)": how errors and listings name a version.
  std::string describe(const CommitId& id) const;

  // ---- reading ----
  bool has_version(const CommitId& id) const;
  CommitRecord read_record(const CommitId& id) const;  // with its optimizer manifest if present
  std::optional<CommitStats> read_stats(const CommitId& id) const;
  GraphSpec read_graph(const std::string& graph_id) const;
  NamedTensors read_params(const CommitId& id) const;
  NamedTensors read_optim(const CommitId& id) const;  // kFailedPrecondition if dropped
  Tensor read_tensor(const CommitId& id, const std::string& name) const;
  // Everything needed to resume; refuses (kFailedPrecondition) a version whose optimizer state
  // retention dropped.
  TrainState read_state(const CommitId& id) const;

  std::vector<std::string> branches() const;
  std::map<std::string, CommitId> tags() const;
  std::optional<CommitId> head(const std::string& branch) const;
  std::vector<CommitId> history(const std::string& branch) const;  // first parents, newest first
  std::vector<CommitId> history_from(const CommitId& start) const;
  // Every version reachable from a branch or tag, newest first (by wall time, then epoch).
  std::vector<CommitId> all_versions() const;

  // ---- writing (versioning/commit_writer.cc) ----
  // Hashes the state and builds the record: cheap (no compression), gives the final id.
  PreparedCommit prepare(const SnapshotRequest& request) const;
  // Encodes new chunks in parallel (or stores them raw, WriteOptions::defer_compression) and
  // writes everything in one transaction. A direct write first compacts what is queued: a delta
  // against a raw queued chunk would outlive that chunk's own re-encoding as a deeper delta.
  CommitResult write(const PreparedCommit& prepared, const WriteOptions& options = {});
  CommitResult commit(const SnapshotRequest& request) { return write(prepare(request)); }

  void set_branch(const std::string& name, const CommitId& id, bool force = false);
  void delete_branch(const std::string& name);
  // Moving or deleting a tag drops its signature; `sign` signs the new one with the signing key
  // (kFailedPrecondition without one).
  void set_tag(const std::string& name, const CommitId& id, bool force = false, bool sign = false);
  void delete_tag(const std::string& name);

  // ---- signatures and trust (versioning/signatures.cc) ----
  // The key that signs what this object writes; nullptr when none is configured.
  const SigningKey* signing_key() const { return signer_.get(); }
  // Adds a signature by the signing key to a version already in the log.
  void sign(const CommitId& id);
  // The signatures stored with a version; kCorruption when one is malformed.
  std::vector<Signature> signatures(const CommitId& id) const;
  std::optional<Signature> tag_signature(const std::string& tag) const;
  // The verdict on a version's signatures (signing.h), or a tag's.
  SignatureCheck check_version(const CommitId& id, const TrustPolicy& policy) const;
  SignatureCheck check_tag(const std::string& tag, const TrustPolicy& policy) const;
  // The trust list: keys kept in the log, by name (like ssh's allowed_signers).
  void trust_key(const std::string& name, const PublicKey& key);
  // Revokes a trusted key by name or (a prefix of) its key id; returns it.
  TrustedKey revoke_key(const std::string& name_or_id);
  std::vector<TrustedKey> trusted_keys() const;
  // The keys in `pub_files`, or the log's trust list when there are none.
  TrustPolicy trust_policy(const std::vector<std::string>& pub_files = {}) const;

  // ---- maintenance (versioning/maintenance.cc) ----
  // Keeps the optimizer state of the newest `keep_last_k` versions of every branch, of branch
  // heads and of tagged versions; drops it elsewhere and deletes chunks nothing needs. Opt-in.
  RetentionReport apply_retention(int keep_last_k);
  // Deletes versions no branch or tag reaches, and chunks no remaining version needs.
  GcReport gc();
  // Compresses the chunks of versions written with defer_compression, oldest first: kFull with
  // the log's codec and delta-coded against the parent version as a direct write would have,
  // kFast with a quick codec and leaving them queued for kFull (see CompactTier). One transaction
  // per version, each re-encoded chunk decoded and re-hashed before it replaces the stored one
  // (ids and records never change). `threads` 0: OpenMP's default.
  CompactReport compact_pending(int threads, CompactTier tier);
  CompactReport compact_pending(int threads = 0) { return compact_pending(threads, CompactTier::kFull); }
  // Versions waiting for compact_pending.
  size_t pending_versions() const;
  // Re-hashes every chunk of one version (or all) and lists bad tensors; never throws for bad data.
  // Checking all versions also compares the refs, index, signatures and trust list with their
  // digests (LogOptions::check_digests) and reports each difference.
  VerifyReport verify(const std::optional<CommitId>& version = std::nullopt) const;
  // Accepts the refs, index, signatures and trust list as they are now: rewrites their digests.
  // For a log whose refs lost an entry to damage, after `verify` named what differs; recreate a
  // lost branch or tag afterwards. Returns the differences it accepted.
  std::vector<std::string> reseal_digests();

 private:
  friend class LogInternals;
  VersionLog() = default;
  void require_writable(const char* what) const;
  // compact_pending with write_mu_ held.
  CompactReport compact_pending_locked(int threads, CompactTier tier = CompactTier::kFull);

  std::string log_dir_;
  bool read_only_ = true;  // this object's mode; the shared environment may be read-write
  LogOptions options_;
  LogSettings settings_;
  std::shared_ptr<LmdbEnv> env_;
  std::unique_ptr<ChunkCache> cache_;
  std::shared_ptr<const SigningKey> signer_;
  // The tensors of the last commit written here, as delta bases for the next one.
  std::mutex write_mu_;
  CommitId last_id_{};
  bool has_last_ = false;
  std::map<std::string, Tensor> last_tensors_;
};

// Validates a branch or tag name (letters, digits, . _ - /; no '@', '~', "..").
void validate_ref_name(const std::string& kind, const std::string& name);
// $USER@hostname.
std::string default_author();

}  // namespace strata::versioning
