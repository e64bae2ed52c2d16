// Clone, push and pull (docs/formats.md "Transfer"): the planner, the endpoint on a log of this process
// (what it advertises, lists, reads and applies) and named remotes.
#include "strata/versioning/transfer/transfer.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "strata/framework/core/error.h"
#include "strata/versioning/commit_graph.h"
#include "strata/versioning/internal/atomic_file.h"
#include "strata/versioning/internal/log_internals.h"
#include "strata/versioning/transfer/internal/transfer_endpoint.h"

namespace strata::versioning {
namespace {

namespace fs = std::filesystem;

// "tensor 'fc1/weight' of version 1a2b3c4d (main@3)": where a chunk belongs, for error messages.
using ChunkOwners = std::map<ChunkId, std::string>;

void add_owner(ChunkOwners& owners, const TensorEntry& e, const std::string& version) {
  for (const ChunkId& c : e.chunks) owners.emplace(c, "tensor '" + e.name + "' of version " + version);
}

std::string owner_of(const ChunkOwners& owners, const ChunkId& id) {
  auto it = owners.find(id);
  return it != owners.end() ? it->second : "chunk " + short_hex(id, 12);
}

// The commit graph as the records of `txn` hold it.
CommitLookup txn_commits(const LmdbTxn& txn) {
  return [&txn](const CommitId& id) -> std::optional<CommitNode> {
    CommitRecord r = LogInternals::need_record(txn, id);
    return CommitNode{std::move(r.parents), r.wall_time_ms};
  };
}

class LogEndpoint : public Endpoint {
 public:
  LogEndpoint(std::unique_ptr<VersionLog> log, bool receive) : log_(std::move(log)), receive_(receive) {}

  std::string where() const override { return log_->log_dir(); }

  Advertisement advertise() override {
    Advertisement ad;
    ad.protocol = kTransferProtocol;
    ad.writable = receive_;
    ad.settings = log_->settings();
    LogInternals::env(*log_).read([&](const LmdbTxn& txn) {
      ad.branches.clear();
      ad.tags.clear();
      ad.commits.clear();
      txn.scan_from(Db::kRefs, {}, [&](std::string_view key, std::string_view value) {
        if (value.size() != 16) throw Error(ErrorCode::kCorruption, "ref value is not a 16-byte id", std::string(key));
        if (key.rfind("heads/", 0) == 0) ad.branches[std::string(key.substr(6))] = digest_from_bytes(value);
        if (key.rfind("tags/", 0) == 0) ad.tags[std::string(key.substr(5))] = digest_from_bytes(value);
        return true;
      });
      ad.tag_signatures.clear();
      ad.trusted_keys.clear();
      txn.scan_prefix(Db::kSignatures, "t", [&](std::string_view key, std::string_view value) {
        ad.tag_signatures[std::string(key.substr(1))] = std::string(value);
        return true;
      });
      txn.scan_from(Db::kTrust, {}, [&](std::string_view, std::string_view value) {
        ad.trusted_keys.emplace_back(value);
        return true;
      });
      txn.scan_from(Db::kCommits, {}, [&](std::string_view key, std::string_view value) {
        if (key.size() != 16) return true;
        const CommitId id = digest_from_bytes(key);
        CommitRecord r;
        try {
          r = CommitRecord::decode(value);
        } catch (const Error& e) {
          throw Error(ErrorCode::kCorruption, "version " + short_hex(id) + " cannot be read: " + e.what_failed(), log_->log_dir(),
                      "run `strata verify --all` on this log");
        }
        ad.commits.push_back({id, r.parents, r.wall_time_ms, LogInternals::describe(id, r)});
        return true;
      });
    });
    return ad;
  }

