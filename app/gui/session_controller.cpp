#include "app/gui/session_controller.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QStandardPaths>
#include <algorithm>
#include <exception>

#include "engine/dist/launcher.h"
#include "engine/schedule/schedule.h"
#include "engine/telemetry/text_file.h"

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
  // The ranks' LocalRanks reap their processes (bounded; what is left is killed).
}

QString SessionController::cliProgram() {
  const QString env = qEnvironmentVariable("PIPESCOPE_CLI");
  if (!env.isEmpty()) return QFileInfo(env).isExecutable() ? QFileInfo(env).absoluteFilePath() : QString();
  const QDir here(QCoreApplication::applicationDirPath());
  for (const QString& candidate : {here.filePath(QStringLiteral("pipescope-cli")), here.filePath(QStringLiteral("../cli/pipescope-cli"))}) {
    const QFileInfo f(candidate);
    if (f.isFile() && f.isExecutable()) return f.canonicalFilePath();
  }
  return {};
}

std::vector<qint64> SessionController::rankPids() const {
  std::vector<qint64> out;
  if (ranks_)
    for (const pid_t pid : ranks_->pids()) out.push_back(pid);
  return out;
}

void SessionController::retireRanks(std::shared_ptr<dist::LocalRanks> ranks, double timeout_seconds) {
  if (!ranks) return;
  // The ranks end by themselves once rank 0 has ended (the run's end handshake, or its stop): a bound
  // beyond the run's own waits, then they are killed.
  retiring_ranks_.emplace_back(std::move(ranks), std::chrono::steady_clock::now() +
                                                     std::chrono::milliseconds(static_cast<std::int64_t>((timeout_seconds + 5) * 1000)));
}

std::string SessionController::configKey(const RunConfig& config) {
  RunConfig c = config;
  c.source.clear();
  return preset_to_json(c);
}

const ModelInfo* SessionController::modelInfo() const { return session_ ? &session_->model_info() : nullptr; }
std::vector<int> SessionController::partition() const { return session_ ? session_->partition() : std::vector<int>{}; }

std::string SessionController::keyFor(const RunConfig& config, double checkpoint_minutes) {
  return configKey(config) + "\ncheckpoint every " + std::to_string(checkpoint_minutes);
}

void SessionController::setCheckpointEvery(double minutes) { checkpoint_every_minutes_ = std::max(0.0, minutes); }

QString SessionController::checkpointDir() const {
  if (!checkpoint_dir_.isEmpty()) return checkpoint_dir_;
  return QDir(QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation)).filePath(QStringLiteral("checkpoints"));
}

void SessionController::prepare(const RunConfig& config, bool start_when_ready, bool start_paused) {
  prepareWith(config, start_when_ready, start_paused, QString());
}

void SessionController::startFromCheckpoint(const RunConfig& config, const QString& path) {
  prepareWith(config, true, false, path);
}

bool SessionController::canSaveCheckpoint() const {
  if (!session_) return false;
  if (phase_ == Phase::Running) return status_ == RunStatus::Running || status_ == RunStatus::Paused;
  return phase_ == Phase::Finished && (status_ == RunStatus::Completed || status_ == RunStatus::Stopped);
}

bool SessionController::saveCheckpoint(const QString& path, QString* error) {
  auto fail = [error](const QString& e) {
    if (error) *error = e;
    return false;
  };
  if (!canSaveCheckpoint())
    return fail(status_ == RunStatus::Diverged || status_ == RunStatus::Failed
                    ? tr("The run %1: its state is not worth saving (resume from its last checkpoint instead).")
                          .arg(QString::fromStdString(to_string(status_)))
                    : tr("There is no run to save: start one first."));
  if (path.isEmpty()) return fail(tr("No checkpoint file was given."));
  const QFileInfo info(path);
  if (!info.absoluteDir().exists() && !QDir().mkpath(info.absolutePath()))
    return fail(tr("%1: cannot create the folder").arg(info.absolutePath()));
  try {
    session_->save_checkpoint(path.toStdString());
  } catch (const std::exception& e) {
    return fail(QString::fromStdString(e.what()));
  }
  pollCheckpoint();  // an ended run saves at once
  return true;
}

