// Retention, garbage collection and verification of a version log.
#include <deque>
#include <map>
#include <set>

#include "strata/framework/core/error.h"
#include "strata/versioning/internal/log_internals.h"

namespace strata::versioning {
namespace {

struct SweepResult {
  uint64_t deleted = 0, rewritten = 0;
  int64_t bytes = 0;  // net bytes freed: deleted values minus the growth of rewritten ones
};

std::vector<std::pair<CommitId, std::string>> all_commits(const LmdbTxn& txn) {
  std::vector<std::pair<CommitId, std::string>> out;
  txn.scan_from(Db::kCommits, {}, [&](std::string_view k, std::string_view v) {
    if (k.size() == 16) out.emplace_back(digest_from_bytes(k), std::string(v));
    return true;
  });
  return out;
}

// Chunks that the records (and their present optimizer manifests) list directly, with dtypes.
std::map<ChunkId, DType> referenced_chunks(const LmdbTxn& txn) {
  std::map<ChunkId, DType> live;
  for (const auto& [id, bytes] : all_commits(txn)) {
    CommitRecord r = CommitRecord::decode(bytes);
    LogInternals::load_optim(txn, id, r);
    for (const auto* list : {&r.params, &r.optim})
      for (const TensorEntry& e : *list)
        for (const ChunkId& c : e.chunks) live.emplace(c, e.dtype);
  }
  return live;
}

// Deletes every chunk not in `live`. A live chunk whose delta base is about to go is first
// re-encoded as a keyframe: its id (the hash of its decoded bytes) does not change, so no record
// changes, and no chain keeps dead chunks alive.
SweepResult sweep(const VersionLog& log, LmdbTxn& txn, const std::map<ChunkId, DType>& live, const LogSettings& settings) {
  SweepResult result;
  std::vector<std::pair<ChunkId, DType>> rewrite;
  for (const auto& [id, dtype] : live) {
    auto value = txn.get(Db::kChunks, as_bytes(id));
    if (!value) continue;  // verify reports missing chunks; nothing to keep here
    ChunkHeader h = parse_chunk_header(*value);
    if (h.delta && !live.count(h.base)) rewrite.emplace_back(id, dtype);
  }
  const CodecOptions codec = CodecOptions().codec(settings.codec).zstd_level(settings.zstd_level);
  int64_t growth = 0;  // keyframes are larger than the deltas they replace
  for (const auto& [id, dtype] : rewrite) {
    ChunkBytes bytes = LogInternals::decode_chunk(log, txn, id, true);
    const int64_t old_size = static_cast<int64_t>(txn.get(Db::kChunks, as_bytes(id))->size());
    std::string_view raw(reinterpret_cast<const char*>(bytes->data()), bytes->size());
    std::string value = encode_chunk(raw, dtype, nullptr, codec);
    growth += static_cast<int64_t>(value.size()) - old_size;
    txn.put(Db::kChunks, as_bytes(id), value);
    ++result.rewritten;
  }
  std::vector<std::pair<std::string, size_t>> dead;
  txn.scan_from(Db::kChunks, {}, [&](std::string_view k, std::string_view v) {
    if (k.size() != 16 || !live.count(digest_from_bytes(k))) dead.emplace_back(std::string(k), v.size());
    return true;
  });
  int64_t freed = -growth;
  for (const auto& [key, size] : dead) {
    txn.del(Db::kChunks, key);
    ++result.deleted;
    freed += static_cast<int64_t>(size);
  }
  result.bytes = freed;
  return result;
}

std::set<CommitId> reachable_from_refs(const LmdbTxn& txn) {
  std::set<CommitId> seen;
  std::deque<CommitId> todo;
  txn.scan_from(Db::kRefs, {}, [&](std::string_view, std::string_view v) {
    if (v.size() == 16) todo.push_back(digest_from_bytes(v));
    return true;
  });
  while (!todo.empty()) {
    CommitId id = todo.front();
    todo.pop_front();
    if (!seen.insert(id).second) continue;
    for (const CommitId& p : LogInternals::need_record(txn, id).parents) todo.push_back(p);
  }
  return seen;
}

}  // namespace

RetentionReport VersionLog::apply_retention(int keep_last_k) {
  if (keep_last_k < 1) throw_invalid("retention must keep at least 1 version per branch, got " + std::to_string(keep_last_k));
  require_writable("apply retention");
  RetentionReport report;
  std::lock_guard<std::mutex> serial(write_mu_);
  env_->write([&](LmdbTxn& txn) {
    report = RetentionReport{};
    std::set<CommitId> keep;
    std::vector<std::string> refs;
    txn.scan_from(Db::kRefs, {}, [&](std::string_view k, std::string_view) {
      refs.emplace_back(k);
      return true;
    });
    for (const std::string& ref : refs) {
      auto id = LogInternals::get_ref(txn, ref);
      if (!id) continue;
      keep.insert(*id);
      if (ref.rfind("heads/", 0) == 0) {
        std::vector<CommitId> chain = LogInternals::first_parents(txn, *id);
        for (size_t i = 0; i < chain.size() && i < static_cast<size_t>(keep_last_k); ++i) keep.insert(chain[i]);
      }
    }
    for (const auto& [id, bytes] : all_commits(txn)) {
      CommitRecord r = CommitRecord::decode(bytes);
      if (!r.had_optim()) continue;
      const bool present = txn.exists(Db::kOptim, as_bytes(id));
      if (present && keep.count(id)) {
        ++report.full_versions;
      } else {
        if (present) {
          txn.del(Db::kOptim, as_bytes(id));
          ++report.dropped_now;
        }
        ++report.params_only;
      }
    }
    SweepResult s = sweep(*this, txn, referenced_chunks(txn), settings_);
    report.chunks_deleted = s.deleted;
    report.bytes_freed = s.bytes;
    report.chunks_rewritten = s.rewritten;
  });
  return report;
}

GcReport VersionLog::gc() {
  require_writable("collect garbage");
  GcReport report;
  std::lock_guard<std::mutex> serial(write_mu_);
  env_->write([&](LmdbTxn& txn) {
    report = GcReport{};
    std::set<CommitId> reachable = reachable_from_refs(txn);
    std::set<std::string> graphs;
    std::set<CommitId> deleted;
    for (const auto& [id, bytes] : all_commits(txn)) {
      if (reachable.count(id)) {
        graphs.insert(CommitRecord::decode(bytes).graph_id);
        continue;
      }
      txn.del(Db::kCommits, as_bytes(id));
      txn.del(Db::kOptim, as_bytes(id));
      txn.del(Db::kStats, as_bytes(id));
      std::vector<std::string> signatures;
      txn.scan_prefix(Db::kSignatures, version_signature_prefix(id), [&](std::string_view k, std::string_view) {
        signatures.emplace_back(k);
        return true;
      });
      for (const std::string& k : signatures) txn.del(Db::kSignatures, k);
      deleted.insert(id);
    }
    report.commits_deleted = deleted.size();
    std::vector<std::string> stale_index, stale_graphs;
    txn.scan_from(Db::kIndex, {}, [&](std::string_view k, std::string_view v) {
      if (v.size() != 16 || deleted.count(digest_from_bytes(v))) stale_index.emplace_back(k);
      return true;
    });
    txn.scan_from(Db::kGraphs, {}, [&](std::string_view k, std::string_view) {
      if (!graphs.count(std::string(k))) stale_graphs.emplace_back(k);
      return true;
    });
    for (const std::string& k : stale_index) txn.del(Db::kIndex, k);
    for (const std::string& k : stale_graphs) txn.del(Db::kGraphs, k);
    SweepResult s = sweep(*this, txn, referenced_chunks(txn), settings_);
    report.chunks_deleted = s.deleted;
    report.bytes_freed = s.bytes;
    report.chunks_rewritten = s.rewritten;
  });
  return report;
}

VerifyReport VersionLog::verify(const std::optional<CommitId>& version) const {
  VerifyReport report;
  env_->read([&](const LmdbTxn& txn) {
    std::vector<CommitId> ids;
    if (version) {
      if (!txn.exists(Db::kCommits, as_bytes(*version)))
        throw Error(ErrorCode::kNotFound, "no version " + to_hex(*version) + " in this log", log_dir_);
      ids.push_back(*version);
    } else {
      for (const auto& [id, bytes] : all_commits(txn)) ids.push_back(id);
      txn.scan_from(Db::kRefs, {}, [&](std::string_view k, std::string_view v) {
        if (v.size() != 16 || !txn.exists(Db::kCommits, v))
          report.issues.push_back({CommitId{}, "", "ref '" + std::string(k) + "' points to a missing version"});
        return true;
      });
      if (txn.exists(Db::kMeta, "digest/refs") || settings_.format_version >= 3)
        for (const std::string& problem : digest_problems(txn)) report.issues.push_back({CommitId{}, "", problem});
    }
    std::map<ChunkId, std::string> checked;  // chunk -> problem ("" when good)
    for (const CommitId& id : ids) {
      ++report.versions_checked;
      CommitRecord r;
      try {
        r = LogInternals::need_record(txn, id);
        LogInternals::load_optim(txn, id, r);
      } catch (const Error& e) {
        report.issues.push_back({id, "", e.what_failed()});
        continue;
      }
      auto graph = txn.get(Db::kGraphs, r.graph_id);
      if (!graph)
        report.issues.push_back({id, "", "graph " + r.graph_id + " is missing"});
      else if (to_hex(hash128(*graph)) != r.graph_id)
        report.issues.push_back({id, "", "graph " + r.graph_id + " does not match its id"});
      for (const auto* list : {&r.params, &r.optim})
        for (const TensorEntry& e : *list) {
          std::string problem;
          for (const ChunkId& c : e.chunks) {
            auto it = checked.find(c);
            if (it == checked.end()) {
              ++report.chunks_checked;
              std::string p;
              try {
                LogInternals::decode_chunk(*this, txn, c, false);
              } catch (const Error& err) {
                p = err.what_failed();
              }
              it = checked.emplace(c, p).first;
            }
            if (!it->second.empty() && problem.empty()) problem = it->second;
          }
          if (!problem.empty()) report.issues.push_back({id, e.name, problem});
        }
    }
  });
  return report;
}

}  // namespace strata::versioning
