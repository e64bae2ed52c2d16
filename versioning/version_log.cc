// VersionLog: opening, settings, records, refs and history. Layouts: docs/formats.md.
#include "strata/versioning/version_log.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <set>

#include "strata/framework/core/error.h"
#include "strata/versioning/internal/chunk_cache.h"
#include "strata/versioning/internal/lmdb_env.h"
#include "strata/versioning/internal/log_internals.h"

namespace strata::versioning {
namespace {

// Version of the log as a whole (meta "format_version"): bumped when a database's layout changes.
// 2: float-model chunks may use mode 2 (signed residual). Version 1 logs read unchanged; a writer
// raises their version to 2 before it can add a chunk that a version-1 reader would not decode.
// 3: `meta` keeps a digest of each guarded database (internal/index_guard.h), and the signatures
// and trust databases exist. A writer seals the digests of an older log when it opens it.
constexpr uint32_t kLogFormatVersion = 3;
constexpr uint32_t kFirstDigestedFormat = 3;

int64_t parse_int(std::string_view text, const char* what) {
  std::string s(text);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || errno != 0 || *end != '\0')
    throw_corruption(std::string("meta setting '") + what + "' is not a number: '" + s + "'");
  return v;
}

void write_settings(LmdbTxn& txn, const LogSettings& s) {
  txn.put(Db::kMeta, "format_version", std::to_string(s.format_version));
  txn.put(Db::kMeta, "created_ms", std::to_string(s.created_ms));
  txn.put(Db::kMeta, "keyframe_interval", std::to_string(s.keyframe_interval));
  txn.put(Db::kMeta, "zstd_level", std::to_string(s.zstd_level));
  txn.put(Db::kMeta, "codec", codec_name(s.codec));
}

LogSettings read_settings(const LmdbTxn& txn, const std::string& dir) {
  auto get = [&](const char* key) {
    auto v = txn.get(Db::kMeta, key);
    if (!v) throw Error(ErrorCode::kCorruption, std::string("meta setting '") + key + "' is missing", dir);
    return *v;
  };
  LogSettings s;
  int64_t version = parse_int(get("format_version"), "format_version");
  if (version <= 0 || version > kLogFormatVersion)
    throw Error(ErrorCode::kFailedPrecondition,
                "the log has format version " + std::to_string(version) + ", this build reads versions 1 to " +
                    std::to_string(kLogFormatVersion),
                dir, "upgrade Strata to open this log");
  s.format_version = static_cast<uint32_t>(version);
  s.created_ms = parse_int(get("created_ms"), "created_ms");
  s.keyframe_interval = static_cast<int>(parse_int(get("keyframe_interval"), "keyframe_interval"));
  s.zstd_level = static_cast<int>(parse_int(get("zstd_level"), "zstd_level"));
  std::string_view codec = get("codec");
  bool known = false;
  for (ChunkCodec c : {ChunkCodec::kRaw, ChunkCodec::kZstd, ChunkCodec::kShuffleZstd, ChunkCodec::kFloatModel})
    if (codec == codec_name(c)) s.codec = c, known = true;
  if (!known) throw Error(ErrorCode::kCorruption, "unknown codec setting '" + std::string(codec) + "'", dir);
  if (s.keyframe_interval < 1 || s.keyframe_interval > 1000)
    throw Error(ErrorCode::kCorruption, "keyframe interval out of range in meta", dir);
  return s;
}

void validate_options(const LogOptions& o) {
  if (o.keyframe_interval() < 1 || o.keyframe_interval() > 1000)
    throw_invalid("keyframe_interval must be in [1, 1000], got " + std::to_string(o.keyframe_interval()));
  if (o.zstd_level() < 1 || o.zstd_level() > 22)
    throw_invalid("zstd_level must be in [1, 22], got " + std::to_string(o.zstd_level()));
  if (o.encode_threads() < 0) throw_invalid("encode_threads must be >= 0");
}

}  // namespace

// ---- keys and internals --------------------------------------------------------------------

