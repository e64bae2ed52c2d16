// VersionLog::prepare / write: hashing a snapshot, encoding its new chunks, one transaction.
#include <omp.h>

#include <chrono>
#include <cstring>
#include <set>

#include "strata/framework/core/error.h"
#include "strata/framework/core/version.h"
#include "strata/versioning/internal/log_internals.h"

namespace strata::versioning {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

size_t chunk_count(size_t bytes) { return (bytes + kMaxChunkBytes - 1) / kMaxChunkBytes; }

std::string_view chunk_view(const Tensor& t, size_t c) {
  size_t off = c * kMaxChunkBytes;
  return {static_cast<const char*>(t.raw()) + off, std::min(kMaxChunkBytes, t.nbytes() - off)};
}

// Hashes every chunk of `tensors` (in parallel) into manifest entries.
std::vector<TensorEntry> hash_tensors(const NamedTensors& tensors) {
  std::vector<TensorEntry> entries(tensors.size());
  std::vector<std::pair<size_t, size_t>> jobs;
  for (size_t t = 0; t < tensors.size(); ++t) {
    const auto& [name, tensor] = tensors[t];
    if (!tensor.defined()) throw_invalid("tensor '" + name + "' is undefined", "snapshot");
    TensorEntry& e = entries[t];
    e.name = name;
    e.dtype = tensor.dtype();
    e.shape = tensor.shape();
    e.raw_bytes = tensor.nbytes();
    e.chunks.resize(chunk_count(tensor.nbytes()));
    for (size_t c = 0; c < e.chunks.size(); ++c) jobs.emplace_back(t, c);
  }
  const int64_t n = static_cast<int64_t>(jobs.size());
  size_t total = 0;
  for (const auto& [name, t] : tensors) total += t.nbytes();
    // XXH3 runs at memory speed: threads only pay off for large states.
#pragma omp parallel for schedule(dynamic) if (n > 1 && total >= (size_t{4} << 20))
  for (int64_t j = 0; j < n; ++j) {
    auto [t, c] = jobs[static_cast<size_t>(j)];
    entries[t].chunks[c] = hash128(chunk_view(tensors[t].second, c));
  }
  return entries;
}

// A chunk to encode: its bytes, and its delta base when it has one.
struct EncodeJob {
  ChunkId id;
  DType dtype;
  std::string_view raw;
  std::string tensor;
  bool has_base = false;
  ChunkBase base;
  ChunkBytes base_owner;  // keeps decoded base bytes alive
  std::string value;
};

// Where the new chunks of a commit find their delta bases: the first parent's tensors of the
// same name, dtype and size, coded at most `keyframe_interval` - 1 deltas from a keyframe.
struct DeltaBases {
  bool enabled = false;  // false: every new chunk is coded on its own (raw codec, or deferred)
  int keyframe_interval = 0;
  std::map<std::string, TensorEntry> parent_entries;
  // The parent's tensors as the last write() kept them; null when the parent is another version.
  const std::map<std::string, Tensor>* parent_tensors = nullptr;
};

// Points `job` at its delta base when the parent has one for this chunk.
void find_delta_base(const VersionLog& log, const LmdbTxn& txn, const DeltaBases& bases, const TensorEntry& e, size_t c,
                     EncodeJob& job) {
  const auto be = bases.parent_entries.find(e.name);
  if (be == bases.parent_entries.end() || be->second.dtype != e.dtype || be->second.raw_bytes != e.raw_bytes) return;
  const ChunkId& base_id = be->second.chunks[c];
  const auto base_value = txn.get(Db::kChunks, as_bytes(base_id));
  if (!base_value) return;
  const ChunkHeader h = parse_chunk_header(*base_value);
  if (h.depth + 1 >= bases.keyframe_interval || h.raw_size != job.raw.size()) return;
  job.has_base = true;
  job.base.id = base_id;
  job.base.depth = h.depth;
  const auto cached = bases.parent_tensors ? bases.parent_tensors->find(e.name) : std::map<std::string, Tensor>::const_iterator{};
  if (bases.parent_tensors && cached != bases.parent_tensors->end() && cached->second.nbytes() == e.raw_bytes) {
    job.base.data = static_cast<const uint8_t*>(cached->second.raw()) + c * kMaxChunkBytes;
  } else {
    job.base_owner = LogInternals::decode_chunk(log, txn, base_id, true);
    job.base.data = job.base_owner->data();
  }
}

// The chunks of `entries` that neither the log nor `planned` holds, as encode jobs; counts the
// others in `reused`.
void plan_new_chunks(const VersionLog& log, const LmdbTxn& txn, const DeltaBases& bases, const std::vector<TensorEntry>& entries,
                     const std::vector<Tensor>& tensors, std::set<ChunkId>& planned, uint64_t& reused,
                     std::vector<EncodeJob>& jobs) {
  for (size_t t = 0; t < entries.size(); ++t) {
    const TensorEntry& e = entries[t];
    for (size_t c = 0; c < e.chunks.size(); ++c) {
      if (txn.exists(Db::kChunks, as_bytes(e.chunks[c])) || !planned.insert(e.chunks[c]).second) {
        ++reused;
        continue;
      }
      EncodeJob job{e.chunks[c], e.dtype, chunk_view(tensors[t], c), e.name, false, {}, nullptr, {}};
      if (bases.enabled) find_delta_base(log, txn, bases, e, c, job);
      jobs.push_back(std::move(job));
    }
  }
}

void encode_jobs(std::vector<EncodeJob>& jobs, const CodecOptions& codec, int threads) {
  const int64_t n = static_cast<int64_t>(jobs.size());
  size_t total = 0;
  for (const EncodeJob& job : jobs) total += job.raw.size();
#pragma omp parallel for num_threads(threads) schedule(dynamic) if (n > 1 && total >= (size_t{1} << 20))
  for (int64_t j = 0; j < n; ++j) {
    EncodeJob& job = jobs[static_cast<size_t>(j)];
    job.value = encode_chunk(job.raw, job.dtype, job.has_base ? &job.base : nullptr, codec);
  }
}

// The branch may take this version: its head is the first parent (or it is new), and no tag
// has its name.
void check_branch_accepts(const LmdbTxn& txn, const CommitRecord& r, const std::optional<CommitId>& head,
                          const std::string& log_dir) {
  if (head && (r.parents.empty() || *head != r.parents[0]))
    throw Error(ErrorCode::kFailedPrecondition,
                "branch '" + r.branch + "' has moved: its head is " + LogInternals::describe(txn, *head) +
                    ", but this version's parent is " + (r.parents.empty() ? std::string("none") : short_hex(r.parents[0])),
                log_dir, "commit on a new branch, or resume from the branch head");
  if (!head && LogInternals::get_ref(txn, tag_key(r.branch)))
    throw Error(ErrorCode::kAlreadyExists,
                "a tag is named '" + r.branch + "': a branch of the same name would make the name ambiguous", log_dir,
                "choose another branch name");
  for (const CommitId& parent : r.parents) LogInternals::need_record(txn, parent);
}

// Stores the new chunks, the record, manifests, graph, stats, index and head in `txn`.
CommitStats store_commit(LmdbTxn& txn, const PreparedCommit& p, const std::vector<EncodeJob>& jobs, uint64_t reused,
                         bool deferred, const std::optional<Signature>& signature, const std::string& log_dir) {
  const CommitRecord& r = p.record;
  const auto head = LogInternals::get_ref(txn, head_key(r.branch));
  check_branch_accepts(txn, r, head, log_dir);
  CommitStats stats;
  stats.reused_chunks = reused;
  std::string pending = std::string(as_bytes(p.id));  // this version's id, then its new chunks
  for (const EncodeJob& job : jobs) {
    if (txn.exists(Db::kChunks, as_bytes(job.id))) {
      ++stats.reused_chunks;
      continue;
    }
    txn.put(Db::kChunks, as_bytes(job.id), job.value);
    pending += as_bytes(job.id);
    stats.new_stored_bytes += job.value.size();
    stats.stored_bytes[job.tensor] += job.value.size();
    ++stats.new_chunks;
    if (parse_chunk_header(job.value).delta) ++stats.delta_chunks;
  }
  for (const auto* list : {&r.params, &r.optim})
    for (const TensorEntry& e : *list) stats.raw_bytes += e.raw_bytes;
  if (!txn.exists(Db::kCommits, as_bytes(p.id))) txn.put(Db::kCommits, as_bytes(p.id), p.record_bytes);
  if (signature) txn.put(Db::kSignatures, version_signature_key(p.id, signature->key_id()), signature->encode());
  if (!p.optim_bytes.empty()) txn.put(Db::kOptim, as_bytes(p.id), p.optim_bytes);
  txn.put(Db::kStats, as_bytes(p.id), stats.encode());
  if (deferred && pending.size() > sizeof(CommitId)) txn.put(Db::kPending, next_pending_key(txn), pending);
  if (!txn.exists(Db::kGraphs, r.graph_id)) txn.put(Db::kGraphs, r.graph_id, p.graph_bytes);
  txn.put(Db::kRefs, head_key(r.branch), as_bytes(p.id));
  if (!head)
    LogInternals::reindex_branch(txn, r.branch, p.id);
  else if (!r.is_merge() && r.step_in_epoch() == 0)  // branch@epoch: an epoch's end, never a merge
    txn.put(Db::kIndex, index_key(r.branch, r.epoch), as_bytes(p.id));
  return stats;
}

// This version's tensors, copied into `previous`'s buffers where they fit: the delta bases of
// the next commit.
std::map<std::string, Tensor> copy_for_next_commit(const PreparedCommit& p, const std::map<std::string, Tensor>& previous) {
  std::map<std::string, Tensor> next;
  auto keep = [&](const std::vector<TensorEntry>& entries, const std::vector<Tensor>& tensors) {
    for (size_t t = 0; t < entries.size(); ++t) {
      auto it = previous.find(entries[t].name);
      Tensor buf = it != previous.end() && it->second.dtype() == tensors[t].dtype() && it->second.numel() == tensors[t].numel()
                       ? it->second
                       : Tensor(tensors[t].shape(), tensors[t].dtype());
      std::memcpy(buf.raw(), tensors[t].raw(), tensors[t].nbytes());
      next[entries[t].name] = buf;
    }
  };
  keep(p.record.params, p.params);
  if (!p.optim_bytes.empty()) keep(p.record.optim, p.optim);
  return next;
}

}  // namespace

