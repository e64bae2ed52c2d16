// .npz and safetensors, written and read. Byte layouts: NumPy's "NEP 1" (numpy.lib.format),
// PKWARE's APPNOTE sections 4.3.7 (local header), 4.3.12 (central directory) and 4.3.16 (end of
// central directory), and the safetensors format (huggingface/safetensors README).
#include "strata/versioning/tensor_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>

#include "strata/framework/core/error.h"
#include "strata/framework/core/internal/little_endian.h"
#include "strata/framework/core/version.h"
#include "strata/versioning/internal/atomic_file.h"
#include "strata/versioning/internal/json_reader.h"

namespace strata::versioning {
namespace {

const char* npy_descr(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "<f4";
    case DType::kU8:
      return "|u1";
    case DType::kI32:
      return "<i4";
    case DType::kI64:
      return "<i8";
  }
  return "?";
}

// The .npy header: magic, version 1.0, header length, then a Python dict literal padded with
// spaces and a newline so that the data starts at a multiple of 64 bytes (numpy's alignment).
std::string npy_header(const Tensor& t) {
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) shape += std::to_string(t.shape()[i]) + ", ";
  if (t.shape().size() == 1)
    shape.resize(shape.size() - 1);  // "(512,)"
  else if (!t.shape().empty())
    shape.resize(shape.size() - 2);  // "(512, 784)"
  shape += ")";
  std::string dict = std::string("{'descr': '") + npy_descr(t.dtype()) + "', 'fortran_order': False, 'shape': " + shape + ", }";
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
    put_u16(central_, 20);          // made by
    central_.append(local, 4, 26);  // version needed .. extra length, as in the local header
    put_u16(central_, 0);           // comment length
    put_u16(central_, 0);           // disk
    put_u16(central_, 0);           // internal attributes
    put_u32(central_, 0);           // external attributes
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

void write_all(std::FILE* f, const void* data, size_t size, const std::string& path) {
  if (size > 0 && std::fwrite(data, 1, size, f) != size)
    throw Error(ErrorCode::kInvalidArgument, "cannot write the file", path, "check free space and permissions");
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kNotFound, "cannot open the tensor file", path, "check the path");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(ErrorCode::kIOError, "cannot read the tensor file", path);
  return bytes;
}

[[noreturn]] void bad_file(const std::string& path, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, what, path, "the file is damaged or not in this format");
}

uint64_t get_le(const std::string& bytes, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(bytes[at + static_cast<size_t>(i)]);
  return v;
}

// ---- .npy ----

