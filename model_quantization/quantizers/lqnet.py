"""LQ-Net: learned non-uniform quantizer with a basis fitted by least squares.

Paper: Zhang et al., "LQ-Nets: Learned Quantization for Highly Accurate and Compact Deep Neural
Networks", ECCV 2018.
Forward: levels = ``codec_vector @ basis`` (codewords times a learned basis, per group), sorted;
thresholds ``(1-s) l_i + s l_{i+1}`` (``s = scale``, 0.5 = midpoints, mirrored below the centre
for signed); each element maps to the level of its interval (ties go up). In training the basis
is refitted per group by least squares on the codes just assigned, then EMA (momentum 0.9) or,
with ``custom_update``, a running mean of the solutions.
Gradient: signed (weights) straight-through; unsigned (activations) straight-through except 0
where ``x >=`` the top level (no mask below the lowest level).

State (buffers, QTool names; shapes ours): ``basis`` ``[K, G]`` (K basis values per group),
``codec_vector`` ``[L, K]`` (digits of each codeword: {0,1} unsigned, {-1,+1} signed),
``codec_index`` ``[L, G]`` (codeword index of each sorted level), ``thrs_multiplier``
``[L-1, L]`` (thresholds = ``thrs_multiplier @ sorted levels``), ``auxil`` ``[L-1, G]`` (the last
thresholds used), plus ``iteration`` (training steps) and ``level_num``.

Level counts: 2**K (K = 1..8) and 3. Ternary (3 levels) is REAL by default: signed
``{-v, 0, v}`` (codewords -1, 0, +1), unsigned ``{0, v1, v1 + v2}`` (codewords 00, 10, 11).
``ternary="qtool"`` reproduces QTool, whose 3 codewords have one binary digit and collapse to
two distinct levels (signed ``{-v, v}``, unsigned ``{0, v}``). Changing ``level_num`` in place
rebuilds the codebook and re-initialises the basis for the new count.
Init: weights ``v_k = 2^k 0.6745 sqrt(2/fan_in) / 2^(K-1)`` (``fan_in`` taken from the first
input when not given), activations ``v_k = 2^k 0.6745 2 / 2^(K-1)``; unsigned real ternary
``v1 = v2 = 0.6745``.
"""
import math

import torch

from ..functional.ste import ste_below, ste_identity
from ._common import check_choice, check_groups, current_levels
from .base import Quantizer
from .registry import register_quantizer

__all__ = ["LQNetQuantizer", "SUPPORTED_LEVELS"]

SUPPORTED_LEVELS = (2, 3, 4, 8, 16, 32, 64, 128, 256)
_PHI_75 = 0.6745  # inverse normal CDF at 0.75
_THRESHOLD_LOOP_MAX = 16  # up to this many levels one compare pass per threshold beats a search


def _stepwise_levels(lv):
    """The levels as the threshold loop produces them: ``g_0 = l_0``, ``g_k = g_(k-1) +
    (l_k - l_(k-1))`` in the working precision (equal to ``l_k`` up to rounding), so ``grid()``
    reports exactly the values the forward writes. ``lv``: ``[L, G]`` sorted levels."""
    out = [lv[0]]
    for k in range(1, lv.shape[0]):
        out.append(out[-1] + (lv[k] - lv[k - 1]))
    return torch.stack(out)


def _count_ones(mask):
    """Number of ones in a 0/1 float ``mask``, exactly: a float32 sum is exact while the total
    stays below 2^24 (every partial sum is a whole number under it); larger tensors sum in float64.
    (``count_nonzero`` gives the same number, several times slower on the CPU.)"""
    if mask.dtype == torch.float64 or (mask.dtype == torch.float32 and mask.numel() < 2 ** 24):
        return mask.sum()
    return mask.sum(dtype=torch.float64)


