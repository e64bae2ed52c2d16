// The digests of the guarded databases (internal/index_guard.h): what differs from them, and
// accepting the databases as they are.
#include <algorithm>
#include <map>
#include <set>

#include "strata/framework/core/error.h"
#include "strata/versioning/internal/index_guard.h"
#include "strata/versioning/internal/log_internals.h"

namespace strata::versioning {
namespace {

constexpr Db kGuardedDbs[] = {Db::kRefs, Db::kIndex, Db::kSignatures, Db::kTrust};

std::string printable(std::string_view key) {
  std::string out;
  static const char kDigits[] = "0123456789abcdef";
  for (char c : key) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kDigits[u >> 4]);
      out.push_back(kDigits[u & 15]);
    }
  }
  return out;
}

// A lost ref leaves its versions behind: tips (versions no other version names as a parent)
// that no ref names (a tip is reached from a ref only by being its target). Their records name
// the branch they were made on.
std::vector<std::string> unreached_tips(const LmdbTxn& txn) {
  std::map<CommitId, CommitRecord> records;
  std::set<CommitId> parents, targets;
  txn.scan_from(Db::kCommits, {}, [&](std::string_view k, std::string_view) {
    if (k.size() != 16) return true;
    const CommitId id = digest_from_bytes(k);
    if (auto r = LogInternals::get_record(txn, id)) {
      parents.insert(r->parents.begin(), r->parents.end());
      records.emplace(id, std::move(*r));
    }
    return true;
  });
  txn.scan_from(Db::kRefs, {}, [&](std::string_view, std::string_view v) {
    if (v.size() == 16) targets.insert(digest_from_bytes(v));
    return true;
  });
  std::vector<std::string> out;
  for (const auto& [id, r] : records) {
    if (parents.count(id) || targets.count(id)) continue;
    out.push_back("version " + LogInternals::describe(id, r) + " is a tip that no branch or tag reaches: branch '" + r.branch +
                  "' or a tag on it may have vanished");
  }
  return out;
}

// The index entries that differ from what the branches' histories say.
std::vector<std::string> index_differences(const LmdbTxn& txn) {
  std::map<std::string, CommitId> expected;  // index key -> version
  std::vector<std::string> out;
  txn.scan_prefix(Db::kRefs, "heads/", [&](std::string_view k, std::string_view v) {
    if (v.size() != 16) return true;
    const std::string branch(k.substr(6));
    for (const auto& [epoch, id] : LogInternals::branch_index(txn, digest_from_bytes(v)))
      expected.emplace(index_key(branch, epoch), id);
    return true;
  });
  auto label = [](std::string_view key) {
    const size_t nul = key.find('\0');
    if (nul == std::string_view::npos || key.size() != nul + 9) return "entry '" + printable(key) + "'";
    uint64_t epoch = 0;
    for (size_t i = nul + 1; i < key.size(); ++i) epoch = (epoch << 8) | static_cast<unsigned char>(key[i]);
    return "entry " + std::string(key.substr(0, nul)) + "@" + std::to_string(epoch);
  };
  std::set<std::string> seen;
  txn.scan_from(Db::kIndex, {}, [&](std::string_view k, std::string_view v) {
    const std::string key(k);
    seen.insert(key);
    auto it = expected.find(key);
    if (it == expected.end())
      out.push_back("branch index " + label(k) + " belongs to no branch's history");
    else if (v != as_bytes(it->second))
      out.push_back("branch index " + label(k) + " names the wrong version");
    return true;
  });
  for (const auto& [key, id] : expected)
    if (!seen.count(key)) out.push_back("branch index " + label(key) + " is missing (it should name " + short_hex(id) + ")");
  return out;
}

}  // namespace

std::vector<std::string> digest_problems(const LmdbTxn& txn) {
  std::vector<std::string> out;
  for (Db db : kGuardedDbs) {
    std::optional<IndexDigest> stored;
    try {
      stored = stored_digest(txn, db);
    } catch (const Error& e) {
      out.push_back(e.what_failed());
      continue;
    }
    const std::string name = db_name(db);
    if (!stored) {
      out.push_back("the digest of the '" + name + "' database is missing from meta");
      continue;
    }
    const IndexDigest now = compute_digest(txn, db);
    if (now == *stored) continue;
    if (now.count != stored->count)
      out.push_back("the '" + name + "' database holds " + std::to_string(now.count) + " entries, its digest records " +
                    std::to_string(stored->count) + ": entries vanished or appeared outside Strata");
    else
      out.push_back("the '" + name + "' database does not match its digest: an entry was altered outside Strata");
    std::vector<std::string> detail;
    if (db == Db::kRefs) detail = unreached_tips(txn);
    if (db == Db::kIndex) detail = index_differences(txn);
    out.insert(out.end(), detail.begin(), detail.end());
  }
  return out;
}

void seal_digests(LmdbTxn& txn) {
  for (Db db : kGuardedDbs) txn.put(Db::kMeta, digest_key(db), compute_digest(txn, db).encode());
}

std::vector<std::string> VersionLog::reseal_digests() {
  require_writable("reseal the digests");
  std::lock_guard<std::mutex> serial(write_mu_);
  std::vector<std::string> accepted;
  env_->write([&](LmdbTxn& txn) {
    accepted = digest_problems(txn);
    seal_digests(txn);
  });
  return accepted;
}

}  // namespace strata::versioning
