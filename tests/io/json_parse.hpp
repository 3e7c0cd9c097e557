// A small JSON parser for the io/ tests: enough of JSON to check the reports and exports (no
// surrogate pairs). Failing to parse fails the test, so outputs are also proven well-formed.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

namespace fl_test {

/// A parsed JSON value; enough of JSON to check the reports (no surrogate pairs).
struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool boolean = false;
  double number = 0;
  std::string text;
  std::vector<Json> items;       ///< array elements, or object values
  std::vector<std::string> keys; ///< object keys, parallel to items

  const Json &operator[](std::string_view key) const {
    REQUIRE_MESSAGE(kind == Object, "not an object, looking for " << key);
    for (std::size_t i = 0; i < keys.size(); ++i)
      if (keys[i] == key) return items[i];
    FAIL("missing key " << key);
    return *this;
  }
  const Json &operator[](std::size_t index) const {
    REQUIRE(kind == Array);
    REQUIRE(index < items.size());
    return items[index];
  }
  bool has(std::string_view key) const {
    for (const std::string &k : keys)
      if (k == key) return true;
    return false;
  }
};

class JsonParser {
public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  /// The value of the whole text; fails the test on any syntax error or trailing garbage.
  Json parse() {
    Json v = value();
    skip_space();
    REQUIRE_MESSAGE(pos_ == s_.size(), "trailing text at " << pos_);
    return v;
  }

private:
  void skip_space() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r'))
      ++pos_;
  }
  char peek() {
    skip_space();
    REQUIRE_MESSAGE(pos_ < s_.size(), "unexpected end of JSON");
    return s_[pos_];
  }
  void expect(char c) {
    REQUIRE_MESSAGE(peek() == c, "expected '" << c << "' at " << pos_);
    ++pos_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Json value() {
    const char c = peek();
    Json v;
    if (c == '{') return object();
    if (c == '[') return array();
    if (c == '"') {
      v.kind = Json::String;
      v.text = string();
    } else if (literal("true") || literal("false")) {
      v.kind = Json::Bool;
      v.boolean = s_[pos_ - 1] == 'e' && s_[pos_ - 2] == 'u';
    } else if (literal("null")) {
      v.kind = Json::Null;
    } else {
      const std::size_t start = pos_;
      while (pos_ < s_.size() &&
             std::string_view("+-0123456789.eE").find(s_[pos_]) != std::string_view::npos)
        ++pos_;
      REQUIRE_MESSAGE(pos_ > start, "unexpected character at " << start);
      v.kind = Json::Number;
      v.number = std::stod(std::string(s_.substr(start, pos_ - start)));
    }
    return v;
  }

  Json object() {
    Json v;
    v.kind = Json::Object;
    expect('{');
    if (peek() == '}') {
      ++pos_;
      return v;
    }
    for (;;) {
      REQUIRE(peek() == '"');
      v.keys.push_back(string());
      expect(':');
      v.items.push_back(value());
      if (peek() == '}') {
        ++pos_;
        return v;
      }
      expect(',');
    }
  }

  Json array() {
    Json v;
    v.kind = Json::Array;
    expect('[');
    if (peek() == ']') {
      ++pos_;
      return v;
    }
    for (;;) {
      v.items.push_back(value());
      if (peek() == ']') {
        ++pos_;
        return v;
      }
      expect(',');
    }
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      REQUIRE_MESSAGE(pos_ < s_.size(), "unterminated string");
      const char c = s_[pos_++];
      REQUIRE_MESSAGE(static_cast<unsigned char>(c) >= 0x20, "raw control character in string");
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      const char e = s_[pos_++];
      switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        const unsigned code = std::stoul(std::string(s_.substr(pos_, 4)), nullptr, 16);
        pos_ += 4;
        if (code < 0x80) {
          out += static_cast<char>(code);
        } else if (code < 0x800) {
          out += static_cast<char>(0xC0 | (code >> 6));
          out += static_cast<char>(0x80 | (code & 0x3F));
        } else {
          out += static_cast<char>(0xE0 | (code >> 12));
          out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
          out += static_cast<char>(0x80 | (code & 0x3F));
        }
        break;
      }
      default:
        FAIL("bad escape \\" << e);
      }
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

inline Json parse_json(const std::string &text) {
  return JsonParser(text).parse();
}

} // namespace fl_test
