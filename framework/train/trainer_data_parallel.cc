// The data-parallel part of the Trainer (Trainer::set_data_parallel): starting every rank from
// rank 0's state, summing gradients in buckets, averaging buffers, checking that ranks agree.
#include <chrono>
#include <cstring>

#include "strata/framework/core/error.h"
#include "strata/framework/train/internal/gradient_reducer.h"
#include "strata/framework/train/runtime.h"
#include "strata/framework/train/trainer.h"

namespace strata {
namespace {

// ---- rank 0's state as bytes, for the broadcast at the start of fit ----

class Packer {
 public:
  void u64(uint64_t v) { s_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(const std::string& v) {
    u64(v.size());
    s_ += v;
  }
  void tensors(const NamedTensors& list) {
    u64(list.size());
    for (const auto& [name, t] : list) {
      str(name);
      u64(static_cast<uint64_t>(t.dtype()));
      u64(t.shape().size());
      for (int64_t d : t.shape()) u64(static_cast<uint64_t>(d));
      s_.append(static_cast<const char*>(t.raw()), t.nbytes());
    }
  }
  std::string take() { return std::move(s_); }

 private:
  std::string s_;
};

class Unpacker {
 public:
  explicit Unpacker(const std::string& s) : s_(s) {}
  uint64_t u64() {
    uint64_t v;
    std::memcpy(&v, take(sizeof v), sizeof v);
    return v;
  }
  std::string str() {
    const uint64_t n = u64();
    return std::string(take(n), n);
  }
  NamedTensors tensors() {
    NamedTensors out;
    for (uint64_t i = 0, n = u64(); i < n; ++i) {
      std::string name = str();
      const auto dtype = static_cast<DType>(u64());
      Shape shape(u64());
      for (int64_t& d : shape) d = static_cast<int64_t>(u64());
      Tensor t(shape, dtype);
      std::memcpy(t.raw(), take(t.nbytes()), t.nbytes());
      out.emplace_back(std::move(name), std::move(t));
    }
    return out;
  }

