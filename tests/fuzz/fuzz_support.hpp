#pragma once
// Shared by the libFuzzer targets in this folder (README.md): the webhook harness that runs one
// vendor adapter's verify + translate over a fuzz input and checks the adapter contract
// (adapters/README.md §3) on what comes out, and the crash helper.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "closeloop/config.hpp"
#include "closeloop/model.hpp"
#include "common/adapter.hpp"
#include "common/headers.hpp"

namespace closeloop::fuzz {

// A broken invariant: print why and abort, so libFuzzer keeps the input as a crash.
[[noreturn]] void fail(std::string_view why);

// The time every target runs at (2026-01-02T03:04:05Z), so a crash replays the same way.
timestamp fixed_now();

// One vendor's host as the conformance suite configures it (tests/adapters/conformance/<vendor>/
// vendor.json: host settings and signing secrets), built with make_adapter.
struct webhook_host {
  std::string tenant, host;
  json signing;  // vendor.json "signing"
  std::unique_ptr<adapters::adapter> ad;
};
webhook_host load_webhook_host(const std::string& vendor);

// A fuzz input for a webhook target:
//   first byte 'S': the target signs the request itself with the conformance suite's signer for the
//     vendor (tests/adapters/conformance/<vendor>/signer.cpp), so the body gets past verify and
//     translate is fuzzed;
//   any other first byte: the headers are taken from the input (verify is fuzzed).
//   Then the request target line ("/webhooks/acme/fd?event=ticket_created"), then - unless signed -
//   "Name: value" header lines up to an empty line, then the body.
// Runs verify + translate and checks: a signed request is accepted; a refusal is errc::unauthorized
// with a reason; translate's errors are errc::invalid_argument with a reason; every event carries the
// adapter's tenant and host, a host_event_id and a ticket id, and serialises to JSON (the store's
// form) that reads back and validates against schemas/event.schema.json; translating twice gives the
// same events.
void run_webhook(const webhook_host& h, std::string_view input);

}  // namespace closeloop::fuzz
