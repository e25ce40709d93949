// Secrets at rest and privacy against real SQLite files: AES-256-GCM sealing (wrong key and
// tampering are clear errors), no secret in the database bytes, rotation, {"ref"} secrets in the
// config; consent honoured by surveys, the retention purge, export and an erasure that leaves no
// byte of the customer in the file or its WAL; the log formatter that scrubs PII.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "closeloop/config.hpp"
#include "closeloop/engine.hpp"
#include "closeloop/privacy_store.hpp"
#include "closeloop/secret_config.hpp"
#include "closeloop/secrets.hpp"
#include "closeloop/store.hpp"
#include "server/log_scrub.hpp"
#include "server/services.hpp"
#include "store_test_support.hpp"

using namespace closeloop;
using namespace std::chrono_literals;
using store_test::temp_dir;

namespace {

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The database file and its WAL, as bytes.
std::string db_bytes(const std::string& path) { return file_bytes(path) + file_bytes(path + "-wal"); }

bool contains_ci(std::string hay, std::string needle) {
  for (auto* s : {&hay, &needle})
    for (auto& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return hay.find(needle) != std::string::npos;
}

secret_key key_from(char fill) {
  auto k = parse_secret_key(std::string(32, fill), "test key");
  REQUIRE(k);
  return *k;
}

std::string write_key_file(const temp_dir& dir, const std::string& name, char fill) {
  const std::string path = dir.file(name);
  std::ofstream(path) << std::string(32, fill);
  return path;
}

struct env_guard {  // the key comes from the config in these tests, not the environment
  env_guard() {
    ::unsetenv("CLOSELOOP_KEY");
    ::unsetenv("CLOSELOOP_KEY_FILE");
  }
};

}  // namespace

TEST_CASE("secrets: AES-256-GCM values open with their key only; wrong key and tampering are clear errors",
          "[unit][secrets]") {
  key_ring ring;
  ring.add(key_from('a'));
  const std::string aad = secret_aad("acme", "zendesk", "auth.api_token");
  auto v = seal_secret(*ring.current(), "s3cr3t-token-value", aad);
  REQUIRE(v);
  CHECK(v->nonce.size() == 12);
  CHECK(v->key_id == ring.current()->id);
  CHECK(v->ciphertext.find("s3cr3t") == std::string::npos);
  auto again = seal_secret(*ring.current(), "s3cr3t-token-value", aad);
  CHECK(again->nonce != v->nonce);  // a fresh nonce per value
  auto plain = open_secret(ring, *v, aad);
  REQUIRE(plain);
  CHECK(*plain == "s3cr3t-token-value");

  // Bound to tenant/host/name: the same bytes under another name do not open.
  auto moved = open_secret(ring, *v, secret_aad("acme", "zendesk", "webhook_secret"));
  REQUIRE_FALSE(moved);
  CHECK_THAT(moved.err().message, Catch::Contains("wrong key for this value, or the stored value was altered"));

  sealed_value tampered = *v;
  tampered.ciphertext[0] = static_cast<char>(tampered.ciphertext[0] ^ 1);
  CHECK_FALSE(open_secret(ring, tampered, aad));

  key_ring other;
  other.add(key_from('b'));
  auto wrong = open_secret(other, *v, aad);
  REQUIRE_FALSE(wrong);
  CHECK_THAT(wrong.err().message, Catch::Contains("sealed with key " + v->key_id));
  CHECK_THAT(wrong.err().message, Catch::Contains("not loaded"));

  // A forged key id equal to the wrong key's id: authentication fails, never garbage.
  sealed_value forged = *v;
  forged.key_id = other.current()->id;
  auto garbage = open_secret(other, forged, aad);
  REQUIRE_FALSE(garbage);
  CHECK_THAT(garbage.err().message, Catch::Contains("cannot be opened with key"));

  CHECK_FALSE(parse_secret_key("too short", "k"));
  CHECK_THAT(parse_secret_key("c2hvcnQ=", "key file x").err().message, Catch::Contains("is 5 bytes"));
  auto b64 = generate_secret_key_base64();
  REQUIRE(b64);
  CHECK(parse_secret_key(*b64 + "\n", "generated"));
}

TEST_CASE("secrets: stored values are not in the database file in clear; rekey keeps them readable",
          "[unit][secrets][store]") {
  temp_dir dir;
  const std::string path = dir.file("s.db");
  auto db = store_test::open_store(path);
  auto ss = secret_store::open(path);
  REQUIRE(ss);
  key_ring old_ring;
  old_ring.add(key_from('o'));
  const std::string token = "zd-api-token-9f8e7d6c5b4a";
  const std::string hook = "whsec_dGhpcyBpcyBhIHNlY3JldCB2YWx1ZQ==";
  REQUIRE((*ss)->put(old_ring, "acme", "zendesk", "auth.api_token", token));
  REQUIRE((*ss)->put(old_ring, "acme", "generic", "webhook_secret", hook));
  REQUIRE((*ss)->put(old_ring, "acme", "", "policy.survey.link_secret", "link-secret-0123456789"));

  const std::string bytes = db_bytes(path);
  CHECK(bytes.find(token) == std::string::npos);
  CHECK(bytes.find(hook) == std::string::npos);
  CHECK(bytes.find("link-secret-0123456789") == std::string::npos);
  CHECK(bytes.find("auth.api_token") != std::string::npos);  // the names are not secret (the scan can see)

  auto listed = (*ss)->list();
  REQUIRE(listed);
  REQUIRE(listed->size() == 3);
  CHECK((*listed)[0].key_id == old_ring.current()->id);

  const secret_key fresh = key_from('n');
  auto n = (*ss)->rekey(old_ring, fresh);
  REQUIRE(n);
  CHECK(*n == 3);
  // New key with the old one still accepted (rotating): readable.
  key_ring rotating;
  rotating.add(fresh);
  rotating.add(key_from('o'));
  CHECK(*(*ss)->get(rotating, "acme", "zendesk", "auth.api_token") == token);
  // The new key alone: readable (everything was re-sealed).
  key_ring only_new;
  only_new.add(fresh);
  CHECK(*(*ss)->get(only_new, "acme", "generic", "webhook_secret") == hook);
  CHECK(*(*ss)->get(only_new, "acme", "", "policy.survey.link_secret") == "link-secret-0123456789");
  auto resealed = (*ss)->list();
  REQUIRE(resealed);
  for (const auto& e : *resealed) CHECK(e.key_id == fresh.id);
  // The old key alone: a clear error naming the key the value needs.
  auto stale = (*ss)->get(old_ring, "acme", "zendesk", "auth.api_token");
  REQUIRE_FALSE(stale);
  CHECK_THAT(stale.err().message, Catch::Contains("secret \"auth.api_token\" (tenant acme, host zendesk)"));
  CHECK_THAT(stale.err().message, Catch::Contains("sealed with key " + fresh.id));
  // Rekey with a ring that cannot open a value changes nothing.
  key_ring unrelated;
  unrelated.add(key_from('x'));
  auto refused = (*ss)->rekey(unrelated, key_from('y'));
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.err().message, Catch::Contains("nothing changed"));
  CHECK(*(*ss)->get(only_new, "acme", "zendesk", "auth.api_token") == token);
  CHECK(db_bytes(path).find(token) == std::string::npos);

