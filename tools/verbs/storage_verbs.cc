// strata verify / gc / du / export / tensorboard: the log's bytes.
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "strata/framework/core/error.h"
#include "strata/models/models.h"
#include "strata/versioning/onnx/onnx_export.h"
#include "strata/versioning/run/import.h"
#include "strata/versioning/storage_report.h"
#include "strata/versioning/tensor_files.h"
#include "strata/versioning/tensorboard/tensorboard_export.h"
#include "tools/flag_checks.h"
#include "tools/verbs/verbs.h"

namespace strata::tools {

struct ImportOptions {
  std::string file, graph_version, model, branch, message;
  std::string input_mean, input_std;  // empty: with --graph, that version's normalisation
  bool no_normalisation = false;
  std::vector<int64_t> input_shape{1, 28, 28};
  int64_t classes = 10;
  bool allow_partial = false;
  uint64_t seed = 0;
  std::string sign_key;
};

using versioning::CommitId;
using versioning::OpenMode;
using versioning::StorageUsage;
using versioning::to_hex;

// Accepts the refs, index, signatures and trust list as they are (VersionLog::reseal_digests).
int cmd_reseal(const GlobalOptions& g) {
  auto log = open_log(g, OpenMode::kReadWrite, versioning::LogOptions().check_digests(false));
  const std::vector<std::string> accepted = log->reseal_digests();
  for (const std::string& a : accepted) fmt::print("accepted: {}\n", a);
  fmt::print(accepted.empty() ? "the digests already matched; nothing changed\n"
                              : "resealed: the refs, index, signatures and trust list are accepted as they are now\n");
  return 0;
}

struct VerifyFlags {
  std::string version;
  bool all = false, reseal = false, require_signed = false;
  std::vector<std::string> trusted;
};

// The signatures of the versions verified: counts by status, and each version that is not
// signed by a trusted key.
struct SignatureSummary {
  std::map<versioning::SignatureStatus, size_t> counts;
  std::vector<std::pair<CommitId, versioning::SignatureCheck>> not_trusted;
};

SignatureSummary summarize_signatures(const versioning::VersionLog& log, const std::vector<CommitId>& ids,
                                      const versioning::TrustPolicy& policy) {
  SignatureSummary out;
  for (const CommitId& id : ids) {
    versioning::SignatureCheck c = log.check_version(id, policy);
    ++out.counts[c.status];
    if (c.status != versioning::SignatureStatus::kTrusted) out.not_trusted.emplace_back(id, std::move(c));
  }
  return out;
}

std::string signature_line(const versioning::VersionLog& log, const CommitId& id, const versioning::SignatureCheck& c) {
  using versioning::SignatureStatus;
  switch (c.status) {
    case SignatureStatus::kBad:
      return fmt::format("BAD {} (signature): {}", safe_describe(log, id), c.problem);
    case SignatureStatus::kUnsigned:
      return fmt::format("UNSIGNED {}", safe_describe(log, id));
    case SignatureStatus::kRevoked:
      return fmt::format("REVOKED {}: signed by {}, whose key was revoked", safe_describe(log, id), c.signer);
    default:
      return fmt::format("UNTRUSTED {}: signed by key {}, which is not trusted", safe_describe(log, id),
                         versioning::key_id_hex(c.key_id));
  }
}

int cmd_verify(const GlobalOptions& g, const VerifyFlags& f) {
  // Opened without the digest check, so that every difference is listed rather than the first.
  auto log = open_log(g, OpenMode::kReadOnly, versioning::LogOptions().check_digests(false));
  if (f.all && !f.version.empty()) throw_invalid("verify takes a version or --all, not both");
  std::optional<CommitId> target;
  if (!f.version.empty()) target = log->resolve(f.version);
  const versioning::VerifyReport report = log->verify(target);
  const SignatureSummary sigs =
      summarize_signatures(*log, target ? std::vector<CommitId>{*target} : log->all_versions(), log->trust_policy(f.trusted));
  auto count = [&](versioning::SignatureStatus s) {
    auto it = sigs.counts.find(s);
    return it == sigs.counts.end() ? size_t{0} : it->second;
  };
  const size_t bad = count(versioning::SignatureStatus::kBad);
  const size_t failing = f.require_signed ? sigs.not_trusted.size() : bad;
  if (g.json) {
    std::vector<std::string> items, versions;
    for (const auto& issue : report.issues) {
      items.push_back(fmt::format("{{\"id\":{},\"version\":{},\"tensor\":{},\"problem\":{}}}", json_str(to_hex(issue.version)),
                                  json_str(safe_describe(*log, issue.version)), json_str(issue.tensor), json_str(issue.problem)));
    }
    for (const auto& [id, c] : sigs.not_trusted)
      versions.push_back(fmt::format("{{\"id\":{},\"status\":\"{}\",\"signer\":{},\"problem\":{}}}", json_str(to_hex(id)),
                                     versioning::signature_status_name(c.status), json_str(c.signer), json_str(c.problem)));
    fmt::print(
        "{{\"ok\":{},\"versions_checked\":{},\"chunks_checked\":{},\"issues\":{},\"signatures\":{{\"trusted\":{},"
        "\"untrusted\":{},\"revoked\":{},\"unsigned\":{},\"bad\":{},\"not_trusted\":{}}}}}\n",
        report.ok() && failing == 0 ? "true" : "false", report.versions_checked, report.chunks_checked, json_list(items),
        count(versioning::SignatureStatus::kTrusted), count(versioning::SignatureStatus::kUntrusted),
        count(versioning::SignatureStatus::kRevoked), count(versioning::SignatureStatus::kUnsigned), bad, json_list(versions));
  } else {
    for (const auto& issue : report.issues) {
      fmt::print("BAD {} {}: {}\n", safe_describe(*log, issue.version), issue.tensor.empty() ? "(record)" : issue.tensor,
                 issue.problem);
    }
    const bool any_signed = sigs.not_trusted.size() < report.versions_checked || f.require_signed || !f.trusted.empty();
    for (const auto& [id, c] : sigs.not_trusted)
      if (f.require_signed || c.status != versioning::SignatureStatus::kUnsigned || (any_signed && target))
        fmt::print("{}\n", signature_line(*log, id, c));
    fmt::print("checked {} version(s), {} chunk(s): {}\n", report.versions_checked, report.chunks_checked,
               report.ok() ? "ok" : fmt::format("{} problem(s)", report.issues.size()));
    fmt::print("signatures: {} trusted, {} untrusted, {} revoked, {} unsigned, {} bad{}\n",
               count(versioning::SignatureStatus::kTrusted), count(versioning::SignatureStatus::kUntrusted),
               count(versioning::SignatureStatus::kRevoked), count(versioning::SignatureStatus::kUnsigned), bad,
               f.trusted.empty() ? " (against the log's trust list)" : " (against --trusted)");
  }
  if (!report.ok()) std::cerr << "error: verification found " << report.issues.size() << " problem(s)\n";
  if (bad) std::cerr << "error: " << bad << " version(s) carry a signature that does not verify (corruption)\n";
  if (f.require_signed && sigs.not_trusted.size() > bad)
    std::cerr << "error: --require-signed: " << sigs.not_trusted.size() - bad << " version(s) are not signed by a trusted key\n";
  return report.ok() && failing == 0 ? 0 : 1;
}

namespace {

void print_compaction(const versioning::CompactReport& r) {
  if (r.versions == 0) return;
  fmt::print("compact: {} version(s) compressed, {} chunk(s) re-encoded ({} as deltas), {} -> {} in {:.2f} s\n", r.versions,
             r.chunks_encoded, r.delta_chunks, human_bytes(r.bytes_before), human_bytes(r.bytes_after), r.seconds);
}

std::string compaction_json(const versioning::CompactReport& r) {
  return fmt::format(
      "{{\"versions\":{},\"chunks_encoded\":{},\"delta_chunks\":{},\"bytes_before\":{},"
      "\"bytes_after\":{},\"seconds\":{:.3f}}}",
      r.versions, r.chunks_encoded, r.delta_chunks, r.bytes_before, r.bytes_after, r.seconds);
}

}  // namespace

int cmd_compact(const GlobalOptions& g) {
  auto log = open_log(g, OpenMode::kReadWrite);
  versioning::CompactReport r = log->compact_pending();
  if (g.json) {
    fmt::print("{}\n", compaction_json(r));
  } else if (r.versions == 0) {
    fmt::print("compact: nothing queued (every version is stored with the log's codec)\n");
  } else {
    print_compaction(r);
  }
  return 0;
}

int cmd_gc(const GlobalOptions& g, int keep_full) {
  auto log = open_log(g, OpenMode::kReadWrite);
  std::optional<versioning::RetentionReport> kept;
  if (keep_full > 0) kept = log->apply_retention(keep_full);
  versioning::GcReport r = log->gc();
  versioning::CompactReport compacted = log->compact_pending();  // after gc: nothing dead is encoded
  if (g.json) {
    std::string retention;
    if (kept)
      retention = fmt::format(
          ",\"retention\":{{\"keep_full\":{},\"full_versions\":{},\"dropped_now\":{},\"params_only\":{},"
          "\"chunks_deleted\":{},\"chunks_rewritten\":{},\"bytes_freed\":{}}}",
          keep_full, kept->full_versions, kept->dropped_now, kept->params_only, kept->chunks_deleted, kept->chunks_rewritten,
          kept->bytes_freed);
    fmt::print(
        "{{\"commits_deleted\":{},\"chunks_deleted\":{},\"chunks_rewritten\":{},\"bytes_freed\":{}{},"
        "\"compaction\":{}}}\n",
        r.commits_deleted, r.chunks_deleted, r.chunks_rewritten, r.bytes_freed, retention, compaction_json(compacted));
  } else {
    if (kept)
      fmt::print(
          "retention (keep full state of the newest {} per branch, heads, tags): optimizer state dropped from {} "
          "versions now ({} params-only in all, {} full); {} chunks deleted, {} rewritten as keyframes, freed {}\n",
          keep_full, kept->dropped_now, kept->params_only, kept->full_versions, kept->chunks_deleted, kept->chunks_rewritten,
          human_bytes(kept->bytes_freed > 0 ? kept->bytes_freed : 0));
    fmt::print("gc: removed {} unreachable version(s) and {} chunk(s) ({} rewritten as keyframes), freed {}\n", r.commits_deleted,
               r.chunks_deleted, r.chunks_rewritten, human_bytes(r.bytes_freed > 0 ? r.bytes_freed : 0));
    print_compaction(compacted);
  }
  return 0;
}

namespace {

uint64_t disk_bytes(const std::filesystem::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  return total;
}

std::string usage_json(const StorageUsage& u) {
  return fmt::format("{{\"raw_bytes\":{},\"stored_bytes\":{},\"chunks\":{},\"stored_share\":{}}}", u.raw_bytes, u.stored_bytes,
                     u.chunks, json_num(u.ratio()));
}

void print_usage_table(const char* title, const char* raw_title, const std::map<std::string, StorageUsage>& rows) {
  size_t width = 24;
  for (const auto& [k, u] : rows) width = std::max(width, k.size() + 2);
  fmt::print("\n{:<{}} {:>12} {:>12} {:>7} {:>7}\n", title, width, raw_title, "stored", "share", "chunks");
  for (const auto& [k, u] : rows)
    fmt::print("  {:<{}} {:>12} {:>12} {:>7.3f} {:>7}\n", k, width - 2, human_bytes(u.raw_bytes), human_bytes(u.stored_bytes),
               u.ratio(), u.chunks);
}

}  // namespace

int cmd_du(const GlobalOptions& g) {
  auto log = open_log(g, OpenMode::kReadOnly);
  const versioning::StorageReport r = versioning::storage_report(*log);
  const uint64_t disk = disk_bytes(std::filesystem::path(g.log_dir) / "versions.lmdb");
  const double compression = r.total.stored_bytes ? static_cast<double>(r.total.raw_bytes) / r.total.stored_bytes : 0.0;
  const size_t queued = log->pending_versions();
  if (g.json) {
    fmt::print(
        "{{\"versions\":{},\"queued_versions\":{},\"raw_bytes\":{},\"stored_bytes\":{},\"stored_share\":{},"
        "\"ratio\":{},\"disk_bytes\":{},\"chunks\":{},\"params_only_versions\":{},\"missing_chunks\":{},\"by_branch\":{},\"by_"
        "kind\":{},"
        "\"by_tensor\":{},\"by_codec\":{}}}\n",
        r.versions, queued, r.total.raw_bytes, r.total.stored_bytes, json_num(r.total.ratio()), json_num(compression), disk,
        r.total.chunks, r.params_only_versions, r.missing_chunks, json_map(r.by_branch, usage_json),
        json_map(r.by_kind, usage_json), json_map(r.by_tensor, usage_json), json_map(r.by_codec, usage_json));
    return 0;
  }
  fmt::print("versions      {}{}\n", r.versions,
             r.params_only_versions ? fmt::format(" ({} with parameters only)", r.params_only_versions) : "");
  fmt::print("raw           {} ({} bytes): every version's tensors stored in full\n", human_bytes(r.total.raw_bytes),
             r.total.raw_bytes);
  fmt::print("stored        {} ({} bytes) in {} chunks: {:.3f} of raw, {:.2f}x smaller\n", human_bytes(r.total.stored_bytes),
             r.total.stored_bytes, r.total.chunks, r.total.ratio(), compression);
  fmt::print("on disk       {} (LMDB files, with free pages and records)\n", human_bytes(disk));
  if (r.missing_chunks) fmt::print("missing       {} chunks (run `strata verify`)\n", r.missing_chunks);
  if (queued)
    fmt::print("queued        {} version(s) not yet in the log's codec: `strata compact` makes them about a tenth smaller\n",
               queued);
  print_usage_table("by branch", "raw", r.by_branch);
  print_usage_table("by kind", "raw", r.by_kind);
  print_usage_table("by tensor", "raw", r.by_tensor);
  print_usage_table("by codec", "raw chunks", r.by_codec);
  fmt::print("\n(a chunk counts once, for the oldest version that has it; raw by codec counts each chunk once)\n");
  return 0;
}

int cmd_export(const GlobalOptions& g, const std::string& version, const std::string& path, versioning::TensorFileFormat format,
               bool with_optim) {
  auto log = open_log(g, OpenMode::kReadOnly);
  const CommitId id = log->resolve(version);
  versioning::ExportReport r = versioning::export_tensors(*log, id, path, format, with_optim);
  const char* name = versioning::tensor_file_format_name(format);
  if (g.json) {
    fmt::print("{{\"id\":{},\"version\":{},\"path\":{},\"format\":{},\"tensors\":{},\"tensor_bytes\":{},\"file_bytes\":{}}}\n",
               json_str(to_hex(id)), json_str(log->describe(id)), json_str(path), json_str(name), r.tensors, r.tensor_bytes,
               r.file_bytes);
  } else {
    fmt::print("exported {} tensors of {} ({}) to {} ({})\n", r.tensors, log->describe(id), human_bytes(r.tensor_bytes), path,
               format == versioning::TensorFileFormat::kNpz ? fmt::format("numpy.load(\"{}\")", path)
                                                            : std::string("safetensors.numpy.load_file"));
  }
  return 0;
}

int cmd_export_onnx(const GlobalOptions& g, const std::string& version, const std::string& path, int opset, int64_t batch) {
  auto log = open_log(g, OpenMode::kReadOnly);
  const CommitId id = log->resolve(version);
  const versioning::OnnxReport r = versioning::export_onnx(*log, id, path, versioning::OnnxOptions().opset(opset).batch(batch));
  if (g.json) {
    fmt::print(
        "{{\"id\":{},\"version\":{},\"path\":{},\"format\":\"onnx\",\"opset\":{},\"nodes\":{},\"initializers\":{},\"file_bytes\":"
        "{}}}\n",
        json_str(to_hex(id)), json_str(log->describe(id)), json_str(path), opset, r.nodes, r.initializers, r.file_bytes);
  } else {
    fmt::print("exported {} as ONNX (opset {}, {} nodes, {} initializers, {}) to {}\n", log->describe(id), opset, r.nodes,
               r.initializers, human_bytes(r.file_bytes), path);
  }
  return 0;
}

int cmd_import(const GlobalOptions& g, const ImportOptions& o) {
  auto log = open_log(g, OpenMode::kReadWrite, versioning::LogOptions().signing_key(o.sign_key));
  versioning::ImportRequest request;
  versioning::ImportNormalisation normalisation{o.input_mean, o.input_std};
  request.file = o.file;
  if (!o.graph_version.empty()) {
    const CommitId source = log->resolve(o.graph_version);
    request.graph = log->read_graph(log->read_record(source).graph_id);
    request.graph_source = "graph of " + log->describe(source);
    // The graph's inputs mean what they meant to that version: normalised as it was trained.
    if (o.input_mean.empty() && !o.no_normalisation) normalisation = versioning::input_normalisation_of(*log, source);
  } else {
    request.graph = models::by_name(o.model, o.input_shape, o.classes);
    request.graph_source = fmt::format("model {} input [{}] classes {}", o.model, fmt::join(o.input_shape, ","), o.classes);
  }
  request.branch = o.branch;
  request.message = o.message;
  request.allow_partial = o.allow_partial;
  request.seed = o.seed;
  versioning::ImportReport r = versioning::import_params(*log, request, normalisation);
  const bool normalised = !normalisation.mean.empty();
  if (g.json) {
    fmt::print(
        "{{\"id\":{},\"name\":{},\"matched\":{},\"missing\":{},\"unexpected\":{},\"mismatched\":{},"
        "\"input_mean\":{},\"input_std\":{}}}\n",
        json_str(to_hex(r.id)), json_str(log->describe(r.id)), json_str_list(r.matched), json_str_list(r.missing),
        json_str_list(r.unexpected), json_str_list(r.mismatched), normalised ? json_str(normalisation.mean) : "null",
        normalised ? json_str(normalisation.std) : "null");
    return 0;
  }
  fmt::print("imported {} tensors from {} as {} [params only]\n", r.matched.size(), o.file, log->describe(r.id));
  if (normalised)
    fmt::print("  input normalisation: mean {} std {} (predict and serve apply it to raw inputs)\n", normalisation.mean,
               normalisation.std);
  else
    fmt::print("  no input normalisation: predict and serve feed inputs as given\n");
  for (const std::string& m : r.missing) fmt::print("  missing, fresh initialisation: {}\n", m);
  for (const std::string& m : r.mismatched) fmt::print("  other shape, fresh initialisation: {}\n", m);
  for (const std::string& m : r.unexpected) fmt::print("  unexpected, ignored: {}\n", m);
  return 0;
}

int cmd_tensorboard(const GlobalOptions& g, std::string out, bool force) {
  auto log = open_log(g, OpenMode::kReadOnly);
  if (out.empty()) out = versioning::default_recreated_dir(*log);
  versioning::TensorBoardExport r = versioning::export_tensorboard(*log, out, force);
  if (g.json) {
    fmt::print("{{\"out\":{},\"runs\":{},\"versions\":{}}}\n", json_str(out), r.runs, r.versions);
  } else {
    fmt::print("wrote {} run(s), {} version(s) to {}\ntensorboard --logdir {}\n", r.runs, r.versions, out, out);
  }
  return 0;
}

// The command line of these verbs (tools/verbs/verbs.h).
namespace {

Verb verify_verb(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<VerifyFlags>();
  CLI::App* c = app.add_subcommand("verify", "re-hash every chunk, check the refs against their digest; exit 1 on damage");
  c->add_option("VERSION", a->version, "one version (default: all)");
  c->add_flag("--all", a->all, "every version");
  c->add_flag("--reseal", a->reseal,
              "accept the refs, branch index, signatures and trust list as they are now (after damage was reported)");
  c->add_option("--trusted", a->trusted, "public keys (FILE.pub) to trust instead of the log's trust list");
  c->add_flag("--require-signed", a->require_signed, "exit 1 unless every version is signed by a trusted key");
  auto check = [a] {
    if (a->reseal && (a->all || !a->version.empty() || a->require_signed || !a->trusted.empty()))
      throw CLI::ValidationError("--reseal", "takes no other flag");
  };
  return {c, check, [&g, a] { return a->reseal ? cmd_reseal(g) : cmd_verify(g, *a); }};
}

Verb gc_verb(CLI::App& app, const GlobalOptions& g) {
  auto keep_full = std::make_shared<int>(0);
  CLI::App* c = app.add_subcommand("gc", "delete versions and chunks no branch or tag reaches");
  c->add_option("--keep-full", *keep_full,
                "retention: keep optimizer state only for the newest K versions of each branch, heads and "
                "tags (older versions stay diffable and exportable but cannot be resumed exactly)")
      ->check(flags::positive());
  return {c, nullptr, [&g, keep_full] { return cmd_gc(g, *keep_full); }};
}

Verb compact_verb(CLI::App& app, const GlobalOptions& g) {
  CLI::App* c = app.add_subcommand(
      "compact", "compress the versions a training run stored raw (done at the end of fit(); needed after a kill)");
  return {c, nullptr, [&g] { return cmd_compact(g); }};
}

Verb du_verb(CLI::App& app, const GlobalOptions& g) {
  CLI::App* c = app.add_subcommand("du", "bytes stored vs raw, by branch, kind, tensor and codec");
  return {c, nullptr, [&g] { return cmd_du(g); }};
}

Verb export_verb(CLI::App& app, const GlobalOptions& g) {
  struct Args {
    std::string version, npz, safetensors, onnx, batch = "dynamic";
    int opset = 17;
    bool optim = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("export", "write a version's tensors to a portable file");
  c->add_option("VERSION", a->version, "version name")->required();
  CLI::Option* npz = c->add_option("--params", a->npz, "NumPy .npz archive to write (numpy.load reads it)");
  CLI::Option* st =
      c->add_option("--safetensors", a->safetensors, "safetensors file to write (Hugging Face format)")->excludes(npz);
  c->add_option("--onnx", a->onnx, "ONNX model to write (graph and parameters)")->excludes(npz)->excludes(st);
  c->add_option("--opset", a->opset, "ONNX opset")->check(CLI::Range(13, 17));
  c->add_option("--batch", a->batch, "ONNX batch dimension: dynamic or a size");
  c->add_flag("--with-optim", a->optim, "also the optimizer state (optim/<param>/<slot>)");
  auto check = [a] {
    if (!a->npz.empty() + !a->safetensors.empty() + !a->onnx.empty() != 1)
      throw CLI::ValidationError("export", "name one file: --params FILE.npz, --safetensors FILE or --onnx FILE");
    const std::string& b = a->batch;
    if (b != "dynamic" &&
        (b.empty() || b.size() > 9 || b.find_first_not_of("0123456789") != std::string::npos || std::stoll(b) == 0))
      throw CLI::ValidationError("--batch", "dynamic or a positive number, not '" + b + "'");
  };
  auto run = [&g, a] {
    if (!a->onnx.empty())
      return cmd_export_onnx(g, a->version, a->onnx, a->opset, a->batch == "dynamic" ? 0 : std::stoll(a->batch));
    if (!a->npz.empty()) return cmd_export(g, a->version, a->npz, versioning::TensorFileFormat::kNpz, a->optim);
    return cmd_export(g, a->version, a->safetensors, versioning::TensorFileFormat::kSafetensors, a->optim);
  };
  return {c, check, run};
}

Verb import_verb(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<ImportOptions>();
  CLI::App* c = app.add_subcommand("import", "a new version whose parameters come from a .npz or .safetensors file");
  c->add_option("FILE", o->file, "tensor file (.npz, .safetensors), names like fc1/weight")->required();
  CLI::Option* graph = c->add_option("--graph", o->graph_version, "take the graph of VERSION");
  c->add_option("--model", o->model, "or build the graph of a model: mlp, cnn, resnet")->excludes(graph);
  c->add_option("--input-shape", o->input_shape, "with --model: the sample shape (default 1 28 28)");
  c->add_option("--classes", o->classes, "with --model: the number of classes")->check(flags::positive());
  c->add_option("--branch", o->branch, "the new branch")->required();
  CLI::Option* mean = c->add_option("--input-mean", o->input_mean,
                                    "the inputs' normalisation mean, one number or one per channel (\"0.2860\" or "
                                    "\"0.49,0.48,0.45\"); default with --graph: that version's");
  CLI::Option* std = c->add_option("--input-std", o->input_std, "and its std (needs --input-mean)");
  mean->needs(std);
  std->needs(mean);
  c->add_flag("--no-input-normalisation", o->no_normalisation, "record none, even with --graph")->excludes(mean)->excludes(std);
  c->add_option("-m,--message", o->message, "commit message");
  c->add_flag("--allow-partial", o->allow_partial, "import what matches; the rest keeps the graph's fresh initialisation");
  c->add_option("--seed", o->seed, "seed of that initialisation");
  c->add_option("--sign-key", o->sign_key, "sign the new version with this secret key (default: $STRATA_SIGNING_KEY)");
  auto check = [o] {
    if (o->graph_version.empty() == o->model.empty())
      throw CLI::ValidationError("import", "name the graph: --graph VERSION or --model NAME");
  };
  return {c, check, [&g, o] { return cmd_import(g, *o); }};
}

Verb tensorboard_verb(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<std::pair<std::string, bool>>("", false);
  CLI::App* c = app.add_subcommand("tensorboard", "re-create TensorBoard event files from the log");
  c->add_option("--out", a->first, "output directory (default: <log>/tb-recreated; never the live <log>/tb)");
  c->add_flag("--force", a->second, "replace event files an earlier re-creation wrote there");
  return {c, nullptr, [&g, a] { return cmd_tensorboard(g, a->first, a->second); }};
}

const VerbRegistration kExport(90, export_verb), kImport(100, import_verb), kVerify(110, verify_verb), kGc(120, gc_verb),
    kCompact(130, compact_verb), kDu(140, du_verb), kTensorboard(160, tensorboard_verb);

}  // namespace
}  // namespace strata::tools