  ObjectList objects_of(const std::vector<CommitId>& commits) override {
    ObjectList out;
    LogInternals::env(*log_).read([&](const LmdbTxn& txn) {
      out = ObjectList{};
      std::map<ChunkId, size_t> index;
      std::set<std::string> graphs;
      ChunkOwners owners;
      auto add = [&](const ChunkId& c) {
        auto [it, fresh] = index.emplace(c, out.chunks.size());
        if (fresh) {
          out.chunks.push_back(c);
          out.bases.push_back(-1);
          out.stored_bytes.push_back(0);
        }
        return it->second;
      };
      for (const CommitId& id : commits) {
        CommitRecord r = LogInternals::need_record(txn, id);
        LogInternals::load_optim(txn, id, r);
        const std::string version = LogInternals::describe(id, r);
        for (const auto* list : {&r.params, &r.optim})
          for (const TensorEntry& e : *list) {
            add_owner(owners, e, version);
            for (const ChunkId& c : e.chunks) add(c);
          }
        if (graphs.insert(r.graph_id).second) out.graphs.push_back(r.graph_id);
      }
      out.direct = out.chunks.size();
      // Delta bases, transitively: the list grows while it is walked.
      for (size_t i = 0; i < out.chunks.size(); ++i) {
        auto value = txn.get(Db::kChunks, as_bytes(out.chunks[i]));
        if (!value)
          throw Error(ErrorCode::kCorruption, "chunk " + short_hex(out.chunks[i], 12) + " is missing",
                      owner_of(owners, out.chunks[i]) + " in " + log_->log_dir(), "run `strata verify --all` on this log");
        ChunkHeader h;
        try {
          h = parse_chunk_header(*value);
        } catch (const Error& e) {
          throw Error(ErrorCode::kCorruption, "chunk " + short_hex(out.chunks[i], 12) + ": " + e.what_failed(),
                      owner_of(owners, out.chunks[i]) + " in " + log_->log_dir(), "run `strata verify --all` on this log");
        }
        out.stored_bytes[i] = value->size();
        if (h.delta) {
          if (owners.find(h.base) == owners.end()) owners.emplace(h.base, "delta base of " + owner_of(owners, out.chunks[i]));
          const size_t b = add(h.base);
          out.bases[i] = static_cast<int64_t>(b);
        }
      }
    });
    return out;
  }

  Lacks lacks(const ObjectList& objects) override {
    Lacks out;
    LogInternals::env(*log_).read([&](const LmdbTxn& txn) {
      out.chunks.assign(objects.chunks.size(), false);
      out.graphs.assign(objects.graphs.size(), false);
      for (size_t i = 0; i < objects.chunks.size(); ++i) out.chunks[i] = !txn.exists(Db::kChunks, as_bytes(objects.chunks[i]));
      for (size_t i = 0; i < objects.graphs.size(); ++i) out.graphs[i] = !txn.exists(Db::kGraphs, objects.graphs[i]);
    });
    return out;
  }

  Pack read_pack(const std::vector<CommitId>& commits, const std::vector<ChunkId>& chunks,
                 const std::vector<std::string>& graphs) override {
    Pack pack;
    LogInternals::env(*log_).read([&](const LmdbTxn& txn) {
      pack = Pack{};
      for (const CommitId& id : commits) {
        auto record = txn.get(Db::kCommits, as_bytes(id));
        if (!record) throw Error(ErrorCode::kNotFound, "version " + short_hex(id) + " is not in the log", log_->log_dir());
        PackCommit c{id, std::string(*record), {}, {}, {}};
        if (auto optim = txn.get(Db::kOptim, as_bytes(id))) c.optim = std::string(*optim);
        if (auto stats = txn.get(Db::kStats, as_bytes(id))) c.stats = std::string(*stats);
        txn.scan_prefix(Db::kSignatures, version_signature_prefix(id), [&](std::string_view, std::string_view v) {
          c.signatures.emplace_back(v);
          return true;
        });
        pack.commits.push_back(std::move(c));
      }
      for (const std::string& g : graphs) {
        auto bytes = txn.get(Db::kGraphs, g);
        if (!bytes)
          throw Error(ErrorCode::kCorruption, "graph " + g + " is missing", log_->log_dir(), "run `strata verify --all`");
        pack.graphs.emplace_back(g, std::string(*bytes));
      }
      for (const ChunkId& c : chunks) {
        auto value = txn.get(Db::kChunks, as_bytes(c));
        if (!value)
          throw Error(ErrorCode::kCorruption, "chunk " + short_hex(c, 12) + " is missing", log_->log_dir(),
                      "run `strata verify --all`");
        pack.chunks.emplace_back(c, std::string(*value));
      }
    });
    return pack;
  }

  void apply(const Pack& pack, const std::vector<RefUpdate>& updates) override {
    if (!receive_) throw Error(ErrorCode::kFailedPrecondition, "this side of the transfer was opened read-only", log_->log_dir());
    const LogSettings settings = log_->settings();
    LogInternals::env(*log_).write([&](LmdbTxn& txn) { apply_in(txn, pack, updates, settings); });
  }

