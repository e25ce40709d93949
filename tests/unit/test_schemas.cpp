// The JSON Schemas in schemas/ and the C++ parsers accept and reject exactly the same documents:
// every fixture (and every example) is judged by both, and both must match the folder's verdict.
// Mutations of the valid fixtures then probe the corners no fixture names.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "closeloop/config.hpp"
#include "closeloop/model.hpp"

using namespace closeloop;
namespace fs = std::filesystem;

namespace {

const fs::path source_dir{CLOSELOOP_SOURCE_DIR};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> json_files(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct verdict {
  bool ok = false;
  std::string message;
};

// kind: "event", "action" or "config" (the schema's name).
verdict schema_verdict(const std::string& kind, const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& ex) {
    return {false, std::string("not JSON: ") + ex.what()};
  }
  auto r = validate_against_schema(kind, j);
  return {r.has_value(), r ? std::string() : r.err().message};
}

verdict parser_verdict(const std::string& kind, const std::string& text, const fs::path& dir) {
  if (kind == "event") {
    auto r = parse_event(text);
    return {r.has_value(), r ? std::string() : r.err().message};
  }
  if (kind == "action") {
    auto r = parse_action(text);
    return {r.has_value(), r ? std::string() : r.err().message};
  }
  auto r = parse_config(text, dir.string());
  return {r.has_value(), r ? std::string() : r.err().message};
}

// Returns how many files were checked.
std::size_t check_folder(const std::string& kind, const fs::path& dir, bool expect_valid) {
  const auto files = json_files(dir);
  for (const auto& file : files) {
    const std::string text = read_text(file);
    const verdict by_schema = schema_verdict(kind, text);
    const verdict by_parser = parser_verdict(kind, text, dir);
    INFO("file: " << fs::relative(file, source_dir).string());
    INFO("schema: " << (by_schema.ok ? "valid" : "invalid: " + by_schema.message));
    INFO("parser: " << (by_parser.ok ? "valid" : "invalid: " + by_parser.message));
    CHECK(by_schema.ok == by_parser.ok);
    CHECK(by_schema.ok == expect_valid);
    CHECK(by_parser.ok == expect_valid);
    if (!expect_valid) {
      CHECK_FALSE(by_schema.message.empty());
      CHECK_FALSE(by_parser.message.empty());
    }
  }
  return files.size();
}

// Variants of a document: each key removed, each value replaced by values of other types, an
// unknown key added to each object. Applied down to `depth` levels.
void mutate(const json& doc, int depth, const std::function<void(const json&)>& emit) {
  static const std::vector<json> replacements = {nullptr, 0, -1, 1.5, true, "", "x", "2026-02-29T00:00:00Z",
                                                 json::array(), json::array({"a"}), json::object()};
  std::function<void(const json::json_pointer&, int)> walk = [&](const json::json_pointer& at, int level) {
    const json& node = doc.at(at);
    if (node.is_object()) {
      json added = doc;
      added[at]["zz_unknown"] = 1;
      emit(added);
    }
    if (level >= depth || !(node.is_object() || node.is_array())) return;
    std::vector<std::string> keys;
    if (node.is_object()) {
      for (const auto& [k, v] : node.items()) keys.push_back(k);
    } else {
      for (std::size_t i = 0; i < node.size(); ++i) keys.push_back(std::to_string(i));
    }
    for (const auto& k : keys) {
      const auto child = at / k;
      json removed = doc;
      if (node.is_object()) removed[at].erase(k);
      else removed[at].erase(static_cast<std::size_t>(std::stoul(k)));
      emit(removed);
      for (const auto& r : replacements) {
        json replaced = doc;
        replaced[child] = r;
        emit(replaced);
      }
      walk(child, level + 1);
    }
  };
  walk(json::json_pointer(), 0);
}

}  // namespace

TEST_CASE("event fixtures: schema and parser agree", "[unit]") {
  const auto fixtures = source_dir / "tests/fixtures/events";
  CHECK(check_folder("event", fixtures / "valid", true) >= 9);
  CHECK(check_folder("event", fixtures / "invalid", false) >= 12);
  CHECK(check_folder("event", source_dir / "examples/events", true) >= 9);
}

