// OpSchema: what an op is, as data, without any kernel (docs/design.md "Network definition and
// execution"). GraphBuilder, models/, the TensorBoard graph and the ONNX exporter use schemas
// only; kernels (framework/ops, or a user's own, see framework/nn/kernel.h) register against
// them. No oneDNN here: this layer links strata_core alone.
//
// The kernel contract every op follows (the generic harness in tests/framework/op_harness_test.cc
// checks it for every registered op):
// - forward() writes every output completely from the inputs and parameters; it may run
//   several times (evaluation, gradient probes) before one backward(), which uses the last
//   training forward.
// - backward() is given the gradient of every output and ASSIGNS (never accumulates) the
//   gradient of every input it is asked for (an undefined input gradient is not wanted: an
//   integer input, or nothing upstream learns) and of every trainable parameter. Summing over
//   several consumers of a value is the Network's job.
// - Inputs and outputs never alias, except where the schema declares a fusion (a Linear that
//   applies a following ReLU writes that ReLU's output).
// - Stochastic ops draw from the counter-based generator keyed by the step (seed, epoch, step),
//   so a resumed run draws the same numbers.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "strata/framework/graph/graph_spec.h"

namespace strata {

// The type of one value, per sample (no batch axis).
struct ValueType {
  DType dtype = DType::kF32;
  Shape shape;
};
using ValueTypes = std::vector<ValueType>;

// A typed attribute with its default (readers apply the default when the key is absent, so a
// default must never change: it is part of the graph format).
struct AttrSpec {
  enum class Kind { kInts, kFloat };
  std::string name;
  Kind kind = Kind::kInts;
  std::vector<int64_t> default_ints;  // empty with required: the builder must set it
  double default_float = 0;
  bool required = false;
  std::string doc;
};

struct OpSchema {
  std::string name;                    // "Linear"; unique in the registry
  int version = 1;                     // bumped when the op's meaning changes (recorded in the docs table)
  int min_inputs = 1, max_inputs = 1;  // max -1: any number
  int num_outputs = 1;
  std::vector<AttrSpec> attrs;  // anything else in a NodeSpec is refused by GraphBuilder
  // Output types from the input types (dtype and per-sample shape); throws strata::Error naming
  // the node (op(name)) on an input it cannot take. Returns num_outputs types; every output is
  // f32.
  std::function<ValueTypes(const NodeSpec&, const ValueTypes& inputs)> infer;
  // The parameters the node owns, named "<node>/<leaf>" (make_param), with their initialisers.
  // Empty function: none.
  std::function<std::vector<ParamSpec>(const NodeSpec&, const ValueTypes& inputs)> params;
  // The parameter leaf whose initialiser NetworkOptions::weight_init overrides ("" : none).
  std::string overridable_weight;
  // Fusion of a ReLU into its producer (a oneDNN post-op): a producer with fuses_relu applies a
  // following op with is_relu (its output's only consumer) inside its own kernel and writes that
  // op's output; the ReLU's kernel then runs only its backward, from that output.
  bool fuses_relu = false;
  bool is_relu = false;
  // Integer inputs (token ids) get no gradient; inputs listed here must be integer.
  std::vector<int> integer_inputs;
  std::string doc;  // one line: what it computes
};

// The registry of schemas. The built-in ops are registered by register_builtin_ops() (explicit;
// the first lookup calls it). register_op_schema throws kInvalidArgument for a name already
// registered. Thread-safe.
void register_op_schema(OpSchema schema);
// Throws kInvalidArgument naming the op, the node (`where`) and the known ops when unknown.
const OpSchema& op_schema(const std::string& op, const std::string& where = "");
bool has_op_schema(const std::string& op);
std::vector<std::string> op_names();  // sorted

// Registers the schemas of every built-in op (idempotent). framework/ops adds their kernels.
void register_builtin_op_schemas();

// Helpers for schema functions.
[[noreturn]] void shape_error(const NodeSpec& node, const std::string& expected, const Shape& got);
ParamSpec make_param(const NodeSpec& node, const std::string& leaf, Shape shape, std::string init, bool trainable = true,
                     int64_t fan_in = 0, int64_t fan_out = 0);
// A per-sample axis attribute (negative counts from the end) resolved against rank; throws
// naming the node when out of range.
int64_t resolve_axis(const NodeSpec& node, int64_t axis, size_t rank);

}  // namespace strata