 private:
  const char* take(uint64_t n) {
    // Both sides are this program: a short message is a bug, not user input.
    STRATA_CHECK(n <= s_.size() - pos_);
    const char* p = s_.data() + pos_;
    pos_ += n;
    return p;
  }
  const std::string& s_;
  size_t pos_ = 0;
};

// What each rank records about itself in every version (distributed/rank<k>/<key>).
const char* const kRankKeys[] = {"host", "threads", "isa", "cpu", "executable_xxh3"};

}  // namespace

void Trainer::set_data_parallel(Communicator* comm, DataParallelOptions options) {
  if (options.bucket_bytes() < 4) throw_invalid("DataParallelOptions::bucket_bytes must be >= 4");
  comm_ = comm;
  data_parallel_ = options;
}

void Trainer::sync_from_rank0() {
  const int n = comm_->size(), me = comm_->rank();
  // Every rank must run the same network from the same seed, or their steps mean nothing together.
  const std::string mine = network_.spec().graph_id() + " seed " + std::to_string(options_.seed());
  const std::vector<std::string> all = comm_->allgather(mine);
  for (int r = 1; r < n; ++r)
    if (all[static_cast<size_t>(r)] != all[0])
      throw Error(ErrorCode::kFailedPrecondition,
                  "rank " + std::to_string(r) + " runs another network or seed than rank 0 (graph " +
                      all[static_cast<size_t>(r)] + " vs " + all[0] + ")",
                  "data-parallel training", "start every rank with the same program and flags");

  std::string blob;
  if (me == 0) {
    TrainState s = current_state(false);
    if (resume_progress_.batches > 0) {  // resumed mid-epoch: the others continue from there too
      s.counters["loader/epoch"] = epoch_ + 1;
      s.counters["loader/batch"] = resume_progress_.batches;
      s.counters["partial/loss_sum_bits"] = double_to_counter(resume_progress_.loss_sum);
      s.counters["partial/samples"] = resume_progress_.samples;
      s.counters["partial/correct"] = resume_progress_.correct;
      s.counters["partial/ms"] = static_cast<int64_t>(resume_progress_.seconds * 1000);
    }
    Packer p;
    p.u64(resumed_ ? 1 : 0);
    p.u64(s.counters.size());
    for (const auto& [k, v] : s.counters) {
      p.str(k);
      p.u64(static_cast<uint64_t>(v));
    }
    p.u64(s.metrics.size());
    for (const auto& [k, v] : s.metrics) {
      p.str(k);
      p.u64(static_cast<uint64_t>(double_to_counter(v)));
    }
    p.tensors(s.params);
    p.tensors(s.optim);
    blob = p.take();
  }
  comm_->broadcast(blob, 0);
  if (me != 0) {
    Unpacker u(blob);
    const bool resumed = u.u64() != 0;
    TrainState s;
    s.graph = network_.spec();
    for (uint64_t i = 0, c = u.u64(); i < c; ++i) {
      std::string k = u.str();
      s.counters[k] = static_cast<int64_t>(u.u64());
    }
    for (uint64_t i = 0, c = u.u64(); i < c; ++i) {
      std::string k = u.str();
      s.metrics[k] = counter_to_double(static_cast<int64_t>(u.u64()));
    }
    s.params = u.tensors();
    s.optim = u.tensors();
    if (resumed)
      load_state(s);
    else
      network_.load_state_tensors(s.params);  // a fresh run or a warm start on rank 0
  }

  // Provenance: the world size and every rank's machine.
  const std::map<std::string, std::string> env = runtime_environment();
  std::string line;
  for (const char* key : kRankKeys) {
    auto it = env.find(key);
    line += (it == env.end() ? std::string() : it->second) + '\n';
  }
  const std::vector<std::string> lines = comm_->allgather(line);
  rank_environment_.clear();
  rank_environment_["distributed/world_size"] = std::to_string(n);
  for (int r = 0; r < n; ++r) {
    size_t at = 0;
    const std::string& l = lines[static_cast<size_t>(r)];
    for (const char* key : kRankKeys) {
      const size_t end = l.find('\n', at);
      if (end == std::string::npos) break;
      rank_environment_["distributed/rank" + std::to_string(r) + "/" + key] = l.substr(at, end - at);
      at = end + 1;
    }
  }
}

std::pair<double, int64_t> Trainer::finish_step(double loss_sum, int64_t correct) {
  reducer_->finish();
  const auto start = std::chrono::steady_clock::now();
  double sums[2] = {loss_sum, static_cast<double>(correct)};
  comm_->allreduce_sum(sums, 2);
  metric_sum_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {sums[0], static_cast<int64_t>(sums[1])};
}

void Trainer::average_buffers() {
  const float inv = 1.f / static_cast<float>(comm_->size());
  for (Parameter& p : network_.parameters()) {
    if (p.trainable || !p.value.defined() || p.value.dtype() != DType::kF32) continue;
    float* v = p.value.f32();
    comm_->allreduce_sum(v, static_cast<size_t>(p.value.numel()));
    for (int64_t i = 0; i < p.value.numel(); ++i) v[i] *= inv;
  }
}

void Trainer::check_ranks_agree(int64_t epoch) {
  std::vector<Tensor> values;
  for (const Parameter& p : network_.parameters()) values.push_back(p.value);
  const std::vector<std::string> prints = comm_->allgather(content_fingerprint(values));
  for (size_t r = 1; r < prints.size(); ++r)
    if (prints[r] != prints[0])
      throw Error(ErrorCode::kInternal,
                  "the parameters of rank " + std::to_string(r) + " differ from rank 0's after epoch " + std::to_string(epoch),
                  "data-parallel training",
                  "the all-reduce did not give every rank the same bits; report this with the MPI library's name and version");
}

}  // namespace strata
