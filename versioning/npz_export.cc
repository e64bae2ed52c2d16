// .npz writer: NPY 1.0 files in a stored (uncompressed) ZIP archive. Byte layouts: NumPy's
// "NEP 1" (numpy.lib.format) and PKWARE's APPNOTE sections 4.3.7 (local header), 4.3.12
// (central directory) and 4.3.16 (end of central directory).
#include "strata/versioning/npz_export.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <zlib.h>

#include "strata/framework/core/error.h"
#include "strata/framework/core/little_endian.h"

namespace strata::versioning {
namespace {

const char* npy_descr(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "<f4";
    case DType::kU8: return "|u1";
    case DType::kI32: return "<i4";
    case DType::kI64: return "<i8";
  }
  return "?";
}

// The .npy header: magic, version 1.0, header length, then a Python dict literal padded with
// spaces and a newline so that the data starts at a multiple of 64 bytes (numpy's alignment).
std::string npy_header(const Tensor& t) {
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) shape += std::to_string(t.shape()[i]) + ", ";
  if (t.shape().size() == 1) shape.resize(shape.size() - 1);  // "(512,)"
  else if (!t.shape().empty()) shape.resize(shape.size() - 2);  // "(512, 784)"
  shape += ")";
  std::string dict = std::string("{'descr': '") + npy_descr(t.dtype()) + "', 'fortran_order': False, 'shape': " +
                     shape + ", }";
  const size_t preamble = 10;  // magic (6) + version (2) + header length (2)
  size_t total = preamble + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  if (dict.size() > 0xFFFF) throw_invalid("tensor shape too long for an .npy 1.0 header");
  std::string h = "\x93NUMPY";
  h.push_back('\x01');
  h.push_back('\x00');
  put_u16(h, static_cast<uint16_t>(dict.size()));
  return h + dict;
}

constexpr uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01: archives are reproducible

class ZipWriter {
 public:
  ZipWriter(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}

  void add(const std::string& name, const std::string& head, const void* data, uint64_t size) {
    const uint64_t total = head.size() + size;
    if (total > kMax32 || offset_ > kMax32)
      throw Error(ErrorCode::kInvalidArgument, "archive larger than 4 GiB (ZIP64 is not supported)", path_,
                  "export fewer tensors at a time");
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(head.data()), static_cast<uInt>(head.size()));
    const auto* p = static_cast<const Bytef*>(data);
    for (uint64_t done = 0; done < size;) {  // zlib's crc32 takes at most 4 GiB - 1 per call
      const uInt n = static_cast<uInt>(std::min<uint64_t>(size - done, uint64_t{1} << 30));
      crc = crc32(crc, p + done, n);
      done += n;
    }
    std::string local;
    put_u32(local, 0x04034b50);
    put_u16(local, 20);  // version needed: 2.0
    put_u16(local, 0);   // flags
    put_u16(local, 0);   // method: stored
    put_u16(local, 0);   // time
    put_u16(local, kDosDate);
    put_u32(local, static_cast<uint32_t>(crc));
    put_u32(local, static_cast<uint32_t>(total));
    put_u32(local, static_cast<uint32_t>(total));
    put_u16(local, static_cast<uint16_t>(name.size()));
    put_u16(local, 0);  // extra length
    local += name;

    put_u32(central_, 0x02014b50);
    put_u16(central_, 20);  // made by
    central_.append(local, 4, 26);  // version needed .. extra length, as in the local header
    put_u16(central_, 0);   // comment length
    put_u16(central_, 0);   // disk
    put_u16(central_, 0);   // internal attributes
    put_u32(central_, 0);   // external attributes
    put_u32(central_, static_cast<uint32_t>(offset_));
    central_ += name;
    ++entries_;

    write(local.data(), local.size());
    write(head.data(), head.size());
    write(data, size);
  }

  void finish() {
    if (entries_ > 0xFFFF) throw_invalid("more than 65535 tensors (ZIP64 is not supported)", path_);
    if (offset_ + central_.size() > kMax32)
      throw Error(ErrorCode::kInvalidArgument, "archive larger than 4 GiB (ZIP64 is not supported)", path_);
    std::string end;
    put_u32(end, 0x06054b50);
    put_u16(end, 0);
    put_u16(end, 0);
    put_u16(end, static_cast<uint16_t>(entries_));
    put_u16(end, static_cast<uint16_t>(entries_));
    put_u32(end, static_cast<uint32_t>(central_.size()));
    put_u32(end, static_cast<uint32_t>(offset_));
    put_u16(end, 0);  // comment length
    write(central_.data(), central_.size());
    write(end.data(), end.size());
  }

  uint64_t bytes() const { return offset_; }

 private:
  static constexpr uint64_t kMax32 = std::numeric_limits<uint32_t>::max();
  void write(const void* data, size_t size) {
    if (size > 0 && std::fwrite(data, 1, size, f_) != size)
      throw Error(ErrorCode::kInvalidArgument, "cannot write the archive", path_, "check free space and permissions");
    offset_ += size;
  }
  std::FILE* f_;
  std::string path_;
  std::string central_;
  uint64_t offset_ = 0;
  size_t entries_ = 0;
};

}  // namespace

void write_npz(const std::string& path, const NamedTensors& tensors) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(ErrorCode::kInvalidArgument, "cannot create the archive", path, "check that the directory exists and is writable");
  try {
    ZipWriter zip(f, path);
    for (const auto& [name, t] : tensors) zip.add(name + ".npy", npy_header(t), t.raw(), t.nbytes());
    zip.finish();
    if (std::fclose(f) != 0) {
      f = nullptr;
      throw Error(ErrorCode::kInvalidArgument, "cannot write the archive", path, "check free space");
    }
    f = nullptr;
    std::filesystem::rename(tmp, path);
  } catch (...) {
    if (f) std::fclose(f);
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
}

ExportReport export_npz(const VersionLog& log, const CommitId& version, const std::string& path, bool include_optim) {
  NamedTensors tensors = log.read_params(version);
  if (include_optim) {
    NamedTensors optim = log.read_optim(version);
    for (auto& entry : optim) tensors.push_back(std::move(entry));
  }
  write_npz(path, tensors);
  ExportReport r;
  r.tensors = tensors.size();
  for (const auto& [name, t] : tensors) r.tensor_bytes += t.nbytes();
  r.file_bytes = std::filesystem::file_size(path);
  return r;
}

}  // namespace strata::versioning
