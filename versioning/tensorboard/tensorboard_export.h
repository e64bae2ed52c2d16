// Re-creates TensorBoard event files from the version log alone (docs/design.md "TensorBoard": the log
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

// Re-creates the event files of every branch into <out_dir>/<branch>/ and marks out_dir as
// re-created (a file named kRecreatedMarker). force: delete the event files a previous
// re-creation wrote there first; otherwise an existing event file is an error (TensorBoard would
// show both). Event files written live by training (out_dir without the marker, such as
// <log>/tb) are never deleted: they hold what the log cannot re-create (gradient histograms,
// per-step loss, snapshot/ms), and force is refused there.
TensorBoardExport export_tensorboard(const VersionLog& log, const std::string& out_dir, bool force);
inline constexpr const char* kRecreatedMarker = "STRATA_RECREATED";
// The default out_dir of `strata tensorboard`: <log>/tb-recreated, beside the live <log>/tb.
std::string default_recreated_dir(const VersionLog& log);

}  // namespace strata::versioning
