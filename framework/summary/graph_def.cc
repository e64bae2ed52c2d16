#include "strata/framework/summary/internal/graph_def.h"

#include <set>

#include "proto/graph.pb.h"
#include "strata/framework/core/error.h"
#include "strata/framework/summary/internal/proto_bytes.h"

namespace strata::summary {
namespace {

void set_shape(tensorboard::TensorShapeProto* proto, const Shape& shape) {
  for (int64_t d : shape) proto->add_dim()->set_size(d);
}

void set_output_shape(tensorboard::NodeDef* node, const Shape& shape) {
  tensorboard::AttrValue& attr = (*node->mutable_attr())["_output_shapes"];
  set_shape(attr.mutable_list()->add_shape(), shape);
}

void set_type(tensorboard::NodeDef* node, const char* key, DType dtype = DType::kF32) {
  (*node->mutable_attr())[key].set_type(dtype == DType::kI64   ? tensorboard::DT_INT64
                                        : dtype == DType::kI32 ? tensorboard::DT_INT32
                                                               : tensorboard::DT_FLOAT);
}

Shape batched(const Shape& per_sample, int64_t batch_size) {
  Shape s;
  s.reserve(per_sample.size() + 1);
  s.push_back(batch_size > 0 ? batch_size : -1);
  s.insert(s.end(), per_sample.begin(), per_sample.end());
  return s;
}

// Every name the GraphDef will hold before op nodes are renamed: input, nodes, parameters.
std::set<std::string> all_names(const GraphSpec& graph) {
  std::set<std::string> names{graph.input_name};
  for (const NodeSpec& n : graph.nodes) {
    names.insert(n.name);
    for (const ParamSpec& p : n.params) names.insert(p.name);
  }
  return names;
}

std::string op_node_name(const std::set<std::string>& names, const NodeSpec& node) {
  const std::string scope = node.name + "/";
  auto it = names.lower_bound(scope);
  const bool is_scope = it != names.end() && it->compare(0, scope.size(), scope) == 0;
  if (!is_scope) return node.name;
  std::string name = scope + node.op;
  while (names.count(name)) name += "_";
  return name;
}

}  // namespace

std::string graphdef_node_name(const GraphSpec& graph, const std::string& node_name) {
  if (node_name == graph.input_name) return node_name;
  const NodeSpec* node = graph.find(node_name);
  if (!node) throw_invalid("graph has no node '" + node_name + "'", "GraphSpec", "name a node of the graph or its input");
  return op_node_name(all_names(graph), *node);
}

std::string graph_to_graphdef(const GraphSpec& graph, int64_t batch_size) {
  const std::set<std::string> names = all_names(graph);
  std::map<std::string, std::string> renamed{{graph.input_name, graph.input_name}};
  tensorboard::GraphDef def;

  tensorboard::NodeDef* input = def.add_node();
  input->set_name(graph.input_name);
  input->set_op("Placeholder");
  set_type(input, "dtype", graph.input_dtype);
  set_shape((*input->mutable_attr())["shape"].mutable_shape(), batched(graph.input_shape, -1));
  set_output_shape(input, batched(graph.input_shape, batch_size));

  for (const NodeSpec& n : graph.nodes) {
    const std::string op_name = op_node_name(names, n);
    // Elements of a RepeatedPtrField never move, so `op` stays valid while parameter nodes are
    // added after it.
    tensorboard::NodeDef* op = def.add_node();
    op->set_name(op_name);
    op->set_op(n.op);
    for (const std::string& in : n.inputs) {
      // Output k of a node is "<node>:k", as TensorFlow names it.
      const ValueRef ref = in == graph.input_name ? ValueRef{in, 0} : parse_value_ref(in);
      auto it = renamed.find(ref.node);
      if (it == renamed.end())
        throw_invalid("node '" + n.name + "' reads '" + in + "', which is neither the graph input nor an earlier node",
                      "GraphSpec", "build the graph with Sequential or GraphBuilder");
      op->add_input(ref.output == 0 ? it->second : it->second + ":" + std::to_string(ref.output));
    }
    for (const ParamSpec& p : n.params) {
      tensorboard::NodeDef* var = def.add_node();
      var->set_name(p.name);
      var->set_op("VariableV2");
      set_type(var, "dtype");
      set_shape((*var->mutable_attr())["shape"].mutable_shape(), p.shape);
      set_output_shape(var, p.shape);
      if (!p.init.empty()) (*var->mutable_attr())["init"].set_s(p.init);
      (*var->mutable_attr())["trainable"].set_b(p.trainable);
      op->add_input(p.name);
    }
    set_type(op, "T");
    for (int k = 0; k < n.num_outputs(); ++k) set_output_shape(op, batched(n.output_shape_at(k), batch_size));
    for (const auto& [key, values] : n.ints) {
      tensorboard::AttrValue& attr = (*op->mutable_attr())[key];
      if (values.size() == 1) {
        attr.set_i(values[0]);
      } else {
        auto* list = attr.mutable_list();
        for (int64_t v : values) list->add_i(v);
      }
    }
    for (const auto& [key, value] : n.floats) (*op->mutable_attr())[key].set_f(static_cast<float>(value));
    renamed[n.name] = op_name;
  }
  return deterministic_bytes(def);
}

std::vector<GraphDefNode> parse_graphdef(const std::string& bytes) {
  tensorboard::GraphDef def;
  if (!def.ParseFromString(bytes))
    throw_corruption("cannot parse GraphDef (" + std::to_string(bytes.size()) + " bytes)", "Event.graph_def",
                     "re-create the event file");
  std::vector<GraphDefNode> out;
  out.reserve(def.node_size());
  for (const tensorboard::NodeDef& node : def.node()) {
    GraphDefNode n;
    n.name = node.name();
    n.op = node.op();
    n.inputs.assign(node.input().begin(), node.input().end());
    for (const auto& [key, attr] : node.attr()) {
      if (key == "_output_shapes") {
        for (const tensorboard::TensorShapeProto& s : attr.list().shape()) {
          Shape shape;
          for (const auto& d : s.dim()) shape.push_back(d.size());
          n.output_shapes.push_back(shape);
        }
        continue;
      }
      switch (attr.value_case()) {
        case tensorboard::AttrValue::kI:
          n.ints[key] = {attr.i()};
          break;
        case tensorboard::AttrValue::kB:
          n.ints[key] = {attr.b() ? 1 : 0};
          break;
        case tensorboard::AttrValue::kF:
          n.floats[key] = attr.f();
          break;
        case tensorboard::AttrValue::kS:
          n.strings[key] = attr.s();
          break;
        case tensorboard::AttrValue::kList:
          n.ints[key].assign(attr.list().i().begin(), attr.list().i().end());
          break;
        default:
          break;
      }
    }
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace strata::summary
