// The runner's conventions (issue 18, item 5), through the real binary: `COMMAND --help` for every
// command, lists of every valid choice in "unknown" errors, missing flags and values named. (A strategy's
// optimizer: test_strategy_optimizer.cpp.)
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

// The names `pipescope-cli list WHAT` prints ("  name  text" under "WHAT:").
std::vector<std::string> listed(const std::string& what) {
  std::vector<std::string> names;
  std::istringstream in(cli("list " + what, /*merge_stderr=*/false).out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("  ", 0) == 0) names.push_back(line.substr(2, line.find(' ', 2) - 2));
  return names;
}

// Every choice the engine's catalogs hold is in the error for a bad one and in the help.
TEST(CliHelp, BadChoicesListEveryChoiceOfTheCatalogs) {
  const std::string tiny = src("presets/tiny.json");
  const std::vector<std::string> schedules = listed("schedules");
  ASSERT_GE(schedules.size(), 10u);
  const Result schedule = cli("run --preset " + tiny + " --schedule nope");
  EXPECT_EQ(schedule.code, 2);
  EXPECT_NE(schedule.out.find("command line: schedule: unknown schedule 'nope'"), std::string::npos) << schedule.out;
  const std::string run_help = cli("run --help").out;
  for (const auto& s : schedules) {
    EXPECT_NE(schedule.out.find(s), std::string::npos) << s << "\n" << schedule.out;
    EXPECT_NE(run_help.find(s), std::string::npos) << s << " is not in run --help";
  }
  const std::vector<std::string> strategies = listed("strategies");
  ASSERT_GE(strategies.size(), 5u);
  const Result strategy = cli("run --preset " + tiny + " --strategy nope");
  EXPECT_EQ(strategy.code, 2);
  for (const auto& s : strategies) EXPECT_NE(strategy.out.find(s), std::string::npos) << s << "\n" << strategy.out;

  const Result executor = cli("run --preset " + tiny + " --executor nope");
  EXPECT_EQ(executor.code, 2);
  EXPECT_NE(executor.out.find("(known: threaded, sequential, processes)"), std::string::npos) << executor.out;
  const Result format = cli("schedule --format xml");
  EXPECT_EQ(format.code, 2);
  EXPECT_NE(format.out.find("command line: --format: expected 'table' or 'json', got 'xml'"), std::string::npos) << format.out;
  const Result by = cli("partition --preset " + tiny + " --stages 2 --by flops");
  EXPECT_EQ(by.code, 2);
  EXPECT_NE(by.out.find("command line: --by: unknown balance objective 'flops' (known: time, params, memory)"),
            std::string::npos)
      << by.out;
  // A command's name is no benchmark, and is never taken for a second command.
  const Result bench = cli("bench run");
  EXPECT_EQ(bench.code, 2);
  EXPECT_NE(bench.out.find("unknown benchmark 'run'"), std::string::npos) << bench.out;
  EXPECT_NE(bench.out.find("simulator"), std::string::npos) << bench.out;
  const Result help = cli("bench --help");
  for (const std::string b : {"overhead", "scaling", "efficiency", "telemetry", "memory", "simulator", "processes"})
    EXPECT_NE(help.out.find("  " + b + " "), std::string::npos) << b;
}

// A missing required flag, or a flag at the end of the line without its value, is named (exit 2).
TEST(CliHelp, MissingFlagsAndValuesAreNamed) {
  const std::string tiny = src("presets/tiny.json");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"run --steps 3", "error: command line: --preset: is required"},
      {"partition --stages 2", "error: command line: --preset: is required"},
      {"simulate --stages 2", "error: command line: --preset: is required"},
      {"sweep", "error: command line: --grid: is required"},
      {"run --preset " + tiny + " --steps", "error: command line: --steps: needs a value"},
      {"schedule --stages", "error: command line: --stages: needs a value"},
      {"run --preset " + tiny + " --preset", "error: command line: --preset: needs a value"},
  };
  for (const auto& [args, message] : cases) {
    const Result r = cli(args, /*merge_stderr=*/false);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.all();
    EXPECT_EQ(r.err.rfind(message, 0), 0u) << args << "\n" << r.err;
    EXPECT_EQ(r.out, "") << args;
  }
  // Help is still help when a flag before it lacks nothing but --help took its place.
  EXPECT_EQ(cli("run --preset").code, 2);
  const Result help = cli("run --steps --help", /*merge_stderr=*/false);
  EXPECT_EQ(help.code, 0) << help.all();
  EXPECT_EQ(help.out.rfind("usage: pipescope-cli run ", 0), 0u) << help.out;
}

}  // namespace
