#include "app/gui/session_controller.h"

#include <exception>

namespace ps::gui {
namespace {

constexpr int kPollMs = 30;  // ~33 Hz: smooth enough to watch, cheap enough to never matter
constexpr auto kSummaryEvery = std::chrono::milliseconds(500);

bool has_ended(RunStatus s) {
  return s == RunStatus::Completed || s == RunStatus::Stopped || s == RunStatus::Diverged || s == RunStatus::Failed;
}

}  // namespace

SessionController::SessionController(QObject* parent) : QObject(parent) {
  timer_.setInterval(kPollMs);
  connect(&timer_, &QTimer::timeout, this, &SessionController::tick);
  timer_.start();
}

SessionController::~SessionController() {
  if (session_) session_->stop();
  for (auto& s : retiring_) s->stop();
  // Futures of sessions still being built wait here for their builds; the sessions then stop and join.
}

std::string SessionController::configKey(const RunConfig& config) {
  RunConfig c = config;
  c.source.clear();
  return preset_to_json(c);
}

const ModelInfo* SessionController::modelInfo() const { return session_ ? &session_->model_info() : nullptr; }
std::vector<int> SessionController::partition() const { return session_ ? session_->partition() : std::vector<int>{}; }

void SessionController::prepare(const RunConfig& config, bool start_when_ready, bool start_paused) {
  if (session_ && (phase_ == Phase::Running || phase_ == Phase::Stopping)) {
    // Replacing a live run (Reset): it ends as stopped and stays in the run list.
    session_->stop();
    run_->summary = session_->summary();
    run_->summary.status = RunStatus::Stopped;
    Q_EMIT runFinished(run_);
  }
  if (session_) retire(std::move(session_));
  Pending p;
  p.config = config;
  p.start = start_when_ready;
  p.paused = start_paused;
  p.generation = ++generation_;
  SessionOptions options;
  options.trace_path = traces_.isValid() ? traces_.filePath(QStringLiteral("run-%1.trace.json").arg(p.generation)).toStdString()
                                         : std::string();
  p.future = std::async(std::launch::async,
                        [config, options] { return std::make_unique<Session>(config, options); });
  pending_.push_back(std::move(p));
  phase_ = Phase::Preparing;
  status_ = RunStatus::Idle;
  Q_EMIT statusChanged(status_, true);
}

void SessionController::start(const RunConfig& config, bool paused) {
  if (phase_ == Phase::Running || phase_ == Phase::Stopping) return;
  if (phase_ == Phase::Preparing && !pending_.empty()) {
    Pending& latest = pending_.back();
    if (configKey(latest.config) == configKey(config)) {  // already being built: start when ready
      latest.start = true;
      latest.paused = paused;
      return;
    }
  }
  if (phase_ == Phase::Ready && configKey(config) == session_key_) {
    startPrepared(paused);
    return;
  }
  prepare(config, true, paused);
}

void SessionController::startPrepared(bool paused) {
  run_ = std::make_shared<ui::RunRecord>();
  ++runs_started_;
  const RunConfig& c = session_->config();
  run_->config = c;
  run_->config.partition = session_->partition();
  run_->config.stages = run_->config.num_stages();
  // Schedule and strategy have their own columns in the run list; the preset says which lesson it was.
  run_->name = c.name.empty() ? QStringLiteral("run %1").arg(runs_started_)
                              : QStringLiteral("run %1 · %2").arg(runs_started_).arg(QString::fromStdString(c.name));
  run_->trace_path = traces_.isValid() ? traces_.filePath(QStringLiteral("run-%1.trace.json").arg(generation_)) : QString();
  run_->summary.status = RunStatus::Running;
  if (paused) session_->pause();
  session_->set_op_delay(op_delay_);
  session_->start();
  phase_ = Phase::Running;
  last_summary_ = std::chrono::steady_clock::now();
  Q_EMIT runStarted(run_);
  setStatus(session_->status());
}

void SessionController::pause() {
  if (phase_ != Phase::Running) return;
  session_->pause();
  setStatus(session_->status());
}

void SessionController::resume() {
  if (phase_ != Phase::Running) return;
  session_->resume();
  setStatus(session_->status());
}

void SessionController::stepOps(int ops) {
  if (phase_ == Phase::Running && status_ == RunStatus::Paused && ops > 0) session_->step(ops);
}

void SessionController::stepMinibatch() {
  if (!session_) return;
  const RunConfig& c = session_->config();
  stepOps(c.num_stages() * (2 * c.microbatches + 1));  // M forwards, M backwards and an update per stage
}

void SessionController::stop() {
  if (phase_ != Phase::Running) return;
  session_->stop();
  phase_ = Phase::Stopping;
}

void SessionController::setOpDelay(std::chrono::microseconds delay) {
  op_delay_ = delay;
  if (session_) session_->set_op_delay(delay);
}

void SessionController::retire(std::unique_ptr<Session> session) {
  session->stop();
  retiring_.push_back(std::move(session));
}

void SessionController::setStatus(RunStatus status) {
  if (status == status_) return;
  status_ = status;
  Q_EMIT statusChanged(status_, phase_ == Phase::Preparing);
}

void SessionController::tick() {
  pollPrepares();
  if (phase_ == Phase::Running || phase_ == Phase::Stopping) pollRun();
  // Sessions that were stopped: free them once their threads have ended (never started: at once).
  for (auto it = retiring_.begin(); it != retiring_.end();) {
    const bool never_started = (*it)->status() == RunStatus::Idle;
    if (never_started || (*it)->wait_for(std::chrono::milliseconds(0)))
      it = retiring_.erase(it);
    else
      ++it;
  }
}

void SessionController::pollPrepares() {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ++it;
      continue;
    }
    Pending p = std::move(*it);
    it = pending_.erase(it);
    std::unique_ptr<Session> built;
    QString error;
    try {
      built = p.future.get();
    } catch (const std::exception& e) {
      error = QString::fromStdString(e.what());
    }
    if (p.generation != generation_) {  // superseded by a newer prepare
      if (built) retire(std::move(built));
      continue;
    }
    if (!built) {
      phase_ = Phase::Empty;
      status_ = RunStatus::Idle;
      Q_EMIT prepareFailed(error);
      Q_EMIT statusChanged(status_, false);
      continue;
    }
    session_ = std::move(built);
    RunConfig resolved = p.config;
    resolved.partition = session_->partition();
    resolved.stages = resolved.num_stages();
    session_key_ = configKey(resolved);
    phase_ = Phase::Ready;
    Q_EMIT prepared(session_->model_info(), session_->partition());
    Q_EMIT statusChanged(status_, false);
    if (p.start) startPrepared(p.paused);
  }
}

void SessionController::pollRun() {
  TelemetryBatch batch = session_->drain();
  if (!batch.empty()) {
    run_->append(batch);
    Q_EMIT telemetry(batch);
  }
  const RunStatus status = session_->status();
  const auto now = std::chrono::steady_clock::now();
  if (now - last_summary_ >= kSummaryEvery) {
    last_summary_ = now;
    run_->summary = session_->summary();
    Q_EMIT progressChanged(session_->progress());
    Q_EMIT summaryUpdated(run_);
  }
  if ((has_ended(status) || phase_ == Phase::Stopping) && session_->wait_for(std::chrono::milliseconds(0))) {
    finishRun();
    return;
  }
  setStatus(status);
}

void SessionController::finishRun() {
  TelemetryBatch last = session_->drain();
  if (!last.empty()) {
    run_->append(last);
    Q_EMIT telemetry(last);
  }
  run_->summary = session_->summary();
  phase_ = Phase::Finished;
  Q_EMIT progressChanged(session_->progress());
  setStatus(run_->summary.status);
  Q_EMIT runFinished(run_);
}

}  // namespace ps::gui
