#include "strata/versioning/run/run.h"

#include <cstdio>
#include <exception>
#include <filesystem>

#include "strata/framework/core/error.h"
#include "strata/framework/train/runtime.h"
#include "strata/versioning/chunk_codec.h"
#include "strata/versioning/recorder.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {

namespace {

// What differs between the environment a state was saved in and this one, for the warning or
// refusal of a resume ("threads 2 -> 4, ranks 1 -> 2"); empty when nothing that matters does.
// Bit-exact resume holds for the same threads, ISA and library versions only. Another number of
// ranks is allowed (the data order is a function of seed and epoch; only the split of each
// batch changes) and recorded by the new versions' distributed/world_size.
std::string environment_changes(const TrainState& saved, int world_size) {
  const std::map<std::string, std::string> now = runtime_environment();
  std::string differs;
  auto add = [&](const std::string& what) { differs += (differs.empty() ? "" : ", ") + what; };
  for (const char* key : {"threads", "isa", "strata", "onednn"}) {
    auto then = saved.environment.find(key);
    auto here = now.find(key);
    if (then != saved.environment.end() && here != now.end() && then->second != here->second)
      add(std::string(key) + " " + then->second + " -> " + here->second);
  }
  auto then_world = saved.environment.find("distributed/world_size");
  const std::string world_then = then_world == saved.environment.end() ? "1" : then_world->second;
  if (world_then != std::to_string(world_size)) add("ranks " + world_then + " -> " + std::to_string(world_size));
  return differs;
}

}  // namespace

Run::Run(Trainer& trainer, RunOptions options)
    : trainer_(trainer), options_(std::move(options)), uncaught_at_start_(std::uncaught_exceptions()) {
  const RunOptions& o = options_;
  if (o.log_dir().empty()) {
    if (!o.resume().empty() || !o.warm_start().empty())
      throw_invalid("resume and warm start need a log directory", "", "pass the log directory the version lives in");
    return;
  }
  if (!o.resume().empty() && !o.warm_start().empty())
    throw_invalid("resume and warm start exclude each other", "",
                  "resume continues a run exactly; warm start begins a new one from matching parameters");
  // Refuse before open() would create an empty log the version cannot be in.
  const std::string source_name = o.resume().empty() ? o.warm_start() : o.resume();
  if (!source_name.empty() && !std::filesystem::exists(std::filesystem::path(o.log_dir()) / "versions.lmdb"))
    throw Error(ErrorCode::kNotFound, "no version log to take '" + source_name + "' from", o.log_dir(),
                "check the log directory; a new log has no versions yet");
  LogOptions log_options;
  log_options.signing_key(o.signing_key());
  if (!o.codec().empty()) {
    std::optional<ChunkCodec> codec = codec_from_name(o.codec());
    if (!codec) throw_invalid("unknown codec '" + o.codec() + "'", "", "use one of: float-model, shuffle+zstd, zstd, raw");
    log_options.codec(*codec);
  }
  log_ = VersionLog::open(o.log_dir(), OpenMode::kReadWrite, log_options);
  // An existing log keeps the codec it was created with: say so rather than ignore the option.
  if (!o.codec().empty() && log_->settings().codec != log_options.codec())
    throw_invalid("codec " + o.codec() + ": this log was created with codec " + codec_name(log_->settings().codec), o.log_dir(),
                  "drop the codec option, or record into a new log directory");

  if (o.snapshot_every_steps() > 0 || o.snapshot_every_minutes() > 0)
    trainer_.set_snapshot_every(o.snapshot_every_steps(), o.snapshot_every_minutes());
  RecorderOptions recorder_options;
  recorder_options.compression(o.compression());
  if (!o.branch().empty()) recorder_options.branch(o.branch());
  if (!o.message().empty()) recorder_options.message_template(o.message());
  recorder_ = std::make_unique<Recorder>(log_, recorder_options);
  if (o.verbose()) std::printf("version log: %s\n", o.log_dir().c_str());
  if (!o.resume().empty()) {
    if (log_->branches().empty())
      throw Error(ErrorCode::kNotFound,
                  "cannot resume '" + o.resume() +
                      "': this log has no versions yet (its first run stopped before its first version was committed)",
                  o.log_dir(), "run without resume to start training");
    source_ = log_->resolve(o.resume());
    if (!log_->read_record(*source_).had_optim())  // imports and merges carry parameters only
      throw Error(ErrorCode::kFailedPrecondition,
                  "cannot resume exactly: " + log_->describe(*source_) + " has no optimizer state (an import or a merge)",
                  o.log_dir(), "warm-start from it instead (--warm-start), which begins a new run from its parameters");
    TrainState saved = log_->read_state(*source_);
    if (const std::string differs = environment_changes(saved, trainer_.world_size()); !differs.empty()) {
      const std::string what = "resuming " + log_->describe(*source_) + " under another environment (" + differs +
                               "): the result will not be bit-identical to an uninterrupted run";
      if (o.strict())
        throw Error(ErrorCode::kFailedPrecondition, what, o.log_dir(),
                    "resume with the version's environment (strata show " + o.resume() + "), or drop --strict");
      std::fprintf(stderr, "warning: %s\n", what.c_str());
    }
    trainer_.load_state(saved);
    recorder_->continue_from(*source_, o.branch());
    if (o.verbose())
      std::printf("resumed from %s (%s): epoch %lld, step %lld\n", o.resume().c_str(), log_->describe(*source_).c_str(),
                  static_cast<long long>(trainer_.epoch()), static_cast<long long>(trainer_.global_step()));
  }
  if (!o.warm_start().empty()) {
    // Only the parameters: the optimizer, counters and epoch of a warm start begin afresh.
    TrainState state = trainer_.state();
    warm_start_report_ = align_state(*log_, o.warm_start(), state);
    source_ = warm_start_report_->source;
    trainer_.network().load_state_tensors(state.params);
    recorder_->warm_start_from(*source_, o.branch());
    if (o.verbose()) {
      const AlignReport& r = *warm_start_report_;
      std::printf("warm start from %s: %zu tensors copied, %zu new, %zu dropped, %zu with another shape\n",
                  log_->describe(r.source).c_str(), r.matched.size(), r.added.size(), r.dropped.size(), r.mismatched.size());
      for (const std::string& name : r.added) std::printf("  new: %s\n", name.c_str());
      for (const std::string& name : r.mismatched) std::printf("  other shape, fresh: %s\n", name.c_str());
    }
  }
  if (o.verbose()) std::printf("branch: %s\n", recorder_->branch().c_str());
  trainer_.add_callback(recorder_.get());  // before TensorBoard: it reads the recorder's annotations
  if (o.tensorboard()) {
    TensorBoardOptions tb = o.tensorboard_options();
    // A new branch's row in the HParams table says where it forked.
    if (source_ && log_->read_record(*source_).branch != recorder_->branch())
      tb.session_hparams()["forked_from"] = log_->describe(*source_);
    tensorboard_ = std::make_unique<TensorBoardCallback>(tensorboard_dir(), tb);
    trainer_.add_callback(tensorboard_.get());
  }
}

