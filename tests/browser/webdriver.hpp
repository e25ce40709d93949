#pragma once
// A minimal W3C WebDriver client for the browser tests: Debian's chromedriver (started on port 0
// as a child process) driving Debian's chromium headless. Only what the tests use: a session
// with a mobile viewport, navigation, keyboard actions, scripts, accessible names, frames,
// screenshots.
// Every call is bounded; the session is deleted (chromium quits) and chromedriver killed by the
// destructor, so a failed REQUIRE leaves no browser behind.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "../integration/harness.hpp"
#include "common/crypto.hpp"

namespace closeloop::browser {

using namespace closeloop::itest;

// The browser binary: CLOSELOOP_CHROMIUM, else Debian's (the /usr/bin/chromium wrapper script
// only adds flags we set ourselves).
inline std::string chromium_binary() {
  if (const char* e = std::getenv("CLOSELOOP_CHROMIUM"); e && *e) return e;
  for (const char* p : {"/usr/lib/chromium/chromium", "/usr/bin/chromium"})
    if (fs::exists(p)) return p;
  return {};
}

inline std::string chromedriver_binary() {
  if (const char* e = std::getenv("CLOSELOOP_CHROMEDRIVER"); e && *e) return e;
  for (const char* p : {"/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"})
    if (fs::exists(p)) return p;
  return {};
}

// WebDriver key codes (W3C WebDriver, "Keyboard actions").
namespace keys {
inline const std::string tab = "\xEE\x80\x84";          // U+E004
inline const std::string enter = "\xEE\x80\x87";        // U+E007
inline const std::string space = " ";
inline const std::string arrow_left = "\xEE\x80\x92";   // U+E012
inline const std::string arrow_right = "\xEE\x80\x94";  // U+E014
inline const std::string arrow_down = "\xEE\x80\x95";   // U+E015
}  // namespace keys

class webdriver {
 public:
  // Starts chromedriver and a headless session whose viewport is width x height CSS pixels.
  webdriver(const temp_dir& dir, int width, int height) : client_(make_client(30s)) {
    const std::string driver = chromedriver_binary(), browser = chromium_binary();
    if (driver.empty() || browser.empty())
      throw std::runtime_error("chromium and chromedriver are needed (Debian packages chromium, chromium-driver; "
                               "bash .ci/setup installs them)");
    const fs::path log = dir / "chromedriver.log";
    proc_ = child_process({driver, "--port=0"}, log, dir / "chromedriver.err");
    auto deadline = steady::now() + 15s;
    for (;;) {
      const std::string text = read_text(log);
      const std::string marker = "started successfully on port ";
      if (auto p = text.find(marker); p != std::string::npos) {
        const auto from = p + marker.size();
        auto end = text.find('.', from);
        if (end != std::string::npos) {
          base_ = "http://127.0.0.1:" + text.substr(from, end - from);
          break;
        }
      }
      if (!proc_.running()) throw std::runtime_error("chromedriver exited: " + read_text(dir / "chromedriver.err"));
      if (steady::now() >= deadline) throw std::runtime_error("chromedriver did not start: " + text);
      std::this_thread::sleep_for(20ms);
    }
    json caps = {{"capabilities",
                  {{"alwaysMatch",
                    {{"browserName", "chrome"},
                     {"goog:chromeOptions",
                      {{"binary", browser},
                       {"args", json::array({"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                             "--no-first-run", "--disable-extensions", "--lang=zh-TW",
                                             "--user-data-dir=" + (dir / "chromium-profile").string()})},
                       {"mobileEmulation",
                        {{"deviceMetrics", {{"width", width}, {"height", height}, {"pixelRatio", 2}}}}}}}}}}}};
    json r = call("POST", "/session", caps);
    session_ = r["value"]["sessionId"].get<std::string>();
  }
  ~webdriver() {
    if (!session_.empty()) (void)send("DELETE", "/session/" + session_, nullptr);
    proc_.kill_and_reap();
  }
  webdriver(const webdriver&) = delete;
  webdriver& operator=(const webdriver&) = delete;

  void navigate(const std::string& url) { session_call("POST", "/url", {{"url", url}}); }
  std::string current_url() { return session_call("GET", "/url")["value"].get<std::string>(); }
  std::string title() { return session_call("GET", "/title")["value"].get<std::string>(); }
  std::string page_source() { return session_call("GET", "/source")["value"].get<std::string>(); }