bool SessionController::canRepartition() const {
  if (!session_ || phase_ != Phase::Running) return false;
  if (status_ != RunStatus::Running && status_ != RunStatus::Paused) return false;
  return !schedule_info(session_->config().schedule).replicas;
}

bool SessionController::repartition(const std::vector<int>& boundaries, QString* error, std::int64_t at_step) {
  auto fail = [error](const QString& e) {
    if (error) *error = e;
    return false;
  };
  if (!session_ || phase_ != Phase::Running) return fail(tr("There is no run to repartition: start one first."));
  if (schedule_info(session_->config().schedule).replicas)
    return fail(tr("A data-parallel run has whole-model replicas, not stages: there is nothing to repartition."));
  try {
    session_->repartition(boundaries, at_step);
  } catch (const std::exception& e) {
    return fail(QString::fromStdString(e.what()));
  }
  return true;
}

std::optional<std::vector<int>> SessionController::pendingPartition() const {
  return session_ ? session_->pending_partition() : std::nullopt;
}

std::optional<CheckpointInfo> SessionController::lastCheckpoint() const {
  return session_ ? session_->last_checkpoint() : std::nullopt;
}

void SessionController::pollCheckpoint() {
  if (!session_) return;
  const auto now = session_->last_checkpoint();
  if (!now) return;
  if (checkpoint_seen_ && checkpoint_seen_->path == now->path && checkpoint_seen_->step == now->step &&
      checkpoint_seen_->wall_seconds == now->wall_seconds)
    return;
  checkpoint_seen_ = now;
  Q_EMIT checkpointSaved(QString::fromStdString(now->path), static_cast<qint64>(now->step));
}

void SessionController::prepareWith(const RunConfig& config, bool start_when_ready, bool start_paused,
                                    const QString& resume_path) {
  if (session_ && (phase_ == Phase::Running || phase_ == Phase::Stopping)) {
    // Replacing a live run (Reset): it ends as stopped and stays in the run list.
    session_->stop();
    takeSummary();
    run_->summary.status = RunStatus::Stopped;
    Q_EMIT runFinished(run_);
  }
  if (session_) retire(std::move(session_));
  retireRanks(std::move(ranks_), config.processes_timeout_seconds);
  Pending p;
  p.config = config;
  p.start = start_when_ready;
  p.paused = start_paused;
  p.generation = ++generation_;
  p.key = keyFor(config, checkpoint_every_minutes_);
  p.checkpoint_minutes = checkpoint_every_minutes_;
  p.resume_path = resume_path;
  SessionOptions options;
  options.trace_path = traces_.isValid() ? traces_.filePath(QStringLiteral("run-%1.trace.json").arg(p.generation)).toStdString()
                                         : std::string();
  options.resume_path = resume_path.toStdString();
  if (checkpoint_every_minutes_ > 0) {
    QString name = QString::fromStdString(config.name.empty() ? std::string("run") : config.name);
    name.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9._-]+")), QStringLiteral("-"));
    const QString stamp = QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-hhmmss"));
    QDir().mkpath(checkpointDir());
    options.checkpoint_path =
        QDir(checkpointDir()).filePath(QStringLiteral("%1-%2-%3.ckpt").arg(name, stamp).arg(p.generation)).toStdString();
    options.checkpoint_every_minutes = checkpoint_every_minutes_;
  }
  RunConfig built = config;
  if (config.executor == "processes") {
    if (!start_when_ready && resume_path.isEmpty()) {
      // The ranks start only when the run starts (they would time out waiting for a Start that may never
      // come): the prepared session only shows the model and its partition, threaded. Start then builds
      // the processes' session, its key being another.
      built.executor = "threaded";
      p.config = built;
      p.key = keyFor(built, checkpoint_every_minutes_);
    } else {
      // Periodic checkpoints need a coordinated pause the ranks do not have yet; the end-of-run one works.
      options.checkpoint_every_minutes = 0;
      const QString error = startRanks(config, resume_path, p, options);
      if (!error.isEmpty()) return failPrepare(resume_path, error);
    }
  }
  p.future = std::async(std::launch::async, [built, options] { return std::make_unique<Session>(built, options); });
  pending_.push_back(std::move(p));
  phase_ = Phase::Preparing;
  status_ = RunStatus::Idle;
  Q_EMIT statusChanged(status_, true);
}

