// strata: the command line of the version log (docs/design.md "The version log", "Command line").
//
// Every verb takes --log DIR (or $STRATA_LOG) and --json for machine output with stable field
// names (docs/cli.md). Reading verbs open the log read-only, so they work while a
// training process writes; verbs that change refs or chunks take the writer lock.
// Exit codes: 0 success, 1 bad input or a failed check (message "error: ..." on stderr),
// 2 usage errors reported by CLI11.
#include <cmath>
#include <iostream>

#include <CLI/CLI.hpp>

#include "strata/framework/core/error.h"
#include "strata/framework/core/version.h"
#include "strata/framework/train/runtime.h"
#include "tools/flag_checks.h"
#include "tools/verbs.h"

namespace strata::tools {
namespace {

int run(int argc, char** argv) {
  CLI::App app{"strata: inspect and manage a Strata version log"};
  app.set_version_flag("--version", std::string("strata ") + version() + " (oneDNN " + onednn_version() + ")");
  app.require_subcommand(1);
  app.fallthrough();  // --log / --json may follow the verb
  GlobalOptions g;
  app.add_option("--log", g.log_dir, "version log directory")->envname("STRATA_LOG");
  app.add_flag("--json", g.json, "machine-readable JSON output");

  std::string log_ref;
  bool log_all = false, log_graph = false;
  CLI::App* log_cmd = app.add_subcommand("log", "list versions, newest first");
  log_cmd->add_option("REF", log_ref, "branch or version to start from (default: main)");
  log_cmd->add_flag("--all", log_all, "every version of every branch and tag");
  log_cmd->add_flag("--graph", log_graph, "draw the version DAG (branch points, merges)");
  std::string log_tensor;
  bool log_regressions = false;
  RegressionQuery regression_query;
  log_cmd->add_option("--tensor", log_tensor, "how one tensor moved per version: mean|D|, max|D|, relative L2, norm");
  log_cmd->add_flag("--regressions", log_regressions, "mark versions whose --metric got worse than their parent's by more than --threshold");
  log_cmd->add_option("--metric", regression_query.metric, "the metric --regressions watches (e.g. val/accuracy)");
  log_cmd->add_option("--threshold", regression_query.threshold, "--regressions: the change that counts")->check(flags::at_least(0));

  std::string check_version, check_baseline;
  std::vector<MetricGate> check_gates;
  CLI::App* check_cmd = app.add_subcommand("check", "regression gate: exit 1 when a metric fell (or rose) too far from a baseline");
  check_cmd->add_option("VERSION", check_version, "the version to check")->required();
  check_cmd->add_option("--baseline", check_baseline, "the version to compare with")->required();
  check_cmd->add_option_function<std::string>("--metric", [&](const std::string& m) { check_gates.push_back({m, {}, {}}); },
                                              "a metric; the --max-drop / --max-rise after it apply to it")
      ->trigger_on_parse()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto gate_bound = [&](const char* flag, bool drop) {
    return [&check_gates, flag, drop](const double& v) {
      if (check_gates.empty()) throw CLI::ValidationError(flag, "name the metric first: --metric M " + std::string(flag) + " X");
      if (!(v >= 0) || !std::isfinite(v)) throw CLI::ValidationError(flag, "a number >= 0");
      (drop ? check_gates.back().max_drop : check_gates.back().max_rise) = v;
    };
  };
  check_cmd->add_option_function<double>("--max-drop", gate_bound("--max-drop", true), "fail when metric - baseline < -X")
      ->trigger_on_parse()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  check_cmd->add_option_function<double>("--max-rise", gate_bound("--max-rise", false), "fail when metric - baseline > X")
      ->trigger_on_parse()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);

  std::string show_name;
  bool show_tensors = false, show_graph = false;
  CLI::App* show_cmd = app.add_subcommand("show", "describe one version");
  show_cmd->add_option("VERSION", show_name, "version name")->required();
  show_cmd->add_flag("--tensors", show_tensors, "list tensors with shape, dtype and bytes");
  show_cmd->add_flag("--graph", show_graph, "list the computation graph's nodes with shapes");

  std::string diff_a, diff_b;
  double diff_eps = 0.0;
  size_t diff_top = 20;
  CLI::App* diff_cmd = app.add_subcommand("diff", "what changed between two versions");
  diff_cmd->add_option("A", diff_a, "first version")->required();
  diff_cmd->add_option("B", diff_b, "second version")->required();
  diff_cmd->add_option("--eps", diff_eps, "a tensor is changed when mean |a-b| > eps")->check(flags::at_least(0));
  diff_cmd->add_option("--top", diff_top, "show the N most changed tensors")->check(flags::at_least(1));

