// The Strata version this library was built as (CMake project version, e.g. "0.2.0"). Every
// version committed to a log records it (CommitRecord::environment), and `strata --version`
// prints it.
#pragma once

namespace strata {

const char* version();

}  // namespace strata