// Parses one .npy file (the member of an .npz named `name`) into a tensor.
Tensor parse_npy(const std::string& npy, const std::string& path, const std::string& name) {
  auto bad = [&](const std::string& what) { bad_file(path, name + ": " + what); };
  if (npy.size() < 10 || npy.compare(0, 6, "\x93NUMPY") != 0) bad("not an .npy file (no \\x93NUMPY magic)");
  const int major = static_cast<uint8_t>(npy[6]);
  size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = get_le(npy, 8, 2);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (npy.size() < 12) bad("truncated .npy header");
    header_len = get_le(npy, 8, 4);
    start = 12;
  } else {
    bad(".npy version " + std::to_string(major) + " is not supported");
  }
  if (header_len > npy.size() - start) bad("the .npy header runs past the end");
  const std::string header = npy.substr(start, header_len);
  auto field = [&](const std::string& key) -> std::string {
    size_t k = header.find("'" + key + "'");
    if (k == std::string::npos) bad("the .npy header has no '" + key + "'");
    size_t colon = header.find(':', k);
    if (colon == std::string::npos) bad("malformed .npy header");
    size_t v = header.find_first_not_of(' ', colon + 1);
    if (v == std::string::npos) bad("malformed .npy header");
    if (header[v] == '\'') {
      size_t end = header.find('\'', v + 1);
      if (end == std::string::npos) bad("malformed .npy header");
      return header.substr(v + 1, end - v - 1);
    }
    if (header[v] == '(') {
      size_t end = header.find(')', v);
      if (end == std::string::npos) bad("malformed .npy header");
      return header.substr(v + 1, end - v - 1);
    }
    size_t end = header.find_first_of(",}", v);
    return header.substr(v, end == std::string::npos ? std::string::npos : end - v);
  };
  const std::string descr = field("descr");
  DType dtype;
  if (descr == "<f4")
    dtype = DType::kF32;
  else if (descr == "<i4")
    dtype = DType::kI32;
  else if (descr == "<i8")
    dtype = DType::kI64;
  else if (descr == "|u1" || descr == "<u1")
    dtype = DType::kU8;
  else
    bad("dtype '" + descr + "' is not supported (float32, int32, int64, uint8; little-endian)");
  if (field("fortran_order") != "False") bad("Fortran-order arrays are not supported (save C order)");
  Shape shape;
  const std::string dims = field("shape");
  for (size_t i = 0; i < dims.size();) {
    size_t j = dims.find(',', i);
    std::string d = dims.substr(i, j == std::string::npos ? std::string::npos : j - i);
    d.erase(0, d.find_first_not_of(' '));
    d.erase(d.find_last_not_of(' ') + 1);
    if (!d.empty()) {
      if (d.find_first_not_of("0123456789") != std::string::npos || d.size() > 12) bad("bad dimension '" + d + "'");
      shape.push_back(std::stoll(d));
    }
    if (j == std::string::npos) break;
    i = j + 1;
  }
  const size_t data = start + header_len;
  uint64_t bytes = dtype_size(dtype);
  for (int64_t d : shape) {
    if (d != 0 && bytes > (uint64_t{1} << 40) / static_cast<uint64_t>(d)) bad("shape too large");
    bytes *= static_cast<uint64_t>(d);
  }
  if (npy.size() - data != bytes)
    bad("holds " + std::to_string(npy.size() - data) + " data bytes, its shape " + shape_str(shape) + " needs " +
        std::to_string(bytes));
  Tensor t(shape, dtype);
  if (bytes) std::memcpy(t.raw(), npy.data() + data, bytes);
  return t;
}

// Inflates a raw deflate stream (ZIP method 8) of known output size.
std::string inflate_member(const std::string& in, uint64_t out_size, const std::string& path, const std::string& name) {
  std::string out(out_size, '\0');
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw Error(ErrorCode::kInternal, "zlib inflateInit2 failed", path);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  const uint64_t produced = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END || produced != out_size) bad_file(path, name + ": the compressed data is damaged");
  return out;
}

// ---- safetensors ----

std::string json_escape(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += static_cast<char>(c);
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

const char* safetensors_dtype(DType d) {
  switch (d) {
    case DType::kF32:
      return "F32";
    case DType::kU8:
      return "U8";
    case DType::kI32:
      return "I32";
    case DType::kI64:
      return "I64";
  }
  return "?";
}

}  // namespace

TensorFileFormat tensor_file_format(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".npz") return TensorFileFormat::kNpz;
  if (ext == ".safetensors") return TensorFileFormat::kSafetensors;
  throw_invalid("unknown tensor file type '" + ext + "'", path, "use a .npz or .safetensors file");
}

const char* tensor_file_format_name(TensorFileFormat format) { return format == TensorFileFormat::kNpz ? "npz" : "safetensors"; }

void write_npz(const std::string& path, const NamedTensors& tensors) {
  write_atomically(path, "archive", [&](std::FILE* f) {
    ZipWriter zip(f, path);
    for (const auto& [name, t] : tensors) zip.add(name + ".npy", npy_header(t), t.raw(), t.nbytes());
    zip.finish();
  });
}

Tensor read_npy(const std::string& path) {
  return parse_npy(read_whole_file(path), path, std::filesystem::path(path).filename().string());
}

