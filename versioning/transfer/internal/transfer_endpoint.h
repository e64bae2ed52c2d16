// The two ends of a transfer (internal). A transfer is planned by the side that runs the command
// and talks to both logs through Endpoint: a LogEndpoint on a log of this process, or a
// StreamEndpoint that forwards each call to `strata upload-pack` or `receive-pack` on the far side
// of a pipe (ssh).
// The calls and their bytes are specified in docs/formats.md "Transfer".
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/versioning/transfer/transfer.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {

struct AdvertisedCommit {
  CommitId id{};
  std::vector<CommitId> parents;
  int64_t wall_time_ms = 0;
  std::string label;  // "1a2b3c4d (main@3)"
};

// What a log shows of itself: refs, settings and its whole version DAG (ids and parents), so the
// planner can tell what the other side lacks and whether a ref move is a fast-forward.
struct Advertisement {
  uint32_t protocol = 0;
  bool writable = false;
  LogSettings settings;
  std::map<std::string, CommitId> branches, tags;
  std::map<std::string, std::string> tag_signatures;  // tag -> encoded Signature (signed tags only)
  std::vector<std::string> trusted_keys;              // the log's trust list, encoded TrustedKeys
  std::vector<AdvertisedCommit> commits;
};

// Chunks a set of versions needs, with the delta bases of each, transitively (`bases[i]`: the
// index in `chunks` of chunk i's base, or -1 for a keyframe), and their graphs.
struct ObjectList {
  size_t direct = 0;  // chunks[0, direct) are named by the versions; the rest are bases only
  std::vector<ChunkId> chunks;
  std::vector<int64_t> bases;
  std::vector<uint64_t> stored_bytes;
  std::vector<std::string> graphs;
};

// What the receiver lacks of an ObjectList, flag per entry.
struct Lacks {
  std::vector<bool> chunks, graphs;
};

struct PackCommit {
  CommitId id{};
  std::string record, optim, stats;     // optim / stats empty when the sender has none
  std::vector<std::string> signatures;  // encoded Signatures
};
struct Pack {
  std::vector<PackCommit> commits;                          // parents before children
  std::vector<std::pair<std::string, std::string>> graphs;  // id, GraphSpec bytes
  std::vector<std::pair<ChunkId, std::string>> chunks;      // id, stored value
  std::map<std::string, std::string> tag_signatures;        // the moved tags' signatures, encoded
};

struct RefUpdate {
  bool tag = false;
  std::string name;
  std::optional<CommitId> expected_old;  // what the planner saw; the receiver refuses a ref that moved since
  CommitId new_id{};
  bool force = false;
};

class Endpoint {
 public:
  virtual ~Endpoint() = default;
  virtual Advertisement advertise() = 0;
  // Sender: the objects of `commits`.
  virtual ObjectList objects_of(const std::vector<CommitId>& commits) = 0;
  // Receiver: which of them it lacks.
  virtual Lacks lacks(const ObjectList& objects) = 0;
  // Sender: the records of `commits` and the stored values of the chosen chunks and graphs.
  virtual Pack read_pack(const std::vector<CommitId>& commits, const std::vector<ChunkId>& chunks,
                         const std::vector<std::string>& graphs) = 0;
  // Receiver: verifies and stores the pack and moves the refs, in one write transaction.
  virtual void apply(const Pack& pack, const std::vector<RefUpdate>& updates) = 0;
  // How errors name this side: the directory or URL.
  virtual std::string where() const = 0;
};

// 2: signatures of versions and tags, and the receiver's trust list, travel.
constexpr uint32_t kTransferProtocol = 2;

// An endpoint on a log of this process (opened read-only, or for writing when `receive`).
std::unique_ptr<Endpoint> open_log_endpoint(const std::string& log_dir, bool receive, bool create = false,
                                            const LogOptions& options = {});
// An endpoint for `url`: a local directory, or ssh://... (runs `remote_strata upload-pack` or
// `receive-pack` there).
std::unique_ptr<Endpoint> open_endpoint(const std::string& url, bool receive, const std::string& remote_strata,
                                        bool create = false, const LogOptions& options = {});

// The bytes of a pack on the wire (docs/formats.md "Transfer"), and back.
std::string encode_pack(const Pack& pack);
Pack decode_pack(std::string_view bytes);

}  // namespace strata::versioning
