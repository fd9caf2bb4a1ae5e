#include "widgets/run_library.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QObject>
#include <QSaveFile>
#include <QStandardPaths>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/telemetry/outputs.h"
#include "engine/telemetry/run_meta.h"

namespace ps::ui {
namespace {

using Json = nlohmann::json;

bool fail(QString* error, const QString& text) {
  if (error) *error = text;
  return false;
}

bool read_file(const QString& path, std::string* out, QString* error) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return fail(error, QObject::tr("%1: cannot open (%2)").arg(path, f.errorString()));
  const QByteArray bytes = f.readAll();
  *out = bytes.toStdString();
  return true;
}

bool save_file(const QString& path, const std::string& text, QString* error) {
  QSaveFile f(path);  // a reader never sees half a file
  if (!f.open(QIODevice::WriteOnly) || f.write(text.data(), qint64(text.size())) != qint64(text.size()) || !f.commit())
    return fail(error, QObject::tr("%1: cannot write (%2)").arg(path, f.errorString()));
  return true;
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, sep)) out.push_back(cell);
  if (!line.empty() && line.back() == sep) out.emplace_back();
  return out;
}

QString folder_of(const QString& path) {
  const QFileInfo info(path);
  return info.isDir() ? info.absoluteFilePath() : info.absolutePath();
}

}  // namespace

RunConfig config_from_summary(const RunSummary& s) {
  RunConfig c;
  c.model.name = s.model;
  c.dataset.name = s.dataset;
  c.schedule = s.schedule;
  c.strategy.name = s.strategy;
  c.stages = std::max(1, s.stages);
  c.chunks = s.chunks > 1 ? s.chunks : 0;
  c.microbatches = std::max(1, s.microbatches);
  c.steps = s.steps;
  if (s.steps > 0 && s.samples > 0) c.batch_size = static_cast<int>(s.samples / s.steps);
  // per_stage lists every chunk in pipeline order: the first unit of each after the first is the partition.
  // (Data-parallel replicas all start at unit 0: no partition.)
  if (s.per_stage.size() > 1 && s.chunks <= 1 && s.per_stage.size() == std::size_t(c.stages)) {
    for (std::size_t k = 1; k < s.per_stage.size(); ++k) {
      if (s.per_stage[k].first_layer <= s.per_stage[k - 1].first_layer) {
        c.partition.clear();
        break;
      }
      c.partition.push_back(s.per_stage[k].first_layer);
    }
  }
  return c;
}

bool known_from_summary(const std::string& p) {
  for (const char* known : {"/model/name", "/dataset/name", "/schedule", "/strategy/name", "/stages", "/chunks",
                            "/microbatches", "/steps", "/batch_size"})
    if (p == known) return true;
  return p.rfind("/partition", 0) == 0;
}

bool parse_metrics_csv(const std::string& text, const QString& source, std::vector<StepMetrics>* steps,
                       std::vector<EvalMetrics>* evals, QString* error) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line)) return fail(error, QObject::tr("%1: empty file, expected the header").arg(source));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::map<std::string, std::size_t> col;
  const auto header = split(line, ',');
  for (std::size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  for (const char* need : {"step", "epoch", "samples", "train_loss", "train_acc", "lr", "samples_per_second",
                           "wall_seconds", "test_loss", "test_accuracy"})
    if (!col.count(need))
      return fail(error, QObject::tr("%1: the header has no column '%2' (is it a PipeScope metrics.csv?)").arg(source, need));
  int line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto cells = split(line, ',');
    QString bad;
    auto cell = [&](const char* name) -> std::string {
      const std::size_t i = col[name];
      return i < cells.size() ? cells[i] : std::string();
    };
    auto number = [&](const char* name) -> double {
      const std::string c = cell(name);
      if (c.empty()) return 0;
      errno = 0;
      char* end = nullptr;
      const double v = std::strtod(c.c_str(), &end);  // "nan" and "inf" too: how they were written
      if (end != c.c_str() + c.size() && bad.isEmpty()) bad = QString::fromLatin1(name);
      return v;
    };
    const bool eval_row = cell("train_loss").empty() && !cell("test_loss").empty();
    if (eval_row) {
      EvalMetrics e;
      e.step = std::int64_t(number("step"));
      e.epoch = int(number("epoch"));
      e.wall_seconds = number("wall_seconds");
      e.test_loss = number("test_loss");
      e.test_accuracy = number("test_accuracy");
      if (bad.isEmpty()) evals->push_back(e);
    } else {
      StepMetrics m;
      m.step = std::int64_t(number("step"));
      m.epoch = int(number("epoch"));
      m.samples = std::int64_t(number("samples"));
      m.train_loss = number("train_loss");
      m.train_acc = number("train_acc");
      m.lr = number("lr");
      m.samples_per_second = number("samples_per_second");
      m.wall_seconds = number("wall_seconds");
      if (bad.isEmpty()) steps->push_back(m);
    }
    if (!bad.isEmpty())
      return fail(error, QObject::tr("%1: line %2, column %3: not a number").arg(source).arg(line_no).arg(bad));
  }
  return true;
}

