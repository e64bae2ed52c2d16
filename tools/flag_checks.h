// Command-line checks shared by `strata` and the examples: validators with one short message
// (CLI11's PositiveNumber prints DBL_MAX in full), NaN refused everywhere, and the usage exit
// code: a bad flag exits 2 (--help and --version exit 0). Header-only; CLI11 stays out of the
// library.
#pragma once

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <string>

namespace strata::flags {

namespace detail {
inline bool parse_number(const std::string& text, double& v) {
  char* end = nullptr;
  v = std::strtod(text.c_str(), &end);
  return !text.empty() && *end == '\0' && std::isfinite(v);
}
inline std::string shown(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace detail

// A finite number >= min (or > min when strict).
inline CLI::Validator at_least(double min, bool strict = false) {
  const std::string rule = std::string(strict ? "> " : ">= ") + detail::shown(min);
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double v = 0;
        if (!detail::parse_number(text, v) || (strict ? !(v > min) : !(v >= min)))
          return "must be a number " + rule + ", got '" + text + "'";
        return {};
      },
      "NUMBER " + rule);
}

inline CLI::Validator positive() { return at_least(0, true); }

// A finite number in [lo, hi] (or [lo, hi) when hi_open).
inline CLI::Validator between(double lo, double hi, bool hi_open = false) {
  const std::string rule = "in [" + detail::shown(lo) + ", " + detail::shown(hi) + (hi_open ? ")" : "]");
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double v = 0;
        if (!detail::parse_number(text, v) || v < lo || (hi_open ? v >= hi : v > hi))
          return "must be a number " + rule + ", got '" + text + "'";
        return {};
      },
      "NUMBER " + rule);
}

// Parses argv; returns -1 to go on, else the exit code (0 after --help / --version, 2 on a
// usage error, whose message CLI11 has printed).
inline int parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return -1;
}

}  // namespace strata::flags
