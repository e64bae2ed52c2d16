// Version names (docs/design.md "Naming a version"): hex ids and prefixes, branch@epoch, tags, branches,
// each with ~N suffixes.
#include <cctype>

#include "strata/framework/core/error.h"
#include "strata/versioning/internal/log_internals.h"

namespace strata::versioning {
namespace {

constexpr size_t kMinPrefix = 4;
const char* kHint = "see `strata log --all` for versions, `strata branch` and `strata tag` for names";

[[noreturn]] void unknown(const std::string& name, const std::string& why = {}) {
  throw Error(ErrorCode::kNotFound, "unknown version '" + name + "'" + (why.empty() ? "" : ": " + why), "", kHint);
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// Splits "name~2~1" into ("name", 3). A bare "~" counts one.
std::string split_ancestry(const std::string& name, int64_t& back) {
  back = 0;
  std::string base = name;
  for (;;) {
    size_t tilde = base.rfind('~');
    if (tilde == std::string::npos) return base;
    std::string_view count(base.data() + tilde + 1, base.size() - tilde - 1);
    if (count.empty()) {
      back += 1;
    } else if (all_digits(count) && count.size() <= 9) {
      back += std::stoll(std::string(count));
    } else {
      throw_invalid("bad ancestry suffix in '" + name + "'", "", "write NAME~N, e.g. main~2");
    }
    base.resize(tilde);
  }
}

CommitId resolve_base(const LmdbTxn& txn, const std::string& name, const std::string& full) {
  if (name.empty()) throw_invalid("empty version name", "", kHint);
  if (size_t at = name.find('@'); at != std::string::npos) {
    std::string branch = name.substr(0, at), epoch_text = name.substr(at + 1), step_text;
    if (size_t dot = epoch_text.find('.'); dot != std::string::npos) {  // branch@EPOCH.STEP
      step_text = epoch_text.substr(dot + 1);
      epoch_text.resize(dot);
      if (!all_digits(step_text) || step_text.size() > 18)
        throw_invalid("bad step in '" + full + "'", "", "write BRANCH@EPOCH.STEP, e.g. main@3.500");
    }
    if (!all_digits(epoch_text) || epoch_text.size() > 18)
      throw_invalid("bad epoch in '" + full + "'", "", "write BRANCH@EPOCH, e.g. main@7");
    int64_t epoch = std::stoll(epoch_text);
    auto head = LogInternals::get_ref(txn, head_key(branch));
    if (!head) unknown(full, "no branch '" + branch + "'");
    if (!step_text.empty()) {
      // Mid-epoch versions have no index entries: walk the branch's first-parent history.
      const int64_t step = std::stoll(step_text);
      for (const CommitId& id : LogInternals::first_parents(txn, *head)) {
        const CommitRecord r = LogInternals::need_record(txn, id);
        if (r.is_merge()) continue;
        if (r.epoch == epoch && r.step_in_epoch() == step) return id;
        if (r.epoch < epoch) break;
      }
      throw Error(ErrorCode::kNotFound,
                  "branch '" + branch + "' has no version " + std::to_string(step) + " steps into the epoch after epoch " +
                      std::to_string(epoch),
                  "", "see `strata log " + branch + "` for its versions (mid-epoch ones read BRANCH@EPOCH.STEP)");
    }
    auto v = txn.get(Db::kIndex, index_key(branch, epoch));
    if (!v || v->size() != 16)
      throw Error(ErrorCode::kNotFound, "branch '" + branch + "' has no version at epoch " + std::to_string(epoch), "",
                  "see `strata log " + branch + "` for its epochs");
    return digest_from_bytes(*v);
  }
  // tags/NAME and heads/NAME select one kind; a bare name that is both (possible in logs written
  // before that was refused) is ambiguous, as in git.
  if (name.rfind("tags/", 0) == 0) {
    if (auto tag = LogInternals::get_ref(txn, tag_key(name.substr(5)))) return *tag;
    unknown(full, "no tag '" + name.substr(5) + "'");
  }
  if (name.rfind("heads/", 0) == 0) {
    if (auto head = LogInternals::get_ref(txn, head_key(name.substr(6)))) return *head;
    unknown(full, "no branch '" + name.substr(6) + "'");
  }
  auto tag = LogInternals::get_ref(txn, tag_key(name));
  auto head = LogInternals::get_ref(txn, head_key(name));
  if (tag && head && *tag != *head)
    throw Error(ErrorCode::kInvalidArgument, "'" + name + "' is ambiguous: both a tag and a branch", "",
                "write tags/" + name + " or heads/" + name);
  if (tag) return *tag;
  if (head) return *head;
  if (!is_hex(name)) unknown(full);
  std::string prefix = name;
  for (char& c : prefix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (prefix.size() > 32) unknown(full, "longer than a version id");
  if (prefix.size() < kMinPrefix)
    throw Error(ErrorCode::kInvalidArgument, "version prefix '" + name + "' is shorter than 4 hex digits", "", kHint);
  std::string lower = prefix + std::string(32 - prefix.size(), '0');
  std::vector<CommitId> matches;
  txn.scan_from(Db::kCommits, as_bytes(*digest_from_hex(lower)), [&](std::string_view k, std::string_view) {
    if (k.size() != 16) return true;
    CommitId id = digest_from_bytes(k);
    if (to_hex(id).compare(0, prefix.size(), prefix) != 0) return false;
    matches.push_back(id);
    return matches.size() <= 10;
  });
  if (matches.empty()) unknown(full);
  if (matches.size() > 1) {
    std::string list;
    for (const CommitId& id : matches) list += "\n  " + LogInternals::describe(txn, id);
    if (matches.size() > 10) list += "\n  ...";
    throw Error(ErrorCode::kInvalidArgument, "version prefix '" + name + "' is ambiguous; candidates:" + list, "",
                "give more hex digits");
  }
  return matches[0];
}

}  // namespace

CommitId VersionLog::resolve(const std::string& name) const {
  CommitId id{};
  env_->read([&](const LmdbTxn& txn) {
    int64_t back = 0;
    std::string base = split_ancestry(name, back);
    id = resolve_base(txn, base, name);
    for (int64_t i = 0; i < back; ++i) {
      CommitRecord r = LogInternals::need_record(txn, id);
      if (r.parents.empty())
        throw Error(ErrorCode::kNotFound,
                    "'" + name + "' goes back past the first version (" + LogInternals::describe(id, r) + " has no parent)", "",
                    kHint);
      id = r.parents[0];
    }
    LogInternals::need_record(txn, id);
  });
  return id;
}

std::string VersionLog::describe(const CommitId& id) const {
  std::string s;
  env_->read([&](const LmdbTxn& txn) { s = LogInternals::describe(txn, id); });
  return s;
}

}  // namespace strata::versioning
