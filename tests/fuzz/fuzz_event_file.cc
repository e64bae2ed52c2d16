// TensorBoard event files: TFRecord framing (both CRCs) and the Event/Summary protos inside.
#include "strata/framework/summary/event_reader.h"
#include "strata/framework/summary/internal/record_io.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  strata::fuzz::expect_clean([&] { strata::summary::decode_records(bytes, "fuzz"); });
  std::string path = strata::fuzz::write_input("events.out.tfevents.1", data, size);
  strata::fuzz::expect_clean([&] { strata::summary::read_events(path); });
  return 0;
}
