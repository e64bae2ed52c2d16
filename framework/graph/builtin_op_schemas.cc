// The schemas of the built-in ops (docs/formats.md "Graphs" lists them with their attributes). Shapes
// are per sample. Kernels live in framework/ops and register against these names.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "strata/framework/core/error.h"
#include "strata/framework/graph/op_schema.h"

namespace strata {
namespace {

using Kind = AttrSpec::Kind;

AttrSpec ints(std::string name, std::vector<int64_t> fallback, std::string doc = "") {
  return {std::move(name), Kind::kInts, std::move(fallback), 0, false, std::move(doc)};
}
AttrSpec required_ints(std::string name, std::string doc = "") {
  return {std::move(name), Kind::kInts, {}, 0, true, std::move(doc)};
}
AttrSpec real(std::string name, double fallback, std::string doc = "") {
  return {std::move(name), Kind::kFloat, {}, fallback, false, std::move(doc)};
}

[[noreturn]] void node_error(const NodeSpec& n, const std::string& what) { throw_invalid(n.op + "(" + n.name + "): " + what); }

OpSchema named(std::string name) {
  OpSchema s;
  s.name = std::move(name);
  return s;
}

ValueTypes f32(Shape s) { return {ValueType{DType::kF32, std::move(s)}}; }
ValueTypes same_as_input(const NodeSpec&, const ValueTypes& in) { return f32(in[0].shape); }

int64_t positive_attr(const NodeSpec& n, const std::string& key) {
  int64_t v = n.int_attr(key, 0);
  if (v <= 0) node_error(n, key + " must be > 0, got " + std::to_string(v));
  return v;
}

// ---- the original ops (format 1) ----

OpSchema linear() {
  OpSchema s = named("Linear");
  s.attrs = {required_ints("out_features"), ints("bias", {1})};
  s.doc = "y = x W^T + b over the last axis: [..., in] -> [..., out]";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    if (in[0].shape.empty()) shape_error(n, "[N,...,features]", in[0].shape);
    Shape out = in[0].shape;
    out.back() = positive_attr(n, "out_features");
    return f32(out);
  };
  s.params = [](const NodeSpec& n, const ValueTypes& in) {
    int64_t out = n.int_attr("out_features", 0), fan_in = in[0].shape.back();
    std::vector<ParamSpec> p = {make_param(n, "weight", {out, fan_in}, "kaiming_uniform", true, fan_in, out)};
    if (n.int_attr("bias", 1)) p.push_back(make_param(n, "bias", {out}, "bias_uniform", true, fan_in, out));
    return p;
  };
  s.overridable_weight = "weight";
  s.fuses_relu = true;
  return s;
}

struct Geometry2d {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
};
Geometry2d geometry(const NodeSpec& n, bool stride_defaults_to_kernel) {
  auto pair = [&](const char* key, int64_t fallback) {
    std::vector<int64_t> v = n.ints_attr(key, {fallback});
    return v.size() == 1 ? std::make_pair(v[0], v[0]) : std::make_pair(v.at(0), v.at(1));
  };
  auto k = pair("kernel", 0);
  auto s = pair("stride", stride_defaults_to_kernel ? k.first : 1);
  if (stride_defaults_to_kernel && !n.ints.count("stride")) s = k;
  auto p = pair("padding", 0);
  auto d = pair("dilation", 1);
  return {k.first, k.second, s.first, s.second, p.first, p.second, d.first, d.second};
}

OpSchema conv2d() {
  OpSchema s = named("Conv2d");
  s.attrs = {required_ints("out_channels"), required_ints("kernel", "[kh, kw] or one value"),
             ints("stride", {1}),           ints("padding", {0}),
             ints("dilation", {1}),         ints("bias", {1})};
  s.doc = "2-d convolution, OIHW weights: [C,H,W] -> [out,H',W']";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    const Shape& x = in[0].shape;
    if (x.size() != 3) shape_error(n, "[N,C,H,W]", x);
    Geometry2d g = geometry(n, false);
    int64_t out = n.int_attr("out_channels", 0);
    if (out <= 0 || g.kh <= 0 || g.kw <= 0 || g.sh <= 0 || g.sw <= 0 || g.ph < 0 || g.pw < 0 || g.dh <= 0 || g.dw <= 0)
      node_error(n, "out_channels, kernel, stride and dilation must be > 0, padding >= 0");
    int64_t h = (x[1] + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
    int64_t w = (x[2] + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
    if (h <= 0 || w <= 0)
      shape_error(n, "spatial size large enough for kernel " + std::to_string(g.kh) + "x" + std::to_string(g.kw), x);
    return f32({out, h, w});
  };
  s.params = [](const NodeSpec& n, const ValueTypes& in) {
    Geometry2d g = geometry(n, false);
    int64_t out = n.int_attr("out_channels", 0), c = in[0].shape[0];
    int64_t fan_in = c * g.kh * g.kw, fan_out = out * g.kh * g.kw;
    std::vector<ParamSpec> p = {make_param(n, "weight", {out, c, g.kh, g.kw}, "kaiming_uniform", true, fan_in, fan_out)};
    if (n.int_attr("bias", 1)) p.push_back(make_param(n, "bias", {out}, "bias_uniform", true, fan_in, fan_out));
    return p;
  };
  s.overridable_weight = "weight";
  s.fuses_relu = true;
  return s;
}

OpSchema pool2d(const std::string& name) {
  OpSchema s = named(name);
  s.attrs = {required_ints("kernel"), ints("stride", {}, "default: the kernel"), ints("padding", {0})};
  s.doc = name == "MaxPool2d" ? "2-d max pooling" : "2-d average pooling (padding counted)";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    const Shape& x = in[0].shape;
    if (x.size() != 3) shape_error(n, "[N,C,H,W]", x);
    Geometry2d g = geometry(n, true);
    if (g.kh <= 0 || g.kw <= 0 || g.sh <= 0 || g.sw <= 0 || g.ph < 0 || g.pw < 0)
      node_error(n, "kernel and stride must be > 0, padding >= 0");
    if (g.ph * 2 > g.kh || g.pw * 2 > g.kw) node_error(n, "padding must be at most half the kernel");
    int64_t h = (x[1] + 2 * g.ph - g.kh) / g.sh + 1, w = (x[2] + 2 * g.pw - g.kw) / g.sw + 1;
    if (h <= 0 || w <= 0) shape_error(n, "spatial size >= kernel", x);
    return f32({x[0], h, w});
  };
  return s;
}

OpSchema global_avg_pool() {
  OpSchema s = named("GlobalAvgPool");
  s.doc = "mean over H and W: [C,H,W] -> [C]";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    if (in[0].shape.size() != 3) shape_error(n, "[N,C,H,W]", in[0].shape);
    return f32({in[0].shape[0]});
  };
  return s;
}

