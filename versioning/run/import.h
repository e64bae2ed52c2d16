// Importing parameters trained elsewhere (PyTorch state_dicts saved with numpy or safetensors):
// a new version whose parameters come from a .npz or .safetensors file, matched by name and
// shape against a graph (docs/guide.md "Export and import").
//
// The version is a root on a new branch, without optimizer state ([params only]): it can be
// evaluated, exported, diffed, served and used as a warm start, not resumed. Its hparams record
// the file, its format and the graph's source; with allow_partial, the parameters the file lacks
// keep the graph's fresh initialisation (seed `seed`), listed in hparams "import/initialised".
//
// Free function; writes through the log's writer (which must be open for writing).
#pragma once

#include <string>
#include <vector>

#include "strata/framework/graph/graph_spec.h"
#include "strata/versioning/ids.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {

struct ImportRequest {
  std::string file;          // .npz or .safetensors
  GraphSpec graph;           // the network the parameters belong to
  std::string graph_source;  // how the graph was chosen ("model mlp", "graph of main@3"), recorded
  std::string branch;        // a new branch
  std::string message;       // empty: "import <file> (<n> tensors)"
  bool allow_partial = false;
  uint64_t seed = 0;  // initialisation of what the file lacks (allow_partial)
  std::string author;
};

struct ImportReport {
  CommitId id{};
  std::vector<std::string> matched;     // name and shape agree: imported
  std::vector<std::string> missing;     // in the graph, not in the file
  std::vector<std::string> unexpected;  // in the file, not in the graph
  std::vector<std::string> mismatched;  // same name, other shape or dtype: "name: file [..] graph [..]"
};

// Matches, then commits. Refused with kFailedPrecondition (nothing written) when a parameter is
// missing or mismatched and allow_partial is off, or when nothing matches; kAlreadyExists when
// the branch exists. Unexpected tensors (optimizer state, buffers of another framework) are
// reported and ignored. The version records no input normalisation: a Predictor feeds it
// inputs as given.
ImportReport import_params(VersionLog& log, const ImportRequest& request);

// The input normalisation an import records, as hparams "input/mean" and "input/std" hold it
// (one number for all input channels or one per channel: "0.2860", "0.4914,0.4822,0.4465"):
// what the Predictor, `strata predict` and `strata serve` apply to raw inputs. Both empty: none.
struct ImportNormalisation {
  std::string mean, std;
};

// The normalisation `version` applies to its inputs: its recorded input/mean and input/std, or
// what its training data's provenance names (logs from before those were recorded); empty when
// it has none. Parameters exported from a version and imported with its graph predict as it
// does only with its normalisation (tested for a quantized version).
ImportNormalisation input_normalisation_of(const VersionLog& log, const CommitId& version);

// import_params, recording `normalisation` with the version. kInvalidArgument (nothing written)
// when only one of mean and std is given, a value is not a number, their count is neither 1 nor
// the graph's input channels, a std is not > 0, or the graph's inputs are token ids.
ImportReport import_params(VersionLog& log, const ImportRequest& request, const ImportNormalisation& normalisation);

}  // namespace strata::versioning
