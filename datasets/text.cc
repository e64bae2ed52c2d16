#include "strata/datasets/text.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "strata/datasets/internal/file_io.h"
#include "strata/framework/core/error.h"
#include "strata/framework/core/rng.h"

namespace strata {
namespace {

constexpr char kPadSymbol[] = "<pad>";
constexpr char kUnknownSymbol[] = "<unk>";
constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD
constexpr char kVocabularyTag[] = "strata-vocabulary/1";

// Decodes the code point starting at s[pos] and advances pos; false (pos untouched) on a byte
// sequence that is not strict UTF-8.
bool next_code_point(const std::string& s, size_t& pos, uint32_t& cp) {
  const size_t n = s.size();
  const uint8_t b0 = static_cast<uint8_t>(s[pos]);
  if (b0 < 0x80) {
    cp = b0;
    ++pos;
    return true;
  }
  size_t len;
  uint32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, min = 0x80, cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, min = 0x800, cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, cp = b0 & 0x07;
  } else {
    return false;  // a continuation byte or 0xF8..0xFF where a character should start
  }
  if (n - pos < len) return false;
  for (size_t k = 1; k < len; ++k) {
    const uint8_t b = static_cast<uint8_t>(s[pos + k]);
    if ((b & 0xC0) != 0x80) return false;
    cp = cp << 6 | (b & 0x3F);
  }
  // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
  if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
  pos += len;
  return true;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | cp >> 6);
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | cp >> 12);
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | cp >> 18);
    out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Bytes of the UTF-8 character led by b (valid UTF-8 assumed).
size_t utf8_length(uint8_t b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

// Calls fn(symbol) for each token of utf8 (valid UTF-8 for kChar), reusing one string.
template <typename Fn>
void for_each_symbol(const std::string& utf8, TextUnit unit, Fn&& fn) {
  std::string symbol;
  for (size_t pos = 0; pos < utf8.size();) {
    const size_t len = unit == TextUnit::kByte ? 1 : utf8_length(static_cast<uint8_t>(utf8[pos]));
    symbol.assign(utf8, pos, len);
    fn(symbol);
    pos += len;
  }
}

uint32_t lowercase_code_point(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 0x20;
  if (c < 0xC0) return c;
  if (c <= 0xDE) return c == 0xD7 ? c : c + 0x20;  // À..Þ, but × is no letter
  if (c < 0x100 || c > 0x17F) return c;
  // Latin Extended-A: upper/lower pairs, upper first, except where the alignment shifts.
  if (c == 0x130) return 'i';   // İ (Turkish dotted capital I)
  if (c == 0x178) return 0xFF;  // Ÿ -> ÿ (whose capital lives here)
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c % 2 ? c + 1 : c;
  if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;  // ı ĸ ŉ ſ: lower only
  return c % 2 ? c : c + 1;
}

bool literal_in_vocabulary_string(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != 0 && std::strchr("-_.!?:;()[]{}<>*+/@#$&^~|", c) != nullptr);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower case is not what to_string writes: refused
}

std::string quoted(const std::string& s, size_t max = 40) {
  std::string out = "'";
  for (unsigned char c : s.substr(0, max)) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  return out + (s.size() > max ? "...'" : "'");
}

const char* unit_name(TextUnit unit) { return unit == TextUnit::kChar ? "char" : "byte"; }

// Checks that symbol is one token of unit; the message says what it is otherwise.
std::string symbol_problem(const std::string& symbol, TextUnit unit) {
  if (unit == TextUnit::kByte)
    return symbol.size() == 1 ? "" : "is " + std::to_string(symbol.size()) + " bytes, expected one byte";
  size_t pos = 0;
  uint32_t cp;
  if (symbol.empty()) return "is empty, expected one character";
  if (!next_code_point(symbol, pos, cp)) return "is not valid UTF-8";
  if (pos != symbol.size()) return "is more than one character";
  return "";
}

// Calls fn(line) for each line of text, without its "\n" or "\r\n", reusing one string.
template <typename Fn>
void for_each_line(const std::string& text, Fn&& fn) {
  std::string line;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const size_t stop = end > start && text[end - 1] == '\r' ? end - 1 : end;
    line.assign(text, start, stop - start);
    fn(line);
    start = end + 1;
  }
}

