// TFRecord framing (docs/wire-formats.md section 1): the container TensorBoard event files use.
//
//   uint64 length | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
//
// all little-endian. Writing is a pure function (encode_record); reading checks both CRCs and
// reports the first bad record by file and byte offset. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata::summary {

constexpr size_t kRecordHeaderBytes = 12;  // length + its CRC
constexpr size_t kRecordFooterBytes = 4;   // data CRC

// The framed bytes of one record.
std::string encode_record(std::string_view data);

struct RawRecord {
  uint64_t offset = 0;  // byte offset of the record's length field in the file
  std::string data;
};

// Splits a whole file's bytes into records. `where` names the source in errors (a path).
// Throws Error(kCorruption) naming `where`, the byte offset and the record index on a length or
// data CRC mismatch, or when the bytes end inside a record (truncation).
std::vector<RawRecord> decode_records(std::string_view bytes, const std::string& where);

// Reads a file and decodes it; throws kNotFound / kIOError when the file cannot be read.
std::vector<RawRecord> read_records(const std::string& path);

}  // namespace strata::summary
