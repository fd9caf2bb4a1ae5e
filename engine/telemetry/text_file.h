// File helpers shared by the telemetry writers: appends of whole lines (a reader never sees half a
// row), atomic replacement (a reader never sees half a file) and number text that never breaks a CSV.
#pragma once
#include <optional>
#include <string>

namespace ps {

// Shortest text that reads back to the same double; "nan", "inf" and "-inf" for the non-finite.
std::string format_number(double v);

// Writes content to PATH.tmp and renames it to PATH. Throws InputError(path, "", reason).
void write_file_atomically(const std::string& path, const std::string& content);

// The whole file, or nullopt when it cannot be opened.
std::optional<std::string> read_text_file(const std::string& path);

// A text file created (or truncated) at construction and written by whole chunks: each append is
// one write(2) of complete lines, unbuffered, so the file on disk always ends at a line break.
class LineFile {
 public:
  explicit LineFile(std::string path);  // throws InputError(path, "", reason)
  ~LineFile();
  LineFile(const LineFile&) = delete;
  LineFile& operator=(const LineFile&) = delete;

  void append(const std::string& whole_lines);  // throws InputError on a failed write
  void close();                                 // idempotent; throws InputError on a failed close
  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace ps
