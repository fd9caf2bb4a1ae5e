#include "widgets/run_labels.h"

#include <QObject>
#include <QStringList>
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "widgets/run_library.h"

namespace ps::ui {
namespace {

// "/partition/2" -> "/partition": a list is one field.
std::string field_of(const std::string& path) {
  for (const char* list : {"/partition", "/stage_devices"})
    if (path.rfind(std::string(list) + "/", 0) == 0) return list;
  return path;
}

// field -> value text for one config ("" when absent), lists joined with commas.
std::map<std::string, std::string> fields(const RunConfig& config) {
  RunConfig c = config;
  c.source.clear();
  const nlohmann::json flat = nlohmann::json::parse(preset_to_json(c)).flatten();
  std::map<std::string, std::string> out;
  for (auto it = flat.begin(); it != flat.end(); ++it) {
    if (it->is_null()) continue;  // an empty object or list
    const std::string text = it->is_string() ? it->get<std::string>() : it->dump();
    std::string& v = out[field_of(it.key())];
    v += (v.empty() ? "" : ",") + text;
  }
  return out;
}

const std::vector<std::string>& priority() {
  static const std::vector<std::string> p = {"/strategy/name", "/schedule", "/stages", "/chunks", "/seed",
                                             "/optimizer/name", "/optimizer/lr", "/microbatches", "/batch_size",
                                             "/partition", "/model/name", "/dataset/name", "/steps", "/epochs"};
  return p;
}

}  // namespace

std::vector<std::string> differing_fields(const std::vector<const RunRecord*>& runs) {
  if (runs.size() < 2) return {};
  std::vector<std::map<std::string, std::string>> values;
  const bool partial = std::any_of(runs.begin(), runs.end(), [](const RunRecord* r) { return r->partial_config; });
  std::vector<std::string> keys;
  for (const RunRecord* r : runs) {
    values.push_back(fields(r->config));
    for (const auto& [k, v] : values.back())
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }
  std::vector<std::string> differ;
  for (const std::string& k : keys) {
    if (k == "/description") continue;  // prose, not a setting
    if (partial && !known_from_summary(k)) continue;
    const auto first = values[0].count(k) ? values[0].at(k) : std::string();
    for (std::size_t i = 1; i < values.size(); ++i)
      if ((values[i].count(k) ? values[i].at(k) : std::string()) != first) {
        differ.push_back(k);
        break;
      }
  }
  // Stages that differ explain the partition (and epochs the steps of an epoch-based run): one is enough.
  auto has = [&](const char* k) { return std::find(differ.begin(), differ.end(), k) != differ.end(); };
  if (has("/stages")) differ.erase(std::remove(differ.begin(), differ.end(), "/partition"), differ.end());
  const auto& p = priority();
  std::stable_sort(differ.begin(), differ.end(), [&](const std::string& a, const std::string& b) {
    const auto ia = std::find(p.begin(), p.end(), a) - p.begin(), ib = std::find(p.begin(), p.end(), b) - p.begin();
    return ia < ib;
  });
  return differ;
}

QString label_part(const RunRecord& run, const std::string& field) {
  const auto all = fields(run.config);
  const auto it = all.find(field);
  const QString v = QString::fromStdString(it == all.end() ? std::string("—") : it->second);
  const QString leaf = QString::fromStdString(field.substr(field.rfind('/') + 1));
  if (field == "/stages") return QObject::tr("%1 stages").arg(run.config.num_stages());
  if (field == "/chunks") return QObject::tr("%1 chunks/device").arg(v);
  if (field == "/seed") return QObject::tr("seed %1").arg(v);
  if (field == "/optimizer/lr") return QObject::tr("lr %1").arg(v);
  if (field == "/microbatches") return QObject::tr("%1 microbatches").arg(v);
  if (field == "/batch_size") return QObject::tr("batch %1").arg(v);
  if (field == "/steps") return QObject::tr("%1 steps").arg(v);
  if (field == "/epochs") return QObject::tr("%1 epochs").arg(v);
  if (field == "/partition") return QObject::tr("partition %1").arg(v);
  if (field == "/stage_devices") return QObject::tr("devices %1").arg(v);
  for (const char* plain : {"/strategy/name", "/schedule", "/model/name", "/dataset/name", "/optimizer/name", "/name",
                            "/executor", "/device"})
    if (field == plain) return v;
  return QStringLiteral("%1=%2").arg(leaf, v);
}

std::vector<QString> difference_labels(const std::vector<const RunRecord*>& runs, int max_parts) {
  const std::vector<std::string> differ = differing_fields(runs);
  std::vector<QString> out;
  for (const RunRecord* r : runs) {
    if (r->custom_name) {
      out.push_back(r->name);
      continue;
    }
    QStringList parts{r->number > 0 ? QObject::tr("run %1").arg(r->number) : r->name};
    if (differ.empty()) {
      if (r->number > 0 && !r->config.name.empty()) parts << QString::fromStdString(r->config.name);
    } else {
      for (std::size_t i = 0; i < differ.size() && int(i) < max_parts; ++i) parts << label_part(*r, differ[i]);
      if (int(differ.size()) > max_parts) parts << QObject::tr("+%1").arg(differ.size() - std::size_t(max_parts));
    }
    out.push_back(parts.join(QStringLiteral(" · ")));
  }
  return out;
}

}  // namespace ps::ui
