// closeloop doctor (doctor.hpp).
#include "cli/doctor.hpp"
#include "cli/privacy.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "closeloop/category_model.hpp"
#include "closeloop/store.hpp"
#include "server/services.hpp"

namespace closeloop::cli {

void doctor_report::ok(const std::string& what) { std::cout << "  ok    " << what << "\n"; }
void doctor_report::fail(const std::string& what) {
  std::cout << "  FAIL  " << what << "\n";
  ++problems_;
}
void doctor_report::note(const std::string& what) { std::cout << "  note  " << what << "\n"; }
void doctor_report::skip(const std::string& what) { std::cout << "  skip  " << what << "\n"; }
void doctor_report::detail(const std::string& what) { std::cout << "          " << what << "\n"; }

namespace {

struct bio_deleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct x509_deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct pkey_deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// OpenSSL's last error in words, or `fallback`.
std::string openssl_error(const std::string& fallback) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return fallback;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string asn1_time_text(const ASN1_TIME* t) {
  std::unique_ptr<BIO, bio_deleter> mem(BIO_new(BIO_s_mem()));
  if (!mem || ASN1_TIME_print(mem.get(), t) != 1) return "?";
  char* data = nullptr;
  const long n = BIO_get_mem_data(mem.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// The certificate's names: the DNS subjectAltNames, else the subject's CN.
std::string certificate_names(X509* cert) {
  std::string names;
  if (auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type != GEN_DNS && g->type != GEN_IPADD) continue;
      std::string n;
      if (g->type == GEN_DNS) {
        n.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
                 static_cast<std::size_t>(ASN1_STRING_length(g->d.dNSName)));
      } else {
        const unsigned char* ip = ASN1_STRING_get0_data(g->d.iPAddress);
        if (ASN1_STRING_length(g->d.iPAddress) == 4)
          n = std::to_string(ip[0]) + "." + std::to_string(ip[1]) + "." + std::to_string(ip[2]) + "." +
              std::to_string(ip[3]);
        else
          n = "an IPv6 address";
      }
      names += (names.empty() ? "" : ", ") + n;
    }
    GENERAL_NAMES_free(sans);
  }
  if (!names.empty()) return names;
  char cn[256] = {0};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0) return cn;
  return "no name";
}

}  // namespace

void check_tls(const config& cfg, doctor_report& r) {
  if (!cfg.server.tls) {
    r.note("serving plain HTTP: put closeloop behind a TLS proxy or set server.tls (cert_file, key_file)");
    return;
  }
  const tls_config& t = *cfg.server.tls;
  std::unique_ptr<BIO, bio_deleter> cert_bio(BIO_new_file(t.cert_file.c_str(), "r"));
  if (!cert_bio) {
    r.fail("TLS: cannot read the certificate server.tls.cert_file " + t.cert_file + " (" +
           openssl_error("no such file or not readable") + ")");
    return;
  }
  std::unique_ptr<X509, x509_deleter> cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    r.fail("TLS: server.tls.cert_file " + t.cert_file + " holds no PEM certificate (" +
           openssl_error("not PEM") + ")");
    return;
  }
  std::unique_ptr<BIO, bio_deleter> key_bio(BIO_new_file(t.key_file.c_str(), "r"));
  if (!key_bio) {
    r.fail("TLS: cannot read the private key server.tls.key_file " + t.key_file + " (" +
           openssl_error("no such file or not readable") + ")");
    return;
  }
  std::unique_ptr<EVP_PKEY, pkey_deleter> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    r.fail("TLS: server.tls.key_file " + t.key_file + " holds no unencrypted PEM private key (" +
           openssl_error("not PEM") + ")");
    return;
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    r.fail("TLS: the private key " + t.key_file + " does not belong to the certificate " + t.cert_file);
    return;
  }
  const std::string names = certificate_names(cert.get());
  const ASN1_TIME* not_before = X509_get0_notBefore(cert.get());
  const ASN1_TIME* not_after = X509_get0_notAfter(cert.get());
  int days = 0, seconds = 0;
  if (X509_cmp_current_time(not_before) > 0) {
    r.fail("TLS: the certificate for " + names + " is not valid before " + asn1_time_text(not_before));
    return;
  }
  if (X509_cmp_current_time(not_after) < 0) {
    r.fail("TLS: the certificate for " + names + " expired on " + asn1_time_text(not_after) + ": renew it");
    return;
  }
  ASN1_TIME_diff(&days, &seconds, nullptr, not_after);
  const std::string line = "TLS certificate for " + names + " and its key match (" + t.cert_file + ", " + t.key_file +
                           "); valid until " + asn1_time_text(not_after) + ", " + std::to_string(days) + " days left";
  if (days < 30) r.note(line + ": renew it soon");
  else r.ok(line);
}

