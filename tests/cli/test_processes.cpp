// Stages as processes (issue 13): `pipescope-cli run --executor processes` starts one rank per stage on
// this host (FileStore rendezvous, loopback Gloo), and rank 0 writes the outputs. Versions never depend
// on the executor: the weights digest equals the threaded and sequential runs'. Faults: a rank killed
// with SIGKILL stops the others with an error naming it; SIGTERM to the launcher stops every rank (130);
// ranks that run different configs refuse each other (2). Every wait is bounded and every process reaped.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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

using ps::test::cli;
using ps::test::src;
using ps::test::wait_status;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("pipescope_procs_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t lines(const fs::path& path) {
  const std::string t = read_all(path);
  return static_cast<std::size_t>(std::count(t.begin(), t.end(), '\n'));
}

nlohmann::json summary_of(const fs::path& out) { return nlohmann::json::parse(read_all(out / "summary.json")); }

// pipescope-cli ARGS with `env` added, stdout and stderr into `log`; returns the pid.
pid_t spawn_cli(const std::vector<std::string>& args, const fs::path& log, const std::vector<std::string>& env = {}) {
  std::vector<std::string> all{PIPESCOPE_CLI};
  all.insert(all.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) ::dup2(fd, 1), ::dup2(fd, 2);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Until `out`/metrics.csv has more than `rows` lines (a running run), or `pid` has ended; bounded.
bool wait_for_steps(const fs::path& out, std::size_t rows, pid_t pid) {
  const auto until = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < until) {
    if (fs::exists(out / "metrics.csv") && lines(out / "metrics.csv") > rows) return true;
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// The processes whose parent is `pid` (the ranks a launcher started).
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == pid) out.push_back(std::stoi(name));
  }
  return out;
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