  std::vector<std::string> compare_versions, compare_metrics;
  CLI::App* compare_cmd = app.add_subcommand("compare", "metrics of several versions side by side");
  compare_cmd->add_option("VERSIONS", compare_versions, "versions to compare")->required();
  compare_cmd->add_option("--metric", compare_metrics, "only this metric (repeatable; 'val/*' for a prefix)");

  std::string ref_name, ref_version;
  bool ref_delete = false, ref_force = false;
  CLI::App* branch_cmd = app.add_subcommand("branch", "list, create, move or delete branches");
  CLI::App* tag_cmd = app.add_subcommand("tag", "list, create, move or delete tags");
  for (CLI::App* c : {branch_cmd, tag_cmd}) {
    c->add_option("NAME", ref_name, "ref name");
    c->add_option("VERSION", ref_version, "version it points to");
    c->add_flag("-d,--delete", ref_delete, "delete the ref");
    c->add_flag("-f,--force", ref_force, "move an existing ref");
  }

  versioning::MergeRequest merge;
  std::string merge_method = "average";
  std::vector<std::string> merge_take;
  CLI::App* merge_cmd = app.add_subcommand("merge", "merge two versions into a new one (average, task arithmetic, TIES)");
  merge_cmd->add_option("A", merge.a, "first version (its branch gets the merge)")->required();
  merge_cmd->add_option("B", merge.b, "second version")->required();
  merge_cmd->add_option("--method", merge_method,
                        "average: (1-alpha)A + alpha B; task-arithmetic: base + lambda((A-base) + (B-base)); ties: "
                        "trim, elect sign, disjoint mean of the changes since the merge base")
      ->check(CLI::IsMember({"average", "task-arithmetic", "ties"}));
  merge_cmd->add_option("--alpha", merge.alpha, "average: result = (1 - alpha) A + alpha B")->check(flags::between(0, 1));
  merge_cmd->add_option("--lambda", merge.lambda, "task-arithmetic, ties: scale of the merged change")
      ->check(flags::between(0, 10));
  merge_cmd->add_option("--density", merge.density, "ties: share of each change kept (largest magnitudes)")
      ->check(flags::between(0, 1))
      ->check(flags::at_least(0, true));
  merge_cmd->add_option("--take", merge_take, "PATTERN=A|B: tensors matching PATTERN (fnmatch) taken whole from one side");
  merge_cmd->add_option("--branch", merge.branch, "branch for the merge (default: A's, A must be its head)");
  merge_cmd->add_option("-m,--message", merge.message, "commit message");

  std::string export_version, export_params, export_safetensors, export_onnx, export_batch = "dynamic";
  int export_opset = 17;
  bool export_optim = false;
  CLI::App* export_cmd = app.add_subcommand("export", "write a version's tensors to a portable file");
  export_cmd->add_option("VERSION", export_version, "version name")->required();
  CLI::Option* npz_opt =
      export_cmd->add_option("--params", export_params, "NumPy .npz archive to write (numpy.load reads it)");
  CLI::Option* st_opt =
      export_cmd->add_option("--safetensors", export_safetensors, "safetensors file to write (Hugging Face format)")
          ->excludes(npz_opt);
  export_cmd->add_option("--onnx", export_onnx, "ONNX model to write (graph and parameters)")->excludes(npz_opt)->excludes(st_opt);
  export_cmd->add_option("--opset", export_opset, "ONNX opset")->check(CLI::Range(13, 17));
  export_cmd->add_option("--batch", export_batch, "ONNX batch dimension: dynamic or a size");
  export_cmd->add_flag("--with-optim", export_optim, "also the optimizer state (optim/<param>/<slot>)");

  ImportOptions import;
  CLI::App* import_cmd = app.add_subcommand("import", "a new version whose parameters come from a .npz or .safetensors file");
  import_cmd->add_option("FILE", import.file, "tensor file (.npz, .safetensors), names like fc1/weight")->required();
  CLI::Option* graph_opt = import_cmd->add_option("--graph", import.graph_version, "take the graph of VERSION");
  import_cmd->add_option("--model", import.model, "or build the graph of a model: mlp, cnn, resnet")->excludes(graph_opt);
  import_cmd->add_option("--input-shape", import.input_shape, "with --model: the sample shape (default 1 28 28)");
  import_cmd->add_option("--classes", import.classes, "with --model: the number of classes")->check(flags::positive());
  import_cmd->add_option("--branch", import.branch, "the new branch")->required();
  import_cmd->add_option("-m,--message", import.message, "commit message");
  import_cmd->add_flag("--allow-partial", import.allow_partial,
                       "import what matches; the rest keeps the graph's fresh initialisation");
  import_cmd->add_option("--seed", import.seed, "seed of that initialisation");