 private:
  // What the arriving versions name: who owns each chunk (for messages), its dtype (to re-code
  // it), and every chunk of each version.
  struct Arrivals {
    ChunkOwners owners;
    std::map<ChunkId, DType> dtypes;
    std::map<CommitId, std::vector<ChunkId>> chunks_of;
    std::set<ChunkId> chunks;  // stored by this transfer
  };

  // The receiving transaction (repeatable: the environment reruns it after growing the map).
  // Everything is checked against its id before the refs move, last.
  void apply_in(LmdbTxn& txn, const Pack& pack, const std::vector<RefUpdate>& updates, const LogSettings& settings) {
    const std::string from = "as received by " + log_->log_dir();
    store_graphs(txn, pack, from);
    Arrivals arrivals;
    for (const PackCommit& c : pack.commits) store_commit(txn, c, from, arrivals);
    for (const auto& [id, value] : pack.chunks) {
      if (txn.exists(Db::kChunks, as_bytes(id))) continue;
      txn.put(Db::kChunks, as_bytes(id), value);
      arrivals.chunks.insert(id);
    }
    for (const ChunkId& id : arrivals.chunks) recode_if_base_moved(txn, id, arrivals, settings, from);
    for (const ChunkId& id : arrivals.chunks) {
      try {
        LogInternals::decode_chunk(*log_, txn, id, false);
      } catch (const Error& e) {
        throw Error(ErrorCode::kCorruption, "refused: " + e.what_failed(), owner_of(arrivals.owners, id) + ", " + from,
                    "run `strata verify --all` on the sending log; nothing was written here");
      }
    }
    queue_raw_chunks(txn, arrivals, settings, from);
    for (const RefUpdate& u : updates) move_ref(txn, u, pack, from);
  }

  // A signature that arrives is stored only if it verifies and covers what it arrives with.
  static Signature arriving_signature(std::string_view bytes, const CommitId& version, const std::string& tag,
                                      const std::string& from) {
    const std::string what = tag.empty() ? "a signature of version " + short_hex(version) : "the signature of tag '" + tag + "'";
    Signature s;
    try {
      s = Signature::decode(bytes);
    } catch (const Error& e) {
      throw Error(ErrorCode::kCorruption, "refused: " + what + " is malformed: " + e.what_failed(), from,
                  "run `strata verify --all` on the sending log; nothing was written here");
    }
    const SignatureCheck c = check_signatures({s}, TrustPolicy{}, version, tag);
    if (c.status == SignatureStatus::kBad)
      throw Error(ErrorCode::kCorruption, "refused: " + what + ": " + c.problem, from,
                  "run `strata verify --all` on the sending log; nothing was written here");
    return s;
  }

  void store_graphs(LmdbTxn& txn, const Pack& pack, const std::string& from) {
    for (const auto& [id, bytes] : pack.graphs) {
      if (to_hex(hash128(bytes)) != id)
        throw Error(ErrorCode::kCorruption, "refused: graph " + id + " does not match its id", from,
                    "run `strata verify --all` on the sending log");
      if (!txn.exists(Db::kGraphs, id)) txn.put(Db::kGraphs, id, bytes);
    }
  }

  // Stores one arriving version (record, optimizer manifest, stats) once its parents and graph
  // are here, and notes the chunks it names.
  void store_commit(LmdbTxn& txn, const PackCommit& c, const std::string& from, Arrivals& arrivals) {
    if (hash128(c.record) != c.id)
      throw Error(ErrorCode::kCorruption, "refused: version " + short_hex(c.id) + " does not match its id", from,
                  "run `strata verify --all` on the sending log");
    CommitRecord r = CommitRecord::decode(c.record);
    const std::string version = LogInternals::describe(c.id, r);
    for (const CommitId& p : r.parents)
      if (!txn.exists(Db::kCommits, as_bytes(p)))
        throw Error(ErrorCode::kCorruption, "refused: the parent " + short_hex(p) + " of version " + version + " did not arrive",
                    from);
    if (!txn.exists(Db::kGraphs, r.graph_id))
      throw Error(ErrorCode::kCorruption, "refused: the graph of version " + version + " did not arrive", from);
    for (const std::string& bytes : c.signatures) {
      const Signature s = arriving_signature(bytes, c.id, "", from);
      txn.put(Db::kSignatures, version_signature_key(c.id, s.key_id()), bytes);
    }
    if (txn.exists(Db::kCommits, as_bytes(c.id))) return;
    txn.put(Db::kCommits, as_bytes(c.id), c.record);
    if (!c.optim.empty()) {
      if (hash128(c.optim) != r.optim_digest)
        throw Error(ErrorCode::kCorruption,
                    "refused: the optimizer manifest of version " + version + " does not match its digest", from,
                    "run `strata verify --all` on the sending log");
      r.optim = decode_manifest(c.optim);
      txn.put(Db::kOptim, as_bytes(c.id), c.optim);
    }
    if (!c.stats.empty()) {
      CommitStats::decode(c.stats);  // kCorruption on bad bytes
      txn.put(Db::kStats, as_bytes(c.id), c.stats);
    }
    std::vector<ChunkId>& mine = arrivals.chunks_of[c.id];
    for (const auto* list : {&r.params, &r.optim})
      for (const TensorEntry& e : *list) {
        add_owner(arrivals.owners, e, version);
        for (const ChunkId& ch : e.chunks) {
          arrivals.dtypes.emplace(ch, e.dtype);
          mine.push_back(ch);
        }
      }
  }

