#include "engine/dist/launcher.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace ps::dist {
namespace {

std::string random_token() {
  std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string t;
  for (int i = 0; i < 4; ++i) {
    const std::uint32_t v = rd();
    for (int k = 0; k < 8; ++k) t += hex[(v >> (4 * k)) & 15];
  }
  return t;
}

std::string describe(int rank, pid_t pid, int status) {
  const std::string who = "rank " + std::to_string(rank) + " (pid " + std::to_string(pid) + ")";
  if (WIFSIGNALED(status))
    return who + " was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return who + " exited with " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

LocalRanks::LocalRanks(int world, const std::vector<std::string>& args) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/pipescope-run-XXXXXX";
  if (!mkdtemp(templ.data())) throw std::runtime_error("cannot make a directory for the ranks' rendezvous: " + templ);
  dir_ = templ;  // mode 0700: no other user can join
  rank0_.rank = 0;
  rank0_.world = world;
  rank0_.store_file = dir_ + "/store";
  rank0_.token = random_token();
  rank0_.launched = true;

  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) throw std::runtime_error("cannot find this program (/proc/self/exe) to start the ranks");
  exe[n] = '\0';
  std::vector<std::string> argv_s{exe};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  try {
    for (int r = 1; r < world; ++r) {
      // Everything the child needs is made before fork: only async-signal-safe calls between fork and exec.
      std::vector<std::string> env_s;
      for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "PIPESCOPE_RANK=", 15) && std::strncmp(*e, "PIPESCOPE_WORLD_SIZE=", 21) &&
            std::strncmp(*e, "PIPESCOPE_STORE_FILE=", 21) && std::strncmp(*e, "PIPESCOPE_RUN_TOKEN=", 20))
          env_s.push_back(*e);
      env_s.push_back("PIPESCOPE_RANK=" + std::to_string(r));
      env_s.push_back("PIPESCOPE_WORLD_SIZE=" + std::to_string(world));
      env_s.push_back("PIPESCOPE_STORE_FILE=" + rank0_.store_file);
      env_s.push_back("PIPESCOPE_RUN_TOKEN=" + rank0_.token);
      std::vector<char*> envp;
      for (auto& e : env_s) envp.push_back(e.data());
      envp.push_back(nullptr);
      const pid_t pid = fork();
      if (pid < 0) throw std::runtime_error(std::string("cannot start rank ") + std::to_string(r) + ": " + strerror(errno));
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // the launcher gone (even by kill -9): so is the rank
        if (getppid() != parent) _exit(1);
        execve(exe, argv.data(), envp.data());
        _exit(127);
      }
      children_.push_back({r, pid});
    }
  } catch (...) {
    reap(std::chrono::milliseconds(0));
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw;
  }
}

LocalRanks::~LocalRanks() {
  reap(std::chrono::seconds(5));
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::vector<pid_t> LocalRanks::pids() const {
  std::vector<pid_t> out;
  for (const auto& c : children_) out.push_back(c.pid);
  return out;
}

std::vector<std::string> LocalRanks::reap(std::chrono::milliseconds grace) {
  const auto until = std::chrono::steady_clock::now() + grace;
  for (;;) {
    bool all = true;
    for (auto& c : children_) {
      if (c.reaped) continue;
      if (waitpid(c.pid, &c.status, WNOHANG) == c.pid) c.reaped = true;
      else all = false;
    }
    if (all || std::chrono::steady_clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& c : children_) {
    if (c.reaped) continue;
    kill(c.pid, SIGKILL);
    while (waitpid(c.pid, &c.status, 0) < 0 && errno == EINTR) {
    }
    c.reaped = true;
  }
  std::vector<std::string> out;
  for (const auto& c : children_) {
    const bool fine = WIFEXITED(c.status) && (WEXITSTATUS(c.status) == 0 || WEXITSTATUS(c.status) == 130);
    if (!fine) out.push_back(describe(c.rank, c.pid, c.status));
  }
  return out;
}

}  // namespace ps::dist
