#include "strata/datasets/csv.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "strata/datasets/internal/file_io.h"
#include "strata/framework/core/error.h"

namespace strata {
namespace {

// Splits the buffer into records of fields, quote-aware, tracking line numbers (a quoted field
// may span lines, so a record's line is where it starts).
class CsvTokenizer {
 public:
  CsvTokenizer(const std::vector<uint8_t>& bytes, char delimiter, const std::string& path)
      : p_(reinterpret_cast<const char*>(bytes.data())), end_(p_ + bytes.size()), delim_(delimiter), path_(path) {
    // A UTF-8 byte-order mark (Excel writes one) is not part of the first column name.
    if (end_ - p_ >= 3 && std::memcmp(p_, "\xEF\xBB\xBF", 3) == 0) p_ += 3;
  }

  // The next non-blank record; false at the end of the file.
  bool next(std::vector<std::string>& fields, int64_t& line) {
    for (;;) {
      if (p_ == end_) return false;
      line = line_;
      read_record(fields);
      const bool blank = fields.size() == 1 && fields[0].find_first_not_of(" \t") == std::string::npos && !quoted_;
      if (!blank) return true;
    }
  }

 private:
  void read_record(std::vector<std::string>& fields) {
    fields.clear();
    std::string field;
    bool in_quotes = false;
    quoted_ = false;
    const int64_t start_line = line_;
    while (p_ != end_) {
      const char c = *p_++;
      if (in_quotes) {
        if (c == '"') {
          if (p_ != end_ && *p_ == '"') {
            field += '"';
            ++p_;
          } else {
            in_quotes = false;
          }
        } else {
          if (c == '\n') ++line_;
          field += c;
        }
      } else if (c == delim_) {
        fields.push_back(std::move(field));
        field.clear();
      } else if (c == '\n') {
        ++line_;
        fields.push_back(std::move(field));
        return;
      } else if (c == '\r' && (p_ == end_ || *p_ == '\n')) {
        // part of a \r\n line end
      } else if (c == '"' && field.find_first_not_of(" \t") == std::string::npos) {
        field.clear();
        in_quotes = true;
        quoted_ = true;
      } else {
        field += c;
      }
    }
    if (in_quotes)
      throw_corruption("line " + std::to_string(start_line) + ": quoted field never closed before the end of the file", path_);
    fields.push_back(std::move(field));
  }

