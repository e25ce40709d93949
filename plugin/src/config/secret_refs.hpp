#pragma once
// Private to the config loader: secrets given by reference ({"ref": NAME}) and the "security"
// and "privacy" sections (see closeloop/config.hpp).
#include <string>
#include <vector>

#include "closeloop/config.hpp"

namespace closeloop::config_detail {

// Replaces each {"ref": NAME} under a secret key with an unguessable placeholder (so the schema
// checks the rest of the document), returns the refs, and lists the secrets written in clear.
result<std::vector<secret_ref>> take_secret_refs(json& doc, std::vector<std::string>& plaintext);

void map_security_privacy(const json& doc, const std::string& base_dir, config& c);

}  // namespace closeloop::config_detail