TEST_CASE("action fixtures: schema and parser agree", "[unit]") {
  const auto fixtures = source_dir / "tests/fixtures/actions";
  CHECK(check_folder("action", fixtures / "valid", true) >= 11);
  CHECK(check_folder("action", fixtures / "invalid", false) >= 10);
}

TEST_CASE("config fixtures: schema and loader agree", "[unit]") {
  const auto fixtures = source_dir / "tests/fixtures/config";
  CHECK(check_folder("config", fixtures / "valid", true) >= 2);
  CHECK(check_folder("config", fixtures / "invalid", false) >= 10);
  CHECK(check_folder("config", source_dir / "examples/config", true) >= 1);
}

TEST_CASE("every event and action type has a valid fixture", "[unit]") {
  std::vector<std::string> seen;
  for (const auto& f : json_files(source_dir / "tests/fixtures/events/valid")) {
    seen.push_back(json::parse(read_text(f)).at("type").get<std::string>());
  }
  for (int i = 0; i <= static_cast<int>(event_type::timer_fired); ++i) {
    const std::string name(to_string(static_cast<event_type>(i)));
    INFO("event type " << name);
    CHECK(std::count(seen.begin(), seen.end(), name) >= 1);
  }
  seen.clear();
  for (const auto& f : json_files(source_dir / "tests/fixtures/actions/valid")) {
    seen.push_back(json::parse(read_text(f)).at("type").get<std::string>());
  }
  for (int i = 0; i <= static_cast<int>(action_type::post_webhook); ++i) {
    const std::string name(to_string(static_cast<action_type>(i)));
    INFO("action type " << name);
    CHECK(std::count(seen.begin(), seen.end(), name) >= 1);
  }
}

TEST_CASE("mutated documents: schema and parser still agree", "[unit]") {
  std::size_t checked = 0;
  for (const std::string kind : {"event", "action"}) {
    for (const auto& file : json_files(source_dir / "tests/fixtures" / (kind + "s") / "valid")) {
      mutate(json::parse(read_text(file)), 3, [&](const json& variant) {
        const std::string text = variant.dump();
        const verdict by_schema = schema_verdict(kind, text);
        const verdict by_parser = parser_verdict(kind, text, {});
        if (by_schema.ok != by_parser.ok) {
          INFO("from: " << file.filename().string());
          INFO("document: " << text);
          INFO("schema: " << (by_schema.ok ? "valid" : by_schema.message));
          INFO("parser: " << (by_parser.ok ? "valid" : by_parser.message));
          CHECK(by_schema.ok == by_parser.ok);
        }
        ++checked;
      });
    }
  }
  CHECK(checked > 1000);
}

TEST_CASE("schema messages name the JSON pointer and the expectation", "[unit]") {
  auto message = [](const char* kind, const json& doc) {
    auto r = validate_against_schema(kind, doc);
    REQUIRE_FALSE(r);
    return r.err().message;
  };
  json ev = json::parse(read_text(source_dir / "tests/fixtures/events/valid/ticket-created-minimal.json"));
  {
    json j = ev;
    j["ticketid"] = "1";
    CHECK(message("event", j) == R"(event: unknown key "ticketid")");
  }
  {
    json j = ev;
    j["requester"] = {{"mail", "a@b"}};
    CHECK(message("event", j) == R"(event: /requester: unknown key "mail")");
  }
  {
    json j = ev;
    j["occurred_at"] = "yesterday";
    CHECK(message("event", j) == R"(event: /occurred_at: expected an RFC 3339 date-time, got "yesterday")");
  }
  {
    json j = ev;
    j.erase("host");
    CHECK(message("event", j) == R"(event: missing required key "host")");
  }
  {
    json j = ev;
    j["type"] = "survey.answered";
    j["data"] = {{"survey", "csat"}, {"score", "high"}};
    CHECK(message("event", j) == R"(event: /data/score: expected a number or null, got "high")");
  }
  {
    json j = ev;
    j["visibility"] = "private";
    CHECK(message("event", j) == R"(event: /visibility: expected one of "public", "internal", got "private")");
  }
  {
    json j = ev;
    j["tenant"] = "";
    CHECK(message("event", j) == R"(event: /tenant: expected a non-empty string, got "")");
  }
  auto r = validate_against_schema("survey-v9", json::object());
  REQUIRE_FALSE(r);
  CHECK(r.err().message.find("survey-v9") != std::string::npos);
}
