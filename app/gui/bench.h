// `pipescope --bench`: timeline paint time at 10k and 100k boxes (median of several paints to an
// image) and event-loop latency while the dashboard follows a full-speed run. Works offscreen.
#pragma once

namespace ps::gui {

struct GuiOptions;

int run_bench(const GuiOptions& options);  // exit code

}  // namespace ps::gui
