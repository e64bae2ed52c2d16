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
// reported and ignored.
ImportReport import_params(VersionLog& log, const ImportRequest& request);

}  // namespace strata::versioning
