// The dashboard's command line: a preset to open and the headless hooks used by scripts and tests.
#pragma once
#include <QString>
#include <QStringList>
#include <cstdint>
#include <optional>
#include <vector>

namespace ps::gui {

// --repartition STEP:B1,B2,...: once the run has started, move its stage boundaries to B1,B2,... when
// STEP minibatches are complete (a live repartition, as a drag in the partition editor during the run).
struct RepartitionRequest {
  std::int64_t at_step = 0;
  std::vector<int> boundaries;
};

struct GuiOptions {
  QString preset;             // "" = the default preset
  QString resume;             // a checkpoint to continue at once (instead of a preset)
  QStringList overrides;      // "field.path=value" applied to the preset (or, for lr and steps, the checkpoint)
  bool autostart = false;     // start the run as soon as the session is prepared
  QString screenshot;         // save a PNG of the main window ...
  double screenshot_after = 3;  // ... this many seconds after start-up
  double quit_after = -1;     // quit after this many seconds (< 0: stay open)
  QString theme;              // "light" or "dark" ("" = as saved)
  double zoom = 0;            // text size factor (0 = as saved)
  int page = -1;              // page to show: 0 pipeline, 1 versions, 2 curves, 3 compare (-1: as saved)
  int clock = -1;             // the timeline's clock: 0 wall, 1 compute, 2 slots (-1: wall)
  bool projector = false;     // start in the projector layout
  int width = 0, height = 0;  // window size (0: as saved)
  std::optional<RepartitionRequest> repartition;
  bool profile = false;       // profile the model once prepared (cached); --autostart then waits for it
  QString runs_dir;           // the run library's folder ("" = the default; scripted runs keep none)
  QStringList open_runs;      // run folders to import at start-up
  bool bench = false;         // print paint and event-loop timings and exit
  QString bench_preset;       // preset the benchmark runs ("" = presets/tiny.json)
};

// Parses the arguments (argv[0] included). Returns nullopt and sets `error` for bad input; exits for
// --help and --version as QCommandLineParser does.
std::optional<GuiOptions> parse_gui_options(const QStringList& arguments, QString* error);

// presets/<name> next to the source tree (PIPESCOPE_SOURCE_DIR), else next to the executable.
QString find_preset(const QString& name);

}  // namespace ps::gui
