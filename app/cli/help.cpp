#include "help.h"

#include <algorithm>

namespace ps::cli {
namespace {

struct Option {
  const char* flags;  // "--steps N" or "--verbose, -v"
  const char* text;
};

struct Command {
  const char* name;
  std::vector<const char*> synopsis;  // after "pipescope-cli NAME "
  const char* summary;
  std::vector<Option> options;
  const char* notes = "";
};

const char* kExitCodes = "exit codes: 0 done, 1 run failed or diverged, 2 bad input, 130 stopped (Ctrl-C / SIGTERM)\n";

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      {"list",
       {"[strategies|schedules|models|datasets|presets] [--verbose]"},
       "Lists what PipeScope knows: strategies, schedules, models, data sets and the presets in presets/\n"
       "(or $PIPESCOPE_PRESETS). Without a name it lists them all.",
       {{"--verbose, -v", "strategies: the full text of each (what F and B read, formula, memory, source)"}}},
      {"run",
       {"--preset FILE [options]", "--resume CHECKPOINT [--steps N | --epochs E] [options]"},
       "Trains a preset headless. Every preset field can be set by a flag below or by its path with --set;\n"
       "the last word wins. With --resume the run continues a checkpoint bit for bit.",
       {{"--preset FILE", "the preset to run (presets/*.json); required unless --resume"},
        {"--resume CHECKPOINT", "continue a saved run (its config comes from the checkpoint)"},
        {"--strategy NAME", "weight-version strategy (pipescope-cli list strategies)"},
        {"--strategy-param KEY=VALUE", "a strategy parameter (repeatable)"},
        {"--schedule NAME", "pipeline schedule (pipescope-cli list schedules)"},
        {"--chunks V", "model chunks per stage (interleaved, V schedules; 0: the schedule's default)"},
        {"--replicas R", "pipeline x data parallel: R replicas of every stage, each taking 1/R of a minibatch"},
        {"--stages N", "number of stages (devices), split by estimated cost"},
        {"--partition i,j,...", "first layer unit of every stage after the first (not with --stages)"},
        {"--microbatches M", "microbatches per minibatch (synchronous schedules, nf1b)"},
        {"--batch-size B", "samples per minibatch"},
        {"--epochs E", "train E epochs (drops a step count)"},
        {"--steps N", "train N minibatches"},
        {"--lr X", "learning rate (optimizer.lr)"},
        {"--seed N", "seed of initialisation and data order"},
        {"--device cpu|cuda", "device of every stage (per stage: --set stage_devices=cpu,cuda:0)"},
        {"--executor threaded|sequential|processes",
         "a thread per stage, one thread running the same ops in order, or a process per stage (c10d)"},
        {"--procs N", "run as N local processes, one per stage and replica (= --executor processes; N = stages x replicas)"},
        {"--threads-per-stage T", "intra-op threads of each stage"},
        {"--set PATH=VALUE", "any preset field by its path, e.g. optimizer.momentum=0.5 (repeatable)"},
        {"--out DIR", "write summary.json, metrics.csv, ledger.csv, config.json and run.json into DIR (the dashboard opens it: File > Open run)"},
        {"--trace FILE", "write a Trace Event Format trace (ui.perfetto.dev)"},
        {"--checkpoint FILE", "save a checkpoint at the end (and on Ctrl-C)"},
        {"--checkpoint-every MINUTES", "also save every MINUTES (needs --checkpoint)"},
        {"--repartition STEP:i,j,...", "move the boundaries live once STEP minibatches are done"},
        {"--quiet", "no progress line"}},
       "A strategy that needs another optimizer is refused with the flags that fix it, e.g. nesterov:\n"
       "--set optimizer.nesterov=true; adam-predict: --set optimizer.name=adam --lr 0.001. The runner never\n"
       "changes the optimizer by itself: the run is always the preset plus the flags given.\n"},
      {"schedule",
       {"--schedule NAME --stages S [--chunks V] --microbatches M --minibatches N [--format table|json]"},
       "Prints the op lists a schedule gives every stage (F forward, B backward, I input gradient, W weight\n"
       "gradient, U update; F2.1 is microbatch 1 of minibatch 2, F2.1@3 on chunk 3; A+B an OVERLAP pair)\n"
       "and its ideal bubble.",
       {{"--schedule NAME", "the schedule (default 1f1b-async; pipescope-cli list schedules)"},
        {"--stages S", "stages (default 4)"},
        {"--chunks V", "chunks per stage (default: the schedule's, 2 where it places several)"},
        {"--microbatches M", "microbatches per minibatch (default 1)"},
        {"--minibatches N", "minibatches (default 4)"},
        {"--format table|json", "output format (default table)"}}},
      {"bench",
       {"NAME... [--preset FILE] [--steps N] [--repeats R] [--budget S] [--spread X]",
        "memory [--strategies a,b,...] [--stages N] [--preset FILE] [--steps N] [--repeats R]"},
       "Benchmarks, each ending with a line `NAME: ratio=X`. NAME is one or more of:\n"
       "  overhead    the engine on 1 stage over a plain LibTorch loop (same model, data, SGD)\n"
       "  scaling     2 stages over 1 stage, beside the limit: 2 independent single-thread copies over 1\n"
       "  efficiency  per schedule, measured throughput over the slowest stage's bound\n"
       "  telemetry   telemetry on over off, 2 stages\n"
       "  memory      peak resident memory per strategy, each in a child process\n"
       "  processes   2 stages as 2 processes (c10d) and as 2 threads over 1 stage, beside 2 independent processes\n"
       "  simulator   the simulator's predicted throughput against the measured one, 1, 2 and 4 stages\n"
       "overhead, scaling and telemetry run their configurations in alternating pairs and report the median\n"
       "of the pair ratios with its spread; they add pairs until the spread is below --spread or --budget\n"
       "seconds are spent.",
       {{"--preset FILE", "model and data (default presets/default.json; scaling: its balanced mlp)"},
        {"--steps N", "minibatches per timed run (default 60)"},
        {"--repeats R", "at least R pairs (or repeats) of each measurement (default 3)"},
        {"--budget S", "overhead, scaling, telemetry: add pairs for up to S seconds (default 60; 0: exactly R)"},
        {"--spread X", "overhead, scaling, telemetry: stop once the ratio's spread is below X (default 0.01)"},
        {"--strategies a,b,...", "memory: the strategies to measure (latest and stash always)"},
        {"--stages N", "memory: stages of every run (default the preset's, at least 2)"}}},
      {"partition",
       {"--preset FILE --stages N [--by time|params|memory] [--format table|json] [options]"},
       "Auto-balance: the partition that minimises the slowest stage (by measured time, parameters or\n"
       "memory), beside the even split and the engine's default.",
       {{"--preset FILE", "model, data and batch (required)"},
        {"--stages N", "stages to split into"},
        {"--by time|params|memory", "what to balance (default time, from a measured profile)"},
        {"--schedule NAME", "schedule the plan is for"},
        {"--chunks V", "chunks per stage of that schedule"},
        {"--microbatches M", "microbatches per minibatch"},
        {"--batch-size B", "samples per minibatch"},
        {"--set PATH=VALUE", "any preset field by its path (repeatable)"},
        {"--bandwidth GBps", "link bandwidth between stages (default infinite)"},
        {"--memory-limit MB", "per-stage memory limit"},
        {"--weight-copies X", "weight copies a stage holds (stash-like strategies)"},
        {"--format table|json", "output format (default table)"},
        {"--no-cache", "profile afresh and do not keep it"},
        {"--refresh", "profile afresh and replace the cached profile"}}},
      {"simulate",
       {"--preset FILE --stages N [--schedule S] [--partition i,j,...|--auto] [options]"},
       "What-if simulator: predicted throughput, per-stage busy time and bubble from a measured profile.",
       {{"--preset FILE", "model, data and batch (required)"},
        {"--stages N", "stages"},
        {"--devices N", "devices the stages share (default one each)"},
        {"--cores C", "cores the stages share (default unlimited)"},
        {"--round-robin", "place stages on the devices round-robin"},
        {"--schedule NAME", "schedule to simulate"},
        {"--chunks V", "chunks per stage of that schedule"},
        {"--microbatches M", "microbatches per minibatch"},
        {"--minibatches N", "minibatches to simulate (default 32)"},
        {"--batch-size B", "samples per minibatch"},
        {"--partition i,j,...", "boundaries (default: the engine's split by estimated cost)"},
        {"--auto", "balance the partition by the measured profile"},
        {"--set PATH=VALUE", "any preset field by its path (repeatable)"},
        {"--bandwidth GBps", "link bandwidth between stages (default infinite)"},
        {"--format table|json", "output format (default table)"},
        {"--no-cache", "profile afresh and do not keep it"},
        {"--refresh", "profile afresh and replace the cached profile"}}},
      {"sweep",
       {"--grid FILE [--out DIR] [--runs DIR] [--jobs 1] [--no-plot]"},
       "Runs every cell of a sweep grid (format: engine/sweep/grid.h) and writes sweep.csv,\n"
       "sweep_stages.csv and sweep.md; finished cells are skipped when run again.",
       {{"--grid FILE", "the grid (required), e.g. presets/sweeps/smoke.json"},
        {"--out DIR", "tables and plots (default sweep-out)"},
        {"--runs DIR", "one directory per cell (default DIR/runs)"},
        {"--jobs 1", "cells run one after another"},
        {"--no-plot", "do not render the plots"}}},
  };
  return all;
}