// A word-list line that is no plain word: apostrophes (possessives, elisions), whitespace
// (phrases) or digits.
bool has_excluded_character(const std::string& word) {
  for (size_t pos = 0; pos < word.size();) {
    uint32_t cp;
    if (!next_code_point(word, pos, cp)) return true;
    if (cp == '\'' || cp == 0x2019 || cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xA0 || (cp >= '0' && cp <= '9'))
      return true;
  }
  return false;
}

int64_t count_characters(const std::string& utf8) {
  int64_t n = 0;
  for (unsigned char c : utf8) n += (c & 0xC0) != 0x80;
  return n;
}

// The Debian package that installs a standard word list, or "".
std::string word_list_package(const std::string& path) {
  static const std::map<std::string, std::string> kPackages = {{"/usr/share/dict/american-english", "wamerican"},
                                                               {"/usr/share/dict/ngerman", "wngerman"},
                                                               {"/usr/share/dict/french", "wfrench"},
                                                               {"/usr/share/dict/italian", "witalian"},
                                                               {"/usr/share/dict/spanish", "wspanish"},
                                                               {"/usr/share/dict/portuguese", "wportuguese"},
                                                               {"/usr/share/dict/dutch", "wdutch"},
                                                               {"/usr/share/dict/swedish", "wswedish"}};
  const auto it = kPackages.find(path);
  return it == kPackages.end() ? "" : it->second;
}

std::string install_hint(const std::string& package) {
  return "install the Debian package " + package + " (apt-get install " + package + ")";
}

// The file as UTF-8; a read error is rethrown with what the file was for and what to install.
// *latin1 (when given) says whether the file was not valid UTF-8 and was read as Latin-1.
std::string read_text_file(const std::string& path, const std::string& what, const std::string& package, bool* latin1 = nullptr) {
  std::vector<uint8_t> bytes;
  try {
    bytes = detail::read_maybe_gzip(path);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kIOError) throw;
    throw Error(e.code(), what + ": " + e.what_failed(), path, package.empty() ? e.hint() : install_hint(package));
  }
  std::string text(bytes.begin(), bytes.end());
  if (latin1) *latin1 = !is_valid_utf8(text);
  return to_utf8(text);
}

}  // namespace

// ---- UTF-8 -------------------------------------------------------------------------------

bool is_valid_utf8(const std::string& bytes) {
  uint32_t cp;
  for (size_t pos = 0; pos < bytes.size();)
    if (!next_code_point(bytes, pos, cp)) return false;
  return true;
}

std::string latin1_to_utf8(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 8);
  for (unsigned char c : bytes) append_utf8(out, c);
  return out;
}

std::string to_utf8(const std::string& bytes) { return is_valid_utf8(bytes) ? bytes : latin1_to_utf8(bytes); }

std::vector<std::string> utf8_characters(const std::string& text) {
  std::vector<std::string> chars;
  for_each_symbol(to_utf8(text), TextUnit::kChar, [&](const std::string& c) { chars.push_back(c); });
  return chars;
}

std::string lowercase_latin(const std::string& utf8_text) {
  std::string out;
  out.reserve(utf8_text.size());
  for (size_t pos = 0; pos < utf8_text.size();) {
    uint32_t cp;
    if (!next_code_point(utf8_text, pos, cp))
      throw_invalid("lowercase_latin: the text is not valid UTF-8 at byte " + std::to_string(pos), "",
                    "convert it with to_utf8 first");
    append_utf8(out, lowercase_code_point(cp));
  }
  return out;
}

// ---- Vocabulary --------------------------------------------------------------------------

Vocabulary::Vocabulary(TextUnit unit, std::vector<std::string> symbols) : unit_(unit) {
  symbols_.reserve(symbols.size() + 2);
  symbols_.push_back(kPadSymbol);
  symbols_.push_back(kUnknownSymbol);
  for (std::string& s : symbols) {
    const std::string problem = symbol_problem(s, unit);
    if (!problem.empty())
      throw_invalid(
          "vocabulary symbol " + quoted(s) + " " + problem, "",
          std::string("a ") + unit_name(unit) + " vocabulary holds single " + (unit == TextUnit::kChar ? "characters" : "bytes"));
    const int64_t id = static_cast<int64_t>(symbols_.size());
    if (!index_.emplace(s, id).second)
      throw_invalid("vocabulary symbol " + quoted(s) + " appears twice (ids " + std::to_string(index_.at(s)) + " and " +
                    std::to_string(id) + ")");
    symbols_.push_back(std::move(s));
  }
}

