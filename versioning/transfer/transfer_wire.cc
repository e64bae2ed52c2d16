// The transfer protocol on a byte stream (docs/formats.md "Transfer"): the encoding of every call,
// the client side (StreamEndpoint, over an ssh child process) and the server loop (`strata serve`).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "strata/framework/core/error.h"
#include "strata/versioning/transfer/internal/transfer_endpoint.h"

namespace strata::versioning {
namespace {

constexpr char kGreeting[] = "strata-transfer";

enum class Op : uint8_t { kAdvertise = 1, kObjectsOf = 2, kLacks = 3, kReadPack = 4, kApply = 5 };

// ---- primitives: little-endian integers, u64-length-prefixed bytes, raw 16-byte ids ----

class Out {
 public:
  void u8(uint8_t v) { s_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) { put_le(v, 4); }
  void u64(uint64_t v) { put_le(v, 8); }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void bytes(std::string_view b) {
    u64(b.size());
    s_.append(b);
  }
  void id(const Digest128& d) { s_.append(as_bytes(d)); }
  std::string take() { return std::move(s_); }

 private:
  void put_le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string s_;
};

class In {
 public:
  explicit In(std::string_view s) : s_(s) {}
  uint8_t u8() { return static_cast<uint8_t>(take(1)[0]); }
  uint32_t u32() { return static_cast<uint32_t>(get_le(4)); }
  uint64_t u64() { return get_le(8); }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  std::string bytes() {
    const uint64_t n = u64();
    return std::string(take(n));
  }
  Digest128 id() { return digest_from_bytes(take(16)); }
  // A count of items that take at least `min_item` bytes each: checked against what is left, so
  // a damaged count never allocates what it claims.
  size_t count(size_t min_item) {
    const uint64_t n = u64();
    if (n > (s_.size() - pos_) / std::max<size_t>(min_item, 1)) bad("a count larger than the message");
    return static_cast<size_t>(n);
  }
  void end() const {
    if (pos_ != s_.size()) bad("trailing bytes");
  }

