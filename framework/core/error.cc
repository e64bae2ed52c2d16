#include "strata/framework/core/error.h"

#include <cstdio>
#include <cstdlib>

namespace strata {
namespace {

std::string compose(ErrorCode code, const std::string& what, const std::string& where, const std::string& hint) {
  std::string s = std::string(error_code_name(code)) + ": " + what;
  if (!where.empty()) s += " [" + where + "]";
  if (!hint.empty()) s += " -- " + hint;
  return s;
}

}  // namespace

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kAlreadyExists:
      return "already exists";
    case ErrorCode::kFailedPrecondition:
      return "failed precondition";
    case ErrorCode::kCorruption:
      return "corruption";
    case ErrorCode::kIOError:
      return "I/O error";
    case ErrorCode::kNumerical:
      return "numerical error";
    case ErrorCode::kInternal:
      return "internal error";
  }
  return "error";
}

Error::Error(ErrorCode code, std::string what, std::string where, std::string hint)
    : std::runtime_error(compose(code, what, where, hint)),
      code_(code),
      what_(std::move(what)),
      where_(std::move(where)),
      hint_(std::move(hint)) {}

void throw_invalid(std::string what, std::string where, std::string hint) {
  throw Error(ErrorCode::kInvalidArgument, std::move(what), std::move(where), std::move(hint));
}
void throw_corruption(std::string what, std::string where, std::string hint) {
  throw Error(ErrorCode::kCorruption, std::move(what), std::move(where), std::move(hint));
}
void throw_io(std::string what, std::string where, std::string hint) {
  throw Error(ErrorCode::kIOError, std::move(what), std::move(where), std::move(hint));
}

void check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "strata: internal check failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace strata
