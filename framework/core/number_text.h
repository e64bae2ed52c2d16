// Numbers as text that reads back exactly: what hyper-parameters are recorded as, so that a
// resumed run (the examples' --resume) takes them back without rounding.
#pragma once

#include <string>

namespace strata {

// The shortest "%g" text (6 to 17 significant digits) that strtod reads back as exactly `v`.
std::string exact_text(double v);

}  // namespace strata