  // A delta whose base this log already held may find that base at another depth than the
  // sender's (it was coded there against another parent, or compacted): it is re-coded as a
  // keyframe, so that every chain is valid here.
  void recode_if_base_moved(LmdbTxn& txn, const ChunkId& id, const Arrivals& arrivals, const LogSettings& settings,
                            const std::string& from) {
    const std::string value(*txn.get(Db::kChunks, as_bytes(id)));
    ChunkHeader h;
    try {
      h = parse_chunk_header(value);
    } catch (const Error& e) {
      throw Error(ErrorCode::kCorruption, "refused: " + e.what_failed(), owner_of(arrivals.owners, id) + ", " + from,
                  "run `strata verify --all` on the sending log");
    }
    if (!h.delta || arrivals.chunks.count(h.base)) return;
    auto base = txn.get(Db::kChunks, as_bytes(h.base));
    if (!base) return;  // reported as a broken chain when the arrivals are decoded
    if (parse_chunk_header(*base).depth + 1 <= h.depth) return;
    // Decoded by hand against the base: the chain as stored now breaks the depth rule, so the
    // chain reader (which enforces it) would refuse it.
    const ChunkBytes base_raw = LogInternals::decode_chunk(*log_, txn, h.base, true);
    std::string raw(h.raw_size, '\0');
    try {
      if (base_raw->size() != h.raw_size) throw_corruption("its delta base has another size");
      versioning::decode_chunk(value, h, base_raw->data(), reinterpret_cast<uint8_t*>(raw.data()));
      if (hash128(raw) != id) throw_corruption("decoded bytes do not match the chunk id");
    } catch (const Error& e) {
      throw Error(ErrorCode::kCorruption, "refused: chunk " + short_hex(id, 12) + ": " + e.what_failed(),
                  owner_of(arrivals.owners, id) + ", " + from,
                  "run `strata verify --all` on the sending log; nothing was written here");
    }
    auto dt = arrivals.dtypes.find(id);
    const CodecOptions codec = CodecOptions().codec(settings.codec).zstd_level(settings.zstd_level);
    txn.put(Db::kChunks, as_bytes(id), encode_chunk(raw, dt != arrivals.dtypes.end() ? dt->second : DType::kU8, nullptr, codec));
  }

  // Every chunk of every arriving version is here; chunks that arrive raw (queued for compaction
  // on the sending side) are queued here too.
  void queue_raw_chunks(LmdbTxn& txn, const Arrivals& arrivals, const LogSettings& settings, const std::string& from) {
    for (const auto& [commit, list] : arrivals.chunks_of) {
      std::vector<ChunkId> raw;
      for (const ChunkId& ch : list) {
        if (!txn.exists(Db::kChunks, as_bytes(ch)))
          throw Error(ErrorCode::kCorruption, "refused: chunk " + short_hex(ch, 12) + " did not arrive",
                      owner_of(arrivals.owners, ch) + ", " + from);
        if (arrivals.chunks.count(ch) && parse_chunk_header(*txn.get(Db::kChunks, as_bytes(ch))).codec == ChunkCodec::kRaw &&
            settings.codec != ChunkCodec::kRaw)
          raw.push_back(ch);
      }
      if (raw.empty()) continue;
      std::string entry(as_bytes(commit));
      for (const ChunkId& ch : raw) entry += as_bytes(ch);
      txn.put(Db::kPending, next_pending_key(txn), entry);
    }
  }

