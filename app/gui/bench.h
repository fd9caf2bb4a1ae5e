// `pipescope --bench`: timeline paint time at 10k and 100k boxes (median of several paints to an
// image) and event-loop latency while the dashboard follows a full-speed run. Works offscreen.
// Every figure is a line `NAME: X ms`.
#pragma once
#include <cstddef>
#include <cstdio>
#include <vector>

namespace ps::gui {

struct GuiOptions;

struct BenchSizes {
  std::vector<int> boxes = {10000, 100000};  // timeline sizes painted
  int paint_repeats = 15;                    // paints per size (median)
  std::size_t latency_samples = 500;         // event-loop samples wanted ...
  int max_runs = 20;                         // ... from at most this many runs of the preset
};

int run_bench(const GuiOptions& options);  // full sizes, to stdout; exit code
int run_bench(const GuiOptions& options, const BenchSizes& sizes, std::FILE* out);

}  // namespace ps::gui