std::string head_key(const std::string& branch) { return "heads/" + branch; }
std::string version_signature_prefix(const CommitId& id) { return "v" + std::string(as_bytes(id)); }
std::string version_signature_key(const CommitId& id, const KeyId& key) {
  return version_signature_prefix(id) + std::string(reinterpret_cast<const char*>(key.data()), key.size());
}
std::string tag_signature_key(const std::string& tag) { return "t" + tag; }
int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
std::string tag_key(const std::string& tag) { return "tags/" + tag; }
std::string index_prefix(const std::string& branch) { return branch + std::string(1, '\0'); }
std::string index_key(const std::string& branch, int64_t epoch) {
  std::string k = index_prefix(branch);
  uint64_t e = static_cast<uint64_t>(epoch);
  for (int i = 7; i >= 0; --i) k.push_back(static_cast<char>((e >> (8 * i)) & 0xFF));
  return k;
}

std::optional<CommitRecord> LogInternals::get_record(const LmdbTxn& txn, const CommitId& id) {
  auto bytes = txn.get(Db::kCommits, as_bytes(id));
  if (!bytes) return std::nullopt;
  if (hash128(*bytes) != id)
    throw Error(ErrorCode::kCorruption, "commit record does not match its id", "version " + short_hex(id), "run `strata verify`");
  try {
    return CommitRecord::decode(*bytes);
  } catch (const Error& e) {
    throw Error(ErrorCode::kCorruption, e.what_failed(), "version " + short_hex(id), e.hint());
  }
}

CommitRecord LogInternals::need_record(const LmdbTxn& txn, const CommitId& id) {
  auto r = get_record(txn, id);
  if (!r)
    throw Error(ErrorCode::kNotFound, "no version " + to_hex(id) + " in this log", "",
                "see `strata log --all` for the versions of this log");
  return *r;
}

void LogInternals::load_optim(const LmdbTxn& txn, const CommitId& id, CommitRecord& record) {
  record.optim.clear();
  record.optim_present = false;
  if (!record.had_optim()) return;
  auto bytes = txn.get(Db::kOptim, as_bytes(id));
  if (!bytes) return;  // dropped by retention
  if (hash128(*bytes) != record.optim_digest)
    throw Error(ErrorCode::kCorruption, "optimizer manifest does not match the digest in the record",
                "version " + describe(id, record), "run `strata verify`");
  record.optim = decode_manifest(*bytes);
  record.optim_present = true;
}

std::string LogInternals::describe(const CommitId& id, const CommitRecord& record) {
  return short_hex(id) + " (" + record.branch + "@" + record.epoch_label() + (record.is_merge() ? " merge" : "") + ")";
}

std::string LogInternals::describe(const LmdbTxn& txn, const CommitId& id) {
  try {
    auto r = get_record(txn, id);
    return r ? describe(id, *r) : short_hex(id);
  } catch (const Error&) {
    return short_hex(id);
  }
}

std::optional<CommitId> LogInternals::get_ref(const LmdbTxn& txn, const std::string& key) {
  auto v = txn.get(Db::kRefs, key);
  if (!v) return std::nullopt;
  if (v->size() != 16) throw Error(ErrorCode::kCorruption, "ref value is not a 16-byte id", key);
  return digest_from_bytes(*v);
}

std::vector<CommitId> LogInternals::first_parents(const LmdbTxn& txn, const CommitId& start) {
  std::vector<CommitId> out;
  std::set<CommitId> seen;
  std::optional<CommitId> cur = start;
  while (cur) {
    if (!seen.insert(*cur).second) throw_corruption("cycle in the parents of " + short_hex(start));
    CommitRecord r = need_record(txn, *cur);
    out.push_back(*cur);
    cur = r.parents.empty() ? std::nullopt : std::optional<CommitId>(r.parents[0]);
  }
  return out;
}

std::map<int64_t, CommitId> LogInternals::branch_index(const LmdbTxn& txn, const CommitId& head) {
  std::map<int64_t, CommitId> out;
  for (const CommitId& id : first_parents(txn, head)) {
    // A merge keeps its first parent's epoch (training resumed from it counts on from there)
    // but not its name: branch@epoch stays the version that epoch trained. Newest first, so the
    // newest commit of an epoch wins.
    const CommitRecord r = need_record(txn, id);
    if (!r.is_merge() && r.step_in_epoch() == 0) out.emplace(r.epoch, id);
  }
  return out;
}

