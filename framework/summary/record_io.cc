#include "strata/framework/summary/internal/record_io.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "strata/framework/core/error.h"
#include "strata/framework/core/internal/little_endian.h"
#include "strata/framework/summary/internal/crc32c.h"

namespace strata::summary {
namespace {

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

std::string place(const std::string& where, uint64_t offset, size_t index) {
  return where + " at byte offset " + std::to_string(offset) + " (record " + std::to_string(index) + ")";
}

}  // namespace

std::string encode_record(std::string_view data) {
  std::string out;
  out.reserve(kRecordHeaderBytes + data.size() + kRecordFooterBytes);
  put_u64(out, data.size());
  put_u32(out, masked_crc32c(out.data(), 8));
  out.append(data.data(), data.size());
  put_u32(out, masked_crc32c(data.data(), data.size()));
  return out;
}

std::vector<RawRecord> decode_records(std::string_view bytes, const std::string& where) {
  const std::string hint =
      "the event file is damaged; delete it and re-create it with "
      "`strata tensorboard`";
  std::vector<RawRecord> records;
  uint64_t pos = 0;
  while (pos < bytes.size()) {
    const size_t index = records.size();
    const uint64_t left = bytes.size() - pos;
    if (left < kRecordHeaderBytes)
      throw_corruption(
          "truncated record header: " + std::to_string(left) + " of " + std::to_string(kRecordHeaderBytes) + " bytes present",
          place(where, pos, index), hint);
    const char* p = bytes.data() + pos;
    const uint32_t stored_len_crc = get_u32(p + 8);
    const uint32_t len_crc = masked_crc32c(p, 8);
    if (stored_len_crc != len_crc)
      throw_corruption("length CRC mismatch: stored " + hex32(stored_len_crc) + ", computed " + hex32(len_crc),
                       place(where, pos, index), hint);
    const uint64_t n = get_u64(p);
    // Compare without adding to n: a corrupted length can be close to 2^64.
    if (n > left - kRecordHeaderBytes || left - kRecordHeaderBytes - n < kRecordFooterBytes)
      throw_corruption("truncated record: length " + std::to_string(n) + " needs " +
                           std::to_string(n + kRecordHeaderBytes + kRecordFooterBytes) + " bytes, " + std::to_string(left) +
                           " present",
                       place(where, pos, index), hint);
    const char* data = p + kRecordHeaderBytes;
    const uint32_t stored_data_crc = get_u32(data + n);
    const uint32_t data_crc = masked_crc32c(data, n);
    if (stored_data_crc != data_crc)
      throw_corruption("data CRC mismatch: stored " + hex32(stored_data_crc) + ", computed " + hex32(data_crc),
                       place(where, pos, index), hint);
    records.push_back(RawRecord{pos, std::string(data, n)});
    pos += kRecordHeaderBytes + n + kRecordFooterBytes;
  }
  return records;
}

std::vector<RawRecord> read_records(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    if (err == ENOENT) throw Error(ErrorCode::kNotFound, "event file does not exist", path, "check the run directory");
    throw_io(std::string("cannot open event file: ") + std::strerror(err), path);
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw_io("cannot read event file", path);
  const std::string bytes = buf.str();
  return decode_records(bytes, path);
}

}  // namespace strata::summary
