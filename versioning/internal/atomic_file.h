// Writing a file so that no reader sees it half-written: through `body` into "<path>.tmp", then
// renamed over `path` (kInvalidArgument naming `what` and `path` when it cannot be written).
// Internal to versioning/ (not installed).
#pragma once

#include <cstdio>
#include <functional>
#include <string>

namespace strata::versioning {

void write_atomically(const std::string& path, const char* what, const std::function<void(std::FILE*)>& body);

}  // namespace strata::versioning
