// The verbs of `strata` (tools/strata.cc parses the command line and dispatches here). Each
// returns the process exit code; bad input throws strata::Error, which main turns into
// "error: ..." on stderr and exit 1.
//
//   history_verbs.cc  log, show, diff, compare     (read-only)
//   ref_verbs.cc      branch, tag, merge           (take the writer lock when they change refs)
//   storage_verbs.cc  verify, gc, du, export, import, tensorboard
//   predict_verb.cc   predict
//   transfer_verbs.cc clone, push, pull, remote, upload-pack, receive-pack
//   serve_verb.cc     serve (versioning/server.h)
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "tools/cli_output.h"
#include "strata/versioning/merge.h"
#include "strata/versioning/restore.h"
#include "strata/versioning/server.h"
#include "strata/versioning/tensor_files.h"
#include "strata/versioning/transfer.h"
#include "strata/versioning/version_log.h"

namespace strata::tools {

// `strata log --regressions --metric M --threshold T`: marks versions whose metric got worse
// than their first parent's by more than T (a drop where higher is better, else a rise).
struct RegressionQuery {
  std::string metric;
  double threshold = 0;
};
// The branch a verb shows without a REF: main, or the only branch there is; nullopt without
// branches; kInvalidArgument with `hint` when several branches exist and none is main.
std::optional<std::string> default_branch(const versioning::VersionLog& log, const GlobalOptions& g,
                                          const std::string& hint);
int cmd_log(const GlobalOptions& g, const std::string& ref, bool all, bool graph,
            const std::optional<RegressionQuery>& regressions = std::nullopt);
// `strata log --tensor NAME [REF]`: how one tensor moved along the first-parent history.
int cmd_log_tensor(const GlobalOptions& g, const std::string& ref, const std::string& tensor);
// `strata check VERSION --baseline REF --metric M (--max-drop D | --max-rise R) ...`: the CI gate.
struct MetricGate {
  std::string metric;
  std::optional<double> max_drop, max_rise;
};
int cmd_check(const GlobalOptions& g, const std::string& version, const std::string& baseline,
              const std::vector<MetricGate>& gates);
int cmd_show(const GlobalOptions& g, const std::string& name, bool tensors, bool graph);
int cmd_diff(const GlobalOptions& g, const std::string& a, const std::string& b, double eps, size_t top);
int cmd_compare(const GlobalOptions& g, const std::vector<std::string>& versions, const std::vector<std::string>& metrics);

int cmd_refs(const GlobalOptions& g, bool is_tag, const std::string& name, const std::string& version, bool del, bool force);
int cmd_merge(const GlobalOptions& g, const versioning::MergeRequest& request);
int cmd_merge_base(const GlobalOptions& g, const std::string& a, const std::string& b);

int cmd_verify(const GlobalOptions& g, const std::string& name, bool all);
// keep_full > 0 first applies the retention policy (VersionLog::apply_retention): full training
// state only for the newest keep_full versions of each branch, heads and tags.
int cmd_gc(const GlobalOptions& g, int keep_full);
int cmd_compact(const GlobalOptions& g);
int cmd_du(const GlobalOptions& g);
int cmd_export(const GlobalOptions& g, const std::string& version, const std::string& path,
               versioning::TensorFileFormat format, bool with_optim);

int cmd_export_onnx(const GlobalOptions& g, const std::string& version, const std::string& path, int opset, int64_t batch);

struct ImportOptions {
  std::string file, graph_version, model, branch, message;
  std::vector<int64_t> input_shape{1, 28, 28};
  int64_t classes = 10;
  bool allow_partial = false;
  uint64_t seed = 0;
};
int cmd_import(const GlobalOptions& g, const ImportOptions& options);

// predict_verb.cc
struct PredictOptions {
  std::string version, input, labels, format;  // format: idx | npy | csv ("" : by extension)
  std::string target;                          // csv: the label column (else every column is a feature)
  int64_t batch = 256, top = 3, show = 10;
  int bench = 0;  // > 0: also time this many single-sample predictions (latency p50 / p99)
};
int cmd_predict(const GlobalOptions& g, const PredictOptions& options);
int cmd_tensorboard(const GlobalOptions& g, std::string out, bool force);

// transfer_verbs.cc
int cmd_clone(const GlobalOptions& g, const std::string& src, const std::string& dst, const versioning::TransferOptions& o);
int cmd_push(const GlobalOptions& g, const std::string& remote, const versioning::TransferOptions& o);
int cmd_pull(const GlobalOptions& g, const std::string& remote, const versioning::TransferOptions& o);
// action: list, add, remove.
int cmd_remote(const GlobalOptions& g, const std::string& action, const std::string& name, const std::string& url, bool force);
// serve_verb.cc: `strata serve REF...` until SIGTERM/SIGINT (drains, exits 0).
int cmd_serve(const GlobalOptions& g, versioning::ServerOptions options);
// `strata upload-pack DIR` / `strata receive-pack DIR`: the far side of a transfer over ssh.
int cmd_transfer_endpoint(const std::string& log_dir, bool receive);

}  // namespace strata::tools