OpSchema batch_norm() {
  OpSchema s = named("BatchNorm");
  s.attrs = {real("eps", 1e-5), real("momentum", 0.1)};
  s.doc = "batch normalisation over the batch (and H, W) per channel";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    if (in[0].shape.size() != 1 && in[0].shape.size() != 3) shape_error(n, "[N,C] or [N,C,H,W]", in[0].shape);
    return f32(in[0].shape);
  };
  s.params = [](const NodeSpec& n, const ValueTypes& in) {
    int64_t c = in[0].shape[0];
    return std::vector<ParamSpec>{make_param(n, "weight", {c}, "ones"), make_param(n, "bias", {c}, "zeros"),
                                  make_param(n, "running_mean", {c}, "zeros", false),
                                  make_param(n, "running_var", {c}, "ones", false)};
  };
  return s;
}

OpSchema eltwise(const std::string& name, const std::string& doc) {
  OpSchema s = named(name);
  if (name == "LeakyReLU") s.attrs = {real("slope", 0.0, "builders write 0.01")};
  s.is_relu = name == "ReLU";
  s.doc = doc;
  s.infer = same_as_input;
  return s;
}

OpSchema dropout() {
  OpSchema s = named("Dropout");
  s.attrs = {real("p", 0.5)};
  s.doc = "inverted dropout in training, the identity in evaluation";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    double p = n.float_attr("p", 0.5);
    if (!(p >= 0.0 && p < 1.0)) node_error(n, "p must be in [0, 1), got " + std::to_string(p));
    return f32(in[0].shape);
  };
  return s;
}

OpSchema flatten() {
  OpSchema s = named("Flatten");
  s.doc = "[d1,d2,...] -> [d1*d2*...]";
  s.infer = [](const NodeSpec&, const ValueTypes& in) { return f32({shape_numel(in[0].shape)}); };
  return s;
}

