// The Python module of the compiled CPU extension (ops/cpu_compiled.py).
#include "kernels.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &mmgroupmamba::scan_forward,
        "Directional selective scan, forward");
  m.def("backward", &mmgroupmamba::scan_backward,
        "Directional selective scan, backward");
  m.def("layer_norm_gated", &mmgroupmamba::layer_norm_gated_forward,
        "Per-group LayerNorm, affine and SiLU gate, forward only");
}
