// The transfer protocol as `strata upload-pack` / `receive-pack` read it from the other side of an ssh connection: a
// stream of request frames, served from the checked-in 0.2.0 test log read-only and, on a
// scratch copy of it, receiving (packs verified and applied); and packs decoded on their own.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "strata/versioning/transfer/internal/transfer_endpoint.h"
#include "strata/versioning/transfer/transfer.h"
#include "tests/fuzz/fuzz_util.h"

namespace {
std::string g_receiver;  // a copy of the fixture log that receiving may change
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_receiver = strata::fuzz::scratch_dir() + "/receiver";
  std::filesystem::copy(STRATA_FIXTURE_LOG, g_receiver, std::filesystem::copy_options::recursive);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::versioning;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  strata::fuzz::expect_clean([&] {
    // What decodes encodes to bytes that decode to the same pack.
    const std::string once = encode_pack(decode_pack(bytes));
    if (encode_pack(decode_pack(once)) != once) std::abort();
  });
  const std::string requests = strata::fuzz::write_input("requests", data, size);
  for (bool receive : {false, true}) {
    const int in = ::open(requests.c_str(), O_RDONLY | O_CLOEXEC);
    const int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (in < 0 || out < 0) std::abort();
    strata::fuzz::expect_clean([&] { serve(receive ? g_receiver : STRATA_FIXTURE_LOG, receive, in, out); });
    ::close(in);
    ::close(out);
  }
  return 0;
}
