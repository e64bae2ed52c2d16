// Re-creates TensorBoard event files from the version log alone (DESIGN "TensorBoard": the log
// is the source of truth, event files are a view). One run per branch, <out_dir>/<branch>/, with
// the same per-epoch scalars, parameter histograms, version text, graph and hparams the live
// TensorBoardCallback writes; gradient histograms and snapshot/ms exist only in live files
// (the log keeps parameters, not gradients or timings).
#pragma once

#include <string>

#include "strata/versioning/version_log.h"

namespace strata::versioning {

struct TensorBoardExport {
  int runs = 0;
  int versions = 0;
};

// force: delete existing event files of a run directory first (otherwise an existing event
// file is an error: TensorBoard would show both).
TensorBoardExport export_tensorboard(const VersionLog& log, const std::string& out_dir, bool force);

}  // namespace strata::versioning
