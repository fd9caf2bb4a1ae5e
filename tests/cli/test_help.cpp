// The runner's conventions (issue 18, item 5), through the real binary: `COMMAND --help` for every
// command, lists of every valid choice in "unknown" errors, and the flags that fix a strategy's optimizer.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.h"

namespace {

using Result = ps::test::CliResult;
using ps::test::cli;
using ps::test::src;

const std::vector<std::string> kCommands = {"list", "run", "schedule", "bench", "partition", "simulate", "sweep"};

// The flags in the options section of a help text ("  --steps N   text", "  --verbose, -v   text").
std::set<std::string> help_flags(const std::string& help) {
  std::set<std::string> out;
  std::istringstream in(help);
  bool options = false;
  static const std::regex flag(R"((?:^  |, )(--?[a-z][a-z0-9-]*))");
  for (std::string line; std::getline(in, line);) {
    if (line == "options:") options = true;
    else if (line.empty()) options = false;
    if (!options || line.rfind("  -", 0) != 0) continue;
    const std::string flags = line.substr(0, line.find("  ", 2));  // up to the description
    for (std::sregex_iterator it(flags.begin(), flags.end(), flag), end; it != end; ++it) out.insert((*it)[1]);
  }
  out.erase("--help");
  out.erase("-h");
  return out;
}

// The flags listed by "unknown argument for 'CMD' ... (known: a, b; see ...)".
std::set<std::string> known_flags(const std::string& error) {
  std::set<std::string> out;
  const auto start = error.find("(known: ");
  const auto end = error.find("; see pipescope-cli", start);
  if (start == std::string::npos || end == std::string::npos) return out;
  std::istringstream in(error.substr(start + 8, end - start - 8));
  for (std::string item; std::getline(in, item, ',');) out.insert(item.substr(item.find_first_not_of(' ')));
  return out;
}

// The least each command needs before it looks at the rest of its arguments.
std::string minimal_args(const std::string& command) {
  const std::string tiny = src("presets/tiny.json");
  if (command == "run" || command == "partition" || command == "simulate") return command + " --preset " + tiny;
  if (command == "sweep") return "sweep --grid " + src("presets/sweeps/smoke.json");
  return command;
}

TEST(CliHelp, EveryCommandPrintsItsOptions) {
  for (const auto& c : kCommands) {
    for (const std::string form : {c + " --help", c + " -h", "help " + c}) {
      const Result r = cli(form, /*merge_stderr=*/false);
      EXPECT_EQ(r.code, 0) << form << "\n" << r.all();
      EXPECT_EQ(r.out.rfind("usage: pipescope-cli " + c + " ", 0), 0u) << form << "\n" << r.out;
      EXPECT_FALSE(help_flags(r.out).empty() && c != "list") << form << "\n" << r.out;
      EXPECT_TRUE(r.err.empty()) << form << "\n" << r.err;
    }
  }
  // Help wins over everything else on the line: no preset is needed, nothing is checked.
  const Result run = cli("run --help");
  EXPECT_EQ(run.out.find("is required"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("--set PATH=VALUE"), std::string::npos) << run.out;
  const Result bench = cli("bench scaling --steps ten --help");
  EXPECT_EQ(bench.code, 0) << bench.out;
  for (const char* b : {"overhead", "scaling", "efficiency", "telemetry", "memory", "simulator"})
    EXPECT_NE(bench.out.find("  " + std::string(b) + " "), std::string::npos) << b << "\n" << bench.out;
}

// The help of each command lists exactly the flags it reads: the unknown-argument error lists the flags
// the command asked for, so a flag added to a command and not to its help (or the other way) fails here.
TEST(CliHelp, HelpListsExactlyTheFlagsEachCommandReads) {
  for (const auto& c : kCommands) {
    const std::set<std::string> help = help_flags(cli(c + " --help").out);
    const Result r = cli(minimal_args(c) + " --no-such-flag");
    EXPECT_EQ(r.code, 2) << c << "\n" << r.out;
    EXPECT_NE(r.out.find("command line: --no-such-flag: unknown argument for '" + c + "'"), std::string::npos) << r.out;
    const std::set<std::string> read = known_flags(r.out);
    EXPECT_FALSE(read.empty()) << r.out;
    EXPECT_EQ(help, read) << c << ": the help and the flags the command reads differ\n" << r.out;
  }
}

TEST(CliHelp, TheTopLevelUsageNamesEveryCommandAndHowToGetItsHelp) {
  const Result r = cli("help", /*merge_stderr=*/false);
  EXPECT_EQ(r.code, 0);
  for (const auto& c : kCommands) EXPECT_NE(r.out.find("  " + c + " "), std::string::npos) << c << "\n" << r.out;
  EXPECT_NE(r.out.find("COMMAND --help"), std::string::npos) << r.out;
  EXPECT_EQ(cli("--help").code, 0);
}

TEST(CliHelp, UnknownNamesListEveryValidChoice) {
  const Result command = cli("benhc");
  EXPECT_EQ(command.code, 2);
  EXPECT_NE(command.out.find("unknown command 'benhc'; did you mean 'bench'?"), std::string::npos) << command.out;
  for (const auto& c : kCommands) EXPECT_NE(command.out.find(c), std::string::npos) << c;
  EXPECT_EQ(cli("help benhc").code, 2);

  const Result bench = cli("bench nonsense");
  EXPECT_EQ(bench.code, 2);
  EXPECT_NE(bench.out.find("(known: overhead, scaling, efficiency, telemetry, memory, simulator, processes)"), std::string::npos)
      << bench.out;
  // A bad name after a good one is refused before the good one runs.
  const Result late = cli("bench telemetry nonsense --preset " + src("presets/tiny.json") + " --steps 2");
  EXPECT_EQ(late.code, 2);
  EXPECT_EQ(late.out.find("telemetry: ratio="), std::string::npos) << late.out;

  const Result flag = cli("run --preset " + src("presets/tiny.json") + " --stpes 3");
  EXPECT_EQ(flag.code, 2);
  EXPECT_NE(flag.out.find("did you mean '--steps'?"), std::string::npos) << flag.out;

  const Result list = cli("list nothing");
  EXPECT_NE(list.out.find("strategies, schedules, models, datasets, presets"), std::string::npos) << list.out;
  const Result schedule = cli("schedule --schedule nope");
  EXPECT_EQ(schedule.code, 2);
  EXPECT_NE(schedule.out.find("1f1b-flush"), std::string::npos) << schedule.out;
  const Result strategy = cli("run --preset " + src("presets/tiny.json") + " --strategy nope");
  EXPECT_EQ(strategy.code, 2);
  EXPECT_NE(strategy.out.find("adam-predict"), std::string::npos) << strategy.out;
}

// What follows "on the command line: " in the error.
std::string fix_of(const std::string& out) {
  const std::string key = "on the command line: ";
  const auto at = out.find(key);
  if (at == std::string::npos) return "";
  return out.substr(at + key.size(), out.find('\n', at) - at - key.size());
}

// A strategy that needs another optimizer is refused with the flags that fix it (the runner does not
// change the optimizer by itself), and those flags do fix it.
TEST(CliHelp, AStrategyThatNeedsAnotherOptimizerNamesTheFlagsThatFixIt) {
  struct Case {
    std::string preset, strategy, field, fix;
  };
  const std::vector<Case> cases = {
      {"presets/tiny.json", "nesterov", "optimizer.nesterov", "--set optimizer.nesterov=true"},
      {"presets/tiny.json", "adam-predict", "optimizer.name", "--set optimizer.name=adam --lr 0.001"},
      {"presets/transformer-tiny.json", "spectrain", "optimizer.name", "--set optimizer.name=sgd"},
  };
  for (const auto& c : cases) {
    const std::string base = "run --preset " + src(c.preset) + " --strategy " + c.strategy +
                             " --schedule 1f1b-async --set microbatches=1 --steps 2 --quiet";
    const Result refused = cli(base);
    EXPECT_EQ(refused.code, 2) << refused.out;
    EXPECT_NE(refused.out.find(": " + c.field + ": strategy '" + c.strategy + "'"), std::string::npos) << refused.out;
    EXPECT_EQ(fix_of(refused.out), c.fix) << refused.out;
    const Result fixed = cli(base + " " + fix_of(refused.out));
    EXPECT_EQ(fixed.code, 0) << c.strategy << " with " << c.fix << "\n" << fixed.out;
    EXPECT_NE(fixed.out.find("status: completed"), std::string::npos) << fixed.out;
  }
}

}  // namespace
