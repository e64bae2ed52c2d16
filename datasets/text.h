// Text data sets: a character (or byte) vocabulary, UTF-8 handling, language identification
// from Debian's word lists (/usr/share/dict) and a character language model over Debian's
// fortunes (/usr/share/games/fortunes).
//
// Text becomes integer token ids: Dataset::x is i64 [N, T] and the DataLoader copies its rows
// as they are (no normalisation or augmentation). The Vocabulary that maps ids back to text is
// not part of the Dataset: the caller keeps it, and records Vocabulary::to_string() with the
// versions trained on it (Trainer::set_hparam) so that generated ids can be decoded later.
//
// Encoding: Strata's text is UTF-8. A file (or string) that is not valid UTF-8 as a whole is
// read as Latin-1 (ISO-8859-1: every byte is the code point of the same value) and converted;
// Debian 12's /usr/share/dict/swedish is such a file. The decision is per file, never per
// line, so a valid UTF-8 file is never partly reinterpreted.
//
// Stateless functions and value types; all thread-safe (a Vocabulary is immutable after
// construction).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "strata/datasets/dataset.h"
#include "strata/framework/core/options.h"

namespace strata {

// ---- UTF-8 -------------------------------------------------------------------------------

// Strict UTF-8: shortest forms only, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
bool is_valid_utf8(const std::string& bytes);
// Every byte as the code point of the same value, in UTF-8 (0xE5 -> "å" = C3 A5).
std::string latin1_to_utf8(const std::string& bytes);
// bytes unchanged when they are valid UTF-8 as a whole, else latin1_to_utf8(bytes).
std::string to_utf8(const std::string& bytes);
// The characters (code points) of to_utf8(text), each as its UTF-8 string.
std::vector<std::string> utf8_characters(const std::string& text);
// Lowercase of UTF-8 text for the Latin alphabets of the word lists: ASCII, Latin-1 Supplement
// (À..Þ except ×) and Latin Extended-A (U+0100..U+017F: Ā..ž, with İ -> i and Ÿ -> ÿ).
// Other characters (ß, Greek, Cyrillic, ...) are kept as they are. REQUIRES: valid UTF-8.
std::string lowercase_latin(const std::string& utf8_text);

// ---- Vocabulary --------------------------------------------------------------------------

// What one token is: a byte (256 possible symbols, any data) or a Unicode character.
enum class TextUnit { kByte, kChar };

// An id -> symbol table. Id 0 is padding "<pad>", id 1 is unknown "<unk>"; ids 2.. are the
// symbols, each one character (its UTF-8 string) for kChar or one byte for kByte.
struct Vocabulary {
  static constexpr int64_t kPad = 0, kUnknown = 1;

  // Just <pad> and <unk>, for characters.
  Vocabulary() : Vocabulary(TextUnit::kChar, {}) {}
  // symbols: ids 2, 3, ... in order. Throws kInvalidArgument on a symbol that is not one
  // character (one byte for kByte) or that appears twice.
  Vocabulary(TextUnit unit, std::vector<std::string> symbols);

  TextUnit unit() const { return unit_; }
  // Number of ids, <pad> and <unk> included.
  int64_t size() const { return static_cast<int64_t>(symbols_.size()); }
  // The symbol of an id ("<pad>", "<unk>" for 0 and 1). Throws kInvalidArgument out of range.
  const std::string& symbol(int64_t id) const;
  // The id of a symbol; kUnknown when it is not in the table.
  int64_t id(const std::string& symbol) const;

  // Ids of the text's characters (to_utf8 first) or bytes; unknown ones as kUnknown.
  std::vector<int64_t> encode(const std::string& utf8_text) const;
  // The text of ids: <pad> is skipped, <unk> becomes U+FFFD, other symbols are concatenated
  // (for kByte as raw bytes, which need not form valid UTF-8). Throws kInvalidArgument on an
  // id outside [0, size()).
  std::string decode(const int64_t* ids, int64_t n) const;
  std::string decode(const std::vector<int64_t>& ids) const { return decode(ids.data(), static_cast<int64_t>(ids.size())); }

  // One line of printable ASCII, for a hyper-parameter (canonical: equal vocabularies give
  // equal strings):
  //   strata-vocabulary/1 char 6 <pad> <unk> e a %0A %C3%A5
  // i.e. the format tag, the unit ("char" or "byte"), the number of ids, then every symbol
  // separated by single spaces. A symbol's bytes are written as they are when they are ASCII
  // letters, digits or one of -_.!?:;()[]{}<>*+/@#$&^~| and as %XX (upper-case hex) otherwise,
  // so a space, newline, tab, '%', '=', ',', quote or non-ASCII byte never appears literally.
  std::string to_string() const;
  // Parses to_string()'s format. Throws kCorruption, saying what is wrong, on anything else: a
  // wrong tag or unit, a count that does not match, a bad escape, a symbol that is not one
  // character (byte), a duplicate, or ids 0 and 1 other than <pad> and <unk>.
  static Vocabulary from_string(const std::string& text);

