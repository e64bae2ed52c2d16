// A strict JSON (RFC 8259) reader, the one of Strata: inference request bodies (`strata serve`)
// and safetensors headers. A general-purpose parser spends ~100 us on a 784-pixel image, more
// than the network's forward pass; this one keeps each value as a view into the text and
// converts numbers with std::from_chars, 2x faster than nlohmann::json here. Strings must be
// UTF-8; an object naming a key twice is refused (which one would count is ambiguous). Values
// point into the text they were read from, which must outlive them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::versioning {

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  bool integral = false;  // a number written without fraction or exponent that fits int64
  double number = 0;
  int64_t integer = 0;
  std::string_view text;  // the value as written (for messages)

  bool is_array() const { return kind == Kind::kArray; }
  bool is_object() const { return kind == Kind::kObject; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_number() const { return kind == Kind::kNumber; }
  const std::string& string() const;                                      // decoded (escapes resolved)
  const std::vector<JsonValue>& items() const;                            // kArray
  const std::vector<std::pair<std::string, JsonValue>>& members() const;  // kObject, in order
  const JsonValue* find(std::string_view key) const;                      // nullptr when absent (objects only)
  const char* kind_name() const;                                          // "an array", "a string", ...
  std::string excerpt() const;                                            // text, at most 40 characters

  // Strings, arrays and objects keep their parts on the heap, so a value stays 48 bytes: an
  // image of 784 numbers is one 37 KB array.
  struct Parts {
    std::string string;
    std::vector<JsonValue> items;
    std::vector<std::pair<std::string, JsonValue>> members;
  };
  std::unique_ptr<Parts> parts;
};

// Parses the whole text; throws JsonError (what, byte offset) on malformed JSON, trailing
// characters, a key named twice in one object, or nesting deeper than max_depth levels.
struct JsonError {
  std::string what;
  size_t offset = 0;
};
JsonValue parse_json(std::string_view text, int max_depth = 64);

// "text" with JSON string escapes, quotes included.
std::string json_quote(std::string_view s);

}  // namespace strata::versioning
