// Model profiles for the dashboard: measures one (ps::profile_model, LibTorch, seconds) on a worker
// thread without blocking the GUI thread, and finds a cached one for a run's settings at once.
#pragma once
#include <QObject>
#include <QString>
#include <QTimer>
#include <future>
#include <optional>
#include <string>

#include "engine/config/run_config.h"
#include "engine/models/model_info.h"
#include "engine/planner/profiler.h"

namespace ps::gui {

class ProfileRunner : public QObject {
  Q_OBJECT
 public:
  explicit ProfileRunner(QObject* parent = nullptr);
  ~ProfileRunner() override;  // a profile in progress is waited for (it cannot be interrupted)

  // Profiles `config`'s model on its device and batch size in the background, through the cache: a
  // cached profile returns at once, a new one is saved; `again` measures one more even when one is
  // cached, and gives the median of the config's last ones (ProfileOptions::again). `finished` or
  // `failed` follows on the GUI thread. False (nothing started) while one is in progress.
  bool start(const RunConfig& config, bool again = false);
  bool busy() const { return future_.valid(); }

  // A measured profile of `model` for `config` (device, batch size, microbatches, threads, optimizer)
  // from the profile cache, without measuring anything; nullopt when there is none.
  static std::optional<ModelProfile> cached(const RunConfig& config, const ModelInfo& model,
                                            const std::string& dir = profile_cache_dir());

 Q_SIGNALS:
  void started();
  void finished(const ps::ModelProfile& profile);
  void failed(const QString& error);

 private:
  void poll();

  std::future<ModelProfile> future_;
  QTimer timer_;
};

}  // namespace ps::gui