 private:
  std::string_view take(uint64_t n) {
    if (n > s_.size() - pos_) bad("truncated");
    std::string_view v = s_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  uint64_t get_le(int n) {
    std::string_view b = take(static_cast<uint64_t>(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[static_cast<size_t>(i)]);
    return v;
  }
  [[noreturn]] static void bad(const char* what) {
    throw Error(ErrorCode::kCorruption, std::string("malformed transfer message: ") + what, "",
                "both sides must run a Strata that speaks the same transfer protocol");
  }
  std::string_view s_;
  size_t pos_ = 0;
};

void put_ids(Out& o, const std::vector<Digest128>& ids) {
  o.u64(ids.size());
  for (const auto& d : ids) o.id(d);
}
std::vector<Digest128> get_ids(In& in) {
  std::vector<Digest128> out(in.count(16));
  for (auto& d : out) d = in.id();
  return out;
}
void put_strings(Out& o, const std::vector<std::string>& v) {
  o.u64(v.size());
  for (const auto& s : v) o.bytes(s);
}
std::vector<std::string> get_strings(In& in) {
  std::vector<std::string> out(in.count(8));
  for (auto& s : out) s = in.bytes();
  return out;
}
void put_flags(Out& o, const std::vector<bool>& v) {
  o.u64(v.size());
  for (bool b : v) o.u8(b ? 1 : 0);
}
std::vector<bool> get_flags(In& in) {
  std::vector<bool> out(in.count(1));
  for (size_t i = 0; i < out.size(); ++i) out[i] = in.u8() != 0;
  return out;
}

void put_string_map(Out& o, const std::map<std::string, std::string>& items) {
  o.u64(items.size());
  for (const auto& [k, v] : items) {
    o.bytes(k);
    o.bytes(v);
  }
}
std::map<std::string, std::string> get_string_map(In& in) {
  std::map<std::string, std::string> out;
  const size_t n = in.count(16);
  for (size_t i = 0; i < n; ++i) {
    std::string k = in.bytes();
    out[k] = in.bytes();
  }
  return out;
}

// ---- messages ----

void put_advertisement(Out& o, const Advertisement& ad) {
  o.u32(ad.protocol);
  o.u8(ad.writable ? 1 : 0);
  o.u32(ad.settings.format_version);
  o.i64(ad.settings.created_ms);
  o.u32(static_cast<uint32_t>(ad.settings.keyframe_interval));
  o.u32(static_cast<uint32_t>(ad.settings.zstd_level));
  o.u8(static_cast<uint8_t>(ad.settings.codec));
  for (const auto* refs : {&ad.branches, &ad.tags}) {
    o.u64(refs->size());
    for (const auto& [name, id] : *refs) {
      o.bytes(name);
      o.id(id);
    }
  }
  put_string_map(o, ad.tag_signatures);
  put_strings(o, ad.trusted_keys);
  o.u64(ad.commits.size());
  for (const AdvertisedCommit& c : ad.commits) {
    o.id(c.id);
    put_ids(o, c.parents);
    o.i64(c.wall_time_ms);
    o.bytes(c.label);
  }
}

Advertisement get_advertisement(In& in) {
  Advertisement ad;
  ad.protocol = in.u32();
  ad.writable = in.u8() != 0;
  ad.settings.format_version = in.u32();
  ad.settings.created_ms = in.i64();
  ad.settings.keyframe_interval = static_cast<int>(in.u32());
  ad.settings.zstd_level = static_cast<int>(in.u32());
  const uint8_t codec = in.u8();
  bool known = false;
  for (ChunkCodec c : kAllCodecs) known = known || static_cast<uint8_t>(c) == codec;
  if (!known) throw Error(ErrorCode::kCorruption, "the other log names an unknown codec " + std::to_string(codec));
  ad.settings.codec = static_cast<ChunkCodec>(codec);
  for (auto* refs : {&ad.branches, &ad.tags}) {
    const size_t n = in.count(24);
    for (size_t i = 0; i < n; ++i) {
      std::string name = in.bytes();
      (*refs)[name] = in.id();
    }
  }
  ad.tag_signatures = get_string_map(in);
  ad.trusted_keys = get_strings(in);
  ad.commits.resize(in.count(48));
  for (AdvertisedCommit& c : ad.commits) {
    c.id = in.id();
    c.parents = get_ids(in);
    c.wall_time_ms = in.i64();
    c.label = in.bytes();
  }
  return ad;
}

void put_objects(Out& o, const ObjectList& l) {
  o.u64(l.direct);
  o.u64(l.chunks.size());
  for (size_t i = 0; i < l.chunks.size(); ++i) {
    o.id(l.chunks[i]);
    o.i64(l.bases[i]);
    o.u64(l.stored_bytes[i]);
  }
  put_strings(o, l.graphs);
}

ObjectList get_objects(In& in) {
  ObjectList l;
  l.direct = in.u64();
  const size_t n = in.count(32);
  if (l.direct > n) throw Error(ErrorCode::kCorruption, "malformed transfer message: more named chunks than chunks");
  for (size_t i = 0; i < n; ++i) {
    l.chunks.push_back(in.id());
    const int64_t base = in.i64();
    if (base < -1 || base >= static_cast<int64_t>(n))
      throw Error(ErrorCode::kCorruption, "malformed transfer message: a base out of range");
    l.bases.push_back(base);
    l.stored_bytes.push_back(in.u64());
  }
  l.graphs = get_strings(in);
  return l;
}

void put_updates(Out& o, const std::vector<RefUpdate>& updates) {
  o.u64(updates.size());
  for (const RefUpdate& u : updates) {
    o.u8(u.tag ? 1 : 0);
    o.bytes(u.name);
    o.u8(u.expected_old ? 1 : 0);
    if (u.expected_old) o.id(*u.expected_old);
    o.id(u.new_id);
    o.u8(u.force ? 1 : 0);
  }
}

std::vector<RefUpdate> get_updates(In& in) {
  std::vector<RefUpdate> out(in.count(28));
  for (RefUpdate& u : out) {
    u.tag = in.u8() != 0;
    u.name = in.bytes();
    if (in.u8()) u.expected_old = in.id();
    u.new_id = in.id();
    u.force = in.u8() != 0;
  }
  return out;
}

void put_pack(Out& o, const Pack& pack) {
  o.u64(pack.commits.size());
  for (const PackCommit& c : pack.commits) {
    o.id(c.id);
    o.bytes(c.record);
    o.bytes(c.optim);
    o.bytes(c.stats);
    put_strings(o, c.signatures);
  }
  o.u64(pack.graphs.size());
  for (const auto& [id, bytes] : pack.graphs) {
    o.bytes(id);
    o.bytes(bytes);
  }
  o.u64(pack.chunks.size());
  for (const auto& [id, value] : pack.chunks) {
    o.id(id);
    o.bytes(value);
  }
  put_string_map(o, pack.tag_signatures);
}

Pack get_pack(In& in) {
  Pack pack;
  pack.commits.resize(in.count(40));
  for (PackCommit& c : pack.commits) {
    c.id = in.id();
    c.record = in.bytes();
    c.optim = in.bytes();
    c.stats = in.bytes();
    c.signatures = get_strings(in);
  }
  const size_t graphs = in.count(16);
  for (size_t i = 0; i < graphs; ++i) {
    std::string id = in.bytes();
    pack.graphs.emplace_back(std::move(id), in.bytes());
  }
  const size_t chunks = in.count(24);
  for (size_t i = 0; i < chunks; ++i) {
    ChunkId id = in.id();
    pack.chunks.emplace_back(id, in.bytes());
  }
  pack.tag_signatures = get_string_map(in);
  return pack;
}

void put_error(Out& o, const Error& e) {
  o.u8(1);
  o.u8(static_cast<uint8_t>(e.code()));
  o.bytes(e.what_failed());
  o.bytes(e.where());
  o.bytes(e.hint());
}

// ---- frames on file descriptors: u64 length, then the message ----

void write_all(int fd, std::string_view bytes, const std::string& peer) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw Error(ErrorCode::kIOError, std::string("the connection closed while sending: ") + std::strerror(errno), peer,
                  "see the other side's error above; check that it runs Strata");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// false on a clean end of stream before the frame starts.
bool read_exact(int fd, char* out, size_t size, bool eof_ok, const std::string& peer) {
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, out + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && got == 0 && eof_ok) return false;
    if (n <= 0)
      throw Error(ErrorCode::kIOError, "the connection closed in the middle of a message", peer,
                  "see the other side's error above; check that it runs Strata and can open the log");
    got += static_cast<size_t>(n);
  }
  return true;
}

void write_frame(int fd, const std::string& message, const std::string& peer) {
  Out len;
  len.u64(message.size());
  write_all(fd, len.take(), peer);
  write_all(fd, message, peer);
}

std::optional<std::string> read_frame(int fd, const std::string& peer) {
  char len[8];
  if (!read_exact(fd, len, 8, true, peer)) return std::nullopt;
  In in({len, 8});
  const uint64_t size = in.u64();
  // Read in pieces, so a damaged length meets the end of the stream instead of a huge allocation.
  std::string out;
  constexpr size_t kPiece = size_t{64} << 20;
  while (out.size() < size) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kPiece, size - out.size()));
    const size_t at = out.size();
    out.resize(at + n);
    read_exact(fd, out.data() + at, n, false, peer);
  }
  return out;
}

