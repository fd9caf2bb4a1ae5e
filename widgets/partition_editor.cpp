#include "widgets/partition_editor.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QStandardItemModel>
#include <QPushButton>
#include <QTableWidget>
#include <QToolButton>
#include <QUndoGroup>
#include <QUndoStack>
#include <QVBoxLayout>

#include "engine/partition/partition.h"
#include "engine/planner/balance.h"
#include "engine/schedule/schedule.h"
#include "widgets/colors.h"
#include "widgets/format.h"
#include "widgets/partition_strip.h"

namespace ps::ui {
namespace {

// One undo step: the partition before and after one edit (a whole drag, an add, a remove).
class PartitionEdit : public QUndoCommand {
 public:
  PartitionEdit(PartitionEditor* editor, std::vector<int> before, std::vector<int> after, const QString& text)
      : QUndoCommand(text), editor_(editor), before_(std::move(before)), after_(std::move(after)) {}
  void undo() override { editor_->applyPartition(before_); }
  void redo() override { editor_->applyPartition(after_); }

 private:
  PartitionEditor* editor_;
  std::vector<int> before_, after_;
};

enum Column { kStage, kUnits, kDevice, kCost, kParams, kWeights, kOutput, kColumns };

QString boundaries_text(const std::vector<int>& b) {
  QStringList parts;
  for (int x : b) parts << QString::number(x);
  return parts.isEmpty() ? QObject::tr("one stage") : parts.join(QLatin1Char(','));
}

}  // namespace

PartitionEditor::PartitionEditor(QWidget* parent)
    : QWidget(parent),
      strip_(new PartitionStrip(this)),
      undo_group_(new QUndoGroup(this)),
      undo_(new QUndoStack(this)),
      live_undo_(new QUndoStack(this)),
      auto_button_(new QPushButton(tr("Auto-balance"), this)),
      profile_button_(new QPushButton(tr("Profile"), this)),
      profile_busy_(new QProgressBar(this)),
      profile_label_(new QLabel(this)),
      pending_label_(new QLabel(this)),
      blocked_label_(new QLabel(this)),
      metric_combo_(new QComboBox(this)),
      undo_button_(new QToolButton(this)),
      redo_button_(new QToolButton(this)),
      summary_(new QLabel(this)),
      table_(new QTableWidget(0, kColumns, this)) {
  metric_combo_->addItem(tr("Width: estimated cost"), static_cast<int>(UnitMetric::Cost));
  metric_combo_->addItem(tr("Width: parameters"), static_cast<int>(UnitMetric::Params));
  metric_combo_->addItem(tr("Width: activation memory"), static_cast<int>(UnitMetric::Activation));
  metric_combo_->setToolTip(tr("What a unit's width stands for"));
  connect(metric_combo_, &QComboBox::currentIndexChanged, this,
          [this] { strip_->setMetric(static_cast<UnitMetric>(metric_combo_->currentData().toInt())); });

  undo_group_->addStack(undo_);
  undo_group_->addStack(live_undo_);
  undo_group_->setActiveStack(undo_);
  QAction* undo_action = undo_group_->createUndoAction(this, tr("Undo"));
  QAction* redo_action = undo_group_->createRedoAction(this, tr("Redo"));
  undo_action->setIcon(style()->standardIcon(QStyle::SP_ArrowBack));
  redo_action->setIcon(style()->standardIcon(QStyle::SP_ArrowForward));
  undo_action->setShortcut(QKeySequence::Undo);
  redo_action->setShortcut(QKeySequence::Redo);
  undo_action->setShortcutContext(Qt::WidgetWithChildrenShortcut);
  redo_action->setShortcutContext(Qt::WidgetWithChildrenShortcut);
  addAction(undo_action);
  addAction(redo_action);
  undo_button_->setDefaultAction(undo_action);
  redo_button_->setDefaultAction(redo_action);

  // One balancing button: the DP planner on the measured profile when there is one, else on the flops
  // estimate (which is also how the engine splits a preset without a partition).
  auto_button_->setObjectName(QStringLiteral("autoBalance"));
  connect(auto_button_, &QPushButton::clicked, this, [this] { autoBalance(); });
  profile_button_->setObjectName(QStringLiteral("profile"));
  profile_button_->setToolTip(tr("Measure every layer unit's forward, backward and update time on the run's device "
                                 "and batch size (in the background; cached, so the same settings load at once "
                                 "next time). Auto-balance and the predicted timeline then use measured times. "
                                 "Each press measures once more and uses the median of these settings' last 5 "
                                 "profiles: one profile moves with the machine's slow spells."));
  connect(profile_button_, &QPushButton::clicked, this, &PartitionEditor::profileRequested);
  profile_busy_->setRange(0, 0);  // indeterminate: a busy indicator
  profile_busy_->setMaximumWidth(80);
  profile_busy_->setMaximumHeight(12);
  profile_busy_->setTextVisible(false);
  profile_busy_->hide();
  profile_label_->setObjectName(QStringLiteral("hint"));
  pending_label_->setObjectName(QStringLiteral("pendingRepartition"));
  pending_label_->setWordWrap(true);
  pending_label_->setStyleSheet(QStringLiteral("color: #8e24aa; font-weight: bold;"));
  pending_label_->hide();
  blocked_label_->setObjectName(QStringLiteral("partitionBlocked"));
  blocked_label_->setWordWrap(true);
  blocked_label_->setStyleSheet(QStringLiteral("color: #d62728;"));
  blocked_label_->hide();

  summary_->setTextFormat(Qt::RichText);
  summary_->setWordWrap(true);  // wraps, rather than widening the window (1280 pixels at zoom 1.5)
  hint_ = new QLabel(this);
  hint_->setObjectName(QStringLiteral("hint"));
  hint_->setWordWrap(true);
  hint_->setText(tr("Drag a handle to move layers · double-click a layer to start a stage there, a handle to remove it"));

  auto* top = new QHBoxLayout;
  top->addWidget(metric_combo_);
  top->addWidget(auto_button_);
  top->addWidget(profile_button_);
  top->addWidget(profile_busy_);
  top->addWidget(profile_label_);
  top->addWidget(undo_button_);
  top->addWidget(redo_button_);
  top->addSpacing(12);
  top->addWidget(summary_, 1);

  table_->setHorizontalHeaderLabels({tr("Stage"), tr("Units"), tr("Device"), tr("Cost"), tr("Parameters"),
                                     tr("Weight memory"), tr("Output / sample")});
  table_->verticalHeader()->hide();
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setSelectionMode(QAbstractItemView::NoSelection);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->horizontalHeaderItem(kWeights)->setToolTip(
      tr("Weight-sized copies the strategy holds at this stage (live included) × parameters × 4 bytes"));

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(top);
  layout->addWidget(pending_label_);
  layout->addWidget(strip_);
  layout->addWidget(blocked_label_);
  layout->addWidget(hint_);
  layout->addWidget(table_, 1);

  connect(strip_, &PartitionStrip::boundariesPreview, this, [this](const std::vector<int>& b) {
    showBlocked(QString());
    refreshTotals(b);
  });
  connect(strip_, &PartitionStrip::dragBlocked, this, &PartitionEditor::showBlocked);
  connect(strip_, &PartitionStrip::dragFinished, this,
          [this](const std::vector<int>& before, const std::vector<int>& after) {
            pushEdit(before, after, tr("Move stage boundary"));
          });
  connect(strip_, &PartitionStrip::addBoundaryRequested, this, [this](int unit) {
    if (chunks_per_device_ > 1)
      return showBlocked(tr("Each of the %1 devices holds %2 chunks: the chunks move, their number is Stages × Chunks "
                            "per device in the run setup")
                             .arg(stageCount())
                             .arg(chunks_per_device_));
    if (live_) return showBlocked(tr("The stage count is fixed while the run goes on: move boundaries, or add a stage "
                                     "before the next Start"));
    auto after = add_boundary(committed_, unit, static_cast<int>(model_.units.size()));
    if (after != committed_) pushEdit(committed_, after, tr("Add stage at %1").arg(unit));
  });
  connect(strip_, &PartitionStrip::removeBoundaryRequested, this, [this](int index) {
    if (chunks_per_device_ > 1)
      return showBlocked(tr("Each of the %1 devices holds %2 chunks: the chunks move, their number is Stages × Chunks "
                            "per device in the run setup")
                             .arg(stageCount())
                             .arg(chunks_per_device_));
    if (live_) return showBlocked(tr("The stage count is fixed while the run goes on: move boundaries, or remove a "
                                     "stage before the next Start"));
    pushEdit(committed_, remove_boundary(committed_, index), tr("Remove stage boundary"));
  });
  updateProfileUi();
}

QUndoStack* PartitionEditor::undoStack() const { return undo_group_->activeStack(); }

void PartitionEditor::showBlocked(const QString& reason) {
  blocked_label_->setText(reason);
  blocked_label_->setVisible(!reason.isEmpty());
}

QString PartitionEditor::blockedReason() const { return blocked_label_->isHidden() ? QString() : blocked_label_->text(); }

void PartitionEditor::setModelInfo(const ModelInfo& model, const std::vector<int>& boundaries) {
  if (model.name != model_.name || model.units.size() != model_.units.size()) clearProfile();  // another model
  model_ = model;
  undo_->clear();
  live_undo_->clear();
  strip_->setModelInfo(&model_);
  applyPartition(boundaries);
}

void PartitionEditor::setPartition(const std::vector<int>& boundaries, bool undoable) {
  if (boundaries == committed_) return;
  if (undoable)
    pushEdit(committed_, boundaries, tr("Set %1 stages").arg(boundaries.size() + 1));
  else
    applyPartition(boundaries);
}

void PartitionEditor::pushEdit(const std::vector<int>& before, const std::vector<int>& after, const QString& text) {
  if (before == after) return;
  undoStack()->push(new PartitionEdit(this, before, after, text));  // push() runs redo(), which applies `after`
}

void PartitionEditor::applyPartition(const std::vector<int>& boundaries) {
  const bool changed = boundaries != committed_;
  committed_ = boundaries;
  strip_->setBoundaries(committed_);
  stage_devices_.resize(static_cast<std::size_t>(stageCount()), device_choices_.value(0).toStdString());
  strip_->setChunkDevices(chunks_per_device_ > 1 ? chunkDevices() : std::vector<int>{});
  rebuildDeviceCombos();
  refreshTotals(committed_);
  updateProfileUi();  // the tooltip names the stage count
  if (changed) Q_EMIT partitionChanged(committed_);
}

void PartitionEditor::setChunkLayout(const std::string& schedule, int chunks_per_device,
                                     const std::optional<std::vector<int>>& boundaries) {
  chunks_per_device = std::max(1, chunks_per_device);
  if (chunks_per_device != chunks_per_device_) {  // the history's partitions hold another number of chunks
    undo_->clear();
    live_undo_->clear();
  }
  schedule_ = schedule;
  chunks_per_device_ = chunks_per_device;
  const bool changed = boundaries && *boundaries != committed_;
  if (boundaries) committed_ = *boundaries;
  strip_->setBoundaries(committed_);
  stage_devices_.resize(static_cast<std::size_t>(stageCount()), device_choices_.value(0).toStdString());
  strip_->setChunkDevices(chunks_per_device_ > 1 ? chunkDevices() : std::vector<int>{});
  rebuildDeviceCombos();
  refreshTotals(committed_);
  updateProfileUi();
  if (changed) Q_EMIT partitionChanged(committed_);
}

std::vector<int> PartitionEditor::chunkDevices() const {
  const int chunks = chunkCount();
  const int S = stageCount();
  std::vector<int> devices;
  if (chunks_per_device_ > 1 && chunks == S * chunks_per_device_ && is_schedule(schedule_)) {
    try {
      devices = chunk_devices(schedule_, S, chunks_per_device_);
    } catch (const std::exception&) {
      devices.clear();  // a combination the schedule refuses (the run setup says why): loop placement
    }
  }
  const bool valid = static_cast<int>(devices.size()) == chunks &&
                     std::all_of(devices.begin(), devices.end(), [S](int d) { return d >= 0 && d < S; });
  if (!valid) {
    devices.resize(static_cast<std::size_t>(chunks));
    for (int c = 0; c < chunks; ++c) devices[static_cast<std::size_t>(c)] = c % S;
  }
  return devices;
}

int PartitionEditor::deviceOfChunk(int chunk) const {
  const auto devices = chunkDevices();
  return chunk >= 0 && chunk < static_cast<int>(devices.size()) ? devices[static_cast<std::size_t>(chunk)] : 0;
}

QString PartitionEditor::segmentName(int chunk) const {
  if (chunks_per_device_ <= 1) return tr("stage %1").arg(chunk);
  return tr("chunk %1 · dev %2").arg(chunk).arg(deviceOfChunk(chunk));
}

void PartitionEditor::setStrategy(const std::string& strategy) {
  strategy_ = strategy;
  refreshTotals(strip_->boundaries());
}

void PartitionEditor::setMetric(UnitMetric metric) {
  metric_combo_->setCurrentIndex(metric_combo_->findData(static_cast<int>(metric)));
}

void PartitionEditor::setDeviceChoices(const QStringList& devices, const QStringList& labels, const QString& note) {
  device_choices_ = devices.isEmpty() ? QStringList{QStringLiteral("cpu")} : devices;
  device_labels_ = devices.isEmpty() ? QStringList() : labels;
  device_note_ = note;
  rebuildDeviceCombos();
}

void PartitionEditor::setStageDevices(const std::vector<std::string>& devices) {
  stage_devices_ = devices;
  stage_devices_.resize(static_cast<std::size_t>(stageCount()), device_choices_.value(0).toStdString());
  rebuildDeviceCombos();
}

std::vector<std::string> PartitionEditor::stageDevices() const { return stage_devices_; }

void PartitionEditor::rebuildDeviceCombos() {
  if (model_.units.empty()) {  // nothing to place yet
    table_->setRowCount(0);
    return;
  }
  // A row per segment (chunk); its device picker names the device that holds it, shared by all the
  // device's chunks.
  const int rows = chunkCount();
  const std::vector<int> device_of = chunkDevices();
  stage_devices_.resize(static_cast<std::size_t>(stageCount()), device_choices_.value(0).toStdString());
  for (int k = 0; k < rows; ++k) {
    auto* combo = qobject_cast<QComboBox*>(table_->cellWidget(k, kDevice));
    if (!combo || table_->rowCount() <= k) {
      if (table_->rowCount() <= k) table_->setRowCount(k + 1);
      combo = new QComboBox(table_);
      table_->setCellWidget(k, kDevice, combo);
      connect(combo, qOverload<int>(&QComboBox::currentIndexChanged), this, [this, k, combo](int index) {
        const QString text = combo->itemData(index).toString();  // the device's name, not its label
        if (text.isEmpty()) return;                                // the note: not a device
        const int d = deviceOfChunk(k);
        if (d < static_cast<int>(stage_devices_.size()) && stage_devices_[static_cast<std::size_t>(d)] != text.toStdString()) {
          stage_devices_[static_cast<std::size_t>(d)] = text.toStdString();
          // The device's other chunks follow (their pickers show the same device).
          const std::vector<int> devices = chunkDevices();
          for (int r = 0; r < static_cast<int>(devices.size()); ++r) {
            if (r == k || devices[static_cast<std::size_t>(r)] != d) continue;
            if (auto* other = qobject_cast<QComboBox*>(table_->cellWidget(r, kDevice))) {
              const QSignalBlocker quiet(other);
              other->setCurrentIndex(other->findData(text));
            }
          }
          updateStripLabels();
          Q_EMIT stageDevicesChanged();
        }
      });
    }
    const int d = device_of[static_cast<std::size_t>(k)];
    combo->setToolTip(chunks_per_device_ > 1
                          ? tr("Device %1, which holds chunks %2 (fixed while a run is going)").arg(d).arg([&] {
                              QStringList held;
                              for (int c = 0; c < rows; ++c)
                                if (device_of[static_cast<std::size_t>(c)] == d) held << QString::number(c);
                              return held.join(QStringLiteral(" and "));
                            }())
                          : tr("The stage's device (fixed while a run is going)"));
    const QString current = QString::fromStdString(stage_devices_[static_cast<std::size_t>(d)]);
    QSignalBlocker block(combo);
    combo->clear();
    const QString prefix = chunks_per_device_ > 1 ? tr("dev %1: ").arg(d) : QString();
    for (int i = 0; i < device_choices_.size(); ++i)
      combo->addItem(prefix + device_labels_.value(i, device_choices_[i]), device_choices_[i]);
    if (!device_choices_.contains(current)) combo->addItem(prefix + current, current);
    if (!device_note_.isEmpty()) {
      combo->addItem(device_note_);
      if (auto* items = qobject_cast<QStandardItemModel*>(combo->model())) items->item(combo->count() - 1)->setEnabled(false);
    }
    combo->setCurrentIndex(combo->findData(current));
    combo->setEnabled(!live_);
  }
  table_->setRowCount(rows);
  updateStripLabels();
}

void PartitionEditor::updateStripLabels() {
  QStringList labels;  // per segment: the name of the device that holds it
  const std::vector<int> device_of = chunkDevices();
  for (int k = 0; k < chunkCount(); ++k) {
    const auto d = static_cast<std::size_t>(device_of[static_cast<std::size_t>(k)]);
    labels << (d < stage_devices_.size() ? QString::fromStdString(stage_devices_[d]) : QString());
  }
  strip_->setStageLabels(labels);
}

void PartitionEditor::refreshTotals(const std::vector<int>& boundaries) {
  stats_ = partition_stats(model_, boundaries, strategy_);
  strip_->setBottleneckStage(stats_.bottleneck_stage);
  summary_->setText(summaryText());
  table_->horizontalHeaderItem(kStage)->setText(chunks_per_device_ > 1 ? tr("Chunk · device") : tr("Stage"));
  hint_->setText(chunks_per_device_ > 1
                     ? tr("Drag a handle to move layers between chunks · the number of chunks is Stages × Chunks per "
                          "device (run setup); hatched: a device's later chunks")
                     : tr("Drag a handle to move layers · double-click a layer to start a stage there, a handle to "
                          "remove it"));
  double total_cost = 0;
  for (const auto& s : stats_.stages) total_cost += s.cost;
  if (table_->rowCount() < static_cast<int>(stats_.stages.size())) table_->setRowCount(static_cast<int>(stats_.stages.size()));
  auto set = [this](int row, int col, const QString& text, const QString& tip = {}) {
    auto* item = table_->item(row, col);
    if (!item) table_->setItem(row, col, item = new QTableWidgetItem);
    item->setText(text);
    item->setToolTip(tip);
  };
  for (int k = 0; k < static_cast<int>(stats_.stages.size()); ++k) {
    const StageTotals& s = stats_.stages[static_cast<std::size_t>(k)];
    const QString name = chunks_per_device_ > 1 ? tr("%1 · dev %2").arg(k).arg(deviceOfChunk(k)) +
                                                      (k + 1 == static_cast<int>(stats_.stages.size()) ? tr(" · loss") : QString())
                                                : QString::number(k);
    set(k, kStage, k == stats_.bottleneck_stage && stats_.stages.size() > 1 ? tr("%1  ◀ bottleneck").arg(name) : name);
    table_->item(k, kStage)->setData(Qt::DecorationRole, stage_color(chunks_per_device_ > 1 ? deviceOfChunk(k) : k));
    const auto& first = model_.units.empty() ? std::string() : model_.units[static_cast<std::size_t>(s.first_unit)].name;
    const auto& last = model_.units.empty() ? std::string() : model_.units[static_cast<std::size_t>(s.last_unit)].name;
    set(k, kUnits, tr("%1–%2 (%3 … %4)").arg(s.first_unit).arg(s.last_unit).arg(QString::fromStdString(first), QString::fromStdString(last)));
    set(k, kCost, total_cost > 0 ? format_percent(s.cost / total_cost) : QStringLiteral("–"),
        tr("share of the model's estimated forward+backward cost"));
    set(k, kParams, format_count(static_cast<double>(s.params)));
    set(k, kWeights, tr("%1 (%2 ×)").arg(format_bytes(s.weight_bytes)).arg(s.weight_copies));
    set(k, kOutput, format_bytes(s.activation_bytes));
  }
}

QString PartitionEditor::summaryText() const {
  if (stats_.stages.empty()) return tr("No model");
  if (stats_.stages.size() == 1) return tr("<b>1 stage</b> · no pipeline");
  if (chunks_per_device_ > 1) {
    const int chunks = static_cast<int>(stats_.stages.size());
    const bool v_shape = is_schedule(schedule_) && schedule_info(schedule_).placement == Placement::V;
    const int loss_device = deviceOfChunk(chunks - 1);
    return tr("<b>%1 chunks on %2 devices</b> (%3 placement; the loss on <b>device %4</b>) · bottleneck: "
              "<b>%5</b> · efficiency <b>%6</b> <span style='color:gray'>(mean / max chunk cost)</span>")
        .arg(chunks)
        .arg(stageCount())
        .arg(v_shape ? tr("V") : tr("loop"))
        .arg(loss_device)
        .arg(segmentName(stats_.bottleneck_stage))
        .arg(format_percent(stats_.efficiency));
  }
  return tr("<b>%1 stages</b> · bottleneck: <b>stage %2</b> · efficiency <b>%3</b> "
            "<span style='color:gray'>(mean / max stage cost)</span>")
      .arg(stats_.stages.size())
      .arg(stats_.bottleneck_stage)
      .arg(format_percent(stats_.efficiency));
}

void PartitionEditor::setProfile(const ModelProfile& profile) {
  profile_ = profile;
  has_profile_ = profile.units.size() == model_.units.size();
  profile_error_.clear();
  updateProfileUi();
  Q_EMIT profileChanged();
}

void PartitionEditor::clearProfile() {
  profile_ = {};
  has_profile_ = false;
  updateProfileUi();
  Q_EMIT profileChanged();
}

QString PartitionEditor::autoBalanceSource() const {
  if (!has_profile_) return tr("estimated from flops");
  const QString where = tr("measured on %1 at batch %2").arg(QString::fromStdString(profile_.device)).arg(profile_.batch_size);
  return profile_.profiles > 1 ? tr("%1 (the median of %2 profiles)").arg(where).arg(profile_.profiles) : where;
}

void PartitionEditor::setProfileBusy(bool busy) {
  profile_busy_->setVisible(busy);
  profile_button_->setEnabled(!busy);
  if (busy) profile_error_.clear();
  updateProfileUi();
  if (busy) profile_label_->setText(tr("profiling…"));
}

void PartitionEditor::setProfileError(const QString& error) {
  profile_error_ = error;
  updateProfileUi();
}

void PartitionEditor::updateProfileUi() {
  auto_button_->setToolTip(tr("Minimise the slowest stage's time (dynamic programming over contiguous splits, as "
                              "PipeDream's planner), keeping %1 %4. Unit times: <b>%2</b>%3")
                               .arg(chunkCount())
                               .arg(autoBalanceSource())
                               .arg(has_profile_ ? QString() : tr(" (Profile measures them)"))
                               .arg(chunks_per_device_ > 1 ? tr("chunks (%1 per device)").arg(chunks_per_device_) : tr("stages")));
  if (!profile_error_.isEmpty()) {
    profile_label_->setText(tr("profile failed"));
    profile_label_->setToolTip(profile_error_);
    profile_label_->setStyleSheet(QStringLiteral("color: #d93025;"));
    return;
  }
  profile_label_->setStyleSheet(QString());
  profile_label_->setText(!has_profile_ ? tr("estimated") : profile_.profiles > 1 ? tr("measured ×%1").arg(profile_.profiles) : tr("measured"));
  profile_button_->setText(has_profile_ ? tr("Profile again") : tr("Profile"));
  profile_label_->setToolTip(tr("Auto-balance uses unit times %1").arg(autoBalanceSource()));
}

void PartitionEditor::setLive(bool live) {
  if (live == live_) return;
  live_ = live;
  if (live_) {
    live_start_ = committed_;
    live_undo_->clear();
    undo_group_->setActiveStack(live_undo_);
  } else {
    undo_group_->setActiveStack(undo_);
    // What the run's repartitions did, as one step of the history from before the run.
    if (committed_ != live_start_ && committed_.size() == live_start_.size())
      undo_->push(new PartitionEdit(this, live_start_, committed_, tr("Repartitions during the run")));
    live_undo_->clear();
    setPendingPartition(std::nullopt);
  }
  rebuildDeviceCombos();
  strip_->setToolTip(live_ ? tr("A run is going: drag a handle to repartition it live (the stage count is fixed)")
                           : QString());
}

void PartitionEditor::setPendingPartition(const std::optional<std::vector<int>>& requested, const std::vector<int>& in_effect,
                                          const QString& when) {
  pending_ = requested;
  in_effect_ = in_effect;
  pending_when_ = when.isEmpty() ? tr("when the pipeline has drained the minibatches in flight") : when;
  pending_label_->setText(pendingText());
  pending_label_->setVisible(pending_.has_value());
}

QString PartitionEditor::pendingText() const {
  if (!pending_) return QString();
  return tr("Repartition to %1 pending (%2 still runs): it takes effect %3")
      .arg(boundaries_text(*pending_), boundaries_text(in_effect_), pending_when_);
}

ModelProfile PartitionEditor::balanceProfile() const {
  if (has_profile_ && profile_.units.size() == model_.units.size()) return profile_;
  return estimate_profile(model_, 1, 1);
}

std::vector<int> PartitionEditor::autoBalance() {
  if (model_.units.empty()) return committed_;
  BalanceOptions opts;
  opts.stages = chunkCount();  // the balancer cuts any number of contiguous parts: the S*v chunks too
  const std::vector<int> best = balance_partition(balanceProfile(), opts).boundaries;
  pushEdit(committed_, best, chunks_per_device_ > 1 ? tr("Auto-balance chunks") : tr("Auto-balance stages"));
  return best;
}

}  // namespace ps::ui
