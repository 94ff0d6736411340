// The 'cpu_compiled' scan backend: the directional selective scan on CPU,
// forward and backward, compiled on first use by ops/cpu_compiled.py.
//
// Layout. u, delta, z and out are (b, L, d) with any strides, tokens in
// row-major grid order; B and C are (b, L, g, n). Channel block k of
// d / g channels uses B / C group k and, in a directional scan (g = 4),
// walks the H x W grid in direction k (0 row-major, 1 column-major, 2 and
// 3 the same reversed), by index: no gathered or flipped copies.
//
// Work split. One work item is (batch, group, block of kLanes channels);
// at::parallel_for (OpenMP) shares them among threads. An item copies its
// channels of u and delta into a token-major (L, kLanes) buffer once (the
// model's tensors are channel-major, so a step of 16 channels is 16
// strided reads; in the buffer it is one contiguous row), then steps
// through the tokens in its direction with the arithmetic on a row of
// kLanes channels in fixed-length loops the compiler vectorises. Padded
// lanes of a short last block hold zeros, which keep them finite and add
// nothing to the per-token B / C gradients.
//
// float32 uses branch-free exp and log1p approximations (fast_math.h) so the
// lane loops vectorise; float64 calls std::exp / std::log1p, the float64
// path being for checking, not speed.
//
// Backward. An item recomputes its decays and states from zero into two
// (L, n, kLanes) buffers (no states are saved by the forward: memory is per
// thread, 2 L n kLanes values), then runs the adjoint recurrence backwards
// in time.
// Per-channel gradients (A, D, delta_bias) come back per batch element and
// per-token B / C gradients per channel block; Python sums them.
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fast_math.h"
#include "kernels.h"

namespace mmgroupmamba {
namespace {

// A (b, L, c) tensor: data and strides.
template <typename T>
struct View3 {
  T* data = nullptr;
  int64_t s0 = 0, s1 = 0, s2 = 0;
};

// A (b, L, g, n) tensor: data and strides.
template <typename T>
struct View4 {
  const T* data = nullptr;
  int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
};

template <typename T>
View3<T> view3(const at::Tensor& x) {
  View3<T> v;
  v.data = x.data_ptr<T>();
  v.s0 = x.stride(0);
  v.s1 = x.stride(1);
  v.s2 = x.stride(2);
  return v;
}

template <typename T>
View4<T> view4(const at::Tensor& x) {
  View4<T> v;
  v.data = x.data_ptr<T>();
  v.s0 = x.stride(0);
  v.s1 = x.stride(1);
  v.s2 = x.stride(2);
  v.s3 = x.stride(3);
  return v;
}

struct Sizes {
  int64_t batch, length, channels, groups, n, per_group, blocks;
  int64_t height, width;
  bool directional, softplus;
};

// The row-major token index of the i-th token direction dir visits.
inline int64_t token_at(int64_t dir, int64_t i, const Sizes& s) {
  if (dir >= 2) i = s.length - 1 - i;  // 2 and 3: 0 and 1 reversed
  if (dir % 2 == 0) return i;
  return (i % s.height) * s.width + i / s.height;  // column-major
}

// order[dir * L + i] = token_at(dir, i) for the directions the items walk:
// made once per call, so the scans' steps do no integer division.
std::vector<int64_t> scan_orders(const Sizes& s) {
  const int64_t directions = s.directional ? 4 : 1;
  std::vector<int64_t> order(directions * s.length);
  for (int64_t dir = 0; dir < directions; ++dir)
    for (int64_t i = 0; i < s.length; ++i)
      order[dir * s.length + i] = token_at(dir, i, s);
  return order;
}

// One work item: batch element, group, first channel and channel count.
struct Item {
  int64_t b, group, c0, lanes, block, dir;
};

inline Item item_at(int64_t index, const Sizes& s) {
  Item it;
  it.block = index % s.blocks;
  it.group = (index / s.blocks) % s.groups;
  it.b = index / (s.blocks * s.groups);
  it.c0 = it.group * s.per_group + it.block * kLanes;
  it.lanes = std::min(kLanes, s.per_group - it.block * kLanes);
  it.dir = s.directional ? it.group : 0;
  return it;
}

// buf (L, kLanes) <- x[b, :, c0:c0 + lanes], padded lanes zero. Writes
// run along the buffer, a row of kLanes per token (the other order, for the
// model's channel-major tensors, would write kLanes apart: measured 5x
// slower); a row's reads, kLanes strided loads, fetch cache lines that the
// next tokens use too.
template <typename T>
void gather(const View3<T>& x, const Item& it, int64_t length, T* buf) {
  const T* base = x.data + it.b * x.s0 + it.c0 * x.s2;
  for (int64_t t = 0; t < length; ++t) {
    T* row = buf + t * kLanes;
    const T* src = base + t * x.s1;
    if (it.lanes == kLanes) {
      _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c)
          row[c] = src[c * x.s2];
    } else {
      for (int64_t c = 0; c < kLanes; ++c)
        row[c] = c < it.lanes ? src[c * x.s2] : T(0);
    }
  }
}

// x[b, :, c0:c0 + lanes] <- buf (L, kLanes), writing along memory for
// channel-major tensors.
template <typename T>
void scatter(const T* buf, const Item& it, int64_t length, View3<T>& x) {
  T* base = x.data + it.b * x.s0 + it.c0 * x.s2;
  if (x.s1 == 1) {
    for (int64_t c = 0; c < it.lanes; ++c) {
      T* dst = base + c * x.s2;
      _Pragma("omp simd") for (int64_t t = 0; t < length; ++t)
          dst[t] = buf[t * kLanes + c];
    }
    return;
  }
  for (int64_t t = 0; t < length; ++t)
    for (int64_t c = 0; c < it.lanes; ++c)
      base[t * x.s1 + c * x.s2] = buf[t * kLanes + c];
}

// Per-lane parameters of an item: A (n, kLanes), D, delta_bias; padded
// lanes and absent D / delta_bias are zero.
template <typename T>
struct LaneParams {
  std::vector<T> A, D, bias;
  LaneParams(const T* a, const T* d, const T* bias_, const Item& it,
             int64_t n)
      : A(n * kLanes, T(0)), D(kLanes, T(0)), bias(kLanes, T(0)) {
    for (int64_t c = 0; c < it.lanes; ++c) {
      for (int64_t j = 0; j < n; ++j)
        A[j * kLanes + c] = a[(it.c0 + c) * n + j];
      if (d) D[c] = d[it.c0 + c];
      if (bias_) bias[c] = bias_[it.c0 + c];
    }
  }
};

// dt[c] = activation(x[c] + bias[c]) for a row of lanes; the branch is
// outside the loops (inside, it would keep them scalar).
template <typename T>
inline void activate_row(const T* x, const T* bias, bool softplus, T* dt) {
  if (softplus) {
    _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c)
        dt[c] = softplus_t(x[c] + bias[c]);
  } else {
    _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c)
        dt[c] = x[c] + bias[c];
  }
}

