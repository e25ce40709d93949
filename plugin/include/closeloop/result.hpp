#pragma once
// Errors on the request path are values: a stable code, a message, and whether a retry may help.
#include <string>
#include <utility>
#include <variant>

namespace closeloop {

enum class errc {
  invalid_argument,  // the caller sent something malformed (names the field)
  invalid_config,    // configuration rejected
  unauthorized,      // signature or token missing/wrong
  not_found,
  conflict,          // duplicate, optimistic-lock failure
  unsupported,       // unknown event type, vendor, action
  too_large,
  storage,           // SQLite failure
  upstream,          // a host (helpdesk) answered with an error
  unavailable,       // host unreachable / timeout / shutting down
  internal,
};

const char* to_string(errc c) noexcept;

struct error {
  errc code = errc::internal;
  std::string message;
  bool retryable = false;
};

inline error make_error(errc c, std::string msg, bool retryable = false) {
  return error{c, std::move(msg), retryable};
}

// A minimal expected<T, error>; C++20 has no std::expected.
template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  result(error err) : v_(std::in_place_index<1>, std::move(err)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const error& err() const& { return std::get<1>(v_); }
  error&& err() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, error> v_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(error err) : err_(std::move(err)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const error& err() const& { return err_; }

 private:
  error err_;
  bool ok_ = true;
};

}  // namespace closeloop
