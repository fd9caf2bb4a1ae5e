// The optimizer and the data of a run in the setup dock: optimizer (SGD with momentum and Nesterov,
// Adam), learning rate and its schedule, batch size, data set. The strategy panel owns it and validates
// the whole config, so these fields are checked by the same rules as a preset.
#pragma once
#include <QGroupBox>
#include <QString>
#include <optional>

#include "engine/config/run_config.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace ps::ui {

// What a strategy needs of the optimizer that the config does not have: the config with it changed and
// a sentence saying what changes. nullopt when the config's optimizer already suits the strategy.
struct OptimizerChange {
  RunConfig config;
  QString what;    // "optimizer.nesterov = true (SGD with Nesterov momentum)"
  QString button;  // "Use SGD with Nesterov momentum"
};
std::optional<OptimizerChange> required_optimizer_change(const RunConfig& config);

class TrainingFields : public QGroupBox {
  Q_OBJECT
 public:
  explicit TrainingFields(QWidget* parent = nullptr);

  void load(const RunConfig& config);  // fills every field, announces nothing
  void apply(RunConfig& config) const;  // writes the fields into `config`
  // Marks the field an error names ("optimizer.lr"), clears the others; "" clears all.
  void markError(const std::string& field);

  QComboBox* optimizerCombo() const { return optimizer_; }
  QLineEdit* learningRateEdit() const { return lr_; }
  QDoubleSpinBox* momentumBox() const { return momentum_; }
  QCheckBox* nesterovBox() const { return nesterov_; }
  QComboBox* scheduleCombo() const { return schedule_; }
  QSpinBox* batchSizeBox() const { return batch_; }
  QComboBox* datasetCombo() const { return dataset_; }
  QLineEdit* datasetPathEdit() const { return dataset_path_; }
  bool learningRateValid() const;

 Q_SIGNALS:
  void edited();

 private:
  void onEdited();
  void updateVisibility();

  bool loading_ = false;
  QFormLayout* form_;
  QComboBox* optimizer_;
  QLineEdit* lr_;
  QDoubleSpinBox* momentum_;
  QCheckBox* nesterov_;
  QComboBox* schedule_;
  QSpinBox* warmup_;
  QSpinBox* step_size_;
  QDoubleSpinBox* gamma_;
  QSpinBox* batch_;
  QComboBox* dataset_;
  QLineEdit* dataset_path_;
  QLabel* dataset_note_;
};

}  // namespace ps::ui
