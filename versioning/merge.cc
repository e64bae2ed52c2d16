// merge_versions: weight averaging, task arithmetic and TIES merging of two versions against
// their merge base (docs/design.md "Merge").
#include "strata/versioning/merge.h"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "strata/framework/core/error.h"
#include "strata/versioning/commit_graph.h"

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
      return "'" + e.name + "' is " + shape_str(e.shape) + " " + dtype_name(e.dtype) + " vs " + shape_str(it->second->shape) +
             " " + dtype_name(it->second->dtype);
    bs.erase(it);
  }
  if (!bs.empty()) return "'" + bs.begin()->first + "' is missing from the first version";
  return {};
}

std::string fmt_double(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// The k-th largest |x| (k >= 1) of n values: the TIES trim threshold.
float magnitude_threshold(const std::vector<float>& change, size_t keep) {
  if (keep == 0) return INFINITY;
  std::vector<float> mags(change.size());
  for (size_t i = 0; i < change.size(); ++i) mags[i] = std::fabs(change[i]);
  std::nth_element(mags.begin(), mags.begin() + static_cast<std::ptrdiff_t>(keep - 1), mags.end(), std::greater<float>());
  return mags[keep - 1];
}

// TIES over one tensor: trim each side's change from the base z to its largest-magnitude
// `density` share, elect a sign per value (the sign of the trimmed changes' sum), and add lambda
// times the mean of the trimmed changes that agree with it.
void merge_ties(const float* x, const float* y, const float* z, int64_t n, double density, double lambda, float* o) {
  std::vector<float> da(static_cast<size_t>(n)), db(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    da[static_cast<size_t>(i)] = x[i] - z[i];
    db[static_cast<size_t>(i)] = y[i] - z[i];
  }
  const size_t keep = static_cast<size_t>(std::ceil(density * static_cast<double>(n)));
  const float ta_min = magnitude_threshold(da, keep), tb_min = magnitude_threshold(db, keep);
  for (int64_t i = 0; i < n; ++i) {
    const size_t k = static_cast<size_t>(i);
    const double ca = std::fabs(da[k]) >= ta_min && da[k] != 0 ? da[k] : 0.0;
    const double cb = std::fabs(db[k]) >= tb_min && db[k] != 0 ? db[k] : 0.0;
    const double sign = ca + cb >= 0 ? 1.0 : -1.0;  // elected: the sign of the larger total
    double sum = 0;
    int agree = 0;
    for (double c : {ca, cb})
      if (c != 0 && (c > 0) == (sign > 0)) {
        sum += c;
        ++agree;
      }
    o[i] = static_cast<float>(z[i] + lambda * (agree ? sum / agree : 0.0));
  }
}

// The methods that add changes to a base need one that both sides changed from, with the same
// parameters (kFailedPrecondition otherwise).
void check_merge_base(const VersionLog& log, MergeMethod method, const CommitId& a, const CommitId& b,
                      const std::optional<CommitId>& base, const CommitRecord& ra) {
  if (!base)
    throw Error(ErrorCode::kFailedPrecondition,
                std::string("cannot merge by ") + merge_method_name(method) + ": " + log.describe(a) + " and " + log.describe(b) +
                    " have no common ancestor",
                "", "use --method average, which needs no merge base");
  if (*base == a || *base == b)
    throw Error(ErrorCode::kFailedPrecondition,
                std::string("cannot merge by ") + merge_method_name(method) + ": " + log.describe(*base) +
                    " is an ancestor of the other version, so one side made no change of its own",
                "", "move the branch instead (strata branch -f), or use --method average");
  const std::string why = param_mismatch(log.read_record(*base), ra);
  if (!why.empty())
    throw Error(ErrorCode::kFailedPrecondition, "cannot merge against the merge base, whose parameters differ: " + why,
                "base " + log.describe(*base), "use --method average, which needs no merge base");
}

// Records how the merge was made in its hparams (merge/...); returns the message's summary.
std::string record_merge(const MergeRequest& request, const CommitId& a, const CommitId& b, const std::optional<CommitId>& base,
                         const std::vector<std::string>& taken, std::map<std::string, std::string>& hparams) {
  const MergeMethod method = request.method;
  hparams["merge/method"] = merge_method_name(method);
  std::string how;
  if (method == MergeMethod::kAverage) {
    hparams["merge/alpha"] = fmt_double(request.alpha);
    how = "alpha=" + fmt_double(request.alpha);
  } else {
    hparams["merge/lambda"] = fmt_double(request.lambda);
    how = merge_method_name(method) + std::string(", lambda=") + fmt_double(request.lambda);
    if (method == MergeMethod::kTies) {
      hparams["merge/density"] = fmt_double(request.density);
      how += ", density=" + fmt_double(request.density);
    }
  }
  hparams["merge/a"] = to_hex(a);
  hparams["merge/b"] = to_hex(b);
  if (base) hparams["merge/base"] = to_hex(*base);
  if (!taken.empty()) {
    std::string list;
    for (const std::string& t : taken) list += (list.empty() ? "" : ",") + t;
    hparams["merge/take"] = list;
  }
  return how;
}

}  // namespace

