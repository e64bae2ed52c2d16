// ONNX export of a version (docs/guide.md "Export and import"; wire format: docs/wire-formats.md section 6):
// the graph as ONNX operators, the parameters as initializers, BatchNorm in inference form with
// its running statistics, Dropout as identity (omitted). The model carries the version id, its
// branch@epoch name and the Strata version as metadata_props ("strata_version_id",
// "strata_version", "strata"), the input named as the graph's input and the output as the
// graph's output node, both with their shapes (batch dimension "N" when dynamic).
//
// Operators (opset 13 to 17, IR version 8): Linear -> Gemm (transB = 1; over the last axis of a
// longer input, MatMul + Add), Conv2d -> Conv, MaxPool2d -> MaxPool, AvgPool2d -> AveragePool
// (count_include_pad = 1, as Strata pools), GlobalAvgPool -> GlobalAveragePool + Flatten,
// BatchNorm -> BatchNormalization, ReLU, LeakyReLU, Sigmoid, Tanh, GELU -> 0.5 x (1 + Erf(x /
// sqrt 2)), Flatten, Add, Concat, Softmax (masks as -1e30 added to the logits, the weights then
// multiplied by the keep-mask); the text ops: Embedding -> Gather (the padding row exported as
// zeros), PositionalEmbedding -> Add, PaddingMask -> Equal/Not/Cast, LayerNorm ->
// LayerNormalization (opset 17; below, its arithmetic), Reshape, Transpose, Slice, MatMul,
// LSTM/GRU -> one ONNX LSTM/GRU per layer (gates reordered, GRU linear_before_reset) with
// transposes to batch-first, SequencePool -> reductions over the kept steps. The input keeps its
// dtype (int64/int32 token ids). An op without an equivalent is kInvalidArgument naming the node.
//
// Free functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "strata/framework/core/options.h"
#include "strata/framework/graph/graph_spec.h"
#include "strata/framework/train/train_state.h"
#include "strata/versioning/ids.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {

struct OnnxOptions {
  STRATA_ARG(int, opset) = 17;     // 13..17
  STRATA_ARG(int64_t, batch) = 0;  // 0: a dynamic batch dimension "N"; > 0: fixed
};

// The serialized ModelProto of `graph` with `params` (every parameter of the graph, by name).
std::string graph_to_onnx(const GraphSpec& graph, const NamedTensors& params, const std::map<std::string, std::string>& metadata,
                          const OnnxOptions& options = {});

struct OnnxReport {
  size_t nodes = 0, initializers = 0;
  uint64_t file_bytes = 0;
};

// Writes `version` (its graph and parameters) to `path` as an ONNX model.
OnnxReport export_onnx(const VersionLog& log, const CommitId& version, const std::string& path, const OnnxOptions& options = {});

}  // namespace strata::versioning
