// The request decoder of `strata serve`: an Open Inference Protocol body (JSON) checked against
// a model's signature and turned into a tensor, for an image model (FP32 [N,1,28,28]), a tabular
// one (FP32 [N,3]) and a token model (INT64 [N,8]). A malformed body must be refused with a
// RequestError (the server's 400); any other exception, a crash or a sanitizer report is a finding.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "strata/versioning/serving/internal/inference_codec.h"

using strata::versioning::serving::RequestError;
using strata::versioning::serving::Signature;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Signature kSignatures[] = {
      {"input", {1, 28, 28}, strata::DType::kF32, "fc3", {10}},
      {"input", {3}, strata::DType::kF32, "fc2", {2}},
      {"tokens", {8}, strata::DType::kI64, "head", {5}},
  };
  const std::string body(reinterpret_cast<const char*>(data), size);
  for (const Signature& s : kSignatures) {
    try {
      auto request = strata::versioning::serving::decode_infer_request(body, s, 64);
      // A decoded request holds exactly what the signature takes.
      if (request.input.dtype() != s.input_dtype || request.input.rank() != s.input_shape.size() + 1) std::abort();
      strata::versioning::serving::encode_infer_response("m", "v", request, s.output_name, strata::Tensor({1, 2}));
    } catch (const RequestError& e) {
      if (e.status != 400 || e.message.empty()) std::abort();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "unexpected exception: %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}
