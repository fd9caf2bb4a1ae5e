// Partition editor: drag stage boundaries across the model's layer units, see per-stage totals, the
// predicted bottleneck and the pipeline efficiency update while dragging, undo/redo every drag, and
// pick a device per stage. With several chunks per device (interleaved and V schedules) the segments are
// the S*v chunks, each coloured and labelled by the device that holds it, and a device is picked once
// for all its chunks. During a run (live mode) only the boundaries move: the owner turns each
// committed drag into a live repartition, and the editor shows the request until it takes effect.
#pragma once
#include <QStringList>
#include <QWidget>
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "engine/models/model_info.h"
#include "engine/planner/profiler.h"
#include "widgets/partition_math.h"

class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QTableWidget;
class QUndoGroup;
class QUndoStack;
class QToolButton;

namespace ps::ui {

class PartitionStrip;

class PartitionEditor : public QWidget {
  Q_OBJECT
 public:
  explicit PartitionEditor(QWidget* parent = nullptr);

  // A new model clears the undo history.
  void setModelInfo(const ModelInfo& model, const std::vector<int>& boundaries);
  const ModelInfo& modelInfo() const { return model_; }

  // Programmatic changes (for example a new stage count); `undoable` records them on the undo stack.
  void setPartition(const std::vector<int>& boundaries, bool undoable = false);
  const std::vector<int>& partition() const { return committed_; }
  // Segments of the strip: chunks (S*v of them; the stages themselves when v = 1).
  int chunkCount() const { return static_cast<int>(committed_.size()) + 1; }
  // Devices (pipeline stages, S): chunkCount() / v.
  int stageCount() const { return std::max(1, chunkCount() / chunks_per_device_); }

  // Where the run's schedule places its chunks (loop: chunk c on device c mod S; V: device d holds d and
  // 2S-1-d) and how many each device holds (v). A new v clears the undo history (its partitions hold
  // another number of chunks); `boundaries`, when given, become the partition in the same step.
  void setChunkLayout(const std::string& schedule, int chunks_per_device,
                      const std::optional<std::vector<int>>& boundaries = std::nullopt);
  int chunksPerDevice() const { return chunks_per_device_; }
  const std::string& chunkSchedule() const { return schedule_; }
  // The device of every chunk of the current partition (0..S-1), and of one chunk.
  std::vector<int> chunkDevices() const;
  int deviceOfChunk(int chunk) const;

  void setStrategy(const std::string& strategy);  // weight copies per stage follow it
  // Measured unit times for Auto-balance (a profile of the same model); without one it balances an
  // estimate from the analytic flops. The Auto-balance button's tooltip says which it uses.
  void setProfile(const ModelProfile& profile);
  void clearProfile();
  bool hasProfile() const { return has_profile_; }
  const ModelProfile& profile() const { return profile_; }
  // Auto-balance: the dynamic-programming split minimising the slowest stage (planner/balance.h) on the
  // profile, as one undoable edit. Returns the boundaries it applied.
  std::vector<int> autoBalance();
  QString autoBalanceSource() const;  // "measured on cpu at batch 32" or "estimated from flops"

  // The Profile button asks (profileRequested); the owner measures off the GUI thread and reports here:
  // busy shows an indicator and disables the button, an error shows under the buttons.
  void setProfileBusy(bool busy);
  void setProfileError(const QString& error);

  // Live mode (a run is going): the stage count and the devices are fixed, drags and Auto-balance move
  // boundaries only, and they undo on their own history (the one from before the run comes back after).
  void setLive(bool live);
  bool isLive() const { return live_; }
  // A repartition requested and not yet in effect (nullopt: none); `in_effect` is what still runs and
  // `when` says when it takes effect ("" = when the pipeline has drained the minibatches in flight).
  void setPendingPartition(const std::optional<std::vector<int>>& requested, const std::vector<int>& in_effect = {},
                           const QString& when = {});
  QString pendingText() const;  // "" when nothing is pending
  QString blockedReason() const;  // why the last edit could not be made ("" after one that was)
  void setMetric(UnitMetric metric);
  // e.g. "cpu:0".."cpu:3", "cuda:0"; `labels`: what the picker shows for each (default: the name),
  // `note`: a line after them that cannot be picked (e.g. why there is no GPU).
  void setDeviceChoices(const QStringList& devices, const QStringList& labels = {}, const QString& note = {});
  // One device name per stage (per device, S of them, when a device holds several chunks).
  void setStageDevices(const std::vector<std::string>& devices);
  std::vector<std::string> stageDevices() const;

  // What the totals show right now (the drag preview while a drag is in progress).
  const PartitionStats& stats() const { return stats_; }
  QString summaryText() const;

  PartitionStrip* strip() const { return strip_; }
  QUndoStack* undoStack() const;  // the active history (the live one during a run)

  // Applies a partition as the committed one (used by the undo commands).
  void applyPartition(const std::vector<int>& boundaries);

 Q_SIGNALS:
  void partitionChanged(const std::vector<int>& boundaries);
  void stageDevicesChanged();
  void profileRequested();
  void profileChanged();  // setProfile / clearProfile (a new model clears it too)

 private:
  void pushEdit(const std::vector<int>& before, const std::vector<int>& after, const QString& text);
  void refreshTotals(const std::vector<int>& boundaries);
  void rebuildDeviceCombos();
  void updateStripLabels();
  QString segmentName(int chunk) const;  // "stage 2" or "chunk 3 · dev 1"
  void updateProfileUi();
  ModelProfile balanceProfile() const;

  ModelInfo model_;
  std::vector<int> committed_;
  std::string strategy_ = "latest";
  std::string schedule_;
  int chunks_per_device_ = 1;
  ModelProfile profile_;
  bool has_profile_ = false;
  PartitionStats stats_;
  QStringList device_choices_{QStringLiteral("cpu")};
  QStringList device_labels_;
  QString device_note_;
  std::vector<std::string> stage_devices_;
  bool live_ = false;
  std::vector<int> live_start_;  // the partition when live mode began
  std::optional<std::vector<int>> pending_;
  std::vector<int> in_effect_;
  QString pending_when_;
  QString profile_error_;

  PartitionStrip* strip_;
  QUndoGroup* undo_group_;
  QUndoStack* undo_;       // edits before and between runs
  QUndoStack* live_undo_;  // edits during the current run
  QPushButton* auto_button_;
  QPushButton* profile_button_;
  QProgressBar* profile_busy_;
  QLabel* profile_label_;
  QLabel* pending_label_;
  QLabel* blocked_label_;
  void showBlocked(const QString& reason);
  QComboBox* metric_combo_;
  QToolButton* undo_button_;
  QToolButton* redo_button_;
  QLabel* summary_;
  QLabel* hint_;
  QTableWidget* table_;
};

}  // namespace ps::ui
