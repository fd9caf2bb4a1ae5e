#include "app/gui/profile_runner.h"

#include <QDir>
#include <QFile>
#include <exception>

namespace ps::gui {
namespace {

constexpr int kPollMs = 50;

// Same units, parameter for parameter (a profile of another width of the same model is not this one).
bool same_units(const ModelProfile& p, const ModelInfo& model) {
  if (p.units.size() != model.units.size()) return false;
  for (std::size_t i = 0; i < p.units.size(); ++i) {
    const UnitProfile& u = p.units[i];
    const std::int64_t params = model.units[i].params;
    if (u.name != model.units[i].name) return false;
    if (params == 0 ? u.param_bytes != 0 : (u.param_bytes != 2 * params && u.param_bytes != 4 * params && u.param_bytes != 8 * params))
      return false;
  }
  return true;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ProfileRunner::ProfileRunner(QObject* parent) : QObject(parent) {
  timer_.setInterval(kPollMs);
  connect(&timer_, &QTimer::timeout, this, &ProfileRunner::poll);
}

ProfileRunner::~ProfileRunner() = default;  // std::future from std::async waits for its thread

bool ProfileRunner::start(const RunConfig& config, bool again) {
  if (busy()) return false;
  future_ = std::async(std::launch::async, [config, again] {
    ProfileOptions opts;
    opts.again = again;
    return profile_model(config, opts);
  });
  timer_.start();
  Q_EMIT started();
  return true;
}

void ProfileRunner::poll() {
  if (!future_.valid() || future_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
  timer_.stop();
  ModelProfile profile;
  QString error;
  try {
    profile = future_.get();
  } catch (const std::exception& e) {
    error = QString::fromStdString(e.what());
  }
  if (error.isEmpty()) Q_EMIT finished(profile);
  else Q_EMIT failed(error);
}

std::optional<ModelProfile> ProfileRunner::cached(const RunConfig& config, const ModelInfo& model, const std::string& dir) {
  // The cache names files by a key the engine keeps to itself: read the candidates and compare what the
  // key stands for (model and its units, data set, device, batch, microbatches, threads, optimizer).
  const QDir folder(QString::fromStdString(dir));
  if (!folder.exists()) return std::nullopt;
  for (const QString& name : folder.entryList({QStringLiteral("*.json")}, QDir::Files, QDir::Time)) {
    QFile file(folder.filePath(name));
    if (!file.open(QIODevice::ReadOnly) || file.size() > 16 * 1024 * 1024) continue;
    ModelProfile p;
    try {
      p = profile_from_json(file.readAll().toStdString(), file.fileName().toStdString());
    } catch (const std::exception&) {
      continue;  // unreadable: profile_model() measures again and overwrites it
    }
    // As profile_model() with the default options: only profiles whose times were taken in the engine.
    if (!p.measured || !p.in_engine || p.model != config.model.name || p.device != config.device || p.batch_size != config.batch_size ||
        p.microbatches != config.microbatches || p.threads != std::max(1, config.threads_per_stage))
      continue;
    if (!ends_with(p.key, "_" + config.optimizer.name) || p.key.find("_" + config.dataset.name + "_") == std::string::npos)
      continue;
    if (same_units(p, model)) return p;
  }
  return std::nullopt;
}

}  // namespace ps::gui
