#include "strata/versioning/serving/internal/inference_codec.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "strata/versioning/internal/json_reader.h"

namespace strata::versioning::serving {
namespace {

[[noreturn]] void refuse(const std::string& message) { throw RequestError{400, message}; }

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string with_batch(const Shape& sample, const std::string& batch) {
  std::string out = "[" + batch;
  for (int64_t d : sample) out += "," + std::to_string(d);
  return out + "]";
}

// Appends the values of `data` in row-major order. An array either lists the values of all
// remaining dimensions flat, or nests one level per dimension of `shape` from `dim` on.
void flatten(const JsonValue& data, const std::vector<int64_t>& shape, size_t dim, std::vector<const JsonValue*>& out) {
  if (!data.is_array()) {
    out.push_back(&data);
    return;
  }
  if (dim >= shape.size()) refuse("\"data\" is nested deeper than the shape " + shape_text(shape));
  int64_t rest = 1;
  for (size_t d = dim; d < shape.size(); ++d) rest *= shape[d];
  if (!data.items().empty() && !data.items()[0].is_array() && static_cast<int64_t>(data.items().size()) == rest) {
    for (const JsonValue& item : data.items()) {
      if (item.is_array()) refuse("\"data\" mixes numbers and arrays at depth " + std::to_string(dim));
      out.push_back(&item);
    }
    return;
  }
  if (static_cast<int64_t>(data.items().size()) != shape[dim])
    refuse("\"data\" has " + std::to_string(data.items().size()) + " elements at depth " + std::to_string(dim) + ", the shape " +
           shape_text(shape) + " needs " + std::to_string(shape[dim]) + " (nested) or " + std::to_string(rest) + " (flat)");
  for (const JsonValue& item : data.items()) flatten(item, shape, dim + 1, out);
}

template <class T>
void fill_integers(Tensor& t, const std::vector<const JsonValue*>& values) {
  T* out = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) {
    const JsonValue& v = *values[i];
    // A fraction or an exponent is no integer; digits alone that do not fit int64 are out of range.
    if (!v.is_number() || (!v.integral && v.text.find_first_of(".eE") != std::string_view::npos))
      refuse("\"data\" element " + std::to_string(i) + " is " + v.excerpt() + ", the input takes integers");
    if (!v.integral || v.integer < std::numeric_limits<T>::min() || v.integer > std::numeric_limits<T>::max())
      refuse("\"data\" element " + std::to_string(i) + " = " + v.excerpt() + " is out of range for " +
             protocol_datatype(t.dtype()));
    out[i] = static_cast<T>(v.integer);
  }
}

void fill_floats(Tensor& t, const std::vector<const JsonValue*>& values) {
  float* out = t.f32();
  for (size_t i = 0; i < values.size(); ++i) {
    const JsonValue& v = *values[i];
    if (!v.is_number()) refuse("\"data\" element " + std::to_string(i) + " is " + v.excerpt() + ", not a number");
    if (!std::isfinite(v.number) || std::fabs(v.number) > std::numeric_limits<float>::max())
      refuse("\"data\" element " + std::to_string(i) + " = " + v.excerpt() + " is not a finite FP32 value");
    out[i] = static_cast<float>(v.number);
  }
}

const JsonValue& member(const JsonValue& object, const char* key, const std::string& where) {
  const JsonValue* v = object.find(key);
  if (!v) refuse(where + " has no \"" + key + "\"");
  return *v;
}

std::vector<int64_t> decode_shape(const JsonValue& in, const Signature& sig, int64_t max_samples) {
  const JsonValue& shape_json = member(in, "shape", "input \"" + sig.input_name + "\"");
  std::vector<int64_t> shape;
  if (shape_json.is_array())
    for (const JsonValue& d : shape_json.items()) {
      if (!d.is_number() || !d.integral || d.integer < 0)
        refuse("\"shape\" must be a list of non-negative integers, got " + shape_json.excerpt());
      shape.push_back(d.integer);
    }
  if (!shape_json.is_array() || shape.size() != sig.input_shape.size() + 1 ||
      !std::equal(sig.input_shape.begin(), sig.input_shape.end(), shape.begin() + 1) || shape[0] < 1)
    refuse("input \"" + sig.input_name + "\" has shape " + shape_json.excerpt() + ", the model takes " +
           with_batch(sig.input_shape, "N") + " with N >= 1");
  if (max_samples > 0 && shape[0] > max_samples)
    refuse("a batch of " + std::to_string(shape[0]) + " samples; at most " + std::to_string(max_samples) + " per request");
  return shape;
}

Tensor decode_input(const JsonValue& in, const Signature& sig, int64_t max_samples) {
  if (!in.is_object()) refuse("each entry of \"inputs\" must be an object with name, shape, datatype and data");
  const JsonValue& name = member(in, "name", "the input");
  if (!name.is_string() || name.string() != sig.input_name)
    refuse("unknown input " + name.excerpt() + ", the model's input is \"" + sig.input_name + "\"");
  const JsonValue& datatype = member(in, "datatype", "input \"" + sig.input_name + "\"");
  const std::string want_type = protocol_datatype(sig.input_dtype);
  if (!datatype.is_string() || datatype.string() != want_type)
    refuse("input \"" + sig.input_name + "\" has datatype " + datatype.excerpt() + ", the model takes " + want_type);
  const std::vector<int64_t> shape = decode_shape(in, sig, max_samples);
  const JsonValue& data = member(in, "data", "input \"" + sig.input_name + "\"");
  if (!data.is_array()) refuse(std::string("\"data\" must be an array (flat row-major or nested), got ") + data.kind_name());
  Tensor t(Shape(shape.begin(), shape.end()), sig.input_dtype);
  std::vector<const JsonValue*> values;
  values.reserve(static_cast<size_t>(t.numel()));
  flatten(data, shape, 0, values);
  if (static_cast<int64_t>(values.size()) != t.numel())
    refuse("\"data\" has " + std::to_string(values.size()) + " values, the shape " + shape_text(shape) + " needs " +
           std::to_string(t.numel()));
  if (sig.input_dtype == DType::kF32) fill_floats(t, values);
  if (sig.input_dtype == DType::kI32) fill_integers<int32_t>(t, values);
  if (sig.input_dtype == DType::kI64) fill_integers<int64_t>(t, values);
  return t;
}

}  // namespace

