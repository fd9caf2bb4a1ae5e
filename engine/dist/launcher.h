// One host, several ranks: pipescope-cli starts ranks 1..N-1 of a processes run as its own children
// (the same binary and command line, the rank in PIPESCOPE_* variables) and is rank 0 itself. They meet
// through a FileStore in a fresh private directory (no open port; no stale file from an earlier run),
// under a random run token. A child dies with its launcher (PR_SET_PDEATHSIG), and every child is
// reaped: by reap(), or by the destructor, which kills what is left after a bounded wait. POSIX only.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "engine/dist/dist_options.h"

namespace ps::dist {

// The identity a program at `path` shows at the rendezvous (as binary_version() in that program): its
// GNU build id read from the ELF file, else its size and time.
std::string program_version(const std::string& path);

class LocalRanks {
 public:
  // `args`: the arguments after the program name (the same for every rank). `program`: what the ranks
  // run ("": this program, /proc/self/exe). rank0().binary is then that program's version. Throws
  // std::runtime_error when the directory or a child cannot be made (the children made so far are reaped).
  LocalRanks(int world, const std::vector<std::string>& args, const std::string& program = {});
  ~LocalRanks();
  LocalRanks(const LocalRanks&) = delete;
  LocalRanks& operator=(const LocalRanks&) = delete;

  const DistOptions& rank0() const { return rank0_; }  // this process's options
  std::vector<pid_t> pids() const;

  // Waits up to `grace` for every child to exit, then kills (SIGKILL) and reaps the rest. Returns one
  // line for every rank that did not exit with 0 or 130 ("rank 2 (pid 4711) was killed by signal 9 (Killed)").
  std::vector<std::string> reap(std::chrono::milliseconds grace);
  // Without waiting: whether every child has exited (reaping those that have).
  bool exited();

 private:
  struct Child {
    int rank;
    pid_t pid;
    bool reaped = false;
    int status = 0;
  };
  std::string dir_;
  DistOptions rank0_;
  std::vector<Child> children_;
};

}  // namespace ps::dist
