// VersionLog::prepare / write: hashing a snapshot, encoding its new chunks, one transaction.
#include <chrono>
#include <cstring>
#include <omp.h>
#include <set>

#include "strata/framework/core/error.h"
#include "strata/framework/core/version.h"
#include "strata/versioning/log_internals.h"

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
  r.wall_time_ms = request.wall_time_ms
                       ? request.wall_time_ms
                       : std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
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
  const int k = settings_.keyframe_interval;

  // Phase 1 (one read transaction): which chunks are new, and the delta base of each.
  std::vector<EncodeJob> jobs;
  std::set<ChunkId> planned;
  uint64_t reused = 0;
  env_->read([&](const LmdbTxn& txn) {
    for (const CommitId& parent : r.parents)
      if (!txn.exists(Db::kCommits, as_bytes(parent)))
        throw Error(ErrorCode::kNotFound, "parent version " + to_hex(parent) + " is not in this log", log_dir_);
    std::map<std::string, TensorEntry> base_entries;
    if (!r.parents.empty()) {
      CommitRecord parent = LogInternals::need_record(txn, r.parents[0]);
      LogInternals::load_optim(txn, r.parents[0], parent);
      for (const auto* list : {&parent.params, &parent.optim})
        for (const TensorEntry& e : *list) base_entries.emplace(e.name, e);
    }
    const bool cached_parent = has_last_ && !r.parents.empty() && last_id_ == r.parents[0];
    auto plan = [&](const std::vector<TensorEntry>& entries, const std::vector<Tensor>& tensors) {
      for (size_t t = 0; t < entries.size(); ++t) {
        const TensorEntry& e = entries[t];
        auto be = base_entries.find(e.name);
        const TensorEntry* base_entry =
            be != base_entries.end() && be->second.dtype == e.dtype && be->second.raw_bytes == e.raw_bytes
                ? &be->second : nullptr;
        for (size_t c = 0; c < e.chunks.size(); ++c) {
          if (txn.exists(Db::kChunks, as_bytes(e.chunks[c])) || planned.count(e.chunks[c])) {
            ++reused;
            continue;
          }
          planned.insert(e.chunks[c]);
          EncodeJob job{e.chunks[c], e.dtype, chunk_view(tensors[t], c), e.name, false, {}, nullptr, {}};
          if (base_entry && settings_.codec != ChunkCodec::kRaw && !deferred) {
            const ChunkId& base_id = base_entry->chunks[c];
            auto base_value = txn.get(Db::kChunks, as_bytes(base_id));
            if (base_value) {
              ChunkHeader h = parse_chunk_header(*base_value);
              if (h.depth + 1 < k && h.raw_size == job.raw.size()) {
                job.has_base = true;
                job.base.id = base_id;
                job.base.depth = h.depth;
                auto last = last_tensors_.find(e.name);
                if (cached_parent && last != last_tensors_.end() && last->second.nbytes() == e.raw_bytes) {
                  job.base.data = static_cast<const uint8_t*>(last->second.raw()) + c * kMaxChunkBytes;
                } else {
                  job.base_owner = LogInternals::decode_chunk(*this, txn, base_id, true);
                  job.base.data = job.base_owner->data();
                }
              }
            }
          }
          jobs.push_back(std::move(job));
        }
      }
    };
    plan(r.params, p.params);
    if (!p.optim_bytes.empty()) plan(r.optim, p.optim);
  });

  // Phase 2 (no transaction): encode the new chunks in parallel.
  const CodecOptions codec =
      CodecOptions().codec(deferred ? ChunkCodec::kRaw : settings_.codec).zstd_level(settings_.zstd_level);
  const int encode_threads = write_options.encode_threads();
  const int threads = encode_threads > 0          ? encode_threads
                      : options_.encode_threads() > 0 ? options_.encode_threads()
                                                    : omp_get_max_threads();
  const int64_t n = static_cast<int64_t>(jobs.size());
  size_t total = 0;
  for (const EncodeJob& job : jobs) total += job.raw.size();
#pragma omp parallel for num_threads(threads) schedule(dynamic) if (n > 1 && total >= (size_t{1} << 20))
  for (int64_t j = 0; j < n; ++j) {
    EncodeJob& job = jobs[static_cast<size_t>(j)];
    job.value = encode_chunk(job.raw, job.dtype, job.has_base ? &job.base : nullptr, codec);
  }
  result.encode_seconds = seconds_since(t0);

  // Phase 3: one write transaction for chunks, record, manifests, graph, index and ref.
  const auto t1 = std::chrono::steady_clock::now();
  env_->write([&](LmdbTxn& txn) {
    CommitStats stats;
    auto head = LogInternals::get_ref(txn, head_key(r.branch));
    if (head && (r.parents.empty() || *head != r.parents[0]))
      throw Error(ErrorCode::kFailedPrecondition,
                  "branch '" + r.branch + "' has moved: its head is " + LogInternals::describe(txn, *head) +
                      ", but this version's parent is " +
                      (r.parents.empty() ? std::string("none") : short_hex(r.parents[0])),
                  log_dir_, "commit on a new branch, or resume from the branch head");
    if (!head && LogInternals::get_ref(txn, tag_key(r.branch)))
      throw Error(ErrorCode::kAlreadyExists,
                  "a tag is named '" + r.branch + "': a branch of the same name would make the name ambiguous",
                  log_dir_, "choose another branch name");
    for (const CommitId& parent : r.parents) LogInternals::need_record(txn, parent);
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
    if (!p.optim_bytes.empty()) txn.put(Db::kOptim, as_bytes(p.id), p.optim_bytes);
    txn.put(Db::kStats, as_bytes(p.id), stats.encode());
    if (deferred && pending.size() > sizeof(CommitId)) txn.put(Db::kPending, next_pending_key(txn), pending);
    if (!txn.exists(Db::kGraphs, r.graph_id)) txn.put(Db::kGraphs, r.graph_id, p.graph_bytes);
    txn.put(Db::kRefs, head_key(r.branch), as_bytes(p.id));
    if (!head)
      LogInternals::reindex_branch(txn, r.branch, p.id);
    else if (!r.is_merge() && r.step_in_epoch() == 0)  // branch@epoch: an epoch's end, never a merge
      txn.put(Db::kIndex, index_key(r.branch, r.epoch), as_bytes(p.id));
    result.stats = stats;
  });
  result.write_seconds = seconds_since(t1);

  if (deferred) {  // the next commit is deferred too, most likely: no delta bases to keep
    last_tensors_.clear();
    has_last_ = false;
    return result;
  }
  // Keep this version's tensors as the delta bases of the next commit (buffers reused).
  std::map<std::string, Tensor> next;
  auto keep = [&](const std::vector<TensorEntry>& entries, const std::vector<Tensor>& tensors) {
    for (size_t t = 0; t < entries.size(); ++t) {
      auto it = last_tensors_.find(entries[t].name);
      Tensor buf = it != last_tensors_.end() && it->second.dtype() == tensors[t].dtype() &&
                           it->second.numel() == tensors[t].numel()
                       ? it->second
                       : Tensor(tensors[t].shape(), tensors[t].dtype());
      std::memcpy(buf.raw(), tensors[t].raw(), tensors[t].nbytes());
      next[entries[t].name] = buf;
    }
  };
  keep(r.params, p.params);
  if (!p.optim_bytes.empty()) keep(r.optim, p.optim);
  last_tensors_ = std::move(next);
  last_id_ = p.id;
  has_last_ = true;
  return result;
}

}  // namespace strata::versioning
