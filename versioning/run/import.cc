#include "strata/versioning/run/import.h"

#include <filesystem>
#include <map>

#include "strata/framework/core/error.h"
#include "strata/framework/nn/network.h"
#include "strata/versioning/restore.h"
#include "strata/versioning/run/internal/input_normalisation.h"
#include "strata/versioning/tensor_files.h"

namespace strata::versioning {

ImportReport import_params(VersionLog& log, const ImportRequest& request) { return import_params(log, request, {}); }

ImportNormalisation input_normalisation_of(const VersionLog& log, const CommitId& version) {
  try {
    NormalisationText text = recorded_normalisation_text(log.read_record(version), log.describe(version));
    return {text.mean, text.std};
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kFailedPrecondition) throw;
    // The version's inputs were normalised in a way it did not record: the caller must say.
    throw Error(e.code(), e.what_failed(), e.where(),
                "give the normalisation (strata import --input-mean M --input-std S), or none (--no-input-normalisation)");
  }
}

ImportReport import_params(VersionLog& log, const ImportRequest& request, const ImportNormalisation& normalisation) {
  if (normalisation.mean.empty() != normalisation.std.empty())
    throw_invalid("an input normalisation needs both a mean and a std", request.file,
                  "give both (a std of 1 divides by nothing), or neither");
  if (!normalisation.mean.empty())
    parse_input_normalisation(normalisation.mean, normalisation.std, request.graph, "", ErrorCode::kInvalidArgument,
                              request.file);
  if (log.read_only())
    throw Error(ErrorCode::kFailedPrecondition, "cannot import: the version log is open read-only", log.log_dir(),
                "open it with OpenMode::kReadWrite");
  validate_ref_name("branch", request.branch);
  if (log.head(request.branch))
    throw Error(ErrorCode::kAlreadyExists, "branch '" + request.branch + "' already exists", log.log_dir(),
                "import onto a new branch");
  const TensorFileFormat format = tensor_file_format(request.file);
  NamedTensors file = read_tensor_file(request.file);

  // The graph's parameters with their fresh initialisation; matching ones are replaced.
  Network net(request.graph);
  net.init_params(request.seed);
  NamedTensors params = net.state_tensors();
  TensorMatch match = copy_matching(file, params);
  ImportReport report;
  report.matched = std::move(match.matched);
  report.missing = std::move(match.missing);
  report.unexpected = std::move(match.unexpected);
  auto find = [](const NamedTensors& list, const std::string& name) -> const Tensor& {
    for (const auto& [n, t] : list)
      if (n == name) return t;
    STRATA_CHECK(false);
  };
  for (const std::string& name : match.mismatched) {
    const Tensor &src = find(file, name), &dst = find(params, name);
    report.mismatched.push_back(name + ": file " + shape_str(src.shape()) + " " + dtype_name(src.dtype()) + ", graph " +
                                shape_str(dst.shape()) + " " + dtype_name(dst.dtype()));
  }

  if (report.matched.empty())
    throw Error(ErrorCode::kFailedPrecondition, "no tensor of the file matches the graph by name and shape", request.file,
                "check that the file holds this network's parameters (names like fc1/weight)");
  if (!request.allow_partial && (!report.missing.empty() || !report.mismatched.empty())) {
    std::string what;
    for (const std::string& m : report.missing) what += "\n  missing: " + m;
    for (const std::string& m : report.mismatched) what += "\n  other shape: " + m;
    throw Error(ErrorCode::kFailedPrecondition,
                std::to_string(report.missing.size() + report.mismatched.size()) +
                    " parameter(s) of the graph cannot be imported:" + what,
                request.file, "fix the file, or pass --allow-partial to keep their fresh initialisation");
  }

  TrainState state;
  state.graph = request.graph;
  state.params = std::move(params);
  const std::string file_name = std::filesystem::path(request.file).filename().string();
  state.hparams["import/file"] = file_name;
  state.hparams["import/format"] = tensor_file_format_name(format);
  state.hparams["import/graph"] = request.graph_source;
  state.hparams["import/matched"] = std::to_string(report.matched.size());
  if (!normalisation.mean.empty()) {
    state.hparams["input/mean"] = normalisation.mean;
    state.hparams["input/std"] = normalisation.std;
  }
  if (!report.missing.empty() || !report.mismatched.empty()) {
    std::string initialised;
    for (const std::string& m : report.missing) initialised += (initialised.empty() ? "" : ",") + m;
    for (const std::string& m : report.mismatched) initialised += (initialised.empty() ? "" : ",") + m.substr(0, m.find(':'));
    state.hparams["import/initialised"] = initialised;
    state.hparams["import/seed"] = std::to_string(request.seed);
  }
  SnapshotRequest snapshot;
  snapshot.branch = request.branch;
  snapshot.message = request.message.empty() ? "import " + file_name + " (" + std::to_string(report.matched.size()) + " tensors)"
                                             : request.message;
  snapshot.author = request.author;
  snapshot.state = &state;
  snapshot.include_optim = false;
  report.id = log.commit(snapshot).id;
  return report;
}

}  // namespace strata::versioning
