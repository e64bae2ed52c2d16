// Tests of datasets/text.h and of integer (token id) data in Dataset and the DataLoader: UTF-8
// and Latin-1, lowercasing, the Vocabulary (ordering, encode/decode, string round trip,
// malformed strings), word lists, fortunes and language-model windows. Every file is written
// by the test into a fresh temp dir; the tests over Debian's real files skip when the packages
// are missing.
#include "strata/datasets/text.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "strata/datasets/data_loader.h"
#include "strata/datasets/dataset.h"
#include "strata/framework/core/error.h"
#include "tests/datasets/dataset_test_util.h"
#include "tests/expect_error.h"

namespace strata {
namespace {

using dtest::TempDir;

void write_text(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(std::fwrite(text.data(), 1, text.size(), f), text.size());
  std::fclose(f);
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// --- UTF-8 -----------------------------------------------------------------------------------

TEST(Utf8, StrictValidation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii\n"));
  EXPECT_TRUE(is_valid_utf8("\xC3\xA5 \xE2\x82\xAC \xF0\x9F\x98\x80"));  // å € 😀
  EXPECT_FALSE(is_valid_utf8("\xE5"));                                   // Latin-1 å
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));                               // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));                           // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));                       // U+110000
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));                               // truncated €
  EXPECT_FALSE(is_valid_utf8("\x80"));                                   // lone continuation byte
}

