// Sharing histories between logs, git's way (docs/formats.md "Transfer"): clone, push and pull copy
// the versions, graphs and chunks the other side lacks (with the delta bases a chunk needs),
// the receiver verifies every record, manifest, graph and chunk against its id, and moves refs
// last, all in one write transaction: an interrupted transfer leaves both logs as they were.
//
// The other log is a local directory or `ssh://[user@]host[:port]/path`; over ssh, `strata
// upload-pack` (clone, pull) or `strata receive-pack` (push) runs on the far side and speaks the
// transfer protocol on its stdin/stdout (git's model). The
// ssh program is $STRATA_SSH (default `ssh`), split on spaces, so a key or options can be given.
// An ssh transfer sets SIGPIPE to be ignored in this process, so that a far side that dies makes
// writes fail with an error instead of killing the process.
//
// Thread-safety: a transfer opens and writes logs like any other writer (one writer per log).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "strata/framework/core/options.h"
#include "strata/versioning/ids.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {

// "NAME" or "SRC:DST": a branch and the name it gets on the receiving side.
struct RefSpec {
  std::string src, dst;
};
RefSpec parse_refspec(const std::string& text);  // kInvalidArgument for a bad name

struct TransferOptions {
  // Branches to send; empty: every branch of the sending side.
  STRATA_ARG(std::vector<RefSpec>, branches) = {};
  STRATA_ARG(bool, tags) = false;   // also every tag of the sending side
  STRATA_ARG(bool, force) = false;  // move refs that are not fast-forwards (the old head stays in the log until gc)
  // The program run on the far side of an ssh connection.
  STRATA_ARG(std::string, remote_strata) = "strata";
  // Refuse, writing nothing, unless every arriving version is signed by a key the receiving log
  // trusts, or by one of `trusted` (public key files) when given. Signatures always travel, and a
  // signature that does not verify is always refused.
  STRATA_ARG(bool, require_signed) = false;
  STRATA_ARG(std::vector<std::string>, trusted) = {};
};

struct RefChange {
  std::string name;  // "main", or "tag v1"
  bool tag = false;
  std::optional<CommitId> old_id;  // nullopt: created
  CommitId new_id{};
  bool forced = false;    // not a fast-forward
  std::string new_label;  // "1a2b3c4d (main@3)"
};

struct TransferReport {
  size_t commits = 0, graphs = 0, chunks = 0;  // objects sent (the receiver lacked them)
  uint64_t chunk_bytes = 0;                    // stored bytes of the chunks sent
  uint64_t pack_bytes = 0;                     // the pack as encoded on the wire (objects and their framing)
  std::vector<RefChange> moved;
  std::vector<std::string> up_to_date;  // refs that already pointed at the sent version
};

// Sends `options.branches` (and tags) of the local log to `remote` (a URL or directory).
TransferReport push(const std::string& local_dir, const std::string& remote, const TransferOptions& options);
// Brings branches (and tags) of `remote` into the local log (created when missing).
TransferReport pull(const std::string& local_dir, const std::string& remote, const TransferOptions& options);
// Creates `dst_dir` as a copy of every branch and tag of `src`, with the source's log settings,
// and records `src` as remote "origin". Refuses a `dst_dir` that already holds a log.
TransferReport clone(const std::string& src, const std::string& dst_dir, const TransferOptions& options);

// The far side of the ssh transport: answers transfer requests read from `in_fd` on `out_fd`
// until the other side hangs up. `receive` opens the log for writing (a push arrives).
void serve(const std::string& log_dir, bool receive, int in_fd, int out_fd);

// Named remotes, stored in the log directory's `remotes` file (they are not part of any version).
void set_remote(const std::string& log_dir, const std::string& name, const std::string& url, bool force);
void remove_remote(const std::string& log_dir, const std::string& name);
std::map<std::string, std::string> remotes(const std::string& log_dir);
// A remote's name -> its URL; anything else is taken as a URL or path and returned unchanged.
std::string resolve_remote(const std::string& log_dir, const std::string& name_or_url);

}  // namespace strata::versioning
