"""Triton kernels of the 'triton' scan backend (see ``triton_scan.py``).

Imported on the first triton scan, not with the package. ``@triton.jit``
decides at decoration time whether a function is compiled or runs in the
Triton interpreter (``TRITON_INTERPRET=1``, how the tests run them on CPU);
triton's own library functions are decorated when triton is imported.

One program scans BLOCK_C channels of one channel group of one batch element
along its whole sequence, BLOCK_L tokens at a time: it loads a
(BLOCK_L, BLOCK_C) tile through the tensors' own strides (any layout, read
in place), runs the recurrence on the tile with ``tl.associative_scan`` and
carries the state (BLOCK_C, BLOCK_N) to the next tile. The scan position ->
token map of the group's direction is index arithmetic, so no reordered copy
of anything exists. State axis n is padded to BLOCK_N (a power of two) with
A = B = C = 0, which keeps padded states at zero.

The tile loops are ``while`` loops over a tensor counter, not ``for tile in
range(n_tiles)``: Triton 3.6's interpreter turns a scalar argument into a
one-element 1-D numpy array and ``range`` calls ``int()`` on it, which
NumPy 2 refuses ("only 0-dimensional arrays can be converted to Python
scalars"; Triton 3.9 squeezes the array first). A ``while`` condition takes
the interpreter's ``bool()``, which works on both, and compiles (to an
``scf.while`` loop), so one kernel text runs interpreted and compiled. The
counter starts as a ``tl.full(())`` tensor so that compiled Triton never
types it as a constexpr (an argument equal to 1 is specialised to one).
"""
import triton
import triton.language as tl

# torch's softplus (beta 1) is the identity above this (a constexpr: jit
# functions may read no other globals).
SOFTPLUS_THRESHOLD = tl.constexpr(20.0)


@triton.jit
def _combine(a_first, x_first, a_second, x_second):
    """Compose two steps of h <- a * h + x (first, then second)."""
    return a_first * a_second, a_second * x_first + x_second


@triton.jit
def _tokens(pos, length, height, width, direction):
    """Scan positions -> row-major token indices for ``direction``: 0 row
    major, 1 column major, 2 and 3 the same reversed. Positions past the end
    are clamped (their loads and stores are masked)."""
    pos = tl.minimum(pos, length - 1)
    pos = tl.where(direction >= 2, length - 1 - pos, pos)
    return tl.where(direction % 2 == 1, (pos % height) * width + pos // height,
                    pos)


@triton.jit
def _softplus(x):
    """torch's softplus; log1p(y) = log(v) - ((v - 1) - y) / v, v = 1 + y,
    is exact to 2 ulp where log(1 + y) would lose y's digits (x << 0)."""
    y = tl.exp(tl.minimum(x, SOFTPLUS_THRESHOLD))
    v = 1 + y
    return tl.where(x > SOFTPLUS_THRESHOLD, x,
                    tl.log(v) - ((v - 1) - y) / v)


@triton.jit
def _step_size(raw, bias, mask, HAS_BIAS: tl.constexpr,
               SOFTPLUS: tl.constexpr):
    """delta tile -> (delta + bias, dt); dt = 0 where masked, so padding
    steps decay by exp(0) = 1 and add nothing."""
    if HAS_BIAS:
        raw = raw + bias[None, :]
    dt = raw
    if SOFTPLUS:
        dt = _softplus(raw)
    return raw, tl.where(mask, dt, 0.0)


@triton.jit
def _row(x, rows, index):
    """Row ``index`` of a (BLOCK_L, ...) tile: a masked sum (no indexing)."""
    return tl.sum(tl.where(rows[:, None, None] == index, x, 0.0), axis=0)


