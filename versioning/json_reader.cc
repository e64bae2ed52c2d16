#include "strata/versioning/internal/json_reader.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

namespace strata::versioning {
namespace {

class Reader {
 public:
  Reader(std::string_view text, int max_depth) : s_(text), max_depth_(max_depth) {}

  JsonValue document() {
    JsonValue v = value(0);
    skip_space();
    if (pos_ != s_.size()) fail("trailing characters after the value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw JsonError{what, pos_}; }

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool take(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!take(c)) fail(std::string("expected '") + c + "'");
  }

  JsonValue value(int depth) {
    if (depth > max_depth_) fail("nested deeper than " + std::to_string(max_depth_) + " levels");
    skip_space();
    if (pos_ >= s_.size()) fail("unexpected end of the text");
    const size_t start = pos_;
    JsonValue v;
    const char c = s_[pos_];
    if (c == '{')
      object(v, depth);
    else if (c == '[')
      array(v, depth);
    else if (c == '"')
      v.kind = JsonValue::Kind::kString, parts(v).string = string();
    else if (c == '-' || (c >= '0' && c <= '9'))
      number(v);
    else if (literal("true"))
      v.kind = JsonValue::Kind::kBool, v.boolean = true;
    else if (literal("false"))
      v.kind = JsonValue::Kind::kBool;
    else if (literal("null"))
      v.kind = JsonValue::Kind::kNull;
    else
      fail(std::string("unexpected character '") + c + "'");
    v.text = s_.substr(start, pos_ - start);
    return v;
  }

  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  static JsonValue::Parts& parts(JsonValue& v) {
    if (!v.parts) v.parts = std::make_unique<JsonValue::Parts>();
    return *v.parts;
  }

  void object(JsonValue& v, int depth) {
    v.kind = JsonValue::Kind::kObject;
    parts(v);
    ++pos_;
    if (take('}')) return;
    do {
      skip_space();
      if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a quoted member name");
      std::string key = string();
      expect(':');
      for (const auto& [k, other] : v.parts->members)
        if (k == key) fail("key '" + key + "' appears twice");
      v.parts->members.emplace_back(std::move(key), value(depth + 1));
    } while (take(','));
    expect('}');
  }

  void array(JsonValue& v, int depth) {
    v.kind = JsonValue::Kind::kArray;
    parts(v);
    ++pos_;
    if (take(']')) return;
    do v.parts->items.push_back(value(depth + 1));
    while (take(','));
    expect(']');
  }

  // JSON's number grammar, then from_chars: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  void number(JsonValue& v) {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t d = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ > d;
    };
    if (s_[pos_] == '-') ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '0')
      ++pos_;
    else if (!digits())
      fail("a number needs digits");
    bool integral = true;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      integral = false;
      if (!digits()) fail("a number needs digits after '.'");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      integral = false;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) fail("a number needs digits in its exponent");
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;
    v.kind = JsonValue::Kind::kNumber;
    if (integral && std::from_chars(first, last, v.integer).ec == std::errc()) v.integral = true;
    const auto [end, ec] = std::from_chars(first, last, v.number);
    if (ec == std::errc::result_out_of_range) {  // past double's range: overflow, or underflow to 0
      const std::string_view digits_text(first, static_cast<size_t>(last - first));
      const size_t e = digits_text.find_first_of("eE");
      const bool underflow = e != std::string_view::npos && e + 1 < digits_text.size() && digits_text[e + 1] == '-';
      v.number = (*first == '-' ? -1.0 : 1.0) * (underflow ? 0.0 : HUGE_VAL);
    } else if (ec != std::errc() || end != last)
      fail("malformed number");
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // The continuation bytes of a UTF-8 sequence that starts with `lead` (already consumed);
  // overlong forms, surrogates and code points past U+10FFFF are refused.
  void utf8_sequence(std::string& out, unsigned char lead) {
    const int extra = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : -1;
    if (extra < 0 || lead > 0xF4 || pos_ + static_cast<size_t>(extra) > s_.size()) fail("invalid UTF-8 in a string");
    uint32_t cp = lead & (0x3F >> extra);
    for (int k = 0; k < extra; ++k) {
      const auto b = static_cast<unsigned char>(s_[pos_ + static_cast<size_t>(k)]);
      if ((b & 0xC0) != 0x80) fail("invalid UTF-8 in a string");
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) fail("invalid UTF-8 in a string");
    out.append(s_.data() + pos_ - 1, static_cast<size_t>(extra) + 1);
    pos_ += static_cast<size_t>(extra);
  }

  uint32_t hex4() {
    if (pos_ + 4 > s_.size()) fail("a \\u escape needs 4 hex digits");
    uint32_t cp = 0;
    const auto [end, ec] = std::from_chars(s_.data() + pos_, s_.data() + pos_ + 4, cp, 16);
    if (ec != std::errc() || end != s_.data() + pos_ + 4) fail("a \\u escape needs 4 hex digits");
    pos_ += 4;
    return cp;
  }

  std::string string() {
    ++pos_;  // the opening quote
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("a control character in a string");
      if (static_cast<unsigned char>(c) >= 0x80) {
        utf8_sequence(out, static_cast<unsigned char>(c));
        continue;
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated string");
      const char e = s_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
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
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(pos_, 2) == "\\u") {  // a surrogate pair
            pos_ += 2;
            const uint32_t low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("an unpaired surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          if (cp >= 0xD800 && cp <= 0xDFFF) fail("an unpaired surrogate in a \\u escape");
          append_utf8(out, cp);
          break;
        }
        default:
          fail(std::string("unknown escape '\\") + e + "'");
      }
    }
  }

  std::string_view s_;
  int max_depth_;
  size_t pos_ = 0;
};

}  // namespace

const std::string& JsonValue::string() const {
  static const std::string kEmpty;
  return parts ? parts->string : kEmpty;
}

const std::vector<JsonValue>& JsonValue::items() const {
  static const std::vector<JsonValue> kEmpty;
  return parts ? parts->items : kEmpty;
}

const std::vector<std::pair<std::string, JsonValue>>& JsonValue::members() const {
  static const std::vector<std::pair<std::string, JsonValue>> kEmpty;
  return parts ? parts->members : kEmpty;
}

const JsonValue* JsonValue::find(std::string_view key) const {
  for (const auto& [k, v] : members())
    if (k == key) return &v;
  return nullptr;
}

const char* JsonValue::kind_name() const {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "a boolean";
    case Kind::kNumber:
      return "a number";
    case Kind::kString:
      return "a string";
    case Kind::kArray:
      return "an array";
    case Kind::kObject:
      return "an object";
  }
  return "?";
}

std::string JsonValue::excerpt() const { return text.size() <= 40 ? std::string(text) : std::string(text.substr(0, 37)) + "..."; }

JsonValue parse_json(std::string_view text, int max_depth) { return Reader(text, max_depth).document(); }

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace strata::versioning
