#include "engine/dist/launcher.h"

#include <elf.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
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

// The GNU build id in an ELF64 file's notes, as hex ("" when there is none).
std::string elf_build_id(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!in.read(reinterpret_cast<char*>(&eh), sizeof eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr))
    return {};
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph{};
    in.seekg(static_cast<std::streamoff>(eh.e_phoff + static_cast<std::uint64_t>(i) * sizeof ph));
    if (!in.read(reinterpret_cast<char*>(&ph), sizeof ph)) return {};
    if (ph.p_type != PT_NOTE || ph.p_filesz > (1u << 20)) continue;
    std::string notes(ph.p_filesz, '\0');
    in.seekg(static_cast<std::streamoff>(ph.p_offset));
    if (!in.read(notes.data(), static_cast<std::streamsize>(notes.size()))) return {};
    std::size_t at = 0;
    while (at + sizeof(Elf64_Nhdr) <= notes.size()) {
      Elf64_Nhdr n{};
      std::memcpy(&n, notes.data() + at, sizeof n);
      const std::size_t name = at + sizeof n, desc = name + ((n.n_namesz + 3) & ~3u);
      if (desc + n.n_descsz > notes.size()) break;
      if (n.n_type == NT_GNU_BUILD_ID && n.n_namesz == 4 && std::memcmp(notes.data() + name, "GNU", 4) == 0) {
        static const char* hex = "0123456789abcdef";
        std::string id;
        for (unsigned k = 0; k < n.n_descsz; ++k) {
          const auto b = static_cast<unsigned char>(notes[desc + k]);
          id += {hex[b >> 4], hex[b & 15]};
        }
        return id;
      }
      at = desc + ((n.n_descsz + 3) & ~3u);
    }
  }
  return {};
}

}  // namespace

std::string program_version(const std::string& path) {
  const std::string id = elf_build_id(path);
  if (!id.empty()) return "build-id " + id;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0)
    return "size " + std::to_string(st.st_size) + " mtime " + std::to_string(static_cast<long long>(st.st_mtime));
  return "unknown";
}

LocalRanks::LocalRanks(int world, const std::vector<std::string>& args, const std::string& program) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/pipescope-run-XXXXXX";
  if (!mkdtemp(templ.data())) throw std::runtime_error("cannot make a directory for the ranks' rendezvous: " + templ);
  dir_ = templ;  // mode 0700: no other user can join
  rank0_.rank = 0;
  rank0_.world = world;
  rank0_.store_file = dir_ + "/store";
  rank0_.token = random_token();
  rank0_.launched = true;
  rank0_.local_rank = 0;

  std::string exe = program;
  if (exe.empty()) {
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) throw std::runtime_error("cannot find this program (/proc/self/exe) to start the ranks");
    self[n] = '\0';
    exe = self;
  } else {
    if (access(exe.c_str(), X_OK) != 0) throw std::runtime_error("cannot start the ranks: " + exe + " is not an executable program");
    rank0_.binary = program_version(exe);  // the ranks run that program, not this one
  }
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
        execve(exe.c_str(), argv.data(), envp.data());
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

bool LocalRanks::exited() {
  bool all = true;
  for (auto& c : children_) {
    if (c.reaped) continue;
    if (waitpid(c.pid, &c.status, WNOHANG) == c.pid) c.reaped = true;
    else all = false;
  }
  return all;
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
