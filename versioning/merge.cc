// merge_versions: weight averaging of two versions (DESIGN "Merge").
#include <cmath>
#include <map>
#include <sstream>

#include "strata/framework/core/error.h"
#include "strata/versioning/restore.h"

namespace strata::versioning {
namespace {

// Same parameter names, shapes and dtypes (in any order); else the first difference.
std::string param_mismatch(const CommitRecord& a, const CommitRecord& b) {
  std::map<std::string, const TensorEntry*> bs;
  for (const TensorEntry& e : b.params) bs[e.name] = &e;
  for (const TensorEntry& e : a.params) {
    auto it = bs.find(e.name);
    if (it == bs.end()) return "'" + e.name + "' is missing from the second version";
    if (it->second->shape != e.shape || it->second->dtype != e.dtype)
      return "'" + e.name + "' is " + shape_str(e.shape) + " " + dtype_name(e.dtype) + " vs " +
             shape_str(it->second->shape) + " " + dtype_name(it->second->dtype);
    bs.erase(it);
  }
  if (!bs.empty()) return "'" + bs.begin()->first + "' is missing from the first version";
  return {};
}

}  // namespace

CommitResult merge_versions(VersionLog& log, const MergeRequest& request) {
  if (log.read_only())
    throw Error(ErrorCode::kFailedPrecondition, "cannot merge: the version log is open read-only", log.log_dir(),
                "open it with OpenMode::kReadWrite");
  if (!std::isfinite(request.alpha)) throw_invalid("merge alpha must be a finite number");
  const CommitId a = log.resolve(request.a), b = log.resolve(request.b);
  if (a == b) throw_invalid("cannot merge a version with itself", log.describe(a));
  const CommitRecord ra = log.read_record(a), rb = log.read_record(b);
  if (ra.graph_id != rb.graph_id) {
    std::string why = param_mismatch(ra, rb);
    if (!why.empty())
      throw Error(ErrorCode::kFailedPrecondition, "cannot merge versions whose parameters differ: " + why,
                  log.describe(a) + " and " + log.describe(b),
                  "merge versions of the same graph; load into a changed graph with align_state");
  }
  const std::string branch = request.branch.empty() ? ra.branch : request.branch;
  if (auto h = log.head(branch); h && *h != a)
    throw Error(ErrorCode::kFailedPrecondition,
                "the merge would go on branch '" + branch + "', whose head is " + log.describe(*h) + ", not " + log.describe(a),
                "", "name a new branch for the merge, or merge the head of the branch");

  NamedTensors pa = log.read_params(a), pb = log.read_params(b);
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [name, t] : pb) by_name[name] = &t;
  const double alpha = request.alpha;
  TrainState state;
  state.graph = log.read_graph(ra.graph_id);
  for (const auto& [name, ta] : pa) {
    const Tensor& tb = *by_name.at(name);
    Tensor out = ta.clone();
    if (ta.dtype() == DType::kF32) {
      const float* x = ta.f32();
      const float* y = tb.f32();
      float* o = out.f32();
      for (int64_t i = 0; i < ta.numel(); ++i)
        o[i] = static_cast<float>((1.0 - alpha) * static_cast<double>(x[i]) + alpha * static_cast<double>(y[i]));
    }
    state.params.emplace_back(name, std::move(out));
  }
  state.counters = ra.counters;
  state.counters["epoch"] = ra.epoch;
  state.counters["global_step"] = ra.global_step;
  state.hparams = ra.hparams;
  std::ostringstream alpha_text;
  alpha_text << alpha;
  state.hparams["merge/alpha"] = alpha_text.str();
  state.hparams["merge/a"] = to_hex(a);
  state.hparams["merge/b"] = to_hex(b);

  SnapshotRequest snapshot;
  snapshot.parents = {a, b};
  snapshot.branch = branch;
  snapshot.message = request.message.empty()
                         ? "merge " + log.describe(a) + " and " + log.describe(b) + " (alpha=" + alpha_text.str() + ")"
                         : request.message;
  snapshot.author = request.author;
  snapshot.wall_time_ms = request.wall_time_ms;
  snapshot.state = &state;
  snapshot.include_optim = false;  // averaged weights make either parent's Adam moments meaningless
  return log.commit(snapshot);
}

}  // namespace strata::versioning
