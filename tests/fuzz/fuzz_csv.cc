// CSV reader, as regression and as classification (the first input byte picks the mode and the
// delimiter, so one corpus covers both).
#include "strata/datasets/csv.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string path = strata::fuzz::write_input("table.csv", data + 1, size - 1);
  auto options = strata::CsvOptions().classification(data[0] & 1).delimiter(data[0] & 2 ? ';' : ',');
  strata::fuzz::expect_clean([&] { strata::load_csv(path, options); });
  return 0;
}