const Command* find(const std::string& name) {
  for (const auto& c : commands())
    if (name == c.name) return &c;
  return nullptr;
}

}  // namespace

std::vector<std::string> command_names() {
  std::vector<std::string> out;
  for (const auto& c : commands()) out.push_back(c.name);
  out.push_back("help");
  return out;
}

void print_usage(std::FILE* out) {
  std::fprintf(out, "usage: pipescope-cli COMMAND [options]\n");
  for (const auto& c : commands())
    for (const char* s : c.synopsis) std::fprintf(out, "  %-9s %s\n", c.name, s);
  std::fprintf(out, "  help      [COMMAND]\n");
  std::fprintf(out, "pipescope-cli COMMAND --help prints that command's options.\n%s", kExitCodes);
}

bool print_command_help(const std::string& name, std::FILE* out) {
  const Command* c = find(name);
  if (!c) return false;
  for (std::size_t i = 0; i < c->synopsis.size(); ++i)
    std::fprintf(out, "%s pipescope-cli %s %s\n", i == 0 ? "usage:" : "      ", c->name, c->synopsis[i]);
  std::fprintf(out, "\n%s\n\noptions:\n", c->summary);
  std::size_t width = 0;
  for (const auto& o : c->options) width = std::max(width, std::string(o.flags).size());
  for (const auto& o : c->options) std::fprintf(out, "  %-*s  %s\n", int(width), o.flags, o.text);
  std::fprintf(out, "  %-*s  %s\n", int(width), "--help, -h", "this text");
  if (*c->notes) std::fprintf(out, "\n%s", c->notes);
  std::fprintf(out, "\n%s", kExitCodes);
  return true;
}

}  // namespace ps::cli
