// Diagnostics: errors found in user input (scenario files, overrides), reported all at once.
#pragma once

#include <string>
#include <vector>

namespace troupe::runtime {

/// One problem in an input file: where, what, and how to fix it.
struct diagnostic {
  std::string file;    ///< the file (or "--set" for command-line overrides)
  int line = 0;        ///< 1-based; 0 when the problem has no position
  int column = 0;      ///< 1-based; 0 when the problem has no position
  std::string message; ///< what is wrong
  std::string hint;    ///< how to fix it; may be empty
};

/// Every problem found, in file order.
using diagnostics = std::vector<diagnostic>;

/// "file:line:column: error: message" plus "\n  hint: ..." when there is a hint.
[[nodiscard]] std::string to_string(const diagnostic& d);

/// All diagnostics, one per line (hints indented below their error).
[[nodiscard]] std::string to_string(const diagnostics& ds);

/// Levenshtein distance between two strings (for "did you mean" hints).
[[nodiscard]] std::size_t edit_distance(const std::string& a, const std::string& b);

/// The candidate closest to `word` when it is close enough to be a likely typo, else "".
[[nodiscard]] std::string closest_match(const std::string& word,
                                        const std::vector<std::string>& candidates);

} // namespace troupe::runtime
