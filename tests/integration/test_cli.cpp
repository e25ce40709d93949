// The `closeloop` command: --version, doctor, migrate, replay.
#include <catch2/catch.hpp>

#include <regex>

#include "closeloop/store.hpp"
#include "harness.hpp"

using namespace closeloop;
using namespace closeloop::itest;

namespace {

const std::string binary = CLOSELOOP_BINARY;
const fs::path source_dir = CLOSELOOP_SOURCE_DIR;

// "project(closeloop VERSION 0.2.0 ...)" in the top-level CMakeLists.txt.
std::string project_version() {
  std::smatch m;
  const std::string text = read_text(source_dir / "CMakeLists.txt");
  if (std::regex_search(text, m, std::regex(R"(project\(closeloop\s+VERSION\s+([0-9]+\.[0-9]+\.[0-9]+))"))) return m[1];
  return {};
}

}  // namespace

TEST_CASE("closeloop --version prints the project version", "[integration][cli]") {
  temp_dir dir("cli-version");
  const std::string version = project_version();
  REQUIRE(!version.empty());
  auto r = run_command({binary, "--version"}, dir.path());
  INFO(r.all());
  CHECK(r.exit_code() == 0);
  CHECK_THAT(r.out, Catch::Contains("closeloop " + version));
}

TEST_CASE("closeloop doctor names an unreachable host and exits 1", "[integration][cli]") {
  temp_dir dir("cli-doctor");
  config_options co;
  co.endpoint_url = "http://127.0.0.1:" + std::to_string(unused_port()) + "/actions";
  const fs::path cfg = dir / "config.json";
  write_text(cfg, make_config(co).dump(2));
  const std::string db = (dir / "doctor.db").string();

  auto r = run_command({binary, "doctor", "--config", cfg.string(), "--db", db}, dir.path());
  INFO(r.all());
  CHECK(r.exit_code() == 1);
  CHECK_THAT(r.out, Catch::Contains("FAIL"));
  CHECK_THAT(r.out, Catch::Contains("acme/generic"));

  // Control: the same configuration offline has no problem.
  auto offline = run_command({binary, "doctor", "--config", cfg.string(), "--db", db, "--offline"}, dir.path());
  INFO(offline.all());
  CHECK(offline.exit_code() == 0);

  // Surveys enabled without a link secret: no invitation could be sent, and doctor says why.
  json no_secret = make_config(co);
  no_secret["tenants"][0]["policy"]["survey"].erase("link_secret");
  write_text(cfg, no_secret.dump(2));
  auto secretless = run_command({binary, "doctor", "--config", cfg.string(), "--db", db, "--offline"}, dir.path());
  INFO(secretless.all());
  CHECK(secretless.exit_code() == 1);
  CHECK_THAT(secretless.out, Catch::Contains("policy.survey.link_secret is not set"));
}

TEST_CASE("a configuration with an unknown key is refused, naming the key", "[integration][cli]") {
  temp_dir dir("cli-unknown-key");
  json c = make_config({});
  c["server"]["colour"] = "blue";
  const fs::path cfg = dir / "config.json";
  write_text(cfg, c.dump(2));

  auto doctor = run_command({binary, "doctor", "--config", cfg.string(), "--db", (dir / "d.db").string()}, dir.path());
  INFO("doctor: " << doctor.all());
  CHECK(doctor.exit_code() != 0);
  CHECK_THAT(doctor.all(), Catch::Contains("colour"));

  auto serve = run_command({binary, "serve", "--config", cfg.string(), "--port", "0", "--db", (dir / "s.db").string()},
                           dir.path(), 10s);
  INFO("serve: " << serve.all());
  REQUIRE(serve.status);  // exited by itself
  CHECK(serve.exit_code() != 0);
  CHECK_THAT(serve.all(), Catch::Contains("colour"));
}

TEST_CASE("closeloop migrate prints the schema version", "[integration][cli]") {
  temp_dir dir("cli-migrate");
  const fs::path cfg = dir / "config.json";
  write_text(cfg, make_config({}).dump(2));
  const fs::path db = dir / "m.db";
  auto r = run_command({binary, "migrate", "--config", cfg.string(), "--db", db.string()}, dir.path());
  INFO(r.all());
  CHECK(r.exit_code() == 0);
  std::smatch m;
  REQUIRE(std::regex_search(r.out, m, std::regex(R"(schema version ([0-9]+))")));
  const int printed = std::stoi(m[1]);
  CHECK(printed >= 1);
  store_options so;
  so.path = db.string();
  auto s = store::open(so);
  REQUIRE(s);
  CHECK((*s)->schema_version() == printed);
  // Again: nothing to do, same version.
  auto again = run_command({binary, "migrate", "--config", cfg.string(), "--db", db.string()}, dir.path());
  CHECK(again.exit_code() == 0);
  CHECK_THAT(again.out, Catch::Contains("schema version " + std::to_string(printed)));
}

TEST_CASE("closeloop replay of examples/events against a running server prints decisions", "[integration][cli]") {
  temp_dir dir("cli-replay");
  server_process srv(dir, make_config({}));
  srv.start();
  const fs::path events = source_dir / "examples" / "events";
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(events))
    if (e.path().extension() == ".json") ++files;
  REQUIRE(files > 0);
  // Survey timers of these (old) events fire at once and add timer.fired events: not counted.
  const std::string host_events = "SELECT count(*) FROM events WHERE type != 'timer.fired'";
  const std::string summary = std::to_string(files) + " of " + std::to_string(files) + " events accepted";

  auto r =
      run_command({binary, "replay", "--config", srv.config_path().string(), "--url", srv.base_url(), events.string()},
                  dir.path(), 60s);
  INFO(r.all());
  CHECK(r.exit_code() == 0);
  CHECK_THAT(r.out, Catch::Contains("HTTP 202"));
  CHECK_THAT(r.out, Catch::Contains("-> set_priority"));
  CHECK_THAT(r.out, Catch::Contains("-> schedule_survey"));
  CHECK_THAT(r.out, Catch::Contains(summary));
  CHECK(db_view(srv.db_path()).scalar(host_events) == static_cast<std::int64_t>(files));

  // Replaying again changes nothing: every event is a duplicate.
  auto again =
      run_command({binary, "replay", "--config", srv.config_path().string(), "--url", srv.base_url(), events.string()},
                  dir.path(), 60s);
  INFO(again.all());
  CHECK(again.exit_code() == 0);
  CHECK_THAT(again.out, Catch::Contains("(duplicate)"));
  CHECK_THAT(again.out, Catch::Contains(summary));
  CHECK(db_view(srv.db_path()).scalar(host_events) == static_cast<std::int64_t>(files));
  CHECK(srv.running());
}
