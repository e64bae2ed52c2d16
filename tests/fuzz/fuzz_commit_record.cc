// Commit records, tensor manifests and commit statistics as stored in the log.
#include "strata/versioning/commit_record.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::versioning;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  strata::fuzz::expect_clean([&] {
    // What decodes must encode and decode again to the same record. (Byte-identical re-encoding
    // does not hold for non-canonical input, e.g. map keys out of order: such a record is caught
    // by its id, the digest of the stored bytes, not by the decoder.)
    CommitRecord record = CommitRecord::decode(bytes);
    if (CommitRecord::decode(record.encode()).encode() != record.encode()) std::abort();
  });
  strata::fuzz::expect_clean([&] { decode_manifest(bytes); });
  strata::fuzz::expect_clean([&] { CommitStats::decode(bytes); });
  return 0;
}