// A run as processes: the dashboard is rank 0; ranks 1..N-1 are pipescope-cli processes started here, on
// the GUI thread (a child dies with the thread that forked it), reading the same settings from a preset
// file (the rendezvous compares every field). "" when they started, else why not.
QString SessionController::startRanks(const RunConfig& config, const QString& resume_path, Pending& p,
                                      SessionOptions& options) {
  const QString cli = cliProgram();
  if (cli.isEmpty())
    return tr("A run as processes starts pipescope-cli for its other ranks, and there is none beside the dashboard "
              "(%1) or in $PIPESCOPE_CLI.").arg(QDir::toNativeSeparators(QCoreApplication::applicationDirPath()));
  try {
    const std::string preset = traces_.filePath(QStringLiteral("run-%1.config.json").arg(p.generation)).toStdString();
    RunConfig written = config;
    written.source.clear();
    write_file_atomically(preset, preset_to_json(written));
    std::vector<std::string> args{"run", "--preset", preset, "--quiet"};
    if (!resume_path.isEmpty()) args.insert(args.end(), {"--resume", resume_path.toStdString()});
    p.ranks = std::make_shared<dist::LocalRanks>(config.num_devices(), args, cli.toStdString());
    options.dist = p.ranks->rank0();
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
  return {};
}

void SessionController::failPrepare(const QString& resume_path, const QString& error) {
  phase_ = Phase::Empty;
  status_ = RunStatus::Idle;
  if (!resume_path.isEmpty()) Q_EMIT resumeFailed(resume_path, error);
  else Q_EMIT prepareFailed(error);
  Q_EMIT statusChanged(status_, false);
}

void SessionController::start(const RunConfig& config, bool paused) {
  if (phase_ == Phase::Running || phase_ == Phase::Stopping) return;
  if (phase_ == Phase::Preparing && !pending_.empty()) {
    Pending& latest = pending_.back();
    if (latest.resume_path.isEmpty() && latest.key == keyFor(config, checkpoint_every_minutes_)) {  // already being built: start when ready
      latest.start = true;
      latest.paused = paused;
      return;
    }
  }
  if (phase_ == Phase::Ready && keyFor(config, checkpoint_every_minutes_) == session_key_) {
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
  run_->number = next_number_ ? next_number_() : runs_started_;
  run_->resumed_from = ready_resume_path_;
  run_->created = QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
  paused_since_.reset();
  paused_total_ = {};
  held_rate_ = 0;
  // Schedule and strategy have their own columns in the run list; the preset says which lesson it was.
  run_->name = c.name.empty() ? QStringLiteral("run %1").arg(run_->number)
                              : QStringLiteral("run %1 · %2").arg(run_->number).arg(QString::fromStdString(c.name));
  run_->trace_path = traces_.isValid() ? traces_.filePath(QStringLiteral("run-%1.trace.json").arg(generation_)) : QString();
  run_->summary.status = RunStatus::Running;
  checkpoint_seen_ = session_->last_checkpoint();  // a resumed session starts with its checkpoint: not news
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
  // Every chunk of every replica: M forwards, M backwards (or M I and M W) and an update.
  const bool split = is_schedule(c.schedule) && schedule_info(c.schedule).split_backward;
  stepOps(c.num_chunks() * c.replicas * ((split ? 3 : 2) * c.microbatches + 1));
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
  const auto now = std::chrono::steady_clock::now();
  if (status == RunStatus::Paused && !paused_since_ && phase_ == Phase::Running) {
    paused_since_ = now;
    if (run_) held_rate_ = run_->summary.samples_per_second;
  } else if (status != RunStatus::Paused && paused_since_) {
    paused_total_ += now - *paused_since_;
    paused_since_.reset();
  }
  status_ = status;
  Q_EMIT statusChanged(status_, phase_ == Phase::Preparing);
}

double SessionController::pausedSeconds() const {
  auto total = paused_total_;
  if (paused_since_) total += std::chrono::steady_clock::now() - *paused_since_;
  return std::chrono::duration<double>(total).count();
}

void SessionController::takeSummary() {
  RunSummary s = session_->summary();
  if (paused_since_ && s.status == RunStatus::Paused) {
    s.samples_per_second = held_rate_;  // the figure of the moment the run paused
  } else if (s.samples_per_second > 0 && s.samples > 0) {
    // samples / pipeline time, the pauses left out (they sit inside the segment the workers waited in)
    const double pipeline_s = double(s.samples) / s.samples_per_second;
    const double working_s = pipeline_s - pausedSeconds();
    if (working_s > 0) s.samples_per_second = double(s.samples) / working_s;
  }
  run_->summary = std::move(s);
}

void SessionController::tick() {
  pollPrepares();
  if (phase_ == Phase::Running || phase_ == Phase::Stopping) pollRun();
  if (phase_ == Phase::Running || phase_ == Phase::Stopping || phase_ == Phase::Finished) pollCheckpoint();
  // Sessions that were stopped: free them once their threads have ended (never started: at once).
  for (auto it = retiring_.begin(); it != retiring_.end();) {
    const bool never_started = (*it)->status() == RunStatus::Idle;
    if (never_started || (*it)->wait_for(std::chrono::milliseconds(0)))
      it = retiring_.erase(it);
    else
      ++it;
  }
  const auto now = std::chrono::steady_clock::now();
  for (auto it = retiring_ranks_.begin(); it != retiring_ranks_.end();) {
    if (it->first->exited() || now >= it->second) {
      it->first->reap(std::chrono::milliseconds(0));  // kills what outlived its deadline
      it = retiring_ranks_.erase(it);
    } else {
      ++it;
    }
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
      retireRanks(std::move(p.ranks), p.config.processes_timeout_seconds);
      continue;
    }
    if (!built && p.ranks) {  // why the other ranks did not join, when they ended
      for (const std::string& line : p.ranks->reap(std::chrono::milliseconds(0)))
        error += QStringLiteral("\n") + QString::fromStdString(line);
      p.ranks.reset();
    }
    if (!built) {
      failPrepare(p.resume_path, error);
      continue;
    }
    session_ = std::move(built);
    ranks_ = std::move(p.ranks);
    ready_resume_path_ = p.resume_path;
    RunConfig resolved = p.config;
    resolved.partition = session_->partition();
    resolved.stages = resolved.num_stages();
    // A session that resumes a checkpoint is never taken for a fresh run of the same settings.
    session_key_ = p.resume_path.isEmpty() ? keyFor(resolved, p.checkpoint_minutes)
                                           : std::string("resume:") + p.resume_path.toStdString();
    phase_ = Phase::Ready;
    Q_EMIT prepared(session_->model_info(), session_->partition());
    Q_EMIT statusChanged(status_, false);
    if (p.start) startPrepared(p.paused);
  }
}

void SessionController::deliver(const TelemetryBatch& batch) {
  if (batch.empty()) return;
  run_->append(batch);
  Q_EMIT telemetry(batch);
  for (const RunMark& mark : batch.marks) {
    if (mark.kind != "repartition") continue;
    // The run now has the new stages: its record and summary (first/last layer per stage) follow.
    run_->config.partition = mark.after;
    takeSummary();
    Q_EMIT repartitioned(mark);
    Q_EMIT summaryUpdated(run_);
  }
}

void SessionController::pollRun() {
  deliver(session_->drain());
  const RunStatus status = session_->status();
  const auto now = std::chrono::steady_clock::now();
  if (now - last_summary_ >= kSummaryEvery) {
    last_summary_ = now;
    takeSummary();
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
  deliver(session_->drain());
  if (paused_since_) setStatus(session_->status());  // a run stopped while paused: the pause ends here
  takeSummary();
  phase_ = Phase::Finished;
  Q_EMIT progressChanged(session_->progress());
  setStatus(run_->summary.status);
  Q_EMIT runFinished(run_);
  pollCheckpoint();  // the final one (periodic checkpoints on), announced after the run's end
  retireRanks(std::move(ranks_), session_->config().processes_timeout_seconds);
}

}  // namespace ps::gui