@triton.jit
def _program(A_ptr, D_ptr, bias_ptr, ckpt_ptr, u_ptr, n_state, channels,
             channels_per_group, n_cblocks, n_tiles, HAS_D: tl.constexpr,
             HAS_BIAS: tl.constexpr, DIRECTIONAL: tl.constexpr,
             BLOCK_C: tl.constexpr, BLOCK_N: tl.constexpr):
    """This program's group, direction, channel block, channels (and mask),
    states (and masks), A (BLOCK_C, BLOCK_N), delta_bias and D (BLOCK_C,),
    zeros when absent, and its checkpoint pointers (tile 0)."""
    group = tl.program_id(1) // n_cblocks
    cblock = tl.program_id(1) % n_cblocks
    within = cblock * BLOCK_C + tl.arange(0, BLOCK_C)
    if DIRECTIONAL:
        direction = group
    else:
        direction = group * 0
    chan = group * channels_per_group + within
    cmask = within < channels_per_group
    states = tl.arange(0, BLOCK_N)
    nmask = states < n_state
    cn_mask = cmask[:, None] & nmask[None, :]
    A = tl.load(A_ptr + chan[:, None] * n_state + states[None, :],
                mask=cn_mask, other=0.0)
    zeros = tl.zeros((BLOCK_C, ), dtype=u_ptr.dtype.element_ty)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + chan, mask=cmask, other=0.0)
    else:
        bias = zeros
    if HAS_D:
        D = tl.load(D_ptr + chan, mask=cmask, other=0.0)
    else:
        D = zeros
    ckpt = ckpt_ptr + ((tl.program_id(0) * channels + chan[:, None]) *
                       (n_tiles + 1) * n_state + states[None, :])
    return (group, direction, cblock, chan, cmask, states, nmask, cn_mask, A,
            bias, D, ckpt)


@triton.jit
def _tile(tile, rows, length, height, width, direction, cmask, nmask,
          BLOCK_L: tl.constexpr):
    """Scan positions of a tile, their tokens, and the (token, channel) and
    (token, state) masks."""
    pos = tile * BLOCK_L + rows
    tok = _tokens(pos, length, height, width, direction)
    mask = (pos < length)[:, None] & cmask[None, :]
    return pos, tok, mask, (pos < length)[:, None] & nmask[None, :]


