#include "strata/framework/graph/op_schema.h"

#include <map>
#include <mutex>

#include "strata/framework/core/error.h"

namespace strata {

std::vector<OpSchema> builtin_op_schemas();  // builtin_op_schemas.cc

namespace {

struct SchemaRegistry {
  std::mutex mutex;
  std::map<std::string, OpSchema> schemas;  // std::map: references stay valid as it grows
  std::once_flag builtins;
};

SchemaRegistry& registry() {
  static SchemaRegistry r;
  return r;
}

void check_schema(const OpSchema& schema) {
  if (schema.name.empty() || !schema.infer)
    throw_invalid("register_op: a schema needs a name and an infer function", schema.name);
  if (schema.num_outputs < 1 || schema.min_inputs < 0 || (schema.max_inputs >= 0 && schema.max_inputs < schema.min_inputs))
    throw_invalid("register_op: bad arity (inputs " + std::to_string(schema.min_inputs) + ".." +
                      std::to_string(schema.max_inputs) + ", outputs " + std::to_string(schema.num_outputs) + ")",
                  schema.name);
}

void insert(OpSchema schema) {
  check_schema(schema);
  SchemaRegistry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::string name = schema.name;
  if (!r.schemas.emplace(name, std::move(schema)).second)
    throw_invalid("op '" + name + "' is already registered", "", "give your op another name");
}

void ensure_builtins() {
  std::call_once(registry().builtins, [] {
    for (OpSchema& s : builtin_op_schemas()) insert(std::move(s));
  });
}

}  // namespace

void register_builtin_op_schemas() { ensure_builtins(); }

void register_op_schema(OpSchema schema) {
  ensure_builtins();
  insert(std::move(schema));
}

bool has_op_schema(const std::string& op) {
  ensure_builtins();
  std::lock_guard<std::mutex> lock(registry().mutex);
  return registry().schemas.count(op) > 0;
}

const OpSchema& op_schema(const std::string& op, const std::string& where) {
  ensure_builtins();
  SchemaRegistry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.schemas.find(op);
  if (it == r.schemas.end()) {
    std::string known;
    for (const auto& [name, schema] : r.schemas) known += (known.empty() ? "" : ", ") + name;
    throw_invalid("unknown op type '" + op + "'", where,
                  "register it with strata::register_op before building or loading the graph; known ops: " + known);
  }
  return it->second;
}

std::vector<std::string> op_names() {
  ensure_builtins();
  std::lock_guard<std::mutex> lock(registry().mutex);
  std::vector<std::string> names;
  for (const auto& [name, schema] : registry().schemas) names.push_back(name);
  return names;
}

void shape_error(const NodeSpec& node, const std::string& expected, const Shape& got) {
  throw_invalid(node.op + "(" + node.name + "): expected input " + expected + ", got " + shape_str(got));
}

ParamSpec make_param(const NodeSpec& node, const std::string& leaf, Shape shape, std::string init, bool trainable, int64_t fan_in,
                     int64_t fan_out) {
  ParamSpec p;
  p.name = node.name + "/" + leaf;
  p.shape = std::move(shape);
  p.init = std::move(init);
  p.trainable = trainable;
  p.fan_in = fan_in;
  p.fan_out = fan_out;
  return p;
}

int64_t resolve_axis(const NodeSpec& node, int64_t axis, size_t rank) {
  int64_t r = static_cast<int64_t>(rank);
  int64_t a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r)
    throw_invalid(node.op + "(" + node.name + "): axis " + std::to_string(axis) + " is out of range for a per-sample rank of " +
                      std::to_string(rank),
                  "", "axes count per sample (the batch axis is not counted); -1 is the last");
  return a;
}

}  // namespace strata
