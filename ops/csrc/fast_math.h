// Arithmetic shared by the CPU kernels of ops/cpu_compiled.py: the lane
// width of their vector loops and branch-free float32 approximations of exp
// and log1p (the standard functions would keep those loops scalar).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace mmgroupmamba {

constexpr int64_t kLanes = 16;
// torch's softplus (beta 1) returns x above this, with gradient 1.
constexpr double kSoftplusThreshold = 20.0;

inline float from_bits(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof(f));
  return f;
}

// exp(x) for x in [-87, 88], clamped outside (below, exp(-87) = 1.6e-38
// instead of a subnormal or 0: far below what any scan term can notice).
// x = k ln2 + r with |r| <= ln2 / 2, ln2 split in two so k ln2 is exact;
// e^r by its Taylor polynomial to r^7 (remainder < 6e-9 relative); 2^k from
// the exponent bits. Measured through the scan: within 0.54 ulp on [-80, 0].
inline float exp_approx(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
  const float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - k * 0.693145751953125f;
  r = r - k * 1.428606765330187045e-06f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * from_bits((static_cast<int32_t>(k) + 127) << 23);
}

// log1p(e) for e in [0, 1]: log(1 + e) = 2 atanh(s) with s = e / (2 + e)
// <= 1/3, by the atanh series to s^15 (remainder < 2e-8 relative). No
// 1 + e is rounded, so tiny e keep their relative accuracy.
inline float log1p_unit(float e) {
  const float s = e / (2.0f + e);
  const float s2 = s * s;
  float p = 1.0f / 15.0f;
  p = p * s2 + 1.0f / 13.0f;
  p = p * s2 + 1.0f / 11.0f;
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  p = p * s2 + 1.0f;
  return 2.0f * s * p;
}

inline float exp_t(float x) { return exp_approx(x); }
inline double exp_t(double x) { return std::exp(x); }

// softplus(x) = max(x, 0) + log1p(exp(-|x|)), x above the threshold as is.
// Measured through the scan: within 2 ulp of float64 for x >= -87.
inline float softplus_t(float x) {
  const float y = std::max(x, 0.0f) + log1p_unit(exp_approx(-std::fabs(x)));
  return x > static_cast<float>(kSoftplusThreshold) ? x : y;
}
inline double softplus_t(double x) {
  return x > kSoftplusThreshold ? x : std::log1p(std::exp(x));
}

// d softplus / dx: sigmoid(x), 1 above the threshold.
template <typename T>
inline T softplus_grad(T x) {
  const T s = T(1) / (T(1) + exp_t(-x));
  return x > T(kSoftplusThreshold) ? T(1) : s;
}

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + exp_t(-x));
}

// Sum of a row of kLanes values by halving: fixed-size steps the compiler
// turns into vector adds (a running sum would stay scalar).
template <typename T>
inline T lane_sum(T* x) {
  for (int64_t half = kLanes / 2; half > 0; half /= 2)
    for (int64_t c = 0; c < half; ++c) x[c] += x[c + half];
  return x[0];
}

}  // namespace mmgroupmamba
