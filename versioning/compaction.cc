// Deferred compression: a training run's writer stores new chunks raw (WriteOptions::
// defer_compression) and queues the version in the `pending` database; compact_pending encodes
// them later, when training no longer needs the CPU (docs/formats.md "Pending compaction"). Two
// tiers (CompactTier): kFast encodes raw chunks on their own with a quick codec and leaves the
// version queued; kFull encodes every chunk not yet in the log's codec, delta-coded, and takes
// the version off the queue.
//
// Why a chunk may be delta-coded against its parent version's chunk here without ever making a
// cycle: the queue lists only the chunks a version added (they were absent before it was
// written), and a base is a chunk of the parent version, which was in the log before them. Each
// chunk's base was therefore added strictly earlier, whichever order versions are compacted in.
// kFast makes no deltas: a chunk it codes may later become a delta in kFull, and a chain through
// it would then grow longer than its links' recorded depths.
#include <omp.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <set>

#include "strata/framework/core/error.h"
#include "strata/versioning/internal/log_internals.h"

namespace strata::versioning {

std::string next_pending_key(const LmdbTxn& txn) {
  uint64_t next = 0;
  if (auto last = txn.last_key(Db::kPending); last && last->size() == 8) {
    for (unsigned char b : *last) next = (next << 8) | b;
    ++next;
  }
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i, next >>= 8) key[static_cast<size_t>(i)] = static_cast<char>(next & 0xff);
  return key;  // big-endian: the queue sorts in write order
}

namespace {

struct CompactJob {
  ChunkId id;
  DType dtype;
  std::string tensor;
  ChunkBytes raw;         // the chunk's decoded bytes
  ChunkBytes base_bytes;  // the decoded delta base, when there is one
  ChunkBase base;
  size_t old_size = 0;
  std::string value;
};

// The first queue entry at or after `from` (its key and value: a version id, then the ids of
// the chunks it added).
std::optional<std::pair<std::string, std::string>> pending_entry(const LmdbTxn& txn, const std::string& from) {
  std::optional<std::pair<std::string, std::string>> entry;
  txn.scan_from(Db::kPending, from, [&](std::string_view k, std::string_view v) {
    entry.emplace(std::string(k), std::string(v));
    return false;
  });
  return entry;
}

// Whether a chunk stored as `h` is still to be encoded by this tier: kFast takes raw chunks,
// kFull every keyframe not yet in the log's codec (raw ones, and kFast's).
bool wants(CompactTier tier, const ChunkHeader& h, ChunkCodec log_codec) {
  if (h.delta) return false;  // coded against its parent already: kFull's work, done
  return tier == CompactTier::kFast ? h.codec == ChunkCodec::kRaw : h.codec != log_codec;
}

// The chunks `added` names that `tier` is still to encode, each (kFull) with its delta base: the
// parent's chunk of the same tensor and place, when that keeps the chain shorter than
// `keyframe_interval`.
std::vector<CompactJob> compaction_jobs(const VersionLog& log, const LmdbTxn& txn, const CommitRecord& record,
                                        std::set<ChunkId> added, CompactTier tier, ChunkCodec log_codec, int keyframe_interval) {
  std::map<std::string, TensorEntry> base_entries;
  if (!record.parents.empty())
    if (std::optional<CommitRecord> parent = LogInternals::get_record(txn, record.parents[0])) {
      LogInternals::load_optim(txn, record.parents[0], *parent);
      for (const auto* list : {&parent->params, &parent->optim})
        for (const TensorEntry& e : *list) base_entries.emplace(e.name, e);
    }
  std::vector<CompactJob> jobs;
  for (const auto* list : {&record.params, &record.optim})
    for (const TensorEntry& e : *list)
      for (size_t c = 0; c < e.chunks.size(); ++c) {
        const ChunkId& chunk = e.chunks[c];
        if (!added.erase(chunk)) continue;  // not added by this version, or seen already
        auto stored = txn.get(Db::kChunks, as_bytes(chunk));
        if (!stored) continue;
        const ChunkHeader h = parse_chunk_header(*stored);
        if (!wants(tier, h, log_codec)) continue;
        // Cached: the next version's chunk at this place takes it as its delta base, and would
        // otherwise decode it again from its new, compressed form.
        CompactJob job{chunk,   e.dtype, e.name,         LogInternals::decode_chunk(log, txn, chunk, true),
                       nullptr, {},      stored->size(), {}};
        auto be = tier == CompactTier::kFull ? base_entries.find(e.name) : base_entries.end();
        if (be != base_entries.end() && be->second.dtype == e.dtype && be->second.raw_bytes == e.raw_bytes &&
            be->second.chunks[c] != chunk) {
          const ChunkId& base_id = be->second.chunks[c];
          if (auto base_value = txn.get(Db::kChunks, as_bytes(base_id))) {
            const ChunkHeader hb = parse_chunk_header(*base_value);
            if (hb.depth + 1 < keyframe_interval && hb.raw_size == h.raw_size) {
              job.base_bytes = LogInternals::decode_chunk(log, txn, base_id, true);
              job.base = ChunkBase{job.base_bytes->data(), base_id, hb.depth};
            }
          }
        }
        jobs.push_back(std::move(job));
      }
  return jobs;
}

// Encodes the jobs in parallel, then decodes and re-hashes what was encoded: a replaced chunk
// must be exact. Returns, per job, whether it failed that check.
std::vector<int> encode_and_check(std::vector<CompactJob>& jobs, const CodecOptions& codec, int threads) {
  const int64_t n = static_cast<int64_t>(jobs.size());
  std::vector<int> bad(jobs.size(), 0);
#pragma omp parallel for num_threads(threads) schedule(dynamic) if (n > 1)
  for (int64_t j = 0; j < n; ++j) {
    CompactJob& job = jobs[static_cast<size_t>(j)];
    std::string_view raw(reinterpret_cast<const char*>(job.raw->data()), job.raw->size());
    job.value = encode_chunk(raw, job.dtype, job.base_bytes ? &job.base : nullptr, codec);
    std::vector<uint8_t> check(job.raw->size());
    ChunkHeader h = parse_chunk_header(job.value);
    decode_chunk(job.value, h, job.base_bytes ? job.base_bytes->data() : nullptr, check.data());
    bad[static_cast<size_t>(j)] = hash128(check.data(), check.size()) != job.id;
  }
  return bad;
}

// Replaces every chunk that came out smaller, and version `id`'s stored-bytes statistics.
void store_compacted(LmdbTxn& txn, const CommitId& id, const std::vector<CompactJob>& jobs, const std::vector<int>& bad,
                     const std::string& log_dir, CompactReport& report) {
  std::optional<CommitStats> stats;
  if (auto s = txn.get(Db::kStats, as_bytes(id))) stats = CommitStats::decode(*s);
  for (size_t j = 0; j < jobs.size(); ++j) {
    const CompactJob& job = jobs[j];
    if (bad[j])
      throw Error(ErrorCode::kInternal,
                  "compaction re-encoded chunk " + to_hex(job.id) + " of '" + job.tensor + "' (version " + short_hex(id) +
                      ") into bytes that decode differently",
                  log_dir, "nothing was changed; report this as a bug (the raw chunk stays)");
    report.bytes_before += job.old_size;
    if (job.value.size() >= job.old_size) {
      report.bytes_after += job.old_size;
      continue;
    }
    txn.put(Db::kChunks, as_bytes(job.id), job.value);
    report.bytes_after += job.value.size();
    ++report.chunks_encoded;
    const bool delta = parse_chunk_header(job.value).delta;
    report.delta_chunks += delta;
    if (stats) {
      const uint64_t saved = job.old_size - job.value.size();
      stats->new_stored_bytes -= std::min(saved, stats->new_stored_bytes);
      uint64_t& per_tensor = stats->stored_bytes[job.tensor];
      per_tensor -= std::min(saved, per_tensor);
      stats->delta_chunks += delta;
    }
  }
  if (stats) txn.put(Db::kStats, as_bytes(id), stats->encode());
}

}  // namespace

