// GraphSpec: a network as plain data (DESIGN "Network definition and execution").
//
// Nodes in topological order, each with a hierarchical name ("block1/conv"), an op type, input
// edges (node names; the graph input is named by GraphSpec::input_name), attributes and named
// parameters. Shapes are per sample (no batch dimension). Serializable with cereal, hashable
// (graph_id), diffable. Built by Sequential / GraphBuilder; users never write it by hand.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "strata/framework/core/tensor.h"

namespace strata {

struct ParamSpec {
  std::string name;      // full name: "<node>/weight", "<node>/bias", "<node>/running_mean"
  Shape shape;
  std::string init;      // "kaiming_uniform", "xavier_uniform", "zeros", "ones", "constant:<v>"
  bool trainable = true; // false for buffers such as batchnorm running statistics
  int64_t fan_in = 0, fan_out = 0;

  bool operator==(const ParamSpec& o) const {
    return name == o.name && shape == o.shape && init == o.init && trainable == o.trainable &&
           fan_in == o.fan_in && fan_out == o.fan_out;
  }
  template <class Archive> void serialize(Archive& ar) {
    ar(name, shape, init, trainable, fan_in, fan_out);
  }
};

struct NodeSpec {
  std::string name;
  std::string op;                     // "Linear", "Conv2d", "ReLU", ...
  std::vector<std::string> inputs;    // producer node names
  std::map<std::string, std::vector<int64_t>> ints;  // kernel, stride, padding, out_features...
  std::map<std::string, double> floats;              // slope, p, eps, momentum...
  std::vector<ParamSpec> params;
  Shape output_shape;                 // per sample, filled by shape inference

  int64_t int_attr(const std::string& key, int64_t fallback) const;
  std::vector<int64_t> ints_attr(const std::string& key, std::vector<int64_t> fallback) const;
  double float_attr(const std::string& key, double fallback) const;

  bool operator==(const NodeSpec& o) const {
    return name == o.name && op == o.op && inputs == o.inputs && ints == o.ints &&
           floats == o.floats && params == o.params && output_shape == o.output_shape;
  }
  template <class Archive> void serialize(Archive& ar) {
    ar(name, op, inputs, ints, floats, params, output_shape);
  }
};

struct GraphSpec {
  static constexpr uint32_t kFormatVersion = 1;

  std::string input_name = "input";
  Shape input_shape;                  // per sample, e.g. {1, 28, 28}
  std::vector<NodeSpec> nodes;        // topological order
  std::string output;                 // name of the output node

  const NodeSpec* find(const std::string& name) const;
  std::vector<ParamSpec> all_params() const;

  // cereal-binary bytes, stable for equal graphs; graph_id is the hex XXH3-128 of these bytes.
  std::string to_bytes() const;
  static GraphSpec from_bytes(const std::string& bytes);  // throws kCorruption on bad bytes
  std::string graph_id() const;
  std::string summary() const;  // one line per node: name, op, output shape, parameter count

  bool operator==(const GraphSpec& o) const {
    return input_name == o.input_name && input_shape == o.input_shape && nodes == o.nodes &&
           output == o.output;
  }
  template <class Archive> void serialize(Archive& ar) { ar(input_name, input_shape, nodes, output); }
};

}  // namespace strata
