#include "strata/versioning/tensorboard/tensorboard_export.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

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

bool has_event_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& run : fs::recursive_directory_iterator(dir, ec))
    if (run.path().filename().string().find("tfevents") != std::string::npos) return true;
  return false;
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
  // Live event files (those training wrote, e.g. <log>/tb) are never replaced: they hold what the
  // log cannot re-create, and a running trainer may be appending to them.
  const fs::path out(out_dir), marker = out / kRecreatedMarker;
  if (has_event_files(out) && !fs::exists(marker))
    throw Error(ErrorCode::kFailedPrecondition,
                "holds event files written during training (gradient histograms, per-step loss, snapshot/ms: what "
                "the log cannot re-create); re-creation never replaces them",
                out_dir, "re-create into another directory: strata tensorboard --out DIR (default <log>/tb-recreated)");
  {
    std::error_code ec;
    fs::create_directories(out, ec);
    std::FILE* f = std::fopen(marker.c_str(), "w");
    if (!f) throw Error(ErrorCode::kIOError, "cannot write the re-creation marker", marker.string(), "choose a writable --out");
    std::fputs("event files re-created from the version log by `strata tensorboard`; --force may replace them\n", f);
    std::fclose(f);
  }
  TensorBoardExport report;
  // The HParams experiment over every branch: each hyper-parameter's values across the log (its
  // domain) and every metric key, written into each run (TensorBoard takes the first it finds).
  std::map<std::string, std::set<std::string>> domains;
  std::set<std::string> metric_keys;
  for (const std::string& branch : log.branches())
    for (const CommitId& id : log.history(branch)) {
      const CommitRecord r = log.read_record(id);
      for (const auto& [k, v] : r.hparams) domains[k].insert(v);
      for (const auto& [k, v] : r.metrics) metric_keys.insert(k);
    }
  std::map<std::string, std::vector<std::string>> domain_lists;
  for (const auto& [k, values] : domains) domain_lists[k].assign(values.begin(), values.end());
  domain_lists["forked_from"];
  const summary::HParamsExperiment experiment =
      summary::make_experiment(domain_lists, std::vector<std::string>(metric_keys.begin(), metric_keys.end()), true);
  for (const std::string& branch : log.branches()) {
    TensorBoardOptions options;
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
        if (!r.parents.empty()) options.session_hparams({{"forked_from", log.describe(r.parents[0])}});
        hparams_open = summary::write_run_begin(writer, &state, start_step, options, wall);
        if (hparams_open) writer.add_hparams_experiment(experiment, wall);
      }
      std::map<std::string, std::string> notes = {
          {"version", short_hex(id)}, {"version_full", to_hex(id)}, {"branch", r.branch}, {"message", r.message}};
      if (auto stats = log.read_stats(id)) notes["snapshot/bytes"] = std::to_string(stats->new_stored_bytes);
      summary::write_epoch_events(writer, state, nullptr, notes, options, wall);
      ++report.versions;
    }
    if (hparams_open)
      writer.add_hparams_end(summary::HParamsStatus::kSuccess, static_cast<double>(chain.back().second.wall_time_ms) / 1000.0);
    writer.flush();
    ++report.runs;
  }
  return report;
}

std::string default_recreated_dir(const VersionLog& log) { return (fs::path(log.log_dir()) / "tb-recreated").string(); }

}  // namespace strata::versioning