def _assign_by_thresholds(x, lv, thr, stats):
    """One group, few levels: ``value`` = the (stepwise) level of each element of the 1-D ``x``
    (ties go up), and optionally per-level ``counts`` / ``sums`` (``[1, L]``). One compare pass
    per threshold into a reused mask: ``value += mask * (l_(i+1) - l_i)``, cumulative
    ``n_i = #(x >= t_i)`` and ``s_i = sum(max(x, t_i)) - t_i (N - n_i)`` (the sum over
    ``x >= t_i``), then differences."""
    value = torch.empty_like(x).fill_(lv[0])
    steps = lv[1:] - lv[:-1]
    # A mask of x's dtype: torch 1.10's addcmul_ refuses a bool operand.
    mask = torch.empty_like(x)
    scratch = torch.empty_like(x) if stats else None
    n = float(x.numel())
    ge_count, ge_sum = [x.new_tensor(n)], [x.sum() if stats else None]
    for i in range(thr.numel()):
        torch.ge(x, thr[i], out=mask)
        value.addcmul_(mask, steps[i])
        if stats:
            count = _count_ones(mask).to(x.dtype)
            ge_count.append(count)
            ge_sum.append(torch.maximum(x, thr[i], out=scratch).sum() - thr[i] * (n - count))
    if not stats:
        return value, None, None
    ge_count.append(x.new_zeros(()))
    ge_sum.append(x.new_zeros(()))
    ge_count, ge_sum = torch.stack(ge_count), torch.stack(ge_sum)
    counts = (ge_count[:-1] - ge_count[1:]).reshape(1, -1)
    return value, counts, (ge_sum[:-1] - ge_sum[1:]).reshape(1, -1)


