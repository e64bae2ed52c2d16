// The strict JSON reader shared by `strata serve` and the safetensors reader: what it accepts,
// what it refuses (with the byte where it stopped), and json_quote's escapes.
#include "strata/versioning/internal/json_reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

namespace strata::versioning {
namespace {

JsonError error_of(std::string_view text, int depth = 64) {
  try {
    parse_json(text, depth);
  } catch (const JsonError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << text;
  return {};
}

TEST(JsonReader, ReadsEveryKindOfValue) {
  const JsonValue v = parse_json(R"( {"a": [1, -2, 3.5, 1e3, true, false, null], "s": "x\"\\\/\n\u00e9\ud83d\ude00", "o": {}} )");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.members().size(), 3u);
  const JsonValue& a = *v.find("a");
  ASSERT_EQ(a.items().size(), 7u);
  EXPECT_TRUE(a.items()[0].integral);
  EXPECT_EQ(a.items()[1].integer, -2);
  EXPECT_FALSE(a.items()[2].integral);
  EXPECT_EQ(a.items()[2].number, 3.5);
  EXPECT_EQ(a.items()[3].number, 1000.0);
  EXPECT_FALSE(a.items()[3].integral);  // written with an exponent
  EXPECT_TRUE(a.items()[4].boolean);
  EXPECT_EQ(a.items()[6].kind, JsonValue::Kind::kNull);
  EXPECT_EQ(v.find("s")->string(), "x\"\\/\n\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(a.items()[2].text, "3.5");
  EXPECT_EQ(v.find("missing"), nullptr);
  EXPECT_TRUE(v.find("o")->is_object());
}

TEST(JsonReader, NumbersBeyondInt64AreNotIntegral) {
  const JsonValue v = parse_json("[9223372036854775807, 9223372036854775808, 1e400]");
  EXPECT_TRUE(v.items()[0].integral);
  EXPECT_EQ(v.items()[0].integer, INT64_MAX);
  EXPECT_FALSE(v.items()[1].integral);
  EXPECT_EQ(v.items()[1].number, 9223372036854775808.0);
  EXPECT_TRUE(std::isinf(v.items()[2].number));
  const JsonValue tiny = parse_json("[1e-400, -1e-400]");  // underflow: zero, not infinity
  EXPECT_EQ(tiny.items()[0].number, 0.0);
  EXPECT_TRUE(std::signbit(tiny.items()[1].number));
}

TEST(JsonReader, RefusesWhatRfc8259Refuses) {
  EXPECT_EQ(error_of("[1,]").what, "unexpected character ']'");
  EXPECT_EQ(error_of("[1] x").offset, 4u);
  EXPECT_EQ(error_of("01").what, "trailing characters after the value");
  EXPECT_EQ(error_of("-").what, "a number needs digits");
  EXPECT_EQ(error_of("1.").what, "a number needs digits after '.'");
  EXPECT_EQ(error_of("\"a").what, "unterminated string");
  EXPECT_EQ(error_of("\"\x01\"").what, "a control character in a string");
  EXPECT_EQ(error_of("\"\\x\"").what, "unknown escape '\\x'");
  EXPECT_EQ(error_of("\"\\ud800\"").what, "an unpaired surrogate in a \\u escape");
  EXPECT_EQ(error_of("\"\xff\"").what, "invalid UTF-8 in a string");
  EXPECT_EQ(error_of("\"\xc0\x80\"").what, "invalid UTF-8 in a string");      // overlong NUL
  EXPECT_EQ(error_of("\"\xed\xa0\x80\"").what, "invalid UTF-8 in a string");  // a surrogate
  EXPECT_EQ(error_of("{\"k\":1,\"k\":2}").what, "key 'k' appears twice");
  EXPECT_EQ(error_of("{1:2}").what, "expected a quoted member name");
  EXPECT_EQ(error_of("[[[1]]]", 2).what, "nested deeper than 2 levels");
  EXPECT_EQ(error_of("tru").what, "unexpected character 't'");
  EXPECT_EQ(error_of("").what, "unexpected end of the text");
  // Deep nesting is bounded, not a stack overflow.
  EXPECT_EQ(error_of(std::string(100000, '[')).what, "nested deeper than 64 levels");
}

TEST(JsonReader, QuoteEscapesWhatJsonNeeds) {
  EXPECT_EQ(json_quote("a\"b\\c\nd\te\rf\x01g"), "\"a\\\"b\\\\c\\nd\\te\\rf\\u0001g\"");
  EXPECT_EQ(parse_json(json_quote("x\"\x1fy")).string(), "x\"\x1fy");
}

}  // namespace
}  // namespace strata::versioning