  // Moves one ref: only from where the sender saw it (unless forced), a branch only forward.
  void move_ref(LmdbTxn& txn, const RefUpdate& u, const Pack& pack, const std::string& from) {
    validate_ref_name(u.tag ? "tag" : "branch", u.name);
    if (!txn.exists(Db::kCommits, as_bytes(u.new_id)))
      throw Error(ErrorCode::kCorruption, "refused: version " + short_hex(u.new_id) + " for '" + u.name + "' did not arrive",
                  from);
    const std::string key = u.tag ? tag_key(u.name) : head_key(u.name);
    const auto current = LogInternals::get_ref(txn, key);
    if (current != u.expected_old && !u.force)
      throw Error(
          ErrorCode::kFailedPrecondition, std::string(u.tag ? "tag '" : "branch '") + u.name + "' moved while the transfer ran",
          "now at " + (current ? LogInternals::describe(txn, *current) : std::string("nothing")) + " in " + log_->log_dir(),
          "run the command again");
    if (current && !u.tag && !u.force && !is_ancestor(txn_commits(txn), *current, u.new_id))
      throw Error(ErrorCode::kFailedPrecondition, "branch '" + u.name + "' would not fast-forward",
                  LogInternals::describe(txn, *current) + " in " + log_->log_dir(), "pass --force to move it anyway");
    if (LogInternals::get_ref(txn, u.tag ? head_key(u.name) : tag_key(u.name)))
      throw Error(ErrorCode::kAlreadyExists,
                  std::string("a ") + (u.tag ? "branch" : "tag") + " is named '" + u.name + "' in " + log_->log_dir(), "",
                  "send it under another name (SRC:DST)");
    txn.put(Db::kRefs, key, as_bytes(u.new_id));
    if (!u.tag) {
      LogInternals::reindex_branch(txn, u.name, u.new_id);
      return;
    }
    // A moved tag loses the signature of its old target; a signed one brings its own.
    txn.del(Db::kSignatures, tag_signature_key(u.name));
    if (auto it = pack.tag_signatures.find(u.name); it != pack.tag_signatures.end()) {
      arriving_signature(it->second, u.new_id, u.name, from);
      txn.put(Db::kSignatures, tag_signature_key(u.name), it->second);
    }
  }

  std::unique_ptr<VersionLog> log_;
  bool receive_;
};

// ---- the planner ----

class Dag {
 public:
  void add(const Advertisement& ad) {
    for (const AdvertisedCommit& c : ad.commits) nodes_.emplace(c.id, c);
  }
  const AdvertisedCommit* find(const CommitId& id) const {
    auto it = nodes_.find(id);
    return it == nodes_.end() ? nullptr : &it->second;
  }
  std::string label(const CommitId& id) const {
    const AdvertisedCommit* c = find(id);
    return c ? c->label : short_hex(id);
  }
  // The other side's history as a commit graph (versions it did not advertise end it).
  CommitLookup commits() const {
    return [this](const CommitId& id) -> std::optional<CommitNode> {
      const AdvertisedCommit* c = find(id);
      if (!c) return std::nullopt;
      return CommitNode{c->parents, c->wall_time_ms};
    };
  }