const std::string& Vocabulary::symbol(int64_t id) const {
  if (id < 0 || id >= size())
    throw_invalid("token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(size()) + ")");
  return symbols_[static_cast<size_t>(id)];
}

int64_t Vocabulary::id(const std::string& symbol) const {
  const auto it = index_.find(symbol);
  return it == index_.end() ? kUnknown : it->second;
}

std::vector<int64_t> Vocabulary::encode(const std::string& utf8_text) const {
  std::vector<int64_t> ids;
  ids.reserve(utf8_text.size());
  const std::string text = unit_ == TextUnit::kChar ? to_utf8(utf8_text) : utf8_text;
  for_each_symbol(text, unit_, [&](const std::string& s) { ids.push_back(id(s)); });
  return ids;
}

std::string Vocabulary::decode(const int64_t* ids, int64_t n) const {
  std::string out;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = ids[i];
    if (id < 0 || id >= size())
      throw_invalid("token id " + std::to_string(id) + " at position " + std::to_string(i) + " is outside the vocabulary [0, " +
                        std::to_string(size()) + ")",
                    "", "was the text encoded with another vocabulary?");
    if (id == kPad) continue;
    out += id == kUnknown ? kReplacement : symbols_[static_cast<size_t>(id)];
  }
  return out;
}

std::string Vocabulary::to_string() const {
  std::string out = std::string(kVocabularyTag) + " " + unit_name(unit_) + " " + std::to_string(size());
  for (const std::string& s : symbols_) {
    out += ' ';
    for (unsigned char c : s) {
      if (literal_in_vocabulary_string(c)) {
        out += static_cast<char>(c);
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", c);
        out += buf;
      }
    }
  }
  return out;
}

