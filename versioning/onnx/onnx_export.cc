#include "strata/versioning/onnx/onnx_export.h"

#include <cmath>
#include <filesystem>
#include <set>

#include "proto/onnx.pb.h"
#include "strata/framework/core/error.h"
#include "strata/framework/core/version.h"
#include "strata/framework/graph/op_schema.h"
#include "strata/framework/graph/quantization.h"
#include "strata/versioning/internal/atomic_file.h"

namespace strata::versioning {
namespace {

using strata_onnx::AttributeProto;
using strata_onnx::NodeProto;
using strata_onnx::TensorProto;

int onnx_dtype(DType d) {
  switch (d) {
    case DType::kF32:
      return TensorProto::FLOAT;
    case DType::kU8:
      return TensorProto::UINT8;
    case DType::kI32:
      return TensorProto::INT32;
    case DType::kI64:
      return TensorProto::INT64;
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

void set_value_info(strata_onnx::ValueInfoProto* v, const std::string& name, const Shape& per_sample, int64_t batch,
                    DType dtype = DType::kF32) {
  v->set_name(name);
  auto* tensor = v->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx_dtype(dtype));
  auto* shape = tensor->mutable_shape();
  if (batch > 0)
    shape->add_dim()->set_dim_value(batch);
  else
    shape->add_dim()->set_dim_param("N");
  for (int64_t d : per_sample) shape->add_dim()->set_dim_value(d);
}

// Builds the ONNX graph node by node. Values are named after Strata's nodes (SSA: each once).
class Converter {
 public:
  Converter(const GraphSpec& graph, const NamedTensors& params, strata_onnx::GraphProto* out, int opset)
      : graph_(graph), out_(out), opset_(opset) {
    for (const auto& [name, t] : params) params_[name] = &t;
    value_[graph.input_name] = graph.input_name;
  }

  void convert(const NodeSpec& n) {
    std::vector<std::string> in;
    for (const std::string& i : n.inputs) in.push_back(value(i));
    const std::string& op = n.op;
    if (convert_sequence_op(n, in)) return;
    if (op == "Dropout") {  // inference: the identity
      value_[n.name] = in[0];
      return;
    }
    value_[n.name] = n.name;
    if (auto q = int8::node_quantization(n)) in[0] = quantized_input(n, in[0], *q);
    if (op == "Linear") {
      NodeProto* g = node("Gemm", n.name, {in[0], weight(n)});
      if (n.int_attr("bias", 1)) g->add_input(param(n, "bias"));
      set_int(g, "transB", 1);
    } else if (op == "Conv2d") {
      NodeProto* c = node("Conv", n.name, {in[0], weight(n)});
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
      set_int(node("Concat", n.name, in), "axis", 1 + resolve_axis(n, n.int_attr("axis", 0), n.output_shape.size()));
    } else if (op == "Softmax") {
      convert_softmax(n, in);
    } else {
      throw Error(ErrorCode::kInvalidArgument, "op " + op + " has no ONNX equivalent in this exporter", "node " + n.name,
                  "export another version, or use --params/--safetensors for the weights");
    }
  }

  // The ONNX value of an edge: "node", "node:0" (the same) or "node:k".
  const std::string& value(const std::string& edge) const {
    if (edge == graph_.input_name) return value_.at(edge);
    ValueRef ref = parse_value_ref(edge);
    return value_.at(ref.output == 0 ? ref.node : ref.node + ":" + std::to_string(ref.output));
  }
  size_t nodes() const { return static_cast<size_t>(out_->node_size()); }

 private:
  // The ops of sequence models (graph format 2); false for any other op.
  bool convert_sequence_op(const NodeSpec& n, const std::vector<std::string>& in) {
    const std::string& op = n.op;
    const int64_t rank = static_cast<int64_t>(n.output_shape.size()) + 1;  // with the batch axis
    if (op == "Linear" && n.output_shape.size() > 1) {                     // over the last axis of [N, ..., in]: MatMul
      const std::string s = n.name + "/";
      set_ints(node("Transpose", s + "weight_t", {weight(n)}), "perm", {1, 0});
      if (!n.int_attr("bias", 1)) {
        node("MatMul", n.name, {in[0], s + "weight_t"});
      } else {
        node("MatMul", s + "product", {in[0], s + "weight_t"});
        node("Add", n.name, {s + "product", param(n, "bias")});
      }
    } else if (op == "Embedding") {
      // The padding id gives zeros: its row is exported as zeros.
      const int64_t pad = n.int_attr("padding_idx", -1);
      const std::string weight = pad >= 0 ? zeroed_row(n.name + "/weight", tensor(n, "weight"), pad) : param(n, "weight");
      set_int(node("Gather", n.name, {weight, in[0]}), "axis", 0);
    } else if (op == "PositionalEmbedding") {
      node("Add", n.name, {in[0], param(n, "weight")});
    } else if (op == "PaddingMask") {
      const std::string s = n.name + "/";
      node("Equal", s + "is_pad", {in[0], integer_constant(s + "pad", n.int_attr("padding_idx", 0), graph_.input_dtype)});
      node("Not", s + "keep", {s + "is_pad"});
      set_int(node("Cast", n.name, {s + "keep"}), "to", TensorProto::FLOAT);
    } else if (op == "LayerNorm") {
      const double eps = n.float_attr("eps", 1e-5);
      if (opset_ >= 17) {
        NodeProto* ln = node("LayerNormalization", n.name, {in[0], param(n, "weight"), param(n, "bias")});
        set_int(ln, "axis", -1);
        set_float(ln, "epsilon", eps);
      } else {  // (x - mean) / sqrt(var + eps) * w + b over the last axis
        const std::string s = n.name + "/";
        set_ints(node("ReduceMean", s + "mean", {in[0]}), "axes", {-1});
        node("Sub", s + "centred", {in[0], s + "mean"});
        node("Mul", s + "squared", {s + "centred", s + "centred"});
        set_ints(node("ReduceMean", s + "var", {s + "squared"}), "axes", {-1});
        node("Add", s + "var_eps", {s + "var", constant(s + "eps", static_cast<float>(eps))});
        node("Sqrt", s + "std", {s + "var_eps"});
        node("Div", s + "normalised", {s + "centred", s + "std"});
        node("Mul", s + "scaled", {s + "normalised", param(n, "weight")});
        node("Add", n.name, {s + "scaled", param(n, "bias")});
      }
    } else if (op == "Reshape") {
      Shape shape = {0};  // 0: the batch axis as it is
      shape.insert(shape.end(), n.output_shape.begin(), n.output_shape.end());
      node("Reshape", n.name, {in[0], ints_constant(n.name + "/shape", shape)});
    } else if (op == "Transpose") {
      std::vector<int64_t> perm = {0};
      for (int64_t p : n.ints_attr("perm", {})) perm.push_back(p + 1);
      set_ints(node("Transpose", n.name, {in[0]}), "perm", perm);
    } else if (op == "Slice") {
      const NodeSpec& src = *graph_.find(parse_value_ref(n.inputs[0]).node);
      const Shape& in_shape = src.output_shape_at(parse_value_ref(n.inputs[0]).output);
      const int64_t axis = resolve_axis(n, n.int_attr("axis", 0), in_shape.size()), len = in_shape[axis];
      int64_t start = n.int_attr("start", 0), end = n.int_attr("end", len);
      if (start < 0) start += len;
      if (end < 0) end += len;
      const std::string s = n.name + "/";
      node(
          "Slice", n.name,
          {in[0], ints_constant(s + "starts", {start}), ints_constant(s + "ends", {end}), ints_constant(s + "axes", {axis + 1})});
    } else if (op == "MatMul") {
      const std::string s = n.name + "/";
      std::string b = in[1];
      if (n.int_attr("transpose_b", 0)) {
        std::vector<int64_t> perm(rank);
        for (int64_t i = 0; i < rank; ++i) perm[i] = i;
        std::swap(perm[rank - 1], perm[rank - 2]);
        set_ints(node("Transpose", s + "b_t", {b}), "perm", perm);
        b = s + "b_t";
      }
      const double alpha = n.float_attr("alpha", 1.0);
      if (alpha == 1.0) {
        node("MatMul", n.name, {in[0], b});
      } else {
        node("MatMul", s + "product", {in[0], b});
        node("Mul", n.name, {s + "product", constant(s + "alpha", static_cast<float>(alpha))});
      }
    } else if (op == "LSTM" || op == "GRU") {
      convert_recurrent(n, in[0]);
    } else if (op == "SequencePool") {
      convert_sequence_pool(n, in);
    } else {
      return false;
    }
    value_[n.name] = n.name;
    return true;
  }

  // Softmax along an axis; a keep-mask and a causal mask add -1e30 to the masked logits, and the
  // result is multiplied by the keep-mask so that a row with every key masked is zeros (as
  // Strata's kernel gives).
  void convert_softmax(const NodeSpec& n, const std::vector<std::string>& in) {
    const int64_t rank = static_cast<int64_t>(n.output_shape.size()) + 1;
    const int64_t axis = resolve_axis(n, n.int_attr("axis", -1), n.output_shape.size());
    const bool causal = n.int_attr("causal", 0) != 0;
    if (in.size() == 1 && !causal) {  // the last axis stays -1: old exports keep their bytes
      set_int(node("Softmax", n.name, {in[0]}), "axis", axis + 1 == rank - 1 ? -1 : axis + 1);
      return;
    }
    const std::string s = n.name + "/";
    std::string logits = in[0];
    if (causal) {
      const int64_t tq = n.output_shape[n.output_shape.size() - 2], tk = n.output_shape.back();
      Tensor mask({tq, tk});
      for (int64_t i = 0; i < tq; ++i)
        for (int64_t j = 0; j < tk; ++j) mask.f32()[i * tk + j] = j <= i + (tk - tq) ? 0.f : -1e30f;
      add_tensor(out_, s + "causal", mask);
      node("Add", s + "causal_logits", {logits, s + "causal"});
      logits = s + "causal_logits";
    }
    if (in.size() == 1) {
      set_int(node("Softmax", n.name, {logits}), "axis", -1);
      return;
    }
    std::vector<int64_t> axes;  // [N, Tk] -> [N, 1, ..., 1, Tk]
    for (int64_t i = 1; i < rank - 1; ++i) axes.push_back(i);
    node("Unsqueeze", s + "keep", {in[1], ints_constant(s + "keep_axes", axes)});
    node("Sub", s + "keep_minus_one", {s + "keep", constant(s + "one", 1.f)});
    node("Mul", s + "additive", {s + "keep_minus_one", constant(s + "big", 1e30f)});
    node("Add", s + "masked_logits", {logits, s + "additive"});
    set_int(node("Softmax", s + "weights", {s + "masked_logits"}), "axis", -1);
    node("Mul", n.name, {s + "weights", s + "keep"});
  }

  // SequencePool over [N, T, D]: mean, max or last over the steps the keep-mask keeps.
  void convert_sequence_pool(const NodeSpec& n, const std::vector<std::string>& in) {
    const std::string s = n.name + "/";
    const int64_t mode = n.int_attr("mode", 0);
    const NodeSpec& src = *graph_.find(parse_value_ref(n.inputs[0]).node);
    const int64_t steps = src.output_shape_at(parse_value_ref(n.inputs[0]).output)[0];
    std::string keep = s + "keep";  // [N, T, 1]
    if (in.size() == 2) node("Unsqueeze", keep, {in[1], ints_constant(s + "axis2", {2})});
    if (mode == 0) {
      if (in.size() == 1) {
        NodeProto* m = node("ReduceMean", n.name, {in[0]});
        set_ints(m, "axes", {1});
        set_int(m, "keepdims", 0);
        return;
      }
      node("Mul", s + "kept", {in[0], keep});
      set_int(node("ReduceSum", s + "sum", {s + "kept", ints_constant(s + "axis1", {1})}), "keepdims", 0);
      set_int(node("ReduceSum", s + "count", {keep, ints_constant(s + "axis1b", {1})}), "keepdims", 0);
      node("Max", s + "count_at_least_1", {s + "count", constant(s + "one", 1.f)});
      node("Div", n.name, {s + "sum", s + "count_at_least_1"});
    } else if (mode == 1) {
      std::string x = in[0];
      if (in.size() == 2) {
        node("Sub", s + "keep_minus_one", {keep, constant(s + "one", 1.f)});
        node("Mul", s + "additive", {s + "keep_minus_one", constant(s + "big", 1e30f)});
        node("Add", s + "masked", {x, s + "additive"});
        x = s + "masked";
      }
      NodeProto* m = node("ReduceMax", in.size() == 2 ? s + "max" : n.name, {x});
      set_ints(m, "axes", {1});
      set_int(m, "keepdims", 0);
      if (in.size() == 2) {  // no kept step: zeros
        set_int(node("ReduceMax", s + "any", {keep}), "keepdims", 0);
        node("Mul", n.name, {s + "max", s + "any"});
      }
    } else {
      if (in.size() == 1) {
        Tensor last({}, DType::kI64);
        last.data<int64_t>()[0] = steps - 1;
        add_tensor(out_, s + "index", last);
        set_int(node("Gather", n.name, {in[0], s + "index"}), "axis", 1);  // a scalar index drops the axis
        return;
      }
      // The last kept step: argmax over t of keep[t] * (t + 1); zeros when none is kept.
      Tensor positions({1, steps, 1});
      for (int64_t t = 0; t < steps; ++t) positions.f32()[t] = static_cast<float>(t + 1);
      add_tensor(out_, s + "positions", positions);
      node("Mul", s + "ranked", {keep, s + "positions"});
      NodeProto* a = node("ArgMax", s + "index", {s + "ranked"});
      set_int(a, "axis", 1);
      set_int(a, "keepdims", 1);  // [N, 1, 1]
      const int64_t d = n.output_shape[0];
      node("Expand", s + "index_d", {s + "index", ints_constant(s + "expand", {1, 1, d})});
      set_int(node("GatherElements", s + "picked", {in[0], s + "index_d"}), "axis", 1);
      node("Squeeze", s + "last", {s + "picked", ints_constant(s + "squeeze_axes", {1})});
      set_int(node("ReduceMax", s + "any", {keep}), "keepdims", 0);
      node("Mul", n.name, {s + "last", s + "any"});
    }
  }

  // LSTM/GRU as one ONNX LSTM/GRU node per layer (time-major, PyTorch's equations: GRU with
  // linear_before_reset), gates permuted into ONNX's order (LSTM i,o,f,c; GRU z,r,h).
  void convert_recurrent(const NodeSpec& n, const std::string& x) {
    const bool lstm = n.op == "LSTM";
    const int64_t h = n.int_attr("hidden_size", 0), layers = n.int_attr("num_layers", 1);
    const int64_t dirs = n.int_attr("bidirectional", 0) ? 2 : 1, gates = lstm ? 4 : 3;
    const std::vector<int64_t> order = lstm ? std::vector<int64_t>{0, 3, 1, 2} : std::vector<int64_t>{1, 0, 2};
    const std::string s = n.name + "/";
    set_ints(node("Transpose", s + "x_tnc", {x}), "perm", {1, 0, 2});
    std::string layer_in = s + "x_tnc";
    for (int64_t l = 0; l < layers; ++l) {
      const std::string p = s + "l" + std::to_string(l) + "/";
      const int64_t input = l == 0 ? n.params[0].shape[1] : dirs * h;
      Tensor w({dirs, gates * h, input}), r({dirs, gates * h, h}), b({dirs, 2 * gates * h});
      for (int64_t d = 0; d < dirs; ++d) {
        const std::string suffix = "_l" + std::to_string(l) + (d ? "_reverse" : "");
        const Tensor& wih = tensor(n, "weight_ih" + suffix);
        const Tensor& whh = tensor(n, "weight_hh" + suffix);
        const Tensor& bih = tensor(n, "bias_ih" + suffix);
        const Tensor& bhh = tensor(n, "bias_hh" + suffix);
        for (int64_t g = 0; g < gates; ++g) {
          const int64_t from = order[g];
          std::copy_n(wih.f32() + from * h * input, h * input, w.f32() + (d * gates + g) * h * input);
          std::copy_n(whh.f32() + from * h * h, h * h, r.f32() + (d * gates + g) * h * h);
          std::copy_n(bih.f32() + from * h, h, b.f32() + d * 2 * gates * h + g * h);
          std::copy_n(bhh.f32() + from * h, h, b.f32() + d * 2 * gates * h + (gates + g) * h);
        }
      }
      add_tensor(out_, p + "W", w);
      add_tensor(out_, p + "R", r);
      add_tensor(out_, p + "B", b);
      NodeProto* cell = out_->add_node();
      cell->set_op_type(lstm ? "LSTM" : "GRU");
      cell->set_name(p + "cell");
      for (const std::string& i : {layer_in, p + "W", p + "R", p + "B"}) cell->add_input(i);
      cell->add_output(p + "Y");
      cell->add_output(p + "Y_h");
      set_int(cell, "hidden_size", h);
      if (dirs == 2) {
        AttributeProto* a = cell->add_attribute();
        a->set_name("direction");
        a->set_type(AttributeProto::STRING);
        a->set_s("bidirectional");
      }
      if (!lstm) set_int(cell, "linear_before_reset", 1);
      // Y [T, D, N, H] -> [T, N, D*H], the next layer's input (and, batch first, the output).
      set_ints(node("Transpose", p + "Y_tndh", {p + "Y"}), "perm", {0, 2, 1, 3});
      node("Reshape", p + "Y_tnc", {p + "Y_tndh", ints_constant(p + "shape", {0, 0, dirs * h})});
      layer_in = p + "Y_tnc";
      if (l + 1 == layers) {
        set_ints(node("Transpose", n.name, {layer_in}), "perm", {1, 0, 2});
        set_ints(node("Transpose", p + "Y_h_ndh", {p + "Y_h"}), "perm", {1, 0, 2});
        node("Reshape", n.name + ":1", {p + "Y_h_ndh", ints_constant(p + "state_shape", {0, dirs * h})});
        value_[n.name + ":1"] = n.name + ":1";
      }
    }
  }

  const Tensor& tensor(const NodeSpec& n, const std::string& leaf) {
    auto it = params_.find(n.name + "/" + leaf);
    if (it == params_.end())
      throw Error(ErrorCode::kInvalidArgument, "parameter " + n.name + "/" + leaf + " is missing", "node " + n.name,
                  "pass every parameter of the graph");
    return *it->second;
  }
  std::string zeroed_row(const std::string& name, const Tensor& t, int64_t row) {
    Tensor copy = t.clone();
    const int64_t width = t.numel() / t.dim(0);
    std::fill_n(copy.f32() + row * width, width, 0.f);
    add_tensor(out_, name, copy);
    return name;
  }
  std::string ints_constant(const std::string& name, const std::vector<int64_t>& v) {
    Tensor t({static_cast<int64_t>(v.size())}, DType::kI64);
    std::copy(v.begin(), v.end(), t.data<int64_t>());
    add_tensor(out_, name, t);
    return name;
  }
  std::string integer_constant(const std::string& name, int64_t v, DType dtype) {
    Tensor t({}, dtype);
    if (dtype == DType::kI64)
      t.data<int64_t>()[0] = v;
    else
      t.data<int32_t>()[0] = static_cast<int32_t>(v);
    add_tensor(out_, name, t);
    return name;
  }

  NodeProto* node(const std::string& op_type, const std::string& output, const std::vector<std::string>& inputs) {
    NodeProto* p = out_->add_node();
    p->set_op_type(op_type);
    p->set_name(output);
    p->add_output(output);
    for (const std::string& i : inputs) p->add_input(i);
    return p;
  }
  // An int8 node (framework/graph/quantization.h) in QDQ form: its input through QuantizeLinear
  // and DequantizeLinear (u8, zero point 0, scale s_x), its weights as an int8 initializer
  // through DequantizeLinear per output channel (axis 0, zero points 0, scales s_w). ONNX
  // Runtime fuses these into its own int8 kernels or computes them in float: either way the
  // model computes what Strata's int8 kernels do, up to float rounding (which can move a value
  // across a half step, so one input one quantization step away).
  std::string quantized_input(const NodeSpec& n, const std::string& input, const int8::NodeQuantization& q) {
    const std::string s = n.name + "/", scale = constant(s + "input_scale", q.input_scale);
    const std::string zero = s + "input_zero_point";
    add_tensor(out_, zero, Tensor({}, DType::kU8));
    node("QuantizeLinear", s + "input_q", {input, scale, zero});
    node("DequantizeLinear", s + "input_dq", {s + "input_q", scale, zero});
    return s + "input_dq";
  }
  // The node's weight: the parameter, or for an int8 node its DequantizeLinear.
  std::string weight(const NodeSpec& n) {
    if (!int8::node_quantization(n)) return param(n, "weight");
    const Tensor& w = tensor(n, "weight");
    const std::vector<float> scales = int8::weight_scales(w);
    const int64_t out = w.dim(0), per = w.numel() / out;
    std::string q(static_cast<size_t>(w.numel()), '\0'), zeros(static_cast<size_t>(out), '\0');
    for (int64_t k = 0; k < w.numel(); ++k)
      q[static_cast<size_t>(k)] =
          static_cast<char>(static_cast<int8_t>(std::nearbyint(w.f32()[k] / scales[static_cast<size_t>(k / per)])));
    const std::string s = n.name + "/weight";
    add_int8_tensor(s + "_q", w.shape(), q);
    add_int8_tensor(s + "_zero_point", {out}, zeros);
    add_tensor(out_, s + "_scale", Tensor::from_vector({out}, scales));
    set_int(node("DequantizeLinear", s + "_dq", {s + "_q", s + "_scale", s + "_zero_point"}), "axis", 0);
    return s + "_dq";
  }
  void add_int8_tensor(const std::string& name, const Shape& shape, const std::string& bytes) {
    TensorProto* p = out_->add_initializer();
    p->set_name(name);
    p->set_data_type(TensorProto::INT8);
    for (int64_t d : shape) p->add_dims(d);
    p->set_raw_data(bytes);
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
  int opset_;
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
  set_value_info(g->add_input(), graph.input_name, graph.input_shape, options.batch(), graph.input_dtype);
  Converter converter(graph, params, g, options.opset());
  for (const NodeSpec& n : graph.nodes) converter.convert(n);
  const ValueRef out_ref = parse_value_ref(graph.output);
  const NodeSpec* out = graph.find(out_ref.node);
  if (!out) throw_invalid("the graph's output node '" + graph.output + "' is missing");
  const std::string& out_value = converter.value(graph.output);
  if (out_value != graph.output) {  // a graph ending in Dropout (or "node:0"): give the output its own name
    NodeProto* id = g->add_node();
    id->set_op_type("Identity");
    id->set_name(graph.output);
    id->add_input(out_value);
    id->add_output(graph.output);
  }
  set_value_info(g->add_output(), graph.output, out->output_shape_at(out_ref.output), options.batch());
  return model;
}

std::string serialized(const strata_onnx::ModelProto& model) {
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw Error(ErrorCode::kInternal, "cannot serialize the ONNX model");
  return bytes;
}

}  // namespace

std::string graph_to_onnx(const GraphSpec& graph, const NamedTensors& params, const std::map<std::string, std::string>& metadata,
                          const OnnxOptions& options) {
  return serialized(build_model(graph, params, metadata, options));
}

OnnxReport export_onnx(const VersionLog& log, const CommitId& version, const std::string& path, const OnnxOptions& options) {
  const CommitRecord record = log.read_record(version);
  const GraphSpec graph = log.read_graph(record.graph_id);
  const NamedTensors params = log.read_params(version);
  const strata_onnx::ModelProto model = build_model(
      graph, params,
      {{"strata_version_id", to_hex(version)}, {"strata_version", log.describe(version)}, {"strata", strata::version()}},
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