def _codebook(levels, signed, ternary):
    """``[L, K]`` codeword digits."""
    if levels == 3 and ternary == "real":
        rows = [[-1.0], [0.0], [1.0]] if signed else [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
        return torch.tensor(rows)
    k = 1 if levels == 3 else int(math.log2(levels))
    digits = torch.tensor([[float((i >> b) & 1) for b in range(k)] for i in range(levels)])
    return 2 * digits - 1 if signed else digits


def _threshold_weights(levels, signed, scale):
    """``[L-1, L]``: row i mixes sorted levels i and i+1."""
    mult = torch.zeros(levels - 1, levels)
    centre = (levels - 2) / 2.0
    for i in range(levels - 1):
        hi = scale
        if signed and i < centre:
            hi = 1.0 - scale
        elif signed and i == centre:
            hi = 0.5
        mult[i, i], mult[i, i + 1] = 1.0 - hi, hi
    return mult


@register_quantizer("lqnet")
class LQNetQuantizer(Quantizer):
    """LQ-Net fake quantizer.

    Args:
        num_levels, signed: see ``Quantizer`` (levels in ``SUPPORTED_LEVELS``).
        stable: the first ``stable`` training steps return the input unchanged (QTool's warm-up;
            the basis is not updated meanwhile).
        scale: threshold position between adjacent levels (0.5 = midpoint).
        momentum: EMA momentum of the basis update.
        custom_update: running mean of the least-squares solutions instead of the EMA.
        num_groups: number of bases (groups of dim ``channel_dim``).
        channel_dim: 0 for weights, 1 for activations.
        fan_in: weight fan-in for the basis init (None: from the first input).
        ternary: ``"real"`` (3 distinct levels) or ``"qtool"`` (QTool's 2-level collapse).
    """

    ternary_choices = ("real", "qtool")
    supported_levels = SUPPORTED_LEVELS
    # the forward rewrites these from the basis each pass (bookkeeping, not inputs of the result)
    cache_ignore = ("iteration", "codec_index", "auxil")

    def __init__(self, num_levels, signed, stable=0, correlate=-1.0, scale=0.5, momentum=0.9,
                 custom_update=False, num_groups=1, channel_dim=0, fan_in=None, ternary="real"):
        check_choice("lqnet", "num_levels", int(num_levels), SUPPORTED_LEVELS)
        super().__init__(num_levels, signed, stable=stable, correlate=correlate)
        self.num_groups, self.channel_dim = check_groups("lqnet", num_groups, channel_dim)
        self.ternary = check_choice("lqnet", "ternary", ternary, self.ternary_choices)
        if not 0.0 < float(scale) < 1.0:
            raise ValueError("lqnet: scale={!r} must lie in (0, 1) (0.5 = midpoints)".format(scale))
        self.scale, self.momentum = float(scale), float(momentum)
        self.custom_update = bool(custom_update)
        self.fan_in = None if fan_in is None else int(fan_in)
        self._build(int(num_levels))

    # -- codebook --------------------------------------------------------------------------------
    def _build(self, levels):
        check_choice("lqnet", "num_levels", levels, SUPPORTED_LEVELS)
        dev = self.level_num.device
        old = self._buffers.get("basis")
        dtype = old.dtype if old is not None else torch.get_default_dtype()
        codec = _codebook(levels, self.signed, self.ternary).to(dev, dtype)
        k, g = codec.shape[1], self.num_groups
        self.register_buffer("codec_vector", codec)
        self.register_buffer("thrs_multiplier",
                             _threshold_weights(levels, self.signed, self.scale).to(dev, dtype))
        self.register_buffer("codec_index", torch.zeros(levels, g, dtype=torch.long, device=dev))
        self.register_buffer("auxil", torch.zeros(levels - 1, g, device=dev, dtype=dtype))
        self.register_buffer("basis", torch.zeros(k, g, device=dev, dtype=dtype))
        self._built_levels = levels
        self._needs_fan = self.signed and self.fan_in is None
        if not self._needs_fan:
            self._init_basis(self.fan_in)

    @torch.no_grad()
    def _init_basis(self, fan):
        k = self.basis.shape[0]
        if self._built_levels == 3 and self.ternary == "real" and not self.signed:
            self.basis.fill_(_PHI_75)
            return
        unit = _PHI_75 * (math.sqrt(2.0 / fan) if self.signed else 2.0) / 2 ** (k - 1)
        powers = 2.0 ** torch.arange(k, dtype=self.basis.dtype, device=self.basis.device)
        self.basis.copy_((powers * unit).reshape(k, 1).expand_as(self.basis))

    def _sorted_levels(self):
        levels = self.codec_vector @ self.basis  # [L, G]
        return levels.sort(dim=0)

    def _sync_levels(self):
        levels = current_levels(self)
        if levels != self._built_levels:
            self._build(levels)

    def _uses_threshold_loop(self):
        return self.num_groups == 1 and self._built_levels <= _THRESHOLD_LOOP_MAX

    def grid(self):
        """Current output levels, ``[G, L]`` ascending (exactly the values the forward writes)."""
        self._sync_levels()
        with torch.no_grad():
            lv = self._sorted_levels()[0]
            return (_stepwise_levels(lv) if self._uses_threshold_loop() else lv).t()

    def ste_range(self):
        """``(lo, hi)`` per group where the input gradient is the upstream one."""
        top = self.grid()[:, -1:]
        lo = torch.full_like(top, -math.inf)
        return lo, (torch.full_like(top, math.inf) if self.signed else top)

    # -- forward ---------------------------------------------------------------------------------
    def _grouped(self, x):
        g = self.num_groups
        if self.channel_dim == 0 or g == 1:
            if x.shape[0] % g:
                raise ValueError("lqnet: num_groups={} does not divide dim 0 of {}".format(
                    g, tuple(x.shape)))
            return x.reshape(g, -1)
        if x.shape[1] % g:
            raise ValueError("lqnet: num_groups={} does not divide the {} channels of {}".format(
                g, x.shape[1], tuple(x.shape)))
        return x.reshape(x.shape[0], g, -1).transpose(0, 1).reshape(g, -1)

    def _ungroup(self, y, x):
        if self.channel_dim == 0 or self.num_groups == 1:
            return y.reshape(x.shape)
        n = x.shape[0]
        return y.reshape(self.num_groups, n, -1).transpose(0, 1).reshape(x.shape)

    def quantize(self, x):
        self._sync_levels()
        if self._needs_fan:
            self._init_basis(x[0].numel())
            self._needs_fan = False
        update = self.training and torch.is_grad_enabled()
        if self.in_warmup():
            if update:
                self.step()
            return x
        xg = self._grouped(x)
        with torch.no_grad():
            lv, order = self._sorted_levels()
            thr = self.thrs_multiplier @ lv  # [L-1, G]
            xd = xg.detach()
            if self._uses_threshold_loop():
                value, counts, sums = _assign_by_thresholds(xd.reshape(-1), lv[:, 0], thr[:, 0],
                                                            update)
                value = value.reshape(xd.shape)
            else:
                value, counts, sums = self._assign_by_search(xd, lv, thr, update)
            if update:
                self._update_basis(counts, sums, order)
            self.codec_index.copy_(order)
            self.auxil.copy_(thr)
        if self.signed:
            y = ste_identity(value, xg)
        else:
            y = ste_below(value, xg, lv[-1].reshape(-1, 1))
        return self._ungroup(y, x)

    def _assign_by_search(self, x, lv, thr, stats):
        """Any level count and grouping: binary search per element, then bincount statistics."""
        g, levels = self.num_groups, self._built_levels
        pos = torch.searchsorted(thr.t().contiguous(), x.contiguous(), right=True)
        value = lv.t().contiguous().gather(1, pos)
        if not stats:
            return value, None, None
        flat = (pos + torch.arange(g, device=pos.device).reshape(-1, 1) * levels).reshape(-1)
        counts = torch.bincount(flat, minlength=g * levels).reshape(g, levels).to(x.dtype)
        sums = torch.bincount(flat, weights=x.reshape(-1), minlength=g * levels)
        return value, counts, sums.reshape(g, levels).to(x.dtype)

    @torch.no_grad()
    def _update_basis(self, counts, sums, order):
        """Least-squares refit of the basis per group on the assigned codes, then EMA.

        ``counts`` / ``sums`` ``[G, L]``: elements assigned to each sorted level and their sum;
        the normal equations are ``sum_l n_l b_l b_l^T v = sum_l s_l b_l`` over codewords b_l.
        """
        codes = self.codec_vector[order.t()]  # [G, L, K] digits of each sorted level
        gram = (codes * counts.unsqueeze(-1)).transpose(1, 2) @ codes  # [G, K, K]
        rhs = (codes * sums.unsqueeze(-1)).sum(dim=1)  # [G, K]
        old = self.basis.t()
        # a small ridge towards the old basis keeps unused codes (singular gram) where they were
        lam = 1e-4 * gram.diagonal(dim1=1, dim2=2).mean(dim=1, keepdim=True) + 1e-8
        eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
        sol = torch.linalg.solve(gram + lam.unsqueeze(-1) * eye,
                                 (rhs + lam * old).unsqueeze(-1)).squeeze(-1)
        if self.custom_update:
            t = max(0.0, float(self.iteration.item()) - max(self.stable, 0))  # updates so far
            self.basis.add_((sol.t() - self.basis) / (t + 1.0))
        else:
            self.basis.mul_(self.momentum).add_(sol.t() * (1.0 - self.momentum))
        self.step()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        value = state_dict.get(prefix + "level_num")
        if value is not None:
            levels = int(round(float(value.reshape(-1)[0])))
            if levels != self._built_levels:
                self._build(levels)
        self._needs_fan = False  # the basis comes from the checkpoint
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def cache_hit(self):
        """A reused pass: LQ-Net counts only the passes that update the basis, and those are
        never reused (refitting the basis changes the cache key, so they all run)."""

    def extra_repr(self):
        return "{}, groups={}, ternary={}, scale={}".format(
            super().extra_repr(), self.num_groups, self.ternary, self.scale)