Vocabulary Vocabulary::from_string(const std::string& text) {
  auto fail = [&](const std::string& what) {
    throw_corruption(
        "vocabulary string " + quoted(text) + ": " + what, "",
        "expected Vocabulary::to_string()'s format, e.g. \"" + std::string(kVocabularyTag) + " char 3 <pad> <unk> a\"");
  };
  std::vector<std::string> fields;
  for (size_t start = 0;;) {
    const size_t end = text.find(' ', start);
    fields.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (fields[0] != kVocabularyTag) fail("does not start with '" + std::string(kVocabularyTag) + "'");
  if (fields.size() < 3) fail("the unit and the number of ids are missing");
  TextUnit unit = TextUnit::kChar;
  if (fields[1] == "byte") {
    unit = TextUnit::kByte;
  } else if (fields[1] != "char") {
    fail("unit " + quoted(fields[1]) + " is neither 'char' nor 'byte'");
  }
  const std::string& count = fields[2];
  if (count.empty() || count.size() > 9 || count.find_first_not_of("0123456789") != std::string::npos)
    fail("the number of ids " + quoted(count) + " is not a number");
  const int64_t n = std::stoll(count);
  if (static_cast<int64_t>(fields.size()) - 3 != n)
    fail("says " + count + " ids but holds " + std::to_string(fields.size() - 3) + " symbols");
  if (n < 2 || fields[3] != kPadSymbol || fields[4] != kUnknownSymbol) fail("ids 0 and 1 must be <pad> and <unk>");
  std::vector<std::string> symbols;
  for (size_t f = 5; f < fields.size(); ++f) {
    const std::string& field = fields[f];
    std::string symbol;
    for (size_t i = 0; i < field.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(field[i]);
      if (c == '%') {
        if (field.size() - i < 3 || hex_value(field[i + 1]) < 0 || hex_value(field[i + 2]) < 0)
          fail("bad escape in symbol " + std::to_string(f - 3) + ": expected %XX with upper-case hex");
        symbol += static_cast<char>(hex_value(field[i + 1]) * 16 + hex_value(field[i + 2]));
        i += 2;
      } else if (literal_in_vocabulary_string(c)) {
        symbol += static_cast<char>(c);
      } else {
        fail("symbol " + std::to_string(f - 3) + " holds an unescaped byte " + quoted(std::string(1, static_cast<char>(c))));
      }
    }
    const std::string problem = symbol_problem(symbol, unit);
    if (!problem.empty()) fail("symbol " + std::to_string(f - 3) + " " + quoted(symbol) + " " + problem);
    symbols.push_back(std::move(symbol));
  }
  try {
    return Vocabulary(unit, std::move(symbols));
  } catch (const Error& e) {
    fail(e.what_failed());  // a duplicate: bad content, not a bad call
  }
  return Vocabulary();  // not reached: fail() throws
}

Vocabulary build_vocabulary(const std::vector<std::string>& texts, TextUnit unit, int64_t min_count) {
  if (min_count < 1) throw_invalid("build_vocabulary: min_count must be >= 1, got " + std::to_string(min_count));
  std::unordered_map<std::string, int64_t> counts;
  for (const std::string& text : texts)
    for_each_symbol(unit == TextUnit::kChar ? to_utf8(text) : text, unit, [&](const std::string& s) { ++counts[s]; });
  std::vector<std::pair<int64_t, std::string>> ranked;
  for (auto& [symbol, count] : counts)
    if (count >= min_count) ranked.emplace_back(-count, symbol);
  std::sort(ranked.begin(), ranked.end());  // descending count, then ascending bytes
  std::vector<std::string> symbols;
  symbols.reserve(ranked.size());
  for (auto& r : ranked) symbols.push_back(std::move(r.second));
  return Vocabulary(unit, std::move(symbols));
}

// ---- Language identification from word lists ----------------------------------------------

std::vector<std::pair<std::string, std::string>> default_word_lists() {
  return {{"english", "/usr/share/dict/american-english"},
          {"german", "/usr/share/dict/ngerman"},
          {"french", "/usr/share/dict/french"},
          {"italian", "/usr/share/dict/italian"},
          {"spanish", "/usr/share/dict/spanish"},
          {"portuguese", "/usr/share/dict/portuguese"},
          {"dutch", "/usr/share/dict/dutch"},
          {"swedish", "/usr/share/dict/swedish"}};
}

namespace {

// The words of each sorted, distinct list that no other list has, by a merge of the lists: a
// word at the head of several lists at once is ambiguous (counted in `ambiguous`, dropped).
std::vector<std::vector<std::string>> words_in_one_list(std::vector<std::vector<std::string>> words, int64_t& ambiguous) {
  const size_t lists = words.size();
  std::vector<std::vector<std::string>> kept(lists);
  std::vector<size_t> head(lists, 0), holders;
  for (;;) {
    const std::string* least = nullptr;
    for (size_t l = 0; l < lists; ++l)
      if (head[l] < words[l].size() && (!least || words[l][head[l]] < *least)) least = &words[l][head[l]];
    if (!least) break;
    holders.clear();
    for (size_t l = 0; l < lists; ++l)
      if (head[l] < words[l].size() && words[l][head[l]] == *least) holders.push_back(l);
    if (holders.size() == 1)
      kept[holders[0]].push_back(std::move(words[holders[0]][head[holders[0]]]));
    else
      ++ambiguous;
    for (size_t l : holders) ++head[l];
  }
  return kept;
}

}  // namespace

Dataset read_word_lists(const std::vector<std::pair<std::string, std::string>>& languages, const WordListOptions& options,
                        Vocabulary* vocabulary_out) {
  const std::string who = "read_word_lists";
  if (languages.empty()) throw_invalid(who + ": no word lists given", "", "e.g. default_word_lists()");
  if (options.min_length() < 1 || options.max_length() < options.min_length())
    throw_invalid(who + ": need 1 <= min_length <= max_length, got min_length " + std::to_string(options.min_length()) +
                  ", max_length " + std::to_string(options.max_length()));
  if (options.words_per_language() < 1)
    throw_invalid(who + ": words_per_language must be >= 1, got " + std::to_string(options.words_per_language()));
  std::set<std::string> names;
  for (const auto& [name, path] : languages)
    if (!names.insert(name).second) throw_invalid(who + ": language '" + name + "' is given twice", path);

  // Distinct usable words per language, sorted: the sample below depends only on the lists'
  // content, not on their line order.
  const size_t num_languages = languages.size();
  std::vector<std::vector<std::string>> words(num_languages);
  std::string read_as_latin1;  // recorded in preprocess: a stray byte turns a UTF-8 file into Latin-1
  for (size_t l = 0; l < num_languages; ++l) {
    const auto& [name, path] = languages[l];
    bool latin1 = false;
    const std::string text = read_text_file(path, "word list of " + name, word_list_package(path), &latin1);
    if (latin1) read_as_latin1 += (read_as_latin1.empty() ? "" : ", ") + path;
    for_each_line(text, [&](const std::string& line) {
      std::string word = options.lowercase() ? lowercase_latin(line) : line;
      const int64_t length = count_characters(word);
      if (length >= options.min_length() && length <= options.max_length() && !has_excluded_character(word))
        words[l].push_back(std::move(word));
    });
    std::sort(words[l].begin(), words[l].end());
    words[l].erase(std::unique(words[l].begin(), words[l].end()), words[l].end());
  }
  int64_t ambiguous = 0;
  std::vector<std::vector<std::string>> kept = words_in_one_list(std::move(words), ambiguous);

  const int64_t per_language = options.words_per_language();
  std::vector<std::vector<std::string>> sample(num_languages);
  for (size_t l = 0; l < num_languages; ++l) {
    std::vector<std::string>& kept_l = kept[l];
    const int64_t n = static_cast<int64_t>(kept_l.size());
    if (n < per_language)
      throw_invalid(who + ": the " + languages[l].first + " list has only " + std::to_string(n) + " usable words (" +
                        std::to_string(options.min_length()) + ".." + std::to_string(options.max_length()) +
                        " characters, in no other list), fewer than words_per_language " + std::to_string(per_language),
                    languages[l].second, "lower words_per_language or widen the lengths");
    // The first per_language positions of a seeded Fisher-Yates shuffle, one stream per list.
    const CounterRng rng(options.seed(), RngPurpose::kData, static_cast<uint64_t>(l));
    for (int64_t i = 0; i < per_language; ++i) {
      const int64_t j = i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(i), static_cast<uint64_t>(n - i)));
      std::swap(kept_l[static_cast<size_t>(i)], kept_l[static_cast<size_t>(j)]);
    }
    kept_l.resize(static_cast<size_t>(per_language));
    sample[l] = std::move(kept_l);
  }

  // Rows interleave the languages, so any prefix of the data set is (nearly) balanced.
  std::vector<std::string> rows;
  rows.reserve(num_languages * static_cast<size_t>(per_language));
  for (int64_t i = 0; i < per_language; ++i)
    for (size_t l = 0; l < num_languages; ++l) rows.push_back(sample[l][static_cast<size_t>(i)]);
  Vocabulary vocabulary = build_vocabulary(rows, TextUnit::kChar);

  const int64_t n = static_cast<int64_t>(rows.size()), width = options.max_length();
  Dataset out;
  out.x = Tensor({n, width}, DType::kI64);
  out.y = Tensor({n}, DType::kI64);
  int64_t* x = out.x.data<int64_t>();
  int64_t* y = out.y.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int64_t> ids = vocabulary.encode(rows[static_cast<size_t>(i)]);
    STRATA_CHECK(static_cast<int64_t>(ids.size()) <= width);
    std::copy(ids.begin(), ids.end(), x + i * width);  // the rest stays kPad (0)
    y[i] = i % static_cast<int64_t>(num_languages);
  }
  out.num_classes = static_cast<int64_t>(num_languages);
  for (const auto& [name, path] : languages) {
    out.class_names.push_back(name);
    out.source += (out.source.empty() ? "" : ", ") + path;
  }
  out.preprocess = std::string(options.lowercase() ? "lowercased, " : "") + "words of " + std::to_string(options.min_length()) +
                   ".." + std::to_string(width) +
                   " characters without apostrophes, whitespace or digits; words found in several lists "
                   "dropped: " +
                   std::to_string(ambiguous) + "; " + std::to_string(per_language) + " words per language sampled with seed " +
                   std::to_string(options.seed()) + ", interleaved; character ids padded with 0 to " + std::to_string(width) +
                   (read_as_latin1.empty() ? "" : "; read as Latin-1 (not UTF-8): " + read_as_latin1);
  if (vocabulary_out) *vocabulary_out = std::move(vocabulary);
  return out;
}

