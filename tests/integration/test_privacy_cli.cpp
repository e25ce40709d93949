// Secrets and privacy through the real `closeloop` command and `closeloop serve` on loopback:
// secret import moves the config's clear secrets into the store, serve runs on {"ref"} secrets
// (a signed webhook is accepted, so the stored secret was used) and neither its log nor the
// database file holds the secret or the customer's address; rekey keeps serve working with the
// new key (old key alone: a clear error); privacy export and erase on the served database.
#include <catch2/catch.hpp>

#include "harness.hpp"
#include "../adapters/loopback_server.hpp"

using namespace closeloop;
using namespace closeloop::itest;

namespace {

const std::string binary = CLOSELOOP_BINARY;

std::string bytes_of(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec) ? read_text(p) : std::string();
}

// The database file and its WAL.
std::string db_bytes(const fs::path& db) { return bytes_of(db) + bytes_of(fs::path(db.string() + "-wal")); }

command_result cli(const temp_dir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), binary);
  return run_command(args, dir.path());
}

}  // namespace

TEST_CASE("closeloop secret import, serve on stored secrets, rekey; nothing secret in the log or the file",
          "[integration][cli][secrets]") {
  temp_dir dir("privacy-secrets");
  const fs::path db = dir / "closeloop.db";
  const fs::path key = dir / "key", key2 = dir / "key2";
  REQUIRE(cli(dir, {"secret", "keygen", "--out", key.string()}).exit_code() == 0);
  REQUIRE(cli(dir, {"secret", "keygen", "--out", key2.string()}).exit_code() == 0);
  CHECK(cli(dir, {"secret", "keygen", "--out", key.string()}).exit_code() == 1);  // never overwritten

  config_options co;
  json cfg = make_config(co);
  cfg["store"] = {{"path", db.string()}};
  cfg["security"] = {{"key_file", key.string()}};
  const fs::path plain_cfg = dir / "plain.json", ref_cfg = dir / "refs.json";
  write_text(plain_cfg, cfg.dump(2));

  // doctor points at the clear secret.
  auto doc = cli(dir, {"doctor", "--config", plain_cfg.string(), "--offline"});
  INFO(doc.all());
  CHECK_THAT(doc.out, Catch::Contains("secret written in clear in the config at /tenants/0/hosts/0/webhook_secret"));
  CHECK_THAT(doc.out, Catch::Contains("closeloop secret import"));

  auto imp = cli(dir, {"secret", "import", "--config", plain_cfg.string(), "--out", ref_cfg.string()});
  INFO(imp.all());
  REQUIRE(imp.exit_code() == 0);
  CHECK_THAT(imp.out, Catch::Contains("/tenants/0/hosts/0/webhook_secret  ->  {\"ref\": \"webhook_secret\"}"));
  const std::string refs_text = read_text(ref_cfg);
  CHECK(refs_text.find(std::string(inbound_secret)) == std::string::npos);
  CHECK(db_bytes(db).find(std::string(inbound_secret)) == std::string::npos);
  auto listed = cli(dir, {"secret", "list", "--config", ref_cfg.string()});
  CHECK_THAT(listed.out, Catch::Contains("acme\tgeneric\twebhook_secret\t"));
  CHECK(listed.out.find(std::string(inbound_secret)) == std::string::npos);
  auto ok_doctor = cli(dir, {"doctor", "--config", ref_cfg.string(), "--offline"});
  INFO(ok_doctor.all());
  CHECK(ok_doctor.exit_code() == 0);
  CHECK_THAT(ok_doctor.out, Catch::Contains("stored secret(s) the config refers to open"));

  const std::string email = "secret.tester@example.com";
  {
    server_process srv(dir, json::parse(refs_text), db);
    srv.start();
    json ev = event_json("ticket.created", "501", "Please call me, my mail is " + email);
    ev["requester"]["email"] = email;
    auto r = post_signed(srv, "evt-501", ev.dump());  // signed with the secret that is now only stored
    REQUIRE(r);
    CHECK(r->status == 202);
    auto bad = http_post(srv.webhook_url(), sign_headers("evt-502", "{}", unix_now(), outbound_secret), "{}");
    REQUIRE(bad);
    CHECK(bad->status == 401);
    srv.signal(SIGTERM);
    CHECK(srv.wait(10s).has_value());
    const std::string log = srv.stderr_text() + srv.stdout_text();
    INFO(log);
    CHECK_THAT(log, Catch::Contains("event accepted tenant=acme"));
    CHECK(log.find(std::string(inbound_secret)) == std::string::npos);
    CHECK(log.find(std::string(inbound_secret).substr(6)) == std::string::npos);  // nor its base64 part
    CHECK(log.find(email) == std::string::npos);
  }
  CHECK(db_bytes(db).find(std::string(inbound_secret)) == std::string::npos);

  // Rotation: re-sealed under key2; serve with key2 (key kept as previous) works, key alone
  // is refused with a clear error.
  auto rk = cli(dir, {"rekey", "--config", ref_cfg.string(), "--new-key-file", key2.string()});
  INFO(rk.all());
  REQUIRE(rk.exit_code() == 0);
  CHECK_THAT(rk.out, Catch::Contains("re-sealed"));
  auto stale = cli(dir, {"doctor", "--config", ref_cfg.string(), "--offline"});
  INFO(stale.all());
  CHECK(stale.exit_code() == 1);
  CHECK_THAT(stale.out, Catch::Contains("which is not loaded"));
  json rotated = json::parse(refs_text);
  rotated["security"] = {{"key_file", key2.string()}, {"previous_key_files", {key.string()}}};
  {
    server_process srv(dir, rotated, db);
    srv.start();
    json ev = event_json("ticket.created", "503");
    auto r = post_signed(srv, "evt-503", ev.dump());
    REQUIRE(r);
    CHECK(r->status == 202);
  }
}

