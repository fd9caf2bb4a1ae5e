// The data sets PipeScope knows, without LibTorch (the dashboard lists them).
#pragma once
#include <string>
#include <vector>

namespace ps {

struct DatasetCatalogEntry {
  std::string name;
  std::string summary;
  bool needs_files = false;
  std::string default_path;  // "" when none
};

const std::vector<DatasetCatalogEntry>& dataset_catalog();
bool is_dataset(const std::string& name);

}  // namespace ps
