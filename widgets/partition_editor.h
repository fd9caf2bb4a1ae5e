// Partition editor: drag stage boundaries across the model's layer units, see per-stage totals, the
// predicted bottleneck and the pipeline efficiency update while dragging, undo/redo every drag, and
// pick a device per stage.
#pragma once
#include <QStringList>
#include <QWidget>
#include <string>
#include <vector>

#include "engine/models/model_info.h"
#include "engine/planner/profiler.h"
#include "widgets/partition_math.h"

class QComboBox;
class QLabel;
class QTableWidget;
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
  int stageCount() const { return static_cast<int>(committed_.size()) + 1; }

  void setStrategy(const std::string& strategy);  // weight copies per stage follow it
  // Measured unit times for Auto-balance (a profile of the same model); without one it balances an
  // estimate from the analytic flops. `schedule` and microbatches decide the in-flight activations.
  void setProfile(const ModelProfile& profile);
  void clearProfile();
  bool hasProfile() const { return has_profile_; }
  // Auto-balance: the dynamic-programming split minimising the slowest stage (planner/balance.h) on the
  // profile, as one undoable edit. Returns the boundaries it applied.
  std::vector<int> autoBalance();
  void setMetric(UnitMetric metric);
  void setDeviceChoices(const QStringList& devices);  // e.g. "cpu:0".."cpu:3", "cuda:0"
  void setStageDevices(const std::vector<std::string>& devices);
  std::vector<std::string> stageDevices() const;

  // What the totals show right now (the drag preview while a drag is in progress).
  const PartitionStats& stats() const { return stats_; }
  QString summaryText() const;

  PartitionStrip* strip() const { return strip_; }
  QUndoStack* undoStack() const { return undo_; }

  // Applies a partition as the committed one (used by the undo commands).
  void applyPartition(const std::vector<int>& boundaries);

 Q_SIGNALS:
  void partitionChanged(const std::vector<int>& boundaries);
  void stageDevicesChanged();

 private:
  void pushEdit(const std::vector<int>& before, const std::vector<int>& after, const QString& text);
  void refreshTotals(const std::vector<int>& boundaries);
  void rebuildDeviceCombos();
  void balance();
  ModelProfile balanceProfile() const;

  ModelInfo model_;
  std::vector<int> committed_;
  std::string strategy_ = "latest";
  ModelProfile profile_;
  bool has_profile_ = false;
  PartitionStats stats_;
  QStringList device_choices_{QStringLiteral("cpu")};
  std::vector<std::string> stage_devices_;

  PartitionStrip* strip_;
  QUndoStack* undo_;
  QComboBox* metric_combo_;
  QToolButton* undo_button_;
  QToolButton* redo_button_;
  QLabel* summary_;
  QTableWidget* table_;
};

}  // namespace ps::ui