 private:
  std::map<CommitId, AdvertisedCommit> nodes_;
};

// The size of encode_pack(pack), without building it.
uint64_t encoded_size(const Pack& pack) {
  uint64_t n = 3 * 8;
  for (const PackCommit& c : pack.commits) n += 16 + 3 * 8 + c.record.size() + c.optim.size() + c.stats.size();
  for (const auto& [id, bytes] : pack.graphs) n += 2 * 8 + id.size() + bytes.size();
  for (const auto& [id, value] : pack.chunks) n += 16 + 8 + value.size();
  return n;
}

// `src` is from.advertise() (clone has it already: one advertisement per side).
// The chunks to send: those the receiver lacks that a new version names, and those a sent chunk
// is a delta against. Adds their stored size to `bytes`.
std::vector<ChunkId> chunks_to_send(const ObjectList& objects, const Lacks& lacking, uint64_t& bytes) {
  std::vector<bool> needed(objects.chunks.size(), false);
  std::vector<size_t> todo;
  for (size_t i = 0; i < objects.direct; ++i) todo.push_back(i);
  std::vector<ChunkId> chunks;
  while (!todo.empty()) {
    const size_t i = todo.back();
    todo.pop_back();
    if (needed[i] || !lacking.chunks[i]) continue;
    needed[i] = true;
    chunks.push_back(objects.chunks[i]);
    bytes += objects.stored_bytes[i];
    if (objects.bases[i] >= 0) todo.push_back(static_cast<size_t>(objects.bases[i]));
  }
  return chunks;
}

// --require-signed: every arriving version carries a good signature by a key the receiving log
// trusts (or one of --trusted); otherwise the transfer is refused before anything is written.
void require_signed(const Pack& pack, const Advertisement& dst, const TransferOptions& options, const std::string& where) {
  std::vector<TrustedKey> trust;
  for (const std::string& bytes : dst.trusted_keys) trust.push_back(TrustedKey::decode(bytes));
  const TrustPolicy policy = TrustPolicy::from_files(options.trusted(), trust);
  std::vector<std::string> refused;
  for (const PackCommit& c : pack.commits) {
    std::vector<Signature> signatures;
    SignatureCheck check;
    try {
      for (const std::string& bytes : c.signatures) signatures.push_back(Signature::decode(bytes));
      check = check_signatures(signatures, policy, c.id);
    } catch (const Error& e) {
      check.status = SignatureStatus::kBad;
      check.problem = "a signature is malformed: " + e.what_failed();
    }
    if (check.status == SignatureStatus::kTrusted) continue;
    std::string label = short_hex(c.id);
    try {
      label = LogInternals::describe(c.id, CommitRecord::decode(c.record));
    } catch (const Error&) {
    }
    refused.push_back(label + ": " +
                      (check.status == SignatureStatus::kUnsigned ? std::string("unsigned")
                       : check.status == SignatureStatus::kBad
                           ? "bad signature: " + check.problem
                           : std::string(signature_status_name(check.status)) + " (signed by " + check.signer + ")"));
  }
  if (refused.empty()) return;
  std::string what = "--require-signed: " + std::to_string(refused.size()) + " of " + std::to_string(pack.commits.size()) +
                     " arriving versions are not signed by a trusted key; nothing was written:";
  for (size_t i = 0; i < refused.size() && i < 20; ++i) what += "\n  " + refused[i];
  if (refused.size() > 20) what += "\n  ...";
  const char* hint = !options.trusted().empty() ? "check the --trusted keys"
                     : trust.empty()
                         ? "the receiving log trusts no key yet (a new one never does): pass --trusted KEY.pub"
                         : "trust the signer's key (`strata trust add KEY.pub --name NAME`), or pass --trusted KEY.pub";
  throw Error(ErrorCode::kFailedPrecondition, what, where, hint);
}

TransferReport transfer(Endpoint& from, const Advertisement& src, Endpoint& to, const TransferOptions& options) {
  const Advertisement dst = to.advertise();
  Dag dag;
  dag.add(src);
  dag.add(dst);
  std::set<CommitId> known;
  for (const AdvertisedCommit& c : dst.commits) known.insert(c.id);

  TransferReport report;
  std::vector<RefUpdate> updates;
  std::vector<std::string> refused;
  std::vector<RefSpec> specs = options.branches();
  if (specs.empty())
    for (const auto& [name, id] : src.branches) specs.push_back({name, name});
  for (const RefSpec& spec : specs) {
    auto it = src.branches.find(spec.src);
    if (it == src.branches.end()) {
      std::string have;
      for (const auto& [name, id] : src.branches) have += (have.empty() ? "" : ", ") + name;
      throw Error(ErrorCode::kNotFound, "no branch '" + spec.src + "' to send", from.where(),
                  have.empty() ? "that log has no branches" : "its branches: " + have);
    }
    validate_ref_name("branch", spec.dst);
    const CommitId next = it->second;
    auto old = dst.branches.find(spec.dst);
    std::optional<CommitId> old_id;
    if (old != dst.branches.end()) old_id = old->second;
    if (old_id == next) {
      report.up_to_date.push_back(spec.dst);
      continue;
    }
    bool forced = false;
    if (old_id && !is_ancestor(dag.commits(), *old_id, next)) {
      if (!options.force()) {
        auto base = merge_base(dag.commits(), *old_id, next);
        refused.push_back("branch '" + spec.dst + "': " + to.where() + " has it at " + dag.label(*old_id) +
                          ", which is not an ancestor of " + dag.label(next) +
                          (base ? "; the histories diverged after " + dag.label(*base) : "; the histories never meet"));
        continue;
      }
      forced = true;
    }
    updates.push_back({false, spec.dst, old_id, next, forced});
    report.moved.push_back({spec.dst, false, old_id, next, forced, dag.label(next)});
  }
  if (options.tags())
    for (const auto& [name, id] : src.tags) {
      auto old = dst.tags.find(name);
      std::optional<CommitId> old_id;
      if (old != dst.tags.end()) old_id = old->second;
      if (old_id == id) {
        report.up_to_date.push_back("tag " + name);
        continue;
      }
      if (old_id && !options.force()) {
        refused.push_back("tag '" + name + "': " + to.where() + " has it at " + dag.label(*old_id) + ", not " + dag.label(id));
        continue;
      }
      updates.push_back({true, name, old_id, id, old_id.has_value()});
      report.moved.push_back({name, true, old_id, id, old_id.has_value(), dag.label(id)});
    }
  if (!refused.empty()) {
    std::string what =
        std::to_string(refused.size()) + (refused.size() == 1 ? " ref was" : " refs were") + " refused, nothing was sent:";
    for (const std::string& r : refused) what += "\n  " + r;
    throw Error(ErrorCode::kFailedPrecondition, what, to.where(),
                "bring the other side's versions in first (pull BRANCH:NEW-NAME, then `strata merge`), or pass --force to move "
                "the refs anyway");
  }
  if (updates.empty()) return report;

  std::vector<CommitId> heads;
  for (const RefUpdate& u : updates) heads.push_back(u.new_id);
  const std::vector<CommitId> commits = parents_first(dag.commits(), heads, known);
  ObjectList objects;
  Lacks lacking;
  if (!commits.empty()) {
    objects = from.objects_of(commits);
    lacking = to.lacks(objects);
  }
  const std::vector<ChunkId> chunks = chunks_to_send(objects, lacking, report.chunk_bytes);
  std::vector<std::string> graphs;
  for (size_t i = 0; i < objects.graphs.size(); ++i)
    if (lacking.graphs[i]) graphs.push_back(objects.graphs[i]);
  Pack pack = from.read_pack(commits, chunks, graphs);
  for (const RefUpdate& u : updates)
    if (auto it = src.tag_signatures.find(u.name); u.tag && it != src.tag_signatures.end())
      pack.tag_signatures[u.name] = it->second;
  if (options.require_signed()) require_signed(pack, dst, options, to.where());
  report.commits = pack.commits.size();
  report.graphs = pack.graphs.size();
  report.chunks = pack.chunks.size();
  report.pack_bytes = encoded_size(pack);
  to.apply(pack, updates);
  return report;
}

bool holds_log(const std::string& dir) { return fs::exists(fs::path(dir) / "versions.lmdb"); }

// The `remotes` file: one "name url" line per remote (docs/formats.md "Remotes").
std::string remotes_path(const std::string& log_dir) { return (fs::path(log_dir) / "remotes").string(); }

void validate_remote_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 100 && name[0] != '-';
  for (char ch : name) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.');
  if (!ok) throw_invalid("bad remote name '" + name + "'", "", "use letters, digits, '.', '_' and '-'");
}

// The remotes file opens with this line and ends with "# xxh3 <16 hex digits>" over every byte
// before it: a lost, added or altered line is Corruption rather than a pull from elsewhere. Files
// without the header (Strata 0.3 and older) are read as they are and sealed when next written.
constexpr char kRemotesHeader[] = "# strata remotes v2";

std::string remotes_checksum(std::string_view text) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(XXH3_64bits(text.data(), text.size())));
  return std::string("# xxh3 ") + hex;
}