TEST(Utf8, SplitAndLatin1Fallback) {
  EXPECT_EQ(utf8_characters("a\xC3\xA5\xE2\x82\xAC\xF0\x9F\x98\x80\n"),
            (std::vector<std::string>{"a", "\xC3\xA5", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\n"}));
  EXPECT_EQ(latin1_to_utf8("b\xE5t\xFF"), "b\xC3\xA5t\xC3\xBF");
  // One invalid byte makes the whole string Latin-1: the valid-looking "Ã¥" is two characters.
  EXPECT_EQ(utf8_characters("\xC3\xA5\xE5"), (std::vector<std::string>{"\xC3\x83", "\xC2\xA5", "\xC3\xA5"}));
  EXPECT_EQ(to_utf8("\xC3\xA5"), "\xC3\xA5");
  EXPECT_EQ(to_utf8("\xE5"), "\xC3\xA5");
  EXPECT_TRUE(utf8_characters("").empty());
}

TEST(Utf8, LowercaseLatin) {
  EXPECT_EQ(lowercase_latin("ABC xyz 09"), "abc xyz 09");
  // Latin-1: ÅÄÖÉÇÑÜÞ, × and ß unchanged.
  EXPECT_EQ(lowercase_latin("ÅÄÖÉÇÑÜÞ × ß"), "åäöéçñüþ × ß");
  // Latin Extended-A, both alignments, and the exceptions İ -> i, Ÿ -> ÿ, ı ĸ ŉ ſ kept.
  EXPECT_EQ(lowercase_latin("ĀČĘĞĲĹŁŃŇŊŐŒŘŚŠŸŹŻŽ"), "āčęğĳĺłńňŋőœřśšÿźżž");
  EXPECT_EQ(lowercase_latin("İıĸŉſ"), "iıĸŉſ");
  EXPECT_EQ(lowercase_latin("ΣЖ"), "ΣЖ");  // outside the Latin ranges: unchanged
  expect_error([] { lowercase_latin("\xE5"); }, ErrorCode::kInvalidArgument, {"not valid UTF-8"});
}

// --- Vocabulary ------------------------------------------------------------------------------

TEST(Vocabulary, BuildOrdersByCountThenBytes) {
  const Vocabulary v = build_vocabulary({"abca", "b\n%"}, TextUnit::kChar);
  // a and b twice (a < b), then "\n" (0x0A) < "%" (0x25) < "c" once.
  ASSERT_EQ(v.size(), 7);
  EXPECT_EQ(v.unit(), TextUnit::kChar);
  const std::vector<std::string> expected = {"<pad>", "<unk>", "a", "b", "\n", "%", "c"};
  for (int64_t i = 0; i < v.size(); ++i) EXPECT_EQ(v.symbol(i), expected[i]) << i;
  EXPECT_EQ(build_vocabulary({"b\n%", "abca"}, TextUnit::kChar), v);  // text order is irrelevant
  const Vocabulary frequent = build_vocabulary({"abca", "b\n%"}, TextUnit::kChar, 2);
  EXPECT_EQ(frequent.size(), 4);
  EXPECT_EQ(frequent.encode("abc%"), (std::vector<int64_t>{2, 3, 1, 1}));
  // Characters, not bytes: "é" is one symbol; as bytes it is two.
  EXPECT_EQ(build_vocabulary({"é"}, TextUnit::kChar).size(), 3);
  const Vocabulary bytes = build_vocabulary({"é"}, TextUnit::kByte);
  ASSERT_EQ(bytes.size(), 4);
  EXPECT_EQ(bytes.symbol(2), "\xA9");  // counts tie: ascending bytes, 0xA9 < 0xC3
  EXPECT_EQ(bytes.symbol(3), "\xC3");
  // Latin-1 text is converted per text.
  EXPECT_EQ(build_vocabulary({"\xE5"}, TextUnit::kChar).symbol(2), "å");
  expect_error([] { build_vocabulary({"a"}, TextUnit::kChar, 0); }, ErrorCode::kInvalidArgument, {"min_count must be >= 1"});
}

TEST(Vocabulary, EncodeDecode) {
  const Vocabulary v(TextUnit::kChar, {"a", "b", "å", "\n"});
  EXPECT_EQ(v.id("a"), 2);
  EXPECT_EQ(v.id("å"), 4);
  EXPECT_EQ(v.id("z"), Vocabulary::kUnknown);
  EXPECT_EQ(v.id("<pad>"), Vocabulary::kUnknown);  // the name of id 0 is no symbol
  EXPECT_EQ(v.encode("ab\nåz"), (std::vector<int64_t>{2, 3, 5, 4, 1}));
  EXPECT_EQ(v.encode("\xE5"), (std::vector<int64_t>{4}));  // Latin-1 input
  EXPECT_EQ(v.decode({0, 2, 0, 3, 1, 4, 5, 0}),
            "ab\xEF\xBF\xBD"
            "å\n");
  EXPECT_EQ(v.decode(v.encode("ba\nå")), "ba\nå");
  expect_error(
      [&] {
        v.decode({2, 6});
      },
      ErrorCode::kInvalidArgument, {"token id 6 at position 1 is outside the vocabulary [0, 6)"});
  expect_error([&] { v.symbol(-1); }, ErrorCode::kInvalidArgument, {"token id -1"});
  expect_error([] { Vocabulary(TextUnit::kChar, {"ab"}); }, ErrorCode::kInvalidArgument, {"more than one character"});
  expect_error([] { Vocabulary(TextUnit::kChar, {"a", "a"}); }, ErrorCode::kInvalidArgument, {"appears twice"});

  const Vocabulary b(TextUnit::kByte, {"\xC3", "\xA5", "a"});
  EXPECT_EQ(b.encode("aå"), (std::vector<int64_t>{4, 2, 3}));
  EXPECT_EQ(b.decode(b.encode("aå")), "aå");
  EXPECT_EQ(b.encode("\xE5"), (std::vector<int64_t>{1}));  // bytes are not converted
}

TEST(Vocabulary, StringRoundTrip) {
  const Vocabulary v(TextUnit::kChar, {"e", "\n", "\t", " ", "%", "=", ",", "å", "€", "<", "\"", "\\", "'", "\r", "Z", "9"});
  const std::string s = v.to_string();
  EXPECT_EQ(s,
            "strata-vocabulary/1 char 18 <pad> <unk> e %0A %09 %20 %25 %3D %2C %C3%A5 %E2%82%AC "
            "< %22 %5C %27 %0D Z 9");
  const Vocabulary back = Vocabulary::from_string(s);
  EXPECT_EQ(back, v);
  EXPECT_EQ(back.to_string(), s);
  for (int64_t i = 0; i < v.size(); ++i) EXPECT_EQ(back.symbol(i), v.symbol(i));
  EXPECT_EQ(back.id("€"), 10);

  std::vector<std::string> all_bytes;
  for (int c = 255; c >= 0; --c) all_bytes.push_back(std::string(1, static_cast<char>(c)));
  const Vocabulary bytes(TextUnit::kByte, all_bytes);
  const std::string bs = bytes.to_string();
  for (char c : bs) EXPECT_TRUE(c >= 0x20 && c < 0x7F && c != '=' && c != ',' && c != '"') << int(c);
  EXPECT_EQ(Vocabulary::from_string(bs), bytes);
  EXPECT_EQ(Vocabulary::from_string(Vocabulary().to_string()), Vocabulary());
  EXPECT_EQ(Vocabulary().to_string(), "strata-vocabulary/1 char 2 <pad> <unk>");
}

TEST(Vocabulary, MalformedStringsRefused) {
  const std::string tag = "strata-vocabulary/1 ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "does not start with 'strata-vocabulary/1'"},
      {"strata-vocabulary/2 char 2 <pad> <unk>", "does not start"},
      {tag + "char", "the unit and the number of ids are missing"},
      {tag + "word 2 <pad> <unk>", "unit 'word' is neither"},
      {tag + "char x <pad> <unk>", "'x' is not a number"},
      {tag + "char 3 <pad> <unk>", "says 3 ids but holds 2 symbols"},
      {tag + "char 2 <pad> <unk> ", "says 2 ids but holds 3 symbols"},
      {tag + "char 2 <unk> <pad>", "ids 0 and 1 must be <pad> and <unk>"},
      {tag + "char 3 <pad> <unk> %4", "bad escape in symbol 2"},
      {tag + "char 3 <pad> <unk> %c3%a5", "bad escape"},
      {tag + "char 3 <pad> <unk> \n", "unescaped byte '\\x0A'"},
      {tag + "char 3 <pad> <unk> =", "unescaped byte '='"},
      {tag + "char 3 <pad> <unk> ab", "more than one character"},
      {tag + "char 3 <pad> <unk> %C3", "not valid UTF-8"},
      {tag + "char 3 <pad> <unk> %", "bad escape"},
      {tag + "char 3 <pad> <unk> ", "is empty"},
      {tag + "char 4 <pad> <unk> a a", "appears twice"},
      {tag + "byte 3 <pad> <unk> %C3%A5", "2 bytes, expected one byte"},
  };
  for (const auto& [text, part] : cases) {
    SCOPED_TRACE(text);
    expect_error([&] { Vocabulary::from_string(text); }, ErrorCode::kCorruption, {"vocabulary string", part});
  }
}

// --- Word lists ------------------------------------------------------------------------------

// Decoded rows of class `label`.
std::vector<std::string> words_of(const Dataset& d, const Vocabulary& v, int64_t label) {
  std::vector<std::string> out;
  const int64_t width = d.x.dim(1);
  for (int64_t i = 0; i < d.size(); ++i)
    if (d.y.data<int64_t>()[i] == label) out.push_back(v.decode(d.x.data<int64_t>() + i * width, width));
  return out;
}

TEST(WordLists, FilterDeduplicateSampleAndPad) {
  TempDir dir;
  write_text(dir.sub("en"),
             "Apple\napple\ncat\ndog's\nice cream\nr2d2\nhouse\r\nab\nextraordinarily\nbanana\nhaus\n"
             "it\xE2\x80\x99s\n");
  // German, as Latin-1: the file is not UTF-8, so every byte is a Latin-1 character.
  write_text(dir.sub("de"), "Haus\nKatze\nHund\nApfel\nBanane\n\xC4pfel\n");
  const std::vector<std::pair<std::string, std::string>> lists = {{"english", dir.sub("en")}, {"german", dir.sub("de")}};
  const auto opts = WordListOptions().min_length(3).max_length(6).words_per_language(4).seed(5);
  Vocabulary v;
  const Dataset d = read_word_lists(lists, opts, &v);
  d.validate("word lists");
  EXPECT_EQ(d.num_classes, 2);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"english", "german"}));
  EXPECT_EQ(d.source, dir.sub("en") + ", " + dir.sub("de"));
  EXPECT_NE(d.preprocess.find("words found in several lists dropped: 1"), std::string::npos) << d.preprocess;
  ASSERT_EQ(d.x.dtype(), DType::kI64);
  ASSERT_EQ(d.x.shape(), (Shape{8, 6}));
  ASSERT_EQ(d.y.shape(), (Shape{8}));
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(d.y.data<int64_t>()[i], i % 2);  // interleaved

  // English: lowercased and merged (Apple/apple), 4 usable words of 3..6 characters without
  // apostrophes, spaces or digits, "haus" dropped (also German): all four are taken.
  std::vector<std::string> en = words_of(d, v, 0);
  std::sort(en.begin(), en.end());
  EXPECT_EQ(en, (std::vector<std::string>{"apple", "banana", "cat", "house"}));
  // German: 4 of apfel, äpfel, banane, hund, katze, without repetition.
  const std::vector<std::string> de = words_of(d, v, 1);
  const std::set<std::string> de_all = {"apfel", "äpfel", "banane", "hund", "katze"};
  EXPECT_EQ(std::set<std::string>(de.begin(), de.end()).size(), 4u);
  for (const std::string& w : de) EXPECT_TRUE(de_all.count(w)) << w;
  EXPECT_NE(v.id("ä"), Vocabulary::kUnknown);
  // Every row is its word's character ids, then padding.
  for (int64_t i = 0; i < 8; ++i) {
    const int64_t* row = d.x.data<int64_t>() + i * 6;
    const std::string word = v.decode(row, 6);
    const std::vector<int64_t> ids = v.encode(word);
    for (int64_t k = 0; k < 6; ++k) EXPECT_EQ(row[k], k < static_cast<int64_t>(ids.size()) ? ids[k] : 0) << word << " " << k;
    for (int64_t id : ids) EXPECT_GE(id, 2);
  }

  // Deterministic for a seed; another seed samples or orders differently.
  Vocabulary v2;
  const Dataset again = read_word_lists(lists, opts, &v2);
  EXPECT_TRUE(again.x.bit_equal(d.x));
  EXPECT_TRUE(again.y.bit_equal(d.y));
  EXPECT_EQ(v2, v);
  Vocabulary v3;
  const Dataset other = read_word_lists(lists, WordListOptions(opts).seed(6), &v3);
  EXPECT_NE(words_of(other, v3, 1), de);
  EXPECT_EQ(read_word_lists(lists, opts, nullptr).size(), 8);

  // Case kept without lowercasing: Apple and apple are two words, and haus is not Haus.
  const Dataset cased = read_word_lists(lists, WordListOptions(opts).lowercase(false).words_per_language(6), &v3);
  std::vector<std::string> en_cased = words_of(cased, v3, 0);
  std::sort(en_cased.begin(), en_cased.end());
  EXPECT_EQ(en_cased, (std::vector<std::string>{"Apple", "apple", "banana", "cat", "haus", "house"}));
  EXPECT_NE(v3.id("H"), Vocabulary::kUnknown);
}

