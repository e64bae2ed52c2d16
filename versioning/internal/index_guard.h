// Digests over whole databases whose silent loss of a key would change an answer (docs/formats.md
// "Guarded databases"): the refs, the branch index, the signatures and the trust list.
//
// LMDB keeps no page checksums: one flipped byte in a B-tree page can drop or rename a key and
// every read still succeeds. So every put and delete on a guarded database also updates, in the
// same transaction, a digest of the whole set of (key, value) entries kept in `meta`: the entry
// count and the sum, modulo 2^128, of each entry's XXH3-128. The sum makes an update O(1), and a
// vanished, added or altered entry changes it. Opening the log and `verify` recompute it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strata::versioning {

enum class Db : int;
class LmdbTxn;

struct IndexDigest {
  uint64_t count = 0;
  uint64_t sum_lo = 0, sum_hi = 0;  // the 128-bit sum of the entries' hashes

  void add(std::string_view key, std::string_view value);
  void remove(std::string_view key, std::string_view value);
  bool operator==(const IndexDigest& o) const { return count == o.count && sum_lo == o.sum_lo && sum_hi == o.sum_hi; }
  bool operator!=(const IndexDigest& o) const { return !(*this == o); }

  std::string encode() const;  // 24 bytes: count, sum_lo, sum_hi (u64 little-endian each)
  static std::optional<IndexDigest> decode(std::string_view bytes);
};

// Whether puts and deletes on `db` keep a digest.
bool is_guarded(Db db);
// The `meta` key of db's digest: "digest/<db name>".
std::string digest_key(Db db);
// The digest of db's entries as they are now (a full scan).
IndexDigest compute_digest(const LmdbTxn& txn, Db db);
// The digest kept in `meta`; nullopt when absent (a log written before digests existed), and
// kCorruption when it is not 24 bytes.
std::optional<IndexDigest> stored_digest(const LmdbTxn& txn, Db db);

}  // namespace strata::versioning