TEST_CASE("closeloop privacy opt-out, export and erase on a served database", "[integration][cli][privacy]") {
  temp_dir dir("privacy-erase");
  const fs::path db = dir / "closeloop.db";
  config_options co;
  json cfg = make_config(co);
  const fs::path cfg_path = dir / "cfg.json";
  cfg["store"] = {{"path", db.string()}};
  write_text(cfg_path, cfg.dump(2));
  const std::string email = "erin.erase@example.net";
  {
    server_process srv(dir, cfg, db);
    srv.start();
    json ev = event_json("ticket.created", "601", "Erin's order UNIQUE-ORDER-601 is missing");
    ev["requester"] = {{"id", "cust-601"}, {"email", email}, {"name", "Erin Erasewell"}, {"role", "customer"}};
    auto r = post_signed(srv, "evt-601", ev.dump());
    REQUIRE(r);
    CHECK(r->status == 202);
  }
  auto out = cli(dir, {"privacy", "opt-out", "--config", cfg_path.string(), "--customer", email});
  INFO(out.all());
  CHECK(out.exit_code() == 0);
  auto bad = cli(dir, {"privacy", "export", "--config", cfg_path.string(), "--customer", "not-an-address"});
  CHECK(bad.exit_code() == 2);
  CHECK_THAT(bad.err, Catch::Contains("is not an e-mail address"));

  const fs::path exported = dir / "export.json";
  auto ex = cli(dir, {"privacy", "export", "--config", cfg_path.string(), "--customer", email, "--out", exported.string()});
  INFO(ex.all());
  REQUIRE(ex.exit_code() == 0);
  json x = json::parse(read_text(exported));
  REQUIRE(x["tickets"].size() == 1);
  CHECK(x["tickets"][0]["events"][0]["body"]["text"] == "Erin's order UNIQUE-ORDER-601 is missing");
  CHECK(x["consent"][0]["status"] == "opted_out");

  CHECK(db_bytes(db).find("UNIQUE-ORDER-601") != std::string::npos);
  auto er = cli(dir, {"privacy", "erase", "--config", cfg_path.string(), "--customer", email});
  INFO(er.all());
  CHECK(er.exit_code() == 0);
  const std::string after = db_bytes(db);
  CHECK(after.find(email) == std::string::npos);
  CHECK(after.find("Erasewell") == std::string::npos);
  CHECK(after.find("UNIQUE-ORDER-601") == std::string::npos);
  // Both were audited, naming the customer by a hash only.
  auto audit = cli(dir, {"audit", "list", "--config", cfg_path.string()});
  INFO(audit.all());
  CHECK_THAT(audit.out, Catch::Contains("privacy.export"));
  CHECK_THAT(audit.out, Catch::Contains("privacy.erase"));
  CHECK(audit.out.find(email) == std::string::npos);
}

