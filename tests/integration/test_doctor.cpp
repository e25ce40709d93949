// `closeloop doctor`'s TLS section: a good certificate and key, a key of another certificate, an
// expired certificate, one about to expire, and a missing file - each said in plain words, and
// the exit status 1 whenever something failed. Certificates are made by the openssl command.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "harness.hpp"

using namespace closeloop;
using namespace closeloop::itest;

namespace {

const std::string binary = CLOSELOOP_BINARY;

void sh(const std::string& cmd) {
  INFO(cmd);
  REQUIRE(std::system(("cd /tmp && " + cmd + " >/dev/null 2>&1").c_str()) == 0);
}

// A P-256 key and a self-signed certificate for IP 127.0.0.1, valid for `days` from now.
void make_cert(const fs::path& cert, const fs::path& key, int days) {
  sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1"
     " -addext subjectAltName=IP:127.0.0.1 -days " + std::to_string(days) + " -keyout " + key.string() + " -out " +
     cert.string());
}

// Self-signed, valid in January 2020 only (openssl ca sets the dates; req cannot go back in time).
void make_expired_cert(const fs::path& dir, const fs::path& cert, const fs::path& key) {
  const fs::path ca = dir / "ca";
  fs::create_directories(ca / "new");
  write_text(ca / "index.txt", "");
  write_text(ca / "serial", "01\n");
  write_text(ca / "ca.cnf", "[ca]\ndefault_ca=d\n[d]\ndir=" + ca.string() +
                                "\ndatabase=$dir/index.txt\nnew_certs_dir=$dir/new\nserial=$dir/serial\n"
                                "default_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n");
  sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=old.example -keyout " + key.string() +
     " -out " + (ca / "req.csr").string());
  sh("openssl ca -batch -config " + (ca / "ca.cnf").string() + " -selfsign -keyfile " + key.string() + " -in " +
     (ca / "req.csr").string() + " -out " + cert.string() + " -startdate 20200101000000Z -enddate 20200201000000Z");
}

command_result doctor_with_tls(const temp_dir& dir, const fs::path& cert, const fs::path& key) {
  config_options co;
  co.tls = std::pair{cert.string(), key.string()};
  const fs::path cfg = dir / "config.json";
  write_text(cfg, make_config(co).dump(2));
  return run_command({binary, "doctor", "--config", cfg.string(), "--db", (dir / "doctor.db").string(), "--offline"},
                     dir.path());
}

}  // namespace

TEST_CASE("closeloop doctor checks the TLS certificate, its key and its dates", "[integration][cli][doctor]") {
  temp_dir dir("cli-doctor-tls");
  const fs::path cert = dir / "cert.pem", key = dir / "key.pem";
  make_cert(cert, key, 90);

  auto good = doctor_with_tls(dir, cert, key);
  INFO(good.all());
  CHECK(good.exit_code() == 0);
  CHECK_THAT(good.out, Catch::Contains("ok    TLS certificate for 127.0.0.1 and its key match"));
  CHECK_THAT(good.out, Catch::Contains("days left"));

  // The key of another certificate.
  const fs::path other_cert = dir / "other.pem", other_key = dir / "other-key.pem";
  make_cert(other_cert, other_key, 90);
  auto mismatch = doctor_with_tls(dir, cert, other_key);
  INFO(mismatch.all());
  CHECK(mismatch.exit_code() == 1);
  CHECK_THAT(mismatch.out, Catch::Contains("FAIL  TLS: the private key " + other_key.string() +
                                           " does not belong to the certificate " + cert.string()));

  // Expired.
  const fs::path old_cert = dir / "old.pem", old_key = dir / "old-key.pem";
  make_expired_cert(dir.path(), old_cert, old_key);
  auto expired = doctor_with_tls(dir, old_cert, old_key);
  INFO(expired.all());
  CHECK(expired.exit_code() == 1);
  CHECK_THAT(expired.out, Catch::Contains("FAIL  TLS: the certificate for old.example expired on Feb  1 00:00:00 2020 GMT"));

  // About to expire: said, but not a failure.
  const fs::path soon_cert = dir / "soon.pem", soon_key = dir / "soon-key.pem";
  make_cert(soon_cert, soon_key, 10);
  auto soon = doctor_with_tls(dir, soon_cert, soon_key);
  INFO(soon.all());
  CHECK(soon.exit_code() == 0);
  CHECK_THAT(soon.out, Catch::Contains("note  TLS certificate for 127.0.0.1"));
  CHECK_THAT(soon.out, Catch::Contains("renew it soon"));

  // Not there, and not a certificate.
  auto missing = doctor_with_tls(dir, dir / "nope.pem", key);
  INFO(missing.all());
  CHECK(missing.exit_code() == 1);
  CHECK_THAT(missing.out, Catch::Contains("FAIL  configuration: config: /server/tls/cert_file: cannot read"));
  auto not_pem = doctor_with_tls(dir, dir / "config.json", key);
  INFO(not_pem.all());
  CHECK(not_pem.exit_code() == 1);
  CHECK_THAT(not_pem.out, Catch::Contains("holds no PEM certificate"));
}

TEST_CASE("closeloop doctor without TLS and without hosts says so and passes", "[integration][cli][doctor]") {
  temp_dir dir("cli-doctor-plain");
  json c = make_config({});
  c["tenants"][0]["hosts"] = json::array();
  const fs::path cfg = dir / "config.json";
  write_text(cfg, c.dump(2));
  auto r = run_command({binary, "doctor", "--config", cfg.string(), "--db", (dir / "d.db").string()}, dir.path());
  INFO(r.all());
  CHECK(r.exit_code() == 0);
  CHECK_THAT(r.out, Catch::Contains("note  serving plain HTTP"));
  CHECK_THAT(r.out, Catch::Contains("no helpdesk host configured yet"));
  CHECK_THAT(r.out, Catch::Contains("no problems found"));
}