OpSchema add() {
  OpSchema s = named("Add");
  s.min_inputs = s.max_inputs = 2;
  s.doc = "a + b, same shapes";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    if (in[0].shape != in[1].shape)
      node_error(n, "input shapes differ: " + shape_str(in[0].shape) + " (" + n.inputs[0] + ") vs " + shape_str(in[1].shape) +
                        " (" + n.inputs[1] + ")");
    return f32(in[0].shape);
  };
  return s;
}

OpSchema concat() {
  OpSchema s = named("Concat");
  s.min_inputs = 2;
  s.max_inputs = -1;
  s.attrs = {ints("axis", {0}, "per-sample axis; 0 is the channel/feature axis")};
  s.doc = "concatenation along a per-sample axis";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    Shape out = in[0].shape;
    if (out.empty()) node_error(n, "inputs must have at least one per-sample axis");
    int64_t axis = resolve_axis(n, n.int_attr("axis", 0), out.size());
    for (size_t k = 1; k < in.size(); ++k) {
      Shape a = in[k].shape, b = in[0].shape;
      bool ok = a.size() == b.size();
      if (ok) {
        a[axis] = b[axis] = 0;
        ok = a == b;
      }
      if (!ok)
        node_error(n, "input " + n.inputs[k] + " has shape " + shape_str(in[k].shape) + ", incompatible with " +
                          shape_str(in[0].shape) + " outside axis " + std::to_string(axis));
      out[axis] += in[k].shape[axis];
    }
    return f32(out);
  };
  return s;
}

OpSchema softmax() {
  OpSchema s = named("Softmax");
  s.max_inputs = 2;
  s.attrs = {ints("axis", {-1}, "per-sample axis"),
             ints("causal", {0}, "1: mask position j > i of the last two axes [.., Tq, Tk]")};
  s.doc = "softmax along an axis; optional second input: a keep-mask [Tk] (1 keep, 0 masked) over the last axis";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    const Shape& x = in[0].shape;
    if (x.empty()) shape_error(n, "[N,...,features]", x);
    int64_t axis = resolve_axis(n, n.int_attr("axis", -1), x.size());
    bool masked = in.size() == 2 || n.int_attr("causal", 0) != 0;
    if (masked && axis != static_cast<int64_t>(x.size()) - 1) node_error(n, "masking needs the softmax over the last axis");
    if (n.int_attr("causal", 0) && (x.size() < 2 || x[x.size() - 2] > x.back()))
      shape_error(n, "[N,...,Tq,Tk] with Tq <= Tk for a causal mask", x);
    if (in.size() == 2 && in[1].shape != Shape{x.back()})
      node_error(
          n, "mask " + n.inputs[1] + " must be [N," + std::to_string(x.back()) + "], got [N," + shape_str(in[1].shape).substr(1));
    return f32(x);
  };
  return s;
}

// ---- sequence and text ops (format 2 where they take token ids or give several outputs) ----

OpSchema embedding() {
  OpSchema s = named("Embedding");
  s.attrs = {required_ints("num_embeddings"), required_ints("embedding_dim"),
             ints("padding_idx", {-1}, "ids equal to it map to zeros and get no gradient; -1: none")};
  s.integer_inputs = {0};
  s.doc = "token ids [...] -> vectors [..., dim]; backward scatter-adds";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    int64_t v = positive_attr(n, "num_embeddings"), d = positive_attr(n, "embedding_dim");
    int64_t pad = n.int_attr("padding_idx", -1);
    if (pad < -1 || pad >= v) node_error(n, "padding_idx must be -1 or in [0, num_embeddings)");
    Shape out = in[0].shape;
    out.push_back(d);
    return f32(out);
  };
  s.params = [](const NodeSpec& n, const ValueTypes&) {
    int64_t v = n.int_attr("num_embeddings", 0), d = n.int_attr("embedding_dim", 0);
    return std::vector<ParamSpec>{make_param(n, "weight", {v, d}, "normal:1", true, d, d)};
  };
  return s;
}

OpSchema positional_embedding() {
  OpSchema s = named("PositionalEmbedding");
  s.doc = "learned position vectors added: x[t] + P[t], x [T, D]";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    if (in[0].shape.size() != 2) shape_error(n, "[N,T,D]", in[0].shape);
    return f32(in[0].shape);
  };
  s.params = [](const NodeSpec& n, const ValueTypes& in) {
    return std::vector<ParamSpec>{make_param(n, "weight", in[0].shape, "normal:0.02")};
  };
  return s;
}