TEST(WordLists, Errors) {
  TempDir dir;
  write_text(dir.sub("a"), "one\ntwo\nsix\n");
  write_text(dir.sub("b"), "one\nten\n");
  const std::vector<std::pair<std::string, std::string>> lists = {{"a", dir.sub("a")}, {"b", dir.sub("b")}};
  expect_error([&] { read_word_lists(lists, WordListOptions().words_per_language(2), nullptr); }, ErrorCode::kInvalidArgument,
               {"the b list has only 1 usable words", "fewer than words_per_language 2", dir.sub("b")});
  expect_error(
      [&] {
        read_word_lists({{"a", dir.sub("a")}, {"x", dir.sub("missing")}}, WordListOptions(), nullptr);
      },
      ErrorCode::kNotFound, {"word list of x", dir.sub("missing"), "check the path"});
  expect_error([&] { read_word_lists({}, WordListOptions(), nullptr); }, ErrorCode::kInvalidArgument, {"no word lists"});
  expect_error([&] { read_word_lists(lists, WordListOptions().min_length(5).max_length(4), nullptr); },
               ErrorCode::kInvalidArgument, {"min_length <= max_length"});
  expect_error([&] { read_word_lists(lists, WordListOptions().words_per_language(0), nullptr); }, ErrorCode::kInvalidArgument,
               {"words_per_language must be >= 1"});
  expect_error(
      [&] {
        read_word_lists({{"a", dir.sub("a")}, {"a", dir.sub("b")}}, WordListOptions(), nullptr);
      },
      ErrorCode::kInvalidArgument, {"language 'a' is given twice"});
}

