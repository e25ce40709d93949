// libFuzzer target: one vendor adapter's webhook parser, verify + translate (CLOSELOOP_FUZZ_VENDOR
// names the vendor; CMakeLists.txt builds one binary per vendor). Input format and the checks:
// fuzz_support.hpp.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const closeloop::fuzz::webhook_host host = closeloop::fuzz::load_webhook_host(CLOSELOOP_FUZZ_VENDOR);
  closeloop::fuzz::run_webhook(host, {reinterpret_cast<const char*>(data), size});
  return 0;
}