// ---- the client: each call is one request frame and one response frame ----

class StreamEndpoint : public Endpoint {
 public:
  StreamEndpoint(std::string url, pid_t child, int to_child, int from_child)
      : url_(std::move(url)), child_(child), to_(to_child), from_(from_child) {
    const std::string hello = response(call_raw(std::nullopt));
    In in(hello);
    const std::string greeting = in.bytes();
    const uint32_t protocol = in.u32();
    if (greeting != kGreeting)
      throw Error(ErrorCode::kFailedPrecondition, "the other side is not a Strata transfer server", url_,
                  "check --remote-strata");
    if (protocol != kTransferProtocol)
      throw Error(ErrorCode::kFailedPrecondition,
                  "the other side speaks transfer protocol " + std::to_string(protocol) + ", this Strata " +
                      std::to_string(kTransferProtocol),
                  url_, "run the same Strata version on both sides");
  }
  ~StreamEndpoint() override {
    ::close(to_);
    ::close(from_);
    int status = 0;
    while (::waitpid(child_, &status, 0) < 0 && errno == EINTR) {
    }
  }

  std::string where() const override { return url_; }

  Advertisement advertise() override {
    Out o;
    o.u8(static_cast<uint8_t>(Op::kAdvertise));
    const std::string r = response(call_raw(o.take()));
    In in(r);
    Advertisement ad = get_advertisement(in);
    in.end();
    return ad;
  }
  ObjectList objects_of(const std::vector<CommitId>& commits) override {
    Out o;
    o.u8(static_cast<uint8_t>(Op::kObjectsOf));
    put_ids(o, commits);
    const std::string r = response(call_raw(o.take()));
    In in(r);
    ObjectList l = get_objects(in);
    in.end();
    return l;
  }
  Lacks lacks(const ObjectList& objects) override {
    Out o;
    o.u8(static_cast<uint8_t>(Op::kLacks));
    put_objects(o, objects);
    const std::string r = response(call_raw(o.take()));
    In in(r);
    Lacks l{get_flags(in), get_flags(in)};
    in.end();
    if (l.chunks.size() != objects.chunks.size() || l.graphs.size() != objects.graphs.size())
      throw Error(ErrorCode::kCorruption, "malformed transfer message: flags for another list", url_);
    return l;
  }
  Pack read_pack(const std::vector<CommitId>& commits, const std::vector<ChunkId>& chunks,
                 const std::vector<std::string>& graphs) override {
    Out o;
    o.u8(static_cast<uint8_t>(Op::kReadPack));
    put_ids(o, commits);
    put_ids(o, chunks);
    put_strings(o, graphs);
    const std::string r = response(call_raw(o.take()));
    In in(r);
    Pack p = get_pack(in);
    in.end();
    return p;
  }
  void apply(const Pack& pack, const std::vector<RefUpdate>& updates) override {
    Out o;
    o.u8(static_cast<uint8_t>(Op::kApply));
    put_pack(o, pack);
    put_updates(o, updates);
    In(response(call_raw(o.take()))).end();
  }