  // Runs `script` (a function body) with `args`; returns its value.
  json execute(const std::string& script, json args = json::array()) {
    return session_call("POST", "/execute/sync", {{"script", script}, {"args", std::move(args)}})["value"];
  }

  // Element references by CSS selector.
  std::vector<std::string> find_all(const std::string& css) {
    json r = session_call("POST", "/elements", {{"using", "css selector"}, {"value", css}});
    std::vector<std::string> out;
    for (const auto& e : r["value"]) out.push_back(e.begin().value().get<std::string>());
    return out;
  }
  std::string active_element() { return session_call("GET", "/element/active")["value"].begin().value().get<std::string>(); }
  std::string computed_label(const std::string& element) {
    return session_call("GET", "/element/" + element + "/computedlabel")["value"].get<std::string>();
  }
  std::string computed_role(const std::string& element) {
    return session_call("GET", "/element/" + element + "/computedrole")["value"].get<std::string>();
  }
  std::string attribute(const std::string& element, const std::string& name) {
    json v = session_call("GET", "/element/" + element + "/attribute/" + name)["value"];
    return v.is_string() ? v.get<std::string>() : std::string();
  }

  // Presses and releases each key in turn (the W3C "key" input source: real key events).
  void press(const std::vector<std::string>& sequence) {
    json actions = json::array();
    for (const auto& k : sequence) {
      actions.push_back({{"type", "keyDown"}, {"value", k}});
      actions.push_back({{"type", "keyUp"}, {"value", k}});
    }
    session_call("POST", "/actions",
                 {{"actions", json::array({{{"type", "key"}, {"id", "keyboard"}, {"actions", actions}}})}});
    session_call("DELETE", "/actions");
  }
  void press(const std::string& key, int times = 1) { press(std::vector<std::string>(times, key)); }
  // Types text key by key (one grapheme per key action, as a keyboard or an IME commits them).
  void type(const std::string& text) {
    std::vector<std::string> seq;
    for (std::size_t i = 0; i < text.size();) {
      std::size_t n = 1;
      const auto b = static_cast<unsigned char>(text[i]);
      if (b >= 0xF0) n = 4;
      else if (b >= 0xE0) n = 3;
      else if (b >= 0xC0) n = 2;
      seq.push_back(text.substr(i, n));
      i += n;
    }
    press(seq);
  }

  // Into an <iframe> element (later calls act on its document), and back to the top page.
  void switch_to_frame(const std::string& element) {
    session_call("POST", "/frame", {{"id", {{"element-6066-11e4-a52e-4f735466cecf", element}}}});
  }
  void switch_to_top() { session_call("POST", "/frame", {{"id", nullptr}}); }

  // A PNG of the viewport, written to `file`.
  void screenshot(const fs::path& file) {
    const std::string b64 = session_call("GET", "/screenshot")["value"].get<std::string>();
    auto png = adapters::crypto::base64_decode(b64);
    if (!png) throw std::runtime_error("screenshot is not base64: " + png.err().message);
    fs::create_directories(file.parent_path());
    write_text(file, *png);
  }

 private:
  // A null body: no body at all.
  result<adapters::http::response> send(const std::string& method, const std::string& path, const json& body) {
    adapters::http::request req;
    req.method = method;
    req.url = base_ + path;
    if (!body.is_null()) {
      req.headers.emplace_back("content-type", "application/json");
      req.body = body.dump();
    }
    return client_.send(req);
  }
  json call(const std::string& method, const std::string& path, const json& body = nullptr) {
    auto r = send(method, path, body);
    if (!r) throw std::runtime_error("webdriver " + method + " " + path + ": " + r.err().message);
    json j = json::parse(r->body, nullptr, false);
    if (r->status != 200 || j.is_discarded())
      throw std::runtime_error("webdriver " + method + " " + path + ": HTTP " + std::to_string(r->status) + " " +
                               r->body.substr(0, 2000));
    return j;
  }
  json session_call(const std::string& method, const std::string& path, const json& body = nullptr) {
    return call(method, "/session/" + session_ + path, method == "POST" && body.is_null() ? json::object() : body);
  }

  adapters::http::client client_;
  child_process proc_;
  std::string base_, session_;
};

}  // namespace closeloop::browser