std::string metrics_csv_text(const RunRecord& run) {
  std::string out = std::string(MetricsCsvWriter::header()) + "\n";
  std::size_t i = 0, j = 0;
  while (i < run.steps.size() || j < run.evals.size()) {
    const bool step_next = j == run.evals.size() || (i < run.steps.size() && run.steps[i].step <= run.evals[j].step);
    out += step_next ? MetricsCsvWriter::row(run.steps[i++]) : MetricsCsvWriter::row(run.evals[j++]);
  }
  return out;
}

std::shared_ptr<RunRecord> read_run_folder(const QString& path, QString* error) {
  const QDir dir(folder_of(path));
  const QString summary_path = dir.filePath(QStringLiteral("summary.json"));
  if (!QFileInfo::exists(summary_path)) {
    fail(error, QObject::tr("%1: no summary.json here (a run folder is what pipescope-cli run --out DIR writes)")
                    .arg(QDir::toNativeSeparators(dir.absolutePath())));
    return nullptr;
  }
  auto run = std::make_shared<RunRecord>();
  std::string text;
  if (!read_file(summary_path, &text, error)) return nullptr;
  try {
    run->summary = summary_from_json(text, summary_path.toStdString());
  } catch (const std::exception& e) {
    fail(error, QString::fromStdString(e.what()));
    return nullptr;
  }
  const QString metrics_path = dir.filePath(QStringLiteral("metrics.csv"));
  if (QFileInfo::exists(metrics_path)) {
    if (!read_file(metrics_path, &text, error)) return nullptr;
    if (!parse_metrics_csv(text, metrics_path, &run->steps, &run->evals, error)) return nullptr;
  }
  const QString config_path = dir.filePath(QStringLiteral("config.json"));
  run->partial_config = true;
  run->config = config_from_summary(run->summary);
  if (QFileInfo::exists(config_path) && read_file(config_path, &text, error)) {
    try {
      run->config = parse_preset(text, config_path.toStdString());
      run->partial_config = false;
    } catch (const std::exception&) {
      // Settings this build no longer accepts (a moved data set, a retired field): the figures still
      // stand; the settings summary.json records are the ones compared.
    }
  }
  run->config.source.clear();
  const QString meta_path = dir.filePath(QStringLiteral("run.json"));
  if (QFileInfo::exists(meta_path)) {
    if (!read_file(meta_path, &text, error)) return nullptr;
    try {
      const Json j = Json::parse(text);
      if (!j.is_object()) throw std::runtime_error("expected a JSON object");
      run->number = j.value("number", 0);
      run->name = QString::fromStdString(j.value("name", std::string()));
      run->custom_name = j.value("custom_name", false);
      run->origin = QString::fromStdString(j.value("origin", std::string()));
      run->created = QString::fromStdString(j.value("created", std::string()));
      if (j.contains("resumed_from") && j["resumed_from"].is_string())
        run->resumed_from = QString::fromStdString(j["resumed_from"].get<std::string>());
      if (j.contains("repartitions") && j["repartitions"].is_array())
        for (const Json& m : j["repartitions"]) run->marks.push_back(mark_from_json(m));
    } catch (const std::exception& e) {
      fail(error, QObject::tr("%1: %2").arg(meta_path, QString::fromUtf8(e.what())));
      return nullptr;
    }
  }
  if (run->created.isEmpty())
    run->created = QFileInfo(summary_path).lastModified().toUTC().toString(Qt::ISODate);
  return run;
}

