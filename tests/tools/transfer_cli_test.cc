// `strata clone / push / pull / remote` from the command line, over a real ssh connection: the
// test starts Debian's sshd on 127.0.0.1 with a temporary host key, client key and port, and
// skips (saying why) only where sshd cannot start.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>

#include "strata/versioning/version_log.h"
#include "tests/tools/subprocess_util.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using tools_test::contains;
using vtest::synthetic_state;
using vtest::TempDir;

const std::string kStrata = std::string(STRATA_BINARY_DIR) + "/tools/strata";

using Result = tools_test::CommandResult;

Result run(const TempDir& dir, const std::string& cmd) { return tools_test::run_capturing_stderr(cmd, dir.sub("stderr.txt")); }

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool port_open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// sshd on 127.0.0.1:port, accepting a temporary key for the current user.
class Sshd {
 public:
  explicit Sshd(const TempDir& dir) : dir_(dir) {
    if (::access("/usr/sbin/sshd", X_OK) != 0) {
      why_not_ = "/usr/sbin/sshd is not installed (Debian package openssh-server)";
      return;
    }
    const std::string d = dir.path();
    if (std::system(("ssh-keygen -q -t ed25519 -N '' -f " + d + "/host_key && ssh-keygen -q -t ed25519 -N '' -f " + d +
                     "/client_key && cp " + d + "/client_key.pub " + d + "/authorized_keys && mkdir -p /run/sshd")
                        .c_str()) != 0) {
      why_not_ = "ssh-keygen failed";
      return;
    }
    port_ = free_port();
    std::ofstream(d + "/sshd_config")
        << "Port " << port_ << "\nListenAddress 127.0.0.1\nHostKey " << d << "/host_key\nAuthorizedKeysFile " << d
        << "/authorized_keys\n"
        << "StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        << "PidFile " << d << "/sshd.pid\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", (d + "/sshd_config").c_str(), "-E", (d + "/sshd.log").c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && !port_open(port_); ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        std::ifstream log(d + "/sshd.log");
        why_not_ =
            "sshd exited at start: " + std::string((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!port_open(port_)) why_not_ = "sshd did not listen within 5 s";
    ssh_ = "ssh -i " + d +
           "/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR";
  }
  ~Sshd() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  const std::string& why_not() const { return why_not_; }
  std::string url(const std::string& path) const { return "ssh://127.0.0.1:" + std::to_string(port_) + path; }
  // The environment and --remote-strata a strata command needs to go through this sshd.
  std::string env() const { return "STRATA_SSH='" + ssh_ + "' "; }

 private:
  const TempDir& dir_;
  std::string why_not_, ssh_;
  int port_ = 0;
  pid_t pid_ = -1;
};

void commit_epochs(const std::string& log_dir, const std::string& branch, int from, int n, uint64_t seed) {
  auto log = VersionLog::open(log_dir, OpenMode::kReadWrite);
  std::optional<CommitId> parent = log->head(branch);
  if (!parent && branch != "main") parent = log->head("main");
  for (int e = from; e < from + n; ++e) {
    TrainState s = synthetic_state(e, seed, 1 << 16);
    SnapshotRequest r;
    if (parent) r.parents = {*parent};
    r.branch = branch;
    r.state = &s;
    parent = log->commit(r).id;
  }
}

TEST(TransferCli, CloneTrainBothSidesPushAndPullOverRealSsh) {
  TempDir dir;
  Sshd sshd(dir);
  if (!sshd.why_not().empty()) GTEST_SKIP() << "cannot start sshd here: " << sshd.why_not();
  const std::string origin = dir.sub("origin"), mine = dir.sub("mine");
  commit_epochs(origin, "main", 1, 3, 7);
  const std::string strata = sshd.env() + kStrata;
  const std::string remote = " --remote-strata " + kStrata;

  Result clone = run(dir, strata + " clone " + sshd.url(origin) + " " + mine + remote + " --json");
  ASSERT_EQ(clone.code, 0) << clone.err;
  EXPECT_TRUE(contains(clone.out, "\"commits\":3")) << clone.out;
  Result remotes = run(dir, kStrata + " --log " + mine + " remote");
  EXPECT_EQ(remotes.out, "origin\t" + sshd.url(origin) + "\n");

  // Both sides train on: mine on main, origin on a branch of its own.
  commit_epochs(mine, "main", 4, 2, 7);
  commit_epochs(origin, "exp", 10, 1, 9);
  Result push = run(dir, strata + " --log " + mine + " push origin main" + remote);
  ASSERT_EQ(push.code, 0) << push.err;
  EXPECT_TRUE(contains(push.out, "push: 2 versions")) << push.out;
  Result again = run(dir, strata + " --log " + mine + " push origin main" + remote);
  EXPECT_TRUE(contains(again.out, "everything up to date")) << again.out;
  Result pull = run(dir, strata + " --log " + mine + " pull origin" + remote);
  ASSERT_EQ(pull.code, 0) << pull.err;
  EXPECT_TRUE(contains(pull.out, "exp")) << pull.out;
  for (const std::string& log : {origin, mine}) {
    Result verify = run(dir, kStrata + " --log " + log + " verify --all");
    EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
  }
  Result log_mine = run(dir, kStrata + " --log " + mine + " log --all");
  Result log_origin = run(dir, kStrata + " --log " + origin + " log --all");
  EXPECT_EQ(log_mine.out, log_origin.out);

  // Diverged: refused with the merge base named, exit 1; --force moves it.
  commit_epochs(mine, "main", 6, 1, 21);
  commit_epochs(origin, "main", 6, 1, 22);
  Result refused = run(dir, strata + " --log " + mine + " push origin main" + remote);
  EXPECT_EQ(refused.code, 1);
  EXPECT_TRUE(contains(refused.err, "diverged after")) << refused.err;
  EXPECT_TRUE(contains(refused.err, "(main@5)")) << refused.err;
  Result into = run(dir, strata + " --log " + mine + " pull origin main:theirs" + remote);
  EXPECT_EQ(into.code, 0) << into.err;
  EXPECT_TRUE(contains(into.out, "theirs")) << into.out;

  // The far side's errors come back with where they happened.
  Result missing = run(dir, strata + " --log " + mine + " pull " + sshd.url(dir.sub("nowhere")) + remote);
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(contains(missing.err, "no version log")) << missing.err;
}

TEST(TransferCli, BadFlagsAndNamesAreUsageErrors) {
  TempDir dir;
  commit_epochs(dir.sub("a"), "main", 1, 1, 7);
  const std::string strata = kStrata + " --log " + dir.sub("a");
  EXPECT_EQ(run(dir, strata + " push").code, 2);
  EXPECT_EQ(run(dir, strata + " push " + dir.sub("b") + " 'bad..name'").code, 2);
  EXPECT_EQ(run(dir, strata + " remote rename x").code, 2);
  Result no_target = run(dir, strata + " push " + dir.sub("b"));
  EXPECT_EQ(no_target.code, 1);
  EXPECT_TRUE(contains(no_target.err, "no version log")) << no_target.err;
  Result bad_name = run(dir, strata + " remote add 'a b' /x");
  EXPECT_EQ(bad_name.code, 1);
  EXPECT_TRUE(contains(bad_name.err, "bad remote name")) << bad_name.err;
  Result clone_over = run(dir, kStrata + " clone " + dir.sub("a") + " " + dir.sub("a"));
  EXPECT_EQ(clone_over.code, 1);
  EXPECT_TRUE(contains(clone_over.err, "already holds a version log")) << clone_over.err;
}

}  // namespace
}  // namespace strata::versioning
