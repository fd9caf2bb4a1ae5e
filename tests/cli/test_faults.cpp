// Faults from outside (issue 8, part 4): pipescope-cli is interrupted in mid-run by SIGINT (Ctrl-C),
// SIGTERM and SIGKILL (kill -9). SIGINT and SIGTERM stop the run gracefully: exit code 130, summary.json
// says "stopped", metrics.csv and ledger.csv are complete. SIGKILL gives the process no chance to write
// anything more: summary.json is the one written at the start (complete: it is replaced atomically),
// and the CSV files hold every line written so far. Each CSV batch is one write(2) of whole lines, but
// the kernel may cut a large write short when a fatal signal arrives, so after kill -9 the last line
// may be torn (no line break at its end); readers skip such a line.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_runner.h"

namespace {

using ps::test::wait_status;

using Clock = std::chrono::steady_clock;

std::string src(const std::string& rel) { return std::string(PIPESCOPE_SOURCE_DIR) + "/" + rel; }

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("pipescope_faults_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// pipescope-cli ARGS with stdout and stderr into `log`; returns the child's pid.
pid_t spawn_cli(const std::vector<std::string>& args, const std::filesystem::path& log) {
  std::vector<std::string> all{PIPESCOPE_CLI};
  all.insert(all.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    std::vector<char*> argv;
    argv.reserve(all.size() + 1);
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Lines of `path` that end with a line break (complete lines) and what follows the last break.
struct CsvText {
  std::vector<std::string> lines;
  std::string torn;
};

CsvText read_csv(const std::filesystem::path& path) {
  CsvText out;
  const std::string text = read_all(path);
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    out.lines.push_back(text.substr(start, nl - start));
  out.torn = text.substr(start);
  return out;
}

std::size_t columns(const std::string& line) { return static_cast<std::size_t>(std::count(line.begin(), line.end(), ',')) + 1; }

// Every complete line has the header's column count; returns the number of data rows.
std::size_t expect_parseable(const std::filesystem::path& path, bool torn_last_line_allowed) {
  const CsvText csv = read_csv(path);
  EXPECT_FALSE(csv.lines.empty()) << path << " has no header";
  if (csv.lines.empty()) return 0;
  const std::size_t want = columns(csv.lines[0]);
  for (std::size_t i = 1; i < csv.lines.size(); ++i)
    EXPECT_EQ(columns(csv.lines[i]), want) << path << " line " << i + 1 << ": " << csv.lines[i];
  if (!torn_last_line_allowed) EXPECT_EQ(csv.torn, "") << path << " ends in a torn line";
  if (!csv.torn.empty()) EXPECT_LE(columns(csv.torn), want) << path << " torn line: " << csv.torn;
  return csv.lines.size() - 1;
}

// Waits until the run has written at least `rows` rows to metrics.csv and one to ledger.csv.
bool wait_for_rows(pid_t pid, const std::filesystem::path& dir, std::size_t rows) {
  const auto until = Clock::now() + std::chrono::seconds(180);
  while (Clock::now() < until) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;  // ended on its own: not what we want
    if (std::filesystem::exists(dir / "metrics.csv") && std::filesystem::exists(dir / "ledger.csv") &&
        read_csv(dir / "metrics.csv").lines.size() > rows && read_csv(dir / "ledger.csv").lines.size() > 1)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

struct Interrupted {
  std::filesystem::path dir;
  int status = -1;
  std::string log;
};

// Runs tiny.json for far more steps than it will get, and sends `sig` once rows are on disk.
Interrupted run_and_signal(const std::string& name, int sig) {
  Interrupted r;
  r.dir = fresh_dir(name);
  const auto out = r.dir / "out";
  const auto log = r.dir / "cli.log";
  // A million steps of tiny.json keep the run going far longer than the test needs, also under ASan.
  const pid_t pid = spawn_cli({"run", "--preset", src("presets/tiny.json"), "--steps", "1000000", "--out", out.string(),
                               "--quiet"},
                              log);
  EXPECT_GT(pid, 0);
  if (pid <= 0) return r;
  const bool rows = wait_for_rows(pid, out, 3);
  EXPECT_TRUE(rows) << "no metrics rows appeared; log:\n" << read_all(log);
  ::kill(pid, sig);
  r.status = wait_status(pid, std::chrono::seconds(120));
  r.log = read_all(log);
  return r;
}

void expect_graceful_stop(const Interrupted& r) {
  ASSERT_NE(r.status, -1) << "the run did not end after the signal; log:\n" << r.log;
  ASSERT_TRUE(WIFEXITED(r.status)) << "killed by signal " << WTERMSIG(r.status) << "; log:\n" << r.log;
  EXPECT_EQ(WEXITSTATUS(r.status), 130) << r.log;
  EXPECT_NE(r.log.find("status: stopped"), std::string::npos) << r.log;
  const auto out = r.dir / "out";
  nlohmann::json summary;
  ASSERT_NO_THROW(summary = nlohmann::json::parse(read_all(out / "summary.json"))) << read_all(out / "summary.json");
  EXPECT_EQ(summary["status"], "stopped");
  EXPECT_GT(summary["steps"].get<long long>(), 0);
  EXPECT_LT(summary["steps"].get<long long>(), 1000000);
  EXPECT_FALSE(std::filesystem::exists(out / "summary.json.tmp"));
  EXPECT_GE(expect_parseable(out / "metrics.csv", false), 3u);
  EXPECT_GE(expect_parseable(out / "ledger.csv", false), 1u);
}

TEST(CliFaults, SigintStopsGracefullyWithExitCode130AndCompleteOutputs) {
  const Interrupted r = run_and_signal("sigint", SIGINT);
  expect_graceful_stop(r);
  std::filesystem::remove_all(r.dir);
}

TEST(CliFaults, SigtermStopsGracefullyWithExitCode130AndCompleteOutputs) {
  const Interrupted r = run_and_signal("sigterm", SIGTERM);
  expect_graceful_stop(r);
  std::filesystem::remove_all(r.dir);
}

TEST(CliFaults, SigkillLeavesEveryLineWrittenSoFarParseable) {
  const Interrupted r = run_and_signal("sigkill", SIGKILL);
  ASSERT_NE(r.status, -1);
  ASSERT_TRUE(WIFSIGNALED(r.status)) << r.log;
  EXPECT_EQ(WTERMSIG(r.status), SIGKILL);
  const auto out = r.dir / "out";
  // summary.json is the one written when the run started: complete, and saying so.
  nlohmann::json summary;
  ASSERT_NO_THROW(summary = nlohmann::json::parse(read_all(out / "summary.json"))) << read_all(out / "summary.json");
  EXPECT_EQ(summary["status"], "running");
  EXPECT_GE(expect_parseable(out / "metrics.csv", true), 3u);
  EXPECT_GE(expect_parseable(out / "ledger.csv", true), 1u);
  std::filesystem::remove_all(r.dir);
}

}  // namespace