bool write_run_folder(const RunRecord& run, const QString& path, QString* error) {
  if (!QDir().mkpath(path)) return fail(error, QObject::tr("%1: cannot create the folder").arg(path));
  const QDir dir(path);
  nlohmann::ordered_json meta;
  meta["number"] = run.number;
  meta["name"] = run.name.toStdString();
  meta["custom_name"] = run.custom_name;
  meta.update(run_meta_json(run.origin.toStdString(), run.created.toStdString(), run.resumed_from.toStdString(), run.marks));
  if (!save_file(dir.filePath(QStringLiteral("summary.json")), summary_to_json(run.summary), error)) return false;
  if (!save_file(dir.filePath(QStringLiteral("metrics.csv")), metrics_csv_text(run), error)) return false;
  if (!run.partial_config && !save_file(dir.filePath(QStringLiteral("config.json")), preset_to_json(run.config), error))
    return false;
  return save_file(dir.filePath(QStringLiteral("run.json")), meta.dump(2) + "\n", error);
}

RunLibrary::RunLibrary(QString root) : root_(std::move(root)) {}

QString RunLibrary::defaultRoot() {
  const QString env = qEnvironmentVariable("PIPESCOPE_RUNS_DIR");
  if (!env.isEmpty()) return env;
  if (QStandardPaths::isTestModeEnabled()) return {};  // tests choose their own folder
  return QDir(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)).filePath(QStringLiteral("runs"));
}

std::vector<std::shared_ptr<RunRecord>> RunLibrary::load(QStringList* errors) {
  std::vector<std::shared_ptr<RunRecord>> out;
  if (!enabled()) return out;
  const QDir dir(root_);
  for (const QString& id : dir.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name)) {
    QString error;
    auto run = read_run_folder(dir.filePath(id), &error);
    if (!run) {
      if (errors) *errors << error;
      continue;
    }
    run->id = id;
    const RunStatus s = run->summary.status;
    if (s == RunStatus::Running || s == RunStatus::Paused || s == RunStatus::Idle) run->summary.status = RunStatus::Stopped;
    if (run->name.isEmpty()) run->name = QObject::tr("run %1").arg(run->number);
    max_number_ = std::max(max_number_, run->number);
    out.push_back(std::move(run));
  }
  // In the order they joined the library (their numbers); folders without a number last, by date.
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    const bool na = a->number > 0, nb = b->number > 0;
    if (na != nb) return na;
    return na ? a->number < b->number : a->created < b->created;
  });
  for (const auto& run : out)  // folders from elsewhere without a number get one
    if (run->number == 0) {
      run->number = ++max_number_;
      run->name = QObject::tr("run %1").arg(run->number);
    }
  return out;
}

int RunLibrary::nextNumber() { return ++max_number_; }

QString RunLibrary::newId(int number) const {
  const QString stamp = QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMdd-HHmmss"));
  QString id = QStringLiteral("%1-run%2").arg(stamp).arg(number);
  for (int k = 2; QFileInfo::exists(QDir(root_).filePath(id)); ++k) id = QStringLiteral("%1-run%2-%3").arg(stamp).arg(number).arg(k);
  return id;
}

bool RunLibrary::store(RunRecord& run, QString* error) {
  if (!enabled() || run.discarded) return true;
  if (run.number == 0) run.number = nextNumber();
  max_number_ = std::max(max_number_, run.number);
  if (run.created.isEmpty()) run.created = QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
  if (run.id.isEmpty()) run.id = newId(run.number);
  return write_run_folder(run, QDir(root_).filePath(run.id), error);
}

std::shared_ptr<RunRecord> RunLibrary::import(const QString& path, QString* error) {
  auto run = read_run_folder(path, error);
  if (!run) return nullptr;
  run->origin = folder_of(path);
  run->id.clear();
  run->number = nextNumber();
  run->custom_name = false;
  const std::string preset = run->config.name;
  run->name = preset.empty() ? QObject::tr("run %1").arg(run->number)
                             : QObject::tr("run %1 · %2").arg(run->number).arg(QString::fromStdString(preset));
  if (!store(*run, error)) return nullptr;
  return run;
}

bool RunLibrary::remove(const RunRecord& run, QString* error) {
  if (!enabled() || run.id.isEmpty()) return true;
  QDir dir(QDir(root_).filePath(run.id));
  if (!dir.exists()) return true;
  if (!dir.removeRecursively()) return fail(error, QObject::tr("%1: cannot delete the folder").arg(dir.absolutePath()));
  return true;
}

}  // namespace ps::ui
