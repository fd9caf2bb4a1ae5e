// pipescope-cli's help: the top-level usage and `pipescope-cli COMMAND --help` for every command. The
// prose (synopsis, summary, notes) is here; the options and their text come from the command's CLI11
// subcommand, the same declarations the parser reads, so the help lists exactly the flags a command takes.
#include "help.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <map>

#include "engine/bench/benchmarks.h"

namespace ps::cli {
namespace {

struct Command {
  const char* name;
  std::vector<const char*> synopsis;  // after "pipescope-cli NAME "
  const char* summary;
  const char* notes = "";
};

const char* kExitCodes = "exit codes: 0 done, 1 run failed or diverged, 2 bad input, 130 stopped (Ctrl-C / SIGTERM)\n";

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      {"list",
       {"[strategies|schedules|models|datasets|presets] [--verbose]"},
       "Lists what PipeScope knows: strategies, schedules, models, data sets and the presets in presets/\n"
       "(or $PIPESCOPE_PRESETS). Without a name it lists them all."},
      {"run",
       {"--preset FILE [options]", "--resume CHECKPOINT [--steps N | --epochs E] [options]"},
       "Trains a preset headless. Every preset field can be set by a flag below or by its path with --set;\n"
       "the last word wins. With --resume the run continues a checkpoint bit for bit.",
       "A strategy named on this line (--strategy, --set strategy.name=...) brings the optimizer it needs when\n"
       "the line leaves the optimizer alone: nesterov sets optimizer.nesterov=true, adam-predict\n"
       "optimizer.name=adam (and lr 0.001 when the rate is SGD's), spectrain optimizer.name=sgd; the runner\n"
       "says so on stderr. A preset that names such a strategy with another optimizer, or a line that sets the\n"
       "optimizer against it, is refused with the --set flags that fix it.\n"},
      {"schedule",
       {"--schedule NAME --stages S [--chunks V] --microbatches M --minibatches N [--format table|json]"},
       "Prints the op lists a schedule gives every stage (F forward, B backward, I input gradient, W weight\n"
       "gradient, U update; F2.1 is microbatch 1 of minibatch 2, F2.1@3 on chunk 3; A+B an OVERLAP pair)\n"
       "and its ideal bubble."},
      {"bench",
       {"NAME... [--preset FILE] [--steps N] [--repeats R] [--budget S] [--spread X]",
        "memory [--strategies a,b,...] [--stages N] [--preset FILE] [--steps N] [--repeats R]",
        "efficiency [--stages N] [--schedules a,b,...] [--preset FILE] [--steps N] [--repeats R]"},
       "Benchmarks, each ending with a line `NAME: ratio=X`. NAME is one or more of:\n"
       "%BENCHMARKS%"
       "overhead, scaling and telemetry run their configurations in alternating pairs and report the median\n"
       "of the pair ratios with its spread; they add pairs until the spread is below --spread or --budget\n"
       "seconds are spent."},
      {"partition",
       {"--preset FILE --stages N [--by time|params|memory] [--format table|json] [options]"},
       "Auto-balance: the partition that minimises the slowest stage (by measured time, parameters or\n"
       "memory), beside the even split and the engine's default."},
      {"simulate",
       {"--preset FILE --stages N [--schedule S] [--partition i,j,...|--auto] [options]"},
       "What-if simulator: predicted throughput, per-stage busy time and bubble from a measured profile."},
      {"sweep",
       {"--grid FILE [--out DIR] [--runs DIR] [--jobs 1] [--no-plot]"},
       "Runs every cell of a sweep grid (format: engine/sweep/grid.h) and writes sweep.csv,\n"
       "sweep_stages.csv and sweep.md; finished cells are skipped when run again."},
      {"help", {"[COMMAND]"}, "Prints the usage, or COMMAND's options (the same as pipescope-cli COMMAND --help)."},
  };
  return all;
}

const Command* find(const std::string& name) {
  for (const auto& c : commands())
    if (name == c.name) return &c;
  return nullptr;
}

