"""The blocks' linear layers on a CPU: one 1x1 convolution each, with the
numbers and gradients of ``nn.Linear`` / the per-group ``einsum``."""
import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from mmgroupmamba.models.pointwise import (channel_last_linear,
                                           grouped_channel_last_linear)


class OpNames(TorchDispatchMode):
    """Record the names of the aten operators a block of code runs."""

    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(str(func))
        return func(*args, **(kwargs or {}))


def grouped_reference(weight, x):
    b, h, w, _ = x.shape
    groups, c_out, c_in = weight.shape
    out = torch.einsum('bhwkc,koc->bhwko', x.view(b, h, w, groups, c_in),
                       weight)
    return out.reshape(b, h, w, groups * c_out)


@pytest.mark.parametrize('dtype, tol', [(torch.float32, 1e-5),
                                        (torch.float64, 1e-12)])
def test_linear_values_and_gradients(dtype, tol):
    torch.manual_seed(0)
    linear = nn.Linear(24, 40).to(dtype)
    x = torch.randn(2, 5, 7, 24, dtype=dtype, requires_grad=True)
    out = channel_last_linear(linear, x)
    expected = linear(x)
    assert out.shape == (2, 5, 7, 40) and out.is_contiguous()
    torch.testing.assert_close(out, expected, rtol=tol, atol=tol)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, (x, linear.weight, linear.bias), grad)
    want = torch.autograd.grad(expected, (x, linear.weight, linear.bias),
                               grad)
    for g, e in zip(got, want):
        torch.testing.assert_close(g, e, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize('dtype, tol', [(torch.float32, 1e-5),
                                        (torch.float64, 1e-12)])
def test_grouped_values_and_gradients(dtype, tol):
    torch.manual_seed(0)
    weight = torch.randn(4, 6, 3, dtype=dtype, requires_grad=True)
    x = torch.randn(2, 5, 7, 12, dtype=dtype, requires_grad=True)
    out = grouped_channel_last_linear(weight, x)
    expected = grouped_reference(weight, x)
    assert out.shape == (2, 5, 7, 24) and out.is_contiguous()
    torch.testing.assert_close(out, expected, rtol=tol, atol=tol)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, (x, weight), grad)
    want = torch.autograd.grad(expected, (x, weight), grad)
    for g, e in zip(got, want):
        torch.testing.assert_close(g, e, rtol=tol, atol=tol * 10)


def test_cpu_runs_one_convolution_and_copies_nothing():
    # The speed comes from oneDNN's convolution (see pointwise.py); a GEMM,
    # or a copy of the input or output, would bring the old cost back.
    linear = nn.Linear(16, 32)
    x = torch.randn(2, 4, 4, 16)
    for run in (lambda: channel_last_linear(linear, x),
                lambda: grouped_channel_last_linear(torch.randn(4, 8, 4), x)):
        with torch.no_grad(), OpNames() as ops:
            run()
        assert ops.names.count('aten.convolution.default') == 1, ops.names
        slow = [n for n in ops.names
                if any(word in n for word in ('mm', 'copy', 'clone',
                                              'contiguous', 'einsum'))]
        assert not slow, ops.names


def test_autocast_gives_linear_dtype():
    torch.manual_seed(0)
    linear = nn.Linear(16, 32)
    x = torch.randn(2, 4, 4, 16)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out, expected = channel_last_linear(linear, x), linear(x)
    assert out.dtype == expected.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected.float(), rtol=2e-2,
                               atol=2e-2)