PreparedCommit VersionLog::prepare(const SnapshotRequest& request) const {
  if (!request.state) throw_invalid("snapshot without a state", "commit");
  validate_ref_name("branch", request.branch);
  const TrainState& s = *request.state;
  std::set<std::string> names;
  for (const auto* list : {&s.params, &s.optim})
    for (const auto& [name, t] : *list)
      if (!names.insert(name).second) throw_invalid("tensor name '" + name + "' appears twice", "snapshot");
  std::set<CommitId> parents(request.parents.begin(), request.parents.end());
  if (parents.size() != request.parents.size()) throw_invalid("a parent is listed twice", "snapshot");

  PreparedCommit p;
  CommitRecord& r = p.record;
  r.parents = request.parents;
  r.branch = request.branch;
  r.epoch = s.epoch();
  r.global_step = s.global_step();
  r.wall_time_ms =
      request.wall_time_ms
          ? request.wall_time_ms
          : std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  r.author = request.author.empty() ? default_author() : request.author;
  r.message = request.message;
  p.graph_bytes = s.graph.to_bytes();
  r.graph_id = to_hex(hash128(p.graph_bytes));
  r.hparams = s.hparams;
  r.metrics = s.metrics;
  r.counters = s.counters;
  r.environment = s.environment;
  r.environment.try_emplace("strata", version());  // every version names the Strata that wrote it
  r.params = hash_tensors(s.params);
  for (const auto& [name, t] : s.params) p.params.push_back(t);
  if (request.include_optim && !s.optim.empty()) {
    std::vector<TensorEntry> optim = hash_tensors(s.optim);
    p.optim_bytes = encode_manifest(optim);
    r.optim_count = static_cast<uint32_t>(optim.size());
    r.optim_digest = hash128(p.optim_bytes);
    r.optim = std::move(optim);
    r.optim_present = true;
    for (const auto& [name, t] : s.optim) p.optim.push_back(t);
  }
  p.record_bytes = r.encode();
  p.id = hash128(p.record_bytes);
  return p;
}