  auto missing = (*ss)->get(only_new, "acme", "zendesk", "nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == errc::not_found);
}

TEST_CASE("config: {\"ref\": NAME} secrets resolve from the store; clear ones are listed for doctor",
          "[unit][secrets][config]") {
  env_guard env;
  temp_dir dir;
  const std::string db_path = dir.file("c.db");
  const std::string key_path = write_key_file(dir, "key", 'k');
  json doc = {
      {"store", {{"path", db_path}}},
      {"security", {{"key_file", key_path}}},
      {"tenants",
       {{{"id", "acme"},
         {"policy", {{"survey", {{"link_secret", {{"ref", "link"}}}}}}},
         {"hosts",
          {{{"id", "gen"},
            {"vendor", "generic"},
            {"webhook_secret", {{"ref", "hook"}}},
            {"endpoint", {{"url", "http://127.0.0.1:9/actions"}, {"secret", "whsec_Y2xlYXJ0ZXh0c2VjcmV0dmFsdWU="}}}}}}}}}};
  auto cfg = parse_config(doc.dump(), dir.file(""));
  REQUIRE(cfg);
  REQUIRE(cfg->secret_refs.size() == 2);
  CHECK(cfg->plaintext_secrets == std::vector<std::string>{"/tenants/0/hosts/0/endpoint/secret"});
  // Unresolved, nothing can run on it: services refuse without the values.
  {
    auto svc = server::services::create(*cfg, false);
    REQUIRE_FALSE(svc);
    CHECK_THAT(svc.err().message, Catch::Contains("refers to a stored secret"));
  }
  // The refs name values that are not stored yet: a clear error with the pointer.
  {
    config c = *cfg;
    (void)store_test::open_store(db_path);
    auto r = resolve_stored_secrets(c);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.err().message, Catch::Contains("/tenants/0"));
    CHECK_THAT(r.err().message, Catch::Contains("is not in the store"));
  }
  auto ring = load_key_ring(key_path, {});
  REQUIRE(ring);
  auto ss = secret_store::open(db_path);
  REQUIRE(ss);
  REQUIRE((*ss)->put(*ring, "acme", "gen", "hook", "whsec_c3RvcmVkd2ViaG9va3NlY3JldA=="));
  REQUIRE((*ss)->put(*ring, "acme", "", "link", "a-link-secret-of-enough-length"));
  config c = *cfg;
  REQUIRE(resolve_stored_secrets(c));
  CHECK(c.secret_refs.empty());
  CHECK(c.tenants[0].pol.survey.link_secret == "a-link-secret-of-enough-length");
  CHECK(c.tenants[0].hosts[0].settings["webhook_secret"] == "whsec_c3RvcmVkd2ViaG9va3NlY3JldA==");
  CHECK(c.plaintext_secrets.size() == 1);
  auto svc = server::services::create(*cfg);  // resolves on its own
  REQUIRE(svc);
  CHECK((*svc)->cfg().tenants[0].pol.survey.link_secret == "a-link-secret-of-enough-length");