Run::~Run() {
  trainer_.remove_callback(tensorboard_.get());
  trainer_.remove_callback(recorder_.get());
  if (!recorder_ || finished_) return;
  try {
    recorder_->flush();
  } catch (const std::exception& e) {
    // While an exception unwinds (fit() failed, often with this very error) it is reported by
    // whoever catches that one.
    if (std::uncaught_exceptions() <= uncaught_at_start_)
      std::fprintf(stderr, "error: the last version could not be committed: %s\n", e.what());
  }
}

const std::string& Run::branch() const {
  static const std::string none;
  return recorder_ ? recorder_->branch() : none;
}

std::string Run::tensorboard_dir() const {
  if (!recorder_ || !options_.tensorboard()) return {};
  return options_.log_dir() + "/tb/" + recorder_->branch();
}

void Run::finish() {
  if (!recorder_) return;
  recorder_->flush();
  finished_ = true;
  if (!options_.verbose()) return;
  std::optional<CommitId> head = log_->head(recorder_->branch());
  RecorderTiming t = recorder_->timing();
  std::printf("branch %s now at %s; %d snapshot%s this run, stall max %.1f ms (%.1f MB staged each)\n",
              recorder_->branch().c_str(), head ? log_->describe(*head).c_str() : "(none)", t.snapshots,
              t.snapshots == 1 ? "" : "s", t.max_stall_ms, t.staged_bytes / 1e6);
  if (t.compaction.chunks_encoded > 0)
    std::printf("compressed %zu version%s after training: %.1f MB -> %.1f MB in %.2f s\n", t.compaction.versions,
                t.compaction.versions == 1 ? "" : "s", t.compaction.bytes_before / 1e6, t.compaction.bytes_after / 1e6,
                t.compaction.seconds);
  if (size_t queued = log_->pending_versions(); queued > 0)
    std::printf(
        "%zu version%s stored with the quick codec; `strata compact --log %s` (or `strata gc`) stores them in "
        "the log's codec, about a tenth smaller\n",
        queued, queued == 1 ? "" : "s", options_.log_dir().c_str());
  if (options_.tensorboard()) std::printf("tensorboard --logdir %s/tb\n", options_.log_dir().c_str());
}

}  // namespace strata::versioning
