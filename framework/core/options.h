// STRATA_ARG: the one setter convention of Strata's XxxOptions types, the PyTorch C++ frontend's
// (TORCH_ARG): an option `lr` has a chained setter `lr(0.1)` and a getter `lr()`, over a private
// member `lr_` that takes the default written after the macro:
//
//   struct AdamLikeOptions {
//     STRATA_ARG(double, lr) = 1e-3;
//     STRATA_ARG(int64_t, warmup_steps) = 0;
//   };
//   auto o = AdamLikeOptions().lr(3e-4).warmup_steps(100);  // o.lr() == 3e-4
//
// A type with a comma (std::map<K, V>) needs an alias first.
#pragma once

#define STRATA_ARG(T, name)                                \
 public:                                                   \
  auto name(const T& new_##name)->decltype(*this) {        \
    this->name##_ = new_##name;                            \
    return *this;                                          \
  }                                                        \
  const T& name() const noexcept { return this->name##_; } \
  T& name() noexcept { return this->name##_; }             \
                                                           \
 private:                                                  \
  T name##_
