#include "strata/versioning/tensorboard_export.h"

#include <algorithm>
#include <filesystem>

#include "strata/framework/core/error.h"
#include "strata/framework/summary/event_writer.h"
#include "strata/framework/summary/tensorboard_callback.h"
#include "strata/versioning/ids.h"

namespace strata::versioning {
namespace {

namespace fs = std::filesystem;

// The TrainState of a version as the live callback saw it, less optimizer slots (not needed for
// events, and possibly dropped by retention).
TrainState view_state(const VersionLog& log, const CommitId& id, const CommitRecord& r) {
  TrainState s;
  s.graph = log.read_graph(r.graph_id);
  s.params = log.read_params(id);
  s.counters = r.counters;
  s.metrics = r.metrics;
  s.hparams = r.hparams;
  s.environment = r.environment;
  return s;
}

void clear_run_dir(const fs::path& dir, bool force) {
  if (!fs::exists(dir)) return;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().find("tfevents") == std::string::npos) continue;
    if (!force)
      throw Error(ErrorCode::kAlreadyExists, "run directory already has event files", dir.string(),
                  "delete it, pass --force, or choose another --out");
    fs::remove(entry.path());
  }
}

}  // namespace

TensorBoardExport export_tensorboard(const VersionLog& log, const std::string& out_dir, bool force) {
  // The live event files of a training run are <log>/tb/<branch>/: replacing them under a
  // writer would delete the file it is appending to.
  std::error_code ec;
  if (force && log.writer_active() && fs::equivalent(fs::path(out_dir), fs::path(log.log_dir()) / "tb", ec))
    throw Error(ErrorCode::kFailedPrecondition,
                "a training run (or another writer) holds this log: --force would delete its live event files",
                out_dir, "wait for it to finish, or re-create the event files into another --out");
  TensorBoardExport report;
  TensorBoardOptions options;
  for (const std::string& branch : log.branches()) {
    // The branch's own commits, oldest first (history() walks first parents into the branch it
    // forked from; those belong to that branch's run).
    std::vector<std::pair<CommitId, CommitRecord>> chain;
    for (const CommitId& id : log.history(branch)) {
      CommitRecord r = log.read_record(id);
      if (r.branch == branch) chain.emplace_back(id, std::move(r));
    }
    if (chain.empty()) continue;
    std::reverse(chain.begin(), chain.end());
    fs::path dir = fs::path(out_dir) / branch;
    clear_run_dir(dir, force);
    summary::EventWriter writer(dir.string());
    bool hparams_open = false;
    for (size_t k = 0; k < chain.size(); ++k) {
      const auto& [id, r] = chain[k];
      TrainState state = view_state(log, id, r);
      double wall = static_cast<double>(r.wall_time_ms) / 1000.0;
      if (k == 0) {
        int64_t start_step = r.parents.empty() ? 0 : log.read_record(r.parents[0]).global_step;
        hparams_open = summary::write_run_begin(writer, &state, start_step, options, wall);
      }
      std::map<std::string, std::string> notes = {
          {"version", short_hex(id)}, {"version_full", to_hex(id)}, {"branch", r.branch}, {"message", r.message}};
      if (auto stats = log.read_stats(id)) notes["snapshot/bytes"] = std::to_string(stats->new_stored_bytes);
      summary::write_epoch_events(writer, state, nullptr, notes, options, wall);
      ++report.versions;
    }
    if (hparams_open)
      writer.add_hparams_end(summary::HParamsStatus::kSuccess,
                             static_cast<double>(chain.back().second.wall_time_ms) / 1000.0);
    writer.flush();
    ++report.runs;
  }
  return report;
}

}  // namespace strata::versioning
