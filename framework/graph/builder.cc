#include "framework/graph/graph_spec.h"