TEST(WordLists, DebianLists) {
  const auto lists = default_word_lists();
  ASSERT_EQ(lists.size(), 8u);
  EXPECT_EQ(lists[1], (std::pair<std::string, std::string>{"german", "/usr/share/dict/ngerman"}));
  for (const auto& [name, path] : lists)
    if (!exists(path))
      GTEST_SKIP() << path
                   << " missing: install wamerican wngerman wfrench witalian wspanish "
                      "wportuguese wdutch wswedish (scripts/install_deps.sh)";
  Vocabulary v;
  const Dataset d = read_word_lists(lists, WordListOptions().words_per_language(2000), &v);
  d.validate("word lists");
  EXPECT_EQ(d.num_classes, 8);
  EXPECT_EQ(d.size(), 16000);
  EXPECT_EQ(d.x.shape(), (Shape{16000, 16}));
  EXPECT_GE(v.size(), 40);
  EXPECT_LE(v.size(), 200);
  EXPECT_NE(v.id("å"), Vocabulary::kUnknown);  // swedish, read as Latin-1, and said so
  EXPECT_NE(d.preprocess.find("read as Latin-1 (not UTF-8): /usr/share/dict/swedish"), std::string::npos) << d.preprocess;
  EXPECT_EQ(d.preprocess.find("ngerman", d.preprocess.find("Latin-1")), std::string::npos) << d.preprocess;
  EXPECT_NE(v.id("ß"), Vocabulary::kUnknown);
  EXPECT_EQ(v.id("A"), Vocabulary::kUnknown);  // lowercased
  EXPECT_EQ(Vocabulary::from_string(v.to_string()), v);
}

