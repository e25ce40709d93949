// The conformance suite's stand-in server and helpers (see conformance.hpp).
#include "conformance.hpp"

#include <algorithm>

namespace closeloop::test::conformance {

std::map<std::string, signer_fn>& signers() {
  static std::map<std::string, signer_fn> m;
  return m;
}

namespace {

std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= p.size()) {
    auto j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    out.push_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string strip_query(const std::string& target) { return target.substr(0, target.find('?')); }

bool is_json_content_type(const std::string* ct) {
  return ct != nullptr && adapters::to_lower(*ct).find("application/json") != std::string::npos;
}

}  // namespace

bool path_matches(const std::string& pattern, const std::string& path) {
  auto a = split_path(pattern);
  auto b = split_path(path);
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const bool wildcard = a[i].size() > 2 && a[i].front() == '{' && a[i].back() == '}';
    if (wildcard ? b[i].empty() : a[i] != b[i]) return false;
  }
  return true;
}

json substitute(json j, const std::string& from, const std::string& to) {
  if (j.is_string()) {
    std::string s = j.get<std::string>();
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
      s.replace(pos, from.size(), to);
    }
    return s;
  }
  if (j.is_object() || j.is_array()) {
    for (auto& v : j) v = substitute(v, from, to);
  }
  return j;
}

bool json_subset(const json& expected, const json& actual, std::string& where, const std::string& at) {
  if (expected.is_object()) {
    if (!actual.is_object()) {
      where = at.empty() ? "/" : at;
      return false;
    }
    for (const auto& [k, v] : expected.items()) {
      auto it = actual.find(k);
      if (it == actual.end()) {
        where = at + "/" + k + " (missing)";
        return false;
      }
      if (!json_subset(v, *it, where, at + "/" + k)) return false;
    }
    return true;
  }
  if (expected != actual) {
    where = (at.empty() ? "/" : at) + ": expected " + expected.dump() + ", got " + actual.dump();
    return false;
  }
  return true;
}

contract_server::contract_server(json contract) : contract_(std::move(contract)) {
  server_.set_handler([this](const recorded_request& r) { return answer(r); });
}

scripted_response contract_server::error(const std::string& kind, const std::string& reason) const {
  scripted_response r;
  const json shape = contract_.value("errors", json::object()).value(kind, json::object());
  r.status = shape.value("status", kind == "unauthorized" ? 401 : kind == "not_found" ? 404 : 400);
  r.body = substitute(shape.value("body", json{{"error", "{reason}"}}), "{reason}", reason).dump();
  r.headers = {{"content-type", "application/json"}};
  const json headers = shape.value("headers", json::object());
  for (const auto& [k, v] : headers.items()) r.headers.emplace_back(k, v.get<std::string>());
  return r;
}

scripted_response contract_server::answer(const recorded_request& r) const {
  // 1. Credentials, on every route (as the vendor checks them before anything else).
  if (auto auth = contract_.find("auth"); auth != contract_.end()) {
    const std::string name = auth->value("header", "authorization");
    std::vector<std::string> accepted;
    if (auth->contains("value")) accepted.push_back((*auth)["value"].get<std::string>());
    for (const auto& v : auth->value("values", json::array())) accepted.push_back(v.get<std::string>());
    const std::string* given = r.header(name);
    if (given == nullptr) return error("unauthorized", "missing " + name + " header");
    if (std::find(accepted.begin(), accepted.end(), *given) == accepted.end()) {
      return error("unauthorized", "invalid credentials in " + name);
    }
  }
  // 2. Method and path.
  const std::string path = strip_query(r.target);
  const json* route = nullptr;
  bool path_known = false;
  static const json no_routes = json::array();
  const auto routes = contract_.find("routes");
  for (const auto& rt : routes != contract_.end() ? *routes : no_routes) {
    if (!path_matches(rt.at("path").get<std::string>(), path)) continue;
    path_known = true;
    if (rt.at("method").get<std::string>() == r.method) {
      route = &rt;
      break;
    }
  }
  if (route == nullptr) {
    return error("not_found", path_known ? r.method + " is not allowed on " + path : "no route " + r.method + " " + path);
  }
  // 3. Required headers.
  for (const auto& h : route->value("headers", json::array())) {
    if (r.header(h.get<std::string>()) == nullptr) return error("invalid", "missing " + h.get<std::string>() + " header");
  }
  // 4. Body: JSON with the required fields.
  if (route->value("json", false) || route->contains("required") || route->contains("present")) {
    if (!is_json_content_type(r.header("content-type"))) return error("invalid", "content-type must be application/json");
    json body;
    try {
      body = json::parse(r.body);
    } catch (const std::exception&) {
      return error("invalid", "body is not JSON");
    }
    for (const auto& p : route->value("required", json::array())) {
      const json::json_pointer ptr(p.get<std::string>());
      if (!body.contains(ptr) || body.at(ptr).is_null()) {
        return error("invalid", p.get<std::string>() + " is required");
      }
    }
    for (const auto& p : route->value("present", json::array())) {
      if (!body.contains(json::json_pointer(p.get<std::string>()))) {
        return error("invalid", p.get<std::string>() + " must be given (null allowed)");
      }
    }
  }
  // 5. The documented success answer.
  scripted_response ok;
  const json resp = route->value("response", json::object());
  ok.status = resp.value("status", 200);
  json body = resp.value("body", json::object());
  // "echo": the answer is the updated record, the request's fields merged over the documented body.
  if (route->value("echo", false) && body.is_object()) {
    const json sent = json::parse(r.body, nullptr, false);
    if (sent.is_object()) body.merge_patch(sent);
  }
  ok.body = body.is_string() ? body.get<std::string>() : body.dump();
  ok.headers = {{"content-type", "application/json"}};
  const json headers = resp.value("headers", json::object());
  for (const auto& [k, v] : headers.items()) ok.headers.emplace_back(k, v.get<std::string>());
  return ok;
}

}  // namespace closeloop::test::conformance
