#include "strata/versioning/onnx_export.h"

#include <cmath>
#include <filesystem>
#include <set>

#include "proto/onnx.pb.h"
#include "strata/framework/core/error.h"
#include "strata/framework/core/version.h"
#include "strata/versioning/atomic_file.h"

namespace strata::versioning {
namespace {

using strata_onnx::AttributeProto;
using strata_onnx::NodeProto;
using strata_onnx::TensorProto;

int onnx_dtype(DType d) {
  switch (d) {
    case DType::kF32: return TensorProto::FLOAT;
    case DType::kU8: return TensorProto::UINT8;
    case DType::kI32: return TensorProto::INT32;
    case DType::kI64: return TensorProto::INT64;
  }
  return TensorProto::UNDEFINED;
}

void set_int(NodeProto* node, const char* name, int64_t v) {
  AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(AttributeProto::INT);
  a->set_i(v);
}

void set_float(NodeProto* node, const char* name, double v) {
  AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(AttributeProto::FLOAT);
  a->set_f(static_cast<float>(v));
}

void set_ints(NodeProto* node, const char* name, const std::vector<int64_t>& v) {
  AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void add_tensor(strata_onnx::GraphProto* graph, const std::string& name, const Tensor& t) {
  TensorProto* p = graph->add_initializer();
  p->set_name(name);
  p->set_data_type(onnx_dtype(t.dtype()));
  for (int64_t d : t.shape()) p->add_dims(d);
  p->set_raw_data(static_cast<const char*>(t.raw()), t.nbytes());  // little-endian, as ONNX wants
}

void set_value_info(strata_onnx::ValueInfoProto* v, const std::string& name, const Shape& per_sample, int64_t batch) {
  v->set_name(name);
  auto* tensor = v->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(TensorProto::FLOAT);
  auto* shape = tensor->mutable_shape();
  if (batch > 0) shape->add_dim()->set_dim_value(batch);
  else shape->add_dim()->set_dim_param("N");
  for (int64_t d : per_sample) shape->add_dim()->set_dim_value(d);
}

// Builds the ONNX graph node by node. Values are named after Strata's nodes (SSA: each once).
class Converter {
 public:
  Converter(const GraphSpec& graph, const NamedTensors& params, strata_onnx::GraphProto* out)
      : graph_(graph), out_(out) {
    for (const auto& [name, t] : params) params_[name] = &t;
    value_[graph.input_name] = graph.input_name;
  }

  void convert(const NodeSpec& n) {
    std::vector<std::string> in;
    for (const std::string& i : n.inputs) in.push_back(value_.at(i));
    const std::string& op = n.op;
    if (op == "Dropout") {  // inference: the identity
      value_[n.name] = in[0];
      return;
    }
    value_[n.name] = n.name;
    if (op == "Linear") {
      NodeProto* g = node("Gemm", n.name, {in[0], param(n, "weight")});
      if (n.int_attr("bias", 1)) g->add_input(param(n, "bias"));
      set_int(g, "transB", 1);
    } else if (op == "Conv2d") {
      NodeProto* c = node("Conv", n.name, {in[0], param(n, "weight")});
      if (n.int_attr("bias", 1)) c->add_input(param(n, "bias"));
      const auto pad = n.ints_attr("padding", {0, 0});
      set_ints(c, "kernel_shape", n.ints_attr("kernel", {}));
      set_ints(c, "strides", n.ints_attr("stride", {1, 1}));
      set_ints(c, "pads", {pad[0], pad[1], pad[0], pad[1]});
      set_ints(c, "dilations", n.ints_attr("dilation", {1, 1}));
    } else if (op == "MaxPool2d" || op == "AvgPool2d") {
      NodeProto* p = node(op == "MaxPool2d" ? "MaxPool" : "AveragePool", n.name, {in[0]});
      const auto pad = n.ints_attr("padding", {0, 0});
      set_ints(p, "kernel_shape", n.ints_attr("kernel", {}));
      set_ints(p, "strides", n.ints_attr("stride", n.ints_attr("kernel", {})));
      set_ints(p, "pads", {pad[0], pad[1], pad[0], pad[1]});
      if (op == "AvgPool2d") set_int(p, "count_include_pad", 1);
    } else if (op == "GlobalAvgPool") {  // Strata's output is [N, C]: pool, then flatten
      node("GlobalAveragePool", n.name + "/pooled", {in[0]});
      set_int(node("Flatten", n.name, {n.name + "/pooled"}), "axis", 1);
    } else if (op == "BatchNorm") {
      NodeProto* b = node("BatchNormalization", n.name,
                          {in[0], param(n, "weight"), param(n, "bias"), param(n, "running_mean"), param(n, "running_var")});
      set_float(b, "epsilon", n.float_attr("eps", 1e-5));
    } else if (op == "ReLU" || op == "Sigmoid" || op == "Tanh") {
      node(op == "ReLU" ? "Relu" : op, n.name, {in[0]});
    } else if (op == "LeakyReLU") {
      set_float(node("LeakyRelu", n.name, {in[0]}), "alpha", n.float_attr("slope", 0.01));
    } else if (op == "GELU") {  // erf form, as oneDNN's eltwise_gelu_erf computes it
      const std::string s = n.name + "/";
      node("Div", s + "scaled", {in[0], constant(s + "sqrt2", std::sqrt(2.0f))});
      node("Erf", s + "erf", {s + "scaled"});
      node("Add", s + "one_plus", {s + "erf", constant(s + "one", 1.0f)});
      node("Mul", s + "x_times", {in[0], s + "one_plus"});
      node("Mul", n.name, {s + "x_times", constant(s + "half", 0.5f)});
    } else if (op == "Flatten") {
      set_int(node("Flatten", n.name, {in[0]}), "axis", 1);
    } else if (op == "Add") {
      node("Add", n.name, in);
    } else if (op == "Concat") {
      set_int(node("Concat", n.name, in), "axis", 1);
    } else if (op == "Softmax") {
      set_int(node("Softmax", n.name, {in[0]}), "axis", -1);
    } else {
      throw Error(ErrorCode::kInvalidArgument, "op " + op + " has no ONNX equivalent in this exporter",
                  "node " + n.name, "export another version, or use --params/--safetensors for the weights");
    }
  }

  const std::string& value(const std::string& node_name) const { return value_.at(node_name); }
  size_t nodes() const { return static_cast<size_t>(out_->node_size()); }

 private:
  NodeProto* node(const std::string& op_type, const std::string& output, const std::vector<std::string>& inputs) {
    NodeProto* p = out_->add_node();
    p->set_op_type(op_type);
    p->set_name(output);
    p->add_output(output);
    for (const std::string& i : inputs) p->add_input(i);
    return p;
  }
  // The initializer of parameter <node>/<leaf>, added at its first use.
  std::string param(const NodeSpec& n, const std::string& leaf) {
    const std::string name = n.name + "/" + leaf;
    auto it = params_.find(name);
    if (it == params_.end())
      throw Error(ErrorCode::kInvalidArgument, "parameter " + name + " is missing", "node " + n.name,
                  "pass every parameter of the graph");
    if (added_.insert(name).second) add_tensor(out_, name, *it->second);
    return name;
  }
  std::string constant(const std::string& name, float v) {
    add_tensor(out_, name, Tensor::from_vector({}, {v}));
    return name;
  }

  const GraphSpec& graph_;
  strata_onnx::GraphProto* out_;
  std::map<std::string, const Tensor*> params_;
  std::map<std::string, std::string> value_;  // Strata node -> ONNX value (Dropout forwards its input)
  std::set<std::string> added_;
};

}  // namespace

namespace {

strata_onnx::ModelProto build_model(const GraphSpec& graph, const NamedTensors& params,
                                    const std::map<std::string, std::string>& metadata, const OnnxOptions& options) {
  if (options.opset() < 13 || options.opset() > 17)
    throw_invalid("ONNX opset " + std::to_string(options.opset()) + " is not supported", "", "use an opset from 13 to 17");
  if (options.batch() < 0) throw_invalid("the ONNX batch size must be > 0, or 0 for a dynamic one");
  strata_onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("strata");
  model.set_producer_version(version());
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(options.opset());
  for (const auto& [k, v] : metadata) {
    auto* entry = model.add_metadata_props();
    entry->set_key(k);
    entry->set_value(v);
  }
  strata_onnx::GraphProto* g = model.mutable_graph();
  g->set_name("strata");
  set_value_info(g->add_input(), graph.input_name, graph.input_shape, options.batch());
  Converter converter(graph, params, g);
  for (const NodeSpec& n : graph.nodes) converter.convert(n);
  const NodeSpec* out = graph.find(graph.output);
  if (!out) throw_invalid("the graph's output node '" + graph.output + "' is missing");
  const std::string& out_value = converter.value(graph.output);
  if (out_value != graph.output) {  // a graph ending in Dropout: give the output its own name
    NodeProto* id = g->add_node();
    id->set_op_type("Identity");
    id->set_name(graph.output);
    id->add_input(out_value);
    id->add_output(graph.output);
  }
  set_value_info(g->add_output(), graph.output, out->output_shape, options.batch());
  return model;
}

std::string serialized(const strata_onnx::ModelProto& model) {
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw Error(ErrorCode::kInternal, "cannot serialize the ONNX model");
  return bytes;
}

}  // namespace

std::string graph_to_onnx(const GraphSpec& graph, const NamedTensors& params,
                          const std::map<std::string, std::string>& metadata, const OnnxOptions& options) {
  return serialized(build_model(graph, params, metadata, options));
}

OnnxReport export_onnx(const VersionLog& log, const CommitId& version, const std::string& path,
                       const OnnxOptions& options) {
  const CommitRecord record = log.read_record(version);
  const GraphSpec graph = log.read_graph(record.graph_id);
  const NamedTensors params = log.read_params(version);
  const strata_onnx::ModelProto model = build_model(graph, params,
                                                    {{"strata_version_id", to_hex(version)},
                                                     {"strata_version", log.describe(version)},
                                                     {"strata", strata::version()}},
                                                    options);
  const std::string bytes = serialized(model);
  write_atomically(path, "ONNX model", [&](std::FILE* f) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size())
      throw Error(ErrorCode::kInvalidArgument, "cannot write the ONNX model", path, "check free space");
  });
  OnnxReport r;
  r.nodes = static_cast<size_t>(model.graph().node_size());
  r.initializers = static_cast<size_t>(model.graph().initializer_size());
  r.file_bytes = bytes.size();
  return r;
}

}  // namespace strata::versioning
