// GraphSpec: a network as plain data (docs/design.md "Network definition and execution").
//
// Nodes in topological order, each with a hierarchical name ("block1/conv"), an op type, input
// edges, attributes and named parameters. Shapes are per sample (no batch dimension).
//
// An input edge names a value: the graph input (GraphSpec::input_name), a node's first output
// ("fc1"), or its k-th output ("lstm:1"; "lstm:0" is the same as "lstm"). The graph input is f32
// or, for token ids, i32/i64; every node output is f32. Serializable with cereal, hashable
// (graph_id), diffable. Built by Sequential / GraphBuilder; users never write it by hand.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "strata/framework/core/tensor.h"

namespace strata {

struct ParamSpec {
  std::string name;  // full name: "<node>/weight", "<node>/bias", "<node>/running_mean"
  Shape shape;
  std::string init;       // "kaiming_uniform", "xavier_uniform", "zeros", "ones", "constant:<v>"
  bool trainable = true;  // false for buffers such as batchnorm running statistics
  int64_t fan_in = 0, fan_out = 0;

  bool operator==(const ParamSpec& o) const {
    return name == o.name && shape == o.shape && init == o.init && trainable == o.trainable && fan_in == o.fan_in &&
           fan_out == o.fan_out;
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, shape, init, trainable, fan_in, fan_out);
  }
};

struct NodeSpec {
  std::string name;
  std::string op;                                    // "Linear", "Conv2d", "ReLU", ...
  std::vector<std::string> inputs;                   // producer node names
  std::map<std::string, std::vector<int64_t>> ints;  // kernel, stride, padding, out_features...
  std::map<std::string, double> floats;              // slope, p, eps, momentum...
  std::vector<ParamSpec> params;
  Shape output_shape;                      // per sample, filled by shape inference (output 0)
  std::vector<Shape> extra_output_shapes;  // outputs 1, 2, ... of a multi-output node

  int num_outputs() const { return 1 + static_cast<int>(extra_output_shapes.size()); }
  const Shape& output_shape_at(int k) const { return k == 0 ? output_shape : extra_output_shapes.at(k - 1); }

  int64_t int_attr(const std::string& key, int64_t fallback) const;
  std::vector<int64_t> ints_attr(const std::string& key, std::vector<int64_t> fallback) const;
  double float_attr(const std::string& key, double fallback) const;

  bool operator==(const NodeSpec& o) const {
    return name == o.name && op == o.op && inputs == o.inputs && ints == o.ints && floats == o.floats && params == o.params &&
           output_shape == o.output_shape && extra_output_shapes == o.extra_output_shapes;
  }
  // The format-1 fields; GraphSpec::to_bytes appends the rest (see docs/formats.md "Graphs").
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, op, inputs, ints, floats, params, output_shape);
  }
};

// An input edge split into the producer's name and its output index: "lstm:1" -> {"lstm", 1},
// "fc1" -> {"fc1", 0}. A name without a valid ":<k>" suffix is taken whole.
struct ValueRef {
  std::string node;
  int output = 0;
};
ValueRef parse_value_ref(const std::string& edge);

struct GraphSpec {
  // Format 2 adds the input dtype and multi-output nodes. A graph that uses neither is written
  // in format 1, byte for byte as before, so graphs (and graph ids) of old logs do not change.
  static constexpr uint32_t kFormatVersion = 2;

  std::string input_name = "input";
  Shape input_shape;                // per sample, e.g. {1, 28, 28}
  DType input_dtype = DType::kF32;  // kI32/kI64 for token ids
  std::vector<NodeSpec> nodes;      // topological order
  std::string output;               // name of the output node

  const NodeSpec* find(const std::string& name) const;
  std::vector<ParamSpec> all_params() const;

  // cereal-binary bytes, stable for equal graphs; graph_id is the hex XXH3-128 of these bytes.
  std::string to_bytes() const;
  static GraphSpec from_bytes(const std::string& bytes);  // throws kCorruption on bad bytes
  std::string graph_id() const;
  std::string summary() const;  // one line per node: name, op, output shape, parameter count

  bool operator==(const GraphSpec& o) const {
    return input_name == o.input_name && input_shape == o.input_shape && input_dtype == o.input_dtype && nodes == o.nodes &&
           output == o.output;
  }
  // The format-1 fields.
  template <class Archive>
  void serialize(Archive& ar) {
    ar(input_name, input_shape, nodes, output);
  }
  // 1 when the graph needs nothing of format 2, else 2.
  uint32_t format_version() const;
};

}  // namespace strata