// ---- Character language model --------------------------------------------------------------

std::string read_fortunes(const std::string& dir, const std::vector<std::string>& files) {
  const std::string hint = install_hint("fortunes");
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) throw_io(std::string("cannot read the fortune directory: ") + std::strerror(errno), dir);
    throw Error(ErrorCode::kNotFound, "fortune directory not found", dir, hint);
  }
  if (!S_ISDIR(st.st_mode)) throw_invalid("not a directory, expected the fortune files' directory", dir);
  std::vector<std::string> names = files;
  if (names.empty()) {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
    if (!d) throw_io(std::string("cannot list: ") + std::strerror(errno), dir);
    while (const dirent* e = ::readdir(d.get())) {
      const std::string name = e->d_name;
      // Plain fortune files have no extension; "x.dat" is the index of "x", "x.u8" a symlink
      // to it, and "off" (offensive fortunes, ROT13) is a directory.
      if (name.find('.') != std::string::npos) continue;
      struct stat fs, ds;
      if (::lstat((dir + "/" + name).c_str(), &fs) != 0 || !S_ISREG(fs.st_mode)) continue;
      if (::stat((dir + "/" + name + ".dat").c_str(), &ds) != 0) continue;
      names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    if (names.empty()) throw Error(ErrorCode::kNotFound, "no fortune files (a file with a matching .dat) found", dir, hint);
  }
  std::string out;
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    const std::string text = read_text_file(path, "fortune file", "fortunes");
    std::string fortune;
    auto flush = [&] {
      while (!fortune.empty() && fortune.back() == '\n') fortune.pop_back();
      if (fortune.find_first_not_of(" \t\r\n") != std::string::npos) out += (out.empty() ? "" : "\n\n") + fortune;
      fortune.clear();
    };
    for_each_line(text, [&](const std::string& line) {
      if (line == "%") {
        flush();
      } else {
        fortune += line;
        fortune += '\n';
      }
    });
    flush();
  }
  return out;
}