const char* merge_method_name(MergeMethod method) {
  switch (method) {
    case MergeMethod::kAverage:
      return "average";
    case MergeMethod::kTaskArithmetic:
      return "task-arithmetic";
    case MergeMethod::kTies:
      return "ties";
  }
  return "?";
}

std::optional<MergeMethod> merge_method_from_name(std::string_view name) {
  for (MergeMethod m : {MergeMethod::kAverage, MergeMethod::kTaskArithmetic, MergeMethod::kTies})
    if (name == merge_method_name(m)) return m;
  return std::nullopt;
}

TakeRule parse_take_rule(const std::string& text) {
  const size_t eq = text.rfind('=');
  const std::string side = eq == std::string::npos ? "" : text.substr(eq + 1);
  if (eq == std::string::npos || eq == 0 || (side != "A" && side != "B"))
    throw_invalid("bad --take rule '" + text + "'", "", "write PATTERN=A or PATTERN=B, e.g. 'fc1/*=A'");
  return TakeRule{text.substr(0, eq), side == "B"};
}

CommitResult merge_versions(VersionLog& log, const MergeRequest& request) {
  if (log.read_only())
    throw Error(ErrorCode::kFailedPrecondition, "cannot merge: the version log is open read-only", log.log_dir(),
                "open it with OpenMode::kReadWrite");
  if (!std::isfinite(request.alpha)) throw_invalid("merge alpha must be a finite number");
  if (!std::isfinite(request.lambda)) throw_invalid("merge lambda must be a finite number");
  if (!(request.density > 0 && request.density <= 1))
    throw_invalid("TIES density must be in (0, 1], got " + fmt_double(request.density));
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
  const MergeMethod method = request.method;
  const std::optional<CommitId> base = merge_base(log, a, b);
  if (method != MergeMethod::kAverage) check_merge_base(log, method, a, b, base, ra);
  const std::string branch = request.branch.empty() ? ra.branch : request.branch;
  if (auto h = log.head(branch); h && *h != a)
    throw Error(ErrorCode::kFailedPrecondition,
                "the merge would go on branch '" + branch + "', whose head is " + log.describe(*h) + ", not " + log.describe(a),
                "", "name a new branch for the merge, or merge the head of the branch");

  NamedTensors pa = log.read_params(a), pb = log.read_params(b), pbase;
  if (method != MergeMethod::kAverage) pbase = log.read_params(*base);
  std::map<std::string, const Tensor*> by_name, base_by_name;
  for (const auto& [name, t] : pb) by_name[name] = &t;
  for (const auto& [name, t] : pbase) base_by_name[name] = &t;
  TrainState state;
  state.graph = log.read_graph(ra.graph_id);
  std::set<std::string> buffers;  // non-trainable: averaged, never task-arithmetic (a variance could go negative)
  for (const ParamSpec& p : state.graph.all_params())
    if (!p.trainable) buffers.insert(p.name);
  const double alpha = request.alpha, lambda = request.lambda;
  std::vector<std::string> taken;
  for (const auto& [name, ta] : pa) {
    const Tensor& tb = *by_name.at(name);
    Tensor out = ta.clone();
    const TakeRule* rule = nullptr;
    for (const TakeRule& r : request.take)
      if (::fnmatch(r.pattern.c_str(), name.c_str(), 0) == 0) {
        rule = &r;
        break;
      }
    if (rule) {
      if (rule->from_b) out = tb.clone();
      taken.push_back(name + "=" + (rule->from_b ? "B" : "A"));
    } else if (ta.dtype() == DType::kF32) {
      const float* x = ta.f32();
      const float* y = tb.f32();
      float* o = out.f32();
      const int64_t n = ta.numel();
      if (method == MergeMethod::kAverage || buffers.count(name)) {
        for (int64_t i = 0; i < n; ++i)
          o[i] = static_cast<float>((1.0 - alpha) * static_cast<double>(x[i]) + alpha * static_cast<double>(y[i]));
      } else {
        const float* z = base_by_name.at(name)->f32();
        if (method == MergeMethod::kTaskArithmetic) {
          for (int64_t i = 0; i < n; ++i) {
            const double base_v = z[i];
            o[i] = static_cast<float>(base_v + lambda * ((x[i] - base_v) + (y[i] - base_v)));
          }
        } else {
          merge_ties(x, y, z, n, request.density, lambda, o);
        }
      }
    }
    state.params.emplace_back(name, std::move(out));
  }
  state.counters = ra.counters;
  state.counters["epoch"] = ra.epoch;
  state.counters["global_step"] = ra.global_step;
  state.hparams = ra.hparams;
  const std::string how = record_merge(request, a, b, base, taken, state.hparams);

  SnapshotRequest snapshot;
  snapshot.parents = {a, b};
  snapshot.branch = branch;
  snapshot.message =
      request.message.empty() ? "merge " + log.describe(a) + " and " + log.describe(b) + " (" + how + ")" : request.message;
  snapshot.author = request.author;
  snapshot.wall_time_ms = request.wall_time_ms;
  snapshot.state = &state;
  snapshot.include_optim = false;  // merged weights make either parent's Adam moments meaningless
  return log.commit(snapshot);
}

}  // namespace strata::versioning
