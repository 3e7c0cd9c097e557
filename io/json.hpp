// A tiny JSON writer for the reports: objects, arrays, strings, numbers, bools, null.
// No third-party library: the output is small and its shape is fixed by report.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flopledger::io {

/// `text` as a JSON string literal, quotes included. Escapes '"', '\\' and every control
/// character (U+0000..U+001F); valid UTF-8 passes through unchanged; bytes that are not valid
/// UTF-8 become U+FFFD so that the output is always valid JSON.
std::string json_quote(std::string_view text);

/// Streaming writer. Calls must nest properly (key() only inside an object, each key followed by
/// exactly one value); the writer inserts commas and, when `indent` > 0, newlines and spaces.
class JsonWriter {
public:
  explicit JsonWriter(int indent = 0) : indent_(indent) {}

  JsonWriter &begin_object();
  JsonWriter &end_object();
  JsonWriter &begin_array();
  JsonWriter &end_array();
  JsonWriter &key(std::string_view name);

  JsonWriter &value(std::string_view text);
  JsonWriter &value(const char *text) { return value(std::string_view(text)); }
  JsonWriter &value(const std::string &text) { return value(std::string_view(text)); }
  JsonWriter &value(bool flag);
  JsonWriter &value(double number); ///< shortest round-trip form; NaN and infinities as null
  JsonWriter &value(std::uint64_t number);
  JsonWriter &value(std::int64_t number);
  JsonWriter &value(std::uint32_t number) { return value(static_cast<std::uint64_t>(number)); }
  JsonWriter &value(std::int32_t number) { return value(static_cast<std::int64_t>(number)); }
  /// A JSON number with every digit of `number` (JSON numbers have no size limit; readers that
  /// keep integers exact, such as Python's json, read it back exactly).
  JsonWriter &integer(unsigned __int128 number);
  JsonWriter &null();

  /// Shorthand for key(name).value(v).
  template <typename T> JsonWriter &field(std::string_view name, const T &v) {
    key(name);
    return value(v);
  }

  const std::string &str() const { return out_; }

private:
  void before_value();
  void open(char bracket);
  void close(char bracket);
  void newline();

  struct Level {
    bool empty = true;
  };
  std::string out_;
  std::vector<Level> levels_;
  bool after_key_ = false;
  int indent_ = 0;
};

} // namespace flopledger::io