template <typename T>
void forward_kernel(const Sizes& s, const at::Tensor& u_t,
                    const at::Tensor& delta_t, const at::Tensor& A_t,
                    const at::Tensor& B_t, const at::Tensor& C_t,
                    const c10::optional<at::Tensor>& D_t,
                    const c10::optional<at::Tensor>& z_t,
                    const c10::optional<at::Tensor>& bias_t, at::Tensor& out_t,
                    at::Tensor& last_t) {
  const View3<T> u = view3<T>(u_t), delta = view3<T>(delta_t);
  const View4<T> B = view4<T>(B_t), C = view4<T>(C_t);
  View3<T> z, out = view3<T>(out_t);
  if (z_t) z = view3<T>(*z_t);
  const T* A = A_t.data_ptr<T>();
  const T* D = D_t ? D_t->data_ptr<T>() : nullptr;
  const T* bias = bias_t ? bias_t->data_ptr<T>() : nullptr;
  T* last = last_t.data_ptr<T>();
  // Locals, not reads through s: a store in a lane loop could alias s as
  // far as the compiler knows, which would keep the loop scalar.
  const int64_t L = s.length, n = s.n;
  const bool softplus = s.softplus;
  const int64_t items = s.batch * s.groups * s.blocks;
  const std::vector<int64_t> order = scan_orders(s);
  at::parallel_for(0, items, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> ubuf(L * kLanes), dbuf(L * kLanes), zbuf;
    std::vector<T> h(n * kLanes);
    if (z_t) zbuf.resize(L * kLanes);
    for (int64_t index = begin; index < end; ++index) {
      const Item it = item_at(index, s);
      const int64_t* walk = order.data() + it.dir * L;  // token of step i
      const LaneParams<T> p(A, D, bias, it, n);
      gather(u, it, L, ubuf.data());
      gather(delta, it, L, dbuf.data());
      std::fill(h.begin(), h.end(), T(0));
      const T* Bb = B.data + it.b * B.s0 + it.group * B.s2;
      const T* Cb = C.data + it.b * C.s0 + it.group * C.s2;
      for (int64_t i = 0; i < L; ++i) {
        const int64_t t = walk[i];
        const T* ur = ubuf.data() + t * kLanes;
        T* row = dbuf.data() + t * kLanes;  // delta in, y out
        T dt[kLanes], y[kLanes];
        activate_row(row, p.bias.data(), softplus, dt);
        _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c)
            y[c] = p.D[c] * ur[c];
        for (int64_t j = 0; j < n; ++j) {
          const T bj = Bb[t * B.s1 + j * B.s3], cj = Cb[t * C.s1 + j * C.s3];
          T* hj = h.data() + j * kLanes;
          const T* Aj = p.A.data() + j * kLanes;
          _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c) {
            hj[c] = exp_t(dt[c] * Aj[c]) * hj[c] + dt[c] * bj * ur[c];
            y[c] += cj * hj[c];
          }
        }
        _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c) row[c] = y[c];
      }
      if (z_t) {  // out = y * silu(z)
        gather(z, it, L, zbuf.data());
        for (int64_t e = 0; e < L * kLanes; ++e)
          dbuf[e] *= zbuf[e] * sigmoid(zbuf[e]);
      }
      scatter(dbuf.data(), it, L, out);
      for (int64_t c = 0; c < it.lanes; ++c)
        for (int64_t j = 0; j < n; ++j)
          last[(it.b * s.channels + it.c0 + c) * n + j] =
              h[j * kLanes + c];
    }
  });
}