  const char* p_;
  const char* end_;
  char delim_;
  const std::string& path_;
  int64_t line_ = 1;
  bool quoted_ = false;
};

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  const size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::string where_of(const std::string& path, int64_t line, size_t col, const std::vector<std::string>& header) {
  return path + ": line " + std::to_string(line) + ", column " + std::to_string(col + 1) + " ('" + header[col] + "')";
}

// Locale-independent (from_chars), whole field, finite.
float parse_number(const std::string& raw, const std::string& path, int64_t line, size_t col,
                   const std::vector<std::string>& header) {
  const std::string s = trim(raw);
  if (s.empty())
    throw_corruption("empty value", where_of(path, line, col, header), "fill in or drop missing values before loading");
  const char* b = s.data();
  const char* e = b + s.size();
  if (*b == '+') ++b;
  float v = 0;
  auto [ptr, ec] = std::from_chars(b, e, v);
  if (ec == std::errc::result_out_of_range)
    throw_corruption("'" + s + "' is out of the range of a 32-bit float", where_of(path, line, col, header));
  if (ec != std::errc() || ptr != e)
    throw_corruption("'" + s + "' is not a number", where_of(path, line, col, header),
                     "every column except the target must be numeric; drop text columns with "
                     "CsvOptions::ignore_columns");
  if (!std::isfinite(v))
    throw_corruption("'" + s + "' is not a finite number", where_of(path, line, col, header),
                     "fill in or drop missing values before loading");
  return v;
}

bool parse_class_index(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size() && out >= 0;
}

// Class labels as i64 [N] with their names: indices when every label is a small non-negative
// integer (the names are then "0", "1", ...), else the sorted distinct labels.
void encode_class_labels(const std::vector<std::string>& labels, const std::string& path, Dataset& d) {
  const int64_t n = static_cast<int64_t>(labels.size());
  d.y = Tensor({n}, DType::kI64);
  int64_t* y = d.y.data<int64_t>();
  bool all_indices = true;
  int64_t max_index = 0;
  for (int64_t i = 0; i < n && all_indices; ++i) {
    all_indices = parse_class_index(labels[i], y[i]);
    if (all_indices) max_index = std::max(max_index, y[i]);
  }
  if (all_indices) {
    // A huge index is far more likely a numeric regression target than a class.
    if (max_index >= 100000)
      throw_invalid("class index " + std::to_string(max_index) + " is too large", path,
                    "is the target really a class? use classification=false for regression");
    d.num_classes = max_index + 1;
    for (int64_t c = 0; c < d.num_classes; ++c) d.class_names.push_back(std::to_string(c));
  } else {
    std::set<std::string> distinct(labels.begin(), labels.end());
    d.class_names.assign(distinct.begin(), distinct.end());
    d.num_classes = static_cast<int64_t>(d.class_names.size());
    std::map<std::string, int64_t> index;
    for (const std::string& name : d.class_names) index.emplace(name, static_cast<int64_t>(index.size()));
    for (int64_t i = 0; i < n; ++i) y[i] = index.at(labels[i]);
  }
}

}  // namespace

Dataset load_csv(const std::string& path, const CsvOptions& options) {
  if (options.delimiter() == '"' || options.delimiter() == '\n' || options.delimiter() == '\r')
    throw_invalid("the delimiter cannot be a quote or a line end", path);
  const std::vector<uint8_t> bytes = detail::read_maybe_gzip(path);
  CsvTokenizer tok(bytes, options.delimiter(), path);

  std::vector<std::string> header;
  int64_t line = 0;
  if (!tok.next(header, line)) throw_corruption("empty file, expected a header row", path);
  for (std::string& h : header) h = trim(h);
  std::map<std::string, size_t> column_of;
  for (size_t c = 0; c < header.size(); ++c) {
    auto [it, fresh] = column_of.emplace(header[c], c);
    if (!fresh)
      throw_corruption("column name '" + header[c] + "' appears twice (columns " + std::to_string(it->second + 1) + " and " +
                           std::to_string(c + 1) + ")",
                       path + ": line " + std::to_string(line));
  }
  auto list_columns = [&] {
    std::string s;
    for (const std::string& h : header) s += (s.empty() ? "" : ", ") + h;
    return s;
  };
  size_t target = header.size() - 1;
  if (!options.target().empty()) {
    auto it = column_of.find(options.target());
    if (it == column_of.end())
      throw_invalid("target column '" + options.target() + "' not found", path, "the header has: " + list_columns());
    target = it->second;
  }
  std::vector<bool> ignored(header.size(), false);
  for (const std::string& name : options.ignore_columns()) {
    auto it = column_of.find(name);
    if (it == column_of.end())
      throw_invalid("ignored column '" + name + "' not found", path, "the header has: " + list_columns());
    if (it->second == target) throw_invalid("column '" + name + "' is both the target and ignored", path);
    ignored[it->second] = true;
  }
  std::vector<size_t> feature_cols;
  Dataset d;
  for (size_t c = 0; c < header.size(); ++c)
    if (c != target && !ignored[c]) {
      feature_cols.push_back(c);
      d.feature_names.push_back(header[c]);
    }
  if (feature_cols.empty()) throw_invalid("no feature columns: the header has only the target and ignored columns", path);

  std::vector<float> xs, ys;
  std::vector<std::string> labels;
  std::vector<std::string> fields;
  while (tok.next(fields, line)) {
    if (fields.size() < header.size()) {
      const size_t c = fields.size();
      throw_corruption("missing value: the row has " + std::to_string(fields.size()) + " fields, the header has " +
                           std::to_string(header.size()),
                       where_of(path, line, c, header));
    }
    if (fields.size() > header.size())
      throw_corruption("extra value: the row has " + std::to_string(fields.size()) + " fields, the header has " +
                           std::to_string(header.size()),
                       path + ": line " + std::to_string(line) + ", column " + std::to_string(header.size() + 1));
    for (size_t c : feature_cols) xs.push_back(parse_number(fields[c], path, line, c, header));
    if (options.classification()) {
      std::string label = trim(fields[target]);
      if (label.empty()) throw_corruption("empty class label", where_of(path, line, target, header));
      labels.push_back(std::move(label));
    } else {
      ys.push_back(parse_number(fields[target], path, line, target, header));
    }
  }
  const int64_t n = static_cast<int64_t>(xs.size() / feature_cols.size());
  if (n == 0) throw_corruption("no data rows after the header", path);

  const int64_t f = static_cast<int64_t>(feature_cols.size());
  d.source = path;
  d.x = Tensor({n, f});
  std::memcpy(d.x.raw(), xs.data(), d.x.nbytes());
  if (!options.classification()) {
    d.y = Tensor({n, 1});
    std::memcpy(d.y.raw(), ys.data(), d.y.nbytes());
    return d;
  }

  encode_class_labels(labels, path, d);
  return d;
}

}  // namespace strata
