// The input normalisation a version was trained with, as the Predictor and quantize apply it
// (versioning/run/predictor.h says how it is found).
#pragma once

#include <string>
#include <vector>

#include "strata/framework/core/error.h"
#include "strata/framework/core/tensor.h"
#include "strata/framework/graph/graph_spec.h"
#include "strata/versioning/commit_record.h"

namespace strata::versioning {

struct InputNormalisation {
  std::vector<float> mean, std;       // empty: none; one value, or one per channel (dimension 1)
  std::vector<std::string> warnings;  // what the user should be told about where it came from
};

// From the recorded hparams, else the training data's provenance (with a warning); refuses
// (kFailedPrecondition) a provenance that says the inputs were normalised some other way, and
// (kCorruption) recorded values that do not fit the graph. `where` names the version.
InputNormalisation resolve_input_normalisation(const CommitRecord& record, const GraphSpec& graph, const std::string& where);

// The texts resolve_input_normalisation parses ({mean, std} as hparams input/mean and input/std
// hold them; both empty: none), where they came from ("hyper-parameter " or the provenance, as
// errors name it) and the warnings about that.
struct NormalisationText {
  std::string mean, std, source;
  std::vector<std::string> warnings;
};
NormalisationText recorded_normalisation_text(const CommitRecord& record, const std::string& where);

// Parses and checks a normalisation's texts against the graph: numbers, one or one per input
// channel, std > 0, f32 inputs. Errors carry `code` (kCorruption for what a log recorded,
// kInvalidArgument for what a user gave) and name `source` ("hyper-parameter ", ...).
InputNormalisation parse_input_normalisation(const std::string& mean_text, const std::string& std_text, const GraphSpec& graph,
                                             const std::string& source, ErrorCode code, const std::string& where);

// out = (x - mean) / stddev per channel (as InputNormalisation holds them); kInvalidArgument
// when a result is not finite. Reuses out's storage when it has x's shape.
void normalise_inputs(const std::vector<float>& mean, const std::vector<float>& stddev, const Tensor& x, Tensor& out,
                      const std::string& where);

}  // namespace strata::versioning