int run_doctor(const doctor_options& o) {
  doctor_report r;
  std::cout << "closeloop doctor\n";
  auto cfg = load_config_file(o.config_path);
  if (!cfg) {
    r.fail("configuration: " + cfg.err().message);
    std::cout << "1 problem found\n";
    return 1;
  }
  r.ok("configuration " + o.config_path + " is valid (" + std::to_string(cfg->tenants.size()) + " tenant(s))");
  if (!o.db_path.empty()) cfg->store.path = o.db_path;
  check_tls(*cfg, r);
  check_secrets(*cfg, r);  // keys (cli/doctor_secrets.cpp)

  auto svc = server::services::create(*cfg);
  if (!svc) {
    r.fail(svc.err().message);
  } else {
    auto& db = (*svc)->db();
    auto c = db.stats();
    r.ok("database " + cfg->store.path + " opens (schema version " + std::to_string(db.schema_version()) + ", " +
         std::to_string(c.events) + " events, " + std::to_string(c.outbox_pending) + " actions pending, " +
         std::to_string(c.timers_pending) + " timers pending)");
    if (c.outbox_failed > 0) {
      r.fail(std::to_string(c.outbox_failed) + " action(s) failed for good; the latest:");
      if (auto failed = db.outbox(outbox_status::failed, 5))
        for (const auto& f : *failed)
          r.detail("#" + std::to_string(f.id) + " " + std::string(to_string(f.act.type)) + " ticket " + f.act.ticket_id + " (" +
                   f.act.tenant + "/" + f.act.host + "): " + f.last_error);
      r.detail("see them with `closeloop outbox list --status failed`; replay with `closeloop outbox retry ID` or "
               "`--all-failed` (same idempotency keys: no duplicates)");
    }
    check_circuits(**svc, r);
    for (const auto& t : cfg->tenants) {
      if (t.pol.survey.enabled && t.pol.survey.link_secret.empty())
        r.fail("tenant " + t.id + ": surveys are enabled but policy.survey.link_secret is not set, so no invitation "
               "can carry a signed answer link (set at least 16 random characters)");
      if (!t.classifier.category_model_path.empty()) {
        rule_classifier probe(t.classifier);
        if (auto m = probe.model())
          r.ok("tenant " + t.id + ": category model " + t.classifier.category_model_path + " (" +
               std::to_string(m->labels().size()) + " categories, gate " +
               (m->gate().active ? "active: writes the category" : "inactive: suggests only") + ")");
        else
          r.fail("tenant " + t.id + ": category model: " + probe.model_error());
      }
      for (const bool urgency : {false, true}) {  // the sentiment and urgency models: labels listed
        const std::string& path = urgency ? t.classifier.urgency_model_path : t.classifier.sentiment_model_path;
        if (path.empty()) continue;
        const std::string what = urgency ? "urgency" : "sentiment";
        rule_classifier probe(t.classifier);
        if (auto m = urgency ? probe.urgency_model() : probe.sentiment_model()) {
          std::string labels;
          for (const auto& x : m->labels()) labels += (labels.empty() ? "" : ", ") + x;
          r.ok("tenant " + t.id + ": " + what + " model " + path + " (labels " + labels + ")");
        } else {
          r.fail("tenant " + t.id + ": " + what + " model: " +
                 (urgency ? probe.urgency_model_error() : probe.sentiment_model_error()));
        }
      }
      if (t.hosts.empty())
        r.note("tenant " + t.id + ": no helpdesk host configured yet, so nothing arrives or is sent (add one to "
               "tenants[" + t.id + "].hosts; examples in /usr/share/closeloop/examples/config)");
      for (const auto& h : t.hosts) {
        std::string name = "host " + t.id + "/" + h.id + " (" + h.vendor + ")";
        if (o.offline) {
          r.skip(name + ": --offline");
          continue;
        }
        auto* ad = (*svc)->adapter_for(t.id, h.id);
        auto reached = ad->check_reachable();
        if (reached) r.ok(name + ": " + *reached);
        else r.fail(name + " is not reachable: " + reached.err().message);
      }
    }
  }
  std::cout << (r.problems() == 0 ? "no problems found" : std::to_string(r.problems()) + " problem(s) found") << "\n";
  return r.problems() == 0 ? 0 : 1;
}

}  // namespace closeloop::cli