  // A stored value that breaks the field's rule is refused like one written in the file, and
  // the message never echoes the value.
  REQUIRE((*ss)->put(*ring, "acme", "", "link", "short"));
  config bad = *cfg;
  auto r = resolve_stored_secrets(bad);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.err().message, Catch::Contains("link_secret"));
  CHECK(r.err().message.find("\"short\"") == std::string::npos);

  // A malformed reference is named.
  doc["tenants"][0]["hosts"][0]["webhook_secret"] = {{"ref", "bad name!"}};
  auto malformed = parse_config(doc.dump(), dir.file(""));
  REQUIRE_FALSE(malformed);
  CHECK_THAT(malformed.err().message, Catch::Contains("/tenants/0/hosts/0/webhook_secret"));
}

namespace {

struct survey_loop {
  temp_dir dir;
  std::string path = dir.file("p.db");
  std::unique_ptr<store> db = store_test::open_store(path);
  rule_classifier clf{rule_classifier_config{}};
  policy pol = [] {
    policy p;
    p.survey.delay = 3600s;
    p.survey.link_secret = "0123456789abcdef0123";
    p.survey.throttle.window = 0s;
    return p;
  }();
  engine eng{pol, clf};
  fixed_clock clk{store_test::at(0)};

  ledger_decide_fn decider() {
    return [this](const event& ev, const ticket_state& s, const survey::ledger& l) { return eng.decide(ev, s, clk, &l); };
  }
  event make(event_type t, const std::string& ticket, const std::string& id, const std::string& email,
             const std::string& name = "", const std::string& text = "") {
    event e;
    e.type = t;
    e.tenant = "acme";
    e.host = "generic";
    e.ticket_id = ticket;
    e.host_event_id = id;
    e.occurred_at = clk.now();
    e.requester.email = email;
    e.requester.name = name;
    e.subject = text.empty() ? "" : "About: " + text;
    e.text = text;
    if (t == event_type::ticket_created) e.channel = "email";
    return e;
  }
  void put(const event& ev) {
    auto r = db->ingest(ev, decider());
    if (!r) FAIL(r.err().message);
  }
  void fire_due() {
    for (const auto& ev : store_test::due_timer_events(*db, clk.now())) put(ev);
  }
  int invitations(const std::string& ticket) {
    auto all = db->outbox(std::nullopt, 100000);
    REQUIRE(all);
    return static_cast<int>(std::count_if(all->begin(), all->end(), [&](const outbox_item& i) {
      return i.act.type == action_type::send_survey && i.act.ticket_id == ticket;
    }));
  }
  std::string survey_note(const std::string& ticket) {
    auto rows = db->surveys("acme", 1000);
    REQUIRE(rows);
    for (const auto& r : *rows)
      if (r["ticket_id"] == ticket) return r.value("status", "") + ": " + r.value("note", "");
    return "";
  }
};

}  // namespace