NamedTensors read_npz(const std::string& path) {
  const std::string zip = read_whole_file(path);
  // The end of central directory record: 22 bytes, found from the end (a comment may follow it).
  if (zip.size() < 22) bad_file(path, "too short for a ZIP archive");
  size_t eocd = std::string::npos;
  for (size_t i = zip.size() - 22 + 1; i-- > 0 && zip.size() - i <= 22 + 0xFFFF;)
    if (get_le(zip, i, 4) == 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd == std::string::npos) bad_file(path, "no ZIP end of central directory (not an .npz archive?)");
  const uint64_t entries = get_le(zip, eocd + 10, 2), cd_size = get_le(zip, eocd + 12, 4), cd_offset = get_le(zip, eocd + 16, 4);
  if (cd_offset > eocd || cd_size > eocd - cd_offset) bad_file(path, "the central directory lies outside the file");
  NamedTensors out;
  std::set<std::string> seen;
  size_t at = cd_offset;
  for (uint64_t e = 0; e < entries; ++e) {
    if (at + 46 > cd_offset + cd_size || get_le(zip, at, 4) != 0x02014b50) bad_file(path, "damaged central directory");
    const uint64_t method = get_le(zip, at + 10, 2), crc = get_le(zip, at + 16, 4), csize = get_le(zip, at + 20, 4),
                   usize = get_le(zip, at + 24, 4), name_len = get_le(zip, at + 28, 2), extra_len = get_le(zip, at + 30, 2),
                   comment_len = get_le(zip, at + 32, 2), local = get_le(zip, at + 42, 4);
    if (at + 46 + name_len > zip.size()) bad_file(path, "damaged central directory");
    std::string name = zip.substr(at + 46, name_len);
    at += 46 + name_len + extra_len + comment_len;
    if (csize == 0xFFFFFFFF || usize == 0xFFFFFFFF || local == 0xFFFFFFFF) bad_file(path, name + ": ZIP64 is not supported");
    if (local + 30 > zip.size() || get_le(zip, local, 4) != 0x04034b50) bad_file(path, name + ": damaged local header");
    const uint64_t data = local + 30 + get_le(zip, local + 26, 2) + get_le(zip, local + 28, 2);
    if (data > zip.size() || csize > zip.size() - data) bad_file(path, name + ": data runs past the end of the file");
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".npy") != 0) bad_file(path, name + ": not an .npy member");
    std::string npy;
    if (method == 0) {
      if (csize != usize) bad_file(path, name + ": stored member with two sizes");
      npy = zip.substr(data, csize);
    } else if (method == 8) {
      if (usize > (uint64_t{1} << 40)) bad_file(path, name + ": member too large");
      npy = inflate_member(zip.substr(data, csize), usize, path, name);
    } else {
      bad_file(path, name + ": compression method " + std::to_string(method) + " is not supported");
    }
    if (crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(npy.data()), static_cast<uInt>(npy.size())) != crc)
      bad_file(path, name + ": CRC mismatch");
    name.resize(name.size() - 4);
    if (!seen.insert(name).second) bad_file(path, "tensor '" + name + "' appears twice");
    out.emplace_back(name, parse_npy(npy, path, name));
  }
  return out;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (const auto& [k, v] : metadata) header += json_escape(k) + ":" + json_escape(v) + ",";
    header.back() = '}';
    header += ",";
  }
  uint64_t offset = 0;
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__" || !names.insert(name).second)
      throw_invalid("tensor name '" + name + "' is reserved or repeated", path);
    std::string shape;
    for (int64_t d : t.shape()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
    header += json_escape(name) + ":{\"dtype\":\"" + safetensors_dtype(t.dtype()) + "\",\"shape\":[" + shape +
              "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.nbytes()) + "]},";
    offset += t.nbytes();
  }
  if (header.size() > 1) header.pop_back();
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  std::string length;
  put_u64(length, header.size());
  write_atomically(path, "safetensors file", [&](std::FILE* f) {
    write_all(f, length.data(), length.size(), path);
    write_all(f, header.data(), header.size(), path);
    for (const auto& [name, t] : tensors) write_all(f, t.raw(), t.nbytes(), path);
  });
}