template <typename T>
void backward_kernel(const Sizes& s, const at::Tensor& u_t,
                     const at::Tensor& delta_t, const at::Tensor& A_t,
                     const at::Tensor& B_t, const at::Tensor& C_t,
                     const c10::optional<at::Tensor>& D_t,
                     const c10::optional<at::Tensor>& z_t,
                     const c10::optional<at::Tensor>& bias_t,
                     const at::Tensor& gout_t,
                     const c10::optional<at::Tensor>& glast_t,
                     std::vector<at::Tensor>& grads) {
  const View3<T> u = view3<T>(u_t), delta = view3<T>(delta_t);
  const View3<T> gout = view3<T>(gout_t);
  const View4<T> B = view4<T>(B_t), C = view4<T>(C_t);
  View3<T> z, gu = view3<T>(grads[0]), gdelta = view3<T>(grads[1]), gz;
  if (z_t) {
    z = view3<T>(*z_t);
    gz = view3<T>(grads[7]);
  }
  const T* A = A_t.data_ptr<T>();
  const T* D = D_t ? D_t->data_ptr<T>() : nullptr;
  const T* bias = bias_t ? bias_t->data_ptr<T>() : nullptr;
  const T* glast = glast_t ? glast_t->data_ptr<T>() : nullptr;
  T* gA = grads[2].data_ptr<T>();     // (b, d, n)
  T* gB = grads[3].data_ptr<T>();     // (blocks, b, L, g, n)
  T* gC = grads[4].data_ptr<T>();     // (blocks, b, L, g, n)
  T* gD = grads[5].data_ptr<T>();     // (b, d)
  T* gbias = grads[6].data_ptr<T>();  // (b, d)
  // Locals, not reads through s: a store in a lane loop could alias s as
  // far as the compiler knows, which would keep the loop scalar.
  const int64_t L = s.length, n = s.n;
  const bool softplus = s.softplus;
  const int64_t items = s.batch * s.groups * s.blocks;
  const std::vector<int64_t> order = scan_orders(s);
  at::parallel_for(0, items, 1, [&](int64_t begin, int64_t end) {
    const int64_t rows = L * kLanes;
    std::vector<T> ubuf(rows), dbuf(rows), gbuf(rows), dtbuf(rows), zbuf;
    std::vector<T> hbuf(rows * n), abuf(rows * n), h(n * kLanes);
    std::vector<T> lam(n * kLanes);
    std::vector<T> gAl(n * kLanes);
    if (z_t) zbuf.resize(rows);
    for (int64_t index = begin; index < end; ++index) {
      const Item it = item_at(index, s);
      const int64_t* walk = order.data() + it.dir * L;  // token of step i
      const LaneParams<T> p(A, D, bias, it, n);
      gather(u, it, L, ubuf.data());
      gather(delta, it, L, dbuf.data());
      gather(gout, it, L, gbuf.data());
      if (z_t) gather(z, it, L, zbuf.data());
      const T* Bb = B.data + it.b * B.s0 + it.group * B.s2;
      const T* Cb = C.data + it.b * C.s0 + it.group * C.s2;

      // Forward again, keeping dt, every decay and every state; with a gate,
      // turn the output gradient into y's (gbuf) and z's (zbuf) here, where
      // y is.
      std::fill(h.begin(), h.end(), T(0));
      for (int64_t i = 0; i < L; ++i) {
        const int64_t t = walk[i];
        const T* ur = ubuf.data() + t * kLanes;
        T* dtr = dtbuf.data() + t * kLanes;
        T y[kLanes];
        activate_row(dbuf.data() + t * kLanes, p.bias.data(), softplus, dtr);
        _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c)
            y[c] = p.D[c] * ur[c];
        for (int64_t j = 0; j < n; ++j) {
          const T bj = Bb[t * B.s1 + j * B.s3], cj = Cb[t * C.s1 + j * C.s3];
          T* hj = h.data() + j * kLanes;
          T* saved = hbuf.data() + (t * n + j) * kLanes;
          T* decay = abuf.data() + (t * n + j) * kLanes;
          const T* Aj = p.A.data() + j * kLanes;
          _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c) {
            decay[c] = exp_t(dtr[c] * Aj[c]);
            hj[c] = decay[c] * hj[c] + dtr[c] * bj * ur[c];
            saved[c] = hj[c];
            y[c] += cj * hj[c];
          }
        }
        if (z_t) {
          T* gr = gbuf.data() + t * kLanes;
          T* zr = zbuf.data() + t * kLanes;
          _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c) {
            const T sg = sigmoid(zr[c]);
            const T gy = gr[c] * zr[c] * sg;
            // d silu(z) / dz = sg (1 + z (1 - sg))
            zr[c] = gr[c] * y[c] * sg * (T(1) + zr[c] * (T(1) - sg));
            gr[c] = gy;
          }
        }
      }

      // Adjoint: lam_i = C_i gy_i + a_{i+1} lam_{i+1}, lam holding the
      // second term (the last state's gradient before the last step).
      std::fill(gAl.begin(), gAl.end(), T(0));
      for (int64_t c = 0; c < it.lanes; ++c)
        for (int64_t j = 0; j < n; ++j)
          lam[j * kLanes + c] =
              glast ? glast[(it.b * s.channels + it.c0 + c) * n + j] : T(0);
      for (int64_t c = it.lanes; c < kLanes; ++c)
        for (int64_t j = 0; j < n; ++j) lam[j * kLanes + c] = T(0);
      T gDl[kLanes] = {}, gbl[kLanes] = {};
      const std::vector<T> zero_state(n * kLanes, T(0));  // h before step 0
      for (int64_t i = L - 1; i >= 0; --i) {
        const int64_t t = walk[i];
        const T* prev =
            i > 0 ? hbuf.data() + walk[i - 1] * n * kLanes
                  : zero_state.data();
        const T* ur = ubuf.data() + t * kLanes;
        const T* dtr = dtbuf.data() + t * kLanes;
        const T* gy = gbuf.data() + t * kLanes;
        T gdt[kLanes], gur[kLanes];
        _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c) {
          gdt[c] = T(0);
          gur[c] = p.D[c] * gy[c];
          gDl[c] += gy[c] * ur[c];
        }
        for (int64_t j = 0; j < n; ++j) {
          const T bj = Bb[t * B.s1 + j * B.s3], cj = Cb[t * C.s1 + j * C.s3];
          const T* hj = hbuf.data() + (t * n + j) * kLanes;
          const T* aj = abuf.data() + (t * n + j) * kLanes;
          const T* hp = prev + j * kLanes;
          const T* Aj = p.A.data() + j * kLanes;
          T* lj = lam.data() + j * kLanes;
          T* gAj = gAl.data() + j * kLanes;
          // Per-lane terms of the B / C gradients, summed across lanes
          // after the loop (a sum inside it would not vectorise).
          T termB[kLanes], termC[kLanes];
          _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c) {
            const T l = lj[c] + cj * gy[c];
            termC[c] = gy[c] * hj[c];
            termB[c] = l * dtr[c] * ur[c];
            gur[c] += l * dtr[c] * bj;
            gdt[c] += l * (Aj[c] * aj[c] * hp[c] + bj * ur[c]);
            gAj[c] += l * aj[c] * hp[c] * dtr[c];
            lj[c] = l * aj[c];
          }
          const T sumB = lane_sum(termB), sumC = lane_sum(termC);
          const int64_t at_ =
              (((it.block * s.batch + it.b) * L + t) * s.groups + it.group) *
                  n + j;
          gB[at_] = sumB;
          gC[at_] = sumC;
        }
        T* dr = dbuf.data() + t * kLanes;  // delta in, its gradient out
        if (softplus) {
          _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c)
              gdt[c] *= softplus_grad(dr[c] + p.bias[c]);
        }
        _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c) {
          gbl[c] += gdt[c];
          dr[c] = gdt[c];
        }
        T* uo = ubuf.data() + t * kLanes;  // u in, its gradient out
        _Pragma("omp simd") for (int64_t c = 0; c < kLanes; ++c)
            uo[c] = gur[c];
      }
      scatter(ubuf.data(), it, L, gu);
      scatter(dbuf.data(), it, L, gdelta);
      if (z_t) scatter(zbuf.data(), it, L, gz);
      for (int64_t c = 0; c < it.lanes; ++c) {
        const int64_t ch = it.b * s.channels + it.c0 + c;
        gD[ch] = gDl[c];
        gbias[ch] = gbl[c];
        for (int64_t j = 0; j < n; ++j) gA[ch * n + j] = gAl[j * kLanes + c];
      }
    }
  });
}