void LogInternals::reindex_branch(LmdbTxn& txn, const std::string& branch, const std::optional<CommitId>& head) {
  std::vector<std::string> stale;
  txn.scan_prefix(Db::kIndex, index_prefix(branch), [&](std::string_view k, std::string_view) {
    stale.emplace_back(k);
    return true;
  });
  for (const std::string& k : stale) txn.del(Db::kIndex, k);
  if (!head) return;
  for (const auto& [epoch, id] : branch_index(txn, *head)) txn.put(Db::kIndex, index_key(branch, epoch), as_bytes(id));
}

// ---- VersionLog ------------------------------------------------------------------------------

std::unique_ptr<VersionLog> VersionLog::open(const std::string& log_dir, OpenMode mode, LogOptions options) {
  if (log_dir.empty()) throw_invalid("empty log directory", "", "name the directory of the version log");
  validate_options(options);
  std::unique_ptr<VersionLog> log(new VersionLog());
  log->log_dir_ = log_dir;
  log->options_ = options;
  const std::string dir = log_dir + "/versions.lmdb";
  const bool read_only = mode == OpenMode::kReadOnly;
  log->read_only_ = read_only;
  // The signing key first: a bad key must not leave a new, empty log behind.
  std::string key_file = options.signing_key();
  if (key_file.empty() && !read_only)
    if (const char* env = std::getenv("STRATA_SIGNING_KEY")) key_file = env;
  if (!key_file.empty()) log->signer_ = std::make_shared<const SigningKey>(SigningKey::load(key_file));
  log->env_ = LmdbEnv::open(dir, read_only, options.initial_map_bytes());
  if (!read_only) {
    log->env_->write([&](LmdbTxn& txn) {
      if (txn.exists(Db::kMeta, "format_version")) {
        LogSettings s = read_settings(txn, dir);  // refuses newer formats before anything is written
        const bool upgrade = s.format_version < kLogFormatVersion;
        if (s.format_version < kFirstDigestedFormat) seal_digests(txn);
        s.format_version = kLogFormatVersion;
        if (options.update_settings()) {
          s.keyframe_interval = options.keyframe_interval();
          s.zstd_level = options.zstd_level();
          s.codec = options.codec();
        }
        if (upgrade || options.update_settings()) write_settings(txn, s);
        return;
      }
      LogSettings s;
      s.format_version = kLogFormatVersion;
      s.created_ms = now_ms();
      s.keyframe_interval = options.keyframe_interval();
      s.zstd_level = options.zstd_level();
      s.codec = options.codec();
      write_settings(txn, s);
      seal_digests(txn);
    });
  }
  log->env_->read([&](const LmdbTxn& txn) {
    if (!txn.exists(Db::kMeta, "format_version"))
      throw Error(ErrorCode::kCorruption, "not a Strata version log (no format version in meta)", dir);
    log->settings_ = read_settings(txn, dir);
    if (!options.check_digests() || log->settings_.format_version < kFirstDigestedFormat) return;
    const std::vector<std::string> problems = digest_problems(txn);
    if (!problems.empty())
      throw Error(ErrorCode::kCorruption,
                  problems.front() + (problems.size() > 1 ? " (and " + std::to_string(problems.size() - 1) + " more)" : ""),
                  log_dir,
                  "nothing was changed; `strata verify --all` lists every difference. Restore the log from a copy, or accept "
                  "the refs as they are with `strata verify --reseal` and recreate what was lost with `strata branch` or "
                  "`strata tag`");
  });
  log->cache_ = std::make_unique<ChunkCache>(options.decode_cache_bytes());
  return log;
}

VersionLog::~VersionLog() = default;

bool VersionLog::read_only() const { return read_only_; }

bool VersionLog::writer_active() const { return LmdbEnv::writer_active(log_dir_ + "/versions.lmdb"); }

void VersionLog::require_writable(const char* what) const {
  if (read_only_)
    throw Error(ErrorCode::kFailedPrecondition, std::string("cannot ") + what + ": the version log is open read-only", log_dir_,
                "open it with OpenMode::kReadWrite");
}