namespace {

// One tensor of a safetensors header: its dtype, shape and byte range in the data buffer.
struct SafetensorsEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

DType safetensors_dtype(const std::string& path, const std::string& name, const std::string& dtype) {
  if (dtype == "F32") return DType::kF32;
  if (dtype == "I32") return DType::kI32;
  if (dtype == "I64") return DType::kI64;
  if (dtype == "U8") return DType::kU8;
  bad_file(path, "tensor '" + name + "': dtype " + dtype + " is not supported (F32, I32, I64, U8)");
}

// safetensors writes shapes and offsets as non-negative integers; anything else is refused.
bool unsigned_of(const JsonValue& d, uint64_t& out) {
  if (!d.is_number() || !d.integral || d.integer < 0) return false;
  out = static_cast<uint64_t>(d.integer);
  return true;
}

// The header's entry for one tensor, checked against the `data_size` bytes of the data buffer.
SafetensorsEntry safetensors_entry(const std::string& path, const std::string& name, const JsonValue& value, uint64_t data_size) {
  if (!value.is_object()) bad_file(path, "tensor '" + name + "' is not an object");
  auto member = [&](const char* key) -> const JsonValue& {
    if (const JsonValue* m = value.find(key)) return *m;
    bad_file(path, "tensor '" + name + "' has no " + key);
  };
  SafetensorsEntry e;
  e.name = name;
  const JsonValue& dt = member("dtype");
  if (!dt.is_string()) bad_file(path, "tensor '" + name + "': dtype is not a string");
  e.dtype = safetensors_dtype(path, name, dt.string());
  const JsonValue& sh = member("shape");
  if (!sh.is_array()) bad_file(path, "tensor '" + name + "': shape is not an array");
  uint64_t nbytes = dtype_size(e.dtype);
  for (const JsonValue& d : sh.items()) {
    uint64_t dim = 0;
    if (!unsigned_of(d, dim) || dim > (uint64_t{1} << 40))
      bad_file(path, "tensor '" + name + "': bad dimension " + d.excerpt() + " in shape (a non-negative integer)");
    e.shape.push_back(static_cast<int64_t>(dim));
    nbytes = dim == 0 ? 0 : (nbytes > (uint64_t{1} << 42) / dim ? (uint64_t{1} << 63) : nbytes * dim);
  }
  const JsonValue& off = member("data_offsets");
  if (!off.is_array() || off.items().size() != 2 || !unsigned_of(off.items()[0], e.begin) || !unsigned_of(off.items()[1], e.end))
    bad_file(path, "tensor '" + name + "': data_offsets is not [begin, end]");
  if (e.begin > e.end || e.end > data_size)
    bad_file(path, "tensor '" + name + "': data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                       "] lie outside the " + std::to_string(data_size) + " data bytes");
  if (e.end - e.begin != nbytes)
    bad_file(path, "tensor '" + name + "': " + std::to_string(e.end - e.begin) + " bytes for " + dt.string() + " " +
                       shape_str(e.shape));
  return e;
}

// Tensors must tile the data buffer exactly (as the safetensors library checks): sorted by
// offset, each starting where the previous ended, the last ending at the end of the file.
void check_tiling(const std::string& path, const std::vector<SafetensorsEntry>& entries, uint64_t data_size) {
  std::vector<const SafetensorsEntry*> by_offset;
  for (const SafetensorsEntry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t expected = 0;
  for (const SafetensorsEntry* e : by_offset) {
    if (e->begin != expected) bad_file(path, "tensor '" + e->name + "' overlaps another or leaves a gap before it");
    expected = e->end;
  }
  if (expected != data_size)
    bad_file(path, "the data buffer has " + std::to_string(data_size - expected) + " bytes no tensor uses");
}

}  // namespace

NamedTensors read_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  const std::string bytes = read_whole_file(path);
  if (bytes.size() < 8) bad_file(path, "too short for a safetensors file (no 8-byte header length)");
  const uint64_t n = get_le(bytes, 0, 8);
  if (n > bytes.size() - 8 || n > (uint64_t{100} << 20))
    bad_file(path, "the header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(bytes.size()) +
                       " bytes)");
  const std::string header = bytes.substr(8, n);  // the parsed values point into it: it outlives them
  JsonValue root;
  try {
    root = parse_json(header, 8);
  } catch (const JsonError& e) {
    bad_file(path, "safetensors header: " + e.what + " (at byte " + std::to_string(e.offset) + ")");
  }
  if (!root.is_object()) bad_file(path, "the safetensors header is not a JSON object");
  const uint64_t data_size = bytes.size() - 8 - n;
  std::vector<SafetensorsEntry> entries;
  for (const auto& [name, value] : root.members()) {
    if (name != "__metadata__") {
      entries.push_back(safetensors_entry(path, name, value, data_size));
      continue;
    }
    if (!value.is_object()) bad_file(path, "__metadata__ is not an object");
    for (const auto& [k, mv] : value.members()) {
      if (!mv.is_string()) bad_file(path, "__metadata__ value of '" + k + "' is not a string");
      if (metadata) (*metadata)[k] = mv.string();
    }
  }
  check_tiling(path, entries, data_size);
  NamedTensors out;
  for (const SafetensorsEntry& e : entries) {
    Tensor t(e.shape, e.dtype);
    if (t.nbytes()) std::memcpy(t.raw(), bytes.data() + 8 + n + e.begin, t.nbytes());
    out.emplace_back(e.name, std::move(t));
  }
  return out;
}

