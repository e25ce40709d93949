#include "closeloop/result.hpp"

namespace closeloop {

const char* to_string(errc c) noexcept {
  switch (c) {
    case errc::invalid_argument: return "invalid_argument";
    case errc::invalid_config: return "invalid_config";
    case errc::unauthorized: return "unauthorized";
    case errc::not_found: return "not_found";
    case errc::conflict: return "conflict";
    case errc::unsupported: return "unsupported";
    case errc::too_large: return "too_large";
    case errc::storage: return "storage";
    case errc::upstream: return "upstream";
    case errc::unavailable: return "unavailable";
    case errc::internal: return "internal";
  }
  return "internal";
}

}  // namespace closeloop
