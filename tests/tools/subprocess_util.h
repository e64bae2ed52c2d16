// Helpers for the tools tests, which run built binaries: the command goes through the shell, its
// stdout is captured, and the exit status is decoded (-1 when it did not exit normally).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "strata/datasets/idx.h"

namespace strata::tools_test {

struct CommandOutput {
  int code = -1;
  std::string out;  // stdout (the caller redirects stderr in `cmd` where it wants it)
};

inline CommandOutput run_command(const std::string& cmd) {
  CommandOutput o;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return o;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.out.append(buf, n);
  const int status = ::pclose(p);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

// Runs `cmd` through the shell with stderr captured in the file `err_path` (stdout stays clean).
struct CommandResult {
  int code = -1;
  std::string out, err;
};
inline CommandResult run_capturing_stderr(const std::string& cmd, const std::string& err_path) {
  CommandOutput o = run_command(cmd + " 2>" + err_path);
  std::string err;
  if (FILE* f = std::fopen(err_path.c_str(), "rb")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) err.append(buf, n);
    std::fclose(f);
  }
  return {o.code, std::move(o.out), std::move(err)};
}

// The examples train on Fashion-MNIST: their tests skip where the package is not installed.
inline bool have_fashion_mnist() {
  const std::string images = std::string(kFashionMnistDir) + "/train-images-idx3-ubyte";
  return ::access((images + ".gz").c_str(), R_OK) == 0 || ::access(images.c_str(), R_OK) == 0;
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace strata::tools_test