ExportReport export_tensors(const VersionLog& log, const CommitId& version, const std::string& path, TensorFileFormat format,
                            bool include_optim) {
  NamedTensors tensors = log.read_params(version);
  if (include_optim) {
    NamedTensors optim = log.read_optim(version);
    for (auto& entry : optim) tensors.push_back(std::move(entry));
  }
  if (format == TensorFileFormat::kNpz)
    write_npz(path, tensors);
  else
    write_safetensors(path, tensors,
                      {{"strata_version_id", to_hex(version)},
                       {"strata_version", log.describe(version)},
                       {"strata", strata::version()},
                       {"format", "pt"}});
  ExportReport r;
  r.format = format;
  r.tensors = tensors.size();
  for (const auto& [name, t] : tensors) r.tensor_bytes += t.nbytes();
  r.file_bytes = std::filesystem::file_size(path);
  return r;
}

NamedTensors read_tensor_file(const std::string& path) {
  return tensor_file_format(path) == TensorFileFormat::kNpz ? read_npz(path) : read_safetensors(path);
}

void write_atomically(const std::string& path, const char* what, const std::function<void(std::FILE*)>& body) {
  // Only a regular file is ever replaced: never a symlink (or what it points to), a FIFO, a
  // device or a directory.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    const char* kind = S_ISLNK(st.st_mode)    ? "a symbolic link"
                       : S_ISDIR(st.st_mode)  ? "a directory"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                                              : "a device or special file";
    throw Error(ErrorCode::kInvalidArgument, std::string("will not write the ") + what + " over " + kind, path,
                "name a new or regular file");
  }
  // The temporary file sits beside the target (same file system: the rename is atomic) under a
  // name nobody else uses, created exclusively.
  const std::filesystem::path target(path);
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  static std::atomic<unsigned> counter{0};
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    tmp = dir + "/." + target.filename().string() + "." + std::to_string(::getpid()) + "." + std::to_string(counter++) + ".tmp";
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0)
    throw Error(ErrorCode::kInvalidArgument, std::string("cannot create the ") + what + ": " + std::strerror(errno), path,
                "check that the directory exists and is writable");
  std::FILE* f = ::fdopen(fd, "wb");
  if (!f) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw Error(ErrorCode::kIOError, std::string("cannot write the ") + what, path);
  }
  try {
    body(f);
    const bool flushed = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
    if (std::fclose(f) != 0 || !flushed) {
      f = nullptr;
      throw Error(ErrorCode::kInvalidArgument, std::string("cannot write the ") + what, path, "check free space");
    }
    f = nullptr;
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw Error(ErrorCode::kInvalidArgument, std::string("cannot move the ") + what + " into place: " + std::strerror(errno),
                  path, "check the target directory");
  } catch (...) {
    if (f) std::fclose(f);
    ::unlink(tmp.c_str());
    throw;
  }
}

}  // namespace strata::versioning
