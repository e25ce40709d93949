#pragma once
// Resolving a configuration's {"ref": NAME} secrets from the store (closeloop/secrets.hpp) —
// one call for every door that builds adapters or engines from a config (serve, the C ABI,
// replay, receive, doctor). The store's file must exist and be migrated (store::open does it).
#include "closeloop/config.hpp"
#include "closeloop/secrets.hpp"

namespace closeloop {

inline result<void> resolve_stored_secrets(config& c) {
  if (c.secret_refs.empty()) return {};
  const secret_ref& first = c.secret_refs.front();
  auto ring = load_key_ring(c.security.key_file, c.security.previous_key_files);
  if (!ring)
    return make_error(ring.err().code, "config: " + first.pointer + " refers to a stored secret, but " +
                                           ring.err().message);
  auto ss = secret_store::open(c.store.path);
  if (!ss) return make_error(ss.err().code, "config: " + first.pointer + ": " + ss.err().message);
  return resolve_secret_refs(c, [&](const secret_ref& r) { return (*ss)->get(*ring, r.tenant, r.host, r.name); });
}

}  // namespace closeloop