// Waits until none of `pids` exists any more (they were reaped); false after the bound.
bool all_gone(const std::vector<pid_t>& pids, std::chrono::seconds bound) {
  const auto until = Clock::now() + bound;
  for (;;) {
    bool any = false;
    for (pid_t p : pids) any = any || alive(p);
    if (!any) return true;
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

using RunResult = ps::test::TinyRun;
const auto run = ps::test::run_tiny;

struct Case {
  const char* name;
  const char* args;
};

TEST(CliProcesses, TheWeightsDigestIsTheThreadedAndSequentialOnesForEverySchedule) {
  const Case cases[] = {
      {"async_stash", "--schedule 1f1b-async --strategy stash --steps 12"},
      {"async_latest_3", "--schedule 1f1b-async --strategy latest --stages 3 --steps 10"},
      {"flush", "--schedule 1f1b-flush --microbatches 4 --steps 8"},
      {"gpipe_3", "--schedule gpipe --microbatches 2 --stages 3 --steps 6"},
      {"interleaved", "--schedule interleaved-1f1b --chunks 2 --microbatches 4 --steps 6"},
      {"zbv", "--schedule zbv --microbatches 4 --steps 6"},
      // Pipeline x data parallel (tests/cli/test_replicas.cpp): the replicas' gradients summed in
      // replica order by every executor, exchanged over c10d between the ranks.
      {"replicas_gpipe", "--schedule gpipe --microbatches 2 --stages 2 --replicas 2 --steps 8"},
      {"replicas_stash", "--schedule 1f1b-async --strategy stash --stages 2 --replicas 2 --steps 12"},
      {"replicas_zbv", "--schedule zbv --microbatches 4 --stages 2 --replicas 2 --steps 4"},
      {"data_parallel", "--schedule data-parallel --stages 3 --steps 8"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const RunResult seq = run(std::string(c.name) + "_seq", std::string(c.args) + " --executor sequential");
    const RunResult thr = run(std::string(c.name) + "_thr", std::string(c.args) + " --executor threaded");
    const RunResult pro = run(std::string(c.name) + "_pro", std::string(c.args) + " --executor processes");
    ASSERT_EQ(seq.code, 0) << seq.log;
    ASSERT_EQ(thr.code, 0) << thr.log;
    ASSERT_EQ(pro.code, 0) << pro.log;
    const std::string digest = seq.summary["weights_digest"];
    EXPECT_FALSE(digest.empty());
    EXPECT_EQ(thr.summary["weights_digest"], digest);
    EXPECT_EQ(pro.summary["weights_digest"], digest) << pro.log;
    // Rank 0's outputs are a threaded run's: the same steps, loss, accuracy and stage rows.
    EXPECT_EQ(pro.summary["status"], "completed");
    EXPECT_EQ(pro.summary["steps"], thr.summary["steps"]);
    EXPECT_EQ(pro.summary["samples"], thr.summary["samples"]);
    EXPECT_EQ(pro.summary["final_train_loss"], thr.summary["final_train_loss"]);
    EXPECT_EQ(pro.summary["test_accuracy"], thr.summary["test_accuracy"]);
    ASSERT_EQ(pro.summary["per_stage"].size(), thr.summary["per_stage"].size());
    for (const auto& st : pro.summary["per_stage"]) EXPECT_GT(st["utilization"].get<double>(), 0) << st.dump();
  }
}

TEST(CliProcesses, RankZeroWritesEveryRanksEventsToTheLedgerAndTheTrace) {
  const fs::path dir = fresh_dir("outputs");
  const auto thr = cli("run --preset " + src("presets/tiny.json") + " --quiet --steps 10 --out " + (dir / "thr").string());
  const auto pro = cli("run --preset " + src("presets/tiny.json") + " --quiet --steps 10 --executor processes --out " +
                       (dir / "pro").string() + " --trace " + (dir / "pro" / "trace.json").string());
  ASSERT_EQ(thr.code, 0) << thr.out;
  ASSERT_EQ(pro.code, 0) << pro.out;
  EXPECT_EQ(lines(dir / "pro" / "ledger.csv"), lines(dir / "thr" / "ledger.csv"));
  EXPECT_EQ(lines(dir / "pro" / "metrics.csv"), lines(dir / "thr" / "metrics.csv"));
  const std::string ledger = read_all(dir / "pro" / "ledger.csv");
  EXPECT_NE(ledger.find("\n1,"), std::string::npos) << "no op of stage 1 (rank 1) in the ledger";
  nlohmann::json trace;
  ASSERT_NO_THROW(trace = nlohmann::json::parse(read_all(dir / "pro" / "trace.json")));
  // One trace process per stage, named with the rank (pid, host) that ran it; flows cross between them.
  const nlohmann::json& events = trace.is_array() ? trace : trace["traceEvents"];
  int named = 0, flows = 0;
  for (const auto& e : events) {
    if (e.value("name", "") == "process_name" && e["args"]["name"].get<std::string>().find(", rank ") != std::string::npos) ++named;
    if (e.value("ph", "") == "f") ++flows;
  }
  EXPECT_EQ(named, 2);
  EXPECT_GT(flows, 0);
  fs::remove_all(dir);
}

TEST(CliProcesses, KillingARankStopsTheOthersNamingItAndLeavesNoProcess) {
  const fs::path dir = fresh_dir("kill");
  const pid_t launcher = spawn_cli({"run", "--preset", src("presets/tiny.json"), "--steps", "1000000", "--executor",
                                    "processes", "--set", "processes.timeout_seconds=10", "--out",
                                    (dir / "out").string(), "--quiet"},
                                   dir / "log");
  ASSERT_GT(launcher, 0);
  // Running: rank 0 has written steps (the last stage, rank 1, sent its results).
  ASSERT_TRUE(wait_for_steps(dir / "out", 3, launcher)) << read_all(dir / "log");
  const std::vector<pid_t> ranks = children_of(launcher);
  ASSERT_EQ(ranks.size(), 1u) << read_all(dir / "log");
  ::kill(ranks[0], SIGKILL);
  const auto t0 = Clock::now();
  const int status = wait_status(launcher, std::chrono::seconds(30));
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::string log = read_all(dir / "log");
  ASSERT_NE(status, -1) << "the launcher did not stop; log:\n" << log;
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 1) << log;
  EXPECT_LT(took, 10.0) << log;
  EXPECT_NE(log.find("rank 1"), std::string::npos) << log;
  const nlohmann::json s = summary_of(dir / "out");
  EXPECT_EQ(s["status"], "failed");
  EXPECT_NE(s["error"].get<std::string>().find("rank 1"), std::string::npos) << s["error"];
  EXPECT_TRUE(all_gone(ranks, std::chrono::seconds(5)));
  fs::remove_all(dir);
}

TEST(CliProcesses, SigtermToTheLauncherStopsEveryRankWith130) {
  const fs::path dir = fresh_dir("sigterm");
  const pid_t launcher = spawn_cli({"run", "--preset", src("presets/tiny.json"), "--steps", "1000000", "--stages", "3",
                                    "--executor", "processes", "--out", (dir / "out").string(), "--quiet"},
                                   dir / "log");
  ASSERT_GT(launcher, 0);
  ASSERT_TRUE(wait_for_steps(dir / "out", 3, launcher)) << read_all(dir / "log");
  const std::vector<pid_t> ranks = children_of(launcher);
  ASSERT_EQ(ranks.size(), 2u) << read_all(dir / "log");
  ::kill(launcher, SIGTERM);
  const int status = wait_status(launcher, std::chrono::seconds(30));
  const std::string log = read_all(dir / "log");
  ASSERT_NE(status, -1) << log;
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 130) << log;
  EXPECT_EQ(summary_of(dir / "out")["status"], "stopped");
  EXPECT_TRUE(all_gone(ranks, std::chrono::seconds(5)));
  fs::remove_all(dir);
}

TEST(CliProcesses, RanksThatRunDifferentConfigsRefuseEachOtherNamingTheRankAndField) {
  const fs::path dir = fresh_dir("mismatch");
  const std::string store = "PIPESCOPE_STORE_FILE=" + (dir / "store").string();
  std::vector<std::string> args{"run", "--preset", src("presets/tiny.json"), "--executor", "processes", "--quiet",
                                "--set", "processes.timeout_seconds=20"};
  std::vector<std::string> other = args;
  other.insert(other.end(), {"--lr", "0.2"});
  const pid_t r0 = spawn_cli(args, dir / "log0", {"PIPESCOPE_RANK=0", "PIPESCOPE_WORLD_SIZE=2", store, "PIPESCOPE_RUN_TOKEN=t"});
  const pid_t r1 = spawn_cli(other, dir / "log1", {"PIPESCOPE_RANK=1", "PIPESCOPE_WORLD_SIZE=2", store, "PIPESCOPE_RUN_TOKEN=t"});
  const int s0 = wait_status(r0, std::chrono::seconds(40));
  const int s1 = wait_status(r1, std::chrono::seconds(40));
  const std::string log0 = read_all(dir / "log0"), log1 = read_all(dir / "log1");
  ASSERT_TRUE(s0 != -1 && WIFEXITED(s0)) << log0;
  ASSERT_TRUE(s1 != -1 && WIFEXITED(s1)) << log1;
  EXPECT_EQ(WEXITSTATUS(s0), 2) << log0;
  EXPECT_EQ(WEXITSTATUS(s1), 2) << log1;
  for (const std::string& log : {log0, log1}) {
    EXPECT_NE(log.find("optimizer.lr"), std::string::npos) << log;
    EXPECT_NE(log.find("rank 1"), std::string::npos) << log;
  }
  fs::remove_all(dir);
}

// Starts `args` (a long run), waits until it has written a few steps, sends SIGTERM and waits for it:
// its exit status (-1 when it did not end within the bound).
int stopped_midway(const std::vector<std::string>& args, const fs::path& out, const fs::path& log) {
  const pid_t pid = spawn_cli(args, log);
  wait_for_steps(out, 20, pid);
  ::kill(pid, SIGTERM);
  return wait_status(pid, std::chrono::seconds(60));
}

// A checkpoint of a processes run is one consistent cut of every rank (each rank's chunks, its place in
// its list, the activations and gradients between ranks), written by rank 0 in the threaded format: a
// run stopped anywhere resumes bit for bit, as processes or as threads, and a threaded checkpoint
// resumes as processes.
TEST(CliProcesses, ACheckpointOfAStoppedRunResumesBitForBitAsProcessesOrThreads) {
  const fs::path dir = fresh_dir("ckpt");
  // One long epoch (one segment) of 1f1b-async with weight stashing: versions in flight at any stop.
  const std::vector<std::string> base{"run", "--preset", src("presets/tiny.json"), "--quiet", "--strategy", "stash",
                                      "--stages", "3", "--steps", "1500", "--set", "dataset.synthetic_size=60000",
                                      "--set", "eval_every_epochs=1"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  auto join = [](const std::vector<std::string>& a) {
    std::string s;
    for (const auto& w : a) s += (s.empty() ? "" : " ") + w;
    return s;
  };
  const auto full = cli(join(with({"--out", (dir / "full").string()})));
  ASSERT_EQ(full.code, 0) << full.out;
  const std::string digest = summary_of(dir / "full")["weights_digest"];

  // Stopped as processes, resumed as threads and as processes.
  const int st = stopped_midway(with({"--procs", "3", "--out", (dir / "pro").string(), "--checkpoint",
                                      (dir / "pro.ckpt").string()}),
                                dir / "pro", dir / "pro.log");
  ASSERT_TRUE(st != -1 && WIFEXITED(st)) << read_all(dir / "pro.log");
  ASSERT_EQ(WEXITSTATUS(st), 130) << read_all(dir / "pro.log");
  ASSERT_TRUE(fs::exists(dir / "pro.ckpt")) << read_all(dir / "pro.log");
  const auto steps_saved = summary_of(dir / "pro")["steps"].get<std::int64_t>();
  EXPECT_LT(steps_saved, 1500) << "the run ended before it was stopped: no cut was tested";
  const auto thr = cli("run --resume " + (dir / "pro.ckpt").string() + " --quiet --out " + (dir / "r_thr").string());
  ASSERT_EQ(thr.code, 0) << thr.out;
  EXPECT_EQ(summary_of(dir / "r_thr")["weights_digest"], digest);
  const auto pro = cli("run --resume " + (dir / "pro.ckpt").string() + " --procs 3 --quiet --out " + (dir / "r_pro").string());
  ASSERT_EQ(pro.code, 0) << pro.out;
  EXPECT_EQ(summary_of(dir / "r_pro")["weights_digest"], digest);
  EXPECT_EQ(summary_of(dir / "r_pro")["steps"], 1500);

  // Stopped as threads, resumed as processes.
  const int st2 = stopped_midway(with({"--out", (dir / "thr").string(), "--checkpoint", (dir / "thr.ckpt").string()}),
                                 dir / "thr", dir / "thr.log");
  ASSERT_TRUE(st2 != -1 && WIFEXITED(st2) && WEXITSTATUS(st2) == 130) << read_all(dir / "thr.log");
  const auto pro2 = cli("run --resume " + (dir / "thr.ckpt").string() + " --procs 3 --quiet --out " + (dir / "r_pro2").string());
  ASSERT_EQ(pro2.code, 0) << pro2.out;
  EXPECT_EQ(summary_of(dir / "r_pro2")["weights_digest"], digest);
  fs::remove_all(dir);
}

// Pipeline x data parallel: a run with replicas stopped anywhere (the replicas' gradient sums in progress
// and each chunk's microbatches done are in the cut) resumes bit for bit, as threads, sequentially or as
// processes. Stopped as processes, each rank holds its own view of the all-reduce rounds (its deposits,
// what the other replicas sent it, none it has consumed): rank 0 puts them together into one cut.
TEST(CliProcesses, ARunWithReplicasStoppedMidwayResumesBitForBit) {
  const fs::path dir = fresh_dir("replicas_ckpt");
  const std::vector<std::string> base{"run", "--preset", src("presets/tiny.json"), "--quiet", "--schedule", "gpipe",
                                      "--microbatches", "4", "--stages", "2", "--replicas", "2", "--steps", "1500",
                                      "--set", "dataset.synthetic_size=60000"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  std::string line;
  for (const auto& w : with({"--out", (dir / "full").string()})) line += (line.empty() ? "" : " ") + w;
  const auto full = cli(line);
  ASSERT_EQ(full.code, 0) << full.out;
  const std::string digest = summary_of(dir / "full")["weights_digest"];

  const int st = stopped_midway(with({"--out", (dir / "thr").string(), "--checkpoint", (dir / "thr.ckpt").string()}),
                                dir / "thr", dir / "thr.log");
  ASSERT_TRUE(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 130) << read_all(dir / "thr.log");
  EXPECT_LT(summary_of(dir / "thr")["steps"].get<std::int64_t>(), 1500) << "the run ended before it was stopped";
  for (const char* executor : {"threaded", "sequential"}) {
    const auto res = cli("run --resume " + (dir / "thr.ckpt").string() + " --executor " + executor + " --quiet --out " +
                         (dir / (std::string("r_") + executor)).string());
    ASSERT_EQ(res.code, 0) << res.out;
    EXPECT_EQ(summary_of(dir / (std::string("r_") + executor))["weights_digest"], digest) << executor;
  }

  const int st2 = stopped_midway(with({"--procs", "4", "--out", (dir / "pro").string(), "--checkpoint",
                                       (dir / "pro.ckpt").string()}),
                                 dir / "pro", dir / "pro.log");
  ASSERT_TRUE(st2 != -1 && WIFEXITED(st2) && WEXITSTATUS(st2) == 130) << read_all(dir / "pro.log");
  EXPECT_EQ(summary_of(dir / "pro")["status"], "stopped");
  EXPECT_LT(summary_of(dir / "pro")["steps"].get<std::int64_t>(), 1500) << "the run ended before it was stopped";
  // The four ranks' cut, their all-reduce rounds put together, resumes as threads and as processes.
  ASSERT_TRUE(fs::exists(dir / "pro.ckpt")) << read_all(dir / "pro.log");
  for (const std::string executor : {"threaded", "processes"}) {
    const auto res = cli("run --resume " + (dir / "pro.ckpt").string() + " --executor " + executor +
                         (executor == "processes" ? " --procs 4" : "") + " --quiet --out " + (dir / ("rp_" + executor)).string());
    ASSERT_EQ(res.code, 0) << res.out;
    EXPECT_EQ(summary_of(dir / ("rp_" + executor))["weights_digest"], digest) << executor;
  }
  fs::remove_all(dir);
}

// A port on 127.0.0.1 that nobody listens on right now.
int free_loopback_port() {
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

// What `torchrun --nproc-per-node 2 --no-python pipescope-cli run ...` gives every rank: RANK,
// WORLD_SIZE, MASTER_ADDR, MASTER_PORT (rank 0 serves a TCPStore, bound here to loopback). The ranks
// are started by hand, as torchrun would; rank 0 writes the outputs, the other rank none.
TEST(CliProcesses, TorchrunsEnvironmentRunsTheRanksOverATcpStore) {
  const fs::path dir = fresh_dir("torchrun");
  const std::string port = std::to_string(free_loopback_port());
  auto args = [&](const std::string& out) {
    return std::vector<std::string>{"run", "--preset", src("presets/tiny.json"), "--quiet", "--steps", "10",
                                    "--executor", "processes", "--set", "processes.timeout_seconds=30",
                                    "--out", (dir / out).string()};
  };
  const std::vector<std::string> common{"WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port,
                                        "TORCHELASTIC_RUN_ID=test" + port};
  auto env = [&](int rank) {
    std::vector<std::string> e = common;
    e.push_back("RANK=" + std::to_string(rank));
    e.push_back("LOCAL_RANK=" + std::to_string(rank));
    return e;
  };
  const pid_t r0 = spawn_cli(args("out0"), dir / "log0", env(0));
  const pid_t r1 = spawn_cli(args("out1"), dir / "log1", env(1));
  const int s0 = wait_status(r0, std::chrono::seconds(60));
  const int s1 = wait_status(r1, std::chrono::seconds(60));
  ASSERT_TRUE(s0 != -1 && WIFEXITED(s0) && WEXITSTATUS(s0) == 0) << read_all(dir / "log0");
  ASSERT_TRUE(s1 != -1 && WIFEXITED(s1) && WEXITSTATUS(s1) == 0) << read_all(dir / "log1");
  EXPECT_FALSE(fs::exists(dir / "out1")) << "only rank 0 writes the outputs";
  const auto thr = cli("run --preset " + src("presets/tiny.json") + " --quiet --steps 10 --out " + (dir / "thr").string());
  ASSERT_EQ(thr.code, 0) << thr.out;
  EXPECT_EQ(summary_of(dir / "out0")["weights_digest"], summary_of(dir / "thr")["weights_digest"]);
  fs::remove_all(dir);
}

TEST(CliProcesses, ProcsMustEqualTheStageCount) {
  const auto bad = cli("run --preset " + src("presets/tiny.json") + " --quiet --procs 3");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("--procs"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("2 stages"), std::string::npos) << bad.out;
  const auto zero = cli("run --preset " + src("presets/tiny.json") + " --quiet --procs 0");
  EXPECT_EQ(zero.code, 2) << zero.out;
  // --procs N with --stages N runs: the same weights as the threaded run.
  const fs::path dir = fresh_dir("procs");
  const auto thr = cli("run --preset " + src("presets/tiny.json") + " --quiet --stages 3 --steps 6 --out " + (dir / "thr").string());
  const auto pro = cli("run --preset " + src("presets/tiny.json") + " --quiet --stages 3 --steps 6 --procs 3 --out " + (dir / "pro").string());
  ASSERT_EQ(thr.code, 0) << thr.out;
  ASSERT_EQ(pro.code, 0) << pro.out;
  const auto s = summary_of(dir / "pro");
  EXPECT_EQ(s["weights_digest"], summary_of(dir / "thr")["weights_digest"]);
  // Every stage's row says which process ran it, and what crossed its links.
  ASSERT_EQ(s["per_stage"].size(), 3u);
  for (int k = 0; k < 3; ++k) {
    const auto& st = s["per_stage"][static_cast<std::size_t>(k)];
    EXPECT_EQ(st["process"].get<std::string>().rfind("rank " + std::to_string(k) + ", pid ", 0), 0u) << st.dump();
    EXPECT_EQ(st["messages_sent"], k == 1 ? 12 : 6) << st.dump();  // 6 steps: one activation and one gradient each
    EXPECT_GT(st["bytes_sent"].get<std::int64_t>(), 0) << st.dump();
  }
  fs::remove_all(dir);
}

// torchrun's variables, on loopback: a port in use (rank 0 cannot serve the store) and a master that
// nobody serves (rank 1 cannot reach it) each exit 2 naming the variable, within the configured timeout.
TEST(CliProcesses, ABusyPortAndAnUnreachableMasterExitTwoNamingTheVariable) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string busy = std::to_string(ntohs(addr.sin_port));
  const std::string run = std::string(" ") + PIPESCOPE_CLI + " run --preset " + src("presets/tiny.json") +
                          " --executor processes --quiet --set processes.timeout_seconds=3";
  const auto served = ps::test::run_shell("RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + busy + run);
  EXPECT_EQ(served.code, 2) << served.out;
  EXPECT_NE(served.out.find("MASTER_PORT"), std::string::npos) << served.out;
  ::close(listener);  // now nobody listens there
  const auto reached = ps::test::run_shell("RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + busy + run);
  EXPECT_EQ(reached.code, 2) << reached.out;
  EXPECT_NE(reached.out.find("MASTER_ADDR"), std::string::npos) << reached.out;
  const auto bad_rank = ps::test::run_shell("RANK=2 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + busy + run);
  EXPECT_EQ(bad_rank.code, 2) << bad_rank.out;
  EXPECT_NE(bad_rank.out.find("RANK"), std::string::npos) << bad_rank.out;
}

TEST(CliProcesses, AProcessesRunNeedsRanksThatMatchItsStages) {
  const fs::path dir = fresh_dir("world");
  // One rank announced for a two-stage run: it refuses, naming the field.
  const auto r = ps::test::run_shell("PIPESCOPE_RANK=0 PIPESCOPE_WORLD_SIZE=1 PIPESCOPE_STORE_FILE=" + (dir / "store").string() +
                                     " " + PIPESCOPE_CLI + " run --preset " + src("presets/tiny.json") +
                                     " --executor processes --quiet");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("stages"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

}  // namespace