  std::string verify_name;
  bool verify_all = false;
  CLI::App* verify_cmd = app.add_subcommand("verify", "re-hash every chunk; exit 1 on damage");
  verify_cmd->add_option("VERSION", verify_name, "one version (default: all)");
  verify_cmd->add_flag("--all", verify_all, "every version");

  int gc_keep_full = 0;
  CLI::App* gc_cmd = app.add_subcommand("gc", "delete versions and chunks no branch or tag reaches");
  gc_cmd->add_option("--keep-full", gc_keep_full,
                     "retention: keep optimizer state only for the newest K versions of each branch, heads and "
                     "tags (older versions stay diffable and exportable but cannot be resumed exactly)")
      ->check(flags::positive());
  CLI::App* compact_cmd = app.add_subcommand(
      "compact", "compress the versions a training run stored raw (done at the end of fit(); needed after a kill)");
  CLI::App* du_cmd = app.add_subcommand("du", "bytes stored vs raw, by branch, kind, tensor and codec");

  PredictOptions predict;
  CLI::App* predict_cmd = app.add_subcommand("predict", "a version's predictions on a file of inputs");
  predict_cmd->add_option("VERSION", predict.version, "version name")->required();
  predict_cmd->add_option("--input", predict.input, "inputs: an IDX file (Fashion-MNIST images), a .npy array or a CSV file")
      ->required();
  predict_cmd->add_option("--labels", predict.labels, "labels (IDX or .npy): adds accuracy and the confusion matrix");
  predict_cmd->add_option("--format", predict.format, "idx | npy | csv (default: by extension)")
      ->check(CLI::IsMember({"idx", "npy", "csv"}));
  predict_cmd->add_option("--target", predict.target, "csv: the column holding the labels");
  predict_cmd->add_option("--batch", predict.batch, "samples per forward pass")->check(CLI::Range(1, 1 << 20));
  predict_cmd->add_option("--top", predict.top, "classes listed per row")->check(CLI::Range(1, 1000));
  predict_cmd->add_option("--show", predict.show, "rows printed (text output)")->check(CLI::Range(0, 1 << 30));
  predict_cmd->add_option("--bench", predict.bench, "also time N single-sample predictions (latency p50/p99)")
      ->check(CLI::Range(1, 1000000));

  std::string tb_out;
  bool tb_force = false;
  CLI::App* tb_cmd = app.add_subcommand("tensorboard", "re-create TensorBoard event files from the log");
  tb_cmd->add_option("--out", tb_out, "output directory (default: <log>/tb-recreated; never the live <log>/tb)");
  tb_cmd->add_flag("--force", tb_force, "replace event files an earlier re-creation wrote there");

  std::string base_a, base_b;
  CLI::App* base_cmd = app.add_subcommand("merge-base", "the nearest common ancestor of two versions");
  base_cmd->add_option("A", base_a, "a version")->required();
  base_cmd->add_option("B", base_b, "another version")->required();