OpSchema padding_mask() {
  OpSchema s = named("PaddingMask");
  s.attrs = {ints("padding_idx", {0})};
  s.integer_inputs = {0};
  s.doc = "token ids [T] -> f32 keep-mask [T]: 1 where id != padding_idx";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    if (in[0].shape.size() != 1) shape_error(n, "[N,T] token ids", in[0].shape);
    return f32(in[0].shape);
  };
  return s;
}

OpSchema layer_norm() {
  OpSchema s = named("LayerNorm");
  s.attrs = {real("eps", 1e-5)};
  s.doc = "normalisation over the last axis with a learned scale and shift";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    if (in[0].shape.empty()) shape_error(n, "[N,...,features]", in[0].shape);
    return f32(in[0].shape);
  };
  s.params = [](const NodeSpec& n, const ValueTypes& in) {
    int64_t d = in[0].shape.back();
    return std::vector<ParamSpec>{make_param(n, "weight", {d}, "ones"), make_param(n, "bias", {d}, "zeros")};
  };
  return s;
}

OpSchema reshape() {
  OpSchema s = named("Reshape");
  s.attrs = {required_ints("shape", "per sample; one -1 is inferred")};
  s.doc = "same elements, another per-sample shape";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    Shape out = n.ints_attr("shape", {});
    if (out.empty()) node_error(n, "shape must not be empty");
    int64_t known = 1, unknown = -1;
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i] == -1 && unknown < 0)
        unknown = static_cast<int64_t>(i);
      else if (out[i] <= 0)
        node_error(n, "shape " + shape_str(out) + " may hold one -1 and positive sizes");
      else
        known *= out[i];
    }
    int64_t total = shape_numel(in[0].shape);
    if (unknown >= 0) out[unknown] = total % known == 0 ? total / known : 0;
    if ((unknown >= 0 && out[unknown] == 0) || shape_numel(out) != total)
      node_error(n, "cannot reshape " + shape_str(in[0].shape) + " (" + std::to_string(total) + " elements) into " +
                        shape_str(n.ints_attr("shape", {})));
    return f32(out);
  };
  return s;
}

OpSchema transpose() {
  OpSchema s = named("Transpose");
  s.attrs = {required_ints("perm", "a permutation of the per-sample axes")};
  s.doc = "permutes the per-sample axes: out axis i is input axis perm[i]";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    std::vector<int64_t> perm = n.ints_attr("perm", {});
    const Shape& x = in[0].shape;
    std::vector<int64_t> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> iota(x.size());
    std::iota(iota.begin(), iota.end(), 0);
    if (sorted != iota) node_error(n, "perm must be a permutation of 0.." + std::to_string(x.size() - 1));
    if (x.size() > 5) shape_error(n, "at most 5 per-sample axes", x);
    Shape out(x.size());
    for (size_t i = 0; i < x.size(); ++i) out[i] = x[perm[i]];
    return f32(out);
  };
  return s;
}

OpSchema slice() {
  OpSchema s = named("Slice");
  s.attrs = {ints("axis", {0}), required_ints("start"),
             ints("end", {}, "default: the axis length; negative counts from the end")};
  s.doc = "x[..., start:end, ...] along one per-sample axis";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    Shape out = in[0].shape;
    if (out.empty()) shape_error(n, "[N,...]", out);
    int64_t axis = resolve_axis(n, n.int_attr("axis", 0), out.size()), len = out[axis];
    int64_t start = n.int_attr("start", 0), end = n.int_attr("end", len);
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (start < 0 || end > len || start >= end)
      node_error(n, "slice [" + std::to_string(n.int_attr("start", 0)) + ", " + std::to_string(n.int_attr("end", len)) +
                        ") is empty or outside axis " + std::to_string(axis) + " of length " + std::to_string(len));
    out[axis] = end - start;
    return f32(out);
  };
  return s;
}

OpSchema matmul() {
  OpSchema s = named("MatMul");
  s.min_inputs = s.max_inputs = 2;
  s.attrs = {ints("transpose_b", {0}), real("alpha", 1.0, "scales the product")};
  s.doc = "batched alpha A B (or A B^T): [...,M,K] x [...,K,N] -> [...,M,N], same leading axes";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    const Shape &a = in[0].shape, &b = in[1].shape;
    if (a.size() < 2 || b.size() != a.size() || a.size() > 4)
      node_error(n, "inputs must have the same rank, 2 to 4 per sample; got " + shape_str(a) + " and " + shape_str(b));
    bool tb = n.int_attr("transpose_b", 0) != 0;
    size_t r = a.size();
    int64_t k_b = tb ? b[r - 1] : b[r - 2], n_b = tb ? b[r - 2] : b[r - 1];
    if (!std::equal(a.begin(), a.end() - 2, b.begin()) || a[r - 1] != k_b)
      node_error(n, "shapes " + shape_str(a) + " and " + shape_str(b) + (tb ? " (B transposed)" : "") + " do not multiply");
    Shape out = a;
    out[r - 1] = n_b;
    return f32(out);
  };
  return s;
}

