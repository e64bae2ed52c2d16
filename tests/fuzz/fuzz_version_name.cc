// Version names as users type them (main, main@3, main~2, tags/v1, heads/exp, hex ids and
// prefixes, ancestry suffixes) resolved against the checked-in 0.2.0 test log, and branch/tag
// name validation (git's check-ref-format rules).
#include <memory>

#include "strata/versioning/version_log.h"
#include "tests/fuzz/fuzz_util.h"

namespace {
std::unique_ptr<strata::versioning::VersionLog> g_log;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_log = strata::versioning::VersionLog::open(STRATA_FIXTURE_LOG, strata::versioning::OpenMode::kReadOnly);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string name(reinterpret_cast<const char*>(data), size);
  strata::fuzz::expect_clean([&] { g_log->resolve(name); });
  strata::fuzz::expect_clean([&] { strata::versioning::validate_ref_name("branch", name); });
  return 0;
}