size_t VersionLog::pending_versions() const {
  size_t n = 0;
  env_->read([&](const LmdbTxn& txn) { n = txn.count(Db::kPending); });
  return n;
}

CompactReport VersionLog::compact_pending(int threads, CompactTier tier) {
  require_writable("compact the log");
  std::lock_guard<std::mutex> serial(write_mu_);
  return compact_pending_locked(threads, tier);
}

CompactReport VersionLog::compact_pending_locked(int threads, CompactTier tier) {
  const auto t0 = std::chrono::steady_clock::now();
  if (settings_.codec != ChunkCodec::kFloatModel) tier = CompactTier::kFull;  // the other codecs are quick already
  const CodecOptions codec = tier == CompactTier::kFull
                                 ? CodecOptions().codec(settings_.codec).zstd_level(settings_.zstd_level)
                                 : CodecOptions().codec(ChunkCodec::kShuffleZstd).zstd_level(1).allow_delta(false);
  const int n_threads = threads > 0 ? threads : options_.encode_threads() > 0 ? options_.encode_threads() : omp_get_max_threads();
  CompactReport report;
  // kFull takes each entry off the queue; kFast walks the queue and leaves it as it is.
  std::string next_key;
  for (bool more = true; more;) {
    CompactReport one;  // this version's share; the body may run twice (map growth)
    std::string key;
    env_->write([&](LmdbTxn& txn) {
      one = CompactReport{};
      const auto entry = pending_entry(txn, tier == CompactTier::kFull ? std::string() : next_key);
      more = entry.has_value();
      if (!more) return;
      key = entry->first;
      if (tier == CompactTier::kFull) txn.del(Db::kPending, key);
      one.versions = 1;
      // The queue is advisory: a damaged entry, or one whose version gc has deleted since, only
      // leaves raw chunks raw.
      const std::string_view value = entry->second;
      if (value.size() < sizeof(CommitId) || value.size() % sizeof(CommitId) != 0) return;
      const CommitId id = digest_from_bytes(value.substr(0, sizeof(CommitId)));
      std::optional<CommitRecord> record = LogInternals::get_record(txn, id);
      if (!record) return;
      LogInternals::load_optim(txn, id, *record);
      std::set<ChunkId> added;
      for (size_t off = sizeof(CommitId); off < value.size(); off += sizeof(ChunkId))
        added.insert(digest_from_bytes(value.substr(off, sizeof(ChunkId))));
      std::vector<CompactJob> jobs =
          compaction_jobs(*this, txn, *record, std::move(added), tier, settings_.codec, settings_.keyframe_interval);
      const std::vector<int> bad = encode_and_check(jobs, codec, n_threads);
      store_compacted(txn, id, jobs, bad, log_dir_, one);
    });
    next_key = key + '\0';  // the smallest key after it
    report.versions += one.versions;
    report.chunks_encoded += one.chunks_encoded;
    report.delta_chunks += one.delta_chunks;
    report.bytes_before += one.bytes_before;
    report.bytes_after += one.bytes_after;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace strata::versioning