// --- Fortunes and language-model windows ------------------------------------------------------

TEST(Fortunes, ReadsPlainFortuneFilesInNameOrder) {
  TempDir dir;
  write_text(dir.sub("beta"), "B\xE9ta\n%\n");  // Latin-1
  write_text(dir.sub("beta.dat"), "index");
  write_text(dir.sub("alpha"), "One.\n%\nTwo\n  lines.\n\n%\n\n%\nThree %\n");
  write_text(dir.sub("alpha.dat"), "index");
  write_text(dir.sub("gamma"), "no index, not a fortune file\n");
  ASSERT_EQ(::symlink("alpha", dir.sub("alpha.u8").c_str()), 0);
  ASSERT_EQ(::symlink("alpha", dir.sub("delta").c_str()), 0);  // a link without extension
  write_text(dir.sub("delta.dat"), "index");
  ASSERT_EQ(::mkdir(dir.sub("off").c_str(), 0755), 0);
  write_text(dir.sub("off/rude"), "Shpx.\n%\n");
  write_text(dir.sub("off/rude.dat"), "index");
  write_text(dir.sub("off.dat"), "index");

  EXPECT_EQ(read_fortunes(dir.path()), "One.\n\nTwo\n  lines.\n\nThree %\n\nBéta");
  EXPECT_EQ(read_fortunes(dir.path(), {"beta"}), "Béta");
  expect_error([&] { read_fortunes(dir.sub("nowhere")); }, ErrorCode::kNotFound,
               {"fortune directory not found", "install the Debian package fortunes"});
  expect_error([&] { read_fortunes(dir.path(), {"epsilon"}); }, ErrorCode::kNotFound,
               {"fortune file", dir.sub("epsilon"), "fortunes"});
  TempDir empty;
  expect_error([&] { read_fortunes(empty.path()); }, ErrorCode::kNotFound, {"no fortune files"});
}