Sizes sizes_of(const at::Tensor& u, const at::Tensor& B, int64_t height,
               int64_t width, bool directional, bool softplus) {
  TORCH_CHECK(u.dim() == 3 && B.dim() == 4, "u (b, L, d), B (b, L, g, n)");
  Sizes s;
  s.batch = u.size(0);
  s.length = u.size(1);
  s.channels = u.size(2);
  s.groups = B.size(2);
  s.n = B.size(3);
  TORCH_CHECK(s.channels % s.groups == 0, "d must be a multiple of g");
  TORCH_CHECK(height * width == s.length, "height * width must equal L");
  TORCH_CHECK(!directional || s.groups == 4,
              "a directional scan has 4 groups");
  s.per_group = s.channels / s.groups;
  s.blocks = (s.per_group + kLanes - 1) / kLanes;
  s.height = height;
  s.width = width;
  s.directional = directional;
  s.softplus = softplus;
  return s;
}

}  // namespace

// Returns (out (b, L, d) laid out like u, last state (b, d, n)).
std::vector<at::Tensor> scan_forward(
    const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
    const at::Tensor& B, const at::Tensor& C,
    const c10::optional<at::Tensor>& D, const c10::optional<at::Tensor>& z,
    const c10::optional<at::Tensor>& delta_bias, bool delta_softplus,
    int64_t height, int64_t width, bool directional) {
  const Sizes s =
      sizes_of(u, B, height, width, directional, delta_softplus);
  at::Tensor out = at::empty_like(u);
  at::Tensor last = at::empty({s.batch, s.channels, s.n}, u.options());
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "directional_scan_fwd", [&] {
    forward_kernel<scalar_t>(s, u, delta, A.contiguous(), B, C, D, z,
                             delta_bias, out, last);
  });
  return {out, last};
}

