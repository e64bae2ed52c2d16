// CSV reader for tabular data: a header row of column names, then numeric rows.
//
// Every column except the target (and any ignored ones) becomes a feature: x f32 [N,features]
// in header order. The target becomes y: f32 [N,1] for regression, or i64 [N] class indices for
// classification. Fields may be quoted ("a,b" and "" as an escaped quote); blank lines are
// skipped; \r\n line ends are accepted. A row with a missing, extra, empty, non-numeric or
// non-finite value throws strata::Error (kCorruption) naming the file, the line (1-based, the
// header is line 1) and the column (1-based, with its name). Stateless; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "strata/datasets/dataset.h"
#include "strata/framework/core/options.h"

namespace strata {

struct CsvOptions {
  // Name of the target column; empty means the last column.
  STRATA_ARG(std::string, target);
  // Classification: if every target value is a non-negative integer, it is the class index
  // (num_classes = max + 1, class names "0", "1", ...); otherwise the distinct values, sorted,
  // are the classes (so "setosa" < "versicolor" < "virginica" map to 0, 1, 2).
  STRATA_ARG(bool, classification) = false;
  STRATA_ARG(char, delimiter) = ',';
  // Columns to drop (row ids, free text); each must exist in the header.
  STRATA_ARG(std::vector<std::string>, ignore_columns);
};

Dataset load_csv(const std::string& path, const CsvOptions& options);

}  // namespace strata
