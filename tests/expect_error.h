// expect_error: how every test module checks a strata::Error: running `fn` throws one, with
// `code`, and its message contains each of `parts`.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "strata/framework/core/error.h"

namespace strata {

template <typename Fn>
void expect_error(Fn&& fn, ErrorCode code, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected a strata::Error (" << error_code_name(code) << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "'" << p << "' not in: " << e.what();
  }
}

}  // namespace strata
