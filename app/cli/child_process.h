// Running this very binary (/proc/self/exe) as a child: the benchmarks that measure whole processes
// (bench memory: peak RSS; bench processes: ranks started by a launcher) use it.
#pragma once
#include <string>
#include <vector>

namespace ps::cli {

struct ChildResult {
  int code = -1;          // exit status; -1 killed by a signal
  double maxrss_mib = 0;  // ru_maxrss of the child (and of its reaped children, the larger)
};

// The path of this program; throws std::runtime_error (naming `who`) when /proc/self/exe is unreadable.
std::string self_exe(const std::string& who);

// Starts `exe` with `args`, stdout and stderr into `log`; returns its pid.
int spawn_child(const std::string& exe, const std::vector<std::string>& args, const std::string& log, const std::string& who);
// Waits for a child started by spawn_child (wait4: its resource usage).
ChildResult wait_child(int pid, const std::string& who);

// Runs `exe` with `args`, stdout and stderr into `log`, and waits for it.
ChildResult spawn_and_wait(const std::string& exe, const std::vector<std::string>& args, const std::string& log,
                           const std::string& who);

std::string read_text(const std::string& path);

}  // namespace ps::cli
