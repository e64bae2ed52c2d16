// Storage benchmark of the version log on a real training run: every epoch a Recorder commits
// parameters + optimizer state (Adam m and v) to a fresh log in a temporary directory. --model
// picks the net and data, each as its example trains it: mlp (the main job: 784-512-256-10 on
// Fashion-MNIST, batch 128, the least compute per byte of state), cnn (the same data), lstm (the
// language-identification LSTM of train_text on the system's word lists, batch 64). Prints
//   - the whole-run cost of recording: process CPU time (getrusage: training, writer, every other
//     thread) and wall time of whole runs of --cpu-epochs without and with a recorder, --cpu-runs
//     alternating rounds (who goes first alternates), the recorder's side including the
//     compaction that fit() runs at its end (the quick tier by default, RecorderCompression::
//     kTiered; with it, the later full pass of `strata compact` is timed apart); medians with
//     min..max of the per-round ratios,
//   - the cost in adjacent pairs of epochs: two trainers, A without and B with a recorder, take
//     turns training two epochs each; B's second epoch overlaps the writer storing its first
//     epoch's snapshot, and A's second epoch, a few seconds away, is its control. The figure is
//     the median over pairs of B / A - 1,
//   - per version (of a recorded run of --epochs): stored / raw bytes (what `strata du` calls stored vs raw)
//     and the total ratio, the snapshot stall (time on_epoch_end blocked training, also scaled to
//     ms per 10 MB of state), the writer thread's CPU time against the CPU time training had,
//   - the restore time of every version (cold VersionLog opened read-only, read_state; median of
//     3), with the longest delta chain a restore of that version decodes,
//   - after apply_retention(3): the log's chunk bytes against raw full snapshots.
//
//   storage_bench [--model mlp|cnn|lstm] [--limit N] [--epochs 10] [--threads 2] [--pairs 8]
//                 [--writer-threads 1] [--writer-nice 5] [--codec C] [--zstd-level 3]
//                 [--compression tiered|at-fit-end|inline] [--cpu-runs 6] [--cpu-epochs 3]
//                 [--out-json FILE] [--data DIR]
#include <stdlib.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "strata/datasets/data_loader.h"
#include "strata/datasets/idx.h"
#include "strata/datasets/text.h"
#include "strata/framework/core/error.h"
#include "strata/framework/train/runtime.h"
#include "strata/framework/train/trainer.h"
#include "strata/models/models.h"
#include "strata/versioning/chunk_codec.h"
#include "strata/versioning/internal/lmdb_env.h"
#include "strata/versioning/recorder.h"
#include "strata/versioning/version_log.h"

using namespace strata;
using clk = std::chrono::steady_clock;

namespace {

double seconds_since(clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); }

