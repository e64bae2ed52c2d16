// Post-training int8 quantization as a step of the history (docs/guide.md "Int8 inference"):
// a new version, child of the f32 version it quantizes, whose Linear and Conv2d nodes run on
// oneDNN's int8 kernels (framework/graph/quantization.h has the scheme).
//
//   QuantizeRequest r;
//   r.version = "main@10";
//   r.calibration = images;  // f32 [N, 1, 28, 28] as the dataset stores them ([0, 1] pixels)
//   QuantizeReport q = quantize(*log, r);  // log open for writing; q.id is the new version
//
// Calibration: the version's own input normalisation is applied (as the Predictor does), the
// f32 network runs over the first `samples` inputs, and each quantized node's input scale comes
// from the largest value it saw there; a node that saw a negative input stays in f32. Weights
// get one scale per output channel and are stored rounded to their int8 grid.
//
// The version is params-only (like an import: served, exported, diffed, not resumed). It keeps
// its parent's hyper-parameters (the input normalisation among them) and data provenance, and
// records under "quantize/": the method, the calibration file, sample count and fingerprint
// (XXH3-128 of the f32 samples used), each node's input scale and weight scales; its
// environment says "precision" int8; its metrics hold "quantize/top1_agreement", the share of
// calibration samples whose top class int8 and f32 agree on.
#pragma once

#include <string>
#include <vector>

#include "strata/framework/core/tensor.h"
#include "strata/versioning/ids.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {

struct QuantizeRequest {
  std::string version;           // the f32 version (any name `resolve` takes)
  Tensor calibration;            // f32 [N, input_shape...], in the dataset's units
  std::string calibration_name;  // recorded: where the samples came from (a file name)
  int64_t samples = 1000;        // the first `samples` of them (all when fewer)
  std::string branch;            // new branch; empty: "int8-<first 8 hex digits of the version>"
  std::string message;           // empty: "quantize <version> to int8 (<n> nodes, <k> samples)"
  std::string author;
};

struct QuantizeReport {
  CommitId id{};
  std::string branch;
  std::vector<std::string> quantized;  // node names, in graph order
  std::vector<std::string> kept_f32;   // "name: why" for the Linear/Conv2d nodes left in f32
  int64_t samples = 0;
  double top1_agreement = 0;  // on the calibration samples
  std::string fingerprint;    // of the calibration samples
};

// Refused, with nothing written: kFailedPrecondition for a version already quantized, a graph
// with no quantizable node or token-id inputs; kInvalidArgument for calibration data of another
// shape or with non-finite values; kAlreadyExists when the branch exists.
QuantizeReport quantize(VersionLog& log, const QuantizeRequest& request);

}  // namespace strata::versioning