  bool operator==(const Vocabulary& o) const { return unit_ == o.unit_ && symbols_ == o.symbols_; }
  bool operator!=(const Vocabulary& o) const { return !(*this == o); }

 private:
  TextUnit unit_;
  std::vector<std::string> symbols_;                // id -> symbol, [0] <pad>, [1] <unk>
  std::unordered_map<std::string, int64_t> index_;  // symbol -> id, ids >= 2 only
};

// The vocabulary of the texts (each made UTF-8 by to_utf8 for kChar): symbols ordered by
// descending count, ties by ascending symbol bytes, so the result does not depend on the order
// of the texts. Symbols seen fewer than min_count times are left out (they encode as <unk>).
// Throws kInvalidArgument for min_count < 1.
Vocabulary build_vocabulary(const std::vector<std::string>& texts, TextUnit unit, int64_t min_count = 1);

// ---- Language identification from word lists ----------------------------------------------

struct WordListOptions {
  STRATA_ARG(int64_t, max_length) = 16;  // characters; longer words are dropped; x is [N, this]
  STRATA_ARG(int64_t, min_length) = 3;   // characters; shorter words are dropped
  // Words sampled per language, without replacement: the classes are exactly balanced. A
  // language with fewer usable words is an error (lower this, or the lengths).
  STRATA_ARG(int64_t, words_per_language) = 20000;
  STRATA_ARG(uint64_t, seed) = 0;
  STRATA_ARG(bool, lowercase) = true;  // lowercase_latin() before anything else
};

// A language-identification data set: one class per (name, path) word list, in that order
// (class_names = the names), one word per line. Per list: lines are made UTF-8 (to_utf8, per
// file), lowercased (lowercase_latin, when options.lowercase()), and dropped when they hold an
// apostrophe (' or U+2019), whitespace or an ASCII digit, or have fewer than min_length or
// more than max_length characters; duplicates are merged. Words found in more than one list
// are dropped from all (their label is ambiguous). Then words_per_language words are sampled
// per list, seeded (CounterRng(seed, kData, list index)), and interleaved: row i is a word of
// language i % L. x = i64 [N, max_length] character ids padded with Vocabulary::kPad at the
// end; y = i64 [N] language index; num_classes = L.
// *vocabulary_out (if not null) receives the vocabulary (TextUnit::kChar, min_count 1) of the
// sampled words, which encodes them without <unk>.
// A missing list throws kNotFound naming the path and, for Debian's standard paths, the package
// to install (default_word_lists()).
Dataset read_word_lists(const std::vector<std::pair<std::string, std::string>>& languages, const WordListOptions& options,
                        Vocabulary* vocabulary_out);

// Debian 12's word lists as (name, path): english (wamerican), german (wngerman), french
// (wfrench), italian (witalian), spanish (wspanish), portuguese (wportuguese), dutch (wdutch),
// swedish (wswedish, Latin-1).
std::vector<std::pair<std::string, std::string>> default_word_lists();

// ---- Character language model --------------------------------------------------------------

// The fortunes of Debian's fortune files in dir (package `fortunes`), as UTF-8 text: fortunes
// (the text between lines holding only "%") are joined with "\n\n", trailing newlines of each
// removed and empty ones skipped. files: names in dir; empty = every plain fortune file, i.e.
// each regular file (not a symlink) without a '.' in its name that has a matching "<name>.dat"
// index, in sorted order (so "off/", "*.dat" and "*.u8" are skipped). Throws kNotFound, naming
// the package, when dir or a named file is missing, or when dir holds no fortune file.
std::string read_fortunes(const std::string& dir = "/usr/share/games/fortunes", const std::vector<std::string>& files = {});

// Next-token windows over a token stream: for s = 0, stride, 2*stride, ... while
// s + window + 1 <= ids.size(), a sample x = ids[s, s+window) with target y = ids[s+1,
// s+window+1). x and y are i64 [N, window]; num_classes = vocabulary_size. Throws
// kInvalidArgument for window or stride <= 0, an id outside [0, vocabulary_size), or fewer than
// window + 1 ids.
Dataset language_model_windows(const std::vector<int64_t>& ids, int64_t window, int64_t stride, int64_t vocabulary_size);

}  // namespace strata
