// Reading chunks back: delta chains, verification against chunk ids, parallel tensor decode.
#include <omp.h>

#include <cstring>

#include "strata/framework/core/error.h"
#include "strata/versioning/internal/log_internals.h"

namespace strata::versioning {
namespace {

// One link of a delta chain, viewed in the open read transaction.
struct Link {
  ChunkId id;
  std::string_view value;
  ChunkHeader header;
};

// The chain from `id` down to a keyframe, or to a base found in the cache (`cached`). Touches the
// transaction, so it runs on one thread (LMDB transactions are single-threaded).
std::vector<Link> collect_chain(const LmdbTxn& txn, ChunkCache* cache, const ChunkId& id, ChunkBytes& cached) {
  std::vector<Link> chain;
  ChunkId cur = id;
  cached = nullptr;
  for (;;) {
    if (!chain.empty() && cache)
      if ((cached = cache->get(cur))) break;
    auto value = txn.get(Db::kChunks, as_bytes(cur));
    if (!value)
      throw_corruption("chunk " + short_hex(cur, 12) + " is missing" +
                       (chain.empty() ? std::string() : " (delta base of chunk " + short_hex(chain.back().id, 12) + ")"));
    ChunkHeader h;
    try {
      h = parse_chunk_header(*value);
    } catch (const Error& e) {
      throw_corruption("chunk " + short_hex(cur, 12) + ": " + e.what_failed());
    }
    if (!chain.empty()) {
      if (h.depth >= chain.back().header.depth)
        throw_corruption("chunk " + short_hex(chain.back().id, 12) + ": its delta base is not closer to a keyframe");
      if (h.raw_size != chain.back().header.raw_size)
        throw_corruption("chunk " + short_hex(chain.back().id, 12) + ": its delta base has another size");
    }
    chain.push_back({cur, *value, h});
    if (!h.delta) break;
    cur = h.base;
  }
  return chain;
}

// Decodes a chain bottom-up and re-hashes every link. Pure: safe on any thread.
ChunkBytes decode_chain(const std::vector<Link>& chain, ChunkBytes base, ChunkCache* cache) {
  for (size_t i = chain.size(); i-- > 0;) {
    const Link& link = chain[i];
    if (base && base->size() != link.header.raw_size)
      throw_corruption("chunk " + short_hex(link.id, 12) + ": its delta base has another size");
    auto out = std::make_shared<std::vector<uint8_t>>(link.header.raw_size);
    try {
      decode_chunk(link.value, link.header, base ? base->data() : nullptr, out->data());
    } catch (const Error& e) {
      throw_corruption("chunk " + short_hex(link.id, 12) + ": " + e.what_failed());
    }
    if (hash128(out->data(), out->size()) != link.id)
      throw_corruption("chunk " + short_hex(link.id, 12) + ": decoded bytes do not match the chunk id");
    if (cache) cache->put(link.id, out);
    base = std::move(out);
  }
  return base;
}

}  // namespace

ChunkBytes LogInternals::decode_chunk(const VersionLog& log, const LmdbTxn& txn, const ChunkId& id, bool use_cache) {
  ChunkCache* cache = use_cache ? log.cache_.get() : nullptr;
  if (cache)
    if (ChunkBytes hit = cache->get(id)) return hit;  // checked against its id when it was put
  ChunkBytes base;
  std::vector<Link> chain = collect_chain(txn, cache, id, base);
  return decode_chain(chain, base, cache);
}

std::vector<Tensor> LogInternals::decode_tensors(const VersionLog& log, const LmdbTxn& txn,
                                                 const std::vector<TensorEntry>& entries, const std::string& version,
                                                 bool use_cache) {
  ChunkCache* cache = use_cache ? log.cache_.get() : nullptr;
  struct Job {
    size_t tensor, offset;
    std::vector<Link> chain;
    ChunkBytes base;
    std::string error;
  };
  std::vector<Tensor> out;
  std::vector<Job> jobs;
  for (size_t t = 0; t < entries.size(); ++t) {
    const TensorEntry& e = entries[t];
    out.emplace_back(e.shape, e.dtype);
    for (size_t c = 0; c < e.chunks.size(); ++c) {
      Job job{t, c * kMaxChunkBytes, {}, nullptr, {}};
      try {
        job.chain = collect_chain(txn, cache, e.chunks[c], job.base);
      } catch (const Error& err) {
        job.error = err.what_failed();
      }
      jobs.push_back(std::move(job));
    }
  }
  const int64_t n = static_cast<int64_t>(jobs.size());
  size_t total = 0;
  for (const Tensor& t : out) total += t.nbytes();
    // Threads pay off for a few MiB; below that, waking a team costs more than it saves (and on a
    // loaded machine a parallel region can wait a whole time slice for a descheduled thread).
#pragma omp parallel for schedule(dynamic) if (n > 1 && total >= (size_t{2} << 20))
  for (int64_t j = 0; j < n; ++j) {
    Job& job = jobs[static_cast<size_t>(j)];
    if (!job.error.empty()) continue;
    try {
      ChunkBytes bytes = decode_chain(job.chain, job.base, cache);
      Tensor& t = out[job.tensor];
      size_t expected = std::min(kMaxChunkBytes, t.nbytes() - job.offset);
      if (bytes->size() != expected)
        throw_corruption("chunk has " + std::to_string(bytes->size()) + " bytes, the manifest expects " +
                         std::to_string(expected));
      std::memcpy(static_cast<uint8_t*>(t.raw()) + job.offset, bytes->data(), expected);
    } catch (const Error& err) {
      job.error = err.what_failed();
    } catch (const std::exception& err) {
      job.error = err.what();
    }
  }
  for (const Job& job : jobs)
    if (!job.error.empty())
      throw Error(ErrorCode::kCorruption, "tensor '" + entries[job.tensor].name + "' is corrupt: " + job.error,
                  "version " + version + ", tensor " + entries[job.tensor].name,
                  "run `strata verify` to list every damaged tensor; other versions may still read");
  return out;
}

}  // namespace strata::versioning