void write_remotes(const std::string& log_dir, const std::map<std::string, std::string>& all) {
  std::string text = std::string(kRemotesHeader) + "\n";
  for (const auto& [name, url] : all) text += name + " " + url + "\n";
  text += remotes_checksum(text) + "\n";
  write_atomically(remotes_path(log_dir), "remotes", [&](std::FILE* f) { std::fwrite(text.data(), 1, text.size(), f); });
}

}  // namespace

RefSpec parse_refspec(const std::string& text) {
  const size_t colon = text.find(':');
  RefSpec spec{text.substr(0, colon), colon == std::string::npos ? text : text.substr(colon + 1)};
  validate_ref_name("branch", spec.src);
  validate_ref_name("branch", spec.dst);
  return spec;
}

std::unique_ptr<Endpoint> open_log_endpoint(const std::string& log_dir, bool receive, bool create, const LogOptions& options) {
  if (!create && !holds_log(log_dir))
    throw Error(ErrorCode::kNotFound, "no version log at '" + log_dir + "'", "",
                "check the path (a log directory holds versions.lmdb)");
  return std::make_unique<LogEndpoint>(VersionLog::open(log_dir, receive ? OpenMode::kReadWrite : OpenMode::kReadOnly, options),
                                       receive);
}

TransferReport push(const std::string& local_dir, const std::string& remote, const TransferOptions& options) {
  auto from = open_log_endpoint(local_dir, false);
  auto to = open_endpoint(resolve_remote(local_dir, remote), true, options.remote_strata());
  return transfer(*from, from->advertise(), *to, options);
}