// Returns the gradients of u, delta (laid out like u), A per batch element
// (b, d, n), B and C per channel block (blocks, b, L, g, n), D and
// delta_bias per batch element (b, d), and z (or an empty tensor).
std::vector<at::Tensor> scan_backward(
    const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
    const at::Tensor& B, const at::Tensor& C,
    const c10::optional<at::Tensor>& D, const c10::optional<at::Tensor>& z,
    const c10::optional<at::Tensor>& delta_bias, const at::Tensor& grad_out,
    const c10::optional<at::Tensor>& grad_last, bool delta_softplus,
    int64_t height, int64_t width, bool directional) {
  const Sizes s =
      sizes_of(u, B, height, width, directional, delta_softplus);
  std::vector<at::Tensor> grads = {
      at::empty_like(u),
      at::empty_like(u),
      at::empty({s.batch, s.channels, s.n}, u.options()),
      at::empty({s.blocks, s.batch, s.length, s.groups, s.n}, u.options()),
      at::empty({s.blocks, s.batch, s.length, s.groups, s.n}, u.options()),
      at::empty({s.batch, s.channels}, u.options()),
      at::empty({s.batch, s.channels}, u.options()),
      z ? at::empty_like(u) : at::empty({0}, u.options())};
  c10::optional<at::Tensor> glast;
  if (grad_last) glast = grad_last->contiguous();
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "directional_scan_bwd", [&] {
    backward_kernel<scalar_t>(s, u, delta, A.contiguous(), B, C, D, z,
                              delta_bias, grad_out, glast, grads);
  });
  return grads;
}

}  // namespace mmgroupmamba
