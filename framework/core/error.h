// The one error type of Strata (docs/design.md "Errors"): what failed, where, and what to do.
//
// Bad user input and bad bytes on disk throw strata::Error with a code; our own bugs hit
// STRATA_CHECK, which aborts with file:line in every build. The two are kept apart on purpose:
// a user must never see an abort for a typo, and a broken invariant must never be caught.
#pragma once

#include <stdexcept>
#include <string>

namespace strata {

enum class ErrorCode {
  kInvalidArgument,     // shapes, options, names, flags
  kNotFound,            // unknown version, missing file
  kAlreadyExists,       // branch or tag name taken
  kFailedPrecondition,  // e.g. a second writer, resume into a different graph
  kCorruption,          // bad bytes on disk: hash mismatch, truncation, unknown format
  kIOError,             // the OS refused: permissions, full disk
  kNumerical,           // non-finite loss
  kInternal,
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  // what: what failed; where: file / tensor / version / line; hint: what the user can do.
  Error(ErrorCode code, std::string what, std::string where = {}, std::string hint = {});

  ErrorCode code() const { return code_; }
  const std::string& what_failed() const { return what_; }
  const std::string& where() const { return where_; }
  const std::string& hint() const { return hint_; }

 private:
  ErrorCode code_;
  std::string what_, where_, hint_;
};

// Shorthands for the common codes.
[[noreturn]] void throw_invalid(std::string what, std::string where = {}, std::string hint = {});
[[noreturn]] void throw_corruption(std::string what, std::string where = {}, std::string hint = {});
[[noreturn]] void throw_io(std::string what, std::string where = {}, std::string hint = {});

[[noreturn]] void check_failed(const char* expr, const char* file, int line);

}  // namespace strata

// Internal invariant; aborts with file:line. Never for user input.
#define STRATA_CHECK(cond)                                          \
  do {                                                              \
    if (!(cond)) ::strata::check_failed(#cond, __FILE__, __LINE__); \
  } while (0)
