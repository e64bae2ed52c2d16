// strata log --tensor / check: questions the history answers (read-only).
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>

#include "strata/framework/core/error.h"
#include "tools/verbs/verbs.h"

namespace strata::tools {

using versioning::CommitId;
using versioning::CommitRecord;
using versioning::OpenMode;
using versioning::short_hex;
using versioning::to_hex;
using versioning::VersionLog;

// `strata check VERSION --baseline REF --metric M (--max-drop D | --max-rise R) ...`: the CI gate.
struct MetricGate {
  std::string metric;
  std::optional<double> max_drop, max_rise;
};

namespace {

struct Movement {
  double mean_abs = 0, max_abs = 0, rel_l2 = 0, norm = 0;
};

// How `now` moved from `before` (same shape): mean and max |now - before|, ||now - before|| /
// ||before||, and ||now||, in double.
Movement movement(const Tensor& now, const Tensor& before) {
  Movement m;
  double diff2 = 0, before2 = 0, now2 = 0;
  const float* x = now.f32();
  const float* y = before.f32();
  for (int64_t i = 0; i < now.numel(); ++i) {
    const double d = static_cast<double>(x[i]) - static_cast<double>(y[i]);
    m.mean_abs += std::fabs(d);
    m.max_abs = std::max(m.max_abs, std::fabs(d));
    diff2 += d * d;
    before2 += static_cast<double>(y[i]) * y[i];
    now2 += static_cast<double>(x[i]) * x[i];
  }
  if (now.numel() > 0) m.mean_abs /= static_cast<double>(now.numel());
  m.rel_l2 = before2 > 0 ? std::sqrt(diff2 / before2) : (diff2 > 0 ? INFINITY : 0.0);
  m.norm = std::sqrt(now2);
  return m;
}

bool has_tensor(const CommitRecord& r, const std::string& name) {
  for (const auto* list : {&r.params, &r.optim})
    for (const auto& e : *list)
      if (e.name == name) return e.dtype == DType::kF32;
  return false;
}

}  // namespace

int cmd_log_tensor(const GlobalOptions& g, const std::string& ref, const std::string& tensor) {
  auto log = open_log(g, OpenMode::kReadOnly);
  std::string start_name = ref;
  if (start_name.empty())
    start_name = default_branch(*log, g, "name a branch: strata log --tensor " + tensor + " BRANCH").value_or("main");
  const std::vector<CommitId> history = log->history_from(log->resolve(start_name));  // newest first
  std::vector<CommitRecord> records;
  for (const CommitId& id : history) records.push_back(log->read_record(id));
  bool anywhere = false;
  for (const CommitRecord& r : records) anywhere = anywhere || has_tensor(r, tensor);
  if (!anywhere)
    throw Error(ErrorCode::kNotFound, "no float tensor '" + tensor + "' in the history of " + start_name, g.log_dir,
                "see `strata show " + start_name + " --tensors` for the names");

  std::vector<std::string> json_items;
  if (!g.json)
    fmt::print("{:<8} {:<14} {:>12} {:>12} {:>12} {:>12}   ({} along {}, newest first; D = p - p_parent)\n", "version", "name",
               "mean|D|", "max|D|", "rel L2", "norm", tensor, start_name);
  // Oldest to newest, so that each tensor is decoded once; printed newest first.
  std::vector<std::string> lines(history.size());
  Tensor previous;
  for (size_t k = history.size(); k-- > 0;) {
    const CommitRecord& r = records[k];
    const std::string name = r.branch + "@" + r.epoch_label();
    if (!has_tensor(r, tensor)) {
      previous = Tensor();
      lines[k] = g.json ? fmt::format("{{\"id\":{},\"name\":{},\"present\":false}}", json_str(to_hex(history[k])), json_str(name))
                        : fmt::format("{:<8} {:<14} (no such tensor)", short_hex(history[k]), name);
      continue;
    }
    Tensor now = log->read_tensor(history[k], tensor);
    const bool comparable = previous.defined() && previous.shape() == now.shape();
    const Movement m = comparable ? movement(now, previous) : movement(now, now);
    if (g.json) {
      lines[k] =
          fmt::format("{{\"id\":{},\"name\":{},\"present\":true,\"mean_abs\":{},\"max_abs\":{},\"rel_l2\":{},\"norm\":{}}}",
                      json_str(to_hex(history[k])), json_str(name), comparable ? json_num(m.mean_abs) : "null",
                      comparable ? json_num(m.max_abs) : "null", comparable ? json_num(m.rel_l2) : "null", json_num(m.norm));
    } else if (comparable) {
      lines[k] = fmt::format("{:<8} {:<14} {:>12.4g} {:>12.4g} {:>12.4g} {:>12.5g}", short_hex(history[k]), name, m.mean_abs,
                             m.max_abs, m.rel_l2, m.norm);
    } else {
      lines[k] = fmt::format("{:<8} {:<14} {:>12} {:>12} {:>12} {:>12.5g}", short_hex(history[k]), name, "-", "-", "-", m.norm);
    }
    previous = std::move(now);
  }
  if (g.json) {
    print_json(
        g, fmt::format("{{\"tensor\":{},\"ref\":{},\"versions\":{}}}", json_str(tensor), json_str(start_name), json_list(lines)));
  } else {
    for (const std::string& line : lines) fmt::print("{}\n", line);
  }
  return 0;
}

int cmd_check(const GlobalOptions& g, const std::string& version, const std::string& baseline,
              const std::vector<MetricGate>& gates) {
  if (gates.empty()) throw_invalid("check needs at least one --metric with --max-drop or --max-rise");
  auto log = open_log(g, OpenMode::kReadOnly);
  const CommitId v = log->resolve(version), b = log->resolve(baseline);
  const CommitRecord rv = log->read_record(v), rb = log->read_record(b);
  bool all_pass = true;
  std::vector<std::string> json_items;
  for (const MetricGate& gate : gates) {
    if (!gate.max_drop && !gate.max_rise)
      throw_invalid("--metric " + gate.metric + " has neither --max-drop nor --max-rise", "", "follow it with one of them");
    auto mv = rv.metrics.find(gate.metric), mb = rb.metrics.find(gate.metric);
    std::string verdict, why;
    double delta = NAN;
    if (mv == rv.metrics.end() || mb == rb.metrics.end()) {
      verdict = "FAIL";
      why = "not recorded in " + log->describe(mv == rv.metrics.end() ? v : b);
    } else {
      delta = mv->second - mb->second;  // A_v - A_baseline
      bool pass = std::isfinite(delta);
      if (gate.max_drop) {
        pass = pass && delta >= -*gate.max_drop;
        why = fmt::format("{:+.6g} {} -{:g}", delta, delta >= -*gate.max_drop ? ">=" : "<", *gate.max_drop);
      }
      if (gate.max_rise) {
        pass = pass && delta <= *gate.max_rise;
        why += fmt::format("{}{:+.6g} {} +{:g}", why.empty() ? "" : ", ", delta, delta <= *gate.max_rise ? "<=" : ">",
                           *gate.max_rise);
      }
      verdict = pass ? "PASS" : "FAIL";
      why = fmt::format("{:.6g} vs {:.6g}: delta {}", mv->second, mb->second, why);
    }
    all_pass = all_pass && verdict == "PASS";
    if (g.json) {
      json_items.push_back(fmt::format("{{\"metric\":{},\"pass\":{},\"value\":{},\"baseline\":{},\"delta\":{}}}",
                                       json_str(gate.metric), verdict == "PASS" ? "true" : "false",
                                       mv == rv.metrics.end() ? "null" : json_num(mv->second),
                                       mb == rb.metrics.end() ? "null" : json_num(mb->second), json_num(delta)));
    } else {
      fmt::print("{} {}: {} (version {}, baseline {})\n", verdict, gate.metric, why, log->describe(v), log->describe(b));
    }
  }
  if (g.json)
    fmt::print("{{\"version\":{},\"baseline\":{},\"pass\":{},\"metrics\":{}}}\n", json_str(to_hex(v)), json_str(to_hex(b)),
               all_pass ? "true" : "false", json_list(json_items));
  return all_pass ? 0 : 1;
}

// The command line of `check` (tools/verbs/verbs.h); `log --tensor` is a flag of `log`.
namespace {

Verb check_verb(CLI::App& app, const GlobalOptions& g) {
  struct Args {
    std::string version, baseline;
    std::vector<MetricGate> gates;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("check", "regression gate: exit 1 when a metric fell (or rose) too far from a baseline");
  c->add_option("VERSION", a->version, "the version to check")->required();
  c->add_option("--baseline", a->baseline, "the version to compare with")->required();
  c->add_option_function<std::string>(
       "--metric",
       [a](const std::string& m) {
         a->gates.push_back({m, {}, {}});
       },
       "a metric; the --max-drop / --max-rise after it apply to it")
      ->trigger_on_parse()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  // --max-drop / --max-rise bound the --metric named last.
  auto gate_bound = [a](const char* flag, bool drop) {
    return [a, flag, drop](const double& v) {
      if (a->gates.empty()) throw CLI::ValidationError(flag, "name the metric first: --metric M " + std::string(flag) + " X");
      if (!(v >= 0) || !std::isfinite(v)) throw CLI::ValidationError(flag, "a number >= 0");
      (drop ? a->gates.back().max_drop : a->gates.back().max_rise) = v;
    };
  };
  c->add_option_function<double>("--max-drop", gate_bound("--max-drop", true), "fail when metric - baseline < -X")
      ->trigger_on_parse()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  c->add_option_function<double>("--max-rise", gate_bound("--max-rise", false), "fail when metric - baseline > X")
      ->trigger_on_parse()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto check = [a] {
    if (a->gates.empty()) throw CLI::ValidationError("check", "name a metric: --metric M --max-drop X (or --max-rise X)");
    for (const MetricGate& gate : a->gates)
      if (!gate.max_drop && !gate.max_rise)
        throw CLI::ValidationError("--metric", gate.metric + " needs --max-drop X or --max-rise X after it");
  };
  return {c, check, [&g, a] { return cmd_check(g, a->version, a->baseline, a->gates); }};
}

const VerbRegistration kCheck(20, check_verb);

}  // namespace
}  // namespace strata::tools
