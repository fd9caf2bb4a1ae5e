// The one bridge between the dashboard and the engine. It owns the ps::Session, builds it off the GUI
// thread, polls drain() on a timer (30-60 Hz, never a signal per event) and hands whole batches to the
// views. The GUI thread never waits on the engine: stopping asks, then the timer polls wait_for(0).
#pragma once
#include <QObject>
#include <QStringList>
#include <QTemporaryDir>
#include <QTimer>
#include <chrono>
#include <future>
#include <memory>
#include <vector>

#include "engine/session/session.h"
#include "widgets/run_record.h"

namespace ps::gui {

class SessionController : public QObject {
  Q_OBJECT
 public:
  enum class Phase { Empty, Preparing, Ready, Running, Stopping, Finished };

  explicit SessionController(QObject* parent = nullptr);
  ~SessionController() override;

  // Builds a session for `config` in the background (model, data, partition); `prepared` follows.
  void prepare(const RunConfig& config, bool start_when_ready = false, bool start_paused = false);
  // Starts the prepared session when it was built from `config`; otherwise prepares a fresh one first.
  void start(const RunConfig& config, bool paused = false);
  void pause();
  void resume();
  void stepOps(int ops);
  void stepMinibatch();  // the ops of one minibatch on every stage
  void stop();
  void setOpDelay(std::chrono::microseconds delay);
  void setPollInterval(int ms) { timer_.setInterval(ms); }

  Phase phase() const { return phase_; }
  RunStatus status() const { return status_; }
  bool busy() const { return phase_ == Phase::Preparing; }
  const ModelInfo* modelInfo() const;
  std::vector<int> partition() const;
  std::shared_ptr<ui::RunRecord> currentRun() const { return run_; }
  int runsStarted() const { return runs_started_; }

 Q_SIGNALS:
  void prepared(const ps::ModelInfo& model, const std::vector<int>& partition);
  void prepareFailed(const QString& error);
  void runStarted(std::shared_ptr<ps::ui::RunRecord> run);
  void telemetry(const ps::TelemetryBatch& batch);
  void statusChanged(ps::RunStatus status, bool preparing);
  void summaryUpdated(std::shared_ptr<ps::ui::RunRecord> run);
  void runFinished(std::shared_ptr<ps::ui::RunRecord> run);
  void progressChanged(double fraction);

 private:
  struct Pending {
    std::future<std::unique_ptr<Session>> future;
    RunConfig config;
    bool start = false, paused = false;
    int generation = 0;
  };
  void tick();
  void pollPrepares();
  void pollRun();
  void startPrepared(bool paused);
  void finishRun();
  void retire(std::unique_ptr<Session> session);
  void setStatus(RunStatus status);
  static std::string configKey(const RunConfig& config);

  QTimer timer_;
  std::unique_ptr<Session> session_;
  std::string session_key_;  // configKey of what session_ was built from (partition resolved)
  std::vector<Pending> pending_;
  std::vector<std::unique_ptr<Session>> retiring_;  // stopped, waiting for their threads to end
  int generation_ = 0;
  Phase phase_ = Phase::Empty;
  RunStatus status_ = RunStatus::Idle;
  std::shared_ptr<ui::RunRecord> run_;
  std::chrono::microseconds op_delay_{0};
  std::chrono::steady_clock::time_point last_summary_;
  int runs_started_ = 0;
  QTemporaryDir traces_;  // each run's trace.json; exports copy from here
};

}  // namespace ps::gui
