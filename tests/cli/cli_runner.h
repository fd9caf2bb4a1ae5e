// Runs the real pipescope-cli binary for the CLI contract tests (PIPESCOPE_CLI, PIPESCOPE_SOURCE_DIR come
// from tests/CMakeLists.txt).
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <signal.h>

#include <array>
#include <chrono>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace ps::test {

struct CliResult {
  int code = -1;
  std::string out;  // stdout (and stderr, when merged)
  std::string err;  // stderr, when kept apart
  std::string all() const { return out + err; }
};

// Runs `cmd` through the shell; stderr is merged into `out`, or kept apart in `err`.
inline CliResult run_shell(const std::string& cmd, bool merge_stderr = true) {
  static std::atomic<int> calls{0};
  const std::string err_file = (std::filesystem::temp_directory_path() /
                                ("pipescope_cli_stderr_" + std::to_string(::getpid()) + "_" + std::to_string(calls++)))
                                   .string();
  CliResult r;
  FILE* p = popen((cmd + (merge_stderr ? " 2>&1" : " 2>" + err_file)).c_str(), "r");
  std::array<char, 4096> buf{};
  while (p && fgets(buf.data(), buf.size(), p)) r.out += buf.data();
  const int status = p ? pclose(p) : -1;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (!merge_stderr) {
    if (FILE* f = std::fopen(err_file.c_str(), "r")) {
      while (fgets(buf.data(), buf.size(), f)) r.err += buf.data();
      std::fclose(f);
    }
    std::error_code ec;
    std::filesystem::remove(err_file, ec);
  }
  return r;
}

inline CliResult cli(const std::string& args, bool merge_stderr = true) {
  return run_shell(std::string(PIPESCOPE_CLI) + " " + args, merge_stderr);
}

// Waits for child `pid` to end: its wait status, or -1 (after killing it) when it does not end in `bound`.
inline int wait_status(pid_t pid, std::chrono::seconds bound) {
  const auto until = std::chrono::steady_clock::now() + bound;
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

inline std::string src(const std::string& rel) { return std::string(PIPESCOPE_SOURCE_DIR) + "/" + rel; }

// `pipescope-cli run` of presets/tiny.json with `args`, its outputs in a fresh temporary directory named
// after `name` (removed afterwards): the exit code, what it printed, and its summary.json (null if none).
struct TinyRun {
  int code = -1;
  std::string log;
  nlohmann::json summary;
};
inline TinyRun run_tiny(const std::string& name, const std::string& args) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("pipescope_run_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  TinyRun r;
  const auto res = cli("run --preset " + src("presets/tiny.json") + " --quiet --out " + (dir / "out").string() + " " + args);
  r.code = res.code;
  r.log = res.out;
  std::ifstream in(dir / "out" / "summary.json");
  if (in) r.summary = nlohmann::json::parse(in);
  in.close();
  fs::remove_all(dir);
  return r;
}

}  // namespace ps::test
