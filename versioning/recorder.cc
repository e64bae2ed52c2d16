#include "strata/versioning/recorder.h"

#include <omp.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "strata/framework/core/error.h"

namespace strata::versioning {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string format_metric(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// Deep-copies `src` into `dst`, reusing dst's buffers where names, shapes and dtypes still agree.
void copy_tensors(const NamedTensors& src, NamedTensors& dst) {
  bool same = dst.size() == src.size();
  for (size_t i = 0; same && i < src.size(); ++i)
    same = dst[i].first == src[i].first && dst[i].second.shape() == src[i].second.shape() &&
           dst[i].second.dtype() == src[i].second.dtype();
  if (!same) {
    dst.clear();
    for (const auto& [name, t] : src) {
      if (!t.defined()) throw_invalid("tensor '" + name + "' is undefined", "version recorder");
      dst.emplace_back(name, Tensor(t.shape(), t.dtype()));
    }
  }
  // Parallel over 1 MiB pieces: one thread's memcpy does not saturate memory bandwidth.
  std::vector<std::pair<size_t, size_t>> pieces;
  for (size_t i = 0; i < src.size(); ++i)
    for (size_t off = 0; off < src[i].second.nbytes(); off += kMaxChunkBytes) pieces.emplace_back(i, off);
  const int64_t n = static_cast<int64_t>(pieces.size());
#pragma omp parallel for schedule(static) if (n > 4)
  for (int64_t p = 0; p < n; ++p) {
    auto [i, off] = pieces[static_cast<size_t>(p)];
    size_t len = std::min(kMaxChunkBytes, src[i].second.nbytes() - off);
    std::memcpy(static_cast<uint8_t*>(dst[i].second.raw()) + off, static_cast<const uint8_t*>(src[i].second.raw()) + off, len);
  }
}

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

Recorder::Recorder(std::shared_ptr<VersionLog> log, RecorderOptions options)
    : log_(std::move(log)), options_(std::move(options)), branch_(options_.branch()) {
  if (!log_) throw_invalid("Recorder needs a version log");
  if (log_->read_only())
    throw Error(ErrorCode::kFailedPrecondition, "the version log is open read-only", log_->log_dir(),
                "open it with OpenMode::kReadWrite to record versions");
  validate_ref_name("branch", options_.branch());
  if (options_.writer_threads() < 1) throw_invalid("writer_threads must be >= 1", "version recorder");
  // A fresh run never continues unrelated history: the branch is decided now, before any
  // callback (TensorBoard's run folder) asks for it.
  branch_ = free_branch_name(options_.branch());
  writer_ = std::thread([this] { writer_loop(); });
}

Recorder::~Recorder() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    wait_idle(lock);
    stop_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

std::string Recorder::free_branch_name(const std::string& wanted) const {
  const std::map<std::string, CommitId> tags = log_->tags();  // a tag's name is taken too
  std::string name = wanted;                                  // then wanted-2, wanted-3, ...
  for (int n = 2; log_->head(name) || tags.count(name); ++n) name = wanted + "-" + std::to_string(n);
  return name;
}

std::string Recorder::checked_new_branch(const std::string& name) const {
  validate_ref_name("branch", name);
  if (log_->head(name))
    throw Error(ErrorCode::kAlreadyExists, "branch '" + name + "' already exists", log_->log_dir(),
                "choose another name for the new branch");
  if (log_->tags().count(name))
    throw Error(ErrorCode::kAlreadyExists, "a tag is named '" + name + "'", log_->log_dir(),
                "choose another name for the new branch");
  return name;
}

void Recorder::continue_from(const CommitId& id, const std::string& new_branch) {
  CommitRecord r = log_->read_record(id);
  if (!new_branch.empty()) {
    branch_ = checked_new_branch(new_branch);
  } else if (log_->head(r.branch) == id) {
    branch_ = r.branch;
  } else {
    branch_ = free_branch_name(r.branch);
  }
  parent_ = id;
}

void Recorder::warm_start_from(const CommitId& source, const std::string& new_branch) {
  CommitRecord r = log_->read_record(source);
  if (!new_branch.empty()) {
    branch_ = checked_new_branch(new_branch);
  } else {
    branch_ = free_branch_name(r.branch + "-warm-" + short_hex(source, 6));
  }
  parent_ = source;
}

void Recorder::on_fit_begin(const FitBeginInfo& info) {
  std::unique_lock<std::mutex> lock(mu_);
  if (error_) std::rethrow_exception(error_);
  wait_idle(lock);
  lock.unlock();
  // Allocate (and fault in) the staging buffers now, so that the first epoch's snapshot stalls
  // training no longer than the others. Best effort: a state that is not complete yet (slots
  // created lazily) is staged, and checked, at the first epoch end.
  if (info.state) {
    try {
      stage(*info.state);
    } catch (const Error&) {
      staging_ = TrainState();
    }
  }
}

std::string Recorder::format_message(const TrainState& state) const {
  // "3", or "3.500" for a mid-epoch snapshot 500 steps after epoch 3 (as its name reads).
  auto batch = state.counters.find("loader/batch");
  const std::string epoch = std::to_string(state.epoch()) +
                            (batch != state.counters.end() && batch->second > 0 ? "." + std::to_string(batch->second) : "");
  if (options_.message_template().empty()) {
    std::string m = "epoch " + epoch + ":";
    for (auto [key, label] : {std::pair{"train/loss", "loss"}, {"val/loss", "val_loss"}, {"val/accuracy", "val_acc"}})
      if (auto it = state.metrics.find(key); it != state.metrics.end())
        m += std::string(" ") + label + "=" + format_metric(it->second);
    return m;
  }
  std::string out;
  const std::string& t = options_.message_template();
  for (size_t i = 0; i < t.size();) {
    size_t close = t[i] == '{' ? t.find('}', i) : std::string::npos;
    if (close == std::string::npos) {
      out += t[i++];
      continue;
    }
    std::string key = t.substr(i + 1, close - i - 1);
    i = close + 1;
    if (key == "epoch")
      out += epoch;
    else if (key == "step")
      out += std::to_string(state.global_step());
    else if (key == "branch")
      out += branch_;
    else if (auto m = state.metrics.find(key); m != state.metrics.end())
      out += format_metric(m->second);
    else if (auto c = state.counters.find(key); c != state.counters.end())
      out += std::to_string(c->second);
    else if (auto h = state.hparams.find(key); h != state.hparams.end())
      out += h->second;
    else
      out += "?";
  }
  return out;
}

void Recorder::stage(const TrainState& state) {
  staging_.graph = state.graph;
  copy_tensors(state.params, staging_.params);
  if (options_.include_optim())
    copy_tensors(state.optim, staging_.optim);
  else
    staging_.optim.clear();
  staging_.counters = state.counters;
  staging_.metrics = state.metrics;
  staging_.hparams = state.hparams;
  staging_.environment = state.environment;
}

void Recorder::on_mid_epoch_snapshot(EpochEndInfo& info) { on_epoch_end(info); }

void Recorder::on_epoch_end(EpochEndInfo& info) {
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  wait_idle(lock);  // the staging buffer is free once the previous snapshot is written
  const double wait_ms = ms_since(t0);
  if (error_) std::rethrow_exception(error_);
  lock.unlock();

  stage(info.state);
  SnapshotRequest request;
  if (parent_) request.parents = {*parent_};
  request.branch = branch_;
  request.message = format_message(staging_);
  request.author = options_.author();
  request.state = &staging_;
  request.include_optim = options_.include_optim();
  PreparedCommit prepared = log_->prepare(request);

  info.annotations["version"] = short_hex(prepared.id);
  info.annotations["version_full"] = to_hex(prepared.id);
  info.annotations["branch"] = branch_;
  info.annotations["message"] = request.message;
  parent_ = prepared.id;

  lock.lock();
  if (timing_.snapshots > 0) {  // the previous commit is durable (wait_idle above)
    info.annotations["snapshot/bytes"] = std::to_string(timing_.last_stats.new_stored_bytes);
    info.annotations["snapshot/bytes_step"] = std::to_string(last_snapshot_step_);
  }
  last_snapshot_step_ = staging_.global_step();
  uint64_t staged = 0;
  for (const auto* list : {&staging_.params, &staging_.optim})
    for (const auto& [name, t] : *list) staged += t.nbytes();
  pending_ = std::move(prepared);
  busy_ = true;
  const double stall = ms_since(t0);
  timing_.snapshots += 1;
  timing_.last_stall_ms = stall;
  timing_.last_wait_ms = wait_ms;
  timing_.max_stall_ms = std::max(timing_.max_stall_ms, stall);
  timing_.total_stall_ms += stall;
  timing_.staged_bytes = staged;
  lock.unlock();
  cv_.notify_all();
  info.annotations["snapshot/ms"] = format_metric(stall);
}

void Recorder::on_fit_end(bool failed) {
  if (failed) {  // fit() is already unwinding with its own error: make snapshots durable, do not throw
    std::unique_lock<std::mutex> lock(mu_);
    wait_idle(lock);
    return;
  }
  flush();
  const RecorderCompression when = options_.compression();
  if (when == RecorderCompression::kTiered || when == RecorderCompression::kAtFitEnd) {
    // Every version is durable already; compaction only shrinks them, one transaction each, so
    // an interruption here loses nothing (the rest stays queued for the next run or `strata compact`).
    // Nor does a failure (a full disk): training succeeded, so it is reported, not thrown.
    try {
      CompactReport report =
          log_->compact_pending(0, when == RecorderCompression::kTiered ? CompactTier::kFast : CompactTier::kFull);
      std::lock_guard<std::mutex> lock(mu_);
      timing_.compaction = report;
    } catch (const Error& e) {
      std::fprintf(stderr,
                   "warning: the versions of this run are committed but could not be compressed: %s\n"
                   "         they stay stored raw; run `strata compact --log %s` later\n",
                   e.what(), log_->log_dir().c_str());
    }
  }
}

void Recorder::on_fit_done(std::map<std::string, std::string>& annotations) {
  std::lock_guard<std::mutex> lock(mu_);
  if (timing_.snapshots == 0 || !last_commit_) return;
  annotations["snapshot/bytes"] = std::to_string(timing_.last_stats.new_stored_bytes);
  annotations["snapshot/bytes_step"] = std::to_string(last_snapshot_step_);
}

void Recorder::flush() {
  std::unique_lock<std::mutex> lock(mu_);
  wait_idle(lock);
  if (error_) std::rethrow_exception(error_);
}

std::optional<CommitId> Recorder::last_commit() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_commit_;
}

RecorderTiming Recorder::timing() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timing_;
}

void Recorder::wait_idle(std::unique_lock<std::mutex>& lock) {
  cv_.wait(lock, [&] { return !busy_; });
}

void Recorder::writer_loop() {
  // Best effort: an unprivileged thread may lower its priority, and a failure changes nothing.
  if (options_.writer_nice() != 0) (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), options_.writer_nice());
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || pending_.has_value(); });
    if (!pending_) return;  // stop_ with nothing left to write
    PreparedCommit job = std::move(*pending_);
    pending_.reset();
    lock.unlock();
    std::exception_ptr error;
    CommitResult result;
    const double cpu0 = thread_cpu_seconds();
    try {
      result = log_->write(job, WriteOptions()
                                    .encode_threads(options_.writer_threads())
                                    .defer_compression(options_.compression() != RecorderCompression::kInline));
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (error) {
      if (!error_) error_ = error;
    } else {
      last_commit_ = result.id;
      timing_.last_encode_s = result.encode_seconds;
      timing_.last_write_s = result.write_seconds;
      timing_.last_writer_cpu_s = thread_cpu_seconds() - cpu0;
      timing_.last_stats = result.stats;
    }
    busy_ = false;
    cv_.notify_all();
  }
}

}  // namespace strata::versioning