TEST_CASE("privacy: an opted-out customer gets no survey; opting in again restores it", "[unit][privacy][survey]") {
  survey_loop l;
  auto ps = privacy_store::open(l.path);
  REQUIRE(ps);
  // Opted out between the solve and the send: the send-time check (inside the ingest
  // transaction) skips it. The address is normalised ("Name <ADDR>", case).
  l.put(l.make(event_type::ticket_created, "1", "c1", "Ann <Ann@Example.COM>"));
  l.put(l.make(event_type::ticket_solved, "1", "s1", "Ann <Ann@Example.COM>"));
  REQUIRE((*ps)->set_consent("acme", " ann@example.com ", "opted_out", "cli", l.clk.now()));
  CHECK(*(*ps)->opted_out("acme", "ANN@example.com"));
  CHECK_FALSE(*(*ps)->opted_out("other-tenant", "ann@example.com"));
  l.clk.set(store_test::at(7200));
  l.fire_due();
  CHECK(l.invitations("1") == 0);
  CHECK(l.survey_note("1") == "skipped: the customer opted out of surveys");
  // Someone else is still surveyed.
  l.put(l.make(event_type::ticket_created, "2", "c2", "bob@example.com"));
  l.put(l.make(event_type::ticket_solved, "2", "s2", "bob@example.com"));
  l.clk.set(store_test::at(7200 + 3600 + 1));
  l.fire_due();
  CHECK(l.invitations("2") == 1);
  // Opted in again: the next ticket gets its survey.
  REQUIRE((*ps)->set_consent("acme", "ann@example.com", "opted_in", "survey_page", l.clk.now()));
  l.put(l.make(event_type::ticket_created, "3", "c3", "ann@example.com"));
  l.put(l.make(event_type::ticket_solved, "3", "s3", "ann@example.com"));
  l.clk.set(store_test::at(20000));
  l.fire_due();
  CHECK(l.invitations("3") == 1);
  // The consent table never holds the address, only its hash.
  SQLite::Database db(l.path, SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "SELECT count(*), sum(length(person_hash) = 64) FROM privacy_consent WHERE instr(person_hash, '@') = 0");
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getInt() == 1);
  CHECK(q.getColumn(1).getInt() == 1);
}

