"""What a selective scan costs, and how FLOP counters see it.

fvcore-style counters (mmengine's ``FlopAnalyzer``, which OpenMMLab's
``get_flops`` tools use) trace the model with ``torch.jit`` and count each
node of the trace by its name. Under such a trace the dispatcher runs every
scan, whatever the backend, as one call of a public autograd Function, so a
scan is one node named after it: ``prim::PythonOp.TracedSelectiveScan`` for
:func:`~mmgroupmamba.ops.selective_scan_fn`,
``prim::PythonOp.TracedDirectionalScan`` for
:func:`~mmgroupmamba.ops.directional_scan_fn`. A trace of the compiled CPU
kernel's operator itself (torch >= 2.4, ``custom_op.py``) shows it by its
public name, ``mmgroupmamba::directional_scan``. ``SCAN_FLOP_HANDLES`` maps
those names to their handles, and :func:`register_flop_handles` (run when
``mmgroupmamba.ops`` is imported) adds them to the handles every
``FlopAnalyzer`` starts with.

Under ``torch.jit.trace`` the scan thus stays a Python call: a traced module
counts and runs (forward and backward) but cannot be saved as TorchScript.
ONNX export (``torch.onnx.export``) is not affected: the scan is traced
through there (the ``segsum`` backend exports in standard operators).
"""
import torch


def selective_scan_flops(batch, channels, length, state_size, with_D=True,
                         with_z=False):
    """FLOPs of one scan, counted as the official GroupMamba/VMamba code does.

    ``9 * B * L * D * N`` for the recurrence, plus ``B * D * L`` for the D
    skip and again for the z gate; a multiply-add counts as one FLOP.

    Args:
        batch (int): B.
        channels (int): D, the scanned channels of the call.
        length (int): L.
        state_size (int): N.
        with_D (bool): The D skip is applied. Defaults to True.
        with_z (bool): The z gate is applied. Defaults to False.

    Returns:
        int: FLOPs.
    """
    flops = 9 * batch * length * channels * state_size
    return flops + batch * channels * length * (int(with_D) + int(with_z))


def tracing_for_analysis():
    """Whether a ``torch.jit`` trace records this call for analysis (FLOP
    counters), not for an ONNX export, which must see standard operators."""
    return torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export()


class _TracedScan(torch.autograd.Function):
    """One whole scan as one autograd node (so one node of a jit trace).

    ``scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, height,
    width)`` is a backend's scan with everything else (backend, whether the
    last state is returned) bound; it returns one tensor or a tuple. Every
    value it reads is an argument: a tensor it closed over instead (a grid
    size that the trace made a 0-dim tensor) would be unknown to the trace
    inside the node. The backward reruns it with grad enabled and
    differentiates that: the recomputation costs one more forward, and it
    is correct for every backend.
    """

    #: The forward's arguments after ctx, in order: the names the FLOP
    #: handles read a traced node's arguments by.
    ARGUMENTS = ('scan', 'u', 'delta', 'A', 'B', 'C', 'D', 'z', 'delta_bias',
                 'delta_softplus', 'height', 'width')

    @staticmethod
    def forward(ctx, scan, u, delta, A, B, C, D, z, delta_bias,
                delta_softplus, height, width):
        """Run ``scan`` on the inputs (tensors of one float dtype; height
        and width: the grid of a directional scan, None for a flat one)."""
        ctx.scan = scan
        ctx.constants = (delta_softplus, height, width)
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias)
        return scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus,
                    height, width)

    @staticmethod
    def backward(ctx, *grad_outputs):
        """Gradients of the tensor inputs by recomputation.

        Args:
            ctx: Autograd context.
            *grad_outputs (torch.Tensor): One per output of ``scan``.

        Returns:
            tuple: None for ``scan``, the gradients of u, delta, A, B, C, D,
            z, delta_bias (None where not needed), None for delta_softplus,
            height and width.
        """
        needs = ctx.needs_input_grad[1:9]
        with torch.enable_grad():
            inputs = [
                None if x is None else x.detach().requires_grad_(need)
                for x, need in zip(ctx.saved_tensors, needs)
            ]
            outputs = ctx.scan(*inputs, *ctx.constants)
        outputs = outputs if isinstance(outputs, tuple) else (outputs, )
        wanted = [x for x, need in zip(inputs, needs) if need]
        # allow_unused: an input with no path to the outputs gets None.
        grads = iter(torch.autograd.grad(outputs, wanted, grad_outputs,
                                         allow_unused=True))
        return (None, ) + tuple(next(grads) if need else None
                                for need in needs) + (None, None, None)


