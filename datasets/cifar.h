// CIFAR-10 binary batches (data_batch_1.bin ... data_batch_5.bin, test_batch.bin).
//
// Each file is a sequence of 3073-byte records: one label byte (0..9), then 1024 red, 1024 green
// and 1024 blue bytes of a 32x32 image in row-major order. A file whose size is not a whole number
// of records, or a label out of range, throws strata::Error (kCorruption) naming the file and the
// record. Gzip-compressed files are accepted. Stateless; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "strata/datasets/dataset.h"

namespace strata {

// The records of all files, in order: x f32 [N,3,32,32] = byte / 255, y i64 [N], class names
// "airplane", "automobile", ...
Dataset load_cifar10_batches(const std::vector<std::string>& paths);

}  // namespace strata