  // Sharing histories (versioning/transfer.h).
  std::string clone_src, clone_dst, transfer_remote;
  std::vector<std::string> transfer_branches;
  versioning::TransferOptions transfer;
  bool transfer_tags = false, transfer_force = false;
  std::string remote_strata = "strata";
  CLI::App* clone_cmd = app.add_subcommand("clone", "copy a log (every branch and tag) from a directory or ssh://host/path");
  clone_cmd->add_option("SRC", clone_src, "log directory or ssh://[user@]host[:port]/path")->required();
  clone_cmd->add_option("DST", clone_dst, "new log directory")->required();
  CLI::App* push_cmd = app.add_subcommand("push", "send branches (fast-forward only) and their versions to another log");
  CLI::App* pull_cmd = app.add_subcommand("pull", "bring branches (fast-forward only) and their versions from another log");
  for (CLI::App* c : {push_cmd, pull_cmd}) {
    c->add_option("REMOTE", transfer_remote, "remote name (strata remote), log directory or ssh://[user@]host[:port]/path")->required();
    c->add_option("BRANCH", transfer_branches, "branches to send, NAME or SRC:DST (default: every branch)");
    c->add_flag("--tags", transfer_tags, "also every tag");
    c->add_flag("-f,--force", transfer_force, "move refs that would not fast-forward");
  }
  for (CLI::App* c : {clone_cmd, push_cmd, pull_cmd})
    c->add_option("--remote-strata", remote_strata, "the strata program on the far side of ssh (default: strata)");
  std::string remote_action, remote_name, remote_url;
  bool remote_force = false;
  CLI::App* remote_cmd = app.add_subcommand("remote", "named remotes: list, add NAME URL, remove NAME");
  remote_cmd->add_option("ACTION", remote_action, "list (default), add or remove")->check(CLI::IsMember({"list", "add", "remove"}));
  remote_cmd->add_option("NAME", remote_name, "remote name");
  remote_cmd->add_option("URL", remote_url, "log directory or ssh://[user@]host[:port]/path");
  remote_cmd->add_flag("-f,--force", remote_force, "replace an existing remote");
  versioning::ServerOptions serve;
  std::vector<std::string> serve_refs;
  int serve_max_body_mb = 64;
  CLI::App* serve_cmd = app.add_subcommand("serve", "serve tags or branches over HTTP (Open Inference Protocol v2, Prometheus /metrics)");
  serve_cmd->add_option("REF", serve_refs, "tags or branches, each served as a model named after it")->required();
  serve_cmd->add_option("--host", serve.host(), "address to listen on (default 127.0.0.1: this machine only)");
  serve_cmd->add_option("--port", serve.port(), "TCP port (0: any free port)")->check(CLI::Range(0, 65535));
  serve_cmd->add_option("--poll-ms", serve.poll_ms(), "how often each ref is looked up for a new version")->check(CLI::Range(10, 3600000));
  serve_cmd->add_option("--threads", serve.threads(), "inference slots, one Predictor each (default: one per core)")->check(CLI::Range(1, 256));
  serve_cmd->add_option("--http-threads", serve.http_threads(), "connections served at once")->check(CLI::Range(1, 1024));
  serve_cmd->add_option("--max-batch", serve.max_batch(), "dynamic batching: merge concurrent requests up to N samples (1: off)")->check(CLI::Range(1, 4096));
  serve_cmd->add_option("--batch-timeout-us", serve.batch_timeout_us(), "dynamic batching: wait at most this for a batch to fill")->check(CLI::Range(0, 1000000));
  serve_cmd->add_option("--max-queue", serve.max_queue(), "requests waiting for a slot; more are answered 503")->check(CLI::Range(1, 1 << 20));
  serve_cmd->add_option("--max-body-mb", serve_max_body_mb, "larger request bodies are answered 413")->check(CLI::Range(1, 4096));
  serve_cmd->add_option("--keep-versions", serve.keep_versions(), "loaded versions kept per model for an instant rollback")->check(CLI::Range(1, 100));
  serve_cmd->add_option("--drift-window", serve.drift_window(), "recent samples compared with the training inputs")->check(CLI::Range(10, 1000000));

  // Plumbing, run by clone/push/pull over ssh (git's upload-pack / receive-pack): the transfer
  // protocol on stdin/stdout, read-only for upload-pack, writing for receive-pack.
  std::string pack_dir;
  CLI::App* upload_pack_cmd = app.add_subcommand("upload-pack", "the far side of clone/pull over ssh (read-only)");
  CLI::App* receive_pack_cmd = app.add_subcommand("receive-pack", "the far side of push over ssh (writes the log)");
  for (CLI::App* c : {upload_pack_cmd, receive_pack_cmd}) {
    c->add_option("DIR", pack_dir, "the log")->required();
    c->group("");  // hidden from --help: not for people
  }