bool VersionLog::has_version(const CommitId& id) const {
  bool found = false;
  env_->read([&](const LmdbTxn& txn) { found = txn.exists(Db::kCommits, as_bytes(id)); });
  return found;
}

CommitRecord VersionLog::read_record(const CommitId& id) const {
  CommitRecord r;
  env_->read([&](const LmdbTxn& txn) {
    r = LogInternals::need_record(txn, id);
    LogInternals::load_optim(txn, id, r);
  });
  return r;
}

std::optional<CommitStats> VersionLog::read_stats(const CommitId& id) const {
  std::optional<CommitStats> s;
  env_->read([&](const LmdbTxn& txn) {
    if (auto v = txn.get(Db::kStats, as_bytes(id))) s = CommitStats::decode(*v);
  });
  return s;
}

GraphSpec VersionLog::read_graph(const std::string& graph_id) const {
  std::string bytes;
  env_->read([&](const LmdbTxn& txn) {
    auto v = txn.get(Db::kGraphs, graph_id);
    if (!v) throw Error(ErrorCode::kNotFound, "no graph " + graph_id + " in this log", log_dir_);
    bytes.assign(v->data(), v->size());
  });
  if (hash128(bytes) != digest_from_hex(graph_id).value_or(Digest128{}))
    throw Error(ErrorCode::kCorruption, "graph bytes do not match graph id " + graph_id, log_dir_, "run `strata verify`");
  return GraphSpec::from_bytes(bytes);
}

NamedTensors VersionLog::read_params(const CommitId& id) const {
  NamedTensors out;
  env_->read([&](const LmdbTxn& txn) {
    CommitRecord r = LogInternals::need_record(txn, id);
    auto tensors = LogInternals::decode_tensors(*this, txn, r.params, LogInternals::describe(id, r), true);
    for (size_t i = 0; i < tensors.size(); ++i) out.emplace_back(r.params[i].name, std::move(tensors[i]));
  });
  return out;
}

NamedTensors VersionLog::read_optim(const CommitId& id) const {
  NamedTensors out;
  env_->read([&](const LmdbTxn& txn) {
    CommitRecord r = LogInternals::need_record(txn, id);
    LogInternals::load_optim(txn, id, r);
    if (r.optim_dropped())
      throw Error(ErrorCode::kFailedPrecondition,
                  "the optimizer state of this version was dropped by retention (parameters only)",
                  "version " + LogInternals::describe(id, r),
                  "resume from a version that keeps its full state (`strata log`), or warm-start from its "
                  "parameters with align_state");
    auto tensors = LogInternals::decode_tensors(*this, txn, r.optim, LogInternals::describe(id, r), true);
    for (size_t i = 0; i < tensors.size(); ++i) out.emplace_back(r.optim[i].name, std::move(tensors[i]));
  });
  return out;
}

Tensor VersionLog::read_tensor(const CommitId& id, const std::string& name) const {
  Tensor out;
  env_->read([&](const LmdbTxn& txn) {
    CommitRecord r = LogInternals::need_record(txn, id);
    LogInternals::load_optim(txn, id, r);
    const std::string version = LogInternals::describe(id, r);
    for (const auto* list : {&r.params, &r.optim})
      for (const TensorEntry& e : *list)
        if (e.name == name) {
          out = std::move(LogInternals::decode_tensors(*this, txn, {e}, version, true)[0]);
          return;
        }
    if (name.rfind("optim/", 0) == 0 && r.optim_dropped())
      throw Error(ErrorCode::kFailedPrecondition, "tensor '" + name + "' was dropped by retention", "version " + version,
                  "only parameters are kept for this version");
    throw Error(ErrorCode::kNotFound, "no tensor '" + name + "'", "version " + version,
                "see `strata show " + short_hex(id) + "` for its tensors");
  });
  return out;
}

TrainState VersionLog::read_state(const CommitId& id) const {
  CommitRecord r = read_record(id);
  if (r.optim_dropped())
    throw Error(ErrorCode::kFailedPrecondition, "cannot resume exactly: retention dropped the optimizer state of this version",
                "version " + describe(id),
                "resume from a version that keeps its full state (see `strata log`), or warm-start from "
                "its parameters (--warm-start, or align_state in C++)");
  TrainState s;
  s.graph = read_graph(r.graph_id);
  s.params = read_params(id);
  if (r.had_optim()) s.optim = read_optim(id);
  s.counters = r.counters;
  s.counters["epoch"] = r.epoch;
  s.counters["global_step"] = r.global_step;
  s.metrics = r.metrics;
  s.hparams = r.hparams;
  s.environment = r.environment;
  return s;
}