TEST_CASE("privacy: the retention purge removes what is old and keeps what is not, in bounded batches",
          "[unit][privacy][store]") {
  survey_loop l;
  for (int i = 0; i < 7; ++i) {
    const std::string t = std::to_string(i);
    l.put(l.make(event_type::ticket_created, t, "c" + t, "p" + t + "@example.com", "", "old text number " + t));
  }
  l.put(l.make(event_type::ticket_solved, "0", "s0", "p0@example.com"));
  l.clk.set(store_test::at(7200));
  l.fire_due();
  event ans = l.make(event_type::survey_answered, "0", "survey:0:1:a", "");
  ans.data = {{"survey", "csat"}, {"kind", "csat"}, {"score", 4}, {"submission_id", "a"}, {"comment", "old comment"}};
  l.put(ans);
  // Age: tickets 0-3 were received 100 days ago; 4-6 are recent.
  const std::int64_t now_ms = l.clk.now().time_since_epoch().count();
  {
    SQLite::Database db(l.path, SQLite::OPEN_READWRITE);
    db.exec("UPDATE events SET received_at_ms = " + std::to_string(now_ms - 100LL * 86400000) +
            " WHERE CAST(ticket_id AS INTEGER) <= 3");
    db.exec("UPDATE ticket_state SET updated_at_ms = " + std::to_string(now_ms - 100LL * 86400000) +
            " WHERE CAST(ticket_id AS INTEGER) <= 3");
    db.exec("UPDATE events SET received_at_ms = " + std::to_string(now_ms) + " WHERE CAST(ticket_id AS INTEGER) > 3");
    db.exec("UPDATE ticket_state SET updated_at_ms = " + std::to_string(now_ms) +
            " WHERE CAST(ticket_id AS INTEGER) > 3");
    db.exec("UPDATE surveys SET answered_at_ms = " + std::to_string(now_ms - 100LL * 86400000));
    // The worker finished the old tickets' actions long ago.
    db.exec("UPDATE outbox SET status = 'done', updated_at_ms = " + std::to_string(now_ms - 100LL * 86400000) +
            " WHERE CAST(ticket_id AS INTEGER) <= 3 AND ticket_id <> '0'");
  }
  auto ps = privacy_store::open(l.path);
  REQUIRE(ps);
  retention_policy p;
  p.texts_days = 30;
  p.survey_answers_days = 60;
  p.batch = 2;        // several batches
  p.max_batches = 2;  // bounded: one call stops with work left
  auto first = (*ps)->purge(p, l.clk.now());
  REQUIRE(first);
  CHECK(first->more);
  purge_counts total = *first;
  for (int i = 0; i < 20 && total.more; ++i) {
    auto r = (*ps)->purge(p, l.clk.now());
    REQUIRE(r);
    total.more = r->more;
    total.event_texts_removed += r->event_texts_removed;
    total.state_texts_removed += r->state_texts_removed;
    total.survey_answers_removed += r->survey_answers_removed;
  }
  CHECK_FALSE(total.more);
  CHECK(total.survey_answers_removed == 1);
  auto s0 = l.db->surveys("acme", 10);
  REQUIRE(s0);
  REQUIRE(s0->size() == 1);
  CHECK((*s0)[0]["response"].is_null());
  CHECK((*s0)[0]["score"] == 4);  // the score stays for reports
  SQLite::Database db(l.path, SQLite::OPEN_READONLY);
  auto text_count = [&](const std::string& needle) {
    SQLite::Statement q(db, "SELECT count(*) FROM events WHERE instr(body, ?) > 0");
    q.bind(1, needle);
    q.executeStep();
    return q.getColumn(0).getInt();
  };
  for (int i = 0; i <= 3; ++i) CHECK(text_count("old text number " + std::to_string(i)) == 0);
  for (int i = 4; i <= 6; ++i) CHECK(text_count("old text number " + std::to_string(i)) == 1);
  auto st = l.db->state("acme", "generic", "1");
  REQUIRE(st);
  CHECK(st->subject.empty());
  CHECK(st->known);  // the lifecycle stays
  CHECK(st->requester_email == "p1@example.com");
  CHECK(l.db->state("acme", "generic", "5")->subject == "About: old text number 5");

  // Events retention deletes old events (their finished work first), keeps recent ones.
  retention_policy ev;
  ev.events_days = 30;
  ev.batch = 100;
  auto del = (*ps)->purge(ev, l.clk.now());
  REQUIRE(del);
  // Tickets 1-3 are gone; ticket 0 still has unfinished work (its survey's actions), so its
  // events wait; 4-6 are recent.
  SQLite::Statement left(db, "SELECT group_concat(ticket_id) FROM (SELECT DISTINCT ticket_id FROM events"
                             " WHERE type = 'ticket.created' ORDER BY CAST(ticket_id AS INTEGER))");
  left.executeStep();
  CHECK(left.getColumn(0).getString() == "0,4,5,6");
  CHECK(del->events_deleted >= 3);
}