TransferReport pull(const std::string& local_dir, const std::string& remote, const TransferOptions& options) {
  auto from = open_endpoint(resolve_remote(local_dir, remote), false, options.remote_strata());
  auto to = open_log_endpoint(local_dir, true, true);
  return transfer(*from, from->advertise(), *to, options);
}

TransferReport clone(const std::string& src, const std::string& dst_dir, const TransferOptions& options) {
  if (holds_log(dst_dir))
    throw Error(ErrorCode::kAlreadyExists, "'" + dst_dir + "' already holds a version log", "", "clone into a new directory");
  const bool created = !fs::exists(dst_dir);
  try {
    auto from = open_endpoint(src, false, options.remote_strata());
    const Advertisement src_ad = from->advertise();
    const LogSettings& s = src_ad.settings;
    auto to = open_log_endpoint(dst_dir, true, true,
                                LogOptions().keyframe_interval(s.keyframe_interval).zstd_level(s.zstd_level).codec(s.codec));
    TransferOptions all = options;
    all.branches({}).tags(true).force(false);
    TransferReport report = transfer(*from, src_ad, *to, all);
    to.reset();
    const bool is_url = src.rfind("ssh://", 0) == 0;
    set_remote(dst_dir, "origin", is_url ? src : fs::absolute(src).lexically_normal().string(), true);
    return report;
  } catch (...) {
    // A clone that failed leaves nothing behind (the transaction wrote nothing; the empty log goes too).
    std::error_code ec;
    if (created) fs::remove_all(dst_dir, ec);
    throw;
  }
}

std::map<std::string, std::string> remotes(const std::string& log_dir) {
  std::map<std::string, std::string> out;
  std::ifstream file(remotes_path(log_dir), std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (text.rfind(std::string(kRemotesHeader) + "\n", 0) == 0) {
    const size_t last = text.size() >= 2 ? text.rfind('\n', text.size() - 2) : std::string::npos;
    const std::string sealed = last == std::string::npos ? "" : text.substr(last + 1);
    if (sealed != remotes_checksum(std::string_view(text).substr(0, last + 1)) + "\n")
      throw Error(ErrorCode::kCorruption, "the remotes file does not match its checksum: a line was lost, added or altered",
                  remotes_path(log_dir), "fix the file, or delete it and add the remotes again (`strata remote add`)");
    text = text.substr(sizeof kRemotesHeader, last + 1 - sizeof kRemotesHeader);  // the lines between
  }
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == line.size())
      throw Error(ErrorCode::kCorruption, "line " + std::to_string(n) + " is not 'NAME URL'", remotes_path(log_dir),
                  "fix or delete the line (`strata remote remove`)");
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

void set_remote(const std::string& log_dir, const std::string& name, const std::string& url, bool force) {
  validate_remote_name(name);
  if (url.empty() || url.find('\n') != std::string::npos)
    throw_invalid("bad remote URL", name, "give a log directory or ssh://host/path");
  if (!holds_log(log_dir)) throw Error(ErrorCode::kNotFound, "no version log at '" + log_dir + "'", "", "check --log");
  auto all = remotes(log_dir);
  if (all.count(name) && !force && all[name] != url)
    throw Error(ErrorCode::kAlreadyExists, "remote '" + name + "' already exists", all[name], "remove it first, or pass --force");
  all[name] = url;
  write_remotes(log_dir, all);
}

void remove_remote(const std::string& log_dir, const std::string& name) {
  auto all = remotes(log_dir);
  if (!all.erase(name)) throw Error(ErrorCode::kNotFound, "no remote '" + name + "'", log_dir, "see `strata remote`");
  write_remotes(log_dir, all);
}

std::string resolve_remote(const std::string& log_dir, const std::string& name_or_url) {
  if (name_or_url.find('/') == std::string::npos && fs::exists(remotes_path(log_dir))) {
    auto all = remotes(log_dir);
    if (auto it = all.find(name_or_url); it != all.end()) return it->second;
  }
  return name_or_url;
}

}  // namespace strata::versioning
