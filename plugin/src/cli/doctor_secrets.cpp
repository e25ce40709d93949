// closeloop doctor's "keys" checks (README "Secrets"): the key loads and is private, every
// stored secret the config refers to opens, secrets written in clear are pointed out.
#include <sys/stat.h>

#include <cstdlib>

#include "cli/doctor.hpp"
#include "cli/privacy.hpp"
#include "closeloop/secrets.hpp"

namespace closeloop::cli {

void check_secrets(const config& cfg, doctor_report& r) {
  for (const auto& p : cfg.plaintext_secrets)
    r.note("secret written in clear in the config at " + p +
           ": move it into the encrypted store with `closeloop secret import --config FILE`");
  const bool any_key = !cfg.security.key_file.empty() || std::getenv("CLOSELOOP_KEY") ||
                       std::getenv("CLOSELOOP_KEY_FILE");
  if (!any_key && cfg.secret_refs.empty()) return;
  auto ring = load_key_ring(cfg.security.key_file, cfg.security.previous_key_files);
  if (!ring) {
    r.fail("keys: " + ring.err().message);
    return;
  }
  r.ok("keys: the secret key loads (" + ring->ids() + ")");
  if (!cfg.security.key_file.empty()) {
    struct stat st {};
    if (::stat(cfg.security.key_file.c_str(), &st) == 0 && (st.st_mode & 077))
      r.fail("keys: " + cfg.security.key_file + " is readable by other users (chmod 600 it)");
  }
  if (cfg.secret_refs.empty()) return;
  auto ss = secret_store::open(cfg.store.path);
  if (!ss) {
    r.fail("keys: " + ss.err().message);
    return;
  }
  int opened = 0;
  for (const auto& ref : cfg.secret_refs) {
    if (auto v = (*ss)->get(*ring, ref.tenant, ref.host, ref.name)) ++opened;
    else r.fail("keys: " + ref.pointer + ": " + v.err().message);
  }
  if (opened == static_cast<int>(cfg.secret_refs.size()))
    r.ok("keys: all " + std::to_string(opened) + " stored secret(s) the config refers to open");
}

}  // namespace closeloop::cli
