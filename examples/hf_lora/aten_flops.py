"""An aten-level FLOP count of a PyTorch job: torch.utils.flop_counter.FlopCounterMode when this
torch has it (2.1 and later), else a port of its matrix-product rules to torch 1.13's
TorchDispatchMode (Debian's python3-torch): mm and addmm 2·m·n·k, bmm and baddbmm 2·b·m·n·k
(addmm's bias add and baddbmm's input add are not counted, as in FlopCounterMode).

The port also keeps, for docs/peers.md, what FlopCounterMode does not separate: matrix-vector
products (aten.mv/addmv, not counted by FlopCounterMode; BLAS sgemv_ when they reach it) and the
batched products that torch 1.13 computes without BLAS (m·n·k < 400, see its
at::native::bmm_out_or_baddbmm_).
"""

import torch


def _mm(a, b):
    m, k = a.shape[-2], a.shape[-1]
    return 2 * m * k * b.shape[-1], m * b.shape[-1] * k


class AtenFlops:
    """Context manager; after it, .total (int), .by_op ({name: FLOPs}), .small_bmm (FLOPs of
    batched products with m·n·k < 400), .mv (FLOPs of matrix-vector products, 2·m·n),
    .implementation ('FlopCounterMode' or 'port')."""

    def __init__(self):
        self.total, self.by_op, self.small_bmm, self.mv = 0, {}, 0, 0
        fc = getattr(getattr(torch.utils, "flop_counter", None), "FlopCounterMode", None)
        self.implementation = "FlopCounterMode" if fc is not None else "port"
        self._mode = fc(display=False) if fc is not None else self._port()

    def _port(self):
        from torch.utils._python_dispatch import TorchDispatchMode
        aten = torch.ops.aten
        counter = self

        def add(name, flops):
            counter.by_op[name] = counter.by_op.get(name, 0) + flops
            counter.total += flops

        class Port(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                packet = func.overloadpacket
                if packet is aten.mm:
                    add("mm", _mm(args[0], args[1])[0])
                elif packet is aten.addmm:
                    add("addmm", _mm(args[1], args[2])[0])
                elif packet in (aten.bmm, aten.baddbmm):
                    a, b = (args[0], args[1]) if packet is aten.bmm else (args[1], args[2])
                    flops, mnk = _mm(a, b)
                    flops *= a.shape[0]
                    add(str(packet).split(".")[-1], flops)
                    if mnk < 400:
                        counter.small_bmm += flops
                elif packet in (aten.mv, aten.addmv):
                    m = args[0] if packet is aten.mv else args[1]
                    counter.mv += 2 * m.shape[0] * m.shape[1]
                return out

        return Port()

    def __enter__(self):
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._mode.__exit__(*exc)
        if self.implementation == "FlopCounterMode":
            self.total = int(self._mode.get_total_flops())
            for ops in self._mode.get_flop_counts().values():
                for op, n in ops.items():
                    name = str(op).split(".")[-1]
                    self.by_op[name] = self.by_op.get(name, 0) + int(n)
                break  # the "Global" entry holds every op
        return False
