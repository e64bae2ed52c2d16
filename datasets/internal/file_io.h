// Whole-file reading for the dataset readers, with transparent gzip (internal to datasets/).
//
// Data files are read in one piece: every reader validates sizes against headers, which needs
// the whole (decompressed) length anyway, and the largest file we read (Fashion-MNIST training
// images, 47 MB decompressed) fits in memory many times over. Stateless functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace strata {
namespace detail {

// The file's bytes. Throws kNotFound for a missing file, kIOError when the OS refuses.
std::vector<uint8_t> read_file(const std::string& path);

// True when bytes start with the gzip magic 1f 8b.
bool is_gzip(const std::vector<uint8_t>& bytes);

// Inflates a gzip stream (one or more members, as `gzip -d` accepts). A truncated stream, a
// damaged one or a CRC mismatch throws kCorruption naming `where`.
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& compressed, const std::string& where);

// read_file, inflated when the content (not the name) is gzip. *was_gzip tells which.
std::vector<uint8_t> read_maybe_gzip(const std::string& path, bool* was_gzip = nullptr);

}  // namespace detail
}  // namespace strata
