// pipescope-cli: the headless runner. See `pipescope-cli help`.
#include <cstdio>
#include <exception>
#include <string>

#include "commands.h"
#include "engine/util/errors.h"

namespace {

void usage() {
  std::printf(
      "usage: pipescope-cli COMMAND [options]\n"
      "  list [strategies|schedules|models|datasets|presets] [--verbose]\n"
      "  run --preset FILE [--strategy NAME] [--strategy-param key=value]... [--schedule NAME]\n"
      "      [--stages N | --partition i,j,...] [--microbatches M] [--batch-size B] [--epochs E | --steps N]\n"
      "      [--lr X] [--seed N] [--device cpu|cuda] [--executor threaded|sequential]\n"
      "      [--threads-per-stage T] [--set field.path=value]... [--out DIR] [--trace FILE] [--quiet]\n"
      "      [--checkpoint FILE [--checkpoint-every MINUTES]] [--repartition STEP:i,j,...]\n"
      "  run --resume CHECKPOINT [--lr X] [--steps N | --epochs E] [--executor E] [--set optimizer.*=V]...\n"
      "      [--out DIR] [--checkpoint FILE ...]   (continues a saved run bit for bit)\n"
      "  schedule --schedule NAME --stages S --microbatches M --minibatches N [--format table|json]\n"
      "  bench overhead|scaling|efficiency|telemetry|memory|simulator [--preset FILE] [--steps N] [--repeats R]\n"
      "      [--strategies a,b,... --stages N (memory only)]\n"
      "  partition --preset FILE --stages N [--by time|params|memory] [--format table|json] [--bandwidth GBps]\n"
      "      [--memory-limit MB] [--weight-copies X] [--schedule S] [--microbatches M] [--no-cache|--refresh]\n"
      "  simulate --preset FILE --stages N [--devices N] [--bandwidth GBps] [--schedule S] [--microbatches M]\n"
      "      [--minibatches N] [--partition i,j,...|--auto] [--cores C] [--round-robin] [--format table|json]\n"
      "  sweep --grid FILE [--out DIR] [--runs DIR] [--jobs 1] [--no-plot]   (grid format: engine/sweep/grid.h)\n"
      "exit codes: 0 done, 1 run failed or diverged, 2 bad input, 130 stopped (Ctrl-C / SIGTERM)\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  const std::string command = argv[1];
  ps::cli::Args args(argv + 2, argv + argc);
  try {
    if (command == "list") return ps::cli::cmd_list(args);
    if (command == "run") return ps::cli::cmd_run(args);
    if (command == "schedule") return ps::cli::cmd_schedule(args);
    if (command == "bench") return ps::cli::cmd_bench(args);
    if (command == "partition") return ps::cli::cmd_partition(args);
    if (command == "simulate") return ps::cli::cmd_simulate(args);
    if (command == "sweep") return ps::cli::cmd_sweep(args);
    if (command == "help" || command == "--help" || command == "-h") {
      usage();
      return 0;
    }
    std::fprintf(stderr, "pipescope-cli: unknown command '%s'\n", command.c_str());
    usage();
    return 2;
  } catch (const ps::InputError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