  if (int code = flags::parse(app, argc, argv); code >= 0) return code;
  try {
    merge.method = *versioning::merge_method_from_name(merge_method);  // checked by IsMember
    for (const std::string& rule : merge_take) {
      try {
        merge.take.push_back(versioning::parse_take_rule(rule));
      } catch (const Error& e) {
        throw CLI::ValidationError("--take", e.what());
      }
    }
    if (export_cmd->parsed() && !export_params.empty() + !export_safetensors.empty() + !export_onnx.empty() != 1)
      throw CLI::ValidationError("export", "name one file: --params FILE.npz, --safetensors FILE or --onnx FILE");
    if (export_batch != "dynamic" &&
        (export_batch.empty() || export_batch.size() > 9 || export_batch.find_first_not_of("0123456789") != std::string::npos ||
         std::stoll(export_batch) == 0))
      throw CLI::ValidationError("--batch", "dynamic or a positive number, not '" + export_batch + "'");
    if (log_regressions && regression_query.metric.empty())
      throw CLI::ValidationError("--regressions", "name the metric: --regressions --metric M --threshold T");
    if (!log_tensor.empty() && (log_all || log_graph || log_regressions))
      throw CLI::ValidationError("--tensor", "lists one tensor along one history; it takes no --all, --graph or --regressions");
    if (check_cmd->parsed() && check_gates.empty())
      throw CLI::ValidationError("check", "name a metric: --metric M --max-drop X (or --max-rise X)");
    for (const MetricGate& gate : check_gates)
      if (!gate.max_drop && !gate.max_rise)
        throw CLI::ValidationError("--metric", gate.metric + " needs --max-drop X or --max-rise X after it");
    for (const std::string& b : transfer_branches) {
      try {
        transfer.branches().push_back(versioning::parse_refspec(b));
      } catch (const Error& e) {
        throw CLI::ValidationError("BRANCH", e.what());
      }
    }
    transfer.tags(transfer_tags).force(transfer_force).remote_strata(remote_strata);
    if (import_cmd->parsed() && import.graph_version.empty() == import.model.empty())
      throw CLI::ValidationError("import", "name the graph: --graph VERSION or --model NAME");
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  try {
    if (log_cmd->parsed() && !log_tensor.empty()) return cmd_log_tensor(g, log_ref, log_tensor);
    if (log_cmd->parsed())
      return cmd_log(g, log_ref, log_all, log_graph, log_regressions ? std::optional(regression_query) : std::nullopt);
    if (check_cmd->parsed()) return cmd_check(g, check_version, check_baseline, check_gates);
    if (show_cmd->parsed()) return cmd_show(g, show_name, show_tensors, show_graph);
    if (diff_cmd->parsed()) return cmd_diff(g, diff_a, diff_b, diff_eps, diff_top);
    if (compare_cmd->parsed()) return cmd_compare(g, compare_versions, compare_metrics);
    if (branch_cmd->parsed()) return cmd_refs(g, false, ref_name, ref_version, ref_delete, ref_force);
    if (tag_cmd->parsed()) return cmd_refs(g, true, ref_name, ref_version, ref_delete, ref_force);
    if (merge_cmd->parsed()) return cmd_merge(g, merge);
    if (base_cmd->parsed()) return cmd_merge_base(g, base_a, base_b);
    if (export_cmd->parsed() && !export_onnx.empty())
      return cmd_export_onnx(g, export_version, export_onnx, export_opset, export_batch == "dynamic" ? 0 : std::stoll(export_batch));
    if (export_cmd->parsed())
      return export_params.empty() ? cmd_export(g, export_version, export_safetensors, versioning::TensorFileFormat::kSafetensors, export_optim)
                                   : cmd_export(g, export_version, export_params, versioning::TensorFileFormat::kNpz, export_optim);
    if (import_cmd->parsed()) return cmd_import(g, import);
    if (predict_cmd->parsed()) return cmd_predict(g, predict);
    if (verify_cmd->parsed()) return cmd_verify(g, verify_name, verify_all);
    if (gc_cmd->parsed()) return cmd_gc(g, gc_keep_full);
    if (compact_cmd->parsed()) return cmd_compact(g);
    if (du_cmd->parsed()) return cmd_du(g);
    if (tb_cmd->parsed()) return cmd_tensorboard(g, tb_out, tb_force);
    if (clone_cmd->parsed()) return cmd_clone(g, clone_src, clone_dst, transfer);
    if (push_cmd->parsed()) return cmd_push(g, transfer_remote, transfer);
    if (pull_cmd->parsed()) return cmd_pull(g, transfer_remote, transfer);
    if (remote_cmd->parsed()) return cmd_remote(g, remote_action, remote_name, remote_url, remote_force);
    if (serve_cmd->parsed()) return cmd_serve(g, serve.refs(serve_refs).max_body_bytes(int64_t{serve_max_body_mb} << 20));
    if (upload_pack_cmd->parsed()) return cmd_transfer_endpoint(pack_dir, false);
    if (receive_pack_cmd->parsed()) return cmd_transfer_endpoint(pack_dir, true);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 2;
}

}  // namespace
}  // namespace strata::tools

int main(int argc, char** argv) { return strata::tools::run(argc, argv); }
