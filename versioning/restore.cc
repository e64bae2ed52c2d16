#include "strata/versioning/restore.h"

#include <map>

namespace strata::versioning {

TrainState load_state(const VersionLog& log, const std::string& version_name) {
  return log.read_state(log.resolve(version_name));
}

TensorMatch copy_matching(const NamedTensors& source, NamedTensors& target) {
  TensorMatch match;
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [name, t] : source) by_name[name] = &t;
  for (auto& [name, t] : target) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      match.missing.push_back(name);
      continue;
    }
    const Tensor& src = *it->second;
    if (src.shape() != t.shape() || src.dtype() != t.dtype()) {
      match.mismatched.push_back(name);
    } else {
      if (!t.defined()) t = Tensor(src.shape(), src.dtype());
      t.copy_from(src);
      match.matched.push_back(name);
    }
    by_name.erase(it);
  }
  for (const auto& [name, t] : by_name) match.unexpected.push_back(name);
  return match;
}

AlignReport align_state(const VersionLog& log, const std::string& version_name, TrainState& target) {
  AlignReport report;
  report.source = log.resolve(version_name);
  TensorMatch match = copy_matching(log.read_params(report.source), target.params);
  report.matched = std::move(match.matched);
  report.added = std::move(match.missing);
  report.dropped = std::move(match.unexpected);
  report.mismatched = std::move(match.mismatched);
  return report;
}

}  // namespace strata::versioning
