// The functions of the compiled CPU extension (bound in extension.cpp).
#pragma once

#include <torch/extension.h>

#include <vector>

namespace mmgroupmamba {

// directional_scan_cpu.cpp: the selective scan, forward and backward.
std::vector<at::Tensor> scan_forward(
    const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
    const at::Tensor& B, const at::Tensor& C,
    const c10::optional<at::Tensor>& D, const c10::optional<at::Tensor>& z,
    const c10::optional<at::Tensor>& delta_bias, bool delta_softplus,
    int64_t height, int64_t width, bool directional);

std::vector<at::Tensor> scan_backward(
    const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
    const at::Tensor& B, const at::Tensor& C,
    const c10::optional<at::Tensor>& D, const c10::optional<at::Tensor>& z,
    const c10::optional<at::Tensor>& delta_bias, const at::Tensor& grad_out,
    const c10::optional<at::Tensor>& grad_last, bool delta_softplus,
    int64_t height, int64_t width, bool directional);

// layer_norm_gated_cpu.cpp: per-group LayerNorm, affine and SiLU gate.
at::Tensor layer_norm_gated_forward(const at::Tensor& y,
                                    const at::Tensor& weight,
                                    const at::Tensor& bias,
                                    const at::Tensor& z, double eps);

}  // namespace mmgroupmamba