OpSchema recurrent(const std::string& name, int gates) {
  OpSchema s = named(name);
  s.num_outputs = 2;
  s.attrs = {required_ints("hidden_size"), ints("num_layers", {1}), ints("bidirectional", {0})};
  s.doc = name +
          " over [T, features] (batch first); output 0: the last layer's outputs [T, D*H]; output 1: its final "
          "hidden state [D*H] (D = 2 when bidirectional: forward then reverse)";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    if (in[0].shape.size() != 2) shape_error(n, "[N,T,features]", in[0].shape);
    int64_t h = positive_attr(n, "hidden_size");
    positive_attr(n, "num_layers");
    int64_t dirs = n.int_attr("bidirectional", 0) ? 2 : 1;
    return ValueTypes{{DType::kF32, {in[0].shape[0], dirs * h}}, {DType::kF32, {dirs * h}}};
  };
  s.params = [gates](const NodeSpec& n, const ValueTypes& in) {
    int64_t h = n.int_attr("hidden_size", 0), layers = n.int_attr("num_layers", 1);
    int64_t dirs = n.int_attr("bidirectional", 0) ? 2 : 1;
    std::vector<ParamSpec> p;
    for (int64_t l = 0; l < layers; ++l)
      for (int64_t d = 0; d < dirs; ++d) {
        // PyTorch's names, shapes, gate order and U(+-1/sqrt(H)) initialisation.
        std::string suffix = "_l" + std::to_string(l) + (d ? "_reverse" : "");
        int64_t input = l == 0 ? in[0].shape[1] : dirs * h;
        p.push_back(make_param(n, "weight_ih" + suffix, {gates * h, input}, "bias_uniform", true, h, h));
        p.push_back(make_param(n, "weight_hh" + suffix, {gates * h, h}, "bias_uniform", true, h, h));
        p.push_back(make_param(n, "bias_ih" + suffix, {gates * h}, "bias_uniform", true, h, h));
        p.push_back(make_param(n, "bias_hh" + suffix, {gates * h}, "bias_uniform", true, h, h));
      }
    return p;
  };
  return s;
}

OpSchema sequence_pool() {
  OpSchema s = named("SequencePool");
  s.max_inputs = 2;
  s.attrs = {ints("mode", {0}, "0 mean, 1 max, 2 last")};
  s.doc = "pools [T, D] over time -> [D]; optional keep-mask [T] (PaddingMask): only kept steps count";
  s.infer = [](const NodeSpec& n, const ValueTypes& in) {
    if (in[0].shape.size() != 2) shape_error(n, "[N,T,D]", in[0].shape);
    int64_t mode = n.int_attr("mode", 0);
    if (mode < 0 || mode > 2) node_error(n, "mode must be 0 (mean), 1 (max) or 2 (last)");
    if (in.size() == 2 && in[1].shape != Shape{in[0].shape[0]})
      node_error(n, "mask " + n.inputs[1] + " must be [N," + std::to_string(in[0].shape[0]) + "]");
    return f32({in[0].shape[1]});
  };
  return s;
}

}  // namespace

std::vector<OpSchema> builtin_op_schemas() {
  return {linear(),
          conv2d(),
          pool2d("MaxPool2d"),
          pool2d("AvgPool2d"),
          global_avg_pool(),
          batch_norm(),
          eltwise("ReLU", "max(x, 0)"),
          eltwise("LeakyReLU", "x > 0 ? x : slope x"),
          eltwise("Sigmoid", "1 / (1 + e^-x)"),
          eltwise("Tanh", "tanh x"),
          eltwise("GELU", "x Phi(x), erf form"),
          dropout(),
          flatten(),
          add(),
          concat(),
          softmax(),
          embedding(),
          positional_embedding(),
          padding_mask(),
          layer_norm(),
          reshape(),
          transpose(),
          slice(),
          matmul(),
          recurrent("LSTM", 4),
          recurrent("GRU", 3),
          sequence_pool()};
}

}  // namespace strata