// What each benchmark measures; the names come from the engine's list (benchmark_names()).
std::string benchmark_lines() {
  static const std::map<std::string, std::string> what = {
      {"overhead", "the engine on 1 stage over a plain LibTorch loop (same model, data, SGD)"},
      {"scaling", "2 stages over 1 stage, beside the limit: 2 independent single-thread copies over 1"},
      {"efficiency", "every pipeline schedule: throughput against the slowest device's bound, bubble ideal / simulated / measured, peak activations per device"},
      {"telemetry", "telemetry on over off, 2 stages"},
      {"memory", "peak resident memory per strategy, each in a child process"},
      {"processes", "2 stages as 2 processes (c10d) and as 2 threads over 1 stage, beside 2 independent processes"},
      {"simulator", "the simulator's predicted throughput against the measured one, 1, 2 and 4 stages"},
  };
  std::string lines;
  for (const auto& name : benchmark_names()) {
    const auto it = what.find(name);
    lines += "  " + name + std::string(name.size() < 12 ? 12 - name.size() : 1, ' ') + (it == what.end() ? "" : it->second) + "\n";
  }
  return lines;
}

std::string summary_of(const Command& c) {
  std::string text = c.summary;
  const auto at = text.find("%BENCHMARKS%");
  if (at != std::string::npos) text.replace(at, 12, benchmark_lines());
  return text;
}

// "--steps N", "--verbose, -v": every name of the option, then what its value is.
std::string flags_of(const CLI::Option& o) {
  std::string flags;
  for (const auto& n : o.get_lnames()) flags += (flags.empty() ? "--" : ", --") + n;
  for (const auto& n : o.get_snames()) flags += (flags.empty() ? "-" : ", -") + n;
  if (o.get_type_size_max() > 0 && !o.get_type_name().empty()) flags += " " + o.get_type_name();
  return flags;
}

// `text` wrapped to lines of at most `width` characters, the lines after the first indented by `indent`.
std::string wrapped(const std::string& text, std::size_t indent, std::size_t width) {
  std::string out, line;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
      out += line + "\n" + std::string(indent, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  return out + line;
}

}  // namespace

std::vector<std::string> command_names() {
  std::vector<std::string> out;
  for (const auto& c : commands()) out.emplace_back(c.name);
  return out;
}

std::string command_summary(const std::string& command) {
  const Command* c = find(command);
  return c ? summary_of(*c) : "";
}

std::vector<std::string> flag_names(const CLI::App& command) {
  std::vector<std::string> out;
  for (const CLI::Option* o : command.get_options()) {
    if (o == command.get_help_ptr()) continue;
    for (const auto& n : o->get_lnames()) out.push_back("--" + n);
    for (const auto& n : o->get_snames()) out.push_back("-" + n);
  }
  return out;
}

void print_usage(std::FILE* out) {
  std::fprintf(out, "usage: pipescope-cli COMMAND [options]\n");
  for (const auto& c : commands())
    for (const char* s : c.synopsis) std::fprintf(out, "  %-9s %s\n", c.name, s);
  std::fprintf(out, "pipescope-cli COMMAND --help prints that command's options.\n%s", kExitCodes);
}

void print_command_help(const CLI::App& command, std::FILE* out) {
  const Command* c = find(command.get_name());
  if (c)
    for (std::size_t i = 0; i < c->synopsis.size(); ++i)
      std::fprintf(out, "%s pipescope-cli %s %s\n", i == 0 ? "usage:" : "      ", c->name, c->synopsis[i]);
  std::fprintf(out, "\n%s\n\noptions:\n", command.get_description().c_str());
  // The options in the order they were declared, help last; positional words are in the synopsis.
  std::vector<const CLI::Option*> options;
  for (const CLI::Option* o : command.get_options())
    if (o != command.get_help_ptr() && o->nonpositional()) options.push_back(o);
  if (command.get_help_ptr()) options.push_back(command.get_help_ptr());
  std::size_t width = 0;
  for (const CLI::Option* o : options) width = std::max(width, flags_of(*o).size());
  for (const CLI::Option* o : options)
    std::fprintf(out, "  %-*s  %s\n", int(width), flags_of(*o).c_str(),
                 wrapped(o->get_description(), width + 4, 110).c_str());
  if (c && *c->notes) std::fprintf(out, "\n%s", c->notes);
  std::fprintf(out, "\n%s", kExitCodes);
}

}  // namespace ps::cli
