// Tensor files other frameworks read and write: safetensors (Hugging Face) and NumPy .npz, for
// `strata export` and `strata import` (docs/guide.md "Export and import").
//
// safetensors: an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {"k": "v", ...}, "<name>": {"dtype": "F32", "shape": [d0, ...],
//    "data_offsets": [begin, end]}, ...}
// padded with spaces to a multiple of 8, then the tensors' raw little-endian bytes, back to back
// in the order written (offsets are relative to the end of the header). dtypes: F32, I32, I64, U8.
//
// .npz: a ZIP of one .npy per tensor; write_npz stores them (uncompressed; numpy.savez's layout),
// read_npz also reads deflated members (numpy.savez_compressed). .npy versions 1.0-3.0,
// little-endian or byte-order-free dtypes (<f4, <i4, <i8, |u1), C order.
//
// Readers validate everything against the file's size before touching data and throw
// kInvalidArgument naming the file and what is wrong; they never read past the end.
// Writers write a temporary file next to the target and rename it into place, so a reader never
// sees a half-written file. Free functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "strata/framework/train/train_state.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {

enum class TensorFileFormat { kNpz, kSafetensors };
// By extension: ".npz" or ".safetensors" (kInvalidArgument otherwise).
TensorFileFormat tensor_file_format(const std::string& path);
const char* tensor_file_format_name(TensorFileFormat format);

void write_npz(const std::string& path, const NamedTensors& tensors);
NamedTensors read_npz(const std::string& path);
// One .npy file (numpy.save).
Tensor read_npy(const std::string& path);

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});
// The tensors in file order; `metadata` (when given) receives "__metadata__".
NamedTensors read_safetensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

// Either format, by extension.
NamedTensors read_tensor_file(const std::string& path);

struct ExportReport {
  TensorFileFormat format = TensorFileFormat::kNpz;
  size_t tensors = 0;
  uint64_t tensor_bytes = 0;  // raw bytes of the exported tensors
  uint64_t file_bytes = 0;
};

// The parameters of `version` (and its optimizer state with `include_optim`; refused with
// kFailedPrecondition when retention dropped it) in `format`. A safetensors file carries the
// version id, its branch@epoch name and the Strata version as metadata.
ExportReport export_tensors(const VersionLog& log, const CommitId& version, const std::string& path, TensorFileFormat format,
                            bool include_optim);

}  // namespace strata::versioning