Dataset language_model_windows(const std::vector<int64_t>& ids, int64_t window, int64_t stride, int64_t vocabulary_size) {
  const std::string who = "language_model_windows";
  if (window <= 0 || stride <= 0)
    throw_invalid(who + ": window and stride must be >= 1, got window " + std::to_string(window) + ", stride " +
                  std::to_string(stride));
  if (vocabulary_size < 1) throw_invalid(who + ": vocabulary_size must be >= 1, got " + std::to_string(vocabulary_size));
  const int64_t total = static_cast<int64_t>(ids.size());
  if (total - 1 < window)  // one window and its next-token target (no overflow for a huge window)
    throw_invalid(who + ": " + std::to_string(total) + " ids are too few for one window of " + std::to_string(window) +
                      " (and its next-token target)",
                  "", "use more text or a smaller window");
  for (int64_t i = 0; i < total; ++i)
    if (ids[static_cast<size_t>(i)] < 0 || ids[static_cast<size_t>(i)] >= vocabulary_size)
      throw_invalid(who + ": id " + std::to_string(ids[static_cast<size_t>(i)]) + " at position " + std::to_string(i) +
                    " is outside [0, " + std::to_string(vocabulary_size) + ")");
  const int64_t n = (total - window - 1) / stride + 1;
  Dataset out;
  out.x = Tensor({n, window}, DType::kI64);
  out.y = Tensor({n, window}, DType::kI64);
  int64_t* x = out.x.data<int64_t>();
  int64_t* y = out.y.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t* s = ids.data() + i * stride;
    std::copy(s, s + window, x + i * window);
    std::copy(s + 1, s + window + 1, y + i * window);
  }
  out.num_classes = vocabulary_size;
  const int64_t used = (n - 1) * stride + window + 1;
  out.preprocess = "next-token windows of " + std::to_string(window) + " ids, stride " + std::to_string(stride) + ", over " +
                   std::to_string(total) + " ids (" + std::to_string(n) + " windows, last " + std::to_string(total - used) +
                   " ids unused); y = x shifted by one";
  return out;
}

}  // namespace strata
