#include "strata/versioning/storage_report.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "strata/versioning/internal/log_internals.h"

namespace strata::versioning {

StorageReport storage_report(const VersionLog& log) {
  StorageReport report;
  LogInternals::env(log).read([&](const LmdbTxn& txn) {
    report = StorageReport{};
    std::vector<std::pair<CommitId, CommitRecord>> commits;
    txn.scan_from(Db::kCommits, {}, [&](std::string_view k, std::string_view v) {
      if (k.size() == 16) commits.emplace_back(digest_from_bytes(k), CommitRecord::decode(v));
      return true;
    });
    // Oldest first, so that a shared chunk is charged to the version that introduced it.
    std::sort(commits.begin(), commits.end(), [](const auto& a, const auto& b) {
      return std::tie(a.second.wall_time_ms, a.second.epoch, a.first) < std::tie(b.second.wall_time_ms, b.second.epoch, b.first);
    });
    std::set<ChunkId> seen;
    for (auto& [id, record] : commits) {
      ++report.versions;
      LogInternals::load_optim(txn, id, record);
      if (record.optim_dropped()) ++report.params_only_versions;
      for (const auto& [kind, entries] : {std::pair{"parameters", &record.params}, std::pair{"optimizer", &record.optim}}) {
        for (const TensorEntry& e : *entries) {
          StorageUsage* usages[] = {&report.total, &report.by_branch[record.branch], &report.by_tensor[e.name],
                                    &report.by_kind[kind]};
          for (StorageUsage* u : usages) u->raw_bytes += e.raw_bytes;
          for (const ChunkId& c : e.chunks) {
            if (!seen.insert(c).second) continue;
            auto value = txn.get(Db::kChunks, as_bytes(c));
            if (!value) {
              ++report.missing_chunks;
              continue;
            }
            const ChunkHeader h = parse_chunk_header(*value);
            for (StorageUsage* u : usages) {
              u->stored_bytes += value->size();
              ++u->chunks;
            }
            std::string codec = codec_name(h.codec);
            if (h.codec != ChunkCodec::kRaw) codec += h.delta ? " delta" : " keyframe";
            StorageUsage& by_codec = report.by_codec[codec];
            by_codec.raw_bytes += h.raw_size;
            by_codec.stored_bytes += value->size();
            ++by_codec.chunks;
          }
        }
      }
    }
  });
  return report;
}

}  // namespace strata::versioning