TEST_CASE("privacy: export returns everything held; erase leaves no trace in the database file or WAL",
          "[unit][privacy][store]") {
  survey_loop l;
  const std::string email = "zoe.tracer@example.org", name = "Zoe Tracerfield";
  const std::string text = "My parcel 7QX-UNIQUE-PARCEL never arrived at the depot";
  l.put(l.make(event_type::ticket_created, "10", "c10", name + " <" + email + ">", name, text));
  event reply = l.make(event_type::ticket_commented, "10", "m10", email, name, "Please help, Zoe-unique-comment");
  reply.visibility = "public";
  reply.author = {"", email, name, "customer"};
  l.put(reply);
  l.put(l.make(event_type::ticket_solved, "10", "s10", email, name));
  l.clk.set(store_test::at(7200));
  l.fire_due();
  REQUIRE(l.invitations("10") == 1);
  event ans = l.make(event_type::survey_answered, "10", "survey:10:1:z", "");
  ans.data = {{"survey", "csat"}, {"kind", "csat"}, {"score", 2}, {"submission_id", "z"},
              {"comment", "answer-comment-UNIQUE-zoe"}};
  l.put(ans);
  // Someone else's ticket stays untouched.
  l.put(l.make(event_type::ticket_created, "11", "c11", "keep@example.net", "Keep Person", "keep this text"));
  {
    SQLite::Database db(l.path, SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO kb_articles (tenant, host, article_id, title, body, origin, source_ticket, updated_at_ms)"
            " VALUES ('acme', 'generic', 'kb-1', 'Parcel lost', 'Steps for 7QX-UNIQUE-PARCEL', 'closeloop', '10', 0)");
    db.exec("INSERT INTO kb_links (tenant, host, ticket_id, article_id, kind, score, at_ms)"
            " VALUES ('acme', 'generic', '10', 'kb-1', 'created', 1, 0)");
  }
  auto ps = privacy_store::open(l.path);
  REQUIRE(ps);
  REQUIRE((*ps)->set_consent("acme", email, "opted_in", "survey_page", l.clk.now()));

  auto exported = (*ps)->export_customer(email, {});
  REQUIRE(exported);
  const json& x = *exported;
  CHECK(x["customer"] == email);
  REQUIRE(x["tickets"].size() == 1);
  const json& t = x["tickets"][0];
  CHECK(t["ticket_id"] == "10");
  CHECK(t["events"].size() >= 4);  // created, commented, solved, timer, answered
  CHECK(t["state"]["requester_email"] == email);
  CHECK(t["surveys"].size() == 1);
  CHECK(t["surveys"][0]["response"]["comment"] == "answer-comment-UNIQUE-zoe");
  CHECK(t["actions"].size() >= 1);
  CHECK(t["kb_links"].size() == 1);
  CHECK(x["kb_articles"].size() == 1);
  CHECK(x["consent"].size() == 1);
  CHECK(x["consent"][0]["status"] == "opted_in");
  CHECK(x.dump().find(text) != std::string::npos);
  CHECK(x.dump().find("keep this text") == std::string::npos);  // nobody else's data

  // Before the erasure the bytes are there (so the scan below can fail).
  {
    const std::string before = db_bytes(l.path);
    CHECK(contains_ci(before, email));
    CHECK(before.find("7QX-UNIQUE-PARCEL") != std::string::npos);
  }
  l.db.reset();  // serve stopped: the erasure can truncate the WAL
  auto n = (*ps)->erase_customer(email, {});
  REQUIRE(n);
  CHECK(n->tickets == 1);
  CHECK(n->wal_truncated);
  CHECK(n->surveys >= 1);
  CHECK(n->kb_articles == 1);
  const std::string after = db_bytes(l.path);
  for (const std::string& needle : {email, name, std::string("Tracerfield"),
                                    std::string("7QX-UNIQUE-PARCEL"), std::string("Zoe-unique-comment"),
                                    std::string("answer-comment-UNIQUE-zoe")})
    CHECK_FALSE(contains_ci(after, needle));
  CHECK(after.find("keep this text") != std::string::npos);
  CHECK(contains_ci(after, "keep@example.net"));

  // The ticket's lifecycle survives: a redelivered event is still recognised, and no second
  // survey goes out.
  l.db = store_test::open_store(l.path);
  CHECK(l.db->has_event("acme", "generic", "s10"));
  auto again = l.db->ingest(l.make(event_type::ticket_solved, "10", "s10", email, name), l.decider());
  REQUIRE(again);
  CHECK(again->duplicate);
  auto empty = (*ps)->export_customer(email, {});
  REQUIRE(empty);
  CHECK((*empty)["tickets"].empty());
}

TEST_CASE("logs: every line goes through the PII scrubber", "[unit][privacy][logs]") {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto logger = std::make_shared<spdlog::logger>("scrub-test", sink);
  logger->set_formatter(std::make_unique<server::scrubbing_formatter>(server::k_log_pattern));
  logger->info("survey sent tenant=acme ticket=42 to ann.customer@example.com phone +86 138 0013 8000");
  logger->warn("no PII here: ticket=42 action=send_survey attempt=3");
  logger->flush();
  const std::string out = captured.str();
  CHECK(out.find("ann.customer@example.com") == std::string::npos);
  CHECK(out.find("138 0013 8000") == std::string::npos);
  CHECK(out.find("survey sent tenant=acme ticket=42 to ") != std::string::npos);
  CHECK(out.find("no PII here: ticket=42 action=send_survey attempt=3") != std::string::npos);
  CHECK(out.find(" info ") != std::string::npos);
}
