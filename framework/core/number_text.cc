#include "strata/framework/core/number_text.h"

#include <cstdio>
#include <cstdlib>

namespace strata {

std::string exact_text(double v) {
  char buf[32];
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace strata
