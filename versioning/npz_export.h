// Export of a version's tensors as a NumPy .npz archive, the portable format of `strata export`
// (README "Export format"): numpy.load(path)["fc1/weight"] gives the tensor back bit for bit.
//
// The archive is an uncompressed ZIP of one .npy file (format 1.0, little-endian, C order) per
// tensor, named "<tensor name>.npy" (names keep their '/'); optimizer slots keep their
// "optim/<param>/<slot>" names. Uncompressed, so any zip reader and numpy's mmap can read it.
// Archives over 4 GiB need ZIP64, which is not written: they are refused with a clear error.
//
// Thread-safety: free functions; the file is written to "<path>.tmp" and renamed into place, so a
// reader never sees a half-written archive.
#pragma once

#include <cstdint>
#include <string>

#include "strata/framework/train/train_state.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {

// Writes `tensors` to `path` (replacing it). kInvalidArgument when it cannot be written.
void write_npz(const std::string& path, const NamedTensors& tensors);

struct ExportReport {
  size_t tensors = 0;
  uint64_t tensor_bytes = 0;  // raw bytes of the exported tensors
  uint64_t file_bytes = 0;
};

// The parameters of `version` (and its optimizer state with `include_optim`; refused with
// kFailedPrecondition when retention dropped it).
ExportReport export_npz(const VersionLog& log, const CommitId& version, const std::string& path, bool include_optim);

}  // namespace strata::versioning