 private:
  // Sends a request (none: only reads the greeting) and returns the raw response.
  std::string call_raw(const std::optional<std::string>& request) {
    if (request) write_frame(to_, *request, url_);
    auto frame = read_frame(from_, url_);
    if (!frame)
      throw Error(ErrorCode::kIOError, "the other side hung up", url_,
                  "see its error above (is Strata installed there, and is the path a log?)");
    return *frame;
  }
  // Strips the status byte; rethrows the other side's error as ours, naming where it happened.
  std::string response(const std::string& frame) {
    In in(frame);
    const uint8_t status = in.u8();
    if (status == 0) return frame.substr(1);
    const auto code = static_cast<ErrorCode>(in.u8());
    std::string what = in.bytes(), where = in.bytes(), hint = in.bytes();
    throw Error(code, what, where.empty() ? url_ : where + " (on " + url_ + ")", hint);
  }

  std::string url_;
  pid_t child_;
  int to_, from_;
};

// ssh://[user@]host[:port]/path
struct SshUrl {
  std::string user_host, port, path;
};

SshUrl parse_ssh_url(const std::string& url) {
  const std::string rest = url.substr(6);
  const size_t slash = rest.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == rest.size())
    throw_invalid("bad ssh URL '" + url + "'", "", "write ssh://[user@]host[:port]/path/to/log");
  SshUrl u;
  std::string authority = rest.substr(0, slash);
  u.path = rest.substr(slash);
  if (u.path.rfind("/~", 0) == 0) u.path = u.path.substr(1);  // ssh://host/~/log: relative to the home directory
  const size_t at = authority.rfind('@');
  const size_t colon = authority.find(':', at == std::string::npos ? 0 : at);
  if (colon != std::string::npos) {
    u.port = authority.substr(colon + 1);
    authority = authority.substr(0, colon);
    if (u.port.empty() || u.port.find_first_not_of("0123456789") != std::string::npos)
      throw_invalid("bad port in ssh URL '" + url + "'", "", "write ssh://host:2222/path");
  }
  u.user_host = authority;
  if (u.user_host.empty() || u.user_host[0] == '-') throw_invalid("bad host in ssh URL '" + url + "'");
  return u;
}