TEST_CASE("an invitation waiting for a helpdesk outage is not sent once the customer opts out",
          "[integration][cli][privacy][survey]") {
  temp_dir dir("privacy-late-opt-out");
  const fs::path db = dir / "closeloop.db";
  test::loopback_server sink;
  std::atomic<bool> host_down{false};
  sink.set_handler([&](const test::recorded_request&) {
    return host_down ? test::scripted_response{503, {}, "helpdesk down"} : test::scripted_response{};
  });
  config_options co;
  co.endpoint_url = sink.url("/actions");
  json cfg = make_config(co);
  cfg["store"] = {{"path", db.string()}};
  cfg["worker"]["breaker_failures"] = 0;  // retried every second at most, not held by a circuit
  const fs::path cfg_path = dir / "cfg.json";
  write_text(cfg_path, cfg.dump(2));
  server_process srv(dir, cfg, db);
  srv.start();
  const std::string email = "olga.optout@example.net";
  auto send = [&](const std::string& id, json ev) {
    ev["requester"] = {{"id", "cust-701"}, {"email", email}, {"name", "Olga Optout"}, {"role", "customer"}};
    auto r = post_signed(srv, id, ev.dump());
    REQUIRE(r);
    REQUIRE(r->status == 202);
  };
  auto invitations = [&] {
    std::size_t n = 0;
    for (const auto& r : sink.requests())
      if (r.body.find("\"send_survey\"") != std::string::npos) ++n;
    return n;
  };
  send("c-701", event_json("ticket.created", "701", "The invoice PDF will not download."));
  // The triage write-back goes out first (a ticket's actions run in order: one still failing would
  // hold the invitation back).
  REQUIRE(eventually(
      [&] {
        return db_view(db).scalar("SELECT count(*) FROM outbox WHERE ticket_id = '701' AND status IN ('pending', 'running')"
                                  " AND type <> 'suggest_kb_articles'") == 0;
      },
      15s));
  // The helpdesk goes down; the ticket is solved; the invitation is decided (1 s) and waits, retried.
  host_down = true;
  send("s-701", event_json("ticket.solved", "701"));
  REQUIRE(eventually([&] { return invitations() >= 1; }, 15s));

  auto out = cli(dir, {"privacy", "opt-out", "--config", cfg_path.string(), "--customer", email});
  INFO(out.all());
  REQUIRE(out.exit_code() == 0);
  const auto tried = invitations();
  host_down = false;
  // The next attempt finds the opt-out: the row is cancelled with the reason, never delivered.
  REQUIRE(eventually(
      [&] {
        return db_view(db).scalar("SELECT count(*) FROM outbox WHERE ticket_id = '701' AND type = 'send_survey'"
                                  " AND status = 'cancelled' AND last_error LIKE '%opted out%'") == 1;
      },
      15s));
  std::this_thread::sleep_for(500ms);
  INFO("server: " << srv.stderr_text());
  CHECK(invitations() <= tried + 1);  // at most the attempt already on the wire when it opted out
  db_view v(db);
  CHECK(v.scalar("SELECT count(*) FROM outbox WHERE ticket_id = '701' AND type = 'send_survey' AND status = 'done'") == 0);
  CHECK(v.scalar("SELECT count(*) FROM surveys WHERE ticket_id = '701' AND status = 'skipped'"
                 " AND note LIKE '%opted out%'") == 1);
  CHECK_THAT(srv.stderr_text(), Catch::Contains("action cancelled") && Catch::Contains("opted out"));
}
