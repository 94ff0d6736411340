"""Whether the current call is being recorded into a graph."""
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