// For the remote shell: 'text' with every ' written as '\''.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::unique_ptr<Endpoint> spawn_ssh(const std::string& url, bool receive, const std::string& remote_strata) {
  const SshUrl u = parse_ssh_url(url);
  std::vector<std::string> argv;
  const char* ssh = std::getenv("STRATA_SSH");
  std::string words = ssh && *ssh ? ssh : "ssh";
  for (size_t i = 0; i < words.size();) {
    const size_t j = words.find(' ', i);
    const std::string w = words.substr(i, j == std::string::npos ? std::string::npos : j - i);
    if (!w.empty()) argv.push_back(w);
    if (j == std::string::npos) break;
    i = j + 1;
  }
  if (!u.port.empty()) argv.insert(argv.end(), {"-p", u.port});
  argv.push_back(u.user_host);
  argv.push_back(shell_quote(remote_strata) + (receive ? " receive-pack " : " upload-pack ") + shell_quote(u.path));
  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0)
    throw_io(std::string("cannot create pipes: ") + std::strerror(errno));
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw_io(std::string("cannot start ssh: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(to_child[0], 0);
    ::dup2(from_child[1], 1);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "error: cannot run '%s': %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  // A far side that dies must not kill us with SIGPIPE: writes fail with EPIPE instead.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return std::make_unique<StreamEndpoint>(url, pid, to_child[1], from_child[0]);
  } catch (...) {
    ::close(to_child[1]);
    ::close(from_child[0]);
    ::waitpid(pid, nullptr, 0);
    throw;
  }
}

}  // namespace

std::string encode_pack(const Pack& pack) {
  Out o;
  put_pack(o, pack);
  return o.take();
}

Pack decode_pack(std::string_view bytes) {
  In in(bytes);
  Pack p = get_pack(in);
  in.end();
  return p;
}

std::unique_ptr<Endpoint> open_endpoint(const std::string& url, bool receive, const std::string& remote_strata, bool create,
                                        const LogOptions& options) {
  if (url.rfind("ssh://", 0) == 0) return spawn_ssh(url, receive, remote_strata);
  if (url.find("://") != std::string::npos)
    throw_invalid("unsupported URL '" + url + "'", "", "give a log directory or ssh://[user@]host[:port]/path");
  return open_log_endpoint(url, receive, create, options);
}

void serve(const std::string& log_dir, bool receive, int in_fd, int out_fd) {
  std::signal(SIGPIPE, SIG_IGN);
  const std::string peer = "the client";
  std::unique_ptr<Endpoint> log;
  {
    Out hello;
    try {
      log = open_log_endpoint(log_dir, receive);
      hello.u8(0);
      hello.bytes(kGreeting);
      hello.u32(kTransferProtocol);
    } catch (const Error& e) {
      put_error(hello, e);
    }
    write_frame(out_fd, hello.take(), peer);
    if (!log) return;
  }
  while (auto frame = read_frame(in_fd, peer)) {
    Out o;
    try {
      In in(*frame);
      Out result;
      switch (static_cast<Op>(in.u8())) {
        case Op::kAdvertise:
          in.end();
          put_advertisement(result, log->advertise());
          break;
        case Op::kObjectsOf: {
          auto commits = get_ids(in);
          in.end();
          put_objects(result, log->objects_of(commits));
          break;
        }
        case Op::kLacks: {
          ObjectList objects = get_objects(in);
          in.end();
          Lacks l = log->lacks(objects);
          put_flags(result, l.chunks);
          put_flags(result, l.graphs);
          break;
        }
        case Op::kReadPack: {
          auto commits = get_ids(in);
          auto chunks = get_ids(in);
          auto graphs = get_strings(in);
          in.end();
          put_pack(result, log->read_pack(commits, chunks, graphs));
          break;
        }
        case Op::kApply: {
          Pack pack = get_pack(in);
          auto updates = get_updates(in);
          in.end();
          log->apply(pack, updates);
          break;
        }
        default:
          throw Error(ErrorCode::kInvalidArgument, "unknown transfer request", log_dir,
                      "run the same Strata version on both sides");
      }
      o.u8(0);
      std::string body = result.take();
      std::string head = o.take();
      write_frame(out_fd, head + body, peer);
      continue;
    } catch (const Error& e) {
      Out err;
      put_error(err, Error(e.code(), e.what_failed(), e.where().empty() ? log_dir : e.where(), e.hint()));
      write_frame(out_fd, err.take(), peer);
    }
  }
}

}  // namespace strata::versioning
