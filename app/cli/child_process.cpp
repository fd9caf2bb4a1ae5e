#include "app/cli/child_process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace ps::cli {

std::string self_exe(const std::string& who) {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error(who + ": cannot read /proc/self/exe: " + ec.message());
  return p.string();
}

int spawn_child(const std::string& exe, const std::vector<std::string>& args, const std::string& log, const std::string& who) {
  std::vector<std::string> all = {exe};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0) throw std::runtime_error(who + ": cannot start " + exe + ": " + std::strerror(err));
  return pid;
}

ChildResult wait_child(int pid, const std::string& who) {
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0)
    if (errno != EINTR) throw std::runtime_error(who + ": wait4: " + std::strerror(errno));
  ChildResult c;
  c.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  c.maxrss_mib = double(ru.ru_maxrss) / 1024.0;  // Linux: kilobytes
  return c;
}

ChildResult spawn_and_wait(const std::string& exe, const std::vector<std::string>& args, const std::string& log,
                           const std::string& who) {
  return wait_child(spawn_child(exe, args, log, who), who);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace ps::cli