std::string Signature::describe() const {
  return input_name + " " + protocol_datatype(input_dtype) + " " + with_batch(input_shape, "-1") + " -> " + output_name +
         " FP32 " + with_batch(output_shape, "-1");
}

const char* protocol_datatype(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "FP32";
    case DType::kI32:
      return "INT32";
    case DType::kI64:
      return "INT64";
    default:
      return "";
  }
}

InferRequest decode_infer_request(const std::string& body, const Signature& sig, int64_t max_samples) {
  JsonValue doc;
  try {
    doc = parse_json(body);
  } catch (const JsonError& e) {
    refuse("the body is not valid JSON: " + e.what + " at byte " + std::to_string(e.offset));
  }
  if (!doc.is_object()) refuse(std::string("the body must be a JSON object {\"inputs\": [...]}, got ") + doc.kind_name());
  InferRequest request;
  if (const JsonValue* id = doc.find("id")) {
    if (!id->is_string()) refuse("\"id\" must be a string, got " + id->excerpt());
    request.id = id->string();
    request.has_id = true;
  }
  const JsonValue& inputs = member(doc, "inputs", "the request");
  if (!inputs.is_array() || inputs.items().size() != 1)
    refuse("\"inputs\" must list exactly one input (\"" + sig.input_name + "\"), got " +
           (inputs.is_array() ? std::to_string(inputs.items().size()) : std::string(inputs.kind_name())));
  request.input = decode_input(inputs.items()[0], sig, max_samples);
  if (const JsonValue* outputs = doc.find("outputs")) {
    if (!outputs->is_array()) refuse("\"outputs\" must be a list of {\"name\": ...}");
    for (const JsonValue& o : outputs->items()) {
      const JsonValue* name = o.is_object() ? o.find("name") : nullptr;
      if (!name || !name->is_string() || name->string() != sig.output_name)
        refuse("unknown output " + (name ? name->excerpt() : o.excerpt()) + ", the model's output is \"" + sig.output_name +
               "\"");
      request.outputs.push_back(name->string());
    }
  }
  return request;
}

std::string encode_infer_response(const std::string& model, const std::string& version, const InferRequest& request,
                                  const std::string& output_name, const Tensor& output) {
  fmt::memory_buffer buf;
  auto out = std::back_inserter(buf);
  fmt::format_to(out, "{{\"model_name\":{},\"model_version\":{}", json_quote(model), json_quote(version));
  if (request.has_id) fmt::format_to(out, ",\"id\":{}", json_quote(request.id));
  fmt::format_to(out, ",\"outputs\":[{{\"name\":{},\"shape\":{},\"datatype\":\"FP32\",\"data\":[", json_quote(output_name),
                 shape_text(std::vector<int64_t>(output.shape().begin(), output.shape().end())));
  const float* v = output.f32();
  for (int64_t i = 0; i < output.numel(); ++i) fmt::format_to(out, i ? ",{}" : "{}", v[i]);  // shortest round trip
  fmt::format_to(out, "]}}]}}");
  return fmt::to_string(buf);
}

std::string error_body(const std::string& message) { return "{\"error\":" + json_quote(message) + "}"; }

}  // namespace strata::versioning::serving
