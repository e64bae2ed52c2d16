// GraphSpec -> TensorBoard GraphDef (docs/wire-formats.md section 4).
//
// Layout, chosen so the Graphs dashboard groups each layer into one collapsible box:
//  - the graph input is a Placeholder named GraphSpec::input_name;
//  - each parameter is a VariableV2 node under its full name ("fc1/weight");
//  - each op is a node named after its NodeSpec; when other names live under that name as a
//    scope (its parameters "fc1/weight"), the op node is "<name>/<op>" ("fc1/Linear"), because
//    TensorBoard would otherwise rename it "fc1/(fc1)";
//  - inputs are the producers' nodes, then the op's parameters;
//  - every node has `_output_shapes` (one shape; the batch dimension is -1 unless a batch size
//    is given) so edges are labelled with tensor shapes; integer and float attributes of the
//    NodeSpec become attrs.
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "strata/framework/core/tensor.h"
#include "strata/framework/graph/graph_spec.h"

namespace strata::summary {

// Serialized GraphDef bytes (what Event.graph_def holds). batch_size <= 0 writes -1 (unknown)
// as the batch dimension of activation shapes.
std::string graph_to_graphdef(const GraphSpec& graph, int64_t batch_size = -1);

// Name of the GraphDef op node that stands for NodeSpec `node_name` ("fc1" -> "fc1/Linear").
std::string graphdef_node_name(const GraphSpec& graph, const std::string& node_name);

// A GraphDef node read back, for tests and tools.
struct GraphDefNode {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;
  std::vector<Shape> output_shapes;                  // attr _output_shapes
  std::map<std::string, std::vector<int64_t>> ints;  // attrs i and list.i
  std::map<std::string, double> floats;              // attrs f
  std::map<std::string, std::string> strings;        // attrs s
};

// Parses serialized GraphDef bytes; throws Error(kCorruption) when they do not parse.
std::vector<GraphDefNode> parse_graphdef(const std::string& bytes);

}  // namespace strata::summary