TEST(Fortunes, DebianFortunes) {
  if (!exists("/usr/share/games/fortunes/fortunes.dat"))
    GTEST_SKIP() << "/usr/share/games/fortunes missing: install fortunes (scripts/install_deps.sh)";
  const std::string text = read_fortunes();
  EXPECT_GT(text.size(), 1000000u);
  EXPECT_TRUE(is_valid_utf8(text));
  EXPECT_EQ(text.find("\n%\n"), std::string::npos);
  const Vocabulary v = build_vocabulary({text}, TextUnit::kChar, 10);
  EXPECT_GT(v.size(), 60);
  EXPECT_EQ(v.symbol(2), " ");  // the most common character
}

TEST(LanguageModel, WindowsAreNextTokenPairs) {
  std::vector<int64_t> ids(10);
  std::iota(ids.begin(), ids.end(), 0);
  const Dataset d = language_model_windows(ids, 3, 2, 10);
  d.validate("windows");
  EXPECT_EQ(d.num_classes, 10);
  ASSERT_EQ(d.x.shape(), (Shape{4, 3}));
  ASSERT_EQ(d.y.shape(), (Shape{4, 3}));
  EXPECT_EQ(std::vector<int64_t>(d.x.data<int64_t>(), d.x.data<int64_t>() + 12),
            (std::vector<int64_t>{0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8}));
  EXPECT_EQ(std::vector<int64_t>(d.y.data<int64_t>(), d.y.data<int64_t>() + 12),
            (std::vector<int64_t>{1, 2, 3, 3, 4, 5, 5, 6, 7, 7, 8, 9}));
  // Exactly window + 1 ids: one window; stride past the end: still one.
  EXPECT_EQ(language_model_windows(ids, 9, 1, 10).size(), 1);
  EXPECT_EQ(language_model_windows(ids, 3, 100, 10).size(), 1);
  EXPECT_EQ(language_model_windows(ids, 1, 1, 10).size(), 9);
  expect_error([&] { language_model_windows(ids, 0, 1, 10); }, ErrorCode::kInvalidArgument, {"window and stride must be >= 1"});
  expect_error([&] { language_model_windows(ids, 2, 0, 10); }, ErrorCode::kInvalidArgument, {"stride 0"});
  expect_error([&] { language_model_windows(ids, 10, 1, 10); }, ErrorCode::kInvalidArgument,
               {"10 ids are too few for one window of 10"});
  expect_error([&] { language_model_windows(ids, 3, 1, 9); }, ErrorCode::kInvalidArgument,
               {"id 9 at position 9 is outside [0, 9)"});
}

// --- Integer data in Dataset and the DataLoader ----------------------------------------------

TEST(IntegerData, ValidateAcceptsTokenIdsAndTheIgnoreIndex) {
  Dataset d;
  d.x = Tensor({2, 3}, DType::kI64);
  d.y = Tensor({2, 3}, DType::kI64);
  d.num_classes = 4;
  d.y.data<int64_t>()[1] = kIgnoreIndex;
  d.y.data<int64_t>()[5] = 3;
  d.validate();
  d.x = Tensor({2, 3}, DType::kI32);
  d.validate();
  d.y.data<int64_t>()[4] = -2;
  expect_error([&] { d.validate(); }, ErrorCode::kInvalidArgument,
               {"label -2 of sample 1 position 1 is outside [0, 4) and is not the ignore index"});
  d.y.data<int64_t>()[4] = 4;
  expect_error([&] { d.validate(); }, ErrorCode::kInvalidArgument, {"label 4 of sample 1"});
  // One label per sample: the ignore index is no class.
  d.y = Tensor({2}, DType::kI64);
  d.y.data<int64_t>()[0] = kIgnoreIndex;
  expect_error([&] { d.validate(); }, ErrorCode::kInvalidArgument, {"label -1 of sample 0"});
  d.y = Tensor({2, 3, 1}, DType::kI64);
  expect_error([&] { d.validate(); }, ErrorCode::kInvalidArgument, {"i64 [N] or [N,T]"});
  d.y = Tensor({2}, DType::kI64);
  d.x = Tensor({2, 3}, DType::kU8);
  expect_error([&] { d.validate(); }, ErrorCode::kInvalidArgument, {"x must be f32", "got u8"});
}

