// validate_against_schema: the bundled JSON Schemas (parsed once) checked with valijson, and the
// first violation turned into one message naming its JSON pointer and what was expected, e.g.
//   config: /server: unknown key "prot"
//   config: /server/port: expected an integer between 0 and 65535, got 70000
#define VALIJSON_USE_EXCEPTIONS 1

#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "closeloop/config.hpp"
#include "schemas.hpp"

namespace closeloop {
namespace {

struct compiled_schema {
  json doc;                                  // the schema itself, for describing violations
  std::unique_ptr<valijson::Schema> schema;  // null when the bundled schema is broken
  std::string problem;
};

compiled_schema compile(std::string_view name) {
  compiled_schema c;
  const std::string_view text = embedded_schema(name);
  if (text.empty()) {
    c.problem = "no bundled schema named \"" + std::string(name) + "\"";
    return c;
  }
  try {
    c.doc = json::parse(text.begin(), text.end());
    auto schema = std::make_unique<valijson::Schema>();
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(c.doc);
    parser.populateSchema(adapter, *schema);
    c.schema = std::move(schema);
  } catch (const std::exception& ex) {
    c.problem = "bundled schema \"" + std::string(name) + "\" is broken: " + ex.what();
  }
  return c;
}

// Parsed once, on first use (thread-safe static initialisation); read-only afterwards.
const compiled_schema& schema_named(std::string_view name) {
  static const std::map<std::string, compiled_schema, std::less<>> cache = [] {
    std::map<std::string, compiled_schema, std::less<>> m;
    for (const char* n : {"config", "event", "action", "survey"}) m.emplace(n, compile(n));
    return m;
  }();
  static const compiled_schema missing{};
  const auto it = cache.find(name);
  return it == cache.end() ? missing : it->second;
}

// --- describing a violation -------------------------------------------------------------------

std::string show(const json& v) { return describe_value(v); }

std::string type_phrase(const std::string& t) {
  if (t == "integer") return "an integer";
  if (t == "object") return "an object";
  if (t == "array") return "an array";
  if (t == "null") return "null";
  return "a " + t;  // string, number, boolean
}

std::string escape_pointer_token(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string pointer_of(const std::vector<std::string>& tokens) {
  std::string p;
  for (const auto& t : tokens) p += "/" + escape_pointer_token(t);
  return p;
}

// valijson's context: "<root>", "[server]", "[0]", ...
std::vector<std::string> tokens_of(const std::vector<std::string>& context) {
  std::vector<std::string> out;
  for (const auto& c : context) {
    if (c == "<root>") continue;
    if (c.size() >= 2 && c.front() == '[' && c.back() == ']') out.push_back(c.substr(1, c.size() - 2));
    else out.push_back(c);
  }
  return out;
}

const json* child_of(const json* v, const std::string& token) {
  if (!v) return nullptr;
  if (v->is_object()) {
    const auto it = v->find(token);
    return it == v->end() ? nullptr : &*it;
  }
  if (v->is_array() && !token.empty() && token.find_first_not_of("0123456789") == std::string::npos &&
      token.size() < 10) {
    const auto i = std::stoul(token);
    return i < v->size() ? &(*v)[i] : nullptr;
  }
  return nullptr;
}

// Does the instance satisfy an "if" schema? Only the forms our schemas use are understood
// (required + properties with const/enum); anything else is "unknown" (both branches kept).
std::optional<bool> quick_match(const json& cond, const json* inst) {
  if (!inst || !inst->is_object() || !cond.is_object()) return std::nullopt;
  for (const auto& [kw, val] : cond.items()) {
    if (kw == "required") {
      for (const auto& k : val) {
        if (!k.is_string() || !inst->contains(k.get<std::string>())) return false;
      }
    } else if (kw == "properties") {
      for (const auto& [prop, sub] : val.items()) {
        const auto it = inst->find(prop);
        if (it == inst->end()) continue;
        if (sub.contains("const")) {
          if (*it != sub["const"]) return false;
        } else if (sub.contains("enum") && sub["enum"].is_array()) {
          bool any = false;
          for (const auto& e : sub["enum"]) any = any || e == *it;
          if (!any) return false;
        } else {
          return std::nullopt;
        }
      }
    } else {
      return std::nullopt;
    }
  }
  return true;
}

// Every schema node that applies to the instance location tokens[i..], following $ref,
// properties, patternProperties, additionalProperties, items, allOf/anyOf/oneOf and if/then/else.
void collect(const json& root, const json& node, const json* inst, const std::vector<std::string>& tokens,
             std::size_t i, std::vector<const json*>& out, int depth = 0) {
  if (depth > 40 || !node.is_object()) return;
  if (const auto ref = node.find("$ref"); ref != node.end() && ref->is_string()) {
    const auto& r = ref->get_ref<const std::string&>();
    if (r.rfind('#', 0) != 0) return;
    try {
      collect(root, root.at(json::json_pointer(r.substr(1))), inst, tokens, i, out, depth + 1);
    } catch (const std::exception&) {
    }
    return;
  }
  if (i == tokens.size()) {
    out.push_back(&node);
  } else {
    const std::string& key = tokens[i];
    const json* child = child_of(inst, key);
    bool matched = false;
    if (const auto props = node.find("properties"); props != node.end() && props->contains(key)) {
      collect(root, (*props)[key], child, tokens, i + 1, out, depth + 1);
      matched = true;
    }
    if (const auto pats = node.find("patternProperties"); pats != node.end() && pats->is_object()) {
      for (const auto& [pattern, sub] : pats->items()) {
        try {
          if (std::regex_search(key, std::regex(pattern))) {
            collect(root, sub, child, tokens, i + 1, out, depth + 1);
            matched = true;
          }
        } catch (const std::regex_error&) {
        }
      }
    }
    if (const auto add = node.find("additionalProperties"); !matched && add != node.end() && add->is_object()) {
      collect(root, *add, child, tokens, i + 1, out, depth + 1);
    }
    if (const auto items = node.find("items"); items != node.end() && items->is_object()) {
      collect(root, *items, child, tokens, i + 1, out, depth + 1);
    }
  }
  for (const char* kw : {"allOf", "anyOf", "oneOf"}) {
    if (const auto list = node.find(kw); list != node.end() && list->is_array()) {
      for (const auto& sub : *list) collect(root, sub, inst, tokens, i, out, depth + 1);
    }
  }
  if (const auto cond = node.find("if"); cond != node.end()) {
    const auto verdict = quick_match(*cond, inst);  // inst: the value at this node's location
    if (const auto then = node.find("then"); then != node.end() && verdict.value_or(true)) {
      collect(root, *then, inst, tokens, i, out, depth + 1);
    }
    if (const auto other = node.find("else"); other != node.end() && !verdict.value_or(false)) {
      collect(root, *other, inst, tokens, i, out, depth + 1);
    }
  }
}

const json* first_with(const std::vector<const json*>& nodes, const char* keyword) {
  for (const json* n : nodes) {
    if (n->contains(keyword)) return n;
  }
  return nullptr;
}

std::string quoted_between(const std::string& s) {
  const auto a = s.find('\'');
  const auto b = s.rfind('\'');
  if (a == std::string::npos || b <= a) return {};
  return s.substr(a + 1, b - a - 1);
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

std::string range_phrase(const json& node) {
  const bool integer = node.value("type", "") == "integer";
  const std::string what = integer ? "an integer" : "a number";
  const auto lo = node.find("minimum");
  const auto hi = node.find("maximum");
  if (lo != node.end() && hi != node.end()) return what + " between " + lo->dump() + " and " + hi->dump();
  if (lo != node.end()) return what + " >= " + lo->dump();
  if (hi != node.end()) return what + " <= " + hi->dump();
  return what;
}

std::string unknown_key_text(const std::vector<const json*>& nodes, const json* inst, const std::string& fallback) {
  if (inst && inst->is_object()) {
    for (const json* n : nodes) {
      const auto add = n->find("additionalProperties");
      if (add == n->end() || *add != false) continue;
      const json empty = json::object();
      const json& props = n->contains("properties") ? (*n)["properties"] : empty;
      const json& pats = n->contains("patternProperties") ? (*n)["patternProperties"] : empty;
      for (const auto& [key, value] : inst->items()) {
        if (props.contains(key)) continue;
        bool pattern_ok = false;
        std::string patterns;
        for (const auto& [pattern, sub] : pats.items()) {
          patterns += (patterns.empty() ? "" : " or ") + pattern;
          try {
            pattern_ok = pattern_ok || std::regex_search(key, std::regex(pattern));
          } catch (const std::regex_error&) {
          }
        }
        if (pattern_ok) continue;
        if (!patterns.empty()) return "invalid key \"" + key + "\": keys must match " + patterns;
        return "unknown key \"" + key + "\"";
      }
    }
  }
  return "unknown key \"" + fallback + "\"";
}

std::string describe(const std::string& description, const std::vector<const json*>& nodes, const json* inst) {
  const std::string got = inst ? ", got " + show(*inst) : std::string();
  if (starts_with(description, "Object contains a property that could not be validated")) {
    return unknown_key_text(nodes, inst, quoted_between(description));
  }
  if (starts_with(description, "Missing required property")) {
    return "missing required key \"" + quoted_between(description) + "\"";
  }
  if (starts_with(description, "Value type not permitted")) {
    if (const json* n = first_with(nodes, "type")) {
      const json& t = (*n)["type"];
      std::string expected;
      if (t.is_string()) {
        expected = type_phrase(t.get<std::string>());
      } else {
        for (const auto& x : t) expected += (expected.empty() ? "" : " or ") + type_phrase(x.get<std::string>());
      }
      return "expected " + expected + got;
    }
  }
  if (starts_with(description, "Failed to match against any enum values")) {
    if (const json* n = first_with(nodes, "enum")) {
      std::string list;
      for (const auto& v : (*n)["enum"]) list += (list.empty() ? "" : ", ") + v.dump();
      return "expected one of " + list + got;
    }
  }
  if (starts_with(description, "Failed to match expected value set by 'const'")) {
    if (const json* n = first_with(nodes, "const")) return "expected " + (*n)["const"].dump() + got;
  }
  if (starts_with(description, "Failed to match regex")) {
    if (const json* n = first_with(nodes, "pattern")) {
      if (n->contains("title")) return "expected " + (*n)["title"].get<std::string>() + got;
      return "expected a string matching " + (*n)["pattern"].get<std::string>() + got;
    }
  }
  if (starts_with(description, "Expected number")) {
    const json* n = first_with(nodes, "minimum");
    if (!n) n = first_with(nodes, "maximum");
    if (n) return "expected " + range_phrase(*n) + got;
  }
  if (starts_with(description, "String should be no fewer than")) {
    if (const json* n = first_with(nodes, "minLength"); n && (*n)["minLength"] == 1) {
      return "expected a non-empty string" + got;
    }
  }
  if (starts_with(description, "Array should contain no fewer than")) {
    if (const json* n = first_with(nodes, "minItems")) {
      const auto k = (*n)["minItems"].get<long>();
      return "expected at least " + std::to_string(k) + (k == 1 ? " item" : " items") + got;
    }
  }
  if (starts_with(description, "Object should have no fewer than")) {
    if (const json* n = first_with(nodes, "minProperties")) {
      const auto k = (*n)["minProperties"].get<long>();
      return "expected at least " + std::to_string(k) + (k == 1 ? " key" : " keys") + got;
    }
  }
  return description;
}

bool is_wrapper(const std::string& description) {
  return starts_with(description, "Failed to validate against") ||
         starts_with(description, "Failed to validate item #") ||
         starts_with(description, "Cannot validate item #");
}

}  // namespace

result<void> validate_against_schema(std::string_view schema_name, const json& doc) {
  const errc code = schema_name == "config" ? errc::invalid_config : errc::invalid_argument;
  const std::string prefix = std::string(schema_name) + ": ";
  const compiled_schema& compiled = schema_named(schema_name);
  if (!compiled.schema) {
    return make_error(errc::internal,
                      compiled.problem.empty() ? "no bundled schema named \"" + std::string(schema_name) + "\""
                                               : compiled.problem);
  }
  try {
    // One validator per thread: it caches the compiled regular expressions of the patterns.
    thread_local valijson::Validator validator(valijson::Validator::kStrongTypes);
    valijson::ValidationResults results;
    valijson::adapters::NlohmannJsonAdapter target(doc);
    if (validator.validate(*compiled.schema, target, &results)) return {};

    // The most specific violation: the deepest non-wrapper error (ties: the first reported).
    std::vector<valijson::ValidationResults::Error> errors;
    valijson::ValidationResults::Error e;
    while (results.popError(e)) errors.push_back(e);
    const valijson::ValidationResults::Error* best = nullptr;
    for (const auto& candidate : errors) {
      if (is_wrapper(candidate.description)) continue;
      if (!best || candidate.context.size() > best->context.size()) best = &candidate;
    }
    if (!best) {
      for (const auto& candidate : errors) {
        if (!best || candidate.context.size() > best->context.size()) best = &candidate;
      }
    }
    if (!best) return make_error(code, prefix + "does not match the schema");

    const auto tokens = tokens_of(best->context);
    const json* inst = &doc;
    for (const auto& t : tokens) inst = child_of(inst, t);
    std::vector<const json*> nodes;
    collect(compiled.doc, compiled.doc, &doc, tokens, 0, nodes);
    const std::string where = tokens.empty() ? std::string() : pointer_of(tokens) + ": ";
    return make_error(code, prefix + where + describe(best->description, nodes, inst));
  } catch (const std::exception& ex) {
    return make_error(code, prefix + "schema validation failed: " + ex.what());
  }
}

}  // namespace closeloop
