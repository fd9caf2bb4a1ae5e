// The one bridge between the dashboard and the engine. It owns the ps::Session, builds it off the GUI
// thread, polls drain() on a timer (30-60 Hz, never a signal per event) and hands whole batches to the
// views. The GUI thread never waits on the engine: stopping asks, then the timer polls wait_for(0).
#pragma once
#include <QObject>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>
#include <QTimer>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <vector>

#include "engine/session/session.h"
#include "widgets/run_record.h"

namespace ps::dist {
class LocalRanks;
}

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

  // Checkpoints. Periodic ones (minutes > 0) go to checkpointDir()/<preset>-<time>.ckpt; the engine also
  // writes that file when such a run completes or is stopped. Applies to sessions prepared from now on.
  void setCheckpointEvery(double minutes);
  double checkpointEvery() const { return checkpoint_every_minutes_; }
  void setCheckpointDir(const QString& dir) { checkpoint_dir_ = dir; }
  QString checkpointDir() const;
  // Prepares a session that continues the run saved in `path` and starts it when ready. `config` must
  // be checkpoint_config(path) with at most the optimizer, the length, the executor or telemetry changed.
  void startFromCheckpoint(const RunConfig& config, const QString& path);
  // True when the current session's state is worth saving: running or paused, or ended completed/stopped.
  bool canSaveCheckpoint() const;
  // Asks the session to save its state to `path` (a running one at its next op boundary, an ended one at
  // once); checkpointSaved follows when the file is written. False (and `error`) when it cannot.
  bool saveCheckpoint(const QString& path, QString* error = nullptr);
  std::optional<CheckpointInfo> lastCheckpoint() const;  // of the current session

  // Live repartition (Session::repartition): while the run is running or paused, moves the stage
  // boundaries (same stage count) when the pipeline has drained the minibatches in flight, or when
  // `at_step` minibatches are complete (> 0). `repartitioned` follows when it takes effect. False (and
  // `error`, the engine's InputError text) when refused: no run, data-parallel replicas, a partition
  // that does not fit. Called on the GUI thread only, like everything here.
  bool repartition(const std::vector<int>& boundaries, QString* error = nullptr, std::int64_t at_step = -1);
  bool canRepartition() const;  // a run is running or paused and its schedule has stages
  std::optional<std::vector<int>> pendingPartition() const;  // requested, not yet in effect

  Phase phase() const { return phase_; }
  RunStatus status() const { return status_; }
  bool busy() const { return phase_ == Phase::Preparing; }
  const ModelInfo* modelInfo() const;
  std::vector<int> partition() const;  // in effect now
  std::shared_ptr<ui::RunRecord> currentRun() const { return run_; }
  int runsStarted() const { return runs_started_; }
  // Where "run N" takes its N (the run library numbers runs across sessions); default: runsStarted().
  void setRunNumbering(std::function<int()> next) { next_number_ = std::move(next); }
  // Time the current run has spent paused, on the monotonic clock (the summary's samples/s leaves it out).
  double pausedSeconds() const;
  // A run as processes (executor "processes"): the dashboard is rank 0 and starts the other ranks as
  // pipescope-cli processes, from $PIPESCOPE_CLI, else beside this program or in ../cli (the build tree).
  // "" when there is none. The ranks start only when such a run starts (a prepared session is threaded).
  static QString cliProgram();
  std::vector<qint64> rankPids() const;  // the current run's other ranks (none for threads)

 Q_SIGNALS:
  void prepared(const ps::ModelInfo& model, const std::vector<int>& partition);
  void prepareFailed(const QString& error);
  void runStarted(std::shared_ptr<ps::ui::RunRecord> run);
  void telemetry(const ps::TelemetryBatch& batch);
  void statusChanged(ps::RunStatus status, bool preparing);
  void summaryUpdated(std::shared_ptr<ps::ui::RunRecord> run);
  void runFinished(std::shared_ptr<ps::ui::RunRecord> run);
  void progressChanged(double fraction);
  void checkpointSaved(const QString& path, qint64 step);   // a checkpoint of the current session was written
  void resumeFailed(const QString& path, const QString& error);  // the session to resume could not be built
  // A repartition took effect (after `telemetry` delivered its mark); currentRun() already follows it.
  void repartitioned(const ps::RunMark& mark);

 private:
  struct Pending {
    std::future<std::unique_ptr<Session>> future;
    RunConfig config;
    bool start = false, paused = false;
    int generation = 0;
    std::string key;  // keyFor(config, checkpoint_minutes)
    double checkpoint_minutes = 0;
    QString resume_path;
    std::shared_ptr<dist::LocalRanks> ranks;  // a run as processes: ranks 1..N-1
  };
  void tick();
  void pollPrepares();
  void pollRun();
  void pollCheckpoint();
  void prepareWith(const RunConfig& config, bool start_when_ready, bool start_paused, const QString& resume_path);
  static std::string keyFor(const RunConfig& config, double checkpoint_minutes);  // configKey + options that matter
  void startPrepared(bool paused);
  void finishRun();
  void deliver(const TelemetryBatch& batch);  // to the run record and the views; repartition marks
  void retire(std::unique_ptr<Session> session);
  void setStatus(RunStatus status);
  void takeSummary();  // run_->summary from the session, samples/s held while paused
  static std::string configKey(const RunConfig& config);

  QTimer timer_;
  std::unique_ptr<Session> session_;
  std::string session_key_;  // configKey of what session_ was built from (partition resolved)
  std::vector<Pending> pending_;
  std::vector<std::unique_ptr<Session>> retiring_;  // stopped, waiting for their threads to end
  std::shared_ptr<dist::LocalRanks> ranks_;  // session_'s other ranks (a run as processes)
  // Ranks of ended runs: reaped once they exit, killed when they outlive their deadline.
  std::vector<std::pair<std::shared_ptr<dist::LocalRanks>, std::chrono::steady_clock::time_point>> retiring_ranks_;
  void retireRanks(std::shared_ptr<dist::LocalRanks> ranks, double timeout_seconds);
  QString startRanks(const RunConfig& config, const QString& resume_path, Pending& p, SessionOptions& options);
  void failPrepare(const QString& resume_path, const QString& error);  // nothing prepared: says why
  int generation_ = 0;
  Phase phase_ = Phase::Empty;
  RunStatus status_ = RunStatus::Idle;
  std::shared_ptr<ui::RunRecord> run_;
  std::chrono::microseconds op_delay_{0};
  std::chrono::steady_clock::time_point last_summary_;
  int runs_started_ = 0;
  QTemporaryDir traces_;  // each run's trace.json; exports copy from here
  double checkpoint_every_minutes_ = 0;
  QString checkpoint_dir_;
  std::optional<CheckpointInfo> checkpoint_seen_;  // the last one announced (or found at the start)
  QString ready_resume_path_;  // the checkpoint the prepared session continues ("" = a fresh run)
  std::function<int()> next_number_;
  // Pauses of the current run on the steady clock: the engine's samples/s divides by pipeline time, which
  // goes on while the workers wait; the dashboard's figure holds while paused and leaves pauses out.
  std::optional<std::chrono::steady_clock::time_point> paused_since_;
  std::chrono::steady_clock::duration paused_total_{};
  double held_rate_ = 0;
};

}  // namespace ps::gui