class TracedSelectiveScan(_TracedScan):
    """A flat scan, u (b, d, l), as one node of a jit trace."""


class TracedDirectionalScan(_TracedScan):
    """A four-direction scan, u (b, H * W, d), as one node of a jit trace."""


def traced_arguments(function, inputs, outputs):
    """A traced call's arguments by name, tensors and constants alike.

    A traced Python call takes its tensors as node inputs and everything
    else (None, bools, callables) as constants; the node's calling
    convention says which is which, argument by argument.

    Args:
        function (type): The traced autograd Function (its ``ARGUMENTS``).
        inputs (list[torch._C.Value]): The node's inputs.
        outputs (list[torch._C.Value]): The node's outputs.

    Returns:
        dict: Argument name -> ``torch._C.Value`` (a tensor) or the constant.
    """
    node = outputs[0].node()
    tensors, constants = iter(inputs), iter(node.scalar_args())
    values = [next(tensors) if kind == 'd' else next(constants)
              for kind in node.cconv()]
    return dict(zip(function.ARGUMENTS, values))


def scan_flop_handle(function, u_axes):
    """The FLOP handle of a traced scan Function's nodes.

    Args:
        function (type): :class:`TracedSelectiveScan` or
            :class:`TracedDirectionalScan`.
        u_axes (str): What u's axes are, 'b' batch, 'd' channels, 'l'
            length: 'bdl' for a flat scan, 'bld' for a directional one (its
            four groups' scans count as one of d channels over L tokens).

    Returns:
        callable: ``handle(inputs, outputs) -> int``, the
        :func:`selective_scan_flops` of the node's call.
    """

    def handle(inputs, outputs):
        args = traced_arguments(function, inputs, outputs)
        size = dict(zip(u_axes, args['u'].type().sizes()))
        return selective_scan_flops(
            size['b'], size['d'], size['l'], args['A'].type().sizes()[1],
            with_D=args['D'] is not None, with_z=args['z'] is not None)

    return handle


def operator_flop_handle(inputs, outputs):
    """FLOP handle of a traced ``mmgroupmamba::directional_scan`` node (the
    operator of ``custom_op.py``, flat or four-direction, u (b, L, d)): a
    trace that calls the operator itself, not the dispatcher, sees it by
    that public name.

    Args:
        inputs (list[torch._C.Value]): The operator's twelve arguments
            (constants and None included).
        outputs (list[torch._C.Value]): Its outputs.

    Returns:
        int: :func:`selective_scan_flops` of the call.
    """
    u, _, A, _, _, D, z = inputs[:7]
    batch, length, channels = u.type().sizes()

    def given(value):
        return not isinstance(value.type(), torch._C.NoneType)

    return selective_scan_flops(batch, channels, length, A.type().sizes()[1],
                                with_D=given(D), with_z=given(z))


#: Traced node name -> FLOP handle ``handle(inputs, outputs) -> int``, the
#: form mmengine's / fvcore's ``FlopAnalyzer.set_op_handle`` takes.
SCAN_FLOP_HANDLES = {
    f'prim::PythonOp.{function.__name__}': scan_flop_handle(function, axes)
    for function, axes in ((TracedSelectiveScan, 'bdl'),
                           (TracedDirectionalScan, 'bld'))
}
SCAN_FLOP_HANDLES['mmgroupmamba::directional_scan'] = operator_flop_handle

#: The traced node names of a scan (the keys of ``SCAN_FLOP_HANDLES``).
TRACED_SCAN_OPS = tuple(SCAN_FLOP_HANDLES)


def register_flop_handles():
    """Make every mmengine ``FlopAnalyzer`` count the scan.

    mmengine has no public registry of default handles: a ``FlopAnalyzer``
    copies ``mmengine.analysis.complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS``
    when it is made, so the scan's handles go into that dict. Stock tools
    (``mim run mmpretrain get_flops``, mmdet's and mmseg's) then count the
    scan with no change of theirs. Their ``ActivationAnalyzer`` gets the
    scan too (its output elements, as for a linear layer), so neither
    analyzer reports it as an unsupported operator. Idempotent.
    """
    from mmengine.analysis import complexity_analysis
    from mmengine.analysis.jit_handles import generic_activation_jit
    complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS.update(SCAN_FLOP_HANDLES)
    complexity_analysis._DEFAULT_SUPPORTED_ACT_OPS.update(
        {name: generic_activation_jit() for name in SCAN_FLOP_HANDLES})