CommitResult VersionLog::write(const PreparedCommit& p, const WriteOptions& write_options) {
  require_writable("record a version");
  const bool deferred = write_options.defer_compression() && settings_.codec != ChunkCodec::kRaw;
  std::lock_guard<std::mutex> serial(write_mu_);
  if (!deferred) {
    // A delta coded now against a raw queued chunk would break once compaction turns that
    // chunk into a delta of its own (chains must shorten toward their keyframe): compact first.
    uint64_t queued = 0;
    env_->read([&](const LmdbTxn& txn) { queued = txn.count(Db::kPending); });
    if (queued > 0) compact_pending_locked(write_options.encode_threads());
  }
  const CommitRecord& r = p.record;
  CommitResult result;
  result.id = p.id;
  const auto t0 = std::chrono::steady_clock::now();

  // Phase 1 (one read transaction): which chunks are new, and the delta base of each.
  std::vector<EncodeJob> jobs;
  uint64_t reused = 0;
  env_->read([&](const LmdbTxn& txn) {
    for (const CommitId& parent : r.parents)
      if (!txn.exists(Db::kCommits, as_bytes(parent)))
        throw Error(ErrorCode::kNotFound, "parent version " + to_hex(parent) + " is not in this log", log_dir_);
    DeltaBases bases;
    bases.enabled = settings_.codec != ChunkCodec::kRaw && !deferred;
    bases.keyframe_interval = settings_.keyframe_interval;
    if (!r.parents.empty()) {
      CommitRecord parent = LogInternals::need_record(txn, r.parents[0]);
      LogInternals::load_optim(txn, r.parents[0], parent);
      for (const auto* list : {&parent.params, &parent.optim})
        for (const TensorEntry& e : *list) bases.parent_entries.emplace(e.name, e);
      if (has_last_ && last_id_ == r.parents[0]) bases.parent_tensors = &last_tensors_;
    }
    std::set<ChunkId> planned;
    plan_new_chunks(*this, txn, bases, r.params, p.params, planned, reused, jobs);
    if (!p.optim_bytes.empty()) plan_new_chunks(*this, txn, bases, r.optim, p.optim, planned, reused, jobs);
  });

  // Phase 2 (no transaction): encode the new chunks in parallel.
  const int threads = write_options.encode_threads() > 0 ? write_options.encode_threads()
                      : options_.encode_threads() > 0    ? options_.encode_threads()
                                                         : omp_get_max_threads();
  encode_jobs(jobs, CodecOptions().codec(deferred ? ChunkCodec::kRaw : settings_.codec).zstd_level(settings_.zstd_level),
              threads);
  result.encode_seconds = seconds_since(t0);

  // Phase 3: one write transaction for chunks, record, manifests, graph, index and ref.
  const auto t1 = std::chrono::steady_clock::now();
  const std::optional<Signature> signature =
      signer_ ? std::optional<Signature>(sign_version(*signer_, p.id, now_ms())) : std::nullopt;
  env_->write([&](LmdbTxn& txn) { result.stats = store_commit(txn, p, jobs, reused, deferred, signature, log_dir_); });
  result.write_seconds = seconds_since(t1);

  if (deferred) {  // the next commit is deferred too, most likely: no delta bases to keep
    last_tensors_.clear();
    has_last_ = false;
    return result;
  }
  last_tensors_ = copy_for_next_commit(p, last_tensors_);
  last_id_ = p.id;
  has_last_ = true;
  return result;
}

}  // namespace strata::versioning
