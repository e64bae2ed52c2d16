#include "strata/versioning/internal/index_guard.h"

#include <xxhash.h>

#include <cstring>

#include "strata/framework/core/error.h"
#include "strata/framework/core/internal/little_endian.h"
#include "strata/versioning/internal/lmdb_env.h"

namespace strata::versioning {
namespace {

// XXH3-128 of u32 key length (little-endian), key, value: the length keeps (k, v) pairs that
// concatenate alike apart.
XXH128_hash_t entry_hash(std::string_view key, std::string_view value) {
  XXH3_state_t* state = XXH3_createState();
  STRATA_CHECK(state != nullptr);
  XXH3_128bits_reset(state);
  std::string len;
  put_u32(len, static_cast<uint32_t>(key.size()));
  XXH3_128bits_update(state, len.data(), len.size());
  XXH3_128bits_update(state, key.data(), key.size());
  XXH3_128bits_update(state, value.data(), value.size());
  const XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  return h;
}

}  // namespace

void IndexDigest::add(std::string_view key, std::string_view value) {
  const XXH128_hash_t h = entry_hash(key, value);
  const uint64_t lo = sum_lo + h.low64;
  sum_hi += h.high64 + (lo < sum_lo ? 1 : 0);
  sum_lo = lo;
  ++count;
}

void IndexDigest::remove(std::string_view key, std::string_view value) {
  const XXH128_hash_t h = entry_hash(key, value);
  const uint64_t lo = sum_lo - h.low64;
  sum_hi -= h.high64 + (lo > sum_lo ? 1 : 0);
  sum_lo = lo;
  --count;
}

std::string IndexDigest::encode() const {
  std::string out;
  put_u64(out, count);
  put_u64(out, sum_lo);
  put_u64(out, sum_hi);
  return out;
}

std::optional<IndexDigest> IndexDigest::decode(std::string_view bytes) {
  if (bytes.size() != 24) return std::nullopt;
  IndexDigest d;
  d.count = get_u64(bytes.data());
  d.sum_lo = get_u64(bytes.data() + 8);
  d.sum_hi = get_u64(bytes.data() + 16);
  return d;
}

bool is_guarded(Db db) { return db == Db::kRefs || db == Db::kIndex || db == Db::kSignatures || db == Db::kTrust; }

std::string digest_key(Db db) { return std::string("digest/") + db_name(db); }

IndexDigest compute_digest(const LmdbTxn& txn, Db db) {
  IndexDigest d;
  txn.scan_from(db, {}, [&](std::string_view k, std::string_view v) {
    d.add(k, v);
    return true;
  });
  return d;
}

std::optional<IndexDigest> stored_digest(const LmdbTxn& txn, Db db) {
  auto bytes = txn.get(Db::kMeta, digest_key(db));
  if (!bytes) return std::nullopt;
  auto d = IndexDigest::decode(*bytes);
  if (!d)
    throw Error(ErrorCode::kCorruption, "the digest of the '" + std::string(db_name(db)) + "' database is not 24 bytes",
                digest_key(db), "run `strata verify --all`");
  return d;
}

}  // namespace strata::versioning
