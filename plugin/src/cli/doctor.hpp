#pragma once
// `closeloop doctor`: checks what an admin needs to trust an installation and says it in plain
// words, one line per check ("ok", "FAIL", "note", "skip"); exit status 1 when anything failed.
// Sections: configuration, TLS, database, keys, tenants (surveys, models), hosts (reachability).
// Another component adds its checks as a function taking a doctor_report (see check_tls).
#include <string>

#include "closeloop/config.hpp"

namespace closeloop::server {
class services;
}

namespace closeloop::cli {

class doctor_report {
 public:
  void ok(const std::string& what);
  void fail(const std::string& what);
  void note(const std::string& what);
  void skip(const std::string& what);
  void detail(const std::string& what);  // an indented line under the previous one
  int problems() const noexcept { return problems_; }

 private:
  int problems_ = 0;
};

// server.tls: certificate chain and key readable, the key matching the certificate, the
// certificate valid now (expired or not yet valid fails; under 30 days left is a note).
// Without server.tls: a note that serving is plain HTTP.
void check_tls(const config& cfg, doctor_report& r);

// The hosts' circuit breakers as the worker last recorded them: an open or half-open circuit fails,
// naming since when, after how many failures, the last error and when the next probe goes
// (cli/doctor_resilience.cpp).
void check_circuits(server::services& svc, doctor_report& r);

}  // namespace closeloop::cli
