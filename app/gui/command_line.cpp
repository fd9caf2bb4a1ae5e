#include "app/gui/command_line.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

namespace ps::gui {

std::optional<GuiOptions> parse_gui_options(const QStringList& arguments, QString* error) {
  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("PipeScope: watch pipeline-parallel training and weight staleness."));
  parser.addHelpOption();
  parser.addVersionOption();
  const QCommandLineOption preset(QStringLiteral("preset"), QStringLiteral("Open this preset (JSON)."), QStringLiteral("FILE"));
  const QCommandLineOption resume(QStringLiteral("resume"),
                                QStringLiteral("Continue the run saved in this checkpoint (starts at once)."),
                                QStringLiteral("CHECKPOINT"));
  const QCommandLineOption set(QStringLiteral("set"),
                               QStringLiteral("Override a setting, e.g. optimizer.lr=0.01 (repeatable). With --resume "
                                              "only the optimizer and steps may change."),
                               QStringLiteral("FIELD=VALUE"));
  const QCommandLineOption autostart(QStringLiteral("autostart"), QStringLiteral("Start the run at once."));
  const QCommandLineOption screenshot(QStringLiteral("screenshot"), QStringLiteral("Save a PNG of the main window."),
                                      QStringLiteral("FILE.png"));
  const QCommandLineOption screenshot_after(QStringLiteral("screenshot-after"),
                                            QStringLiteral("Seconds before the screenshot (default 3)."), QStringLiteral("SECONDS"));
  const QCommandLineOption quit_after(QStringLiteral("quit-after"), QStringLiteral("Quit after this many seconds."),
                                      QStringLiteral("SECONDS"));
  const QCommandLineOption bench(QStringLiteral("bench"),
                                 QStringLiteral("Print timeline paint times and event-loop latency, then exit."));
  const QCommandLineOption bench_preset(QStringLiteral("bench-preset"),
                                        QStringLiteral("Preset for the event-loop benchmark (default presets/tiny.json)."),
                                        QStringLiteral("FILE"));
  const QCommandLineOption page(QStringLiteral("page"), QStringLiteral("Page to show: pipeline, versions, curves or compare."),
                                QStringLiteral("NAME"));
  const QCommandLineOption theme(QStringLiteral("theme"), QStringLiteral("light or dark."), QStringLiteral("NAME"));
  const QCommandLineOption zoom(QStringLiteral("zoom"), QStringLiteral("Text size factor, 0.7 to 3 (projectors: 1.5)."),
                                QStringLiteral("FACTOR"));
  const QCommandLineOption repartition(
      QStringLiteral("repartition"),
      QStringLiteral("Once the run has started, move its stage boundaries to B1,B2,... when STEP minibatches are "
                     "complete (live repartition; same stage count)."),
      QStringLiteral("STEP:B1,B2,..."));
  const QCommandLineOption profile(QStringLiteral("profile"),
                                   QStringLiteral("Profile the model (cached) once it is built, so Auto-balance and the "
                                                  "predicted timeline use measured times; --autostart waits for it."));
  const QCommandLineOption runs_dir(
      QStringLiteral("runs-dir"),
      QStringLiteral("Keep the run library in DIR (default: the user's data folder; with --quit-after and no "
                     "--runs-dir, scripted runs are not kept)."),
      QStringLiteral("DIR"));
  const QCommandLineOption open_run(QStringLiteral("open-run"),
                                    QStringLiteral("Import a run folder (pipescope-cli run --out DIR) into the run library "
                                                   "and show the compare page (repeatable)."),
                                    QStringLiteral("DIR"));
  const QCommandLineOption clock(QStringLiteral("clock"),
                                 QStringLiteral("The timeline's x axis: wall, compute (time) or slots (op slots)."),
                                 QStringLiteral("NAME"));
  const QCommandLineOption projector(QStringLiteral("projector"),
                                     QStringLiteral("Start in the projector layout (the docks hidden, View > Projector layout)."));
  const QCommandLineOption size(QStringLiteral("size"), QStringLiteral("Window size, e.g. 1280x720."), QStringLiteral("WxH"));
  parser.addOptions({preset, resume, set, autostart, screenshot, screenshot_after, quit_after, page, theme, zoom, bench,
                     bench_preset, repartition, profile, runs_dir, open_run, clock, projector, size});
  if (!parser.parse(arguments)) {
    *error = parser.errorText();
    return std::nullopt;
  }
  if (parser.isSet(QStringLiteral("help"))) parser.showHelp(0);
  if (parser.isSet(QStringLiteral("version"))) parser.showVersion();
  if (!parser.positionalArguments().isEmpty()) {
    *error = QStringLiteral("unexpected argument '%1' (a preset is given with --preset FILE)").arg(parser.positionalArguments().first());
    return std::nullopt;
  }
  GuiOptions o;
  o.preset = parser.value(preset);
  o.resume = parser.value(resume);
  o.overrides = parser.values(set);
  if (!o.preset.isEmpty() && !o.resume.isEmpty()) {
    *error = QStringLiteral("give either --preset or --resume (a checkpoint holds its run's settings)");
    return std::nullopt;
  }
  for (const QString& kv : o.overrides)
    if (!kv.contains(QLatin1Char('=')) || kv.startsWith(QLatin1Char('='))) {
      *error = QStringLiteral("--set: expected FIELD=VALUE, got '%1'").arg(kv);
      return std::nullopt;
    }
  o.autostart = parser.isSet(autostart);
  o.profile = parser.isSet(profile);
  if (parser.isSet(repartition)) {
    const QString value = parser.value(repartition);
    const auto bad = [&](const QString& why) {
      *error = QStringLiteral("--repartition: expected STEP:B1,B2,... (%1), got '%2'").arg(why, value);
      return std::nullopt;
    };
    const int colon = static_cast<int>(value.indexOf(QLatin1Char(':')));
    if (colon < 0) return bad(QStringLiteral("no ':'"));
    bool ok = false;
    RepartitionRequest r;
    r.at_step = value.left(colon).toLongLong(&ok);
    if (!ok || r.at_step < 1) return bad(QStringLiteral("STEP is a number of minibatches >= 1"));
    for (const QString& b : value.mid(colon + 1).split(QLatin1Char(','))) {
      const int unit = b.trimmed().toInt(&ok);
      if (!ok || unit < 1 || (!r.boundaries.empty() && unit <= r.boundaries.back()))
        return bad(QStringLiteral("boundaries are increasing layer units >= 1"));
      r.boundaries.push_back(unit);
    }
    o.repartition = r;
  }
  o.screenshot = parser.value(screenshot);
  o.bench = parser.isSet(bench);
  o.bench_preset = parser.value(bench_preset);
  if (parser.isSet(theme)) {
    o.theme = parser.value(theme);
    if (o.theme != QStringLiteral("light") && o.theme != QStringLiteral("dark")) {
      *error = QStringLiteral("--theme: expected light or dark, got '%1'").arg(o.theme);
      return std::nullopt;
    }
  }
  if (parser.isSet(zoom)) {
    bool ok = false;
    o.zoom = parser.value(zoom).toDouble(&ok);
    if (!ok || o.zoom < 0.7 || o.zoom > 3) {
      *error = QStringLiteral("--zoom: expected a factor from 0.7 to 3, got '%1'").arg(parser.value(zoom));
      return std::nullopt;
    }
  }
  o.projector = parser.isSet(projector);
  if (parser.isSet(clock)) {
    const QStringList clocks{QStringLiteral("wall"), QStringLiteral("compute"), QStringLiteral("slots")};
    o.clock = static_cast<int>(clocks.indexOf(parser.value(clock)));
    if (o.clock < 0) {
      *error = QStringLiteral("--clock: expected one of %1, got '%2'").arg(clocks.join(QStringLiteral(", ")), parser.value(clock));
      return std::nullopt;
    }
  }
  if (parser.isSet(size)) {
    const QStringList wh = parser.value(size).split(QLatin1Char('x'));
    bool ok_w = false, ok_h = false;
    if (wh.size() == 2) o.width = wh[0].toInt(&ok_w), o.height = wh[1].toInt(&ok_h);
    if (!ok_w || !ok_h || o.width < 320 || o.height < 240) {
      *error = QStringLiteral("--size: expected WIDTHxHEIGHT of at least 320x240, got '%1'").arg(parser.value(size));
      return std::nullopt;
    }
  }
  if (parser.isSet(page)) {
    const QStringList pages{QStringLiteral("pipeline"), QStringLiteral("versions"), QStringLiteral("curves"),
                            QStringLiteral("compare")};
    o.page = static_cast<int>(pages.indexOf(parser.value(page)));
    if (o.page < 0) {
      *error = QStringLiteral("--page: expected one of %1, got '%2'").arg(pages.join(QStringLiteral(", ")), parser.value(page));
      return std::nullopt;
    }
  }
  auto seconds = [&](const QCommandLineOption& opt, double fallback, double* out) {
    if (!parser.isSet(opt)) return *out = fallback, true;
    bool ok = false;
    *out = parser.value(opt).toDouble(&ok);
    if (!ok || *out < 0) {
      *error = QStringLiteral("--%1: expected a number of seconds >= 0, got '%2'").arg(opt.names().first(), parser.value(opt));
      return false;
    }
    return true;
  };
  if (!seconds(screenshot_after, 3, &o.screenshot_after) || !seconds(quit_after, -1, &o.quit_after)) return std::nullopt;
  o.runs_dir = parser.value(runs_dir);
  for (const QString& dir : parser.values(open_run)) {
    if (!QFileInfo::exists(QDir(dir).filePath(QStringLiteral("summary.json"))) &&
        !(QFileInfo(dir).fileName() == QStringLiteral("summary.json") && QFileInfo::exists(dir))) {
      *error = QStringLiteral("--open-run: %1 has no summary.json (expected what pipescope-cli run --out DIR writes)").arg(dir);
      return std::nullopt;
    }
    o.open_runs << dir;
  }
  return o;
}

QString find_preset(const QString& name) {
#ifdef PIPESCOPE_SOURCE_DIR
  const QString from_source = QDir(QStringLiteral(PIPESCOPE_SOURCE_DIR)).filePath(QStringLiteral("presets/") + name);
  if (QFileInfo::exists(from_source)) return from_source;
#endif
  const QDir exe(QCoreApplication::applicationDirPath());
  for (const QString& candidate : {exe.filePath(QStringLiteral("presets/") + name),
                                   exe.filePath(QStringLiteral("../share/pipescope/presets/") + name)})
    if (QFileInfo::exists(candidate)) return candidate;
  return exe.filePath(QStringLiteral("presets/") + name);  // named in the error when it does not exist
}

}  // namespace ps::gui