using dtest::run_epoch;

TEST(IntegerData, LoaderCopiesRowsInTheShuffledOrder) {
  std::vector<int64_t> ids(50);
  for (int64_t i = 0; i < 50; ++i) ids[i] = (i * 7) % 13;
  const Dataset d = language_model_windows(ids, 4, 1, 13);  // 46 windows
  const auto opts = DataLoaderOptions().batch_size(5).seed(3);
  DataLoader a(d, opts);
  DataLoader b(d, DataLoaderOptions(opts).prefetch(false).threads(2));
  EXPECT_EQ(a.num_batches(), 10);
  for (int64_t epoch : {1, 2}) {
    const std::vector<Batch> ba = run_epoch(a, epoch), bb = run_epoch(b, epoch);
    const std::vector<int64_t> order = a.epoch_order(epoch);
    ASSERT_EQ(ba.size(), 10u);
    int64_t pos = 0;
    for (size_t i = 0; i < ba.size(); ++i) {
      EXPECT_EQ(ba[i].x.dtype(), DType::kI64);
      EXPECT_EQ(ba[i].x.shape(), (Shape{ba[i].size, 4}));
      EXPECT_EQ(ba[i].y.shape(), (Shape{ba[i].size, 4}));
      EXPECT_TRUE(ba[i].x.bit_equal(bb[i].x));
      EXPECT_TRUE(ba[i].y.bit_equal(bb[i].y));
      for (int64_t k = 0; k < ba[i].size; ++k, ++pos) {
        const int64_t s = order[pos];
        for (int64_t t = 0; t < 4; ++t) {
          EXPECT_EQ(ba[i].x.data<int64_t>()[k * 4 + t], ids[s + t]);
          EXPECT_EQ(ba[i].y.data<int64_t>()[k * 4 + t], ids[s + t + 1]);
        }
      }
    }
    EXPECT_EQ(pos, 46);
    EXPECT_EQ(ba.back().size, 1);
  }
  const std::vector<Batch> epoch2 = run_epoch(a, 2);
  a.seek({2, 3});
  Batch batch;
  ASSERT_TRUE(a.next(batch));
  EXPECT_TRUE(batch.x.bit_equal(epoch2[3].x));
  EXPECT_TRUE(batch.y.bit_equal(epoch2[3].y));

  // i32 ids are copied as they are.
  Dataset small;
  small.x = Tensor({3, 2}, DType::kI32);
  for (int32_t i = 0; i < 6; ++i) small.x.data<int32_t>()[i] = 100 + i;
  small.y = Tensor({3}, DType::kI64);
  small.num_classes = 1;
  DataLoader in_order(small, DataLoaderOptions().batch_size(3).shuffle(false));
  ASSERT_TRUE(in_order.next(batch));
  ASSERT_EQ(batch.x.dtype(), DType::kI32);
  EXPECT_TRUE(batch.x.bit_equal(small.x));
}

TEST(IntegerData, LoaderRefusesFloatTransforms) {
  std::vector<int64_t> ids(20, 1);
  const Dataset d = language_model_windows(ids, 4, 4, 3);
  expect_error([&] { DataLoader l(d, DataLoaderOptions().normalize({0.5f}, {2.0f})); }, ErrorCode::kInvalidArgument,
               {"integer token ids (i64 [4,4])", "normalisation (mean/std) is not supported"});
  expect_error([&] { DataLoader l(d, DataLoaderOptions().crop_padding(2)); }, ErrorCode::kInvalidArgument,
               {"random crop (crop_padding 2) is not supported"});
  expect_error([&] { DataLoader l(d, DataLoaderOptions().horizontal_flip(true)); }, ErrorCode::kInvalidArgument,
               {"horizontal_flip is not supported"});
}

}  // namespace
}  // namespace strata