double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Epoch wall times, end to end (a snapshot's stall included).
class EpochClock : public Callback {
 public:
  void on_fit_begin(const FitBeginInfo&) override { t_ = clk::now(); }
  void on_epoch_end(EpochEndInfo&) override {
    epoch_s.push_back(seconds_since(t_));
    t_ = clk::now();
  }
  std::vector<double> epoch_s;

 private:
  clk::time_point t_;
};

// ... and the recorder's timing after each snapshot (added after the recorder, so it runs after
// the recorder's on_epoch_end).
class RecordedEpochClock : public EpochClock {
 public:
  explicit RecordedEpochClock(versioning::Recorder& rec) : rec_(rec) {}
  void on_epoch_end(EpochEndInfo& info) override {
    EpochClock::on_epoch_end(info);
    versioning::RecorderTiming t = rec_.timing();
    stall_ms.push_back(t.last_stall_ms);
    staged_bytes = t.staged_bytes;
    note_writer(t);
  }
  // The writer thread's CPU seconds for each durable commit, keyed by commit.
  void note_writer(const versioning::RecorderTiming& t) {
    auto last = rec_.last_commit();
    if (last && !writer_cpu_s.count(*last)) writer_cpu_s[*last] = t.last_writer_cpu_s;
  }

  std::vector<double> stall_ms;
  uint64_t staged_bytes = 0;
  std::map<versioning::CommitId, double> writer_cpu_s;

 private:
  versioning::Recorder& rec_;
};

// The deepest delta chain among the chunks of a version (0: all keyframes).
int longest_chain(const versioning::LmdbEnv& env, const versioning::CommitRecord& r) {
  int depth = 0;
  env.read([&](const versioning::LmdbTxn& txn) {
    for (const auto* list : {&r.params, &r.optim})
      for (const versioning::TensorEntry& e : *list)
        for (const versioning::ChunkId& c : e.chunks) {
          auto value = txn.get(versioning::Db::kChunks, versioning::as_bytes(c));
          if (value) depth = std::max<int>(depth, versioning::parse_chunk_header(*value).depth);
        }
  });
  return depth;
}

// A net, its data and how it trains, as the examples train them.
struct Workload {
  GraphSpec graph;
  std::unique_ptr<DataLoader> train, val;
  TrainerOptions options;
};

// `limit` > 0 keeps the first `limit` training samples (and a fifth as many to validate on).
Workload make_workload(const std::string& model, const std::string& data_dir, int64_t limit) {
  Workload w;
  Dataset train, val;
  if (model == "lstm") {
    // train_text --task langid --model lstm: 20,000 words per language, words up to 16 characters.
    Vocabulary vocab;
    Dataset data = read_word_lists(default_word_lists(), WordListOptions().seed(1), &vocab);
    std::tie(train, val) = data.split_validation(0.1, 1);
    w.graph = models::recurrent_classifier(data.x.dim(1), vocab.size(), data.num_classes,
                                           models::TextModelOptions().dim(64).hidden(128).dropout(0.1));
    w.options = TrainerOptions().seed(1).optimizer(OptimizerOptions().kind("adam").lr(2e-3));
    auto loader = DataLoaderOptions().batch_size(64).seed(1).threads(1);
    if (limit > 0) {
      train = train.subset(0, std::min(limit, train.size()));
      val = val.subset(0, std::min(std::max<int64_t>(limit / 5, 1), val.size()));
    }
    w.train = std::make_unique<DataLoader>(train, loader);
    w.val = std::make_unique<DataLoader>(val, DataLoaderOptions(loader).shuffle(false).batch_size(512));
    return w;
  }
  train = load_fashion_mnist(data_dir, true, limit);
  val = load_fashion_mnist(data_dir, false, limit > 0 ? std::max<int64_t>(limit / 5, 1) : 0);
  w.graph = models::by_name(model, {1, 28, 28}, 10);
  w.options = TrainerOptions().seed(1).optimizer(OptimizerOptions().kind("adam").lr(1e-3));
  auto loader = DataLoaderOptions().batch_size(128).seed(1).threads(1).normalize({kFashionMnistMean}, {kFashionMnistStd});
  w.train = std::make_unique<DataLoader>(train, loader);
  w.val = std::make_unique<DataLoader>(val, DataLoaderOptions(loader).shuffle(false).batch_size(1000));
  return w;
}

std::string min_max_percent(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.2f%% .. %+.2f%%", v.empty() ? 0 : 100 * v.front(), v.empty() ? 0 : 100 * v.back());
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Version-log storage benchmark on a real training run"};
  int64_t epochs = 10;
  int threads = 2, pairs = 8;
  int writer_threads = versioning::RecorderOptions().writer_threads();
  int writer_nice = versioning::RecorderOptions().writer_nice();
  int zstd_level = versioning::LogOptions().zstd_level();
  std::string codec_wanted = versioning::codec_name(versioning::LogOptions().codec());
  std::string out_json, data_dir = "/usr/share/datasets/fashion-mnist", compression = "tiered", model = "mlp";
  int cpu_runs = 6;
  int64_t cpu_epochs = 3, limit = 0;
  app.add_option("--model", model, "the net and data: mlp, cnn (Fashion-MNIST), lstm (word lists)")
      ->check(CLI::IsMember({"mlp", "cnn", "lstm"}));
  app.add_option("--limit", limit, "train on the first N samples only (0: all)")->check(CLI::NonNegativeNumber);
  app.add_option("--epochs", epochs, "epochs to train (one version each)")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "OpenMP threads for training, encoding and decoding")->check(CLI::PositiveNumber);
  app.add_option("--pairs", pairs, "A/B pairs of epochs without and with a recorder")->check(CLI::PositiveNumber);
  app.add_option("--writer-threads", writer_threads, "the recorder's encode threads")->check(CLI::PositiveNumber);
  app.add_option("--writer-nice", writer_nice, "the recorder's writer thread priority (nice)");
  app.add_option("--codec", codec_wanted, "the log's codec")->check(CLI::IsMember(versioning::codec_names()));
  app.add_option("--zstd-level", zstd_level, "zstd level of the codecs that use zstd")->check(CLI::Range(1, 22));
  app.add_option("--compression", compression,
                 "when the recorder compresses: tiered (quickly at fit() end, fully at strata compact), fully at fit() end, or "
                 "inline on its writer thread")
      ->check(CLI::IsMember({"tiered", "at-fit-end", "inline"}));
  app.add_option("--cpu-runs", cpu_runs, "alternating whole-run rounds for the CPU-time comparison (0: none)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--cpu-epochs", cpu_epochs, "epochs per run of the CPU-time comparison")->check(CLI::PositiveNumber);
  app.add_option("--out-json", out_json, "also write the results as JSON to this file");
  app.add_option("--data", data_dir, "directory with the Fashion-MNIST IDX files");
  CLI11_PARSE(app, argc, argv);

  std::string tmpl = (std::filesystem::temp_directory_path() / "strata-storage-bench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) {
    std::fprintf(stderr, "error: cannot create a temporary directory\n");
    return 1;
  }
  const std::string work_dir = tmpl, log_dir = work_dir + "/log";
  int rc = 0;
  try {
    set_num_threads(threads);
    const Workload w = make_workload(model, data_dir, limit);
    DataLoader& train_loader = *w.train;
    DataLoader& test_loader = *w.val;
    const TrainerOptions& trainer_options = w.options;
    const versioning::ChunkCodec codec = *versioning::codec_from_name(codec_wanted);  // checked by the parser
    const bool inline_compression = compression == "inline", tiered = compression == "tiered";
    const auto recorder_options = versioning::RecorderOptions()
                                      .writer_threads(writer_threads)
                                      .writer_nice(writer_nice)
                                      .compression(inline_compression ? versioning::RecorderCompression::kInline
                                                   : tiered           ? versioning::RecorderCompression::kTiered
                                                                      : versioning::RecorderCompression::kAtFitEnd);

    const auto log_options = versioning::LogOptions().encode_threads(threads).codec(codec).zstd_level(zstd_level);
    std::printf(
        "training the %s for %lld epochs (%lld training samples), %d threads, codec %s (zstd level %d), compression %s, log in "
        "%s\n",
        model.c_str(), static_cast<long long>(epochs), static_cast<long long>(train_loader.num_samples()), threads,
        codec_wanted.c_str(), zstd_level, compression.c_str(), log_dir.c_str());

    // Whole runs: without a recorder, then with one (alternating who goes first); the recorder's
    // side includes the compaction fit() runs at its end.
    std::vector<double> cpu_plain, cpu_recorded, wall_plain, wall_recorded, compact_wall, full_pass_cpu, full_pass_wall;
    for (int run = 0; run < cpu_runs; ++run) {
      for (int side = 0; side < 2; ++side) {
        const bool with_recorder = (side == 0) == (run % 2 == 1);
        Network net(w.graph);
        Trainer trainer(net, TrainerOptions(trainer_options).progress(Progress::kQuiet));
        const std::string dir = work_dir + "/cpu" + std::to_string(run);
        std::unique_ptr<versioning::Recorder> rec;
        std::shared_ptr<versioning::VersionLog> log;
        if (with_recorder) {
          log = versioning::VersionLog::open(dir, versioning::OpenMode::kReadWrite, log_options);
          rec = std::make_unique<versioning::Recorder>(log, recorder_options);
          trainer.add_callback(rec.get());
        }
        const double cpu0 = process_cpu_seconds();
        const auto t0 = clk::now();
        trainer.fit(train_loader, &test_loader, cpu_epochs);  // durable and compacted at return
        const double cpu = process_cpu_seconds() - cpu0, wall = seconds_since(t0);
        (with_recorder ? cpu_recorded : cpu_plain).push_back(cpu);
        (with_recorder ? wall_recorded : wall_plain).push_back(wall);
        if (with_recorder && !inline_compression) compact_wall.push_back(rec->timing().compaction.seconds);
        if (with_recorder && tiered) {  // what `strata compact` later spends on this run's versions
          const double c0 = process_cpu_seconds();
          const auto w0 = clk::now();
          log->compact_pending(threads, versioning::CompactTier::kFull);
          full_pass_cpu.push_back(process_cpu_seconds() - c0);
          full_pass_wall.push_back(seconds_since(w0));
        }
        std::printf("cpu run %d %s: %.2f s CPU, %.2f s wall\n", run + 1, with_recorder ? "with a recorder" : "without", cpu,
                    wall);
        rec.reset();
        log.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
    }
    std::vector<double> cpu_overhead, wall_overhead;
    for (size_t i = 0; i < cpu_plain.size() && i < cpu_recorded.size(); ++i) {
      cpu_overhead.push_back(cpu_recorded[i] / cpu_plain[i] - 1);
      wall_overhead.push_back(wall_recorded[i] / wall_plain[i] - 1);
    }
    if (cpu_runs > 0) {
      std::printf(
          "whole runs (%lld epochs, compaction included), recorder against none: process CPU %+.2f%% (median of %d, %s), "
          "wall %+.2f%% (%s)\n",
          static_cast<long long>(cpu_epochs), 100 * median(cpu_overhead), cpu_runs, min_max_percent(cpu_overhead).c_str(),
          100 * median(wall_overhead), min_max_percent(wall_overhead).c_str());
      if (!compact_wall.empty())
        std::printf("of which fit-end compaction: %.2f s wall (median), %.2f%% of a run without a recorder\n",
                    median(compact_wall), 100 * median(compact_wall) / median(wall_plain));
      if (!full_pass_cpu.empty())
        std::printf(
            "the later full pass (strata compact) on a run's versions: %.2f s CPU, %.2f s wall (median), %.2f%% of a "
            "run's CPU\n",
            median(full_pass_cpu), median(full_pass_wall), 100 * median(full_pass_cpu) / median(cpu_plain));
    }

    // The recorded run whose log is analysed below.
    std::vector<versioning::CommitId> versions;
    std::unique_ptr<RecordedEpochClock> clock;  // outlives the recorder: only its figures are read later
    {
      Network net(w.graph);
      Trainer trainer(net, trainer_options);
      std::shared_ptr<versioning::VersionLog> log =
          versioning::VersionLog::open(log_dir, versioning::OpenMode::kReadWrite, log_options);
      versioning::Recorder rec(log, recorder_options);
      clock = std::make_unique<RecordedEpochClock>(rec);
      trainer.add_callback(&rec);
      trainer.add_callback(clock.get());
      trainer.fit(train_loader, &test_loader, epochs);
      rec.flush();
      clock->note_writer(rec.timing());
      versions = log->history(rec.branch());
      std::reverse(versions.begin(), versions.end());
      if (tiered) {
        double raw = 0, stored = 0;
        for (const versioning::CommitId& v : versions)
          if (auto st = log->read_stats(v)) {
            raw += static_cast<double>(st->raw_bytes);
            stored += static_cast<double>(st->new_stored_bytes);
          }
        std::printf("stored / raw after the run (quick codec): %.4f; the table below is after strata compact\n",
                    raw > 0 ? stored / raw : 0);
        log->compact_pending(threads, versioning::CompactTier::kFull);
      }
    }

    // The cost of recording, in adjacent pairs (see the top of this file).
    std::vector<double> slowdowns;
    {
      Network net_a(w.graph), net_b(w.graph);
      Trainer plain(net_a, trainer_options), recorded(net_b, trainer_options);
      EpochClock clock_a, clock_b;
      plain.add_callback(&clock_a);
      versioning::Recorder rec(versioning::VersionLog::open(work_dir + "/paired", versioning::OpenMode::kReadWrite, log_options),
                               recorder_options);
      recorded.add_callback(&rec);
      recorded.add_callback(&clock_b);
      auto second_of_two = [&](Trainer& trainer, EpochClock& c) {
        trainer.fit(train_loader, &test_loader, trainer.epoch() + 2);  // the recorder flushes at the end
        return c.epoch_s.back();
      };
      for (int p = 0; p < pairs; ++p) {
        double a = 0, b = 0;
        if (p % 2 == 0) {
          a = second_of_two(plain, clock_a);
          b = second_of_two(recorded, clock_b);
        } else {
          b = second_of_two(recorded, clock_b);
          a = second_of_two(plain, clock_a);
        }
        slowdowns.push_back(b / a - 1);
        std::printf("pair %d: epoch %.3f s without a recorder, %.3f s with: %+.2f%%\n", p + 1, a, b, 100 * slowdowns.back());
      }
    }

    // ---- storage per version, restore time ----
    auto env = versioning::LmdbEnv::open(log_dir + "/versions.lmdb", true, 0);
    std::printf("\n%-8s %12s %12s %7s %8s %12s %10s %10s\n", "version", "raw", "stored", "ratio", "chain", "restore ms",
                "stall ms", "writer cpu");
    double raw_total = 0, stored_total = 0, longest_ms = 0;
    int longest_depth = -1;
    std::string json_versions;
    std::vector<double> stall_per_10mb, cpu_share;
    for (size_t v = 0; v < versions.size(); ++v) {
      versioning::CommitRecord r;
      std::optional<versioning::CommitStats> stats;
      std::vector<double> restore_s;
      for (int rep = 0; rep < 3; ++rep) {
        auto ro = versioning::VersionLog::open(log_dir, versioning::OpenMode::kReadOnly);
        auto t0 = clk::now();
        TrainState s = ro->read_state(versions[v]);
        restore_s.push_back(seconds_since(t0));
        if (rep == 0) {
          r = ro->read_record(versions[v]);
          stats = ro->read_stats(versions[v]);
        }
      }
      const double raw = stats ? static_cast<double>(stats->raw_bytes) : 0;
      const double stored = stats ? static_cast<double>(stats->new_stored_bytes) : 0;
      raw_total += raw;
      stored_total += stored;
      const int depth = longest_chain(*env, r);
      const double ms = 1000 * median(restore_s);
      if (depth > longest_depth || (depth == longest_depth && ms > longest_ms)) {
        longest_depth = depth;
        longest_ms = ms;
      }
      const double stall = v < clock->stall_ms.size() ? clock->stall_ms[v] : 0;
      const double epoch_s = v < clock->epoch_s.size() ? clock->epoch_s[v] : 0;
      auto w = clock->writer_cpu_s.find(versions[v]);
      const double writer_cpu = w != clock->writer_cpu_s.end() ? w->second : -1;
      // The writer's CPU time against the CPU time training had in that epoch (threads x wall).
      const double share = writer_cpu >= 0 && epoch_s > 0 ? writer_cpu / (epoch_s * threads) : -1;
      if (clock->staged_bytes) stall_per_10mb.push_back(stall * 10e6 / static_cast<double>(clock->staged_bytes));
      if (share >= 0) cpu_share.push_back(share);
      std::printf("%-8s %12.0f %12.0f %7.4f %8d %12.1f %10.2f %8.0f ms\n", ("@" + std::to_string(r.epoch)).c_str(), raw, stored,
                  raw > 0 ? stored / raw : 0, depth, ms, stall, 1000 * writer_cpu);
      char buf[512];
      std::snprintf(buf, sizeof buf,
                    "%s{\"epoch\": %lld, \"raw\": %.0f, \"stored\": %.0f, \"ratio\": %.5f, \"chain\": %d, "
                    "\"restore_ms\": %.2f, \"stall_ms\": %.3f, \"epoch_s\": %.3f, \"writer_cpu_s\": %.4f}",
                    json_versions.empty() ? "" : ", ", static_cast<long long>(r.epoch), raw, stored, raw > 0 ? stored / raw : 0,
                    depth, ms, stall, epoch_s, writer_cpu);
      json_versions += buf;
    }
    const double ratio = raw_total > 0 ? stored_total / raw_total : 0;
    std::printf("\ntotal stored / raw: %.4f (%.0f / %.0f bytes)\n", ratio, stored_total, raw_total);
    std::printf("snapshot stall: median %.2f ms per 10 MB of state (%.1f MB staged per snapshot)\n", median(stall_per_10mb),
                static_cast<double>(clock->staged_bytes) / 1e6);
    std::printf("writer CPU / (training threads x epoch wall time): median %.2f%%\n", 100 * median(cpu_share));
    std::printf("epoch time with a recorder against without (median of %d pairs): %+.2f%%\n", pairs, 100 * median(slowdowns));
    std::printf("longest delta chain: depth %d, restore %.1f ms (cold, median of 3)\n", longest_depth, longest_ms);
    env.reset();

    // ---- retention ----
    versioning::RetentionReport report;
    {
      auto rw = versioning::VersionLog::open(log_dir, versioning::OpenMode::kReadWrite);
      report = rw->apply_retention(3);
    }
    const uint64_t kept = versioning::LmdbEnv::open(log_dir + "/versions.lmdb", true, 0)->stats().chunk_value_bytes;
    const double full = raw_total;  // every version's params + optimizer state, uncompressed
    std::printf(
        "retention K=3: %.0f bytes of chunks (%llu rewritten as keyframes) vs %.0f for %zu raw full "
        "snapshots: %.4f\n",
        static_cast<double>(kept), static_cast<unsigned long long>(report.chunks_rewritten), full, versions.size(),
        full > 0 ? static_cast<double>(kept) / full : 0);

    if (!out_json.empty()) {
      std::ofstream f(out_json);
      f << "{\"epochs\": " << epochs << ", \"threads\": " << threads << ", \"codec\": \"" << codec_wanted
        << "\", \"zstd_level\": " << zstd_level << ", \"ratio\": " << ratio
        << ", \"stall_ms_per_10mb_median\": " << median(stall_per_10mb) << ", \"writer_cpu_share_median\": " << median(cpu_share)
        << ", \"recording_slowdown_median\": " << median(slowdowns) << ", \"longest_chain\": " << longest_depth
        << ", \"longest_chain_restore_ms\": " << longest_ms << ", \"retention_k3_bytes\": " << kept
        << ", \"raw_full_snapshots_bytes\": " << full << ", \"compression\": \"" << compression
        << "\", \"cpu_overhead_median\": " << median(cpu_overhead) << ", \"wall_overhead_median\": " << median(wall_overhead)
        << ", \"compaction_wall_s\": " << median(compact_wall) << ", \"model\": \"" << model << "\""
        << ", \"versions\": [" << json_versions << "]}\n";
      if (!f) throw Error(ErrorCode::kIOError, "cannot write " + out_json);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    rc = 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(work_dir, ec);
  return rc;
}
