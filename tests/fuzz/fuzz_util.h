// Shared by the libFuzzer targets: parsers that take a path get the input through a file in a
// private temporary directory, and strata::Error (the documented way to reject bad input) is
// the only exception a target may see. Anything else (a crash, a sanitizer report, another
// exception type, a hang) is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "strata/framework/core/error.h"

namespace strata::fuzz {

// A temporary directory for this process, created on first use.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/strata-fuzz-XXXXXX";
    const char* d = mkdtemp(tmpl);
    if (!d) std::abort();
    return std::string(d);
  }();
  return dir;
}

// Writes the input to `name` in the scratch directory; returns its path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  std::string path = scratch_dir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

// The base chunk the chunk fuzzer decodes deltas against (make_corpus encodes its seeds on it).
inline void fill_base(uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i * 31 + 7);
}

// Runs f; strata::Error is a clean rejection.
template <typename F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const Error&) {
  }
}

}  // namespace strata::fuzz
