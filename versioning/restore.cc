#include "strata/versioning/restore.h"

#include <map>

namespace strata::versioning {

TrainState load_state(const VersionLog& log, const std::string& version_name) {
  return log.read_state(log.resolve(version_name));
}

AlignReport align_state(const VersionLog& log, const std::string& version_name, TrainState& target) {
  AlignReport report;
  report.source = log.resolve(version_name);
  NamedTensors source = log.read_params(report.source);
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [name, t] : source) by_name[name] = &t;
  for (auto& [name, t] : target.params) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      report.added.push_back(name);
      continue;
    }
    const Tensor& src = *it->second;
    if (src.shape() != t.shape() || src.dtype() != t.dtype()) {
      report.mismatched.push_back(name);
    } else {
      if (!t.defined()) t = Tensor(src.shape(), src.dtype());
      t.copy_from(src);
      report.matched.push_back(name);
    }
    by_name.erase(it);
  }
  for (const auto& [name, t] : by_name) report.dropped.push_back(name);
  return report;
}

}  // namespace strata::versioning
