#pragma once
// The engine never reads the time itself: a clock is passed in.
#include "closeloop/model.hpp"

namespace closeloop {

class clock {
 public:
  virtual ~clock() = default;
  virtual timestamp now() const = 0;
};

class system_clock final : public clock {
 public:
  timestamp now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  }
};

class fixed_clock final : public clock {
 public:
  explicit fixed_clock(timestamp t) : t_(t) {}
  timestamp now() const override { return t_; }
  void set(timestamp t) { t_ = t; }
  void advance(std::chrono::milliseconds d) { t_ += d; }

 private:
  timestamp t_;
};

}  // namespace closeloop
