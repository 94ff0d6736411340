"""Whether the current call is being recorded into a graph, and whether it
may take an eager-only CPU kernel."""
import torch


def is_traced():
    """Whether torch.compile, torch.export or jit tracing records this call.

    Recorded graphs must hold ordinary aten operators (ONNX has no oneDNN or
    extension op) and must not capture per-process caches or batch-size
    decisions, so the fast eager paths step aside.

    Returns:
        bool: True under dynamo (compile, strict export), non-strict
        ``torch.export`` (which runs no dynamo) or ``torch.jit.trace``.
    """
    if torch.jit.is_tracing():
        return True
    compiler = getattr(torch, 'compiler', None)
    if hasattr(compiler, 'is_exporting') and compiler.is_exporting():
        return True
    if hasattr(compiler, 'is_compiling'):
        return compiler.is_compiling()
    return torch._dynamo.is_compiling()  # torch < 2.3: its earlier home


def eager_cpu_float32_inference(*tensors):
    """Whether a call on ``tensors`` (None entries ignored) may take a fused
    CPU kernel with no backward: not traced, every tensor float32 on the CPU,
    and autograd recording none of them."""
    tensors = [t for t in tensors if t is not None]
    if is_traced() or any(t.device.type != 'cpu' or t.dtype != torch.float32
                          for t in tensors):
        return False
    return not (torch.is_grad_enabled()
                and any(t.requires_grad for t in tensors))
