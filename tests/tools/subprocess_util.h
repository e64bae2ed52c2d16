// Helpers for the tools tests, which run built binaries: the command goes through the shell, its
// stdout is captured, and the exit status is decoded (-1 when it did not exit normally).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

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

using Clock = std::chrono::steady_clock;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A process started through the shell, its stderr in a file; SIGKILLed if still alive at the end.
class Process {
 public:
  Process(const std::string& cmd, const std::string& err_path) : err_path_(err_path) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/bin/sh", "sh", "-c", ("exec " + cmd + " 2>" + err_path).c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Waits (bounded) for a line of stderr matching `pattern`; returns its first group.
  std::string wait_for_stderr(const std::string& pattern, int seconds = 60) {
    const std::regex re(pattern);
    for (auto end = Clock::now() + std::chrono::seconds(seconds); Clock::now() < end;) {
      std::smatch m;
      const std::string err = read_file(err_path_);
      if (std::regex_search(err, m, re)) return m.size() > 1 ? m[1].str() : m[0].str();
      if (poll_exit()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "";
  }
  // The exit code, waiting at most `seconds`; -1 when it did not exit normally in time.
  int wait_exit(int seconds) {
    for (auto end = Clock::now() + std::chrono::seconds(seconds); Clock::now() < end;) {
      if (poll_exit()) return code_;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  std::string err() const { return read_file(err_path_); }

 private:
  bool poll_exit() {
    if (exited_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exited_ = true;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return true;
  }
  pid_t pid_ = -1;
  std::string err_path_;
  bool exited_ = false;
  int code_ = -1;
};

}  // namespace strata::tools_test