@triton.jit
def _recompute_states(u_ptr, delta_ptr, B_ptr, C_ptr, A, bias, h, tok, chan,
                      group, states, mask, bc_mask, su_l, su_c, sd_l, sd_c,
                      sb_l, sb_g, sb_n, sc_l, sc_g, sc_n,
                      HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """One tile of the recurrence from the incoming state ``h``.

    Returns u, delta + bias, dt (BLOCK_L, BLOCK_C), B, C (BLOCK_L,
    BLOCK_N), the drives dt * u * B and the states (BLOCK_L, BLOCK_C,
    BLOCK_N). Pointers are already offset to the batch element.
    """
    uu = tl.load(u_ptr + tok[:, None] * su_l + chan[None, :] * su_c,
                 mask=mask, other=0.0)
    raw, dt = _step_size(
        tl.load(delta_ptr + tok[:, None] * sd_l + chan[None, :] * sd_c,
                mask=mask, other=0.0), bias, mask, HAS_BIAS, SOFTPLUS)
    Bt = tl.load(B_ptr + tok[:, None] * sb_l + group * sb_g +
                 states[None, :] * sb_n, mask=bc_mask, other=0.0)
    Ct = tl.load(C_ptr + tok[:, None] * sc_l + group * sc_g +
                 states[None, :] * sc_n, mask=bc_mask, other=0.0)
    decay = tl.exp(dt[:, :, None] * A[None, :, :])
    drive = (dt * uu)[:, :, None] * Bt[:, None, :]
    total_decay, hs = tl.associative_scan((decay, drive), 0, _combine)
    return uu, raw, dt, Bt, Ct, drive, hs + total_decay * h[None, :, :]


@triton.jit
def scan_fwd_kernel(
        u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr, z_ptr,
        out_ptr, ckpt_ptr,
        length, height, width, n_state, channels, channels_per_group,
        n_cblocks, n_tiles,
        su_b, su_l, su_c, sd_b, sd_l, sd_c, sb_b, sb_l, sb_g, sb_n,
        sc_b, sc_l, sc_g, sc_n, sz_b, sz_l, sz_c, so_b, so_l, so_c,
        HAS_D: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_Z: tl.constexpr,
        SOFTPLUS: tl.constexpr, DIRECTIONAL: tl.constexpr,
        BLOCK_L: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_N: tl.constexpr):
    """out = (sum_n C h + D u) * silu(z) along each group's scan order.

    Grid (b, groups * n_cblocks). ``ckpt`` (b, d, n_tiles + 1, n) receives
    the state entering every tile and, in slot n_tiles, the last state: all
    the backward needs to recompute the states tile by tile.
    """
    pid_b = tl.program_id(0)
    # Named, not '_': compiled Triton types a name reassigned in a loop once.
    (group, direction, cblock, chan, cmask, states, nmask, cn_mask, A, bias,
     D, ckpt) = _program(A_ptr, D_ptr, bias_ptr, ckpt_ptr, u_ptr, n_state,
                      channels, channels_per_group, n_cblocks, n_tiles,
                      HAS_D, HAS_BIAS, DIRECTIONAL, BLOCK_C, BLOCK_N)
    rows = tl.arange(0, BLOCK_L)
    h = tl.zeros((BLOCK_C, BLOCK_N), dtype=u_ptr.dtype.element_ty)
    tile = tl.full((), 0, tl.int32)  # a tensor, never a constexpr
    while tile < n_tiles:
        tl.store(ckpt + tile * n_state, h, mask=cn_mask)
        pos, tok, mask, bc_mask = _tile(tile, rows, length, height, width,
                                        direction, cmask, nmask, BLOCK_L)
        uu, raw, dt, Bt, Ct, drive, hs = _recompute_states(
            u_ptr + pid_b * su_b, delta_ptr + pid_b * sd_b,
            B_ptr + pid_b * sb_b, C_ptr + pid_b * sc_b, A, bias, h, tok,
            chan, group, states, mask, bc_mask, su_l, su_c, sd_l, sd_c, sb_l,
            sb_g, sb_n, sc_l, sc_g, sc_n, HAS_BIAS, SOFTPLUS)
        y = tl.sum(hs * Ct[:, None, :], axis=2) + uu * D[None, :]
        if HAS_Z:
            z = tl.load(z_ptr + pid_b * sz_b + tok[:, None] * sz_l +
                        chan[None, :] * sz_c, mask=mask, other=0.0)
            y = y * z * tl.sigmoid(z)
        tl.store(out_ptr + pid_b * so_b + tok[:, None] * so_l +
                 chan[None, :] * so_c, y, mask=mask)
        h = _row(hs, rows, BLOCK_L - 1)  # padding steps keep the state
        tile += 1
    tl.store(ckpt + n_tiles * n_state, h, mask=cn_mask)


@triton.jit
def scan_bwd_kernel(
        u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr, z_ptr,
        ckpt_ptr, gout_ptr, glast_ptr,
        gu_ptr, gdelta_ptr, gz_ptr, gA_ptr, gD_ptr, gbias_ptr, gB_ptr, gC_ptr,
        length, height, width, n_state, channels, channels_per_group,
        n_cblocks, n_tiles, groups,
        su_b, su_l, su_c, sd_b, sd_l, sd_c, sb_b, sb_l, sb_g, sb_n,
        sc_b, sc_l, sc_g, sc_n, sz_b, sz_l, sz_c, so_b, so_l, so_c,
        sg_b, sg_l, sg_c,
        HAS_D: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_Z: tl.constexpr,
        HAS_GLAST: tl.constexpr, SOFTPLUS: tl.constexpr,
        DIRECTIONAL: tl.constexpr,
        BLOCK_L: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_N: tl.constexpr):
    """Gradients, tiles in reverse: states recomputed from the checkpoints,
    the adjoint ``lam_t = C_t gy_t + a_{t+1} lam_{t+1}`` by a reverse scan.

    gu, gdelta, gz share the strides sg_*; gout has its own (so_*);
    gA (b, d, n), gD and gbias (b, d) are per batch element and gB, gC
    (n_cblocks, b, L, groups, n) per channel block: the caller sums them.
    """
    pid_b = tl.program_id(0)
    batch = tl.num_programs(0)
    (group, direction, cblock, chan, cmask, states, nmask, cn_mask, A, bias,
     D, ckpt) = _program(A_ptr, D_ptr, bias_ptr, ckpt_ptr, u_ptr, n_state,
                         channels, channels_per_group, n_cblocks, n_tiles,
                         HAS_D, HAS_BIAS, DIRECTIONAL, BLOCK_C, BLOCK_N)
    per_state = (pid_b * channels + chan[:, None]) * n_state + states[None, :]
    if HAS_GLAST:
        lam_next = tl.load(glast_ptr + per_state, mask=cn_mask, other=0.0)
    else:
        lam_next = tl.zeros((BLOCK_C, BLOCK_N), dtype=u_ptr.dtype.element_ty)
    gA = tl.zeros((BLOCK_C, BLOCK_N), dtype=u_ptr.dtype.element_ty)
    gD = tl.zeros((BLOCK_C, ), dtype=u_ptr.dtype.element_ty)
    gbias = tl.zeros((BLOCK_C, ), dtype=u_ptr.dtype.element_ty)
    rows = tl.arange(0, BLOCK_L)
    tile = tl.full((), 0, tl.int32) + (n_tiles - 1)  # last tile first
    while tile >= 0:
        pos, tok, mask, bc_mask = _tile(tile, rows, length, height, width,
                                        direction, cmask, nmask, BLOCK_L)
        h = tl.load(ckpt + tile * n_state, mask=cn_mask, other=0.0)
        uu, raw, dt, Bt, Ct, drive, hs = _recompute_states(
            u_ptr + pid_b * su_b, delta_ptr + pid_b * sd_b,
            B_ptr + pid_b * sb_b, C_ptr + pid_b * sc_b, A, bias, h, tok,
            chan, group, states, mask, bc_mask, su_l, su_c, sd_l, sd_c, sb_l,
            sb_g, sb_n, sc_l, sc_g, sc_n, HAS_BIAS, SOFTPLUS)
        grads = tok[:, None] * sg_l + chan[None, :] * sg_c + pid_b * sg_b
        gy = tl.load(gout_ptr + pid_b * so_b + tok[:, None] * so_l +
                     chan[None, :] * so_c, mask=mask, other=0.0)
        if HAS_Z:
            z = tl.load(z_ptr + pid_b * sz_b + tok[:, None] * sz_l +
                        chan[None, :] * sz_c, mask=mask, other=0.0)
            sig = tl.sigmoid(z)
            y = tl.sum(hs * Ct[:, None, :], axis=2) + uu * D[None, :]
            tl.store(gz_ptr + grads, gy * y * sig * (1 + z * (1 - sig)),
                     mask=mask)
            gy = gy * z * sig
        # a_{t+1}: the next position's decay, 1 past the end.
        pos_next = pos + 1
        tok_next = _tokens(pos_next, length, height, width, direction)
        mask_next = (pos_next < length)[:, None] & cmask[None, :]
        raw_next, dt_next = _step_size(
            tl.load(delta_ptr + pid_b * sd_b + tok_next[:, None] * sd_l +
                    chan[None, :] * sd_c, mask=mask_next, other=0.0),
            bias, mask_next, HAS_BIAS, SOFTPLUS)
        decay_next = tl.exp(dt_next[:, :, None] * A[None, :, :])
        total_decay, lam = tl.associative_scan(
            (decay_next, gy[:, :, None] * Ct[:, None, :]), 0, _combine,
            reverse=True)
        lam = lam + total_decay * lam_next[None, :, :]
        lam_next = _row(lam, rows, 0)

        g_decay_arg = lam * (hs - drive)  # dL/d(dt A) = lam a h_{t-1}
        gA += tl.sum(g_decay_arg * dt[:, :, None], axis=0)
        lam_B = lam * Bt[:, None, :]
        g_dt = tl.sum(g_decay_arg * A[None, :, :] + lam_B * uu[:, :, None],
                      axis=2)
        tl.store(gu_ptr + grads, tl.sum(lam_B, axis=2) * dt + gy * D[None, :],
                 mask=mask)
        if SOFTPLUS:
            g_dt = g_dt * tl.where(raw > SOFTPLUS_THRESHOLD, 1.0,
                                   tl.sigmoid(raw))
        g_dt = tl.where(mask, g_dt, 0.0)
        tl.store(gdelta_ptr + grads, g_dt, mask=mask)
        gbias += tl.sum(g_dt, axis=0)
        gD += tl.sum(gy * uu, axis=0)
        per_token = ((((cblock * batch + pid_b) * length + tok[:, None]) *
                      groups + group) * n_state + states[None, :])
        tl.store(gB_ptr + per_token,
                 tl.sum(lam * (dt * uu)[:, :, None], axis=1), mask=bc_mask)
        tl.store(gC_ptr + per_token, tl.sum(gy[:, :, None] * hs, axis=1),
                 mask=bc_mask)
        tile -= 1
    tl.store(gA_ptr + per_state, gA, mask=cn_mask)
    per_channel = pid_b * channels + chan
    tl.store(gD_ptr + per_channel, gD, mask=cmask)
    tl.store(gbias_ptr + per_channel, gbias, mask=cmask)
