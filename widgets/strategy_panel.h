// Schedule & strategy panel: pick the schedule and the weight-staleness strategy (unimplemented ones
// listed but disabled), edit the strategy's parameters within their bounds, microbatches, stages and
// run length, the optimizer and the data (TrainingFields), and read the strategy's description (the same
// text as `pipescope-cli list strategies`). A strategy that needs another optimizer offers the change.
#pragma once
#include <QWidget>
#include <map>
#include <string>

#include "engine/config/run_config.h"

class QComboBox;
class QFormLayout;
class QGroupBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace ps::ui {

class TrainingFields;

class StrategyPanel : public QWidget {
  Q_OBJECT
 public:
  explicit StrategyPanel(QWidget* parent = nullptr);

  void setConfig(const RunConfig& config);  // fills every field; the rest of the config is kept as a base
  RunConfig config() const;                 // the base with the panel's fields applied
  bool isValid() const { return error_.isEmpty(); }
  QString errorText() const { return error_; }
  QString descriptionText() const;
  void setMaxStages(int stages);   // the model's unit count
  void setStageCount(int stages);  // follows the partition editor, without announcing stagesChanged
  void setStageCountLocked(bool locked);  // during a run: its stage count is fixed

  QComboBox* scheduleCombo() const { return schedule_; }
  QComboBox* strategyCombo() const { return strategy_; }
  // How the run is laid out on the machine: model chunks per device (schedules that place several),
  // replicas of every stage (pipeline x data parallel), and threads or one process per device.
  QSpinBox* chunksSpin() const { return chunks_; }
  QSpinBox* replicasSpin() const { return replicas_; }
  QComboBox* executorCombo() const { return executor_; }
  QWidget* paramEditor(const QString& key) const;  // nullptr when the strategy has no such parameter
  TrainingFields* trainingFields() const { return training_; }
  // Shown when the strategy needs another optimizer: one click makes the change it names.
  QPushButton* optimizerFixButton() const { return fix_button_; }
  QString optimizerFixText() const;  // what the button changes ("" when hidden)
  void applyOptimizerFix();          // as the button

 Q_SIGNALS:
  void configEdited();          // any field changed (valid or not)
  void stagesChanged(int stages);
  void strategyChanged(const QString& strategy);
  void optimizerFixed(const QString& what);  // the one-click change was made: what it changed

 private:
  void rebuildParams();
  void onEdited();
  void validate();
  std::map<std::string, std::string> paramValues() const;

  RunConfig base_;
  int max_units_ = 0;  // the model's layer units (setMaxStages); 0: not known yet
  bool loading_ = false;
  QString error_;
  QComboBox* schedule_;
  QLabel* schedule_note_;
  QComboBox* strategy_;
  QSpinBox* microbatches_;
  QSpinBox* stages_;
  QSpinBox* steps_;
  QSpinBox* chunks_;
  QSpinBox* replicas_;
  QComboBox* executor_;
  QGroupBox* params_box_;
  QFormLayout* params_form_;
  std::map<std::string, QWidget*> param_editors_;
  TrainingFields* training_;
  QLabel* error_label_;
  QPushButton* fix_button_;
  QLabel* fix_label_;
  QPlainTextEdit* description_;
};

}  // namespace ps::ui