std::vector<std::string> VersionLog::branches() const {
  std::vector<std::string> out;
  env_->read([&](const LmdbTxn& txn) {
    txn.scan_prefix(Db::kRefs, "heads/", [&](std::string_view k, std::string_view) {
      out.emplace_back(k.substr(6));
      return true;
    });
  });
  return out;
}

std::map<std::string, CommitId> VersionLog::tags() const {
  std::map<std::string, CommitId> out;
  env_->read([&](const LmdbTxn& txn) {
    txn.scan_prefix(Db::kRefs, "tags/", [&](std::string_view k, std::string_view v) {
      if (v.size() != 16) throw Error(ErrorCode::kCorruption, "ref value is not a 16-byte id", std::string(k));
      out.emplace(std::string(k.substr(5)), digest_from_bytes(v));
      return true;
    });
  });
  return out;
}

std::optional<CommitId> VersionLog::head(const std::string& branch) const {
  std::optional<CommitId> id;
  env_->read([&](const LmdbTxn& txn) { id = LogInternals::get_ref(txn, head_key(branch)); });
  return id;
}

std::vector<CommitId> VersionLog::history(const std::string& branch) const {
  std::vector<CommitId> out;
  env_->read([&](const LmdbTxn& txn) {
    auto h = LogInternals::get_ref(txn, head_key(branch));
    if (!h)
      throw Error(ErrorCode::kNotFound, "no branch '" + branch + "'", log_dir_,
                  "see `strata branch` for the branches of this log");
    out = LogInternals::first_parents(txn, *h);
  });
  return out;
}

std::vector<CommitId> VersionLog::history_from(const CommitId& start) const {
  std::vector<CommitId> out;
  env_->read([&](const LmdbTxn& txn) { out = LogInternals::first_parents(txn, start); });
  return out;
}

std::vector<CommitId> VersionLog::all_versions() const {
  std::vector<std::pair<std::pair<int64_t, int64_t>, CommitId>> found;
  env_->read([&](const LmdbTxn& txn) {
    std::deque<CommitId> todo;
    txn.scan_from(Db::kRefs, {}, [&](std::string_view, std::string_view v) {
      if (v.size() == 16) todo.push_back(digest_from_bytes(v));
      return true;
    });
    std::set<CommitId> seen;
    while (!todo.empty()) {
      CommitId id = todo.front();
      todo.pop_front();
      if (!seen.insert(id).second) continue;
      CommitRecord r = LogInternals::need_record(txn, id);
      found.push_back({{r.wall_time_ms, r.epoch}, id});
      for (const CommitId& p : r.parents) todo.push_back(p);
    }
  });
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<CommitId> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

// ---- refs ------------------------------------------------------------------------------------

void validate_ref_name(const std::string& kind, const std::string& name) {
  auto bad = [&](const std::string& why) {
    throw_invalid("invalid " + kind + " name '" + name + "': " + why, "", "use letters, digits, '.', '_', '-' and '/'");
  };
  if (name.empty()) bad("empty");
  if (name.size() > 200) bad("longer than 200 characters");
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '/'))
      bad(std::string("character '") + c + "' is not allowed");
  if (name[0] == '-' || name[0] == '/' || name.back() == '/') bad("must not start with '-' or '/' or end with '/'");
  if (name.find("..") != std::string::npos) bad("contains '..'");
  if (name.size() == 32 && is_hex(name)) bad("looks like a version id");
  // As git's check-ref-format: '/'-separated components, none empty, none starting with '.',
  // none ending with ".lock". So distinct names are distinct paths (tb/<branch>/ folders).
  for (size_t begin = 0; begin <= name.size();) {
    size_t end = name.find('/', begin);
    if (end == std::string::npos) end = name.size();
    const std::string part = name.substr(begin, end - begin);
    if (part.empty()) bad("has an empty component ('//')");
    if (part[0] == '.') bad("a component starts with '.'");
    if (part.size() >= 5 && part.compare(part.size() - 5, 5, ".lock") == 0) bad("a component ends with '.lock'");
    begin = end + 1;
  }
  if (name.rfind("heads/", 0) == 0 || name.rfind("tags/", 0) == 0)
    bad("'heads/' and 'tags/' are reserved prefixes (they select a branch or a tag)");
}

