// The gated per-group LayerNorm after the scan, in one pass (inference).
//
// out[..., k, :] = (layer_norm(y[..., k, :]) * weight[k] + bias[k])
//                  * silu(z[..., k, :])
// for y and z (b, L, G, g) and weight, bias (G, g): each token's G groups of
// g channels are normalised separately. torch runs this as four or five
// passes over the map (layer_norm, mul, add, silu, mul), each row of a few
// dozen values costing more in bookkeeping than in arithmetic; here one
// thread reads a row of y and z once and writes the output once.
//
// Moments are two-pass (mean, then the mean square of y - mean) with
// per-lane partial sums the compiler vectorises; they agree with torch's
// layer_norm within float32 rounding. No backward: training takes torch's
// ops.
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <cmath>
#include <cstdint>

#include "fast_math.h"
#include "kernels.h"

namespace mmgroupmamba {
namespace {

// Sum of x[0:g] in kLanes partial sums (a running scalar sum would keep the
// loop scalar without -ffast-math).
template <typename T>
inline T row_sum(const T* x, int64_t g) {
  T acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= g; j += kLanes) {
    _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c)
        acc[c] += x[j + c];
  }
  T tail = T(0);
  for (; j < g; ++j) tail += x[j];
  return lane_sum(acc) + tail;
}

template <typename T>
inline T row_square_sum(const T* x, int64_t g, T mean) {
  T acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= g; j += kLanes) {
    _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c) {
      const T d = x[j + c] - mean;
      acc[c] += d * d;
    }
  }
  T tail = T(0);
  for (; j < g; ++j) tail += (x[j] - mean) * (x[j] - mean);
  return lane_sum(acc) + tail;
}

template <typename T>
void kernel(const at::Tensor& y_t, const at::Tensor& w_t,
            const at::Tensor& b_t, const at::Tensor& z_t, double eps,
            at::Tensor& out_t) {
  const int64_t L = y_t.size(1), G = y_t.size(2), g = y_t.size(3);
  const int64_t tokens = y_t.size(0) * L;
  const T* y = y_t.data_ptr<T>();
  const T* z = z_t.data_ptr<T>();
  const T* w = w_t.data_ptr<T>();
  const T* bias = b_t.data_ptr<T>();
  T* out = out_t.data_ptr<T>();
  const int64_t ys0 = y_t.stride(0), ys1 = y_t.stride(1), ys2 = y_t.stride(2);
  const int64_t zs0 = z_t.stride(0), zs1 = z_t.stride(1), zs2 = z_t.stride(2);
  const T eps_t = static_cast<T>(eps);
  // A grain of a few thousand values: short rows come in many per task.
  const int64_t grain = std::max<int64_t>(1, 4096 / (G * g));
  at::parallel_for(0, tokens, grain, [&](int64_t begin, int64_t end) {
    // Batch and token advance by counting: an integer division per row
    // would cost as much as the row's arithmetic when g is 16.
    int64_t b = begin / L, t = begin % L;
    for (int64_t token = begin; token < end; ++token) {
      for (int64_t k = 0; k < G; ++k) {
        const T* yr = y + b * ys0 + t * ys1 + k * ys2;
        const T* zr = z + b * zs0 + t * zs1 + k * zs2;
        const T* wr = w + k * g;
        const T* br = bias + k * g;
        T* o = out + (token * G + k) * g;
        const T mean = row_sum(yr, g) / static_cast<T>(g);
        const T var = row_square_sum(yr, g, mean) / static_cast<T>(g);
        const T rstd = T(1) / std::sqrt(var + eps_t);
        _Pragma("omp simd") for (int64_t c = 0; c < g; ++c) {
          const T normed = (yr[c] - mean) * rstd * wr[c] + br[c];
          o[c] = normed * zr[c] * sigmoid(zr[c]);
        }
      }
      if (++t == L) {
        t = 0;
        ++b;
      }
    }
  });
}

}  // namespace

at::Tensor layer_norm_gated_forward(const at::Tensor& y,
                                    const at::Tensor& weight,
                                    const at::Tensor& bias,
                                    const at::Tensor& z, double eps) {
  TORCH_CHECK(y.dim() == 4, "y must be (b, L, G, g), got ", y.sizes());
  TORCH_CHECK(z.sizes() == y.sizes(), "z must be shaped like y ",
              y.sizes(), ", got ", z.sizes());
  const int64_t G = y.size(2), g = y.size(3);
  TORCH_CHECK(weight.dim() == 2 && weight.size(0) == G &&
                  weight.size(1) == g && bias.sizes() == weight.sizes(),
              "weight and bias must be (G, g) = (", G, ", ", g, ")");
  TORCH_CHECK(z.scalar_type() == y.scalar_type() &&
                  weight.scalar_type() == y.scalar_type() &&
                  bias.scalar_type() == y.scalar_type(),
              "y, z, weight and bias must share one dtype");
  // The row loops read along the last axis.
  const at::Tensor y_c = y.stride(3) == 1 ? y : y.contiguous();
  const at::Tensor z_c = z.stride(3) == 1 ? z : z.contiguous();
  at::Tensor out = at::empty(y.sizes(), y.options());
  AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "layer_norm_gated", [&] {
    kernel<scalar_t>(y_c, weight.contiguous(), bias.contiguous(), z_c, eps,
                     out);
  });
  return out;
}

}  // namespace mmgroupmamba
