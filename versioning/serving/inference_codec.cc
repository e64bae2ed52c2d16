#include "strata/versioning/serving/inference_codec.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace strata::versioning::serving {
namespace {

using nlohmann::json;

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
void flatten(const json& data, const std::vector<int64_t>& shape, size_t dim, std::vector<const json*>& out) {
  if (!data.is_array()) {
    out.push_back(&data);
    return;
  }
  if (dim >= shape.size()) refuse("\"data\" is nested deeper than the shape " + shape_text(shape));
  int64_t rest = 1;
  for (size_t d = dim; d < shape.size(); ++d) rest *= shape[d];
  if (!data.empty() && !data[0].is_array() && static_cast<int64_t>(data.size()) == rest) {
    for (const json& item : data) {
      if (item.is_array()) refuse("\"data\" mixes numbers and arrays at depth " + std::to_string(dim));
      out.push_back(&item);
    }
    return;
  }
  if (static_cast<int64_t>(data.size()) != shape[dim])
    refuse("\"data\" has " + std::to_string(data.size()) + " elements at depth " + std::to_string(dim) + ", the shape " +
           shape_text(shape) + " needs " + std::to_string(shape[dim]) + " (nested) or " + std::to_string(rest) + " (flat)");
  for (const json& item : data) flatten(item, shape, dim + 1, out);
}

template <class T>
void fill_integers(Tensor& t, const std::vector<const json*>& values) {
  T* out = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) {
    const json& v = *values[i];
    if (!v.is_number_integer())
      refuse("'data' element " + std::to_string(i) + " is " + v.dump() + ", the input takes integers");
    const int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ? -1 : v.get<int64_t>();
    if ((v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<T>::max())) ||
        x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max())
      refuse("'data' element " + std::to_string(i) + " = " + v.dump() + " is out of range for " +
             protocol_datatype(t.dtype()));
    out[i] = static_cast<T>(x);
  }
}

void fill_floats(Tensor& t, const std::vector<const json*>& values) {
  float* out = t.f32();
  for (size_t i = 0; i < values.size(); ++i) {
    const json& v = *values[i];
    if (!v.is_number()) refuse("'data' element " + std::to_string(i) + " is " + v.dump() + ", not a number");
    const double x = v.get<double>();
    if (!std::isfinite(x) || std::fabs(x) > std::numeric_limits<float>::max())
      refuse("'data' element " + std::to_string(i) + " = " + v.dump() + " is not a finite FP32 value");
    out[i] = static_cast<float>(x);
  }
}

const json& member(const json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) refuse(where + " has no \"" + key + "\"");
  return *it;
}

Tensor decode_input(const json& in, const Signature& sig, int64_t max_samples) {
  if (!in.is_object()) refuse("each entry of \"inputs\" must be an object with name, shape, datatype and data");
  const json& name = member(in, "name", "the input");
  if (!name.is_string() || name.get<std::string>() != sig.input_name)
    refuse("unknown input " + name.dump() + ", the model's input is \"" + sig.input_name + "\"");
  const json& datatype = member(in, "datatype", "input \"" + sig.input_name + "\"");
  const std::string want_type = protocol_datatype(sig.input_dtype);
  if (!datatype.is_string() || datatype.get<std::string>() != want_type)
    refuse("input \"" + sig.input_name + "\" has datatype " + datatype.dump() + ", the model takes " + want_type);
  const json& shape_json = member(in, "shape", "input \"" + sig.input_name + "\"");
  std::vector<int64_t> shape;
  if (shape_json.is_array())
    for (const json& d : shape_json) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) refuse("\"shape\" must be a list of non-negative integers, got " + shape_json.dump());
      shape.push_back(d.get<int64_t>());
    }
  const std::string expected = with_batch(sig.input_shape, "N");
  if (!shape_json.is_array() || shape.size() != sig.input_shape.size() + 1 ||
      !std::equal(sig.input_shape.begin(), sig.input_shape.end(), shape.begin() + 1) || shape[0] < 1)
    refuse("input \"" + sig.input_name + "\" has shape " + shape_json.dump() + ", the model takes " + expected + " with N >= 1");
  if (max_samples > 0 && shape[0] > max_samples)
    refuse("a batch of " + std::to_string(shape[0]) + " samples; at most " + std::to_string(max_samples) + " per request");
  std::vector<const json*> values;
  values.reserve(static_cast<size_t>(shape[0]) * 16);
  const json& data = member(in, "data", "input \"" + sig.input_name + "\"");
  if (!data.is_array()) refuse("\"data\" must be an array (flat row-major or nested), got " + std::string(data.type_name()));
  flatten(data, shape, 0, values);
  Tensor t(Shape(shape.begin(), shape.end()), sig.input_dtype);
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
    case DType::kF32: return "FP32";
    case DType::kI32: return "INT32";
    case DType::kI64: return "INT64";
    default: return "";
  }
}

InferRequest decode_infer_request(const std::string& body, const Signature& sig, int64_t max_samples) {
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::exception& e) {
    refuse(std::string("the body is not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) refuse("the body must be a JSON object {\"inputs\": [...]}, got " + std::string(doc.type_name()));
  InferRequest request;
  if (auto id = doc.find("id"); id != doc.end()) {
    if (!id->is_string()) refuse("\"id\" must be a string, got " + id->dump());
    request.id = id->get<std::string>();
    request.has_id = true;
  }
  const json& inputs = member(doc, "inputs", "the request");
  if (!inputs.is_array() || inputs.size() != 1)
    refuse("\"inputs\" must list exactly one input (\"" + sig.input_name + "\"), got " +
           (inputs.is_array() ? std::to_string(inputs.size()) : std::string(inputs.type_name())));
  request.input = decode_input(inputs[0], sig, max_samples);
  if (auto outputs = doc.find("outputs"); outputs != doc.end()) {
    if (!outputs->is_array()) refuse("\"outputs\" must be a list of {\"name\": ...}");
    for (const json& o : *outputs) {
      const json* name = o.is_object() && o.contains("name") ? &o["name"] : nullptr;
      if (!name || !name->is_string() || name->get<std::string>() != sig.output_name)
        refuse("unknown output " + (name ? name->dump() : o.dump()) + ", the model's output is \"" + sig.output_name + "\"");
      request.outputs.push_back(name->get<std::string>());
    }
  }
  return request;
}

std::string encode_infer_response(const std::string& model, const std::string& version, const InferRequest& request,
                                  const std::string& output_name, const Tensor& output) {
  std::string out = "{\"model_name\":" + json(model).dump() + ",\"model_version\":" + json(version).dump();
  if (request.has_id) out += ",\"id\":" + json(request.id).dump();
  out += ",\"outputs\":[{\"name\":" + json(output_name).dump() + ",\"shape\":" +
         shape_text(std::vector<int64_t>(output.shape().begin(), output.shape().end())) +
         ",\"datatype\":\"FP32\",\"data\":[";
  const float* v = output.f32();
  fmt::memory_buffer buf;
  for (int64_t i = 0; i < output.numel(); ++i) {
    if (i) buf.push_back(',');
    fmt::format_to(std::back_inserter(buf), "{}", v[i]);  // shortest round-trip form
  }
  out.append(buf.data(), buf.size());
  return out + "]}]}";
}

std::string error_body(const std::string& message) { return "{\"error\":" + json(message).dump() + "}"; }

}  // namespace strata::versioning::serving
