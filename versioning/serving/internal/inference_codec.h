// The JSON of the Open Inference Protocol v2 (KServe "V2", Triton's HTTP/REST), to and from
// Strata tensors: an inference request's body becomes one input tensor, a model's output
// becomes the response body (docs/serving.md "Protocol").
#pragma once

#include <string>
#include <vector>

#include "strata/framework/core/tensor.h"

namespace strata::versioning::serving {

// What a model takes and gives, per sample (the batch dimension is -1 in metadata).
struct Signature {
  std::string input_name;
  Shape input_shape;
  DType input_dtype = DType::kF32;
  std::string output_name;
  Shape output_shape;

  bool operator==(const Signature& o) const {
    return input_name == o.input_name && input_shape == o.input_shape && input_dtype == o.input_dtype &&
           output_name == o.output_name && output_shape == o.output_shape;
  }
  std::string describe() const;  // "input f32 [-1,1,28,28] -> fc3 [-1,10]"
};

// A request the server refuses: the HTTP status (400, 404, 413, 503) and the message of the
// {"error": ...} body, which names what was expected and what arrived.
struct RequestError {
  int status = 400;
  std::string message;
};

struct InferRequest {
  std::string id;  // echoed back; empty when the request had none
  bool has_id = false;
  Tensor input;                      // [N, input_shape...] of the signature's dtype
  std::vector<std::string> outputs;  // the outputs asked for (empty: all)
};

// "FP32", "INT32", "INT64" <-> Strata dtypes; "" for a dtype the protocol cannot carry here.
const char* protocol_datatype(DType dtype);

// Parses and checks a request body against the signature. Throws RequestError (400) for
// malformed JSON, a missing or unknown input, a wrong datatype or shape, a data array whose
// length or nesting does not match the shape, non-numeric or out-of-range values, or an
// unknown output name; max_samples bounds N (0: no bound).
InferRequest decode_infer_request(const std::string& body, const Signature& signature, int64_t max_samples = 0);

// {"model_name","model_version","id"?,"outputs":[{"name","shape","datatype","data"}]} with the
// output's values in the shortest text that reads back as the same float.
std::string encode_infer_response(const std::string& model, const std::string& version, const InferRequest& request,
                                  const std::string& output_name, const Tensor& output);

// {"error": message}
std::string error_body(const std::string& message);

}  // namespace strata::versioning::serving
