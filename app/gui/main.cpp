// pipescope: the Qt dashboard. Also headless: --screenshot/--quit-after for scripts, --bench for timings.
#include <QApplication>
#include <QTabWidget>
#include <QTimer>
#include <cstdio>
#include <exception>
#include <memory>
#include <utility>
#include <optional>

#include "engine/util/allocator.h"
#include "app/gui/app_icon.h"
#include "app/gui/bench.h"
#include "app/gui/command_line.h"
#include "app/gui/main_window.h"
#include "app/gui/pipeline_page.h"
#include "widgets/timeline_view.h"
#include "app/gui/profile_runner.h"
#include "app/gui/run_library_ui.h"
#include "app/gui/session_controller.h"
#include "engine/session/session.h"

int main(int argc, char** argv) {
  ps::keep_freed_memory();  // before any tensor: a step's buffers stay in the heap (issue 18)
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("PipeScope"));
  QApplication::setApplicationName(QStringLiteral("pipescope"));
  QApplication::setApplicationVersion(QStringLiteral(PIPESCOPE_VERSION));
  QApplication::setWindowIcon(ps::gui::app_icon());

  QString error;
  const auto options = ps::gui::parse_gui_options(QApplication::arguments(), &error);
  if (!options) {
    std::fprintf(stderr, "pipescope: %s\n", qPrintable(error));
    return 2;
  }
  if (options->bench) return ps::gui::run_bench(*options);

  ps::gui::MainWindow window;
  window.setSaveSettingsOnClose(options->quit_after < 0);  // scripted runs leave the user's layout alone
  // ... and the user's run library: they keep runs only where --runs-dir says.
  if (!options->runs_dir.isEmpty()) window.runLibrary()->open(options->runs_dir);
  else if (options->quit_after >= 0) window.runLibrary()->open(QString());
  if (!options->open_runs.isEmpty()) window.openRuns(options->open_runs);
  bool loaded = false;
  if (!options->resume.isEmpty()) {
    // A checkpoint holds its run's settings: only the learning rate and the length may change.
    std::optional<double> lr;
    std::optional<std::int64_t> steps;
    try {
      ps::RunConfig c = ps::checkpoint_config(options->resume.toStdString());
      for (const QString& kv : options->overrides) ps::apply_override(c, kv.toStdString());
      lr = c.optimizer.lr;
      steps = c.steps;
      loaded = window.resumeFromCheckpoint(options->resume, lr, steps);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "pipescope: %s\n", e.what());
    }
  } else {
    const QString preset = options->preset.isEmpty() ? ps::gui::find_preset(QStringLiteral("default.json")) : options->preset;
    loaded = window.loadPreset(preset, options->overrides);
    if (!loaded) std::fprintf(stderr, "pipescope: %s\n", qPrintable(window.noticeText()));
    if (loaded && options->profile) {
      // Profile once the model is built; an autostarted run waits for it (the two would share the cores).
      auto* controller = window.controller();
      QObject::connect(controller, &ps::gui::SessionController::prepared, &window,
                       [&window] { window.requestProfile(/*again=*/false); }, Qt::SingleShotConnection);
      if (options->autostart) {
        auto once = std::make_shared<bool>(false);
        auto start = [&window, once] {
          if (std::exchange(*once, true)) return;
          window.startRun();
        };
        QObject::connect(window.profileRunner(), &ps::gui::ProfileRunner::finished, &window, start, Qt::SingleShotConnection);
        QObject::connect(window.profileRunner(), &ps::gui::ProfileRunner::failed, &window, start, Qt::SingleShotConnection);
      }
    } else if (loaded && options->autostart) {
      window.startRun();
    }
  }
  if (options->repartition) {
    const ps::gui::RepartitionRequest r = *options->repartition;
    QObject::connect(window.controller(), &ps::gui::SessionController::runStarted, &window,
                     [&window, r] { window.requestRepartition(r.boundaries, r.at_step); }, Qt::SingleShotConnection);
  }
  if (options->page >= 0) window.pages()->setCurrentIndex(options->page);
  if (!options->theme.isEmpty()) window.setDarkTheme(options->theme == QStringLiteral("dark"));
  if (options->zoom > 0) window.setFontScale(options->zoom, /*remember=*/false);  // this session only
  if (options->projector) window.setProjectorLayout(true);
  if (options->clock >= 0) window.pipelinePage()->timeline()->setClock(static_cast<ps::ui::TimelineClock>(options->clock));
  if (options->width > 0) window.resize(options->width, options->height);
  window.show();

  int exit_code = 0;
  auto take_screenshot = [&] {
    if (options->screenshot.isEmpty()) return;
    if (window.saveScreenshot(options->screenshot)) {
      std::printf("screenshot: %s\n", qPrintable(options->screenshot));
    } else {
      std::fprintf(stderr, "pipescope: %s: cannot write the screenshot\n", qPrintable(options->screenshot));
      exit_code = 1;
    }
    std::fflush(stdout);
  };
  const bool shot_before_quit = options->quit_after >= 0 && options->screenshot_after >= options->quit_after;
  if (!options->screenshot.isEmpty() && !shot_before_quit)
    QTimer::singleShot(static_cast<int>(options->screenshot_after * 1000), &window, take_screenshot);
  if (options->quit_after >= 0)
    QTimer::singleShot(static_cast<int>(options->quit_after * 1000), &window, [&] {
      if (shot_before_quit) take_screenshot();
      window.close();
      QApplication::exit(exit_code);
    });
  const int rc = app.exec();
  return rc != 0 ? rc : (exit_code != 0 ? exit_code : (loaded || options->quit_after < 0 ? 0 : 2));
}