std::string default_author() {
  // $USER is unset in containers and cron jobs; the password database still knows the account.
  const char* user = std::getenv("USER");
  std::string name = user && *user ? user : "";
  if (name.empty()) {
    if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) name = pw->pw_name;
  }
  if (name.empty()) name = "uid" + std::to_string(::geteuid());
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return name + "@" + (host[0] ? host : "localhost");
}

void VersionLog::set_branch(const std::string& name, const CommitId& id, bool force) {
  require_writable("set a branch");
  validate_ref_name("branch", name);
  env_->write([&](LmdbTxn& txn) {
    LogInternals::need_record(txn, id);
    if (auto old = LogInternals::get_ref(txn, head_key(name)); old && !force && *old != id)
      throw Error(ErrorCode::kAlreadyExists, "branch '" + name + "' already exists", "at " + LogInternals::describe(txn, *old),
                  "pass force to move it");
    if (LogInternals::get_ref(txn, tag_key(name)))
      throw Error(ErrorCode::kAlreadyExists,
                  "a tag is named '" + name + "': a branch of the same name would make the name ambiguous", log_dir_,
                  "choose another branch name");
    txn.put(Db::kRefs, head_key(name), as_bytes(id));
    LogInternals::reindex_branch(txn, name, id);
  });
}

void VersionLog::delete_branch(const std::string& name) {
  require_writable("delete a branch");
  env_->write([&](LmdbTxn& txn) {
    if (!txn.del(Db::kRefs, head_key(name)))
      throw Error(ErrorCode::kNotFound, "no branch '" + name + "'", log_dir_, "see `strata branch`");
    LogInternals::reindex_branch(txn, name, std::nullopt);
  });
}

void VersionLog::set_tag(const std::string& name, const CommitId& id, bool force, bool sign) {
  require_writable("set a tag");
  validate_ref_name("tag", name);
  if (sign && !signer_)
    throw Error(ErrorCode::kFailedPrecondition, "no signing key to sign tag '" + name + "' with", log_dir_,
                "pass --sign-key FILE or set STRATA_SIGNING_KEY (make a key with `strata keygen FILE`)");
  const std::optional<Signature> signature =
      sign ? std::optional<Signature>(sign_tag(*signer_, name, id, now_ms())) : std::nullopt;
  env_->write([&](LmdbTxn& txn) {
    LogInternals::need_record(txn, id);
    if (auto old = LogInternals::get_ref(txn, tag_key(name)); old && !force && *old != id)
      throw Error(ErrorCode::kAlreadyExists, "tag '" + name + "' already exists", "at " + LogInternals::describe(txn, *old),
                  "pass force to move it, or delete it first");
    if (LogInternals::get_ref(txn, head_key(name)))
      throw Error(ErrorCode::kAlreadyExists,
                  "a branch is named '" + name + "': a tag of the same name would make the name ambiguous", log_dir_,
                  "choose another tag name");
    const auto old = LogInternals::get_ref(txn, tag_key(name));
    if (old && *old != id) txn.del(Db::kSignatures, tag_signature_key(name));  // it signed the old target
    txn.put(Db::kRefs, tag_key(name), as_bytes(id));
    if (signature) txn.put(Db::kSignatures, tag_signature_key(name), signature->encode());
  });
}

void VersionLog::delete_tag(const std::string& name) {
  require_writable("delete a tag");
  env_->write([&](LmdbTxn& txn) {
    if (!txn.del(Db::kRefs, tag_key(name)))
      throw Error(ErrorCode::kNotFound, "no tag '" + name + "'", log_dir_, "see `strata tag`");
    txn.del(Db::kSignatures, tag_signature_key(name));
  });
}

}  // namespace strata::versioning
